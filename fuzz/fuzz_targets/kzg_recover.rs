//! Recovery from arbitrary cell index lists (order, duplicates, range,
//! count, damaged cells): a typed error, or exactly the original cells.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use zg_kzg::{BYTES_PER_BLOB, Cell, KzgContext};

fn original() -> &'static (Vec<Cell>, Vec<[u8; 48]>) {
    static O: OnceLock<(Vec<Cell>, Vec<[u8; 48]>)> = OnceLock::new();
    O.get_or_init(|| {
        let blob: Vec<u8> = (0..BYTES_PER_BLOB)
            .map(|i| if i % 32 == 0 { 0 } else { (i * 7) as u8 })
            .collect();
        KzgContext::ethereum()
            .compute_cells_and_kzg_proofs(&blob)
            .unwrap()
    })
}

fuzz_target!(|input: &[u8]| {
    let (cells, proofs) = original();
    let mut indices = Vec::new();
    let mut given = Vec::new();
    for op in input.chunks(2) {
        let index = u64::from(op[0]);
        let mut cell = cells[usize::from(op[0]) % 128].to_vec();
        if op.get(1).is_some_and(|b| b % 17 == 0) {
            cell[5] ^= 1;
        }
        indices.push(index);
        given.push(cell);
    }
    if let Ok((got_cells, got_proofs)) = KzgContext::ethereum().recover_cells_and_kzg_proofs(&indices, &given)
    {
        let clean = indices
            .iter()
            .zip(&given)
            .all(|(i, c)| *i < 128 && c[..] == cells[*i as usize][..]);
        if clean {
            assert_eq!(&got_cells, cells);
            assert_eq!(&got_proofs, proofs);
        }
    }
});
