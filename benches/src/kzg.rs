//! KZG workloads: every EIP-4844 and EIP-7594 function of zg-kzg beside
//! c-kzg (blst, not `portable`) on the same inputs, with and without
//! precomputed tables, on one and on two threads (c-kzg runs on one).

use std::hint::black_box;
use std::sync::Arc;

use zg_kzg::{BYTES_PER_BLOB, KzgContext, Precompute};

use crate::{Pair, Side, pool, test_bytes};

/// A blob of pseudo-random canonical field elements (top byte cleared).
fn blob(seed: u64) -> Vec<u8> {
    let mut b = test_bytes(BYTES_PER_BLOB, seed);
    for e in b.chunks_exact_mut(32) {
        e[0] &= 0x3f;
    }
    b
}

struct Case {
    name: &'static str,
    shape: &'static str,
    target_1t: Option<f64>,
    zg: Box<dyn Fn(&KzgContext) + Send + Sync>,
    ckzg: Box<dyn Fn(&c_kzg::KzgSettings) + Send + Sync>,
}

fn cases() -> Vec<Case> {
    let ctx = KzgContext::ethereum();
    let b = Arc::new(blob(1));
    let cb = Arc::new(c_kzg::Blob::from_bytes(&b).expect("blob size"));
    let commitment = ctx.blob_to_kzg_commitment(&b).expect("valid blob");
    let proof = ctx.compute_blob_kzg_proof(&b, &commitment).expect("valid blob");
    let c48 = |x: &[u8; 48]| c_kzg::Bytes48::from_bytes(x).expect("48 bytes");
    let z = [7u8; 32];
    let (zproof, y) = ctx.compute_kzg_proof(&b, &z).expect("valid z");

    let blobs: Arc<Vec<Vec<u8>>> = Arc::new((0..16).map(|i| blob(100 + i)).collect());
    let cblobs: Arc<Vec<c_kzg::Blob>> = Arc::new(
        blobs
            .iter()
            .map(|x| c_kzg::Blob::from_bytes(x).expect("blob size"))
            .collect(),
    );
    let commitments: Arc<Vec<[u8; 48]>> = Arc::new(
        blobs
            .iter()
            .map(|x| ctx.blob_to_kzg_commitment(x).expect("valid"))
            .collect(),
    );
    let proofs: Arc<Vec<[u8; 48]>> = Arc::new(
        blobs
            .iter()
            .zip(commitments.iter())
            .map(|(x, c)| ctx.compute_blob_kzg_proof(x, c).expect("valid"))
            .collect(),
    );

    let (cells, cell_proofs) = ctx.compute_cells_and_kzg_proofs(&b).expect("valid blob");
    let cells = Arc::new(cells);
    let cell_proofs = Arc::new(cell_proofs);
    let ccells: Arc<Vec<c_kzg::Cell>> = Arc::new(
        cells
            .iter()
            .map(|c| c_kzg::Cell::from_bytes(c).expect("cell size"))
            .collect(),
    );
    let half: Arc<Vec<u64>> = Arc::new((0..128).step_by(2).collect());

    let mut out: Vec<Case> = Vec::new();
    macro_rules! case {
        ($name:expr, $shape:expr, $target:expr, |$ctx:ident| $zg:expr, |$ck:ident| $c:expr) => {
            out.push(Case {
                name: $name,
                shape: $shape,
                target_1t: $target,
                zg: Box::new(move |$ctx: &KzgContext| {
                    black_box($zg);
                }),
                ckzg: Box::new(move |$ck: &c_kzg::KzgSettings| {
                    black_box($c);
                }),
            });
        };
    }
    {
        let (b, cb) = (b.clone(), cb.clone());
        case!(
            "kzg blob_to_kzg_commitment",
            "1 blob",
            Some(1.0),
            |ctx| ctx.blob_to_kzg_commitment(&b).ok(),
            |ck| ck.blob_to_kzg_commitment(&cb).ok()
        );
    }
    {
        let (b, cb) = (b.clone(), cb.clone());
        case!(
            "kzg compute_kzg_proof",
            "1 blob",
            None,
            |ctx| ctx.compute_kzg_proof(&b, &z).ok(),
            |ck| ck
                .compute_kzg_proof(&cb, &c_kzg::Bytes32::from_bytes(&z).expect("32 bytes"))
                .ok()
        );
    }
    {
        let (b, cb) = (b.clone(), cb.clone());
        let cc = c48(&commitment);
        case!(
            "kzg compute_blob_kzg_proof",
            "1 blob",
            Some(1.0),
            |ctx| ctx.compute_blob_kzg_proof(&b, &commitment).ok(),
            |ck| ck.compute_blob_kzg_proof(&cb, &cc).ok()
        );
    }
    {
        let (cc, cp) = (c48(&commitment), c48(&zproof));
        let (cz, cy) = (
            c_kzg::Bytes32::from_bytes(&z).expect("32"),
            c_kzg::Bytes32::from_bytes(&y).expect("32"),
        );
        case!(
            "kzg verify_kzg_proof",
            "1 proof",
            None,
            |ctx| ctx.verify_kzg_proof(&commitment, &z, &y, &zproof).ok(),
            |ck| ck.verify_kzg_proof(&cc, &cz, &cy, &cp).ok()
        );
    }
    {
        let (b, cb) = (b.clone(), cb.clone());
        let (cc, cp) = (c48(&commitment), c48(&proof));
        case!(
            "kzg verify_blob_kzg_proof",
            "1 blob",
            None,
            |ctx| ctx.verify_blob_kzg_proof(&b, &commitment, &proof).ok(),
            |ck| ck.verify_blob_kzg_proof(&cb, &cc, &cp).ok()
        );
    }
    {
        let (bl, cbl, cm, pr) = (blobs, cblobs, commitments, proofs);
        let ccm: Vec<c_kzg::Bytes48> = cm.iter().map(c48).collect();
        let cpr: Vec<c_kzg::Bytes48> = pr.iter().map(c48).collect();
        case!(
            "kzg verify_blob_kzg_proof_batch",
            "16 blobs",
            Some(1.0 / 1.2),
            |ctx| ctx.verify_blob_kzg_proof_batch(&bl, &cm, &pr).ok(),
            |ck| ck.verify_blob_kzg_proof_batch(&cbl, &ccm, &cpr).ok()
        );
    }
    {
        let (b, cb) = (b.clone(), cb.clone());
        case!(
            "kzg compute_cells",
            "1 blob",
            None,
            |ctx| ctx.compute_cells(&b).ok(),
            |ck| ck.compute_cells(&cb).ok()
        );
    }
    {
        let (b, cb) = (b, cb);
        case!(
            "kzg compute_cells_and_kzg_proofs",
            "1 blob",
            Some(1.0),
            |ctx| ctx.compute_cells_and_kzg_proofs(&b).ok(),
            |ck| ck.compute_cells_and_kzg_proofs(&cb).ok()
        );
    }
    {
        let (cells, ccells, half, half2) = (cells.clone(), ccells.clone(), half.clone(), half);
        case!(
            "kzg recover_cells_and_kzg_proofs",
            "64 of 128 cells",
            None,
            |ctx| {
                let given: Vec<&[u8]> = half.iter().map(|&i| &cells[i as usize][..]).collect();
                ctx.recover_cells_and_kzg_proofs(&half, &given).ok()
            },
            |ck| {
                let given: Vec<c_kzg::Cell> = half2.iter().map(|&i| ccells[i as usize]).collect();
                ck.recover_cells_and_kzg_proofs(&half2, &given).ok()
            }
        );
    }
    {
        let (cells, ccells, cps) = (cells, ccells, cell_proofs);
        let commitments = vec![commitment; 128];
        let ccm = vec![c48(&commitment); 128];
        let ccp: Vec<c_kzg::Bytes48> = cps.iter().map(c48).collect();
        let all: Vec<u64> = (0..128).collect();
        let all2 = all.clone();
        case!(
            "kzg verify_cell_kzg_proof_batch",
            "128 cells",
            Some(1.0 / 1.2),
            |ctx| ctx
                .verify_cell_kzg_proof_batch(&commitments, &all, &cells, &cps)
                .ok(),
            |ck| ck.verify_cell_kzg_proof_batch(&ccm, &all2, &ccells, &ccp).ok()
        );
    }
    out
}

/// The pairs: each function with tables (zg default vs c-kzg precompute 8)
/// and without (zg none vs c-kzg 0), on one and two threads.
pub fn pairs(_scale: usize) -> Vec<Pair> {
    let with_tables: &'static KzgContext = KzgContext::ethereum();
    let without: &'static KzgContext = Box::leak(Box::new(KzgContext::ethereum_with(Precompute::NONE)));
    let mut out = Vec::new();
    for case in cases() {
        let case = Arc::new(case);
        for (ctx, ck_pre, label) in [(with_tables, 8u64, "tables"), (without, 0, "no tables")] {
            for threads in [1usize, 2] {
                let (c1, c2) = (case.clone(), case.clone());
                let p = pool(threads);
                let ck = c_kzg::ethereum_kzg_settings(ck_pre);
                out.push(Pair {
                    kernel: case.name,
                    shape: format!(
                        "{}, {label}, {threads}t vs c-kzg (precompute {ck_pre})",
                        case.shape
                    ),
                    bytes: 0,
                    zg: Side::in_pool(format!("zg-kzg ({threads}t)"), p.clone(), move || (c1.zg)(ctx)),
                    peer: Some(Side::in_pool(
                        format!("c-kzg precompute={ck_pre}"),
                        p,
                        move || {
                            (c2.ckzg)(ck);
                        },
                    )),
                    items: 0,
                    target: if threads == 2 {
                        Some(1.0 / 0.7)
                    } else {
                        case.target_1t
                    },
                });
            }
        }
    }
    out
}
