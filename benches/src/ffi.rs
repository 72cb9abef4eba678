//! The C ABI's per-call overhead: a cheap call (verify a Merkle proof of a
//! 1000-byte file) through `zg_merkle_verify_segment` beside the same work
//! (decode the proof, verify it) in direct Rust.

use std::hint::black_box;

use zg_merkle::{FileTree, RootKind, SegmentProof};

use crate::{Pair, Side};

/// Calls per timed iteration: one call is too short to time alone.
const CALLS: usize = 1000;

/// The pair.
pub fn pairs(_scale: usize) -> Vec<Pair> {
    let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let tree = FileTree::from_data(RootKind::Keccak, &data);
    let root = tree.root();
    let proof = tree.prove_segment(0).expect("segment 0").to_bytes();
    let (d1, p1, d2, p2) = (data.clone(), proof.clone(), data, proof);
    vec![Pair {
        kernel: "ffi call overhead",
        shape: "1000 calls: verify a zg proof, 1000-B file".into(),
        bytes: 0,
        zg: Side::new("C ABI zg_merkle_verify_segment", move || {
            for _ in 0..CALLS {
                let mut ok = false;
                // SAFETY: every pointer is valid for the length passed with it.
                let r = unsafe {
                    zg::zg_merkle_verify_segment(
                        &raw mut ok,
                        root.as_ptr(),
                        1000,
                        0,
                        d1.as_ptr(),
                        d1.len(),
                        p1.as_ptr(),
                        p1.len(),
                    )
                };
                assert!(r == zg::ZgResult::ZG_OK && ok);
            }
        }),
        peer: Some(Side::new("Rust SegmentProof::from_bytes + verify", move || {
            for _ in 0..CALLS {
                let proof = SegmentProof::from_bytes(&p2).expect("decodes");
                assert!(black_box(proof.verify(&root, 1000, 0, &d2).expect("well formed")));
            }
        })),
        items: 0,
        target: None,
    }]
}
