//! Field recovery from arbitrary cell index sets (and lengths) on a reduced
//! size: a typed error, or exactly the original polynomial.
#![no_main]

use ark_bls12_381::Fr;
use ark_ff::PrimeField;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use zg_erasure::field::CellCode;

fn setup() -> &'static (CellCode<Fr>, Vec<Fr>, Vec<Fr>) {
    static S: OnceLock<(CellCode<Fr>, Vec<Fr>, Vec<Fr>)> = OnceLock::new();
    S.get_or_init(|| {
        let code = CellCode::new(64, 16).unwrap();
        let coeffs: Vec<Fr> = (0..64u64)
            .map(|i| Fr::from_le_bytes_mod_order(&(i * 7919 + 1).to_le_bytes()))
            .collect();
        let ext = code.extend_coefficients(&coeffs).unwrap();
        (code, coeffs, ext)
    })
}

fuzz_target!(|input: &[u8]| {
    let (code, coeffs, ext) = setup();
    let cl = code.cell_len();
    let mut cells: Vec<(u64, Vec<Fr>)> = Vec::new();
    for op in input.chunks(2) {
        let index = u64::from(op[0] % 20); // some out of range
        let i = index as usize % code.cell_count();
        let mut cell = ext[i * cl..(i + 1) * cl].to_vec();
        match op.get(1).copied().unwrap_or(0) {
            0 => cell.pop().map(|_| ()).unwrap_or(()),
            1 => cell[0] += Fr::from(1u64),
            _ => {}
        }
        cells.push((index, cell));
    }
    let given: Vec<(u64, &[Fr])> = cells.iter().map(|(i, c)| (*i, &c[..])).collect();
    if let Ok(got) = code.recover_coefficients(&given) {
        // Exactly half the cells always fit some polynomial: only a clean set must give ours.
        let clean = cells.iter().all(|(i, c)| {
            let i = *i as usize;
            c[..] == ext[i * cl..(i + 1) * cl]
        });
        if clean {
            assert_eq!(&got, coeffs);
        }
    }
});
