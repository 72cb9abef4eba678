//! FK20: all 128 cell proofs of a blob in `O(n log n)`, not 128 openings.
//!
//! The proof for the cell on coset `h * <w_64>` commits to `f / (X^64 - h^64)`.
//! Writing `f_{64a+b}` for the coefficients, that commitment is
//! `sum_m (h^64)^m H_m` with
//! `H_m = sum_b sum_{t <= k-2-m} f_{64(t+m+1)+b} [tau^(b+64t)]`, `k = n / 64`.
//! For each offset `b` the `H_m` are a Toeplitz product, done as a circulant
//! product of size `2k` by FFT; the FFTs of the setup side are precomputed
//! (one column of `2k` points per offset). The `h^64` of the 128 cells are
//! the 128th roots of unity, so a final G1 FFT gives every proof at once.

use ark_bls12_381::{Fr, G1Affine, G1Projective};
use ark_ec::CurveGroup;
use ark_ff::Zero;
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use rayon::prelude::*;
use zg_erasure::field::bit_reversal_permutation;

use crate::msm::G1Msm;

/// Precomputed FK20 data for one setup and cell size.
#[derive(Clone, Debug)]
pub(crate) struct Fk20 {
    /// Polynomial length n.
    n: usize,
    /// Elements per cell (the coset size l).
    l: usize,
    /// Row `r` holds, for every offset `b`, the r-th FFT value of that offset's setup column.
    rows: Vec<G1Msm>,
    /// Size-2k domain (2k = number of cells).
    domain: Radix2EvaluationDomain<Fr>,
}

impl Fk20 {
    /// Precomputes the setup side from `[tau^i]G1` (i < n).
    pub(crate) fn new(g1_monomial: &[G1Affine], l: usize, window: Option<u32>) -> Self {
        let n = g1_monomial.len();
        let k = n / l;
        let domain = Radix2EvaluationDomain::<Fr>::new(2 * k)
            .expect("2k is a power of two within the field's 2-adicity");
        // Column b: x_u = [tau^(b + l(k-1-u))] for u < k, zero above; FFT of size 2k.
        let columns: Vec<Vec<G1Projective>> = (0..l)
            .into_par_iter()
            .map(|b| {
                let mut x: Vec<G1Projective> = (0..2 * k)
                    .map(|u| {
                        if u < k {
                            g1_monomial[b + l * (k - 1 - u)].into()
                        } else {
                            G1Projective::zero()
                        }
                    })
                    .collect();
                domain.fft_in_place(&mut x);
                x
            })
            .collect();
        let rows = (0..2 * k)
            .into_par_iter()
            .map(|r| {
                let row: Vec<G1Projective> = columns.iter().map(|c| c[r]).collect();
                G1Msm::new(G1Projective::normalize_batch(&row), window)
            })
            .collect();
        Self { n, l, rows, domain }
    }

    /// Bytes of precomputed tables.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.rows.iter().map(G1Msm::memory_bytes).sum()
    }

    /// The 2k cell proofs of the polynomial with `coeffs` (length n), in cell order.
    pub(crate) fn proofs(&self, coeffs: &[Fr]) -> Vec<G1Affine> {
        let (n, l) = (self.n, self.l);
        let k = n / l;
        debug_assert_eq!(coeffs.len(), n);
        // Per offset b, the circulant's first column: a_{2k-j} = f_{l(k-j)+b}, j in 1..k.
        let spectra: Vec<Vec<Fr>> = (0..l)
            .into_par_iter()
            .map(|b| {
                let mut a = vec![Fr::zero(); 2 * k];
                for j in 1..k {
                    a[2 * k - j] = coeffs[l * (k - j) + b];
                }
                self.domain.fft_in_place(&mut a);
                a
            })
            .collect();
        // In the frequency domain the circulant product is pointwise; summed over b it is one MSM per row.
        let mut h: Vec<G1Projective> = self
            .rows
            .par_iter()
            .enumerate()
            .map(|(r, row)| {
                let scalars: Vec<Fr> = spectra.iter().map(|s| s[r]).collect();
                row.msm(&scalars)
            })
            .collect();
        self.domain.ifft_in_place(&mut h);
        for x in &mut h[k..] {
            *x = G1Projective::zero();
        }
        // Evaluate sum_m H_m Y^m at every 2k-th root: the proofs, in natural order of h^64.
        self.domain.fft_in_place(&mut h);
        bit_reversal_permutation(&mut h);
        G1Projective::normalize_batch(&h)
    }
}
