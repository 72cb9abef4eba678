//! 0G DA's contracts through the chain: signers registering through the DARegistry
//! with proof of possession, epochs and their quorum rows, blob fees exact to the wei,
//! `DataUpload`, and quorum certificates that verify by pairing — refused with 0G's
//! reasons when forged or under two thirds of the rows.

mod common;

use alloy_primitives::{Address, B256, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{Revert, SolCall, SolError};
use ark_bn254::{G1Affine, G2Affine};
use common::{Net, Sent, signer};
use zg_blob::zerog_bls::{self as bls, SecretKey};
use zg_contracts::da::{
    CommitRootSubmission, ENCODED_SLICES, G1Point, G2Point, IDAEntrance as E, IDARegistry as R,
    IDASigners as S, SignerDetail, reason,
};
use zg_evm::ChainConfig;
use zg_evm::system::{DA_ENTRANCE_ADDRESS, DA_REGISTRY_ADDRESS, DA_SIGNERS_ADDRESS, SystemConfig};

const CHAIN_ID: u64 = 16600;
const GAS_PRICE: u128 = 1_000_000_000;
const PRICE: u64 = 7_000;
const GAS: u64 = 5_000_000;

fn bls_key(i: u8) -> SecretKey {
    SecretKey::from_bytes(&[i + 0x40; 32]).unwrap()
}

fn g1(p: &G1Affine) -> G1Point {
    G1Point::from_words(bls::g1_words(p))
}

/// As a signer registers it: `[c0, c1]`.
fn g2_signer(p: &G2Affine) -> G2Point {
    G2Point::signer_order(bls::g2_words(p))
}

/// As a certificate carries it: EIP-197's `[c1, c0]`.
fn g2_eip197(p: &G2Affine) -> G2Point {
    G2Point::eip197_order(bls::g2_words(p))
}

impl Net {
    /// A chain with 0G DA's contracts priced at `PRICE` per blob, accounts 0–7 funded.
    fn new() -> Self {
        let config = ChainConfig {
            chain_id: CHAIN_ID,
            gas_limit: 30_000_000,
            coinbase: Address::repeat_byte(0xcb),
            genesis_timestamp: 1_700_000_000,
            alloc: (0..8)
                .map(|i| (signer(i).address(), U256::from(10u64).pow(U256::from(21))))
                .collect(),
            system: Some(SystemConfig {
                da_blob_price: U256::from(PRICE),
                compute_owner: signer(7).address(),
                ..SystemConfig::default()
            }),
        };
        Self::open(config, GAS_PRICE)
    }

    fn send(&mut self, from: &PrivateKeySigner, to: Address, value: U256, call: &impl SolCall) -> Sent {
        self.send_gas(from, to, value, call, GAS)
    }

    fn epoch(&self) -> u64 {
        self.view(DA_SIGNERS_ADDRESS, &S::epochNumberCall {})
            .unwrap()
            .to()
    }

    /// Account `i` registers BLS key `i` through the registry and joins the next epoch.
    fn join(&mut self, i: u8) {
        let (signer, sk) = (signer(i), bls_key(i));
        let detail = detail(i);
        let pop = sk.sign(&bls::registration_digest(&signer.address().0.0, CHAIN_ID));
        let call = R::registerSignerCall {
            _signer: detail,
            _signature: g1(&pop),
        };
        let sent = self.send(&signer, DA_REGISTRY_ADDRESS, U256::ZERO, &call).ok();
        assert_eq!(sent.events::<S::NewSigner>().len(), 1);
        let next = self.epoch() + 1;
        let sig = sk.sign(&bls::epoch_registration_digest(
            &signer.address().0.0,
            next,
            CHAIN_ID,
        ));
        let call = R::registerNextEpochCall { _signature: g1(&sig) };
        self.send(&signer, DA_REGISTRY_ADDRESS, U256::ZERO, &call).ok();
    }

    /// Uploads `root` paying the fee; its (epoch, quorum).
    fn upload(&mut self, root: B256) -> (U256, U256) {
        let call = E::submitOriginalDataCall {
            _dataRoots: vec![root],
        };
        let sent = self
            .send(&signer(6), DA_ENTRANCE_ADDRESS, U256::from(PRICE), &call)
            .ok();
        let ev = &sent.events::<E::DataUpload>()[0];
        assert_eq!(
            (ev.sender, ev.dataRoot, ev.blobPrice),
            (signer(6).address(), root, U256::from(PRICE))
        );
        (ev.epoch, ev.quorumId)
    }

    fn quorum(&self, epoch: U256) -> Vec<Address> {
        self.view(
            DA_SIGNERS_ADDRESS,
            &S::getQuorumCall {
                _epoch: epoch,
                _quorumId: U256::ZERO,
            },
        )
        .unwrap()
    }
}

fn detail(i: u8) -> SignerDetail {
    let sk = bls_key(i);
    SignerDetail {
        signer: signer(i).address(),
        socket: format!("http://127.0.0.1:{}", 34000 + u16::from(i)),
        pkG1: g1(&sk.public_g1()),
        pkG2: g2_signer(&sk.public_g2()),
    }
}

const C: u8 = 3;

/// A certificate for (root, epoch, quorum 0) signed by `signers` (indices of accounts),
/// its bitmap marking their rows in `quorum`.
fn certificate(root: B256, epoch: U256, quorum: &[Address], signers: &[u8]) -> CommitRootSubmission {
    let commitment = bls::hash_to_g1(&[C; 32]);
    let digest = bls::blob_digest(&root.0, epoch.to(), 0, &commitment);
    let sigs: Vec<G1Affine> = signers.iter().map(|i| bls_key(*i).sign(&digest)).collect();
    let keys: Vec<G2Affine> = signers.iter().map(|i| bls_key(*i).public_g2()).collect();
    let mut bitmap = vec![0u8; ENCODED_SLICES / 8];
    for (row, member) in quorum.iter().enumerate() {
        if signers.iter().any(|i| signer(*i).address() == *member) {
            bitmap[row / 8] |= 1 << (row % 8);
        }
    }
    CommitRootSubmission {
        dataRoot: root,
        epoch,
        quorumId: U256::ZERO,
        erasureCommitment: g1(&commitment),
        quorumBitmap: bitmap.into(),
        aggPkG2: g2_eip197(&bls::aggregate_keys(&keys)),
        signature: g1(&bls::aggregate_signatures(&sigs)),
    }
}

#[test]
fn signers_register_with_proof_of_possession() {
    let mut net = Net::new();
    // A key pair of two secrets, and a registration signed for another chain, are refused.
    let mut mismatched = detail(0);
    mismatched.pkG2 = g2_signer(&bls_key(1).public_g2());
    let pop = bls_key(0).sign(&bls::registration_digest(&signer(0).address().0.0, CHAIN_ID));
    let call = R::registerSignerCall {
        _signer: mismatched,
        _signature: g1(&pop),
    };
    assert_eq!(
        net.send(&signer(0), DA_REGISTRY_ADDRESS, U256::ZERO, &call)
            .reason(),
        "DASigners: invalid signature"
    );
    let other_chain = bls_key(0).sign(&bls::registration_digest(&signer(0).address().0.0, 1));
    let call = R::registerSignerCall {
        _signer: detail(0),
        _signature: g1(&other_chain),
    };
    assert_eq!(
        net.send(&signer(0), DA_REGISTRY_ADDRESS, U256::ZERO, &call)
            .reason(),
        "DASigners: invalid signature"
    );
    // Nobody registers another account, or a socket over 96 bytes.
    let call = R::registerSignerCall {
        _signer: detail(0),
        _signature: g1(&pop),
    };
    assert_eq!(
        net.send(&signer(1), DA_REGISTRY_ADDRESS, U256::ZERO, &call)
            .reason(),
        "DARegistry: sender is not the signer"
    );
    let mut long = detail(0);
    long.socket = "x".repeat(97);
    let call = R::registerSignerCall {
        _signer: long,
        _signature: g1(&pop),
    };
    assert_eq!(
        net.send(&signer(0), DA_REGISTRY_ADDRESS, U256::ZERO, &call)
            .reason(),
        "DASigners: socket longer than 96 bytes"
    );
    // An off-curve key is refused before any pairing.
    let mut off = detail(0);
    off.pkG1.Y += U256::from(1);
    let call = R::registerSignerCall {
        _signer: off,
        _signature: g1(&pop),
    };
    assert_eq!(
        net.send(&signer(0), DA_REGISTRY_ADDRESS, U256::ZERO, &call)
            .reason(),
        "DASigners: invalid public key or signature"
    );
    net.join(0);
    let call = R::registerSignerCall {
        _signer: detail(0),
        _signature: g1(&pop),
    };
    assert_eq!(
        net.send(&signer(0), DA_REGISTRY_ADDRESS, U256::ZERO, &call)
            .reason(),
        "DASigners: signer exists"
    );
    // Only the registry reaches DASigners' three-argument registerNextEpoch.
    let call = S::registerNextEpoch_0Call {
        _account: signer(0).address(),
        _signature: g1(&pop),
        _votes: U256::from(1),
    };
    assert_eq!(
        net.send(&signer(0), DA_SIGNERS_ADDRESS, U256::ZERO, &call)
            .reason(),
        "DASigners: only the registry"
    );
    assert!(
        net.view(
            DA_SIGNERS_ADDRESS,
            &S::isSignerCall {
                _account: signer(0).address()
            }
        )
        .unwrap()
    );
    let got = net
        .view(
            DA_SIGNERS_ADDRESS,
            &S::getSignerCall {
                _account: vec![signer(0).address()],
            },
        )
        .unwrap();
    assert_eq!(got, vec![detail(0)]);
    assert!(
        net.view(
            DA_SIGNERS_ADDRESS,
            &S::getSignerCall {
                _account: vec![signer(5).address()]
            }
        )
        .is_err(),
        "an unknown signer is answered"
    );
    // The signer moves its socket.
    let call = S::updateSocketCall {
        _socket: "http://10.0.0.1:34000".into(),
    };
    let sent = net.send(&signer(0), DA_SIGNERS_ADDRESS, U256::ZERO, &call).ok();
    assert_eq!(
        sent.events::<S::SocketUpdated>()[0].socket,
        "http://10.0.0.1:34000"
    );
}

#[test]
fn uploads_pay_the_blob_price_and_need_signers() {
    let mut net = Net::new();
    let root = B256::repeat_byte(0xab);
    let call = E::submitOriginalDataCall {
        _dataRoots: vec![root],
    };
    assert_eq!(
        net.send(&signer(6), DA_ENTRANCE_ADDRESS, U256::from(PRICE), &call)
            .reason(),
        reason::NO_SIGNERS
    );
    for i in 0..3 {
        net.join(i);
    }
    assert_eq!(net.epoch(), 0, "registrations wait for the next sync");
    let two = E::submitOriginalDataCall {
        _dataRoots: vec![root, B256::repeat_byte(1)],
    };
    assert_eq!(
        net.send(&signer(6), DA_ENTRANCE_ADDRESS, U256::from(2 * PRICE - 1), &two)
            .reason(),
        reason::NOT_ENOUGH_FEE
    );
    let before = (net.balance(signer(6).address()), net.balance(DA_ENTRANCE_ADDRESS));
    let sent = net
        .send(&signer(6), DA_ENTRANCE_ADDRESS, U256::from(2 * PRICE), &two)
        .ok();
    let gas = U256::from(sent.gas_used) * U256::from(GAS_PRICE);
    assert_eq!(
        net.balance(signer(6).address()),
        before.0 - gas - U256::from(2 * PRICE)
    );
    assert_eq!(net.balance(DA_ENTRANCE_ADDRESS), before.1 + U256::from(2 * PRICE));
    let events = sent.events::<E::DataUpload>();
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e.epoch == U256::from(1) && e.quorumId.is_zero())
    );
    assert_eq!(net.epoch(), 1);
    assert_eq!(
        net.view(
            DA_SIGNERS_ADDRESS,
            &S::quorumCountCall {
                _epoch: U256::from(1)
            }
        )
        .unwrap(),
        U256::from(1)
    );
    assert!(
        net.view(
            DA_SIGNERS_ADDRESS,
            &S::quorumCountCall {
                _epoch: U256::from(2)
            }
        )
        .unwrap()
        .is_zero()
    );
    // 3072 rows in three contiguous runs of 1024, one per signer.
    let quorum = net.quorum(U256::from(1));
    assert_eq!(quorum.len(), ENCODED_SLICES);
    for run in quorum.chunks(1024) {
        assert!(run.iter().all(|a| *a == run[0]));
    }
    let mut members: Vec<Address> = quorum.chunks(1024).map(|r| r[0]).collect();
    members.sort();
    let mut want: Vec<Address> = (0..3).map(|i| signer(i).address()).collect();
    want.sort();
    assert_eq!(members, want);
    assert_eq!(
        net.view(
            DA_SIGNERS_ADDRESS,
            &S::getQuorumRowCall {
                _epoch: U256::from(1),
                _quorumId: U256::ZERO,
                _rowIndex: 2048
            }
        )
        .unwrap(),
        quorum[2048]
    );
    // A fourth signer starts the next epoch at the next sync.
    net.join(3);
    net.send(&signer(6), DA_ENTRANCE_ADDRESS, U256::ZERO, &E::syncCall {})
        .ok();
    assert_eq!(net.epoch(), 2);
    assert_eq!(
        net.quorum(U256::from(2))
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        4
    );
    // Only the owner prices blobs.
    let call = E::setBlobPriceCall {
        _blobPrice: U256::ZERO,
    };
    assert_eq!(
        net.send(&signer(6), DA_ENTRANCE_ADDRESS, U256::ZERO, &call)
            .reason(),
        "DAEntrance: caller is not the owner"
    );
    net.send(&signer(7), DA_ENTRANCE_ADDRESS, U256::ZERO, &call).ok();
    assert!(
        net.view(DA_ENTRANCE_ADDRESS, &E::blobPriceCall {})
            .unwrap()
            .is_zero()
    );
}

#[test]
fn certificates_need_two_thirds_and_a_valid_signature() {
    let mut net = Net::new();
    for i in 0..3 {
        net.join(i);
    }
    let root = B256::repeat_byte(0x5a);
    let (epoch, quorum_id) = net.upload(root);
    assert_eq!(quorum_id, U256::ZERO);
    let quorum = net.quorum(epoch);
    let submit = |net: &mut Net, cert: CommitRootSubmission| {
        let call = E::submitVerifiedCommitRootsCall {
            _submissions: vec![cert],
        };
        net.send(&signer(6), DA_ENTRANCE_ADDRESS, U256::ZERO, &call)
    };
    // One of three signers: 1024 rows of 3072.
    assert_eq!(
        submit(&mut net, certificate(root, epoch, &quorum, &[0])).reason(),
        reason::INSUFFICIENT_SLICES
    );
    // Rows marked for three, signed by two.
    let mut forged = certificate(root, epoch, &quorum, &[0, 1, 2]);
    forged.signature = certificate(root, epoch, &quorum, &[0, 1]).signature;
    assert_eq!(submit(&mut net, forged).reason(), reason::BAD_SIGNATURE);
    // A signature by a key outside the quorum.
    let mut outsider = certificate(root, epoch, &quorum, &[0, 1]);
    let digest = bls::blob_digest(&root.0, epoch.to(), 0, &bls::hash_to_g1(&[C; 32]));
    outsider.signature = g1(&bls::aggregate_signatures(&[
        bls_key(0).sign(&digest),
        bls_key(5).sign(&digest),
    ]));
    assert_eq!(submit(&mut net, outsider).reason(), reason::BAD_SIGNATURE);
    // A certificate for another root does not pass for this one.
    let mut moved = certificate(B256::repeat_byte(0x11), epoch, &quorum, &[0, 1, 2]);
    moved.dataRoot = root;
    assert_eq!(submit(&mut net, moved).reason(), reason::BAD_SIGNATURE);
    let exists = |net: &Net| {
        net.view(
            DA_ENTRANCE_ADDRESS,
            &E::commitmentExistsCall {
                _dataRoot: root,
                _epoch: epoch,
                _quorumId: U256::ZERO,
            },
        )
        .unwrap()
    };
    assert!(!exists(&net));
    // Two of three: exactly 2/3 of the rows, enough.
    let good = certificate(root, epoch, &quorum, &[1, 2]);
    let sent = submit(&mut net, good.clone()).ok();
    let verified = sent.events::<E::ErasureCommitmentVerified>();
    assert_eq!(
        (verified[0].dataRoot, verified[0].epoch, verified[0].quorumId),
        (root, epoch, U256::ZERO)
    );
    assert!(exists(&net));
    let commitment = net
        .view(
            DA_ENTRANCE_ADDRESS,
            &E::verifiedErasureCommitmentCall {
                _dataRoot: root,
                _epoch: epoch,
                _quorumId: U256::ZERO,
            },
        )
        .unwrap();
    assert_eq!(commitment, g1(&bls::hash_to_g1(&[C; 32])));
    // A second certificate for the same blob is skipped, not re-recorded.
    let again = submit(&mut net, good).ok();
    assert!(again.events::<E::ErasureCommitmentVerified>().is_empty());
}

#[test]
fn aggregate_keys_count_rows_as_0gs_precompile_does() {
    let mut net = Net::new();
    for i in 0..3 {
        net.join(i);
    }
    let (epoch, _) = net.upload(B256::repeat_byte(9));
    let quorum = net.quorum(epoch);
    let agg = |net: &Net, rows: &[usize]| {
        let mut bitmap = vec![0u8; ENCODED_SLICES / 8];
        for r in rows {
            bitmap[r / 8] |= 1 << (r % 8);
        }
        net.view(
            DA_SIGNERS_ADDRESS,
            &S::getAggPkG1Call {
                _epoch: epoch,
                _quorumId: U256::ZERO,
                _quorumBitmap: bitmap.into(),
            },
        )
        .unwrap()
    };
    let first = quorum[0];
    let index = (0..3).find(|i| signer(*i).address() == first).unwrap();
    // Row 0 adds the first member: all 1024 of its rows then count.
    let got = agg(&net, &[0]);
    assert_eq!((got.total, got.hit), (U256::from(3072), U256::from(1024)));
    assert_eq!(got.aggPkG1, g1(&bls_key(index).public_g1()));
    // Its last row alone: only that row counts.
    assert_eq!(agg(&net, &[1023]).hit, U256::from(1));
    assert_eq!(agg(&net, &[0, 1024, 2048]).hit, U256::from(3072));
    // A bitmap of the wrong length is refused.
    let call = S::getAggPkG1Call {
        _epoch: epoch,
        _quorumId: U256::ZERO,
        _quorumBitmap: vec![0xff; 10].into(),
    };
    assert!(net.view(DA_SIGNERS_ADDRESS, &call).is_err());
    let call = S::getAggPkG1Call {
        _epoch: epoch,
        _quorumId: U256::from(1),
        _quorumBitmap: vec![0; 384].into(),
    };
    let Err(err) = net.view(DA_SIGNERS_ADDRESS, &call) else {
        panic!("a missing quorum answered");
    };
    assert_eq!(
        Revert::abi_decode(&err).unwrap().reason,
        "DASigners: quorum does not exist"
    );
}
