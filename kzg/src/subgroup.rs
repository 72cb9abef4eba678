//! Subgroup checks of many G1 points at once: blst's test (Scott,
//! eprint 2021/1130: `P` is in G1 exactly when `[-z^2] P = sigma^2(P)`),
//! with each step's doublings and additions for all the points sharing one
//! inversion instead of one Jacobian chain per point. A verifier of 128
//! cells checks 128 proofs, and this was a third of its time.

use blst::blst_fp;

use crate::batch_affine::{Affine, AffineAdder, is_infinity, neg};
use crate::blst_ops::{fp_ops, g1_ops};

/// `-z` for BLS12-381 (`z = -0xd201000000010000`).
const MINUS_Z: u64 = 0xd201_0000_0001_0000;

/// Fewer points than this take blst's check one by one: a batched step saves
/// about 80 ns of doubling per point and costs one shared inversion (about
/// 3 us), so it pays from about 40 points.
pub(crate) const MIN_POINTS: usize = 48;

/// `points[i] = [-z] base[i]` for every `i`, by double-and-add from the top bit.
fn times_minus_z(points: &mut [Affine], base: &[Affine], adder: &mut AffineAdder) {
    points.copy_from_slice(base);
    for bit in (0..63).rev() {
        adder.double_all(points);
        if MINUS_Z >> bit & 1 == 1 {
            for (i, p) in base.iter().enumerate() {
                adder.push(points, i, p);
            }
            adder.flush(points);
        }
    }
}

/// Whether each point (on the curve; (0, 0) is infinity) lies in G1: the
/// same predicate as `blst_p1_affine_in_g1`, `[z^2] P = -sigma^2(P)`, where
/// blst's `sigma^2` is `(x, y) -> (beta x, y)` with arkworks' `beta`; blst's
/// own check one point at a time below [`MIN_POINTS`].
pub(crate) fn in_g1(points: &[Affine]) -> Vec<bool> {
    if points.len() < MIN_POINTS {
        // SAFETY: initialized affine points on the curve.
        return points
            .iter()
            .map(|p| is_infinity(p) || unsafe { blst::blst_p1_affine_in_g1(p) })
            .collect();
    }
    in_g1_batched(points)
}

/// [`in_g1`] with every step batched, for any number of points.
fn in_g1_batched(points: &[Affine]) -> Vec<bool> {
    let mut adder = AffineAdder::default();
    let mut once = vec![Affine::default(); points.len()];
    times_minus_z(&mut once, points, &mut adder);
    let mut twice = vec![Affine::default(); points.len()];
    times_minus_z(&mut twice, &once, &mut adder);
    let beta = g1_ops::beta();
    points
        .iter()
        .zip(&twice)
        .map(|(p, z2p)| {
            if is_infinity(p) {
                return true;
            }
            let mut x = blst_fp::default();
            fp_ops::mul_to(&mut x, &p.x, &beta);
            let image = neg(&Affine { x, y: p.y });
            fp_ops::eq(&z2p.x, &image.x) && fp_ops::eq(&z2p.y, &image.y)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use ark_bls12_381::{Fq, G1Affine};
    use ark_ec::AffineRepr;
    use ark_ff::{Field, PrimeField};
    use rand::rngs::StdRng;
    use rand::{RngCore, SeedableRng};

    use super::*;
    use crate::blst_ops::tests::random_g1;
    use crate::blst_ops::to_affine;

    /// A point on the curve with a random x (mostly outside G1).
    fn random_curve_point(rng: &mut StdRng) -> Affine {
        loop {
            let mut bytes = [0u8; 48];
            rng.fill_bytes(&mut bytes);
            let x = Fq::from_le_bytes_mod_order(&bytes);
            if let Some(y) = (x * x * x + Fq::from(4u64)).sqrt() {
                return to_affine(&G1Affine::new_unchecked(x, y));
            }
        }
    }

    fn blst_in_g1(p: &Affine) -> bool {
        // SAFETY: an initialized affine point on the curve.
        is_infinity(p) || unsafe { blst::blst_p1_affine_in_g1(p) }
    }

    fn mul(p: &Affine, limbs: &[u64]) -> Affine {
        let mut bytes = Vec::new();
        for l in limbs {
            bytes.extend_from_slice(&l.to_le_bytes());
        }
        let mut out = blst::blst_p1::default();
        let mut j = blst::blst_p1::default();
        // SAFETY: a valid point and a scalar of `bytes.len() * 8` bits.
        unsafe {
            blst::blst_p1_from_affine(&mut j, p);
            blst::blst_p1_mult(&mut out, &j, bytes.as_ptr(), bytes.len() * 8);
        }
        crate::batch_affine::to_affine(&out)
    }

    #[test]
    fn agrees_with_blst_on_g1_random_curve_points_and_small_torsion() {
        let mut rng = StdRng::seed_from_u64(33);
        let mut points: Vec<Affine> = Vec::new();
        points.extend((0..40).map(|_| to_affine(&random_g1(&mut rng))));
        points.push(Affine::default());
        points.push(to_affine(&G1Affine::generator()));
        points.extend((0..40).map(|_| random_curve_point(&mut rng)));
        // Torsion of the cofactor h = 3 * 11^2 * 10177^2 * 859267^2 * 52437899^2:
        // [h / d] [r] R has an order dividing d, for d = h and each prime's part
        // of h (for 10177 and up, groups Z_p x Z_p); alone and added to a G1 point.
        let r = ark_bls12_381::Fr::MODULUS.0;
        let h: u128 = 0x396c_8c00_5555_e156_8c00_aaab_0000_aaab;
        let primes = [3u128, 11, 10177, 859_267, 52_437_899];
        let orders = std::iter::once(h).chain(primes.iter().map(|&p| if p == 3 { p } else { p * p }));
        for d in orders {
            assert_eq!(h % d, 0);
            for _ in 0..3 {
                let m = h / d;
                let t = mul(
                    &mul(&random_curve_point(&mut rng), &r),
                    &[m as u64, (m >> 64) as u64],
                );
                assert!(
                    !is_infinity(&t) || d < 200,
                    "a torsion point of order dividing {d}"
                );
                let g = to_affine(&random_g1(&mut rng));
                let mut sum = blst::blst_p1::default();
                // SAFETY: valid points.
                unsafe {
                    blst::blst_p1_from_affine(&mut sum, &g);
                    blst::blst_p1_add_or_double_affine(&mut sum, &sum, &t);
                }
                points.push(t);
                points.push(crate::batch_affine::to_affine(&sum));
            }
        }
        let got = in_g1_batched(&points);
        assert!(points.len() >= MIN_POINTS);
        assert_eq!(in_g1(&points), got);
        let want: Vec<bool> = points.iter().map(blst_in_g1).collect();
        assert_eq!(got, want);
        assert!(got[..42].iter().all(|&b| b) && !got[42..82].iter().any(|&b| b));
        // The same answers in a batch of one, batched or not.
        for p in points.iter().take(90) {
            assert_eq!(in_g1_batched(std::slice::from_ref(p)), vec![blst_in_g1(p)]);
            assert_eq!(in_g1(std::slice::from_ref(p)), vec![blst_in_g1(p)]);
        }
    }
}
