//! FFT over G1 points with scalars in Fr, for FK20.
//!
//! Every butterfly costs a scalar multiplication, so this skips
//! the unit twiddles (127 of the 448 in a size-128 FFT), leaves the `1/n`
//! of the inverse to the caller (who folds it into field elements), and
//! runs each layer's butterflies on rayon's threads.

use ark_bls12_381::{Fr, G1Projective, g1::Config as G1Config};
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ff::{BigInteger, Field, One, PrimeField};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use blst::blst_p1;
use rayon::prelude::*;
use zg_erasure::field::bit_reversal_permutation;

use crate::blst_ops::{from_projective, g1_ops, to_jacobian};

/// Width of the signed digits of the twiddles' GLV halves.
const WNAF_WIDTH: usize = 5;

/// A fixed scalar prepared for multiplying many points: its GLV split
/// `k = k1 + k2 * lambda` (two ~128-bit halves, the second applied through
/// the cheap endomorphism) and both halves as width-5 signed digits.
#[derive(Clone, Debug)]
struct FixedScalar {
    k1: Vec<i64>,
    k2: Vec<i64>,
    k1_positive: bool,
    k2_positive: bool,
}

impl FixedScalar {
    fn new(k: Fr) -> Self {
        let ((k1_positive, k1), (k2_positive, k2)) = <G1Config as GLVConfig>::scalar_decomposition(k);
        let wnaf = |x: Fr| x.into_bigint().find_wnaf(WNAF_WIDTH).unwrap_or_default();
        Self {
            k1: wnaf(k1),
            k2: wnaf(k2),
            k1_positive,
            k2_positive,
        }
    }

    /// `k * p`: about 128 doublings and 45 additions, against ark's
    /// bit-by-bit GLV (about 128 doublings and 96 additions); blst's point
    /// formulas.
    fn mul(&self, p: &blst_p1) -> blst_p1 {
        let b1 = if self.k1_positive { *p } else { g1_ops::neg(p) };
        // Odd multiples b1, 3 b1, ..., 15 b1.
        let twice = g1_ops::double(&b1);
        let mut t1 = [b1; 1 << (WNAF_WIDTH - 2)];
        for i in 1..t1.len() {
            t1[i] = g1_ops::add(&t1[i - 1], &twice);
        }
        // The same multiples of the endomorphism's image, with k2's sign.
        let flip = self.k1_positive != self.k2_positive;
        let t2 = t1.map(|q| {
            let e = g1_ops::endomorphism(&q);
            if flip { g1_ops::neg(&e) } else { e }
        });
        let mut acc = blst_p1::default();
        for i in (0..self.k1.len().max(self.k2.len())).rev() {
            acc = g1_ops::double(&acc);
            for (digits, table) in [(&self.k1, &t1), (&self.k2, &t2)] {
                match digits.get(i).copied().unwrap_or(0) {
                    0 => {}
                    d if d > 0 => acc = g1_ops::add(&acc, &table[(d as usize - 1) / 2]),
                    d => acc = g1_ops::add(&acc, &g1_ops::neg(&table[((-d) as usize - 1) / 2])),
                }
            }
        }
        acc
    }
}

/// Twiddles for one power-of-two size.
#[derive(Clone, Debug)]
pub(crate) struct G1Fft {
    /// `w^i` for `i < n/2`.
    forward: Vec<FixedScalar>,
    /// `w^-i` for `i < n/2`.
    inverse: Vec<FixedScalar>,
}

impl G1Fft {
    pub(crate) fn new(domain: &Radix2EvaluationDomain<Fr>) -> Self {
        let n = domain.size();
        let powers = |w: Fr| {
            let mut v = Vec::with_capacity(n / 2);
            let mut acc = Fr::one();
            for _ in 0..n / 2 {
                v.push(FixedScalar::new(acc));
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
    pub(crate) fn transform(&self, points: &mut [G1Projective], inverse: bool) {
        let mut a: Vec<blst_p1> = points.iter().map(to_jacobian).collect();
        let n = a.len();
        debug_assert_eq!(n, 2 * self.forward.len());
        let tw = if inverse { &self.inverse } else { &self.forward };
        bit_reversal_permutation(&mut a);
        let threads = rayon::current_num_threads();
        let mut len = 2;
        while len <= n {
            let half = len / 2;
            let step = n / len;
            let butterfly = |j: usize, lo: &mut blst_p1, hi: &mut blst_p1| {
                let t = if j == 0 { *hi } else { tw[j * step].mul(hi) };
                *hi = g1_ops::add(lo, &g1_ops::neg(&t));
                *lo = g1_ops::add(lo, &t);
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
        for (p, q) in points.iter_mut().zip(&a) {
            *p = from_projective(q);
        }
    }
}
