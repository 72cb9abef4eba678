//! Batched affine G1 arithmetic: many independent additions (or doublings)
//! share one field inversion (Montgomery's trick), so each costs 5
//! multiplications and a squaring or two, against 11 or more for a
//! Jacobian addition.
//!
//! Points are blst's affine ones, with (0, 0) as the point at infinity
//! (not on the curve `y^2 = x^3 + 4`, so never a real point).

use blst::{blst_fp, blst_p1, blst_p1_affine};

use crate::blst_ops::fp_ops::{self, ONE};
use crate::blst_ops::{GLV_WINDOW, GlvDigits, g1_ops};

/// An affine G1 point; (0, 0) is the point at infinity.
pub(crate) type Affine = blst_p1_affine;

pub(crate) fn is_infinity(p: &Affine) -> bool {
    fp_ops::is_zero(&p.x) && fp_ops::is_zero(&p.y)
}

/// `q + p` through blst's complete Jacobian formulas, for the rare pairs the
/// affine formula cannot add (equal x: a doubling or a cancellation).
fn add_complete(q: &Affine, p: &Affine) -> Affine {
    let mut j = blst_p1::default();
    let mut out = Affine::default();
    // SAFETY: valid points in and out; blst maps infinity to and from (0, 0).
    unsafe {
        blst::blst_p1_from_affine(&mut j, q);
        blst::blst_p1_add_or_double_affine(&mut j, &j, p);
        blst::blst_p1_to_affine(&mut out, &j);
    }
    out
}

/// Asks the CPU to start loading `p` (both of its cache lines): table
/// lookups land anywhere in hundreds of MiB, and waiting on each costs as
/// much as the addition it feeds.
#[inline]
pub(crate) fn prefetch(p: &Affine) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let first = std::ptr::from_ref(p).cast::<i8>();
        // SAFETY: a prefetch only hints the cache and never faults; both addresses lie in `p`.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(first);
            _mm_prefetch::<_MM_HINT_T0>(first.add(std::mem::size_of::<Affine>() - 1));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Affine form of a Jacobian point (one inversion; infinity as (0, 0)).
#[cfg(test)]
pub(crate) fn to_affine(p: &blst_p1) -> Affine {
    let mut out = Affine::default();
    // SAFETY: a valid point in, a valid output.
    unsafe { blst::blst_p1_to_affine(&mut out, p) };
    out
}

/// Jacobian form of an affine point.
pub(crate) fn to_jacobian(p: &Affine) -> blst_p1 {
    let mut out = blst_p1::default();
    // SAFETY: a valid point in, a valid output; (0, 0) becomes z = 0.
    unsafe { blst::blst_p1_from_affine(&mut out, p) };
    out
}

/// The slot bit marking a queued subtraction.
const MINUS: u32 = 1 << 31;

/// Additions `accs[slot] += p` queued until [`AffineAdder::flush`], which
/// performs them all with one inversion.
#[derive(Debug, Default)]
pub(crate) struct AffineAdder {
    slots: Vec<u32>,
    addends: Vec<Affine>,
    /// Product of the denominators up to and including each queued addition.
    prefix: Vec<blst_fp>,
}

impl AffineAdder {
    /// Queues `accs[slot] += p` (done at once when either side is infinity
    /// or their x are equal). A slot may be queued once per flush.
    #[inline]
    pub(crate) fn push(&mut self, accs: &mut [Affine], slot: usize, p: &Affine) {
        self.push_signed(accs, slot, p, false);
    }

    /// Queues `accs[slot] += p`, or `accs[slot] -= p` when `minus`: the
    /// subtraction costs what the addition does, where negating `p` first
    /// would cost a field subtraction more.
    #[inline]
    pub(crate) fn push_signed(&mut self, accs: &mut [Affine], slot: usize, p: &Affine, minus: bool) {
        let q = &accs[slot];
        if is_infinity(p) {
            return;
        }
        if is_infinity(q) || fp_ops::eq(&q.x, &p.x) {
            let p = if minus { neg(p) } else { *p };
            accs[slot] = if is_infinity(q) { p } else { add_complete(q, &p) };
        } else {
            debug_assert!(slot < MINUS as usize);
            self.slots.push(slot as u32 | if minus { MINUS } else { 0 });
            self.addends.push(*p);
        }
    }

    /// Performs every queued addition.
    pub(crate) fn flush(&mut self, accs: &mut [Affine]) {
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        self.prefix.resize(n, blst_fp::default());
        let mut d = blst_fp::default();
        for k in 0..n {
            let (slot, p) = ((self.slots[k] & !MINUS) as usize, &self.addends[k]);
            let (before, at) = self.prefix.split_at_mut(k);
            match before.last() {
                Some(product) => {
                    fp_ops::sub_to(&mut d, &p.x, &accs[slot].x);
                    fp_ops::mul_to(&mut at[0], product, &d);
                }
                None => fp_ops::sub_to(&mut at[0], &p.x, &accs[slot].x),
            }
        }
        // 1 / (d_0 ... d_k), peeled one denominator at a time from the back.
        let mut inv = fp_ops::inverse(&self.prefix[n - 1]);
        let (mut inv_d, mut lambda, mut t) = (blst_fp::default(), blst_fp::default(), blst_fp::default());
        for k in (0..n).rev() {
            let (slot, p) = ((self.slots[k] & !MINUS) as usize, &self.addends[k]);
            let minus = self.slots[k] & MINUS != 0;
            let q = accs[slot];
            if k > 0 {
                fp_ops::sub_to(&mut d, &p.x, &q.x);
                fp_ops::mul_to(&mut inv_d, &inv, &self.prefix[k - 1]);
                fp_ops::mul_assign(&mut inv, &d);
            } else {
                inv_d = inv;
            }
            // Minus p: lambda' = -(p.y + q.y) / d, and y' = lambda' (q.x - x') - q.y
            // = lambda (x' - q.x) - q.y with lambda = (p.y + q.y) / d.
            if minus {
                fp_ops::add_to(&mut t, &p.y, &q.y);
            } else {
                fp_ops::sub_to(&mut t, &p.y, &q.y);
            }
            fp_ops::mul_to(&mut lambda, &t, &inv_d);
            let out = &mut accs[slot];
            fp_ops::sqr_to(&mut out.x, &lambda);
            fp_ops::sub_assign(&mut out.x, &q.x);
            fp_ops::sub_assign(&mut out.x, &p.x);
            if minus {
                fp_ops::sub_to(&mut t, &out.x, &q.x);
            } else {
                fp_ops::sub_to(&mut t, &q.x, &out.x);
            }
            fp_ops::mul_to(&mut out.y, &lambda, &t);
            fp_ops::sub_assign(&mut out.y, &q.y);
        }
        self.slots.clear();
        self.addends.clear();
    }

    /// Doubles every point of `points` with one inversion.
    pub(crate) fn double_all(&mut self, points: &mut [Affine]) {
        let n = points.len();
        self.prefix.resize(n, blst_fp::default());
        let mut t = blst_fp::default();
        for (k, p) in points.iter().enumerate() {
            let y = &p.y;
            let (before, at) = self.prefix.split_at_mut(k);
            let product = before.last().unwrap_or(&ONE);
            // y = 0 has no point of G1 but infinity's (0, 0): skipped, it doubles to itself.
            if fp_ops::is_zero(y) {
                at[0] = *product;
            } else {
                fp_ops::add_to(&mut t, y, y);
                fp_ops::mul_to(&mut at[0], product, &t);
            }
        }
        let Some(last) = self.prefix.last() else {
            return;
        };
        let mut inv = fp_ops::inverse(last);
        let (mut inv_d, mut xx, mut lambda) = (blst_fp::default(), blst_fp::default(), blst_fp::default());
        for k in (0..n).rev() {
            let p = points[k];
            if fp_ops::is_zero(&p.y) {
                continue;
            }
            let before = if k > 0 { &self.prefix[k - 1] } else { &ONE };
            fp_ops::add_to(&mut t, &p.y, &p.y);
            fp_ops::mul_to(&mut inv_d, &inv, before);
            fp_ops::mul_assign(&mut inv, &t);
            // lambda = 3 x^2 / 2y
            fp_ops::sqr_to(&mut xx, &p.x);
            fp_ops::add_to(&mut t, &xx, &xx);
            fp_ops::add_to(&mut lambda, &t, &xx);
            fp_ops::mul_assign(&mut lambda, &inv_d);
            let out = &mut points[k];
            fp_ops::sqr_to(&mut out.x, &lambda);
            fp_ops::add_to(&mut t, &p.x, &p.x);
            fp_ops::sub_assign(&mut out.x, &t);
            fp_ops::sub_to(&mut t, &p.x, &out.x);
            fp_ops::mul_to(&mut out.y, &lambda, &t);
            fp_ops::sub_assign(&mut out.y, &p.y);
        }
    }
}

/// `-p` (infinity stays infinity).
pub(crate) fn neg(p: &Affine) -> Affine {
    let mut y = blst_fp::default();
    fp_ops::sub_to(&mut y, &blst_fp::default(), &p.y);
    Affine { x: p.x, y }
}

/// Below this many points a lockstep step's shared inversion costs more
/// than affine formulas save: each point runs its own Jacobian chain
/// (measured: about 76 us a multiplication either way at 44 points; 64 us
/// in lockstep at 252, 103 us at 16).
const LOCKSTEP_FROM: usize = 44;

/// `scalars[i] * points[i]` for every `i`. From [`LOCKSTEP_FROM`] points, in
/// lockstep: each step's doublings, and each half's additions, for all the
/// points share one inversion; below it, one Jacobian chain per point.
/// Either way the odd multiples are made in shared batches.
pub(crate) fn mul_many(points: &[Affine], scalars: &[&GlvDigits]) -> Vec<Affine> {
    const ODD: usize = 1 << (GLV_WINDOW - 2);
    let m = points.len();
    debug_assert_eq!(m, scalars.len());
    let mut adder = AffineAdder::default();
    // (2k + 1) P_i at odd[k * m + i], and the endomorphism's images.
    let mut twice = points.to_vec();
    adder.double_all(&mut twice);
    let mut odd = vec![Affine::default(); ODD * m];
    odd[..m].copy_from_slice(points);
    for k in 1..ODD {
        let (before, rest) = odd.split_at_mut(k * m);
        let row = &mut rest[..m];
        row.copy_from_slice(&before[(k - 1) * m..]);
        for (i, p) in twice.iter().enumerate() {
            adder.push(row, i, p);
        }
        adder.flush(row);
    }
    let beta = g1_ops::beta();
    let endo: Vec<Affine> = odd
        .iter()
        .map(|p| {
            let mut x = blst_fp::default();
            fp_ops::mul_to(&mut x, &p.x, &beta);
            Affine { x, y: p.y }
        })
        .collect();
    if m < LOCKSTEP_FROM {
        return jacobian_chains(&odd, &endo, scalars);
    }
    let steps = scalars
        .iter()
        .map(|s| s.k1.len().max(s.k2.len()))
        .max()
        .unwrap_or(0);
    // Each half's addend of point i at a step (None for a zero digit).
    let addend = |i: usize, step: usize, first: bool| -> Option<Affine> {
        let s = scalars[i];
        let (digits, positive, table) = if first {
            (&s.k1, s.k1_positive, &odd)
        } else {
            (&s.k2, s.k2_positive, &endo)
        };
        let d = digits.get(step).copied().unwrap_or(0);
        (d != 0).then(|| {
            let q = &table[(d.unsigned_abs() / 2) as usize * m + i];
            if (d > 0) == positive { *q } else { neg(q) }
        })
    };
    // Where both halves add at the same step (about one step in 36), their sum,
    // all made in one batch: every step then takes one addition per point.
    let mut both_at = vec![u32::MAX; steps * m];
    let mut both: Vec<Affine> = Vec::new();
    for (i, s) in scalars.iter().enumerate() {
        for (step, (d1, d2)) in s.k1.iter().zip(&s.k2).enumerate() {
            if *d1 != 0
                && *d2 != 0
                && let (Some(q1), Some(q2)) = (addend(i, step, true), addend(i, step, false))
            {
                let c = both.len();
                both_at[step * m + i] = c as u32;
                both.push(q1);
                adder.push(&mut both, c, &q2);
            }
        }
    }
    adder.flush(&mut both);
    let mut accs = vec![Affine::default(); m];
    for step in (0..steps).rev() {
        if step + 1 < steps {
            adder.double_all(&mut accs);
        }
        for i in 0..m {
            let q = match both_at[step * m + i] {
                u32::MAX => addend(i, step, true).or_else(|| addend(i, step, false)),
                c => Some(both[c as usize]),
            };
            if let Some(q) = q {
                adder.push(&mut accs, i, &q);
            }
        }
        adder.flush(&mut accs);
    }
    accs
}

/// `scalars[i] * P_i` by one Jacobian chain of doublings and mixed
/// additions per point, from the odd multiples `odd[k * m + i] = (2k+1) P_i`
/// and their images `endo` under the endomorphism.
fn jacobian_chains(odd: &[Affine], endo_table: &[Affine], scalars: &[&GlvDigits]) -> Vec<Affine> {
    let m = scalars.len();
    let accs: Vec<blst_p1> = scalars
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.mul_from(|endo, k| {
                if endo {
                    endo_table[k * m + i]
                } else {
                    odd[k * m + i]
                }
            })
        })
        .collect();
    g1_ops::batch_to_affine(&accs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blst_ops::g1_ops;

    fn point(k: u64) -> Affine {
        let mut p = blst_p1::default();
        let s = blst::blst_scalar {
            b: {
                let mut b = [0u8; 32];
                b[..8].copy_from_slice(&k.to_le_bytes());
                b
            },
        };
        // SAFETY: the generator and a 64-bit scalar.
        unsafe { blst::blst_p1_mult(&mut p, blst::blst_p1_generator(), s.b.as_ptr(), 64) };
        to_affine(&p)
    }

    fn reference_sum(a: &Affine, b: &Affine) -> Affine {
        to_affine(&g1_ops::add(&to_jacobian(a), &to_jacobian(b)))
    }

    #[test]
    fn batched_additions_match_jacobian_ones_including_the_special_cases() {
        let inf = Affine::default();
        let neg = |p: &Affine| to_affine(&g1_ops::neg(&to_jacobian(p)));
        // (acc, addend): generic, equal (doubling), opposite (cancels), infinity on either side.
        let cases = [
            (point(3), point(5)),
            (point(7), point(7)),
            (point(9), neg(&point(9))),
            (inf, point(11)),
            (point(13), inf),
            (inf, inf),
            (point(1 << 40), point(17)),
        ];
        let mut accs: Vec<Affine> = cases.iter().map(|c| c.0).collect();
        let mut adder = AffineAdder::default();
        for (slot, (_, p)) in cases.iter().enumerate() {
            adder.push(&mut accs, slot, p);
        }
        adder.flush(&mut accs);
        for (got, (a, b)) in accs.iter().zip(&cases) {
            assert_eq!(*got, reference_sum(a, b));
        }
        assert!(adder.slots.is_empty());
        // The same pairs subtracted: acc - p, including acc = p (cancels) and acc = -p (doubles).
        let mut accs: Vec<Affine> = cases.iter().map(|c| c.0).collect();
        for (slot, (_, p)) in cases.iter().enumerate() {
            adder.push_signed(&mut accs, slot, p, true);
        }
        adder.flush(&mut accs);
        for (got, (a, b)) in accs.iter().zip(&cases) {
            assert_eq!(*got, reference_sum(a, &neg(b)));
        }
    }

    #[test]
    fn many_multiplications_match_single_ones_by_either_method() {
        use ark_bls12_381::Fr;
        // Jacobian chains below LOCKSTEP_FROM points, lockstep from it: a zero
        // scalar, infinity, a repeated point, and scalars of every size and sign.
        for m in [LOCKSTEP_FROM - 4, LOCKSTEP_FROM + 20] {
            let mut points: Vec<Affine> = (1..m as u64).map(|k| point(k * 7919)).collect();
            points[5] = points[4];
            points.push(Affine::default());
            let mut scalars: Vec<Fr> = (0..m as u64 - 1)
                .map(|k| -Fr::from(k * k * 1_000_003 + 1) / Fr::from(k + 2))
                .collect();
            scalars.push(Fr::from(5u64));
            scalars[3] = Fr::from(0u64);
            let digits: Vec<GlvDigits> = scalars.iter().map(GlvDigits::new).collect();
            let refs: Vec<&GlvDigits> = digits.iter().collect();
            let got = mul_many(&points, &refs);
            for ((p, d), g) in points.iter().zip(&digits).zip(&got) {
                assert_eq!(*g, to_affine(&d.mul(&to_jacobian(p))), "{m} points");
            }
            assert!(is_infinity(&got[3]) && is_infinity(&got[m - 1]));
        }
    }

    #[test]
    fn batched_doublings_match_jacobian_ones() {
        let mut points = vec![point(2), Affine::default(), point(99), point(u64::MAX)];
        let want: Vec<Affine> = points
            .iter()
            .map(|p| to_affine(&g1_ops::double(&to_jacobian(p))))
            .collect();
        AffineAdder::default().double_all(&mut points);
        assert_eq!(points, want);
    }
}
