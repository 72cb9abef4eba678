//! Variable-base MSMs for verifiers: several sums over the same points
//! (cell verification's `sum r^k proof_k` and `sum r^k h_k^64 proof_k`) in
//! one bucket pass. Each scalar splits into two 128-bit halves by the
//! endomorphism (GLV), the halves into signed radix-2^c digits, and every
//! bucket addition of every sum and window is a batched affine one (one
//! inversion per batch), where blst's Pippenger pays a Jacobian addition
//! per point and window over 255-bit scalars.

use ark_bls12_381::{Fr, G1Affine, G1Projective};
use ark_ff::PrimeField;
use blst::{blst_fp, blst_p1};
use rayon::prelude::*;

use crate::batch_affine::{Affine, AffineAdder, neg};
use crate::blst_ops::{MIN_POINTS_PER_THREAD, fp_ops, from_projective, g1_ops, share_len, to_affine};

/// `z^2` for BLS12-381's `z = -0xd201000000010000`: the endomorphism
/// `(x, y) -> (beta x, y)` multiplies G1 by `-z^2` (arkworks' `LAMBDA`).
const Z2: u128 = 0xac45_a401_0001_a402_0000_0001_0000_0000;
/// `floor(2^256 / z^2)`, for Barrett division by `z^2`.
const Z2_RECIPROCAL: [u64; 3] = [0x63f6_e522_f6cf_ee2e, 0x7c6b_ecf1_e01f_aadd, 1];

/// `s = k1 + k2 z^2` with `0 <= k1 < z^2` and `0 <= k2 < z^2` (both below
/// 2^128, as `s < r < z^4`): `s P = k1 P + k2 (-phi(P))`.
fn split(s: &Fr) -> (u128, u128) {
    let limbs = s.into_bigint().0;
    // q = floor(s * floor(2^256 / z^2) / 2^256), at most 2 below s / z^2.
    let mut product = [0u64; 7];
    for (i, &a) in limbs.iter().enumerate() {
        let mut carry = 0u128;
        for (j, &b) in Z2_RECIPROCAL.iter().enumerate() {
            let t = u128::from(a) * u128::from(b) + u128::from(product[i + j]) + carry;
            product[i + j] = t as u64;
            carry = t >> 64;
        }
        product[i + 3] = carry as u64;
    }
    let mut q = u128::from(product[4]) | u128::from(product[5]) << 64;
    let (qz_lo, qz_hi) = mul_wide(q, Z2);
    let s_lo = u128::from(limbs[0]) | u128::from(limbs[1]) << 64;
    let s_hi = u128::from(limbs[2]) | u128::from(limbs[3]) << 64;
    let (mut rem_lo, borrow) = s_lo.overflowing_sub(qz_lo);
    let mut rem_hi = s_hi.wrapping_sub(qz_hi).wrapping_sub(u128::from(borrow));
    for _ in 0..2 {
        if rem_hi != 0 || rem_lo >= Z2 {
            let (lo, borrow) = rem_lo.overflowing_sub(Z2);
            rem_lo = lo;
            rem_hi = rem_hi.wrapping_sub(u128::from(borrow));
            q += 1;
        }
    }
    debug_assert!(rem_hi == 0 && rem_lo < Z2);
    (rem_lo, q)
}

/// The 256-bit product `a * b` as (low, high) halves.
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    let (a0, a1) = (u128::from(a as u64), a >> 64);
    let (b0, b1) = (u128::from(b as u64), b >> 64);
    let (lo, mid1, mid2, hi) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    let (mid, carry_mid) = mid1.overflowing_add(mid2);
    let (low, carry_low) = lo.overflowing_add(mid << 64);
    let high = hi + (mid >> 64) + (u128::from(carry_mid) << 64) + u128::from(carry_low);
    (low, high)
}

/// Signed radix-`2^c` digits of `k < 2^128`, each in `[-2^(c-1), 2^(c-1)]`,
/// least significant first, into `out` (`128 / c + 1` of them).
fn signed_digits(mut k: u128, c: usize, out: &mut [i16]) {
    let (mask, half) = ((1u128 << c) - 1, 1i16 << (c - 1));
    let mut carry = 0i16;
    for d in out.iter_mut() {
        let v = (k & mask) as i16 + carry;
        k >>= c;
        carry = i16::from(v > half);
        *d = v - (carry << c);
    }
    debug_assert_eq!((k, carry), (0, 0));
}

/// Window width for `bases` points per sum (measured on 256: 5 and 6 tie).
fn window_bits(bases: usize) -> usize {
    match bases {
        0..32 => 3,
        32..128 => 4,
        128..1024 => 5,
        _ => 6,
    }
}

/// Additions queued on an [`AffineAdder`] at most once per slot and flush:
/// one that lands on a slot already waiting goes to the next batch.
struct Scheduler {
    adder: AffineAdder,
    waiting: Vec<bool>,
    queued: Vec<u32>,
    later: Vec<(u32, Affine)>,
}

/// Additions per shared inversion (about 130 multiplications).
const BATCH: usize = 256;

impl Scheduler {
    fn new(slots: usize) -> Self {
        Self {
            adder: AffineAdder::default(),
            waiting: vec![false; slots],
            queued: Vec::with_capacity(BATCH),
            later: Vec::new(),
        }
    }

    fn add(&mut self, accs: &mut [Affine], slot: u32, p: &Affine) {
        if self.waiting[slot as usize] {
            self.later.push((slot, *p));
            return;
        }
        self.waiting[slot as usize] = true;
        self.queued.push(slot);
        self.adder.push(accs, slot as usize, p);
        if self.queued.len() == BATCH {
            self.flush(accs);
        }
    }

    fn flush(&mut self, accs: &mut [Affine]) {
        self.adder.flush(accs);
        for slot in self.queued.drain(..) {
            self.waiting[slot as usize] = false;
        }
    }

    /// Performs every addition, the deferred ones included.
    fn finish(&mut self, accs: &mut [Affine]) {
        self.flush(accs);
        while !self.later.is_empty() {
            for (slot, p) in std::mem::take(&mut self.later) {
                self.add(accs, slot, &p);
            }
            self.flush(accs);
        }
    }
}

/// `sum_i sets[j][i] * points[i]` for each `j`, split over rayon's threads
/// in chunks of at least [`MIN_POINTS_PER_THREAD`] points.
pub(crate) fn msms(points: &[G1Affine], sets: &[&[Fr]]) -> Vec<G1Projective> {
    let n = points.len();
    let chunk = share_len(n, MIN_POINTS_PER_THREAD);
    (0..n.div_ceil(chunk))
        .into_par_iter()
        .map(|t| {
            let range = t * chunk..((t + 1) * chunk).min(n);
            let affine: Vec<Affine> = points[range.clone()].iter().map(to_affine).collect();
            let parts: Vec<&[Fr]> = sets.iter().map(|s| &s[range.clone()]).collect();
            msm_same_bases(&affine, &parts)
        })
        .reduce(
            || vec![blst_p1::default(); sets.len()],
            |a, b| a.iter().zip(&b).map(|(x, y)| g1_ops::add(x, y)).collect(),
        )
        .iter()
        .map(from_projective)
        .collect()
}

/// `sum_i sets[j][i] * points[i]` for each `j`, on one thread.
fn msm_same_bases(points: &[Affine], sets: &[&[Fr]]) -> Vec<blst_p1> {
    let n = points.len();
    debug_assert!(sets.iter().all(|s| s.len() == n));
    let c = window_bits(2 * n);
    let windows = 128 / c + 1;
    let buckets_per_window = 1usize << (c - 1);
    // Bases: the points, then -phi of each (the second half's base).
    let beta = g1_ops::beta();
    let mut bases = Vec::with_capacity(2 * n);
    bases.extend_from_slice(points);
    bases.extend(points.iter().map(|p| {
        let mut x = blst_fp::default();
        fp_ops::mul_to(&mut x, &p.x, &beta);
        neg(&Affine { x, y: p.y })
    }));
    // digits[(j * 2n + base) * windows + w]
    let mut digits = vec![0i16; sets.len() * 2 * n * windows];
    for (j, set) in sets.iter().enumerate() {
        for (i, s) in set.iter().enumerate() {
            let (k1, k2) = split(s);
            let at = |b: usize| (j * 2 * n + b) * windows;
            signed_digits(k1, c, &mut digits[at(i)..at(i) + windows]);
            signed_digits(k2, c, &mut digits[at(n + i)..at(n + i) + windows]);
        }
    }
    // Bucket (j, w, |d| - 1) of sum j and window w gathers sign(d) * base.
    let groups = sets.len() * windows;
    let mut buckets = vec![Affine::default(); groups * buckets_per_window];
    let mut scheduler = Scheduler::new(buckets.len());
    for (b, base) in bases.iter().enumerate() {
        let negated = neg(base);
        for j in 0..sets.len() {
            let row = &digits[(j * 2 * n + b) * windows..][..windows];
            for (w, &d) in row.iter().enumerate() {
                if d != 0 {
                    let slot =
                        ((j * windows + w) * buckets_per_window) as u32 + u32::from(d.unsigned_abs()) - 1;
                    scheduler.add(&mut buckets, slot, if d > 0 { base } else { &negated });
                }
            }
        }
    }
    scheduler.finish(&mut buckets);
    // Each group's sum of (k + 1) bucket_k by running sums, every group in lockstep.
    let mut running = vec![Affine::default(); groups];
    let mut total = vec![Affine::default(); groups];
    let mut adder = AffineAdder::default();
    for k in (0..buckets_per_window).rev() {
        for g in 0..groups {
            adder.push(&mut running, g, &buckets[g * buckets_per_window + k]);
        }
        adder.flush(&mut running);
        for (g, sum) in running.iter().enumerate() {
            adder.push(&mut total, g, sum);
        }
        adder.flush(&mut total);
    }
    // Windows, most significant first, 2^c apart.
    total
        .chunks_exact(windows)
        .map(|window_sums| {
            let mut acc = blst_p1::default();
            for (w, sum) in window_sums.iter().enumerate().rev() {
                if w + 1 < windows {
                    for _ in 0..c {
                        acc = g1_ops::double(&acc);
                    }
                }
                acc = g1_ops::add_affine(&acc, sum);
            }
            acc
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use ark_ec::{CurveGroup, VariableBaseMSM};
    use ark_ff::{One, Zero};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::blst_ops::tests::{random_fr, random_g1};

    #[test]
    fn the_split_recombines_with_halves_below_2_to_128() {
        let z = 0xd201_0000_0001_0000u128;
        assert_eq!(Z2, z * z);
        let z2 = Fr::from(Z2);
        // The endomorphism's eigenvalue is -z^2, as the split assumes.
        assert_eq!(
            -z2,
            <ark_bls12_381::g1::Config as ark_ec::scalar_mul::glv::GLVConfig>::LAMBDA
        );
        let mut rng = StdRng::seed_from_u64(31);
        let edges = [
            Fr::zero(),
            Fr::one(),
            -Fr::one(),
            z2,
            z2 - Fr::one(),
            z2 * z2,
            z2 * z2 - Fr::one(),
        ];
        for s in edges.into_iter().chain((0..5000).map(|_| random_fr(&mut rng))) {
            let (k1, k2) = split(&s);
            assert!(k1 < Z2 && k2 < Z2, "{s}");
            assert_eq!(Fr::from(k1) + Fr::from(k2) * z2, s);
        }
    }

    #[test]
    fn signed_digits_recombine() {
        for c in 3..=8 {
            for k in [
                0u128,
                1,
                (1 << 127) - 1,
                Z2 - 1,
                u128::MAX >> 1,
                0x1234_5678_9abc_def0_f0e1_d2c3_b4a5_9687,
            ] {
                let mut d = vec![0i16; 128 / c + 1];
                signed_digits(k, c, &mut d);
                assert!(d.iter().all(|x| x.unsigned_abs() <= 1 << (c - 1)));
                let back = d.iter().rev().fold(0i128, |acc, &x| {
                    acc.wrapping_shl(c as u32).wrapping_add(i128::from(x))
                });
                assert_eq!(back as u128, k, "c = {c}");
            }
        }
    }

    #[test]
    fn sums_over_shared_bases_match_arkworks() {
        let mut rng = StdRng::seed_from_u64(32);
        for n in [1usize, 2, 15, 64, 128, 300] {
            let mut points: Vec<G1Affine> = (0..n).map(|_| random_g1(&mut rng)).collect();
            let mut a: Vec<Fr> = (0..n).map(|_| random_fr(&mut rng)).collect();
            let b: Vec<Fr> = (0..n).map(|_| random_fr(&mut rng)).collect();
            if n > 4 {
                // Infinity, a repeated point (equal x in a bucket), its negation, zero and -1 scalars.
                points[0] = G1Affine::identity();
                points[2] = points[1];
                points[3] = -points[1];
                a[1] = Fr::zero();
                a[4] = -Fr::one();
            }
            let blst_points: Vec<Affine> = points.iter().map(to_affine).collect();
            let got = msm_same_bases(&blst_points, &[&a, &b, &a]);
            for (sum, scalars) in got.iter().zip([&a, &b, &a]) {
                let want = G1Projective::msm(&points, scalars).expect("equal lengths");
                assert_eq!(from_projective(sum).into_affine(), want.into_affine(), "n = {n}");
            }
        }
    }
}
