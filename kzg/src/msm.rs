//! Multi-scalar multiplication over fixed bases with precomputed tables.
//!
//! The setup points never change, so each base `P_i` is stored with its
//! shifts `2^(c*j) * P_i` for every `c`-bit window `j`. An MSM then needs no
//! doublings at all: every (base, window) pair drops its signed digit into
//! one shared set of `2^(c-1)` buckets, which are summed once at the end.
//! For `n` bases that is about `n * 256 / c + 2^c` mixed additions, against
//! Pippenger's `256 / c * (n + 2^c)` plus 256 doublings.

use ark_bls12_381::{Fr, G1Affine, G1Projective};
use ark_ec::{AdditiveGroup, AffineRepr, CurveGroup};
use ark_ff::{BigInteger, BigInteger256, PrimeField, Zero};
use rayon::prelude::*;

use crate::blst_ops::{g1_ops, to_affine};

/// Scalars are below 2^255.
const SCALAR_BITS: u32 = 255;

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

/// Multiples of one fixed point for single multiplications: `d * 256^j * P`
/// for every byte `d` of every window `j` (32 x 255 affine points, 765 KiB),
/// so `s * P` is 32 mixed additions and no doublings (4-bit digits would
/// take 64).
#[derive(Clone, Debug)]
pub(crate) struct G1Comb {
    table: Vec<blst::blst_p1_affine>,
}

impl G1Comb {
    const WINDOWS: usize = 32;
    const DIGITS: usize = 255;

    pub(crate) fn new(p: &G1Affine) -> Self {
        let mut multiples = Vec::with_capacity(Self::WINDOWS * Self::DIGITS);
        let mut base = p.into_group();
        for _ in 0..Self::WINDOWS {
            let mut m = base;
            for _ in 0..Self::DIGITS {
                multiples.push(m);
                m += base;
            }
            base = m; // 256 * base
        }
        Self {
            table: G1Projective::normalize_batch(&multiples)
                .iter()
                .map(to_affine)
                .collect(),
        }
    }

    /// `s * P` in variable time (for verification: nothing secret).
    pub(crate) fn mul(&self, s: &Fr) -> blst::blst_p1 {
        let bytes = s.into_bigint().to_bytes_le();
        // blst's all-zero point has z = 0: infinity.
        let mut acc = blst::blst_p1::default();
        for (j, &d) in bytes.iter().enumerate().take(Self::WINDOWS) {
            let d = usize::from(d);
            if d != 0 {
                acc = g1_ops::add_affine(&acc, &self.table[j * Self::DIGITS + d - 1]);
            }
        }
        acc
    }
}

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
    pub(crate) fn msm(&self, scalars: &[Fr]) -> G1Projective {
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
pub(crate) struct Job<'a> {
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
pub(crate) fn msm_many(tables: &[&FixedBaseMsm], scalars: &[Vec<Fr>]) -> Vec<G1Projective> {
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
        self.steps.clear();
        let mut acc = ONE;
        for (b, p) in &self.batch {
            let d = fp_ops::sub(&fp(&p.x), &fp(&self.buckets[*b].x));
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
                let lambda = fp_ops::mul(&fp_ops::sub(&fp(&p.y), &fp(&q.y)), &inv_d);
                let x3 = fp_ops::sub(&fp_ops::sub(&fp_ops::sqr(&lambda), &qx), &px);
                let y3 = fp_ops::sub(&fp_ops::mul(&lambda, &fp_ops::sub(&qx, &x3)), &fp(&q.y));
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

/// An MSM over fixed `bases`, with tables built on first use when a window is set.
#[derive(Debug)]
pub(crate) struct G1Msm {
    bases: Vec<G1Affine>,
    window: Option<u32>,
    tables: std::sync::OnceLock<FixedBaseMsm>,
}

impl G1Msm {
    pub(crate) fn new(bases: Vec<G1Affine>, window: Option<u32>) -> Self {
        Self {
            bases,
            window,
            tables: std::sync::OnceLock::new(),
        }
    }

    /// Builds the tables now (a no-op without a window).
    pub(crate) fn build_tables(&self) {
        let _tables = self.tables();
    }

    /// The tables, built on first use; `None` without a window.
    pub(crate) fn tables(&self) -> Option<&FixedBaseMsm> {
        self.window.map(|w| {
            self.tables
                .get_or_init(|| crate::init_off_global_pool(|| FixedBaseMsm::new(&self.bases, w)))
        })
    }

    pub(crate) fn msm(&self, scalars: &[Fr]) -> G1Projective {
        match self.tables() {
            Some(tables) => tables.msm(scalars),
            None => crate::blst_ops::msm(&self.bases[..scalars.len()], scalars),
        }
    }

    /// Bytes the tables take once built.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.window.map_or(0, |w| {
            self.bases.len() * window_count(w) * std::mem::size_of::<G1Affine>()
        })
    }
}
