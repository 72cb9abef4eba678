//! Prime-field code over BLS12-381's scalar field, against naive polynomial
//! evaluation, and recovery from every half of the cells on a reduced size.

use ark_bls12_381::Fr;
use ark_ff::{FftField, Field, PrimeField, Zero};
use rand::{RngCore, SeedableRng, rngs::StdRng};
use zg_erasure::ErasureError;
use zg_erasure::field::{CellCode, bit_reversal_permutation, reverse_bits, vanishing_polynomial};

fn horner(coeffs: &[Fr], x: Fr) -> Fr {
    coeffs.iter().rev().fold(Fr::zero(), |acc, c| acc * x + c)
}

/// Naive: evaluate at every `len`-th root of unity, then bit-reverse.
fn naive_evals_brp(coeffs: &[Fr], len: usize) -> Vec<Fr> {
    let w = Fr::get_root_of_unity(len as u64).unwrap();
    let mut v: Vec<Fr> = (0..len).map(|j| horner(coeffs, w.pow([j as u64]))).collect();
    bit_reversal_permutation(&mut v);
    v
}

fn random_poly(n: usize, seed: u64) -> Vec<Fr> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let mut b = [0u8; 32];
            rng.fill_bytes(&mut b);
            Fr::from_le_bytes_mod_order(&b)
        })
        .collect()
}

#[test]
fn bit_reversal_helpers() {
    assert_eq!(reverse_bits(1, 8), 4);
    assert_eq!(reverse_bits(6, 8), 3);
    assert_eq!(reverse_bits(0, 1), 0);
    let mut v: Vec<usize> = (0..16).collect();
    bit_reversal_permutation(&mut v);
    assert_eq!(v[1], 8);
    bit_reversal_permutation(&mut v);
    assert_eq!(v, (0..16).collect::<Vec<_>>());
}

#[test]
fn extend_and_coefficients_match_naive_evaluation() {
    for (n, cells) in [(4, 2), (16, 8), (64, 16), (256, 32)] {
        let code = CellCode::<Fr>::new(n, cells).unwrap();
        let coeffs = random_poly(n, n as u64);
        let blob = naive_evals_brp(&coeffs, n);
        assert_eq!(code.coefficients(&blob).unwrap(), coeffs);
        let ext = naive_evals_brp(&coeffs, 2 * n);
        assert_eq!(code.extend(&blob).unwrap(), ext);
        assert_eq!(code.extend_coefficients(&coeffs).unwrap(), ext);
        assert_eq!(code.odd_half(&coeffs).unwrap(), &ext[n..]);
        assert_eq!(&ext[..n], &blob[..], "the extension starts with the blob");
        assert!(
            code.odd_half(&coeffs[1..]).is_err(),
            "a short polynomial is refused"
        );
    }
}

#[test]
fn vanishing_polynomial_vanishes_at_its_roots() {
    let roots = random_poly(9, 3);
    let z = vanishing_polynomial(&roots);
    assert_eq!(z.len(), 10);
    assert_eq!(z[9], Fr::from(1u64));
    for r in &roots {
        assert!(horner(&z, *r).is_zero());
    }
    assert!(!horner(&z, Fr::from(12345u64)).is_zero());
}

#[test]
fn recovers_from_every_half_or_more_on_a_reduced_size() {
    let (n, cells) = (16, 8);
    let code = CellCode::<Fr>::new(n, cells).unwrap();
    let coeffs = random_poly(n, 77);
    let ext = naive_evals_brp(&coeffs, 2 * n);
    let cl = code.cell_len();
    let mut patterns = 0;
    for mask in 0u32..(1 << cells) {
        let given: Vec<(u64, &[Fr])> = (0..cells)
            .filter(|i| mask >> i & 1 == 1)
            .map(|i| (i as u64, &ext[i * cl..(i + 1) * cl]))
            .collect();
        let got = code.recover_coefficients(&given);
        if given.len() * 2 >= cells {
            assert_eq!(got.unwrap(), coeffs, "mask {mask:08b}");
            assert_eq!(code.recover(&given).unwrap(), ext);
            patterns += 1;
        } else {
            assert!(
                matches!(got, Err(ErasureError::NotEnoughCells { .. })),
                "mask {mask:08b}"
            );
        }
    }
    assert_eq!(patterns, 163);
}

#[test]
fn recovers_eip7594_sized_blobs() {
    let code = CellCode::<Fr>::new(4096, 128).unwrap();
    let coeffs = random_poly(4096, 5);
    let ext = code.extend_coefficients(&coeffs).unwrap();
    let cell = |i: usize| (i as u64, &ext[i * 64..(i + 1) * 64]);
    let patterns: [Vec<usize>; 4] = [
        (0..64).collect(),
        (64..128).collect(),
        (0..128).step_by(2).collect(),
        (0..128).filter(|i| (i * 37) % 128 < 64).rev().collect(),
    ];
    for p in patterns {
        let given: Vec<_> = p.iter().map(|&i| cell(i)).collect();
        assert_eq!(code.recover_coefficients(&given).unwrap(), coeffs);
    }
}

#[test]
fn bad_cells_give_typed_errors() {
    let code = CellCode::<Fr>::new(16, 8).unwrap();
    let coeffs = random_poly(16, 9);
    let ext = code.extend_coefficients(&coeffs).unwrap();
    let cell = |i: usize| (i as u64, &ext[i * 4..(i + 1) * 4]);
    let four: Vec<_> = (0..4).map(cell).collect();
    let mut dup = four.clone();
    dup[3] = cell(0);
    assert!(matches!(
        code.recover(&dup),
        Err(ErasureError::DuplicateCell { index: 0 })
    ));
    let mut out = four.clone();
    out[1].0 = 8;
    assert!(matches!(
        code.recover(&out),
        Err(ErasureError::CellIndexOutOfRange { index: 8, count: 8 })
    ));
    out[1].0 = u64::MAX;
    assert!(matches!(
        code.recover(&out),
        Err(ErasureError::CellIndexOutOfRange { .. })
    ));
    let mut short = four.clone();
    short[2].1 = &ext[0..3];
    assert!(matches!(
        code.recover(&short),
        Err(ErasureError::WrongLength { what: "cell", .. })
    ));
    assert!(matches!(
        code.recover(&four[..3]),
        Err(ErasureError::NotEnoughCells { have: 3, need: 4 })
    ));
    // More than half, one cell altered: not one polynomial of degree < n.
    let mut altered: Vec<Vec<Fr>> = (0..6).map(|i| ext[i * 4..(i + 1) * 4].to_vec()).collect();
    altered[5][0] += Fr::from(1u64);
    let given: Vec<_> = altered
        .iter()
        .enumerate()
        .map(|(i, c)| (i as u64, &c[..]))
        .collect();
    assert!(matches!(code.recover(&given), Err(ErasureError::InvalidShape(_))));
    assert!(matches!(
        code.coefficients(&ext[..15]),
        Err(ErasureError::WrongLength { .. })
    ));
    assert!(CellCode::<Fr>::new(12, 4).is_err());
    assert!(CellCode::<Fr>::new(16, 64).is_err());
}
