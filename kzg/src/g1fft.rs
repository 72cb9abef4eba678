//! FFT over G1 points with scalars in Fr, for FK20.
//!
//! Every butterfly costs a scalar multiplication, so this skips
//! the unit twiddles (127 of the 448 in a size-128 FFT), leaves the `1/n`
//! of the inverse to the caller (who folds it into field elements), and
//! runs each layer's multiplications together ([`mul_many`]: in lockstep
//! on affine points with shared inversions, or Jacobian chains for a few),
//! split over rayon's threads. Several transforms of one size run as one,
//! so that their layers make larger batches.

use ark_bls12_381::Fr;
use ark_ff::{Field, One};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use rayon::prelude::*;
use zg_erasure::field::bit_reversal_permutation;

use crate::batch_affine::{Affine, AffineAdder, mul_many, neg};
use crate::blst_ops::GlvDigits;

/// Twiddles for one power-of-two size.
#[derive(Clone, Debug)]
pub(crate) struct G1Fft {
    /// `w^i` for `i < n/2`.
    forward: Vec<GlvDigits>,
    /// `w^-i` for `i < n/2`.
    inverse: Vec<GlvDigits>,
}

impl G1Fft {
    pub(crate) fn new(domain: &Radix2EvaluationDomain<Fr>) -> Self {
        let n = domain.size();
        let powers = |w: Fr| {
            let mut v = Vec::with_capacity(n / 2);
            let mut acc = Fr::one();
            for _ in 0..n / 2 {
                v.push(GlvDigits::new(&acc));
                acc *= w;
            }
            v
        };
        Self {
            forward: powers(domain.group_gen()),
            inverse: powers(domain.group_gen().inverse().unwrap_or_default()),
        }
    }

    /// `a[j] <- sum_i a[i] w^(ij)` (or `w^-(ij)` when `inverse`), unscaled,
    /// for each run of `n` points of `a`: several transforms in lockstep share
    /// each layer's inversions.
    pub(crate) fn transform(&self, a: &mut [Affine], inverse: bool) {
        let n = 2 * self.forward.len();
        debug_assert_eq!(a.len() % n, 0);
        let tw = if inverse { &self.inverse } else { &self.forward };
        for run in a.chunks_exact_mut(n) {
            bit_reversal_permutation(run);
        }
        let threads = rayon::current_num_threads().max(1);
        let mut adder = AffineAdder::default();
        let mut twiddled = a.to_vec();
        let mut len = 2;
        while len <= n {
            let (half, step) = (len / 2, n / len);
            // Every hi with a twiddle other than 1, multiplied in lockstep.
            let (hi, scalars): (Vec<usize>, Vec<&GlvDigits>) = (0..a.len())
                .step_by(len)
                .flat_map(|block| (1..half).map(move |j| (block + half + j, &tw[j * step])))
                .unzip();
            let points: Vec<Affine> = hi.iter().map(|&i| a[i]).collect();
            let chunk = points.len().div_ceil(threads).max(1);
            let products: Vec<Affine> = points
                .par_chunks(chunk)
                .zip(scalars.par_chunks(chunk))
                .flat_map_iter(|(p, s)| mul_many(p, s))
                .collect();
            twiddled.copy_from_slice(a);
            for (&i, p) in hi.iter().zip(&products) {
                twiddled[i] = *p;
            }
            // Butterflies: (lo, hi) <- (lo + t, lo - t).
            for block in (0..a.len()).step_by(len) {
                for lo in block..block + half {
                    let t = &twiddled[lo + half];
                    a[lo + half] = a[lo];
                    adder.push(a, lo, t);
                    adder.push(a, lo + half, &neg(t));
                }
            }
            adder.flush(a);
            len *= 2;
        }
    }
}
