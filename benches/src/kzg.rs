//! KZG workloads: every EIP-4844 and EIP-7594 function of zg-kzg beside
//! c-kzg (blst, not `portable`) on the same inputs, with and without
//! precomputed tables, on one and on two threads (c-kzg runs on one); the
//! proving and cell rows also at the largest tables of each (c-kzg's
//! fastest setting, precompute 14: 6.3 GiB, loaded on first use in about a
//! minute) and beside rust-eth-kzg.

use std::hint::black_box;
use std::sync::{Arc, OnceLock};

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

/// One function on rust-eth-kzg's context.
type EthRun = Box<dyn Fn(&rust_eth_kzg::DASContext) + Send + Sync>;

struct Case {
    name: &'static str,
    shape: &'static str,
    target_1t: Option<f64>,
    /// Target against c-kzg at its fastest setting, with zg's largest tables.
    target_large: Option<f64>,
    zg: Box<dyn Fn(&KzgContext) + Send + Sync>,
    ckzg: Box<dyn Fn(&c_kzg::KzgSettings) + Send + Sync>,
    eth: Option<EthRun>,
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
                target_large: None,
                zg: Box::new(move |$ctx: &KzgContext| {
                    black_box($zg);
                }),
                ckzg: Box::new(move |$ck: &c_kzg::KzgSettings| {
                    black_box($c);
                }),
                eth: None,
            });
        };
    }
    // The rust-eth-kzg side and the large-tables target of the case just added.
    macro_rules! beside {
        ($large:expr, |$eth:ident| $e:expr) => {
            let last = out.last_mut().expect("a case was just added");
            last.target_large = $large;
            last.eth = Some(Box::new(move |$eth: &rust_eth_kzg::DASContext| {
                black_box($e);
            }));
        };
    }
    let fixed = |x: &[u8]| -> [u8; BYTES_PER_BLOB] { x.try_into().expect("a blob") };
    let eth_cell = |x: &[u8]| -> [u8; zg_kzg::BYTES_PER_CELL] { x.try_into().expect("a cell") };
    {
        let (b, cb) = (b.clone(), cb.clone());
        let eb = fixed(&b);
        case!(
            "kzg blob_to_kzg_commitment",
            "1 blob",
            Some(1.6),
            |ctx| ctx.blob_to_kzg_commitment(&b).ok(),
            |ck| ck.blob_to_kzg_commitment(&cb).ok()
        );
        beside!(None, |eth| eth.blob_to_kzg_commitment(&eb).ok());
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
        let eb = fixed(&b);
        let cc = c48(&commitment);
        case!(
            "kzg compute_blob_kzg_proof",
            "1 blob",
            Some(1.6),
            |ctx| ctx.compute_blob_kzg_proof(&b, &commitment).ok(),
            |ck| ck.compute_blob_kzg_proof(&cb, &cc).ok()
        );
        beside!(None, |eth| eth.compute_blob_kzg_proof(&eb, &commitment).ok());
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
        let eb = fixed(&b);
        case!(
            "kzg compute_cells_and_kzg_proofs",
            "1 blob",
            Some(1.0),
            |ctx| ctx.compute_cells_and_kzg_proofs(&b).ok(),
            |ck| ck.compute_cells_and_kzg_proofs(&cb).ok()
        );
        beside!(Some(1.7), |eth| eth.compute_cells_and_kzg_proofs(&eb).ok());
    }
    {
        let (cells, ccells, half, half2) = (cells.clone(), ccells.clone(), half.clone(), half);
        let half3: Vec<u64> = (0..128).step_by(2).collect();
        let given: Vec<[u8; zg_kzg::BYTES_PER_CELL]> =
            half3.iter().map(|&i| eth_cell(&cells[i as usize])).collect();
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
        beside!(Some(1.3), |eth| eth
            .recover_cells_and_kzg_proofs(half3.clone(), given.iter().collect())
            .ok());
    }
    {
        let (cells, ccells, cps) = (cells, ccells, cell_proofs);
        let all3: Vec<u64> = (0..128).collect();
        let ecells: Vec<[u8; zg_kzg::BYTES_PER_CELL]> = cells.iter().map(|c| eth_cell(c)).collect();
        let eproofs: Vec<[u8; 48]> = cps.to_vec();
        let commitments = vec![commitment; 128];
        let ccm = vec![c48(&commitment); 128];
        let ccp: Vec<c_kzg::Bytes48> = cps.iter().map(c48).collect();
        let all: Vec<u64> = (0..128).collect();
        let all2 = all.clone();
        case!(
            "kzg verify_cell_kzg_proof_batch",
            "128 cells",
            Some(1.3),
            |ctx| ctx
                .verify_cell_kzg_proof_batch(&commitments, &all, &cells, &cps)
                .ok(),
            |ck| ck.verify_cell_kzg_proof_batch(&ccm, &all2, &ccells, &ccp).ok()
        );
        beside!(None, |eth| eth
            .verify_cell_kzg_proof_batch(
                vec![&commitment; 128],
                &all3,
                ecells.iter().collect(),
                eproofs.iter().collect(),
            )
            .ok());
    }
    out
}

/// MiB, for the shapes.
fn mib(bytes: usize) -> usize {
    bytes >> 20
}

/// c-kzg's FK20 tables at `precompute`: 128 rows of 64 points, each with
/// `2^(precompute - 1)` multiples of 96 bytes.
fn ckzg_table_bytes(precompute: u64) -> usize {
    if precompute == 0 {
        0
    } else {
        128 * 64 * (1 << (precompute - 1)) * 96
    }
}

/// c-kzg's fastest setting on a 2-core, 24 GiB machine (13, 14 and 15 measured:
/// 162, 161 and 177 ms for cells with proofs; 15 takes 12.6 GiB).
const CKZG_FASTEST: u64 = 14;

/// rust-eth-kzg's FK20 window with precomputation (its documented choice).
const ETH_WINDOW: usize = 8;

/// The pairs: each function with tables (zg default vs c-kzg precompute 8)
/// and without (zg none vs c-kzg 0), on one and two threads; the largest
/// tables of each, rust-eth-kzg, and zg's own two threads against its one,
/// where the issue sets a target.
pub fn pairs(_scale: usize) -> Vec<Pair> {
    let with_tables: &'static KzgContext = KzgContext::ethereum();
    let without: &'static KzgContext = Box::leak(Box::new(KzgContext::ethereum_with(Precompute::NONE)));
    // Built on first use (the warm-up run): the big tables only for the rows that use them.
    static LARGE: OnceLock<KzgContext> = OnceLock::new();
    let large = || LARGE.get_or_init(|| KzgContext::ethereum_with(Precompute::LARGE));
    static ETH: OnceLock<rust_eth_kzg::DASContext> = OnceLock::new();
    let eth = || {
        ETH.get_or_init(|| {
            rust_eth_kzg::DASContext::new(
                &rust_eth_kzg::TrustedSetup::default(),
                rust_eth_kzg::UsePrecomp::Yes { width: ETH_WINDOW },
            )
        })
    };
    let default_mib = mib(Precompute::DEFAULT.memory_bytes());
    let large_mib = mib(Precompute::LARGE.memory_bytes());
    let mut out = Vec::new();
    for case in cases() {
        let case = Arc::new(case);
        for (ctx, ck_pre, label) in [(with_tables, 8u64, "tables"), (without, 0, "no tables")] {
            for threads in [1usize, 2] {
                let (c1, c2) = (case.clone(), case.clone());
                let p = pool(threads);
                let ck = c_kzg::ethereum_kzg_settings(ck_pre);
                let zg_mib = if ck_pre == 0 { 0 } else { default_mib };
                out.push(Pair {
                    kernel: case.name,
                    shape: format!(
                        "{}, {label} ({zg_mib} MiB), {threads}t vs c-kzg (precompute {ck_pre}, {} MiB)",
                        case.shape,
                        mib(ckzg_table_bytes(ck_pre))
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
                    } else if ck_pre == 0 {
                        None
                    } else {
                        case.target_1t
                    },
                });
            }
        }
        if case.eth.is_none() {
            continue;
        }
        if let Some(target) = case.target_large {
            let (c1, c2) = (case.clone(), case.clone());
            let p = pool(1);
            out.push(Pair {
                kernel: case.name,
                shape: format!(
                    "{}, large tables ({large_mib} MiB), 1t vs c-kzg (precompute {CKZG_FASTEST}, {} MiB)",
                    case.shape,
                    mib(ckzg_table_bytes(CKZG_FASTEST))
                ),
                bytes: 0,
                zg: Side::in_pool("zg-kzg (1t)", p.clone(), move || (c1.zg)(large())),
                peer: Some(Side::in_pool(
                    format!("c-kzg precompute={CKZG_FASTEST}"),
                    p,
                    move || (c2.ckzg)(c_kzg::ethereum_kzg_settings(CKZG_FASTEST)),
                )),
                items: 0,
                target: Some(target),
            });
        }
        let (c1, c2) = (case.clone(), case.clone());
        let p = pool(1);
        out.push(Pair {
            kernel: case.name,
            shape: format!(
                "{}, tables ({default_mib} MiB), 1t vs rust-eth-kzg (precomp width {ETH_WINDOW})",
                case.shape
            ),
            bytes: 0,
            zg: Side::in_pool("zg-kzg (1t)", p.clone(), move || (c1.zg)(with_tables)),
            peer: Some(Side::in_pool("rust-eth-kzg 0.10", p, move || {
                if let Some(run) = &c2.eth {
                    run(eth());
                }
            })),
            items: 0,
            target: None,
        });
        if case.name == "kzg compute_cells_and_kzg_proofs" {
            let (c1, c2) = (case.clone(), case.clone());
            out.push(Pair {
                kernel: case.name,
                shape: format!("{}, tables ({default_mib} MiB), 2t vs zg's own 1t", case.shape),
                bytes: 0,
                zg: Side::in_pool("zg-kzg (2t)", pool(2), move || (c1.zg)(with_tables)),
                peer: Some(Side::in_pool("zg-kzg (1t)", pool(1), move || {
                    (c2.zg)(with_tables);
                })),
                items: 0,
                target: Some(1.8),
            });
        }
    }
    out
}
