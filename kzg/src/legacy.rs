//! The KZG proving path as it was before the subset-sum tables: windowed
//! fixed-base tables summed through buckets (13-bit windows for
//! commitments, 8-bit for FK20's rows) and the G1 FFT on Jacobian points.
//! Only for the DA bench's before/after row (feature `bench-legacy`),
//! switched on for the whole process by [`set_bench_legacy`].

use std::sync::atomic::{AtomicBool, Ordering};

use ark_bls12_381::{Fr, G1Affine, G1Projective, g1::Config as G1Config};
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::{AdditiveGroup, AffineRepr, CurveGroup};
use ark_ff::{BigInteger, BigInteger256, Field, One, PrimeField, Zero};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use blst::blst_p1;
use rayon::prelude::*;
use zg_erasure::field::bit_reversal_permutation;

use crate::blst_ops::{from_projective, g1_ops, to_affine, to_jacobian};

static ON: AtomicBool = AtomicBool::new(false);

/// Makes every context prove commitments and cell proofs the old way (or,
/// with `false`, the current way again). For before/after benches only.
pub fn set_bench_legacy(on: bool) {
    ON.store(on, Ordering::SeqCst);
}

pub(crate) fn enabled() -> bool {
    ON.load(Ordering::SeqCst)
}

/// Scalars are below 2^255.
const SCALAR_BITS: u32 = 255;

/// The old path's tables for one context.
#[derive(Debug)]
pub(crate) struct Legacy {
    lagrange: FixedBaseMsm,
    rows: Vec<FixedBaseMsm>,
    fft: JacobianFft,
}

impl Legacy {
    pub(crate) fn new(lagrange_brp: &[G1Affine], rows: &[&[G1Affine]]) -> Self {
        let domain = Radix2EvaluationDomain::<Fr>::new(rows.len()).expect("2k is a power of two");
        Self {
            lagrange: FixedBaseMsm::new(lagrange_brp, 13),
            rows: rows.iter().map(|r| FixedBaseMsm::new(r, 8)).collect(),
            fft: JacobianFft::new(&domain),
        }
    }

    /// The commitment MSM over the bit-reversed Lagrange points.
    pub(crate) fn commit(&self, poly: &[Fr]) -> G1Projective {
        self.lagrange.msm(poly)
    }

    /// FK20 from its row scalars on: the row MSMs and both G1 FFTs.
    pub(crate) fn proofs(&self, row_scalars: &[Vec<Fr>]) -> Vec<G1Affine> {
        let tables: Vec<&FixedBaseMsm> = self.rows.iter().collect();
        let mut h = msm_many(&tables, row_scalars);
        let k = h.len() / 2;
        self.fft.transform(&mut h, true);
        for x in &mut h[k..] {
            *x = G1Projective::zero();
        }
        self.fft.transform(&mut h, false);
        bit_reversal_permutation(&mut h);
        G1Projective::normalize_batch(&h)
    }
}

/// Windows of `w` bits that cover a scalar with its signed digits' last
/// carry (one bit past the top bit).
fn window_count(w: u32) -> usize {
    (SCALAR_BITS + 1).div_ceil(w) as usize
}

/// Signed `w`-bit digits of `s`, least significant first, each in
/// `-(2^(w-1) - 1)..=2^(w-1)`; `windows` of them cover 256 bits.
fn signed_digits(s: &BigInteger256, w: u32, windows: usize, out: &mut Vec<i32>) {
    out.clear();
    let half = 1i64 << (w - 1);
    let mut carry = 0i64;
    for j in 0..windows {
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

/// `sum_b (b + 1) * bucket_b` for each group of `per_job` buckets, by
/// running sums from the top bucket down.
fn reduce_buckets(buckets: &[G1Affine], overflow: &[G1Projective], per_job: usize) -> Vec<G1Projective> {
    use crate::blst_ops::{from_projective, to_jacobian};
    buckets
        .chunks(per_job)
        .zip(overflow.chunks(per_job))
        .map(|(bs, over)| {
            // blst's all-zero point has z = 0: infinity.
            let mut running = blst::blst_p1::default();
            let mut acc = blst::blst_p1::default();
            for (b, o) in bs.iter().zip(over).rev() {
                if !b.infinity {
                    running = g1_ops::add_affine(&running, &to_affine(b));
                }
                if !o.is_zero() {
                    running = g1_ops::add(&running, &to_jacobian(o));
                }
                acc = g1_ops::add(&acc, &running);
            }
            from_projective(&acc)
        })
        .collect()
}

/// Tables for MSMs over one fixed list of bases.
#[derive(Clone, Debug)]
struct FixedBaseMsm {
    window: u32,
    windows: usize,
    /// `table[i * windows + j] = 2^(window * j) * base_i`.
    table: Vec<G1Affine>,
}

impl FixedBaseMsm {
    /// Precomputes the tables for `bases` with `window`-bit digits (2..=20).
    fn new(bases: &[G1Affine], window: u32) -> Self {
        debug_assert!((2..=20).contains(&window));
        let windows = window_count(window);
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

    fn digits(&self, s: &BigInteger256, out: &mut Vec<i32>) {
        signed_digits(s, self.window, self.windows, out);
    }

    /// `sum scalars[i] * base_i` for the first `scalars.len()` bases,
    /// split over rayon's threads.
    fn msm(&self, scalars: &[Fr]) -> G1Projective {
        let n = scalars.len().min(self.table.len() / self.windows);
        let threads = rayon::current_num_threads().max(1);
        let chunk = n.div_ceil(threads).max(1);
        let jobs: Vec<Job<'_>> = (0..n)
            .step_by(chunk)
            .map(|lo| Job {
                table: self,
                scalars,
                range: lo..(lo + chunk).min(n),
            })
            .collect();
        jobs.par_iter()
            .map(|job| run_jobs(std::slice::from_ref(job))[0])
            .sum()
    }
}

/// One MSM, or one slice of one, to accumulate.
struct Job<'a> {
    table: &'a FixedBaseMsm,
    scalars: &'a [Fr],
    range: std::ops::Range<usize>,
}

/// Runs several MSMs of one window size together, so their bucket additions
/// share batched inversions; returns each job's sum.
fn run_jobs(jobs: &[Job<'_>]) -> Vec<G1Projective> {
    let Some(first) = jobs.first() else {
        return Vec::new();
    };
    let (window, windows) = (first.table.window, first.table.windows);
    let per_job = 1usize << (window - 1);
    let mut buckets = vec![G1Affine::zero(); per_job * jobs.len()];
    // An inversion costs as much as dozens of additions, so batches must be large; a quarter of the
    // buckets keeps collisions (projective overflow additions) near one in eight.
    let cap = (buckets.len() / 4).clamp(256, 4096);
    let mut adder = BatchAdder::new(&mut buckets, cap);
    let mut digits: Vec<Vec<i32>> = vec![Vec::with_capacity(windows); jobs.len()];
    let longest = jobs.iter().map(|j| j.range.len()).max().unwrap_or(0);
    // Interleave the jobs so consecutive additions hit different buckets.
    for step in 0..longest {
        for (ji, job) in jobs.iter().enumerate() {
            let i = job.range.start + step;
            if i >= job.range.end {
                digits[ji].clear();
                continue;
            }
            job.table.digits(&job.scalars[i].into_bigint(), &mut digits[ji]);
        }
        for w in 0..windows {
            for (ji, job) in jobs.iter().enumerate() {
                let Some(&d) = digits[ji].get(w) else { continue };
                let i = job.range.start + step;
                adder.push_digit(ji * per_job, d, job.table.table[i * windows + w]);
            }
        }
    }
    let overflow = adder.finish();
    reduce_buckets(&buckets, &overflow, per_job)
}

/// The MSMs `sum_i scalars[m][i] * base_{m,i}` for several tables at once,
/// their additions batched together and the tables split over rayon's threads.
fn msm_many(tables: &[&FixedBaseMsm], scalars: &[Vec<Fr>]) -> Vec<G1Projective> {
    let threads = rayon::current_num_threads().max(1);
    let chunk = tables.len().div_ceil(threads).max(1);
    let jobs: Vec<Job<'_>> = tables
        .iter()
        .zip(scalars)
        .map(|(t, s)| Job {
            table: t,
            scalars: s,
            range: 0..s.len().min(t.table.len() / t.windows),
        })
        .collect();
    jobs.par_chunks(chunk).flat_map_iter(run_jobs).collect()
}

/// Adds points into affine buckets, many at a time: each addition's
/// `1 / (x2 - x1)` comes from one shared inversion (Montgomery's trick), so
/// an addition costs about 6 field multiplications instead of 11. A point
/// for a bucket that already waits in the batch goes to that bucket's
/// projective overflow instead, so repetitive scalars (a blob of one value)
/// cost no more than plain projective additions.
struct BatchAdder<'a> {
    buckets: &'a mut [G1Affine],
    overflow: Vec<G1Projective>,
    /// Buckets with an addition waiting in `batch`.
    busy: Vec<u64>,
    batch: Vec<(usize, G1Affine)>,
    /// Each waiting addition's denominator `x_p - x_q` and the running
    /// product of the nonzero ones up to it.
    steps: Vec<(blst::blst_fp, blst::blst_fp)>,
    cap: usize,
}

impl<'a> BatchAdder<'a> {
    fn new(buckets: &'a mut [G1Affine], cap: usize) -> Self {
        let (n, words) = (buckets.len(), buckets.len().div_ceil(64));
        Self {
            buckets,
            overflow: vec![G1Projective::zero(); n],
            busy: vec![0; words],
            batch: Vec::with_capacity(cap),
            steps: Vec::with_capacity(cap),
            cap,
        }
    }

    /// Adds `d * p` for a signed digit `d` into the buckets starting at
    /// `first` (bucket `first + |d| - 1`, the point negated for `d < 0`).
    fn push_digit(&mut self, first: usize, d: i32, p: G1Affine) {
        match d.cmp(&0) {
            std::cmp::Ordering::Greater => self.push(first + (d - 1) as usize, p),
            std::cmp::Ordering::Less => self.push(first + (-d - 1) as usize, -p),
            std::cmp::Ordering::Equal => {}
        }
    }

    fn push(&mut self, bucket: usize, p: G1Affine) {
        let (word, bit) = (bucket / 64, 1u64 << (bucket % 64));
        if self.busy[word] & bit != 0 {
            self.overflow[bucket] += p;
        } else if self.buckets[bucket].infinity {
            self.buckets[bucket] = p;
        } else {
            self.busy[word] |= bit;
            self.batch.push((bucket, p));
            if self.batch.len() == self.cap {
                self.execute();
            }
        }
    }

    /// Performs the waiting additions: `1 / (x_p - x_q)` for the whole batch
    /// from one inversion (prefix products, then back to front).
    fn execute(&mut self) {
        use crate::blst_ops::fp_ops::{self, ONE};
        use crate::blst_ops::{fp, fq};
        let sub = |a: &blst::blst_fp, b: &blst::blst_fp| {
            let mut out = blst::blst_fp::default();
            fp_ops::sub_to(&mut out, a, b);
            out
        };
        let sqr = |a: &blst::blst_fp| {
            let mut out = blst::blst_fp::default();
            fp_ops::sqr_to(&mut out, a);
            out
        };
        self.steps.clear();
        let mut acc = ONE;
        for (b, p) in &self.batch {
            let d = sub(&fp(&p.x), &fp(&self.buckets[*b].x));
            // Equal x (doubling or cancelling) is rare: skipped here, handled below.
            if !fp_ops::is_zero(&d) {
                acc = fp_ops::mul(&acc, &d);
            }
            self.steps.push((d, acc));
        }
        let mut inv = fp_ops::inverse(&acc);
        for (i, (b, p)) in self.batch.iter().enumerate().rev() {
            let q = self.buckets[*b];
            let (px, qx) = (fp(&p.x), fp(&q.x));
            let d = self.steps[i].0;
            self.buckets[*b] = if fp_ops::is_zero(&d) {
                (q.into_group() + p).into_affine()
            } else {
                // inv is 1 / (d_0 ... d_i): times the product before i gives 1 / d_i.
                let before = if i > 0 { self.steps[i - 1].1 } else { ONE };
                let inv_d = fp_ops::mul(&inv, &before);
                inv = fp_ops::mul(&inv, &d);
                let lambda = fp_ops::mul(&sub(&fp(&p.y), &fp(&q.y)), &inv_d);
                let x3 = sub(&sub(&sqr(&lambda), &qx), &px);
                let y3 = sub(&fp_ops::mul(&lambda, &sub(&qx, &x3)), &fp(&q.y));
                G1Affine::new_unchecked(fq(&x3), fq(&y3))
            };
            self.busy[*b / 64] &= !(1u64 << (*b % 64));
        }
        self.batch.clear();
    }

    /// Performs what waits; returns each bucket's projective overflow.
    fn finish(mut self) -> Vec<G1Projective> {
        self.execute();
        self.overflow
    }
}

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
struct JacobianFft {
    /// `w^i` for `i < n/2`.
    forward: Vec<FixedScalar>,
    /// `w^-i` for `i < n/2`.
    inverse: Vec<FixedScalar>,
}

impl JacobianFft {
    fn new(domain: &Radix2EvaluationDomain<Fr>) -> Self {
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
    fn transform(&self, points: &mut [G1Projective], inverse: bool) {
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
