//! Keccak-256 of many equal-length messages at once: Keccak-f[1600] on 8 states in
//! AVX-512 registers or 4 in AVX2 (one state per 64-bit lane, XKCP's "times4/times8"
//! layout), for the leaves and inner levels of 0G's tree, where every hash of a level
//! is independent. Chosen at run time by CPU; without either extension (or for the
//! messages left over) the `sha3` crate hashes one at a time. Every output is the
//! same as `sha3::Keccak256`'s.

use sha3::{Digest, Keccak256};

use crate::{Hash, SECTOR_SIZE};

/// Bytes absorbed per permutation by Keccak-256.
const RATE: usize = 136;

/// Round constants of Keccak-f[1600].
const RC: [u64; 24] = [
    0x0000_0000_0000_0001,
    0x0000_0000_0000_8082,
    0x8000_0000_0000_808a,
    0x8000_0000_8000_8000,
    0x0000_0000_0000_808b,
    0x0000_0000_8000_0001,
    0x8000_0000_8000_8081,
    0x8000_0000_0000_8009,
    0x0000_0000_0000_008a,
    0x0000_0000_0000_0088,
    0x0000_0000_8000_8009,
    0x0000_0000_8000_000a,
    0x0000_0000_8000_808b,
    0x8000_0000_0000_008b,
    0x8000_0000_0000_8089,
    0x8000_0000_0000_8003,
    0x8000_0000_0000_8002,
    0x8000_0000_0000_0080,
    0x0000_0000_0000_800a,
    0x8000_0000_8000_000a,
    0x8000_0000_8000_8081,
    0x8000_0000_0000_8080,
    0x0000_0000_8000_0001,
    0x8000_0000_8000_8008,
];

/// `N` Keccak lanes side by side: the operations the permutation needs.
trait Lanes: Copy {
    /// States held.
    const N: usize;
    fn zero() -> Self;
    fn splat(v: u64) -> Self;
    /// Lane `k` of each state from `words[k]`.
    fn load(words: &[u64; 8]) -> Self;
    fn store(self, words: &mut [u64; 8]);
    fn xor(self, o: Self) -> Self;
    fn xor3(self, a: Self, b: Self) -> Self;
    /// `self ^ (!b & c)`: Keccak's chi.
    fn chi(self, b: Self, c: Self) -> Self;
    /// Rotation left by `L` (`R = 64 - L`).
    fn rol<const L: i32, const R: i32>(self) -> Self;
}

/// Plain 64-bit lanes: the portable reference the vector lanes are tested against.
impl Lanes for u64 {
    const N: usize = 1;
    #[inline(always)]
    fn zero() -> Self {
        0
    }
    #[inline(always)]
    fn splat(v: u64) -> Self {
        v
    }
    #[inline(always)]
    fn load(words: &[u64; 8]) -> Self {
        words[0]
    }
    #[inline(always)]
    fn store(self, words: &mut [u64; 8]) {
        words[0] = self;
    }
    #[inline(always)]
    fn xor(self, o: Self) -> Self {
        self ^ o
    }
    #[inline(always)]
    fn xor3(self, a: Self, b: Self) -> Self {
        self ^ a ^ b
    }
    #[inline(always)]
    fn chi(self, b: Self, c: Self) -> Self {
        self ^ (!b & c)
    }
    #[inline(always)]
    fn rol<const L: i32, const R: i32>(self) -> Self {
        self.rotate_left(L as u32)
    }
}

/// One rho-and-pi step per lane: `b[dst] = rol(a[src], rot)`.
macro_rules! rho_pi {
    ($a:ident, $b:ident; $(($src:literal, $dst:literal, $rot:literal)),* $(,)?) => {
        $( $b[$dst] = $a[$src].rol::<$rot, { 64 - $rot }>(); )*
    };
}

/// Keccak-f[1600] on every state of `a` at once.
#[inline(always)]
fn keccak_f<V: Lanes>(a: &mut [V; 25]) {
    for rc in RC {
        // theta
        let c: [V; 5] = std::array::from_fn(|x| a[x].xor3(a[x + 5], a[x + 10]).xor3(a[x + 15], a[x + 20]));
        for x in 0..5 {
            let d = c[(x + 4) % 5].xor(c[(x + 1) % 5].rol::<1, 63>());
            for y in 0..5 {
                a[x + 5 * y] = a[x + 5 * y].xor(d);
            }
        }
        // rho and pi (lane 0 stays put, unrotated)
        let mut b = [V::zero(); 25];
        b[0] = a[0];
        rho_pi!(a, b;
            (1, 10, 1), (2, 20, 62), (3, 5, 28), (4, 15, 27), (5, 16, 36), (6, 1, 44),
            (7, 11, 6), (8, 21, 55), (9, 6, 20), (10, 7, 3), (11, 17, 10), (12, 2, 43),
            (13, 12, 25), (14, 22, 39), (15, 23, 41), (16, 8, 45), (17, 18, 15), (18, 3, 21),
            (19, 13, 8), (20, 14, 18), (21, 24, 2), (22, 9, 61), (23, 19, 56), (24, 4, 14),
        );
        // chi
        for y in 0..5 {
            for x in 0..5 {
                a[x + 5 * y] = b[x + 5 * y].chi(b[(x + 1) % 5 + 5 * y], b[(x + 2) % 5 + 5 * y]);
            }
        }
        // iota
        a[0] = a[0].xor(V::splat(rc));
    }
}

/// Word `at` (a byte offset, a multiple of 8) of `msg` padded as Keccak-256 pads a
/// `LEN`-byte message: `0x01` after it, `0x80` in the last byte of its last block.
#[inline(always)]
fn padded_word<const LEN: usize>(msg: &[u8], at: usize) -> u64 {
    let end = (LEN / RATE + 1) * RATE;
    if at + 8 <= LEN {
        let mut w = [0u8; 8];
        w.copy_from_slice(&msg[at..at + 8]);
        return u64::from_le_bytes(w);
    }
    let mut w = [0u8; 8];
    for (i, byte) in w.iter_mut().enumerate() {
        let p = at + i;
        if p < LEN {
            *byte = msg[p];
        }
        if p == LEN {
            *byte ^= 0x01;
        }
        if p == end - 1 {
            *byte ^= 0x80;
        }
    }
    u64::from_le_bytes(w)
}

/// Keccak-256 of `V::N` messages of `LEN` bytes each, message `k` at `msg(k)`.
#[inline(always)]
fn hash_lanes<'a, V: Lanes, const LEN: usize>(msg: impl Fn(usize) -> &'a [u8], out: &mut [Hash]) {
    let mut st = [V::zero(); 25];
    let mut words = [0u64; 8];
    for block in 0..LEN / RATE + 1 {
        for (j, lane) in st.iter_mut().take(RATE / 8).enumerate() {
            for (k, w) in words.iter_mut().take(V::N).enumerate() {
                *w = padded_word::<LEN>(msg(k), block * RATE + 8 * j);
            }
            *lane = lane.xor(V::load(&words));
        }
        keccak_f(&mut st);
    }
    for (j, lane) in st.iter().take(4).enumerate() {
        lane.store(&mut words);
        for (k, h) in out.iter_mut().take(V::N).enumerate() {
            h[8 * j..8 * j + 8].copy_from_slice(&words[k].to_le_bytes());
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::Lanes;

    /// Four states in AVX2.
    #[derive(Clone, Copy)]
    pub(super) struct Avx2(__m256i);

    impl Lanes for Avx2 {
        const N: usize = 4;
        #[inline(always)]
        fn zero() -> Self {
            // SAFETY: only reached from functions compiled with AVX2 enabled, called after detecting it.
            Self(unsafe { _mm256_setzero_si256() })
        }
        #[inline(always)]
        fn splat(v: u64) -> Self {
            // SAFETY: as in `zero`.
            Self(unsafe { _mm256_set1_epi64x(v as i64) })
        }
        #[inline(always)]
        fn load(words: &[u64; 8]) -> Self {
            // SAFETY: as in `zero`; the read stays inside `words` (32 of its 64 bytes).
            Self(unsafe { _mm256_loadu_si256(words.as_ptr().cast()) })
        }
        #[inline(always)]
        fn store(self, words: &mut [u64; 8]) {
            // SAFETY: as in `zero`; the write stays inside `words` (32 of its 64 bytes).
            unsafe { _mm256_storeu_si256(words.as_mut_ptr().cast(), self.0) }
        }
        #[inline(always)]
        fn xor(self, o: Self) -> Self {
            // SAFETY: as in `zero`.
            Self(unsafe { _mm256_xor_si256(self.0, o.0) })
        }
        #[inline(always)]
        fn xor3(self, a: Self, b: Self) -> Self {
            self.xor(a).xor(b)
        }
        #[inline(always)]
        fn chi(self, b: Self, c: Self) -> Self {
            // SAFETY: as in `zero`.
            Self(unsafe { _mm256_xor_si256(self.0, _mm256_andnot_si256(b.0, c.0)) })
        }
        #[inline(always)]
        fn rol<const L: i32, const R: i32>(self) -> Self {
            // SAFETY: as in `zero`.
            Self(unsafe { _mm256_or_si256(_mm256_slli_epi64::<L>(self.0), _mm256_srli_epi64::<R>(self.0)) })
        }
    }

    /// Eight states in AVX-512: ternary logic for theta and chi, native rotations.
    #[derive(Clone, Copy)]
    pub(super) struct Avx512(__m512i);

    impl Lanes for Avx512 {
        const N: usize = 8;
        #[inline(always)]
        fn zero() -> Self {
            // SAFETY: only reached from functions compiled with AVX-512F enabled, called after detecting it.
            Self(unsafe { _mm512_setzero_si512() })
        }
        #[inline(always)]
        fn splat(v: u64) -> Self {
            // SAFETY: as in `zero`.
            Self(unsafe { _mm512_set1_epi64(v as i64) })
        }
        #[inline(always)]
        fn load(words: &[u64; 8]) -> Self {
            // SAFETY: as in `zero`; the read is exactly `words`' 64 bytes.
            Self(unsafe { _mm512_loadu_si512(words.as_ptr().cast()) })
        }
        #[inline(always)]
        fn store(self, words: &mut [u64; 8]) {
            // SAFETY: as in `zero`; the write is exactly `words`' 64 bytes.
            unsafe { _mm512_storeu_si512(words.as_mut_ptr().cast(), self.0) }
        }
        #[inline(always)]
        fn xor(self, o: Self) -> Self {
            // SAFETY: as in `zero`.
            Self(unsafe { _mm512_xor_si512(self.0, o.0) })
        }
        #[inline(always)]
        fn xor3(self, a: Self, b: Self) -> Self {
            // SAFETY: as in `zero`. 0x96 is a ^ b ^ c.
            Self(unsafe { _mm512_ternarylogic_epi64::<0x96>(self.0, a.0, b.0) })
        }
        #[inline(always)]
        fn chi(self, b: Self, c: Self) -> Self {
            // SAFETY: as in `zero`. 0xD2 is a ^ (!b & c).
            Self(unsafe { _mm512_ternarylogic_epi64::<0xD2>(self.0, b.0, c.0) })
        }
        #[inline(always)]
        fn rol<const L: i32, const R: i32>(self) -> Self {
            // SAFETY: as in `zero`.
            Self(unsafe { _mm512_rol_epi64::<L>(self.0) })
        }
    }

    /// [`super::hash_lanes`] on four states.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn hash4<'a, const LEN: usize>(
        msg: impl Fn(usize) -> &'a [u8],
        out: &mut [super::Hash],
    ) {
        super::hash_lanes::<Avx2, LEN>(msg, out);
    }

    /// [`super::hash_lanes`] on eight states.
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn hash8<'a, const LEN: usize>(
        msg: impl Fn(usize) -> &'a [u8],
        out: &mut [super::Hash],
    ) {
        super::hash_lanes::<Avx512, LEN>(msg, out);
    }
}

/// Which multi-lane engine this CPU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Eight states in AVX-512.
    Avx512,
    /// Four states in AVX2.
    Avx2,
    /// One message at a time (`sha3`).
    Portable,
}

impl Engine {
    /// The widest engine this CPU runs.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Self::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Self::Avx2;
            }
        }
        Self::Portable
    }

    /// Whether this CPU runs the engine.
    pub fn available(self) -> bool {
        match self {
            Self::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Messages hashed together.
    pub fn lanes(self) -> usize {
        match self {
            Self::Avx512 => 8,
            Self::Avx2 => 4,
            Self::Portable => 1,
        }
    }

    /// `out[i]` = Keccak-256 of message `i` (`LEN` bytes at `msg(i)`); the engine must be
    /// [`available`](Self::available) (a missing one falls back to portable).
    fn hash_many<'a, const LEN: usize>(self, msg: impl Fn(usize) -> &'a [u8] + Copy, out: &mut [Hash]) {
        let engine = if self.available() { self } else { Self::Portable };
        let lanes = engine.lanes();
        let whole = if lanes > 1 { out.len() / lanes * lanes } else { 0 };
        for (g, group) in out[..whole].chunks_exact_mut(lanes).enumerate() {
            let at = move |k: usize| msg(g * lanes + k);
            match engine {
                // SAFETY: `available` checked the CPU has AVX-512F.
                #[cfg(target_arch = "x86_64")]
                Self::Avx512 => unsafe { x86::hash8::<LEN>(at, group) },
                // SAFETY: `available` checked the CPU has AVX2.
                #[cfg(target_arch = "x86_64")]
                Self::Avx2 => unsafe { x86::hash4::<LEN>(at, group) },
                _ => unreachable!("the portable engine hashes one message at a time"),
            }
        }
        for (i, h) in out.iter_mut().enumerate().skip(whole) {
            *h = Keccak256::digest(msg(i)).into();
        }
    }

    /// Leaf hashes of whole 256-byte sectors: `out[i]` hashes `sectors[256 i..256 (i + 1)]`.
    pub fn sector_leaves(self, sectors: &[u8], out: &mut [Hash]) {
        assert_eq!(
            sectors.len(),
            out.len() * SECTOR_SIZE,
            "one output per whole sector"
        );
        self.hash_many::<SECTOR_SIZE>(|i| &sectors[i * SECTOR_SIZE..(i + 1) * SECTOR_SIZE], out);
    }

    /// Parents of pairs: `out[i]` = Keccak-256 of `level[2i] || level[2i + 1]`.
    pub fn pair_hashes(self, level: &[Hash], out: &mut [Hash]) {
        assert_eq!(level.len() / 2, out.len(), "one output per pair");
        let bytes = level.as_flattened();
        self.hash_many::<64>(|i| &bytes[64 * i..64 * (i + 1)], out);
    }
}

/// The engine chosen for this CPU, detected once.
pub fn engine() -> Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    *ENGINE.get_or_init(Engine::detect)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut s = seed | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            })
            .collect()
    }

    /// The generic permutation on plain lanes is Keccak-f[1600] (the `keccak` crate's).
    #[test]
    fn the_permutation_is_keccak_f() {
        for seed in 1..20u64 {
            let words: Vec<u64> = bytes(200, seed)
                .chunks(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
                .collect();
            let mut ours: [u64; 25] = words.clone().try_into().unwrap();
            let mut reference = ours;
            keccak_f(&mut ours);
            keccak::f1600(&mut reference);
            assert_eq!(ours, reference);
        }
    }

    /// Every engine this CPU runs, on every count around its lane width, lane for lane
    /// against `sha3` (sectors) and against `hash_pair`'s definition (pairs).
    #[test]
    fn every_engine_matches_sha3_lane_for_lane() {
        for engine in [Engine::Avx512, Engine::Avx2, Engine::Portable] {
            if !engine.available() {
                eprintln!("{engine:?}: not on this CPU");
                continue;
            }
            for n in [0usize, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33] {
                let data = bytes(n * SECTOR_SIZE, n as u64 + 7);
                let mut out = vec![[0u8; 32]; n];
                engine.sector_leaves(&data, &mut out);
                for (i, h) in out.iter().enumerate() {
                    let want: Hash = Keccak256::digest(&data[i * SECTOR_SIZE..(i + 1) * SECTOR_SIZE]).into();
                    assert_eq!(*h, want, "{engine:?}: sector {i} of {n}");
                }
                let level: Vec<Hash> = data
                    .chunks(32)
                    .take(2 * n + 1)
                    .map(|c| c.try_into().unwrap())
                    .collect();
                let mut parents = vec![[0u8; 32]; level.len() / 2];
                engine.pair_hashes(&level, &mut parents);
                for (i, h) in parents.iter().enumerate() {
                    let mut k = Keccak256::new();
                    k.update(level[2 * i]);
                    k.update(level[2 * i + 1]);
                    assert_eq!(*h, <[u8; 32]>::from(k.finalize()), "{engine:?}: pair {i}");
                }
            }
        }
    }

    /// Keccak's padding where both pad bytes meet, and across block boundaries, on the
    /// generic lanes (one message) against `sha3`.
    #[test]
    fn padding_matches_sha3_at_block_edges() {
        fn one<const LEN: usize>() {
            let m = bytes(LEN, LEN as u64);
            let mut out = [[0u8; 32]; 1];
            hash_lanes::<u64, LEN>(|_| &m, &mut out);
            assert_eq!(out[0], <[u8; 32]>::from(Keccak256::digest(&m)), "{LEN} bytes");
        }
        one::<0>();
        one::<64>();
        one::<135>();
        one::<136>();
        one::<137>();
        one::<256>();
        one::<271>();
        one::<272>();
    }
}
