//! 0G DA quorum certificates on zg: what a quorum member checks before it signs a
//! blob, and how a disperser gathers two thirds of a quorum's rows and submits the
//! certificate to DAEntrance.
//!
//! Row `r` of a quorum stands for zg cell column `r mod 128` of every blob of the zg
//! submission that holds the 0G blob ([`zerog::row_column`]). A member signs only
//! when (1) it holds those columns of every blob, verified against their KZG
//! commitments; (2) the named block holds the blob's `DataUpload` with that root,
//! epoch and quorum; (3) the payload it rebuilds from its cells has that 0G storage
//! root. The erasure commitment it signs is [`bls::erasure_commitment`] of the zg
//! submission id. The disperser sends each member the cells of its rows first.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::Address;
use ark_bn254::G1Affine;
use zg_blob::da::{CellSet, DaError, SubmissionHeader, SubmissionId, encode_blob_record};
use zg_blob::zerog::{self, BlobCoords, QUORUM_ROWS};
use zg_blob::zerog_bls as bls;
use zg_contracts::da::{CommitRootSubmission, SLICE_DENOMINATOR, SLICE_NUMERATOR};
use zg_node::chain::ChainError;

use crate::api::{HexBytes, Id, SignRequest, SignResponse};
use crate::chain::{g1_point, g2_eip197, signer_g2};
use crate::client::DaClient;
use crate::service::{DaService, off_thread};

/// Why a blob was not signed, or a certificate not gathered.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The node follows no chain.
    #[error("this node signs no 0G DA blobs: it follows no chain (start it with --chain and --key)")]
    NoChain,
    /// The submission is not held.
    #[error("submission {0} is not held here")]
    NotHeld(String),
    /// The node has no row in the quorum.
    #[error("signer {signer} holds no row of epoch {epoch}, quorum {quorum_id}")]
    NotInQuorum {
        /// This node's account.
        signer: String,
        /// The epoch asked.
        epoch: u64,
        /// The quorum asked.
        quorum_id: u64,
    },
    /// The node does not hold every column its rows stand for.
    #[error(
        "this node's {rows} rows of the quorum stand for cells {missing:?} of blob {blob}, which it does not hold; send them first"
    )]
    RowsNotHeld {
        /// The node's rows in the quorum.
        rows: usize,
        /// The first blob short of them.
        blob: usize,
        /// The columns missing there.
        missing: Vec<u64>,
    },
    /// The named block holds no such upload.
    #[error("block {block} holds no DataUpload of root 0x{root}, epoch {epoch}, quorum {quorum_id}")]
    NotUploaded {
        /// The block asked.
        block: u64,
        /// The root, hex.
        root: String,
        /// The epoch.
        epoch: u64,
        /// The quorum.
        quorum_id: u64,
    },
    /// The data has another 0G root than the one asked.
    #[error("the submission's 0G storage root is 0x{computed}, not 0x{claimed}")]
    RootMismatch {
        /// The root asked to sign, hex.
        claimed: String,
        /// The root of the data held, hex.
        computed: String,
    },
    /// Fewer than two thirds of the rows were signed.
    #[error("the quorum signed {signed} of {QUORUM_ROWS} rows, {needed} are needed; {why}")]
    QuorumShort {
        /// Rows signed.
        signed: usize,
        /// Rows needed.
        needed: usize,
        /// What the members that did not sign answered.
        why: String,
    },
    /// The chain refused or did not answer.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The node's store failed.
    #[error(transparent)]
    Da(#[from] DaError),
}

/// Rows a certificate needs: `2·total ≤ 3·hit`.
pub const NEEDED_ROWS: usize = (QUORUM_ROWS * SLICE_NUMERATOR as usize).div_ceil(SLICE_DENOMINATOR as usize);

/// Rounds of asking the members that have not signed, a second apart.
const ROUNDS: usize = 15;

/// The cell columns `rows` stand for.
pub fn columns_of(rows: &[usize]) -> CellSet {
    CellSet(rows.iter().fold(0u128, |set, r| set | 1 << zerog::row_column(*r)))
}

async fn blocking<T: Send + 'static>(
    node: &Arc<DaService>,
    f: impl FnOnce(&DaService) -> Result<T, SignError> + Send + 'static,
) -> Result<T, SignError> {
    off_thread(node, "signing task", f).await
}

/// The header of submission `id`, when held.
async fn held_header(node: &Arc<DaService>, id: SubmissionId) -> Result<SubmissionHeader, SignError> {
    blocking(node, move |n| {
        n.da.header(&id)?
            .ok_or_else(|| SignError::NotHeld(Id::from(id).to_string()))
    })
    .await
}

/// Signs the blob of `req` after the checks above.
pub(crate) async fn sign(node: &Arc<DaService>, req: &SignRequest) -> Result<SignResponse, SignError> {
    let chain = node.chain.as_ref().ok_or(SignError::NoChain)?;
    let id = req.submission.0;
    let header = held_header(node, id).await?;
    let me = chain.address();
    let rows: Vec<usize> = chain
        .quorum(req.epoch, req.quorum_id)
        .await?
        .iter()
        .enumerate()
        .filter(|(_, a)| **a == me)
        .map(|(r, _)| r)
        .collect();
    if rows.is_empty() {
        return Err(SignError::NotInQuorum {
            signer: me.to_string(),
            epoch: req.epoch,
            quorum_id: req.quorum_id,
        });
    }
    let needed = columns_of(&rows);
    let held = blocking(node, move |n| Ok(n.da.custody(&header)?)).await?;
    if let Some((blob, h)) = held.iter().enumerate().find(|(_, h)| needed.0 & !h.0 != 0) {
        return Err(SignError::RowsNotHeld {
            rows: rows.len(),
            blob,
            missing: CellSet(needed.0 & !h.0).indices().collect(),
        });
    }
    let coords = BlobCoords {
        storage_root: req.storage_root.0,
        epoch: req.epoch,
        quorum_id: req.quorum_id,
    };
    if !chain.uploaded(req.block, &coords).await? {
        return Err(SignError::NotUploaded {
            block: req.block,
            root: hex::encode(coords.storage_root),
            epoch: req.epoch,
            quorum_id: req.quorum_id,
        });
    }
    let computed = match node.verified_root(&id) {
        Some(root) => root,
        None => {
            let root = blocking(node, move |n| {
                let payload = n.payload(&id)?;
                zerog::storage_root(&payload).map_err(|e| {
                    SignError::Da(DaError::Malformed {
                        what: "blob",
                        reason: e.to_string(),
                    })
                })
            })
            .await?;
            node.remember_root(id, root);
            root
        }
    };
    if computed != coords.storage_root {
        return Err(SignError::RootMismatch {
            claimed: hex::encode(coords.storage_root),
            computed: hex::encode(computed),
        });
    }
    let commitment = bls::erasure_commitment(&id);
    let digest = bls::blob_digest(&coords.storage_root, req.epoch, req.quorum_id, &commitment);
    let (x, y) = bls::g1_words(&chain.sign(&digest));
    Ok(SignResponse {
        signer: HexBytes(me.0.0),
        rows: rows.len(),
        signature: [HexBytes(x), HexBytes(y)],
    })
}

/// A member's signature of the blob of `req` (held here as `header`), after sending it
/// the cells of its `rows`; the caller checks it against the member's registered key.
async fn ask_member(
    node: &Arc<DaService>,
    header: &SubmissionHeader,
    member: Address,
    socket: &str,
    rows: &[usize],
    req: &SignRequest,
) -> Result<G1Affine, String> {
    let chain = node.chain.as_ref().ok_or("no chain")?;
    let answer = if member == chain.address() {
        sign(node, req).await.map_err(|e| e.to_string())?
    } else {
        let client = DaClient::new(socket).map_err(|e| e.to_string())?;
        let id = req.submission.0;
        let needed = columns_of(rows);
        let n = node.clone();
        // Each blob's cells of the member's columns, read as they are sent.
        let records = (0..header.blob_count()).map(move |b| {
            let n = n.clone();
            async move {
                let cells = tokio::task::spawn_blocking(move || n.da.blob_cells(&id, b))
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))??;
                let mine: Vec<_> = cells.into_iter().filter(|c| needed.contains(c.index)).collect();
                Ok::<_, anyhow::Error>((b, encode_blob_record(&mine)))
            }
        });
        client
            .push(header, records)
            .await
            .map_err(|e| format!("sending it its cells: {e:#}"))?;
        client.sign(req).await.map_err(|e| format!("{e:#}"))?
    };
    bls::g1_from_words(&answer.signature[0].0, &answer.signature[1].0)
        .ok_or_else(|| "its signature is not a G1 point".to_owned())
}

/// Gathers signatures of two thirds of the quorum's rows for the blob at `coords`
/// (uploaded in `block`, held as zg submission `id`) and submits the certificate:
/// the block that holds it.
pub(crate) async fn certify(
    node: &Arc<DaService>,
    id: SubmissionId,
    coords: BlobCoords,
    block: u64,
) -> Result<u64, SignError> {
    let chain = node.chain.as_ref().ok_or(SignError::NoChain)?;
    if chain.certified(&coords).await? {
        // A restart after the certificate landed: it is final by the current head.
        return Ok(chain.finalized().await?);
    }
    let quorum = chain.quorum(coords.epoch, coords.quorum_id).await?;
    let mut members: Vec<Address> = Vec::new();
    let mut rows: HashMap<Address, Vec<usize>> = HashMap::new();
    for (r, a) in quorum.iter().enumerate() {
        if !rows.contains_key(a) {
            members.push(*a);
        }
        rows.entry(*a).or_default().push(r);
    }
    let details = chain.signers(members.clone()).await?;
    let header = held_header(node, id).await?;
    let commitment = bls::erasure_commitment(&id);
    let digest = bls::blob_digest(&coords.storage_root, coords.epoch, coords.quorum_id, &commitment);
    let req = SignRequest {
        submission: Id::from(id),
        storage_root: HexBytes(coords.storage_root),
        epoch: coords.epoch,
        quorum_id: coords.quorum_id,
        block,
    };
    let mut signed: HashMap<Address, G1Affine> = HashMap::new();
    let mut why: HashMap<Address, String> = HashMap::new();
    for round in 0..ROUNDS {
        let asks = details
            .iter()
            .filter(|d| !signed.contains_key(&d.signer))
            .map(|d| {
                let (req, rows, header) = (&req, &rows[&d.signer], &header);
                async move {
                    let answer = ask_member(node, header, d.signer, &d.socket, rows, req).await;
                    let checked = answer.and_then(|sigma| {
                        let key = signer_g2(&d.pkG2).ok_or("its registered key is not a G2 point")?;
                        if bls::verify(&key, &digest, &sigma) {
                            Ok(sigma)
                        } else {
                            Err("its signature does not verify against its registered key".to_owned())
                        }
                    });
                    (d.signer, checked)
                }
            });
        for (member, answer) in futures_util::future::join_all(asks).await {
            match answer {
                Ok(sigma) => {
                    signed.insert(member, sigma);
                    why.remove(&member);
                }
                Err(e) => {
                    why.insert(member, e);
                }
            }
        }
        let hit: usize = signed.keys().map(|m| rows[m].len()).sum();
        if hit >= NEEDED_ROWS {
            break;
        }
        if round + 1 == ROUNDS {
            let mut why: Vec<String> = why.iter().map(|(m, e)| format!("{m}: {e}")).collect();
            why.sort();
            return Err(SignError::QuorumShort {
                signed: hit,
                needed: NEEDED_ROWS,
                why: why.join("; "),
            });
        }
        tracing::info!(
            signed = hit,
            needed = NEEDED_ROWS,
            "waiting for more of the quorum to sign"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut bitmap = vec![0u8; QUORUM_ROWS.div_ceil(8)];
    let mut sigs = Vec::new();
    let mut keys = Vec::new();
    for d in details.iter().filter(|d| signed.contains_key(&d.signer)) {
        for r in &rows[&d.signer] {
            bitmap[r / 8] |= 1 << (r % 8);
        }
        sigs.push(signed[&d.signer]);
        keys.extend(signer_g2(&d.pkG2));
    }
    let submission = CommitRootSubmission {
        dataRoot: coords.storage_root.into(),
        epoch: alloy_primitives::U256::from(coords.epoch),
        quorumId: alloy_primitives::U256::from(coords.quorum_id),
        erasureCommitment: g1_point(&commitment),
        quorumBitmap: bitmap.into(),
        aggPkG2: g2_eip197(&bls::aggregate_keys(&keys)),
        signature: g1_point(&bls::aggregate_signatures(&sigs)),
    };
    Ok(chain.certify(submission).await?)
}
