//! A DA node's side of 0G DA's contracts: its BLS key (kept beside its node key),
//! registering it through the DARegistry, uploading roots to DAEntrance, reading
//! quorums and signers from DASigners, and submitting quorum certificates.

use std::path::Path;

use alloy_primitives::{Address, B256, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolEvent;
use ark_bn254::{G1Affine, G2Affine};
use zg_blob::da::{DaError, load_or_create_secret};
use zg_blob::zerog::BlobCoords;
use zg_blob::zerog_bls::{self as bls, SecretKey};
use zg_contracts::da::{
    CommitRootSubmission, DA_ENTRANCE_ADDRESS, DA_REGISTRY_ADDRESS, DA_SIGNERS_ADDRESS, G1Point, G2Point,
    IDAEntrance as E, IDARegistry as R, IDASigners as S, SignerDetail, blob_fee,
};
use zg_node::chain::{ChainClient, ChainError};
use zg_node::registry::Announced;

/// How a DA node follows the chain.
#[derive(Clone, Debug)]
pub struct ChainConfig {
    /// The chain's JSON-RPC URL.
    pub url: String,
    /// The account it signs transactions with (pays blob fees and gas).
    pub key: PrivateKeySigner,
    /// The URL other nodes reach this node's HTTP API at (registered as its socket);
    /// `None`: `http://` and the listen address.
    pub public_url: Option<String>,
}

/// Loads the node's BLS key from `dir/bls.key`, or makes one there (mode 0600, durable
/// before use), as the node key is kept.
pub fn load_or_create_bls(dir: &Path) -> Result<SecretKey, DaError> {
    std::fs::create_dir_all(dir).map_err(|e| DaError::Key {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let path = dir.join("bls.key");
    let secret = load_or_create_secret(&path, || {
        loop {
            // Below the group order (r > 2^253): the bytes are the key itself.
            let mut bytes: [u8; 32] = rand::random();
            bytes[0] &= 0x1f;
            if SecretKey::from_bytes(&bytes).is_some() {
                break bytes;
            }
        }
    })?;
    SecretKey::from_bytes(&secret).ok_or_else(|| DaError::Key {
        path: path.display().to_string(),
        reason: "not a nonzero BN254 scalar; move it away to make a new one".into(),
    })
}

/// A G1 point as the contracts take it.
pub fn g1_point(p: &G1Affine) -> G1Point {
    G1Point::from_words(bls::g1_words(p))
}

/// A signer's registered G2 key (`[c0, c1]` per coordinate), checked.
pub fn signer_g2(p: &G2Point) -> Option<G2Affine> {
    let [x0, x1, y0, y1] = p.signer_words();
    bls::g2_from_words(&x0, &x1, &y0, &y1)
}

/// A G2 key as a certificate carries it (EIP-197's `[c1, c0]`).
pub fn g2_eip197(p: &G2Affine) -> G2Point {
    G2Point::eip197_order(bls::g2_words(p))
}

/// A DA node's client of the DA contracts, signing as its account and its BLS key.
pub struct DaChain {
    client: ChainClient,
    bls: SecretKey,
    chain_id: u64,
}

impl DaChain {
    /// Connects to the chain (reading its id).
    pub async fn connect(url: &str, key: PrivateKeySigner, bls: SecretKey) -> Result<Self, ChainError> {
        let client = ChainClient::new(url, key, |_| None)?;
        let chain_id = client.chain_id().await?;
        Ok(Self {
            client,
            bls,
            chain_id,
        })
    }

    /// The account it sends as (and signs in quorums as).
    pub fn address(&self) -> Address {
        self.client.address()
    }

    /// The chain's URL.
    pub fn url(&self) -> &str {
        self.client.url()
    }

    /// Signs a digest with the node's BLS key.
    pub fn sign(&self, digest: &[u8; 32]) -> G1Affine {
        self.bls.sign(digest)
    }

    /// Registers the node as a signer reachable at `socket` (or moves its socket) and
    /// for the next epoch; what is already on chain is left alone.
    pub async fn register(&self, socket: &str) -> Result<(), ChainError> {
        let me = self.address();
        let on = DA_SIGNERS_ADDRESS;
        if !self
            .client
            .view(on, "isSigner", S::isSignerCall { _account: me })
            .await?
        {
            let pop = self.bls.sign(&bls::registration_digest(&me.0.0, self.chain_id));
            let detail = SignerDetail {
                signer: me,
                socket: socket.to_owned(),
                pkG1: g1_point(&self.bls.public_g1()),
                pkG2: G2Point::signer_order(bls::g2_words(&self.bls.public_g2())),
            };
            let call = R::registerSignerCall {
                _signer: detail,
                _signature: g1_point(&pop),
            };
            self.client
                .transact(DA_REGISTRY_ADDRESS, "registerSigner", call, U256::ZERO)
                .await?;
        } else {
            let mine = self
                .client
                .view(on, "getSigner", S::getSignerCall { _account: vec![me] })
                .await?;
            if mine.first().is_some_and(|d| d.socket != socket) {
                let call = S::updateSocketCall {
                    _socket: socket.to_owned(),
                };
                self.client.transact(on, "updateSocket", call, U256::ZERO).await?;
            }
        }
        let epoch: u64 = self
            .client
            .view(on, "epochNumber", S::epochNumberCall {})
            .await?
            .saturating_to();
        let next = epoch + 1;
        let joined = self
            .client
            .view(
                on,
                "registeredEpoch",
                S::registeredEpochCall {
                    _account: me,
                    _epoch: U256::from(next),
                },
            )
            .await?;
        if !joined {
            let sig = self
                .bls
                .sign(&bls::epoch_registration_digest(&me.0.0, next, self.chain_id));
            let call = R::registerNextEpochCall {
                _signature: g1_point(&sig),
            };
            self.client
                .transact(DA_REGISTRY_ADDRESS, "registerNextEpoch", call, U256::ZERO)
                .await?;
        }
        Ok(())
    }

    /// Announces the node in zg's service registry: a DA node at `endpoint` charging
    /// DAEntrance's blob price, naming the disperser API when it serves one.
    pub async fn announce(
        &self,
        endpoint: &str,
        disperser: Option<std::net::SocketAddr>,
    ) -> Result<Announced, ChainError> {
        use zg_contracts::registry::{KIND_DA, ServiceParams};
        let price = self
            .client
            .view(DA_ENTRANCE_ADDRESS, "blobPrice", E::blobPriceCall {})
            .await?;
        let mut description = format!(
            "zg DA node: blobs as KZG-committed cells (POST /submissions, GET /submissions/{{id}}), \
             0G DA quorum signer {}",
            self.address()
        );
        if let Some(grpc) = disperser {
            description.push_str(&format!("; 0G's disperser gRPC at http://{grpc}"));
        }
        let params = ServiceParams {
            kind: KIND_DA.into(),
            name: "zg-da".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description,
            endpoint: endpoint.into(),
            priceUnit: "blob".into(),
            inputPrice: price,
            ..ServiceParams::default()
        };
        zg_node::registry::announce(&self.client, params).await
    }

    /// Uploads `root` paying the blob price: its coordinates and the upload's block.
    pub async fn upload(&self, root: [u8; 32]) -> Result<(BlobCoords, u64), ChainError> {
        let price = self
            .client
            .view(DA_ENTRANCE_ADDRESS, "blobPrice", E::blobPriceCall {})
            .await?;
        let fee = blob_fee(1, price).ok_or(ChainError::Decode("blobPrice"))?;
        let call = E::submitOriginalDataCall {
            _dataRoots: vec![B256::from(root)],
        };
        let mined = self
            .client
            .transact(DA_ENTRANCE_ADDRESS, "submitOriginalData", call, fee)
            .await?;
        let upload = mined
            .logs
            .iter()
            .find_map(|l| E::DataUpload::decode_log_data(l).ok())
            .ok_or(ChainError::Decode("submitOriginalData's DataUpload"))?;
        let coords = BlobCoords {
            storage_root: root,
            epoch: upload.epoch.saturating_to(),
            quorum_id: upload.quorumId.saturating_to(),
        };
        Ok((coords, mined.block))
    }

    /// Whether block `block` holds the upload of `coords`.
    pub async fn uploaded(&self, block: u64, coords: &BlobCoords) -> Result<bool, ChainError> {
        let logs = self.client.logs(DA_ENTRANCE_ADDRESS, block, block).await?;
        Ok(logs
            .iter()
            .filter_map(|l| E::DataUpload::decode_log_data(l).ok())
            .any(|u| {
                u.dataRoot.0 == coords.storage_root
                    && u.epoch == U256::from(coords.epoch)
                    && u.quorumId == U256::from(coords.quorum_id)
            }))
    }

    /// The 3072 rows of a quorum.
    pub async fn quorum(&self, epoch: u64, quorum_id: u64) -> Result<Vec<Address>, ChainError> {
        let call = S::getQuorumCall {
            _epoch: U256::from(epoch),
            _quorumId: U256::from(quorum_id),
        };
        self.client.view(DA_SIGNERS_ADDRESS, "getQuorum", call).await
    }

    /// The registered details of `signers`.
    pub async fn signers(&self, signers: Vec<Address>) -> Result<Vec<SignerDetail>, ChainError> {
        let call = S::getSignerCall { _account: signers };
        self.client.view(DA_SIGNERS_ADDRESS, "getSigner", call).await
    }

    /// Submits a quorum certificate: the block that holds it.
    pub async fn certify(&self, submission: CommitRootSubmission) -> Result<u64, ChainError> {
        let call = E::submitVerifiedCommitRootsCall {
            _submissions: vec![submission],
        };
        let mined = self
            .client
            .transact(DA_ENTRANCE_ADDRESS, "submitVerifiedCommitRoots", call, U256::ZERO)
            .await?;
        Ok(mined.block)
    }

    /// Whether the certificate of `coords` is on chain.
    pub async fn certified(&self, coords: &BlobCoords) -> Result<bool, ChainError> {
        let call = E::commitmentExistsCall {
            _dataRoot: B256::from(coords.storage_root),
            _epoch: U256::from(coords.epoch),
            _quorumId: U256::from(coords.quorum_id),
        };
        self.client
            .view(DA_ENTRANCE_ADDRESS, "commitmentExists", call)
            .await
    }

    /// The newest final block.
    pub async fn finalized(&self) -> Result<u64, ChainError> {
        self.client.finalized_block().await
    }
}
