//! Pairings, G1 scalar multiplications, variable-base MSMs and G1
//! decompression on blst's assembly; arkworks keeps the field code, the
//! FFTs and the fixed-base tables.
//!
//! blst's pairings, G1 multiplications, Pippenger and checked decompression
//! are each faster than arkworks' (`examples/profile.rs` times them side by
//! side); the tests check every operation here against arkworks'.
//!
//! Both libraries keep base-field elements in Montgomery form with
//! `R = 2^384` in six little-endian 64-bit limbs, and projective G1 points in
//! Jacobian coordinates, so values cross by copying limbs: no conversion
//! arithmetic. A test below checks each operation against ark's.

use ark_bls12_381::{Fq, Fq2, Fr, G1Affine, G1Projective, G2Affine};
use ark_ff::{BigInt, PrimeField, Zero};
use blst::{
    BLST_ERROR, blst_final_exp, blst_fp, blst_fp2, blst_fp6, blst_fp12, blst_fp12_is_one, blst_p1,
    blst_p1_affine, blst_p1_affine_in_g1, blst_p1_uncompress, blst_p1s_mult_pippenger,
    blst_p1s_mult_pippenger_scratch_sizeof, blst_p2_affine, blst_precompute_lines,
};
use rayon::prelude::*;

/// Lines blst's Miller loop reads for one fixed G2 point (`blst_precompute_lines`' output size).
const LINES: usize = 68;

/// Points below which splitting an MSM over threads costs more than it saves.
pub(crate) const MIN_POINTS_PER_THREAD: usize = 32;

/// Items per share when `n` items are split over rayon's threads in shares
/// of at least `min` (one share when fewer).
pub(crate) fn share_len(n: usize, min: usize) -> usize {
    let threads = rayon::current_num_threads().clamp(1, (n / min).max(1));
    n.div_ceil(threads).max(1)
}

pub(crate) fn fp(x: &Fq) -> blst_fp {
    blst_fp { l: x.0.0 }
}

pub(crate) fn fq(x: &blst_fp) -> Fq {
    Fq::new_unchecked(BigInt(x.l))
}

fn fp2(x: &Fq2) -> blst_fp2 {
    blst_fp2 {
        fp: [fp(&x.c0), fp(&x.c1)],
    }
}

/// Base-field arithmetic for the batched affine additions of the table
/// MSMs: blst's Montgomery multiplication and, above all, its inversion are
/// faster than ark's, FFI call included.
pub(crate) mod fp_ops {
    use super::blst_fp;

    pub(crate) const ONE: blst_fp = blst_fp {
        // R mod p: 1 in Montgomery form.
        l: [
            0x7609_0000_0002_fffd,
            0xebf4_000b_c40c_0002,
            0x5f48_9857_53c7_58ba,
            0x77ce_5853_7052_5745,
            0x5c07_1a97_a256_ec6d,
            0x15f6_5ec3_fa80_e493,
        ],
    };

    #[inline]
    pub(crate) fn mul(a: &blst_fp, b: &blst_fp) -> blst_fp {
        let mut out = blst_fp::default();
        // SAFETY: three valid field elements.
        unsafe { blst::blst_fp_mul(&mut out, a, b) };
        out
    }

    // The `_to` forms write where the result will stay: copying an element out of a
    // fresh return value reads with 16-byte loads what blst just wrote with 8-byte
    // stores, and that stall cost the batched additions a tenth of their time.

    #[inline]
    pub(crate) fn mul_to(out: &mut blst_fp, a: &blst_fp, b: &blst_fp) {
        // SAFETY: three valid field elements.
        unsafe { blst::blst_fp_mul(out, a, b) };
    }

    /// `x *= b`.
    #[inline]
    pub(crate) fn mul_assign(x: &mut blst_fp, b: &blst_fp) {
        let x: *mut blst_fp = x;
        // SAFETY: blst reads its inputs before it writes the output, which may alias one.
        unsafe { blst::blst_fp_mul(x, x, b) };
    }

    #[inline]
    pub(crate) fn sqr_to(out: &mut blst_fp, a: &blst_fp) {
        // SAFETY: two valid field elements.
        unsafe { blst::blst_fp_sqr(out, a) };
    }

    #[inline]
    pub(crate) fn sub_to(out: &mut blst_fp, a: &blst_fp, b: &blst_fp) {
        // SAFETY: three valid field elements.
        unsafe { blst::blst_fp_sub(out, a, b) };
    }

    /// `x -= b`.
    #[inline]
    pub(crate) fn sub_assign(x: &mut blst_fp, b: &blst_fp) {
        let x: *mut blst_fp = x;
        // SAFETY: blst reads its inputs before it writes the output, which may alias one.
        unsafe { blst::blst_fp_sub(x, x, b) };
    }

    #[inline]
    pub(crate) fn add_to(out: &mut blst_fp, a: &blst_fp, b: &blst_fp) {
        // SAFETY: three valid field elements.
        unsafe { blst::blst_fp_add(out, a, b) };
    }

    /// `1 / a`; 0 for 0.
    pub(crate) fn inverse(a: &blst_fp) -> blst_fp {
        let mut out = blst_fp::default();
        // SAFETY: two valid field elements.
        unsafe { blst::blst_fp_inverse(&mut out, a) };
        out
    }

    /// Limb by limb: comparing the arrays calls `bcmp`, a tenth of the batched additions' time.
    #[inline]
    pub(crate) fn is_zero(a: &blst_fp) -> bool {
        a.l.iter().fold(0, |acc, x| acc | x) == 0
    }

    /// Equality of two reduced field elements (blst keeps them below p).
    #[inline]
    pub(crate) fn eq(a: &blst_fp, b: &blst_fp) -> bool {
        a.l.iter().zip(&b.l).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// Jacobian G1 arithmetic for the bucket sums and the G1 FFT's scalar
/// multiplications: blst's point formulas on its assembly field code, faster
/// than ark's on the same curve.
pub(crate) mod g1_ops {
    use ark_bls12_381::g1::Config as G1Config;
    use ark_ec::scalar_mul::glv::GLVConfig;
    use blst::{blst_fp, blst_p1, blst_p1_affine};

    #[inline]
    pub(crate) fn add(a: &blst_p1, b: &blst_p1) -> blst_p1 {
        let mut out = blst_p1::default();
        // SAFETY: valid points (z = 0 is infinity); blst handles equal inputs and infinity.
        unsafe { blst::blst_p1_add_or_double(&mut out, a, b) };
        out
    }

    #[inline]
    pub(crate) fn add_affine(a: &blst_p1, b: &blst_p1_affine) -> blst_p1 {
        let mut out = blst_p1::default();
        // SAFETY: valid points; the affine (0, 0) is infinity.
        unsafe { blst::blst_p1_add_or_double_affine(&mut out, a, b) };
        out
    }

    #[inline]
    pub(crate) fn double(a: &blst_p1) -> blst_p1 {
        let mut out = blst_p1::default();
        // SAFETY: a valid point.
        unsafe { blst::blst_p1_double(&mut out, a) };
        out
    }

    #[inline]
    pub(crate) fn neg(a: &blst_p1) -> blst_p1 {
        let mut out = *a;
        // SAFETY: a valid point, negated in place.
        unsafe { blst::blst_p1_cneg(&mut out, true) };
        out
    }

    /// Affine forms of many points with one shared inversion per 1536
    /// (infinity comes back as (0, 0)).
    pub(crate) fn batch_to_affine(points: &[blst_p1]) -> Vec<blst_p1_affine> {
        let mut out = vec![blst_p1_affine::default(); points.len()];
        let pointers = [points.as_ptr(), std::ptr::null()];
        // SAFETY: `points` is one contiguous array of valid points (the list form blst
        // reads on from after a null entry), `out` has room for as many.
        unsafe { blst::blst_p1s_to_affine(out.as_mut_ptr(), pointers.as_ptr(), points.len()) };
        out
    }

    /// The endomorphism's `beta`.
    pub(crate) fn beta() -> blst_fp {
        super::fp(&<G1Config as GLVConfig>::ENDO_COEFFS[0])
    }

    /// The GLV endomorphism `(x, y) -> (beta x, y)`, on Jacobian coordinates alike.
    #[inline]
    pub(crate) fn endomorphism(a: &blst_p1) -> blst_p1 {
        blst_p1 {
            x: super::fp_ops::mul(&a.x, &beta()),
            ..*a
        }
    }
}

/// ark's Jacobian point as blst's.
pub(crate) fn to_jacobian(p: &G1Projective) -> blst_p1 {
    blst_p1 {
        x: fp(&p.x),
        y: fp(&p.y),
        z: fp(&p.z),
    }
}

/// blst's affine form; blst writes the point at infinity as (0, 0).
pub(crate) fn to_affine(p: &G1Affine) -> blst_p1_affine {
    if p.infinity {
        return blst_p1_affine::default();
    }
    blst_p1_affine {
        x: fp(&p.x),
        y: fp(&p.y),
    }
}

pub(crate) fn from_affine(p: &blst_p1_affine) -> G1Affine {
    let (x, y) = (fq(&p.x), fq(&p.y));
    if x.is_zero() && y.is_zero() {
        return G1Affine::identity();
    }
    G1Affine::new_unchecked(x, y)
}

/// Jacobian to Jacobian; z = 0 is infinity in both.
pub(crate) fn from_projective(p: &blst_p1) -> G1Projective {
    G1Projective::new_unchecked(fq(&p.x), fq(&p.y), fq(&p.z))
}

/// blst's Jacobian point as ark's affine one (one blst inversion, cheaper
/// than ark's).
pub(crate) fn jacobian_to_affine(p: &blst_p1) -> G1Affine {
    let mut out = blst_p1_affine::default();
    // SAFETY: a valid point in, a valid output; infinity comes back as (0, 0).
    unsafe { blst::blst_p1_to_affine(&mut out, p) };
    from_affine(&out)
}

/// Width of the signed digits of [`GlvDigits`]: 8 odd multiples per half.
pub(crate) const GLV_WINDOW: usize = 5;

/// A scalar prepared for variable-time multiplication (for verifiers and
/// the G1 FFT's fixed twiddles: nothing secret): `s = k1 + k2 lambda` with
/// both halves about 128 bits (GLV), as width-5 signed digits added along
/// one chain of 128 doublings. `blst_p1_mult` is constant-time, and slower
/// for it.
#[derive(Clone, Debug)]
pub(crate) struct GlvDigits {
    pub(crate) k1: Vec<i64>,
    pub(crate) k2: Vec<i64>,
    pub(crate) k1_positive: bool,
    pub(crate) k2_positive: bool,
}

impl GlvDigits {
    pub(crate) fn new(s: &Fr) -> Self {
        use ark_bls12_381::g1::Config as G1Config;
        use ark_ec::scalar_mul::glv::GLVConfig;
        use ark_ff::BigInteger;

        let ((k1_positive, k1), (k2_positive, k2)) = G1Config::scalar_decomposition(*s);
        // A window of at least 2 bits always yields digits.
        let digits = |k: Fr| k.into_bigint().find_wnaf(GLV_WINDOW).unwrap_or_default();
        Self {
            k1: digits(k1),
            k2: digits(k2),
            k1_positive,
            k2_positive,
        }
    }

    /// `s * p`.
    pub(crate) fn mul(&self, p: &blst_p1) -> blst_p1 {
        // Odd multiples P, 3P, .., 15P, then their images under the endomorphism.
        const ODD: usize = 1 << (GLV_WINDOW - 2);
        let twice = g1_ops::double(p);
        let mut odd = [*p; 2 * ODD];
        for i in 1..ODD {
            odd[i] = g1_ops::add(&odd[i - 1], &twice);
        }
        for i in 0..ODD {
            odd[ODD + i] = g1_ops::endomorphism(&odd[i]);
        }
        // Affine for mixed additions (cheaper than Jacobian ones), one shared inversion.
        let odd_affine = g1_ops::batch_to_affine(&odd);
        self.mul_from(|endo, k| odd_affine[if endo { ODD + k } else { k }])
    }

    /// `s * P` by one Jacobian chain of doublings and mixed additions, from
    /// `multiple(false, k) = (2k + 1) P` and `multiple(true, k)`, its image
    /// under the endomorphism (`k < 8`).
    pub(crate) fn mul_from(&self, multiple: impl Fn(bool, usize) -> blst_p1_affine) -> blst_p1 {
        let neg = crate::batch_affine::neg;
        let mut acc = blst_p1::default();
        for i in (0..self.k1.len().max(self.k2.len())).rev() {
            acc = g1_ops::double(&acc);
            for (digits, endo, positive) in [
                (&self.k1, false, self.k1_positive),
                (&self.k2, true, self.k2_positive),
            ] {
                let d = digits.get(i).copied().unwrap_or(0);
                if d != 0 {
                    let q = multiple(endo, (d.unsigned_abs() / 2) as usize);
                    acc = if (d > 0) == positive {
                        g1_ops::add_affine(&acc, &q)
                    } else {
                        g1_ops::add_affine(&acc, &neg(&q))
                    };
                }
            }
        }
        acc
    }
}

/// `s * p` in variable time, for verifiers (see [`GlvDigits`]).
pub(crate) fn g1_mul_vartime(p: &G1Affine, s: &Fr) -> blst_p1 {
    if p.infinity {
        return blst_p1::default();
    }
    let base = blst_p1 {
        x: fp(&p.x),
        y: fp(&p.y),
        z: fp_ops::ONE,
    };
    GlvDigits::new(s).mul(&base)
}

/// The scalar as the little-endian bytes blst reads.
fn scalar_bytes(s: &Fr) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, limb) in out.chunks_exact_mut(8).zip(s.into_bigint().0) {
        chunk.copy_from_slice(&limb.to_le_bytes());
    }
    out
}

/// Why 48 bytes are not a G1 point (the caller adds which input it was).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecompressError {
    Encoding,
    NotInSubgroup,
}

/// Parses a compressed G1 point (ZCash flags), checking it is on the curve
/// but not the subgroup; infinity is (0, 0).
pub(crate) fn g1_uncompress(bytes: &[u8; 48]) -> Result<blst_p1_affine, DecompressError> {
    let mut p = blst_p1_affine::default();
    // SAFETY: `p` is a valid output location and `bytes` holds the 48 bytes blst reads.
    let err = unsafe { blst_p1_uncompress(&mut p, bytes.as_ptr()) };
    if err != BLST_ERROR::BLST_SUCCESS {
        return Err(DecompressError::Encoding);
    }
    Ok(p)
}

/// Parses a compressed G1 point (ZCash flags), checking it is on the curve
/// and in the prime-order subgroup; the point at infinity is valid.
pub(crate) fn g1_decompress(bytes: &[u8; 48]) -> Result<G1Affine, DecompressError> {
    let p = g1_uncompress(bytes)?;
    let point = from_affine(&p);
    // SAFETY: `p` is an initialized affine point.
    if !point.infinity && !unsafe { blst_p1_affine_in_g1(&p) } {
        return Err(DecompressError::NotInSubgroup);
    }
    Ok(point)
}

/// Pippenger on one thread over blst's affine points.
fn pippenger(points: &[blst_p1_affine], scalars: &[[u8; 32]]) -> G1Projective {
    let n = points.len().min(scalars.len());
    if n == 0 {
        return G1Projective::zero();
    }
    // SAFETY: pure size computation.
    let scratch_bytes = unsafe { blst_p1s_mult_pippenger_scratch_sizeof(n) };
    let mut scratch = vec![0u64; scratch_bytes.div_ceil(8)];
    // A null second pointer tells blst that the first points at n contiguous items.
    let point_ptrs = [points.as_ptr(), std::ptr::null()];
    let scalar_ptrs = [scalars.as_ptr().cast::<u8>(), std::ptr::null()];
    let mut out = blst_p1::default();
    // SAFETY: `points` and `scalars` hold at least n items each (32 bytes per
    // scalar, 255 bits read), and `scratch` has the size blst asked for.
    unsafe {
        blst_p1s_mult_pippenger(
            &mut out,
            point_ptrs.as_ptr(),
            n,
            scalar_ptrs.as_ptr(),
            255,
            scratch.as_mut_ptr(),
        );
    }
    from_projective(&out)
}

/// `sum scalars[i] * points[i]` over points not known in advance, split over
/// rayon's threads in chunks of at least [`MIN_POINTS_PER_THREAD`].
pub(crate) fn msm(points: &[G1Affine], scalars: &[Fr]) -> G1Projective {
    let n = points.len().min(scalars.len());
    let chunk = share_len(n, MIN_POINTS_PER_THREAD);
    points[..n]
        .par_chunks(chunk)
        .zip(scalars[..n].par_chunks(chunk))
        .map(|(p, s)| {
            let p: Vec<blst_p1_affine> = p.iter().map(to_affine).collect();
            let s: Vec<[u8; 32]> = s.iter().map(scalar_bytes).collect();
            pippenger(&p, &s)
        })
        .reduce(G1Projective::zero, |a, b| a + b)
}

/// A fixed G2 point's Miller-loop lines, computed once.
#[derive(Clone)]
pub(crate) struct G2Lines(Box<[blst_fp6; LINES]>);

impl std::fmt::Debug for G2Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("G2Lines")
    }
}

impl G2Lines {
    pub(crate) fn new(q: &G2Affine) -> Self {
        let mut lines = Box::new([blst_fp6::default(); LINES]);
        // Infinity has no lines; a check against it is never built.
        debug_assert!(!q.infinity);
        let q = blst_p2_affine {
            x: fp2(&q.x),
            y: fp2(&q.y),
        };
        // SAFETY: `lines` has room for the 68 entries blst writes; `q` is initialized.
        unsafe { blst_precompute_lines(lines.as_mut_ptr(), &q) };
        Self(lines)
    }
}

fn one() -> blst_fp12 {
    // SAFETY: blst_fp12_one returns a pointer to a static constant.
    unsafe { *blst::blst_fp12_one() }
}

/// Additions and doublings between the rows of precomputed lines, from the
/// bits of BLS12-381's `|x| = 0xd201000000010000` (blst's line order).
const LINE_RUNS: [usize; 5] = [2, 3, 9, 32, 16];

/// The product of the Miller loops `f_{Q_i}(P_i)`, sharing one chain of 63
/// Fp12 squarings instead of one chain per pair. Points at infinity
/// contribute 1.
fn multi_miller_loop(pairs: &[(&G1Affine, &G2Lines)]) -> blst_fp12 {
    // Each line's coefficients scale by -2 P.x and 2 P.y, as in blst's own loop.
    let scaled: Vec<(blst_fp, blst_fp, &G2Lines)> = pairs
        .iter()
        .filter(|(p, _)| !p.infinity)
        .map(|(p, q)| {
            let (x, y) = (fp(&p.x), fp(&p.y));
            let (mut x2, mut y2) = (blst_fp::default(), blst_fp::default());
            // SAFETY: valid field elements in, valid outputs; cneg may alias.
            unsafe {
                blst::blst_fp_add(&mut x2, &x, &x);
                blst::blst_fp_cneg(&mut x2, &x2, true);
                blst::blst_fp_add(&mut y2, &y, &y);
            }
            (x2, y2, *q)
        })
        .collect();
    let mut f = one();
    let mul_lines = |f: &mut blst_fp12, row: usize| {
        for (x2, y2, q) in &scaled {
            let line = &q.0[row];
            let mut at_p = line.fp2;
            for j in 0..2 {
                at_p[1].fp[j] = fp_ops::mul(&line.fp2[1].fp[j], x2);
                at_p[2].fp[j] = fp_ops::mul(&line.fp2[2].fp[j], y2);
            }
            let at_p = blst_fp6 { fp2: at_p };
            // SAFETY: `f` is a valid Fp12 and output (blst allows aliasing); `at_p` a valid line.
            unsafe { blst::blst_fp12_mul_by_xy00z0(f, f, &at_p) };
        }
    };
    mul_lines(&mut f, 0);
    let mut row = 1;
    for doublings in LINE_RUNS {
        mul_lines(&mut f, row);
        row += 1;
        for _ in 0..doublings {
            // SAFETY: `f` is a valid Fp12; blst allows the output to alias the input.
            unsafe { blst::blst_fp12_sqr(&mut f, &f) };
            mul_lines(&mut f, row);
            row += 1;
        }
    }
    debug_assert_eq!(row, LINES);
    // The loop ran over |x|; x is negative.
    // SAFETY: `f` is a valid Fp12.
    unsafe { blst::blst_fp12_conjugate(&mut f) };
    f
}

/// `e(a, qa) * e(b, qb) == 1`: one two-point Miller loop, one final exponentiation.
pub(crate) fn pairings_cancel(a: &G1Affine, qa: &G2Lines, b: &G1Affine, qb: &G2Lines) -> bool {
    let f = multi_miller_loop(&[(a, qa), (b, qb)]);
    let mut out = blst_fp12::default();
    // SAFETY: `f` is initialized, `out` a valid output.
    unsafe {
        blst_final_exp(&mut out, &f);
        blst_fp12_is_one(&out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ark_bls12_381::Bls12_381;
    use ark_ec::pairing::Pairing;
    use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
    use ark_serialize::CanonicalSerialize;
    use rand::{RngCore, SeedableRng, rngs::StdRng};

    pub(crate) fn random_fr(rng: &mut StdRng) -> Fr {
        let mut bytes = [0u8; 64];
        rng.fill_bytes(&mut bytes);
        Fr::from_le_bytes_mod_order(&bytes)
    }

    pub(crate) fn random_g1(rng: &mut StdRng) -> G1Affine {
        (G1Affine::generator() * random_fr(rng)).into_affine()
    }

    fn compressed(p: &G1Affine) -> [u8; 48] {
        let mut out = [0u8; 48];
        p.serialize_compressed(&mut out[..]).expect("48 bytes");
        out
    }

    #[test]
    fn multiplication_and_msm_match_arkworks() {
        let mut rng = StdRng::seed_from_u64(7);
        let p = random_g1(&mut rng);
        // Edge scalars for the GLV split and the signed digits: small values,
        // r - 1, 2^128 and its neighbours, all-ones limbs, then random ones.
        let two_128 = ark_ff::Field::pow(&Fr::from(2u64), [128u64]);
        let mut scalars = vec![
            Fr::zero(),
            -Fr::from(1u64),
            two_128,
            two_128 - Fr::from(1u64),
            two_128 + Fr::from(1u64),
        ];
        scalars.extend((1..40u64).map(Fr::from));
        scalars.push(Fr::from_le_bytes_mod_order(&[0xff; 32]));
        scalars.extend((0..50).map(|_| random_fr(&mut rng)));
        for s in scalars {
            for q in [p, G1Affine::generator()] {
                assert_eq!(from_projective(&g1_mul_vartime(&q, &s)), q * s, "s = {s}");
            }
            assert!(from_projective(&g1_mul_vartime(&G1Affine::identity(), &s)).is_zero());
        }
        for n in [0usize, 1, 2, 3, 31, 64, 65, 200] {
            let mut points: Vec<G1Affine> = (0..n).map(|_| random_g1(&mut rng)).collect();
            let mut scalars: Vec<Fr> = (0..n).map(|_| random_fr(&mut rng)).collect();
            if n > 2 {
                // Infinity, a zero scalar, r - 1 and a repeated point.
                points[0] = G1Affine::identity();
                scalars[1] = Fr::zero();
                scalars[2] = -Fr::from(1u64);
                points[n - 1] = points[1];
            }
            let expected = G1Projective::msm(&points, &scalars).expect("equal lengths");
            assert_eq!(msm(&points, &scalars), expected, "n = {n}");
            let one = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .expect("pool");
            assert_eq!(
                one.install(|| msm(&points, &scalars)),
                expected,
                "n = {n}, one thread"
            );
        }
    }

    #[test]
    fn field_operations_match_arkworks() {
        use ark_ff::{Field, One};
        let mut rng = StdRng::seed_from_u64(11);
        assert_eq!(fp(&Fq::one()).l, fp_ops::ONE.l);
        let mut bytes = [0u8; 96];
        rng.fill_bytes(&mut bytes);
        let a = Fq::from_le_bytes_mod_order(&bytes[..48]) + Fq::from(3u64);
        let b = Fq::from_le_bytes_mod_order(&bytes[48..]);
        let (x, y) = (fp(&a), fp(&b));
        let mut out = blst_fp::default();
        assert_eq!(fq(&fp_ops::mul(&x, &y)), a * b);
        fp_ops::mul_to(&mut out, &x, &y);
        assert_eq!(fq(&out), a * b);
        fp_ops::sqr_to(&mut out, &x);
        assert_eq!(fq(&out), a.square());
        fp_ops::add_to(&mut out, &x, &y);
        assert_eq!(fq(&out), a + b);
        fp_ops::sub_to(&mut out, &x, &y);
        assert_eq!(fq(&out), a - b);
        fp_ops::sub_to(&mut out, &y, &x);
        assert_eq!(fq(&out), b - a);
        let (mut m, mut d) = (x, x);
        fp_ops::mul_assign(&mut m, &y);
        fp_ops::sub_assign(&mut d, &y);
        assert_eq!((fq(&m), fq(&d)), (a * b, a - b));
        assert_eq!(Some(fq(&fp_ops::inverse(&x))), a.inverse());
        fp_ops::sub_to(&mut out, &x, &x);
        assert!(fp_ops::is_zero(&out) && !fp_ops::is_zero(&x));
        assert!(fp_ops::eq(&x, &fp(&a)) && !fp_ops::eq(&x, &y));
    }

    #[test]
    fn point_operations_match_arkworks() {
        use ark_bls12_381::g1::Config as G1Config;
        use ark_ec::scalar_mul::glv::GLVConfig;
        let mut rng = StdRng::seed_from_u64(12);
        let (p, q) = (random_g1(&mut rng), random_g1(&mut rng));
        let (pj, qj) = (p.into_group(), q.into_group());
        let inf = blst_p1::default();
        let j = |x: &G1Projective| to_jacobian(x);
        assert_eq!(from_projective(&g1_ops::add(&j(&pj), &j(&qj))), pj + qj);
        assert_eq!(from_projective(&g1_ops::add(&j(&pj), &j(&pj))), pj + pj);
        assert_eq!(from_projective(&g1_ops::add(&j(&pj), &inf)), pj);
        assert_eq!(from_projective(&g1_ops::add(&inf, &j(&qj))), qj);
        assert!(from_projective(&g1_ops::add(&j(&pj), &j(&-pj))).is_zero());
        assert_eq!(
            from_projective(&g1_ops::add_affine(&j(&pj), &to_affine(&q))),
            pj + q
        );
        assert_eq!(from_projective(&g1_ops::add_affine(&inf, &to_affine(&q))), qj);
        assert_eq!(
            from_projective(&g1_ops::add_affine(&j(&pj), &to_affine(&G1Affine::identity()))),
            pj
        );
        assert_eq!(from_projective(&g1_ops::double(&j(&pj))), pj + pj);
        assert!(from_projective(&g1_ops::double(&inf)).is_zero());
        assert_eq!(from_projective(&g1_ops::neg(&j(&pj))), -pj);
        assert_eq!(
            from_projective(&g1_ops::endomorphism(&j(&pj))),
            <G1Config as GLVConfig>::endomorphism(&pj)
        );
    }

    #[test]
    fn generator_comb_matches_arkworks() {
        let mut rng = StdRng::seed_from_u64(10);
        let g = G1Affine::generator();
        let comb = crate::comb::G1Comb::new(&g);
        for s in [
            Fr::zero(),
            Fr::from(1u64),
            Fr::from(15u64),
            Fr::from(16u64),
            Fr::from(255u64),
            Fr::from(256u64),
            Fr::from(u64::MAX),
            -Fr::from(1u64),
            random_fr(&mut rng),
        ] {
            assert_eq!(from_projective(&comb.mul(&s)), g * s);
        }
    }

    #[test]
    fn decompression_matches_arkworks() {
        let mut rng = StdRng::seed_from_u64(8);
        for p in [G1Affine::identity(), G1Affine::generator(), random_g1(&mut rng)] {
            assert_eq!(g1_decompress(&compressed(&p)), Ok(p));
        }
        let mut bad = compressed(&G1Affine::generator());
        bad[0] &= 0x7f; // uncompressed flag on a 48-byte input
        assert_eq!(g1_decompress(&bad), Err(DecompressError::Encoding));
        // x = 4 lies on the curve (y^2 = 68 is a square mod p) outside the subgroup.
        let mut x4 = [0u8; 48];
        x4[0] = 0x80;
        x4[47] = 4;
        assert_eq!(g1_decompress(&x4), Err(DecompressError::NotInSubgroup));
    }

    #[test]
    fn pairing_check_matches_arkworks() {
        let mut rng = StdRng::seed_from_u64(9);
        let (g1, g2) = (G1Affine::generator(), G2Affine::generator());
        let q = (G2Affine::generator() * random_fr(&mut rng)).into_affine();
        let s = random_fr(&mut rng);
        let (lines_g2, lines_q) = (G2Lines::new(&g2), G2Lines::new(&q));
        let neg_q_lines = G2Lines::new(&(-q));
        // e(sG, Q) e(sG, -Q) = 1 and e(sG, G2) e(G, -sG2) = 1.
        let sg = (g1 * s).into_affine();
        assert!(pairings_cancel(&sg, &lines_q, &sg, &neg_q_lines));
        let neg_sg2 = (G2Affine::generator() * -s).into_affine();
        assert!(pairings_cancel(&sg, &lines_g2, &g1, &G2Lines::new(&neg_sg2)));
        assert!(!pairings_cancel(&sg, &lines_g2, &g1, &lines_q));
        let ark_cancel = Bls12_381::multi_pairing([sg, g1], [g2, q]).is_zero();
        assert_eq!(pairings_cancel(&sg, &lines_g2, &g1, &lines_q), ark_cancel);
        // Infinity contributes 1.
        assert!(pairings_cancel(
            &G1Affine::identity(),
            &lines_q,
            &G1Affine::identity(),
            &lines_g2
        ));
        assert!(!pairings_cancel(&G1Affine::identity(), &lines_q, &g1, &lines_g2));
    }
}
