//! Multi-scalar multiplication over fixed bases with precomputed tables.
//!
//! The setup points never change, so each base `P_i` is stored with its
//! shifts `2^(c*j) * P_i` for every `c`-bit window `j`. An MSM then needs no
//! doublings at all: every (base, window) pair drops its signed digit into
//! one shared set of `2^(c-1)` buckets, which are summed once at the end.
//! For `n` bases that is about `n * 256 / c + 2^c` mixed additions, against
//! Pippenger's `256 / c * (n + 2^c)` plus 256 doublings.

use ark_bls12_381::{Fr, G1Affine, G1Projective};
use ark_ec::{AdditiveGroup, AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{BigInteger256, PrimeField, Zero};
use rayon::prelude::*;

/// Scalars are below 2^255.
const SCALAR_BITS: u32 = 255;

/// Tables for MSMs over one fixed list of bases.
#[derive(Clone, Debug)]
pub(crate) struct FixedBaseMsm {
    window: u32,
    windows: usize,
    /// `table[i * windows + j] = 2^(window * j) * base_i`.
    table: Vec<G1Affine>,
}

impl FixedBaseMsm {
    /// Precomputes the tables for `bases` with `window`-bit digits (2..=20).
    pub(crate) fn new(bases: &[G1Affine], window: u32) -> Self {
        debug_assert!((2..=20).contains(&window));
        // Digits are signed and may carry into one window past the top bit.
        let windows = (SCALAR_BITS + 1).div_ceil(window) as usize;
        let projective: Vec<G1Projective> = bases
            .par_iter()
            .flat_map_iter(|base| {
                let mut cur = base.into_group();
                (0..windows).map(move |_| {
                    let out = cur;
                    for _ in 0..window {
                        cur.double_in_place();
                    }
                    out
                })
            })
            .collect();
        let table = G1Projective::normalize_batch(&projective);
        Self {
            window,
            windows,
            table,
        }
    }

    /// Bytes the tables take in memory.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.table.len() * std::mem::size_of::<G1Affine>()
    }

    /// Signed `window`-bit digits of `s`, least significant first, each in
    /// `-(2^(w-1) - 1)..=2^(w-1)`.
    fn digits(&self, s: &BigInteger256, out: &mut Vec<i32>) {
        out.clear();
        let w = self.window;
        let half = 1i64 << (w - 1);
        let mut carry = 0i64;
        for j in 0..self.windows {
            let bit = j as u32 * w;
            let mut v = if bit < 256 {
                let limb = (bit / 64) as usize;
                let shift = bit % 64;
                let mut x = s.0[limb] >> shift;
                if shift + w > 64 && limb + 1 < 4 {
                    x |= s.0[limb + 1] << (64 - shift);
                }
                (x & ((1u64 << w) - 1)) as i64
            } else {
                0
            };
            v += carry;
            carry = 0;
            if v > half {
                v -= 1 << w;
                carry = 1;
            }
            out.push(v as i32);
        }
        debug_assert_eq!(carry, 0);
    }

    /// `sum scalars[i] * base_i` for the first `scalars.len()` bases,
    /// split over rayon's threads.
    pub(crate) fn msm(&self, scalars: &[Fr]) -> G1Projective {
        let n = scalars.len().min(self.table.len() / self.windows);
        let threads = rayon::current_num_threads().max(1);
        let chunk = n.div_ceil(threads).max(1);
        (0..n)
            .step_by(chunk)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|lo| self.msm_range(scalars, lo, (lo + chunk).min(n)))
            .sum()
    }

    fn msm_range(&self, scalars: &[Fr], lo: usize, hi: usize) -> G1Projective {
        let mut buckets = vec![G1Projective::zero(); 1 << (self.window - 1)];
        let mut digits = Vec::with_capacity(self.windows);
        for (i, s) in scalars.iter().enumerate().take(hi).skip(lo) {
            self.digits(&s.into_bigint(), &mut digits);
            let row = &self.table[i * self.windows..(i + 1) * self.windows];
            for (d, p) in digits.iter().zip(row) {
                match d.cmp(&0) {
                    std::cmp::Ordering::Greater => buckets[(*d - 1) as usize] += p,
                    std::cmp::Ordering::Less => buckets[(-*d - 1) as usize] -= p,
                    std::cmp::Ordering::Equal => {}
                }
            }
        }
        // sum_b (b + 1) * bucket_b, by running sums from the top bucket down.
        let mut running = G1Projective::zero();
        let mut acc = G1Projective::zero();
        for b in buckets.iter().rev() {
            running += b;
            acc += running;
        }
        acc
    }
}

/// An MSM over `bases` with or without precomputed tables.
#[derive(Clone, Debug)]
pub(crate) enum G1Msm {
    /// Pippenger over the affine bases (no extra memory).
    Plain(Vec<G1Affine>),
    /// Fixed-base tables.
    Tables(FixedBaseMsm),
}

impl G1Msm {
    pub(crate) fn new(bases: Vec<G1Affine>, window: Option<u32>) -> Self {
        match window {
            Some(w) => Self::Tables(FixedBaseMsm::new(&bases, w)),
            None => Self::Plain(bases),
        }
    }

    pub(crate) fn msm(&self, scalars: &[Fr]) -> G1Projective {
        match self {
            Self::Plain(bases) => G1Projective::msm_unchecked(&bases[..scalars.len()], scalars),
            Self::Tables(t) => t.msm(scalars),
        }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        match self {
            Self::Plain(_) => 0,
            Self::Tables(t) => t.memory_bytes(),
        }
    }
}
