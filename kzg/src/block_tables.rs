//! Fixed-base MSMs over precomputed subset sums: Herold and Hagopian's
//! "horizontal blocks" (constantine's PeerDAS tables), for many small MSMs
//! such as FK20's 128 rows of 64 points.
//!
//! Each scalar is cut into digits of `stride` bits, so the MSM over `n`
//! bases becomes one over the `digits * n` bases `2^(stride * k) P_i` with
//! `stride`-bit scalars. Those are grouped `bits` at a time into blocks.
//! The digits are signed binary, every one of them 1 or -1 (see
//! [`SignedScalar`]), so bit `u` of every digit picks one of the `2^bits`
//! signed sums of a block's members; half of those are the negatives of the
//! other half, so each block stores `2^(bits - 1)` points. `S_u` is the sum
//! of the picks, one addition per block, and the MSM is `sum_u 2^u S_u` by
//! Horner (`stride - 1` doublings). So an MSM costs about `255 n / bits`
//! additions and the tables `blocks * 2^(bits - 1)` points: memory buys fewer
//! additions, where window tables (a stored point per window, buckets for the
//! digits) pay `255 n / w` additions plus `2^w` to sum their buckets.
//!
//! Every addition runs batched in affine coordinates ([`AffineAdder`]):
//! the sums of one block for every MSM and every bit share one inversion.

use ark_bls12_381::{Fr, G1Affine, G1Projective};
use ark_ff::{BigInt, BigInteger, PrimeField};
use blst::blst_p1;
use rayon::prelude::*;

use crate::batch_affine::{Affine, AffineAdder, neg, prefetch, to_jacobian};
use crate::blst_ops::g1_ops;

/// Lookups started this far ahead of their use hide most of a DRAM access.
const PREFETCH_AHEAD: usize = 16;

/// MSMs at once from which a batched affine Horner step (one inversion)
/// beats Jacobian ones.
const BATCHED_HORNER: usize = 16;

/// Scalars are below 2^255.
const SCALAR_BITS: u32 = 255;

/// The shape of a set of subset-sum tables: blocks of `bits` bases, digits
/// of `stride` bits. Each block stores `2^(bits - 1)` points (96 bytes each),
/// so a bit more per block doubles the memory and cuts the additions by about
/// `1 / bits`; a longer stride cuts the blocks (and the memory) and adds
/// doublings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockShape {
    bits: u32,
    stride: u32,
}

impl BlockShape {
    /// `bits` bases per block (1..=16) and `stride`-bit digits (1..=255);
    /// `None` outside those ranges.
    pub const fn new(bits: u32, stride: u32) -> Option<Self> {
        if bits >= 1 && bits <= 16 && stride >= 1 && stride <= SCALAR_BITS {
            Some(Self { bits, stride })
        } else {
            None
        }
    }

    /// Bases per block.
    pub fn bits(self) -> u32 {
        self.bits
    }

    /// Bits per digit.
    pub fn stride(self) -> u32 {
        self.stride
    }

    fn digits(self) -> usize {
        SCALAR_BITS.div_ceil(self.stride) as usize
    }

    /// Signed digits of every scalar: `digits * stride`, at least 255.
    fn positions(self) -> u32 {
        self.digits() as u32 * self.stride
    }

    fn blocks(self, bases: usize) -> usize {
        (self.digits() * bases).div_ceil(self.bits as usize)
    }

    /// Points stored per block.
    fn entries(self) -> usize {
        1 << (self.bits - 1)
    }

    /// Bytes of the tables for `bases` points.
    pub fn memory_bytes(self, bases: usize) -> usize {
        self.blocks(bases) * self.entries() * std::mem::size_of::<Affine>()
    }
}

/// The subset sums for MSMs over one fixed list of bases.
#[derive(Debug)]
pub(crate) struct BlockTables {
    shape: BlockShape,
    bases: usize,
    /// Block `b`'s sums at `table[b << (bits - 1) ..][..1 << (bits - 1)]`:
    /// entry `m` is the block's last member plus, for each other member `q`,
    /// that member when bit `q` of `m` is set and its negative when not. A
    /// member past the last base is infinity.
    table: Vec<Affine>,
}

/// `2^(stride * k) P_i` at `k * n + i`, in affine form.
fn extended_bases(bases: &[Affine], shape: BlockShape) -> Vec<Affine> {
    let n = bases.len();
    let digits = shape.digits();
    let mut jacobian = vec![blst_p1::default(); digits * n];
    for (i, base) in bases.iter().enumerate() {
        let mut cur = to_jacobian(base);
        for k in 0..digits {
            jacobian[k * n + i] = cur;
            for _ in 0..shape.stride {
                cur = g1_ops::double(&cur);
            }
        }
    }
    g1_ops::batch_to_affine(&jacobian)
}

/// `len` points at infinity, on memory the kernel is asked to back with
/// 2 MiB pages: lookups land anywhere in hundreds of MiB, and on 4 KiB pages
/// nearly every one also misses the TLB (Linux backs only advised memory so
/// when transparent huge pages are in their default `madvise` mode).
fn huge_page_vec(len: usize) -> Vec<Affine> {
    let mut v: Vec<Affine> = Vec::with_capacity(len);
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = v.as_mut_ptr() as usize;
        let end = start + len * std::mem::size_of::<Affine>();
        let first = start.next_multiple_of(HUGE);
        let last = end - end % HUGE;
        if last > first {
            // SAFETY: the range lies in the vector's own (not yet touched) allocation,
            // and the advice changes how it is backed, never its contents.
            unsafe { libc::madvise(first as *mut libc::c_void, last - first, libc::MADV_HUGEPAGE) };
        }
    }
    v.resize(len, Affine::default());
    v
}

impl BlockTables {
    /// Builds the tables for `bases` (about `blocks * 2^(bits - 1)` batched additions).
    pub(crate) fn new(bases: &[Affine], shape: BlockShape) -> Self {
        let bits = shape.bits as usize;
        let mut members = extended_bases(bases, shape);
        // Past the last base, infinity: every block has `bits` members.
        members.resize(shape.blocks(bases.len()) * bits, Affine::default());
        // Entry 0 of each block: its last member minus all the others.
        let first: Vec<blst_p1> = members
            .par_chunks(bits)
            .map(|m| {
                let (last, rest) = m.split_last().expect("blocks have at least one member");
                rest.iter()
                    .fold(to_jacobian(last), |acc, p| g1_ops::add_affine(&acc, &neg(p)))
            })
            .collect();
        let first = g1_ops::batch_to_affine(&first);
        // The members are needed only doubled from here on.
        let mut doubled = members;
        AffineAdder::default().double_all(&mut doubled);
        let size = shape.entries();
        let mut table = huge_page_vec(first.len() * size);
        table
            .par_chunks_mut(size)
            .zip(doubled.par_chunks(bits))
            .zip(&first)
            .for_each(|((sums, doubled), first)| {
                sums[0] = *first;
                let mut adder = AffineAdder::default();
                // Entries 2^q .. 2^(q+1) are entries 0 .. 2^q with member q's sign
                // turned from minus to plus: plus twice member q.
                for (q, p) in doubled[..bits - 1].iter().enumerate() {
                    let (low, high) = sums.split_at_mut(1 << q);
                    let high = &mut high[..1 << q];
                    high.copy_from_slice(low);
                    for r in 0..high.len() {
                        adder.push(high, r, p);
                    }
                    adder.flush(high);
                }
            });
        Self {
            shape,
            bases: bases.len(),
            table,
        }
    }

    /// `sum_i scalars[i] * base_i` (at most as many scalars as bases), the
    /// blocks split over rayon's threads.
    pub(crate) fn msm(&self, scalars: &[Fr]) -> blst_p1 {
        let signed = SignedScalar::all(scalars, self.shape);
        let blocks = self.shape.blocks(self.bases);
        let threads = rayon::current_num_threads().max(1);
        let chunk = blocks.div_ceil(threads).max(1);
        (0..blocks)
            .step_by(chunk)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|lo| to_jacobian(&run(&[self], &[&signed], lo..(lo + chunk).min(blocks))[0]))
            .reduce(blst_p1::default, |a, b| g1_ops::add(&a, &b))
    }

    /// Bytes the stored sums take.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.table.len() * std::mem::size_of::<Affine>()
    }
}

/// A scalar `k < r` as `L` signed binary digits, each 1 or -1 (`L` the
/// shape's positions, at least 255): digit `i` is `2 b_i - 1` for the bits
/// `b_i` of `k' = (s - 1) / 2 + 2^(L - 1)`, where `s` is `k` when `k` is odd
/// and `k - r` (odd, and the same multiple of any point of G1) when it is
/// even. Then `sum_i (2 b_i - 1) 2^i = 2 k' - 2^L + 1 = s`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SignedScalar {
    /// The bits of `k'`, little-endian (`L < 512`).
    limbs: [u64; 8],
}

impl SignedScalar {
    pub(crate) fn new(k: &BigInt<4>, positions: u32) -> Self {
        debug_assert!((255..512).contains(&positions));
        // |s - 1| / 2, below 2^254: (k - 1) / 2 for odd k, (r + 1 - k) / 2 for even k.
        let (mut half, negative) = if k.is_odd() {
            (*k, false)
        } else {
            let mut t = Fr::MODULUS;
            t.sub_with_borrow(k);
            t.add_with_carry(&BigInt::from(1u64));
            (t, true)
        };
        half.div2();
        let top = (positions - 1) as usize;
        let mut limbs = BigInt::<8>::zero();
        limbs.0[top / 64] = 1 << (top % 64);
        let half = BigInt::<8>(std::array::from_fn(|i| half.0.get(i).copied().unwrap_or(0)));
        if negative {
            limbs.sub_with_borrow(&half);
        } else {
            limbs.add_with_carry(&half);
        }
        Self { limbs: limbs.0 }
    }

    /// Each scalar's digits at the positions of `shape`.
    fn all(scalars: &[Fr], shape: BlockShape) -> Vec<Self> {
        let positions = shape.positions();
        scalars
            .iter()
            .map(|s| Self::new(&s.into_bigint(), positions))
            .collect()
    }

    /// The signs of digits `lo .. lo + width` (bit set: plus), `width <= 64`.
    fn plus_at(&self, lo: u32, width: u32) -> u64 {
        let (limb, shift) = ((lo / 64) as usize, lo % 64);
        let Some(&low) = self.limbs.get(limb) else {
            return 0;
        };
        let mut x = low >> shift;
        if shift > 0
            && let Some(&next) = self.limbs.get(limb + 1)
        {
            x |= next << (64 - shift);
        }
        if width < 64 { x & ((1u64 << width) - 1) } else { x }
    }
}

/// `sum_i scalars[m][i] * base_{m,i}` for each table `m` (all of one shape
/// and at most as many scalars as bases), the tables split over rayon's threads.
pub(crate) fn msm_many(tables: &[&BlockTables], scalars: &[&[Fr]]) -> Vec<Affine> {
    let Some(first) = tables.first() else {
        return Vec::new();
    };
    let blocks = first.shape.blocks(first.bases);
    let signed: Vec<Vec<SignedScalar>> = scalars
        .iter()
        .map(|s| SignedScalar::all(s, first.shape))
        .collect();
    let signed: Vec<&[SignedScalar]> = signed.iter().map(Vec::as_slice).collect();
    let threads = rayon::current_num_threads().max(1);
    let chunk = tables.len().div_ceil(threads).max(1);
    tables
        .par_chunks(chunk)
        .zip(signed.par_chunks(chunk))
        .flat_map_iter(|(t, s)| run(t, s, 0..blocks))
        .collect()
}

/// The MSMs of one thread over `blocks` of their tables (all of them for
/// whole MSMs), their additions batched together.
fn run(tables: &[&BlockTables], scalars: &[&[SignedScalar]], blocks: std::ops::Range<usize>) -> Vec<Affine> {
    let Some(first) = tables.first() else {
        return Vec::new();
    };
    let shape = first.shape;
    let (stride, bits) = (shape.stride as usize, shape.bits as usize);
    let n = first.bases;
    debug_assert!(tables.iter().all(|t| t.shape == shape && t.bases == n));
    let (lo, count) = (blocks.start, blocks.len());
    // A base past the scalars given has scalar 0 (its digits are signed too).
    let zero = SignedScalar::new(&BigInt::zero(), shape.positions());
    // For each MSM, block and bit u: which members' digits are plus at bit u.
    let mut picks = vec![0u16; tables.len() * count * stride];
    let members = lo * bits..((lo + count) * bits).min(shape.digits() * n);
    for (j, s) in scalars.iter().enumerate() {
        let picks = &mut picks[j * count * stride..][..count * stride];
        for e in members.clone() {
            let (k, i) = (e / n, e % n);
            let signed = s.get(i).unwrap_or(&zero);
            let (block, member) = (e / bits - lo, e % bits);
            // The digit's signs, 64 at a time.
            for low in (0..shape.stride).step_by(64) {
                let width = (shape.stride - low).min(64);
                let mut word = signed.plus_at(k as u32 * shape.stride + low, width);
                while word != 0 {
                    let u = low as usize + word.trailing_zeros() as usize;
                    picks[block * stride + u] |= 1 << member;
                    word &= word - 1;
                }
            }
        }
    }
    // S_u of each MSM at sums[j * stride + u], block by block.
    let mut sums = vec![Affine::default(); tables.len() * stride];
    let mut adder = AffineAdder::default();
    let entries = shape.entries();
    let mask = entries - 1;
    // (slot, stored sum, whether its negative is the pick)
    let mut round: Vec<(usize, &Affine, bool)> = Vec::with_capacity(tables.len() * stride);
    for block in 0..count {
        round.clear();
        for (j, t) in tables.iter().enumerate() {
            let stored = &t.table[(lo + block) * entries..][..entries];
            let picks = &picks[(j * count + block) * stride..][..stride];
            for (u, &pick) in picks.iter().enumerate() {
                let pick = usize::from(pick);
                // Last member minus: the negative of the entry with every sign turned.
                round.push(if pick >> (bits - 1) & 1 == 1 {
                    (j * stride + u, &stored[pick & mask], false)
                } else {
                    (j * stride + u, &stored[!pick & mask], true)
                });
            }
        }
        for (k, &(slot, p, minus)) in round.iter().enumerate() {
            if let Some((_, ahead, _)) = round.get(k + PREFETCH_AHEAD) {
                prefetch(ahead);
            }
            adder.push_signed(&mut sums, slot, p, minus);
        }
        adder.flush(&mut sums);
    }
    // sum_u 2^u S_u by Horner.
    if tables.len() < BATCHED_HORNER {
        // Too few MSMs to share an inversion: Jacobian steps.
        return sums
            .chunks_exact(stride)
            .map(|s| {
                let acc = s.iter().rev().fold(blst_p1::default(), |acc, x| {
                    g1_ops::add_affine(&g1_ops::double(&acc), x)
                });
                g1_ops::batch_to_affine(&[acc])[0]
            })
            .collect();
    }
    // Every MSM's step batched with the others'.
    let mut accs: Vec<Affine> = (0..tables.len()).map(|j| sums[j * stride + stride - 1]).collect();
    for u in (0..stride - 1).rev() {
        adder.double_all(&mut accs);
        for (j, acc) in sums.chunks_exact(stride).enumerate() {
            adder.push(&mut accs, j, &acc[u]);
        }
        adder.flush(&mut accs);
    }
    accs
}

/// Tables over fixed bases, built on first use, or Pippenger's method without a shape.
#[derive(Debug)]
pub(crate) struct LazyBlockTables {
    bases: Vec<G1Affine>,
    shape: Option<BlockShape>,
    tables: std::sync::OnceLock<BlockTables>,
}

impl LazyBlockTables {
    pub(crate) fn new(bases: Vec<G1Affine>, shape: Option<BlockShape>) -> Self {
        Self {
            bases,
            shape,
            tables: std::sync::OnceLock::new(),
        }
    }

    /// The tables, built on first use (off rayon's global pool); `None` without a shape.
    pub(crate) fn tables(&self) -> Option<&BlockTables> {
        let shape = self.shape?;
        Some(self.tables.get_or_init(|| {
            crate::init_off_global_pool(|| {
                let affine: Vec<Affine> = self.bases.iter().map(crate::blst_ops::to_affine).collect();
                BlockTables::new(&affine, shape)
            })
        }))
    }

    /// The bases, for the bench's old path.
    #[cfg(feature = "bench-legacy")]
    pub(crate) fn bases(&self) -> &[G1Affine] {
        &self.bases
    }

    /// `sum_i scalars[i] * base_i` for the first `scalars.len()` bases.
    pub(crate) fn msm(&self, scalars: &[Fr]) -> G1Projective {
        match self.tables() {
            Some(tables) => crate::blst_ops::from_projective(&tables.msm(scalars)),
            None => crate::blst_ops::msm(&self.bases[..scalars.len()], scalars),
        }
    }

    /// [`LazyBlockTables::msm`] for several scalar vectors, their table
    /// reads and additions batched together.
    pub(crate) fn msms(&self, scalars: &[&[Fr]]) -> Vec<G1Affine> {
        match self.tables() {
            Some(tables) if scalars.len() > 1 => msm_many(&vec![tables; scalars.len()], scalars)
                .iter()
                .map(crate::blst_ops::from_affine)
                .collect(),
            _ => scalars
                .iter()
                .map(|s| ark_ec::CurveGroup::into_affine(self.msm(s)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blst_ops::tests::{random_fr, random_g1};
    use ark_ec::VariableBaseMSM;
    use ark_ff::{AdditiveGroup, Zero};
    use rand::SeedableRng;

    #[test]
    fn signed_digits_add_up_to_the_scalar_at_every_length() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let two_128 = ark_ff::Field::pow(&Fr::from(2u64), [128u64]);
        // Both parities, the ends of the range and random scalars.
        let mut scalars = vec![
            Fr::zero(),
            Fr::from(1u64),
            Fr::from(2u64),
            -Fr::from(1u64),
            -Fr::from(2u64),
            two_128,
            two_128 + Fr::from(1u64),
        ];
        scalars.extend((0..20).map(|_| random_fr(&mut rng)));
        for positions in [255, 256, 300, 400, 510] {
            for k in &scalars {
                let signed = SignedScalar::new(&k.into_bigint(), positions);
                // sum_i (2 b_i - 1) 2^i by Horner from the top digit.
                let sum = (0..positions).rev().fold(Fr::zero(), |acc, i| {
                    let plus = signed.plus_at(i, 1) == 1;
                    acc.double() + if plus { Fr::from(1u64) } else { -Fr::from(1u64) }
                });
                assert_eq!(sum, *k, "{positions} digits");
                assert_eq!(signed.plus_at(positions, 64), 0, "nothing above the top digit");
            }
        }
    }

    #[test]
    fn block_msms_match_arkworks_for_every_shape_and_special_scalar() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let n = 19;
        let bases: Vec<G1Affine> = (0..n).map(|_| random_g1(&mut rng)).collect();
        let affine: Vec<Affine> = bases.iter().map(crate::blst_ops::to_affine).collect();
        let mut scalar_sets: Vec<Vec<Fr>> = vec![
            (0..n).map(|_| random_fr(&mut rng)).collect(),
            vec![Fr::zero(); n],
            vec![-Fr::from(1u64); n],
            (0..n).map(|i| Fr::from(i as u64)).collect(),
        ];
        // Fewer scalars than bases.
        scalar_sets.push((0..5).map(|_| random_fr(&mut rng)).collect());
        for shape in [
            BlockShape::new(1, 64).expect("valid"),
            BlockShape::new(5, 7).expect("valid"),
            BlockShape::new(8, 32).expect("valid"),
            BlockShape::new(12, 64).expect("valid"),
            BlockShape::new(3, 1).expect("valid"),
            BlockShape::new(6, 85).expect("valid"),
            BlockShape::new(9, 200).expect("valid"),
            BlockShape::new(2, 255).expect("valid"),
        ] {
            let tables = BlockTables::new(&affine, shape);
            assert_eq!(
                tables.table.len() * std::mem::size_of::<Affine>(),
                shape.memory_bytes(n)
            );
            let refs: Vec<&BlockTables> = scalar_sets.iter().map(|_| &tables).collect();
            let slices: Vec<&[Fr]> = scalar_sets.iter().map(Vec::as_slice).collect();
            let got = msm_many(&refs, &slices);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .build()
                .expect("pool");
            for (g, s) in got.iter().zip(&scalar_sets) {
                let want = G1Projective::msm(&bases[..s.len()], s).expect("lengths match");
                let want = crate::blst_ops::to_affine(&ark_ec::CurveGroup::into_affine(want));
                assert_eq!(*g, want, "{shape:?}");
                // One MSM, its blocks split over threads.
                let single = pool.install(|| tables.msm(s));
                assert_eq!(crate::batch_affine::to_affine(&single), want, "{shape:?}");
            }
        }
    }
}
