//! FFT over G1 points with scalars in Fr, for FK20.
//!
//! Every butterfly costs a scalar multiplication (~80 us), so this skips
//! the unit twiddles (127 of the 448 in a size-128 FFT), leaves the `1/n`
//! of the inverse to the caller (who folds it into field elements), and
//! runs each layer's butterflies on rayon's threads.

use ark_bls12_381::{Fr, G1Projective};
use ark_ff::{Field, One};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use rayon::prelude::*;
use zg_erasure::field::bit_reversal_permutation;

/// Twiddles for one power-of-two size.
#[derive(Clone, Debug)]
pub(crate) struct G1Fft {
    /// `w^i` for `i < n/2`.
    forward: Vec<Fr>,
    /// `w^-i` for `i < n/2`.
    inverse: Vec<Fr>,
}

impl G1Fft {
    pub(crate) fn new(domain: &Radix2EvaluationDomain<Fr>) -> Self {
        let n = domain.size();
        let powers = |w: Fr| {
            let mut v = Vec::with_capacity(n / 2);
            let mut acc = Fr::one();
            for _ in 0..n / 2 {
                v.push(acc);
                acc *= w;
            }
            v
        };
        Self {
            forward: powers(domain.group_gen()),
            inverse: powers(domain.group_gen().inverse().unwrap_or_default()),
        }
    }

    /// `a[j] <- sum_i a[i] w^(ij)` (or `w^-(ij)` when `inverse`), unscaled.
    pub(crate) fn transform(&self, a: &mut [G1Projective], inverse: bool) {
        let n = a.len();
        debug_assert_eq!(n, 2 * self.forward.len());
        let tw = if inverse { &self.inverse } else { &self.forward };
        bit_reversal_permutation(a);
        let threads = rayon::current_num_threads();
        let mut len = 2;
        while len <= n {
            let half = len / 2;
            let step = n / len;
            let butterfly = |j: usize, lo: &mut G1Projective, hi: &mut G1Projective| {
                let t = if j == 0 { *hi } else { *hi * tw[j * step] };
                *hi = *lo - t;
                *lo += t;
            };
            if n / len >= 2 * threads {
                // Many small blocks: one block per task.
                a.par_chunks_mut(len).for_each(|block| {
                    let (lo, hi) = block.split_at_mut(half);
                    for (j, (l, h)) in lo.iter_mut().zip(hi.iter_mut()).enumerate() {
                        butterfly(j, l, h);
                    }
                });
            } else {
                // Few large blocks: split each block's butterflies.
                for block in a.chunks_mut(len) {
                    let (lo, hi) = block.split_at_mut(half);
                    lo.par_iter_mut()
                        .zip(hi.par_iter_mut())
                        .enumerate()
                        .for_each(|(j, (l, h))| butterfly(j, l, h));
                }
            }
            len *= 2;
        }
    }
}
