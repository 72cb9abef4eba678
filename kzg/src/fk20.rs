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

use ark_bls12_381::{Fr, G1Affine};
use ark_ff::{Field, Zero};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use rayon::prelude::*;
use zg_erasure::field::bit_reversal_permutation;

use crate::batch_affine::Affine;
use crate::block_tables::{BlockShape, BlockTables, LazyBlockTables, msm_many};
use crate::blst_ops::{from_affine, g1_ops, to_affine, to_jacobian};
use crate::g1fft::G1Fft;

/// Precomputed FK20 data for one setup and cell size.
#[derive(Debug)]
pub(crate) struct Fk20 {
    /// Polynomial length n.
    n: usize,
    /// Elements per cell (the coset size l).
    l: usize,
    /// Row `r` holds, for every offset `b`, the r-th FFT value of that
    /// offset's setup column (with its tables, or Pippenger's method).
    rows: Vec<LazyBlockTables>,
    /// Size-2k domain (2k = number of cells).
    domain: Radix2EvaluationDomain<Fr>,
    fft: G1Fft,
}

/// The setup side of FK20 from `[tau^i]G1` (i < n): for each offset `b`,
/// the FFT of `x_u = [tau^(b + l(k-1-u))]` (u < k, zero above), as rows:
/// `rows[r][b]`. Deterministic in the setup, so the mainnet one is embedded.
pub(crate) fn setup_rows(g1_monomial: &[G1Affine], l: usize) -> Vec<Vec<G1Affine>> {
    let n = g1_monomial.len();
    let k = n / l;
    let domain =
        Radix2EvaluationDomain::<Fr>::new(2 * k).expect("2k is a power of two within the field's 2-adicity");
    let fft = G1Fft::new(&domain);
    let columns: Vec<Vec<Affine>> = (0..l)
        .into_par_iter()
        .map(|b| {
            let mut x: Vec<Affine> = (0..2 * k)
                .map(|u| {
                    if u < k {
                        to_affine(&g1_monomial[b + l * (k - 1 - u)])
                    } else {
                        Affine::default()
                    }
                })
                .collect();
            fft.transform(&mut x, false);
            x
        })
        .collect();
    (0..2 * k)
        .map(|r| columns.iter().map(|c| from_affine(&c[r])).collect())
        .collect()
}

impl Fk20 {
    /// FK20 over precomputed setup rows (see [`setup_rows`]).
    pub(crate) fn new(rows: Vec<Vec<G1Affine>>, n: usize, l: usize, shape: Option<BlockShape>) -> Self {
        let domain = Radix2EvaluationDomain::<Fr>::new(rows.len()).expect("2k is a power of two");
        let fft = G1Fft::new(&domain);
        Self {
            n,
            l,
            rows: rows.into_iter().map(|r| LazyBlockTables::new(r, shape)).collect(),
            domain,
            fft,
        }
    }

    /// Builds every row's tables now instead of on first use.
    pub(crate) fn build_tables(&self) {
        for row in &self.rows {
            let _tables = row.tables();
        }
    }

    /// The 2k cell proofs of each polynomial (coefficients, length n), in
    /// cell order. Several polynomials go in lockstep: each row's table is
    /// read for all of them at once, and the G1 FFTs' layers share their
    /// inversions (bigger batches, cheaper points).
    pub(crate) fn proofs(&self, polys: &[&[Fr]]) -> Vec<Vec<G1Affine>> {
        let (k, count) = (self.n / self.l, polys.len());
        let row_scalars: Vec<Vec<Vec<Fr>>> = polys.par_iter().map(|c| self.row_scalars(c)).collect();
        let tables: Option<Vec<&BlockTables>> = self.rows.iter().map(LazyBlockTables::tables).collect();
        // h of polynomial p at h[p * 2k + r].
        let mut h: Vec<Affine> = match tables {
            // All rows' additions batched together, row by row over the polynomials.
            Some(tables) => {
                let (tables, scalars): (Vec<&BlockTables>, Vec<&[Fr]>) = tables
                    .iter()
                    .enumerate()
                    .flat_map(|(r, t)| row_scalars.iter().map(move |s| (*t, s[r].as_slice())))
                    .unzip();
                let by_row = msm_many(&tables, &scalars);
                (0..count * 2 * k)
                    .map(|i| by_row[(i % (2 * k)) * count + i / (2 * k)])
                    .collect()
            }
            None => {
                let msms: Vec<(&LazyBlockTables, &Vec<Fr>)> = row_scalars
                    .iter()
                    .flat_map(|rs| self.rows.iter().zip(rs))
                    .collect();
                let sums: Vec<blst::blst_p1> =
                    msms.par_iter().map(|(row, s)| to_jacobian(&row.msm(s))).collect();
                g1_ops::batch_to_affine(&sums)
            }
        };
        self.fft.transform(&mut h, true);
        for run in h.chunks_exact_mut(2 * k) {
            for x in &mut run[k..] {
                *x = Affine::default();
            }
        }
        // Evaluate sum_m H_m Y^m at every 2k-th root: the proofs, in natural order of h^64.
        self.fft.transform(&mut h, false);
        h.chunks_exact_mut(2 * k)
            .map(|run| {
                bit_reversal_permutation(run);
                run.iter().map(from_affine).collect()
            })
            .collect()
    }

    /// The rows, for the bench's old path and the tests.
    #[cfg(any(test, feature = "bench-legacy"))]
    pub(crate) fn rows(&self) -> &[LazyBlockTables] {
        &self.rows
    }

    /// Each row's MSM scalars: the circulants' spectra, one entry per offset.
    pub(crate) fn row_scalars(&self, coeffs: &[Fr]) -> Vec<Vec<Fr>> {
        let (n, l) = (self.n, self.l);
        let k = n / l;
        debug_assert_eq!(coeffs.len(), n);
        // The inverse FFT's 1/2k, applied here to field elements instead of points.
        let inv_2k = Fr::from(2 * k as u64).inverse().unwrap_or_default();
        // Per offset b, the circulant's first column: a_{2k-j} = f_{l(k-j)+b}, j in 1..k.
        let spectra: Vec<Vec<Fr>> = (0..l)
            .into_par_iter()
            .map(|b| {
                let mut a = vec![Fr::zero(); 2 * k];
                for j in 1..k {
                    a[2 * k - j] = coeffs[l * (k - j) + b] * inv_2k;
                }
                self.domain.fft_in_place(&mut a);
                a
            })
            .collect();
        // In the frequency domain the circulant product is pointwise; summed over b it is one MSM per row.
        (0..2 * k)
            .map(|r| spectra.iter().map(|s| s[r]).collect())
            .collect()
    }
}
