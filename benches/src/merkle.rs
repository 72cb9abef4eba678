//! Merkle workloads: BLAKE3 roots vs `blake3::hash`, 0G roots vs plain
//! Keccak-256 over the same bytes, and per-segment proofs.

use std::hint::black_box;
use std::sync::Arc;

use sha3::{Digest, Keccak256};
use zg_merkle::blake3_tree::Blake3Tree;
use zg_merkle::keccak_tree::KeccakTree;
use zg_merkle::{SEGMENT_SIZE, segment_count};

use crate::{Pair, Side, pool, test_bytes};

const GIB: usize = 1 << 30;
const MIB: usize = 1 << 20;

/// The merkle pairs; `scale` divides the input sizes (1 = the sizes).
pub fn pairs(scale: usize) -> Vec<Pair> {
    let mut out = Vec::new();
    let big = Arc::new(test_bytes(GIB / scale, 1));
    let label = |bytes: usize| {
        if bytes >= GIB {
            format!("{} GiB", bytes / GIB)
        } else {
            format!("{} MiB", bytes / MIB)
        }
    };

    for threads in [1usize, 2] {
        let (d, p) = (big.clone(), big.clone());
        let pool_zg = pool(threads);
        out.push(Pair {
            kernel: "merkle blake3 root",
            shape: format!("{}, {threads} thread(s)", label(big.len())),
            bytes: big.len() as u64,
            zg: Side::in_pool(
                format!("zg Blake3Tree+outboard ({threads}t)"),
                pool_zg,
                move || {
                    black_box(Blake3Tree::from_data_par(&d).root());
                },
            ),
            peer: Some(Side::new("blake3::hash (1t)", move || {
                black_box(blake3::hash(&p));
            })),
            items: 0,
            target: Some(if threads == 1 { 0.95 } else { 1.8 }),
        });
    }
    {
        let (d, p) = (big.clone(), big.clone());
        let (pool_zg, pool_peer) = (pool(2), pool(2));
        out.push(Pair {
            kernel: "merkle blake3 root",
            shape: format!("{}, 2 threads each", label(big.len())),
            bytes: big.len() as u64,
            zg: Side::in_pool("zg Blake3Tree+outboard (2t)", pool_zg, move || {
                black_box(Blake3Tree::from_data_par(&d).root());
            }),
            peer: Some(Side::in_pool("blake3 update_rayon (2t)", pool_peer, move || {
                black_box(blake3::Hasher::new().update_rayon(&p).finalize());
            })),
            items: 0,
            target: None,
        });
    }

    let mid = Arc::new(big[..(256 * MIB / scale)].to_vec());
    for threads in [1usize, 2] {
        let (d, p) = (mid.clone(), mid.clone());
        let pool_zg = pool(threads);
        out.push(Pair {
            kernel: "merkle zg root",
            shape: format!("{}, {threads} thread(s)", label(mid.len())),
            bytes: mid.len() as u64,
            zg: Side::in_pool(format!("zg KeccakTree ({threads}t)"), pool_zg, move || {
                black_box(KeccakTree::from_data_par(&d).root());
            }),
            peer: Some(Side::new("keccak256 of all bytes (1t)", move || {
                black_box(Keccak256::digest(&p[..]));
            })),
            items: 0,
            // The tree hashes 3 permutations per sector to the flat hash's 1.88: multi-lane Keccak pays for it.
            target: Some(if threads == 1 { 2.0 } else { 3.5 }),
        });
    }

    // What 0G's users run for the same root: the TS SDK's tree, in node, on 16 MiB.
    {
        let small = Arc::new(big[..(16 * MIB / scale).max(SEGMENT_SIZE)].to_vec());
        let path = crate::bench_dir().join(format!("zg-bench-sdk-tree-{}.bin", std::process::id()));
        std::fs::write(&path, &small[..]).expect("write the SDK's file");
        let sdk = crate::Worker::start_sdk("merkle_worker.mjs", &[path.to_str().expect("utf-8 path")]);
        // The worker has read the file before it says ready.
        let _ = std::fs::remove_file(&path);
        let root = KeccakTree::from_data(&small).root();
        let want = format!(
            "0x{}",
            root.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let d = small.clone();
        out.push(Pair {
            kernel: "merkle zg root",
            shape: format!("{}, 1 thread, beside 0G's TS SDK", label(small.len())),
            bytes: small.len() as u64,
            zg: Side::in_pool("zg KeccakTree (1t)", pool(1), move || {
                black_box(KeccakTree::from_data_par(&d).root());
            }),
            peer: sdk.map(|mut w| {
                Side::new("0G TS SDK 1.2.8 merkleTree (node)", move || {
                    assert_eq!(w.ask(""), want, "the SDK's root");
                })
            }),
            items: 0,
            target: None,
        });
    }

    // Per-segment proofs in a 64 MiB file.
    let file = Arc::new(big[..64 * MIB].to_vec());
    let len = file.len() as u64;
    let index = segment_count(len) / 3;
    let seg = Arc::new(file[index as usize * SEGMENT_SIZE..(index as usize + 1) * SEGMENT_SIZE].to_vec());
    let b3 = Arc::new(Blake3Tree::from_data_par(&file));
    let zg = Arc::new(KeccakTree::from_data_par(&file));
    {
        let t = b3.clone();
        out.push(Pair {
            kernel: "merkle blake3 proof build",
            shape: "1 segment of 64 MiB".into(),
            bytes: 0,
            zg: Side::new("Blake3Tree::prove_segment", move || {
                black_box(t.prove_segment(index).ok());
            }),
            peer: None,
            items: 0,
            target: None,
        });
        let t = zg.clone();
        out.push(Pair {
            kernel: "merkle zg proof build",
            shape: "1 segment of 64 MiB".into(),
            bytes: 0,
            zg: Side::new("KeccakTree::prove_segment", move || {
                black_box(t.prove_segment(index).ok());
            }),
            peer: None,
            items: 0,
            target: None,
        });
    }
    {
        let proof = b3.prove_segment(index).expect("in range");
        let root = b3.root();
        let (s, p) = (seg.clone(), seg.clone());
        out.push(Pair {
            kernel: "merkle blake3 verify",
            shape: "1 segment (256 KiB) with its data".into(),
            bytes: SEGMENT_SIZE as u64,
            zg: Side::new("Blake3Proof::verify_segment", move || {
                black_box(proof.verify_segment(&root, len, index, &s).ok());
            }),
            peer: Some(Side::new("blake3::hash of the segment", move || {
                black_box(blake3::hash(&p));
            })),
            items: 0,
            target: None,
        });
    }
    {
        let proof = zg.prove_segment(index).expect("in range");
        let root = zg.root();
        let (s, p) = (seg.clone(), seg);
        out.push(Pair {
            kernel: "merkle zg verify",
            shape: "1 segment (256 KiB) with its data".into(),
            bytes: SEGMENT_SIZE as u64,
            zg: Side::new("KeccakProof::verify_segment", move || {
                black_box(proof.verify_segment(&root, len, index, &s).ok());
            }),
            peer: Some(Side::new("keccak256 of the segment", move || {
                black_box(Keccak256::digest(&p[..]));
            })),
            items: 0,
            target: None,
        });
        let proof = zg.prove_segment(index).expect("in range");
        let leaf = zg.segment_roots()[index as usize];
        let n = zg.segment_roots().len() as u64;
        out.push(Pair {
            kernel: "merkle zg verify path",
            shape: "segment root known, 256-leaf tree".into(),
            bytes: 0,
            zg: Side::new("KeccakProof::verify_leaf", move || {
                black_box(proof.verify_leaf(&root, &leaf, index, n).ok());
            }),
            peer: None,
            items: 0,
            target: None,
        });
    }
    out
}
