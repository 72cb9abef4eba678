//! A GF(2^16) engine for reed-solomon-simd on GFNI and AVX-512: multiplication by a
//! constant is a 16×16 bit matrix over GF(2), applied to a 64-byte chunk (32 low bytes,
//! 32 high bytes, reed-solomon-simd's layout) with two `vgf2p8affineqb` (each 64-bit
//! lane carries its own 8×8 block), one lane swap and one XOR, where the AVX2 engine
//! spends eight table shuffles. The transforms run the same butterflies on the same
//! skew factors as reed-solomon-simd's engines (Lin–Han–Chung's additive FFT, as in
//! Leopard), two layers per pass, depth first so small blocks stay in L1, and every
//! output byte is theirs.

use std::sync::OnceLock;

use reed_solomon_simd::engine::tables::{self, Skew};
use reed_solomon_simd::engine::{Engine, GF_MODULUS, GF_ORDER, GfElement, ShardsRefMut};

/// The four 8×8 blocks of multiplication by one constant, as `vgf2p8affineqb` takes
/// them: `[low bytes' half, high bytes' half]` of two operands.
#[derive(Clone, Copy, Default)]
struct Blocks {
    /// Low bytes → low bytes, high bytes → high bytes.
    direct: [u64; 2],
    /// High bytes → low bytes, low bytes → high bytes (applied to the swapped chunk).
    crossed: [u64; 2],
}

/// The blocks of every multiplier, by its logarithm (2 MiB, built once).
fn all_blocks() -> &'static [Blocks] {
    static BLOCKS: OnceLock<Vec<Blocks>> = OnceLock::new();
    BLOCKS.get_or_init(|| {
        let tables::ExpLog { exp, log } = tables::get_exp_log();
        (0..GF_ORDER)
            .map(|log_m| {
                // Column j of the matrix: the product of basis element j.
                let cols: [GfElement; 16] =
                    std::array::from_fn(|j| tables::mul(1 << j, log_m as GfElement, exp, log));
                // vgf2p8affineqb: output bit i of a byte is the parity of (byte 7 - i of the block) & input.
                let block = |out_hi: bool, in_hi: bool| {
                    let mut q = 0u64;
                    for i in 0..8 {
                        let row = (0..8).fold(0u64, |row, j| {
                            let col = cols[j + 8 * usize::from(in_hi)];
                            row | (u64::from((col >> (i + 8 * usize::from(out_hi))) & 1) << j)
                        });
                        q |= row << (8 * (7 - i));
                    }
                    q
                };
                Blocks {
                    direct: [block(false, false), block(true, true)],
                    crossed: [block(false, true), block(true, false)],
                }
            })
            .collect()
    })
}

/// reed-solomon-simd's [`Engine`] on GFNI and AVX-512F. Build it with [`Gfni::new`],
/// which checks the CPU.
#[derive(Clone, Copy)]
pub struct Gfni {
    blocks: &'static [Blocks],
    skew: &'static Skew,
}

impl Gfni {
    /// The engine, when this CPU has GFNI and AVX-512F.
    pub fn new() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("gfni") && std::arch::is_x86_feature_detected!("avx512f") {
            return Some(Self {
                blocks: all_blocks(),
                skew: tables::get_skew(),
            });
        }
        None
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    use super::Blocks;

    /// Multiplication by one constant, in registers.
    #[derive(Clone, Copy)]
    pub(super) struct Mul {
        direct: __m512i,
        crossed: __m512i,
    }

    impl Mul {
        /// # Safety
        /// The CPU must have AVX-512F (callers are compiled with it and reached only after detection).
        #[inline(always)]
        pub(super) unsafe fn new(b: &Blocks) -> Self {
            let [dl, dh] = b.direct;
            let [cl, ch] = b.crossed;
            // SAFETY: the caller guarantees AVX-512F.
            unsafe {
                Self {
                    direct: _mm512_set_epi64(
                        dh as i64, dh as i64, dh as i64, dh as i64, dl as i64, dl as i64, dl as i64,
                        dl as i64,
                    ),
                    crossed: _mm512_set_epi64(
                        ch as i64, ch as i64, ch as i64, ch as i64, cl as i64, cl as i64, cl as i64,
                        cl as i64,
                    ),
                }
            }
        }

        /// `v * m` for one chunk `[low bytes | high bytes]`.
        ///
        /// # Safety
        /// The CPU must have GFNI and AVX-512F.
        #[inline(always)]
        pub(super) unsafe fn apply(self, v: __m512i) -> __m512i {
            // SAFETY: the caller guarantees GFNI and AVX-512F.
            unsafe {
                let swapped = _mm512_shuffle_i64x2::<0b01_00_11_10>(v, v);
                _mm512_xor_si512(
                    _mm512_gf2p8affine_epi64_epi8::<0>(v, self.direct),
                    _mm512_gf2p8affine_epi64_epi8::<0>(swapped, self.crossed),
                )
            }
        }
    }

    /// # Safety
    /// `p` must be valid for reads of 64 bytes and the CPU must have AVX-512F.
    #[inline(always)]
    pub(super) unsafe fn load(p: &[u8; 64]) -> __m512i {
        // SAFETY: the caller guarantees the CPU; `p` is 64 bytes.
        unsafe { _mm512_loadu_si512(p.as_ptr().cast()) }
    }

    /// # Safety
    /// The CPU must have AVX-512F.
    #[inline(always)]
    pub(super) unsafe fn store(p: &mut [u8; 64], v: __m512i) {
        // SAFETY: the caller guarantees the CPU; `p` is 64 bytes.
        unsafe { _mm512_storeu_si512(p.as_mut_ptr().cast(), v) }
    }

    /// # Safety
    /// The CPU must have AVX-512F.
    #[inline(always)]
    pub(super) unsafe fn xor(a: __m512i, b: __m512i) -> __m512i {
        // SAFETY: the caller guarantees the CPU.
        unsafe { _mm512_xor_si512(a, b) }
    }
}

/// One butterfly's multiplier: `None` when its logarithm is the modulus (a zero factor).
type Factor = Option<simd::Mul>;

/// Where a transform's shards are: reed-solomon-simd's one contiguous buffer
/// ([`ShardsRefMut`]), or one column block of separate buffers ([`RowList`]).
pub(crate) trait Rows {
    /// Shards `i` and `i + dist`.
    fn pair(&mut self, i: usize, dist: usize) -> (&mut [[u8; 64]], &mut [[u8; 64]]);
    /// Shards `i`, `i + dist`, `i + 2 dist` and `i + 3 dist`.
    #[allow(clippy::type_complexity)]
    fn quad(
        &mut self,
        i: usize,
        dist: usize,
    ) -> (&mut [[u8; 64]], &mut [[u8; 64]], &mut [[u8; 64]], &mut [[u8; 64]]);
}

impl Rows for ShardsRefMut<'_> {
    fn pair(&mut self, i: usize, dist: usize) -> (&mut [[u8; 64]], &mut [[u8; 64]]) {
        self.dist2_mut(i, dist)
    }

    fn quad(
        &mut self,
        i: usize,
        dist: usize,
    ) -> (&mut [[u8; 64]], &mut [[u8; 64]], &mut [[u8; 64]], &mut [[u8; 64]]) {
        self.dist4_mut(i, dist)
    }
}

/// Shards as a list of equally long slices, anywhere in memory.
pub(crate) struct RowList<'a, 'b>(pub(crate) &'a mut [&'b mut [[u8; 64]]]);

impl Rows for RowList<'_, '_> {
    fn pair(&mut self, i: usize, dist: usize) -> (&mut [[u8; 64]], &mut [[u8; 64]]) {
        let (a, b) = self.0[i..].split_at_mut(dist);
        (&mut *a[0], &mut *b[0])
    }

    fn quad(
        &mut self,
        i: usize,
        dist: usize,
    ) -> (&mut [[u8; 64]], &mut [[u8; 64]], &mut [[u8; 64]], &mut [[u8; 64]]) {
        let (ab, cd) = self.0[i..].split_at_mut(2 * dist);
        let (a, b) = ab.split_at_mut(dist);
        let (c, d) = cd.split_at_mut(dist);
        (&mut *a[0], &mut *b[0], &mut *c[0], &mut *d[0])
    }
}

impl Gfni {
    /// # Safety
    /// The CPU must have AVX-512F (true of every `Gfni`).
    #[inline(always)]
    unsafe fn factor(&self, log_m: GfElement) -> Factor {
        // SAFETY: forwarded from the caller.
        (log_m != GF_MODULUS).then(|| unsafe { simd::Mul::new(&self.blocks[usize::from(log_m)]) })
    }

    /// The factors of the radix-4 group at `r` with distance `dist`: `(m01, m02, m23)`.
    ///
    /// # Safety
    /// The CPU must have AVX-512F (true of every `Gfni`).
    #[inline(always)]
    unsafe fn quad_factors(&self, r: usize, dist: usize, skew_delta: usize) -> (Factor, Factor, Factor) {
        let base = r + dist + skew_delta - 1;
        // SAFETY: forwarded from the caller.
        unsafe {
            (
                self.factor(self.skew[base]),
                self.factor(self.skew[base + dist]),
                self.factor(self.skew[base + 2 * dist]),
            )
        }
    }

    /// Forward butterflies over chunk pairs: `x ^= y * m` (unless m is zero), `y ^= x`.
    #[target_feature(enable = "gfni,avx512f")]
    unsafe fn fft_pairs(x: &mut [[u8; 64]], y: &mut [[u8; 64]], m: Factor) {
        for (x, y) in x.iter_mut().zip(y.iter_mut()) {
            // SAFETY: this function is compiled for, and only called on, GFNI and AVX-512F.
            unsafe {
                let (mut a, mut b) = (simd::load(x), simd::load(y));
                if let Some(m) = m {
                    a = simd::xor(a, m.apply(b));
                }
                b = simd::xor(b, a);
                simd::store(x, a);
                simd::store(y, b);
            }
        }
    }

    /// Two forward layers over four runs of chunks at once, each chunk loaded and
    /// stored once: `(s0, s2)` and `(s1, s3)` by `m02`, then `(s0, s1)` by `m01`
    /// and `(s2, s3)` by `m23`.
    #[target_feature(enable = "gfni,avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn fft_quads(
        s0: &mut [[u8; 64]],
        s1: &mut [[u8; 64]],
        s2: &mut [[u8; 64]],
        s3: &mut [[u8; 64]],
        m01: Factor,
        m23: Factor,
        m02: Factor,
    ) {
        let quads = s0
            .iter_mut()
            .zip(s1.iter_mut())
            .zip(s2.iter_mut().zip(s3.iter_mut()));
        for ((c0, c1), (c2, c3)) in quads {
            // SAFETY: this function is compiled for, and only called on, GFNI and AVX-512F.
            unsafe {
                let (mut a, mut b, mut c, mut d) =
                    (simd::load(c0), simd::load(c1), simd::load(c2), simd::load(c3));
                if let Some(m) = m02 {
                    a = simd::xor(a, m.apply(c));
                    b = simd::xor(b, m.apply(d));
                }
                c = simd::xor(c, a);
                d = simd::xor(d, b);
                if let Some(m) = m01 {
                    a = simd::xor(a, m.apply(b));
                }
                b = simd::xor(b, a);
                if let Some(m) = m23 {
                    c = simd::xor(c, m.apply(d));
                }
                d = simd::xor(d, c);
                simd::store(c0, a);
                simd::store(c1, b);
                simd::store(c2, c);
                simd::store(c3, d);
            }
        }
    }

    /// Inverse butterflies over chunk pairs: `y ^= x`, then `x ^= y * m` (unless m is zero).
    #[target_feature(enable = "gfni,avx512f")]
    unsafe fn ifft_pairs(x: &mut [[u8; 64]], y: &mut [[u8; 64]], m: Factor) {
        for (x, y) in x.iter_mut().zip(y.iter_mut()) {
            // SAFETY: this function is compiled for, and only called on, GFNI and AVX-512F.
            unsafe {
                let (mut a, mut b) = (simd::load(x), simd::load(y));
                b = simd::xor(b, a);
                if let Some(m) = m {
                    a = simd::xor(a, m.apply(b));
                }
                simd::store(x, a);
                simd::store(y, b);
            }
        }
    }

    /// Two inverse layers over four runs at once: `(s0, s1)` by `m01` and `(s2, s3)`
    /// by `m23`, then `(s0, s2)` and `(s1, s3)` by `m02`.
    #[target_feature(enable = "gfni,avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn ifft_quads(
        s0: &mut [[u8; 64]],
        s1: &mut [[u8; 64]],
        s2: &mut [[u8; 64]],
        s3: &mut [[u8; 64]],
        m01: Factor,
        m23: Factor,
        m02: Factor,
    ) {
        let quads = s0
            .iter_mut()
            .zip(s1.iter_mut())
            .zip(s2.iter_mut().zip(s3.iter_mut()));
        for ((c0, c1), (c2, c3)) in quads {
            // SAFETY: this function is compiled for, and only called on, GFNI and AVX-512F.
            unsafe {
                let (mut a, mut b, mut c, mut d) =
                    (simd::load(c0), simd::load(c1), simd::load(c2), simd::load(c3));
                b = simd::xor(b, a);
                if let Some(m) = m01 {
                    a = simd::xor(a, m.apply(b));
                }
                d = simd::xor(d, c);
                if let Some(m) = m23 {
                    c = simd::xor(c, m.apply(d));
                }
                c = simd::xor(c, a);
                d = simd::xor(d, b);
                if let Some(m) = m02 {
                    a = simd::xor(a, m.apply(c));
                    b = simd::xor(b, m.apply(d));
                }
                simd::store(c0, a);
                simd::store(c1, b);
                simd::store(c2, c);
                simd::store(c3, d);
            }
        }
    }

    /// The FFT of `size` shards from `pos`, depth first: the top two layers over the
    /// whole block, then each quarter to the end before the next, so once a quarter
    /// fits in L1 the rest of its layers run there. The butterflies, factors and
    /// truncation are reed-solomon-simd's (radix 4 while two layers remain, one
    /// radix-2 layer last for an odd power of two), only their order differs, and no
    /// butterfly reads what another of its layer writes.
    #[target_feature(enable = "gfni,avx512f")]
    unsafe fn fft_gfni(
        &self,
        data: &mut impl Rows,
        pos: usize,
        size: usize,
        truncated: usize,
        skew_delta: usize,
    ) {
        // SAFETY: compiled for GFNI and AVX-512F, as `fft_block` needs.
        unsafe { self.fft_block(data, pos, 0, size, truncated, skew_delta) }
    }

    /// One block of [`Gfni::fft_gfni`]: shards `pos + r..pos + r + size`.
    #[target_feature(enable = "gfni,avx512f")]
    unsafe fn fft_block(
        &self,
        data: &mut impl Rows,
        pos: usize,
        r: usize,
        size: usize,
        truncated: usize,
        skew_delta: usize,
    ) {
        if size >= 4 {
            let dist = size / 4;
            // SAFETY: this function is compiled for GFNI and AVX-512F, and `self` exists only on such CPUs.
            let (m01, m02, m23) = unsafe { self.quad_factors(r, dist, skew_delta) };
            for i in r..r + dist {
                let (s0, s1, s2, s3) = data.quad(pos + i, dist);
                // SAFETY: as above.
                unsafe { Self::fft_quads(s0, s1, s2, s3, m01, m23, m02) };
            }
            for q in (r..r + size).step_by(dist).take_while(|&q| q < truncated) {
                // SAFETY: as above.
                unsafe { self.fft_block(data, pos, q, dist, truncated, skew_delta) };
            }
        } else if size == 2 {
            // SAFETY: as above.
            let m = unsafe { self.factor(self.skew[r + skew_delta]) };
            let (x, y) = data.pair(pos + r, 1);
            // SAFETY: as above.
            unsafe { Self::fft_pairs(x, y, m) };
        }
    }

    /// The IFFT of `size` shards from `pos`, depth first (the mirror of
    /// [`Gfni::fft_gfni`]): each quarter to its top before the two layers over the
    /// block; for an odd power of two the last layer is one radix-2 layer over all of it.
    #[target_feature(enable = "gfni,avx512f")]
    unsafe fn ifft_gfni(
        &self,
        data: &mut impl Rows,
        pos: usize,
        size: usize,
        truncated: usize,
        skew_delta: usize,
    ) {
        if size.trailing_zeros().is_multiple_of(2) {
            // SAFETY: compiled for GFNI and AVX-512F, as `ifft_block` needs.
            return unsafe { self.ifft_block(data, pos, 0, size, truncated, skew_delta) };
        }
        let half = size / 2;
        for h in [0, half].into_iter().filter(|&h| h < truncated) {
            // SAFETY: as above.
            unsafe { self.ifft_block(data, pos, h, half, truncated, skew_delta) };
        }
        // SAFETY: as above.
        let m = unsafe { self.factor(self.skew[half + skew_delta - 1]) };
        for i in 0..half {
            let (x, y) = data.pair(pos + i, half);
            // SAFETY: as above.
            unsafe { Self::ifft_pairs(x, y, m) };
        }
    }

    /// One block of [`Gfni::ifft_gfni`] (a power of four): shards `pos + r..pos + r + size`.
    #[target_feature(enable = "gfni,avx512f")]
    unsafe fn ifft_block(
        &self,
        data: &mut impl Rows,
        pos: usize,
        r: usize,
        size: usize,
        truncated: usize,
        skew_delta: usize,
    ) {
        if size < 4 {
            return;
        }
        let dist = size / 4;
        for q in (r..r + size).step_by(dist).take_while(|&q| q < truncated) {
            // SAFETY: compiled for GFNI and AVX-512F, as the recursion needs.
            unsafe { self.ifft_block(data, pos, q, dist, truncated, skew_delta) };
        }
        // SAFETY: this function is compiled for GFNI and AVX-512F, and `self` exists only on such CPUs.
        let (m01, m02, m23) = unsafe { self.quad_factors(r, dist, skew_delta) };
        for i in r..r + dist {
            let (s0, s1, s2, s3) = data.quad(pos + i, dist);
            // SAFETY: as above.
            unsafe { Self::ifft_quads(s0, s1, s2, s3, m01, m23, m02) };
        }
    }

    #[target_feature(enable = "gfni,avx512f")]
    unsafe fn mul_gfni(&self, x: &mut [[u8; 64]], log_m: GfElement) {
        // SAFETY: compiled for GFNI and AVX-512F; `self` exists only on such CPUs.
        let m = unsafe { simd::Mul::new(&self.blocks[usize::from(log_m)]) };
        for chunk in x.iter_mut() {
            // SAFETY: as above.
            unsafe { simd::store(chunk, m.apply(simd::load(chunk))) };
        }
    }
}

impl Gfni {
    /// [`Engine::fft`] on shards anywhere in memory.
    pub(crate) fn fft_rows(
        &self,
        data: &mut RowList<'_, '_>,
        pos: usize,
        size: usize,
        truncated: usize,
        skew_delta: usize,
    ) {
        // SAFETY: a `Gfni` exists only where `new` found GFNI and AVX-512F.
        unsafe { self.fft_gfni(data, pos, size, truncated, skew_delta) }
    }

    /// [`Engine::ifft`] on shards anywhere in memory.
    pub(crate) fn ifft_rows(
        &self,
        data: &mut RowList<'_, '_>,
        pos: usize,
        size: usize,
        truncated: usize,
        skew_delta: usize,
    ) {
        // SAFETY: as in `fft_rows`.
        unsafe { self.ifft_gfni(data, pos, size, truncated, skew_delta) }
    }
}

impl Engine for Gfni {
    fn fft(
        &self,
        data: &mut ShardsRefMut<'_>,
        pos: usize,
        size: usize,
        truncated_size: usize,
        skew_delta: usize,
    ) {
        // SAFETY: a `Gfni` exists only where `new` found GFNI and AVX-512F.
        unsafe { self.fft_gfni(data, pos, size, truncated_size, skew_delta) }
    }

    fn ifft(
        &self,
        data: &mut ShardsRefMut<'_>,
        pos: usize,
        size: usize,
        truncated_size: usize,
        skew_delta: usize,
    ) {
        // SAFETY: as in `fft`.
        unsafe { self.ifft_gfni(data, pos, size, truncated_size, skew_delta) }
    }

    fn mul(&self, x: &mut [[u8; 64]], log_m: GfElement) {
        // SAFETY: as in `fft`.
        unsafe { self.mul_gfni(x, log_m) }
    }
}

#[cfg(test)]
mod tests {
    use reed_solomon_simd::engine::NoSimd;

    use super::*;

    fn chunks(n: usize, seed: u64) -> Vec<[u8; 64]> {
        crate::test_bytes(n * 64, seed).as_chunks().0.to_vec()
    }

    /// Multiplication by every 257th constant and the edge ones, against the portable engine.
    #[test]
    fn mul_matches_the_portable_engine() {
        let Some(gfni) = Gfni::new() else {
            eprintln!("no GFNI and AVX-512F on this CPU");
            return;
        };
        let plain = NoSimd::new();
        let data = chunks(3, 1);
        for log_m in (0..GF_ORDER)
            .step_by(257)
            .chain([1, 2, GF_ORDER - 2, GF_ORDER - 1])
        {
            let (mut a, mut b) = (data.clone(), data.clone());
            gfni.mul(&mut a, log_m as GfElement);
            plain.mul(&mut b, log_m as GfElement);
            assert_eq!(a, b, "log_m {log_m}");
        }
    }

    /// Whole codes through reed-solomon-simd's rate encoder and decoder on this engine,
    /// against its own `ReedSolomonEncoder`/`Decoder` (its best engine for the CPU):
    /// the same recovery shards, and the same originals restored from half of them lost.
    #[test]
    fn codes_match_reed_solomon_simd() {
        use reed_solomon_simd::rate::{DefaultRateDecoder, DefaultRateEncoder, RateDecoder, RateEncoder};
        use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};
        let Some(gfni) = Gfni::new() else {
            eprintln!("no GFNI and AVX-512F on this CPU");
            return;
        };
        for (k, m, len) in [
            (1, 1, 64),
            (3, 5, 128),
            (32, 32, 4096),
            (100, 28, 1024),
            (7, 200, 640),
            (1024, 1024, 128),
        ] {
            let originals: Vec<Vec<u8>> = (0..k)
                .map(|i| chunks(len / 64, (k * 7 + i) as u64).concat())
                .collect();
            let mut ours = DefaultRateEncoder::new(k, m, len, gfni, None).unwrap();
            let mut theirs = ReedSolomonEncoder::new(k, m, len).unwrap();
            for o in &originals {
                ours.add_original_shard(o).unwrap();
                theirs.add_original_shard(o).unwrap();
            }
            let (a, b) = (ours.encode().unwrap(), theirs.encode().unwrap());
            let recovery: Vec<Vec<u8>> = b.recovery_iter().map(<[u8]>::to_vec).collect();
            assert!(
                a.recovery_iter().eq(b.recovery_iter()),
                "{k}:{m} at {len}: recovery shards differ"
            );
            drop((a, b));

            // Lose the first min(k, m) originals; rebuild them from recovery shards.
            let lost = k.min(m);
            let mut ours = DefaultRateDecoder::new(k, m, len, gfni, None).unwrap();
            let mut theirs = ReedSolomonDecoder::new(k, m, len).unwrap();
            for (i, o) in originals.iter().enumerate().skip(lost) {
                ours.add_original_shard(i, o).unwrap();
                theirs.add_original_shard(i, o).unwrap();
            }
            for (j, r) in recovery.iter().enumerate().take(lost) {
                ours.add_recovery_shard(j, r).unwrap();
                theirs.add_recovery_shard(j, r).unwrap();
            }
            let (a, b) = (ours.decode().unwrap(), theirs.decode().unwrap());
            for (i, original) in originals.iter().enumerate().take(lost) {
                assert_eq!(
                    a.restored_original(i),
                    Some(&original[..]),
                    "{k}:{m} at {len}: original {i}"
                );
                assert_eq!(b.restored_original(i), Some(&original[..]));
            }
        }
    }

    /// FFT and IFFT, every byte (truncated tails included), against the portable engine,
    /// over sizes from 1 to 256 shards, truncations and skews.
    #[test]
    fn transforms_match_the_portable_engine() {
        let Some(gfni) = Gfni::new() else {
            eprintln!("no GFNI and AVX-512F on this CPU");
            return;
        };
        let plain = NoSimd::new();
        let shard_len_64 = 2;
        for size in [1usize, 2, 4, 8, 16, 32, 64, 128, 256] {
            for truncated in [1, size / 2, size - 1, size]
                .into_iter()
                .filter(|t| (1..=size).contains(t))
            {
                for skew_delta in [size, 2 * size, 1000] {
                    for inverse in [false, true] {
                        let total = size + 3;
                        let mut a = chunks(total * shard_len_64, (size * 31 + truncated) as u64);
                        let mut b = a.clone();
                        {
                            let mut da = ShardsRefMut::new(total, shard_len_64, &mut a);
                            let mut db = ShardsRefMut::new(total, shard_len_64, &mut b);
                            if inverse {
                                gfni.ifft(&mut da, 3, size, truncated, skew_delta);
                                plain.ifft(&mut db, 3, size, truncated, skew_delta);
                            } else {
                                gfni.fft(&mut da, 3, size, truncated, skew_delta);
                                plain.fft(&mut db, 3, size, truncated, skew_delta);
                            }
                        }
                        assert_eq!(
                            a, b,
                            "size {size} truncated {truncated} skew {skew_delta} inverse {inverse}"
                        );
                    }
                }
            }
        }
    }
}
