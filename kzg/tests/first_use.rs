//! First use of a context from many rayon tasks at once: its lazily built tables must
//! not deadlock the pool (each waiter on the table's lock is a pool worker).

use rayon::prelude::*;
use zg_kzg::{BYTES_PER_BLOB, BlockShape, KzgContext, Precompute};

#[test]
fn concurrent_first_use_from_rayon_workers() {
    // Small tables: the race is the point, not their size.
    let small = Precompute {
        blob_blocks: BlockShape::new(8, 255),
        cell_blocks: BlockShape::new(6, 128),
    };
    let ctx = KzgContext::ethereum_with(small);
    let blob = vec![0u8; BYTES_PER_BLOB];
    let expected = ctx.blob_to_kzg_commitment(&blob).unwrap();
    // A fresh context each round, first touched by several pool workers at once.
    for _ in 0..3 {
        let fresh = KzgContext::ethereum_with(small);
        let commitments: Vec<_> = (0..8)
            .into_par_iter()
            .map(|_| {
                let (_cells, proofs) = fresh.compute_cells_and_kzg_proofs(&blob).unwrap();
                assert_eq!(proofs.len(), 128);
                fresh.blob_to_kzg_commitment(&blob).unwrap()
            })
            .collect();
        assert!(commitments.iter().all(|c| *c == expected));
    }
}
