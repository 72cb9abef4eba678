//! Systematic Reed-Solomon over GF(2^16) with reed-solomon-simd: `k`
//! original and `m` recovery shards per stripe, any `k` of them rebuild it.
//!
//! A payload is cut into stripes of `k * shard_len` bytes (the last one
//! zero-padded) so memory stays bounded and stripes encode in parallel. Every
//! shard is a self-describing record ([`Shard`]): a fixed header naming the
//! code, the stripe, the payload and a BLAKE3 checksum, then the body. A
//! corrupt, duplicate or foreign shard is detected, never decoded.
//!
//! [`Gf16Code::encode`] returns owned records; [`Gf16Code::encode_borrowed`]
//! leaves the original bodies in the payload and writes only headers and
//! recovery bodies, for large payloads headed to files or sockets.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use rayon::prelude::*;
use reed_solomon_simd::engine::{DefaultEngine, Engine, GfElement, ShardsRefMut};
use reed_solomon_simd::rate::{DefaultRateDecoder, DefaultRateEncoder, RateEncoder};

use crate::{ErasureError, Result};

mod borrowed;
mod decode;
mod header;
mod nontemporal;
mod raw;
mod stream;

pub use borrowed::{BorrowedShards, EncodeBuffers, ShardRef};
use decode::{Body, decode_stripe};
pub use header::{HEADER_LEN, MAGIC, Shard, ShardHeader, VERSION};
pub use stream::{StreamDecodeSummary, decode_stream};

use header::stripe_count;

/// Largest shard body: 16 MiB.
pub const MAX_SHARD_LEN: usize = 1 << 24;
/// Default largest shard body per stripe: 64 KiB.
pub const DEFAULT_MAX_SHARD_LEN: usize = 64 << 10;
/// Shard bodies are rounded up to this many bytes (the SIMD engines' unit).
const SHARD_ALIGN: usize = 64;

thread_local! {
    // Reused per thread so no call pays for fresh work buffers.
    static ENCODER: RefCell<Option<Encoder>> = const { RefCell::new(None) };
}

/// A GF(2^16) code: `k` original and `m` recovery shards per stripe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gf16Code {
    k: u32,
    m: u32,
    max_shard_len: u32,
}

impl Gf16Code {
    /// A code with `k` original and `m` recovery shards, if the FFT code can
    /// hold them: `min(next_pow2(k), next_pow2(m)) + max(k, m) <= 65536`
    /// (so k = m = 32768, or k = 61440 with m = 4096, or 1 with 65535).
    pub fn new(k: usize, m: usize) -> Result<Self> {
        if !Encoder::supports(k, m) {
            return Err(ErasureError::UnsupportedCounts {
                k: k as u64,
                m: m as u64,
            });
        }
        Ok(Self {
            k: k as u32,
            m: m as u32,
            max_shard_len: DEFAULT_MAX_SHARD_LEN as u32,
        })
    }

    /// Caps the shard body per stripe at `len` bytes (even, at most 16 MiB).
    pub fn with_max_shard_len(mut self, len: usize) -> Result<Self> {
        if len < 2 || !len.is_multiple_of(2) || len > MAX_SHARD_LEN {
            return Err(ErasureError::InvalidShardLen {
                got: len as u64,
                max: MAX_SHARD_LEN as u64,
            });
        }
        self.max_shard_len = len as u32;
        Ok(self)
    }

    /// Original shards per stripe.
    pub fn k(&self) -> usize {
        self.k as usize
    }

    /// Recovery shards per stripe.
    pub fn m(&self) -> usize {
        self.m as usize
    }

    /// Shard body length for a payload: its share of one stripe, rounded up
    /// to 64 bytes and capped at the code's maximum.
    pub fn shard_len_for(&self, payload_len: u64) -> usize {
        let share = payload_len.div_ceil(u64::from(self.k)).max(1);
        let aligned = share.div_ceil(SHARD_ALIGN as u64) * SHARD_ALIGN as u64;
        aligned.min(u64::from(self.max_shard_len)) as usize
    }

    /// Stripes a payload of `payload_len` bytes is cut into.
    pub fn stripes_for(&self, payload_len: u64) -> u64 {
        stripe_count(payload_len, self.k, self.shard_len_for(payload_len) as u32)
    }

    fn header(&self, payload_len: u64, payload_id: &[u8; 32]) -> ShardHeader {
        ShardHeader {
            k: self.k,
            m: self.m,
            index: 0,
            shard_len: self.shard_len_for(payload_len) as u32,
            stripe: 0,
            payload_len,
            payload_id: *payload_id,
            checksum: [0; 32],
        }
    }

    /// Encodes `payload` into `stripes * (k + m)` shards, stripe-major
    /// (shard `i` of stripe `s` at `s * (k + m) + i`), stripes in parallel.
    /// `payload_id` names the payload (a file root, say) in every header.
    pub fn encode(&self, payload: &[u8], payload_id: &[u8; 32]) -> Result<Vec<Shard>> {
        let mut out = Vec::new();
        self.encode_into(payload, payload_id, &mut out)?;
        Ok(out)
    }

    /// As [`Gf16Code::encode`], reusing the buffers of the shards already in
    /// `out`: repeated encodes then touch no fresh memory.
    pub fn encode_into(&self, payload: &[u8], payload_id: &[u8; 32], out: &mut Vec<Shard>) -> Result<()> {
        let template = self.header(payload.len() as u64, payload_id);
        let stripe_bytes = self.k() * template.shard_len as usize;
        let stripes = stripe_count(template.payload_len, self.k, template.shard_len) as usize;
        let n = self.k() + self.m();
        out.resize_with(stripes * n, Shard::default);
        out.par_chunks_mut(n).enumerate().try_for_each(|(s, shards)| {
            let lo = (s * stripe_bytes).min(payload.len());
            let hi = (lo + stripe_bytes).min(payload.len());
            encode_stripe(
                &template,
                s as u64,
                &mut Records::new(&template, s as u64, &payload[lo..hi], shards),
            )
        })
    }
}

impl Gf16Code {
    /// The `m` recovery shards of one stripe of `k` original shards given
    /// as they are (each `shard_len` bytes, even), without headers: for
    /// callers whose originals are checked another way (Merkle proofs, say).
    pub fn encode_raw(&self, originals: &[&[u8]]) -> Result<Vec<Vec<u8>>> {
        let len = self.check_raw_shards(originals)?;
        let mut recovery = vec![vec![0u8; len]; self.m()];
        let mut outs: Vec<&mut [u8]> = recovery.iter_mut().map(Vec::as_mut_slice).collect();
        raw::encode(engine(), originals, &mut outs);
        Ok(recovery)
    }

    /// As [`Gf16Code::encode_raw`], writing the `m` recovery shards into
    /// `recovery` (each as long as an original), so repeated encodes allocate nothing.
    pub fn encode_raw_into(&self, originals: &[&[u8]], recovery: &mut [&mut [u8]]) -> Result<()> {
        let len = self.check_raw_shards(originals)?;
        if recovery.len() != self.m() {
            return Err(ErasureError::RecoveryBuffers {
                expected: self.m() as u64,
                got: recovery.len() as u64,
            });
        }
        if let Some(bad) = recovery.iter().find(|s| s.len() != len) {
            return Err(ErasureError::BodyLength {
                expected: len as u64,
                got: bad.len() as u64,
            });
        }
        raw::encode(engine(), originals, recovery);
        Ok(())
    }

    /// Rebuilds the `k * shard_len` original bytes of one stripe from at
    /// least `k` shards `(index, body)` made by [`Gf16Code::encode_raw`]
    /// (indices `k..k + m` are recovery shards). The caller vouches for the
    /// bodies; indices and lengths are checked here.
    pub fn reconstruct_raw(&self, shards: &[(u32, &[u8])]) -> Result<Vec<u8>> {
        let len = shards.first().map_or(0, |(_, b)| b.len());
        self.check_raw_len(self.k(), len)?;
        let mut seen = vec![false; self.k() + self.m()];
        for (index, body) in shards {
            let i = *index as usize;
            if i >= seen.len() {
                return Err(ErasureError::InvalidHeader("raw shard index past k + m"));
            }
            if std::mem::replace(&mut seen[i], true) {
                return Err(ErasureError::DuplicateShard {
                    stripe: 0,
                    index: *index,
                });
            }
            if body.len() != len {
                return Err(ErasureError::BodyLength {
                    expected: len as u64,
                    got: body.len() as u64,
                });
            }
        }
        let header = ShardHeader {
            shard_len: len as u32,
            ..self.header(0, &[0; 32])
        };
        let bodies: Vec<Body<'_>> = shards.iter().map(|&(i, b)| Body::checked(i, b)).collect();
        let mut out = vec![0u8; self.k() * len];
        decode_stripe(&header, 0, &bodies, &mut out)?;
        Ok(out)
    }

    /// The shard length of `k` raw originals of one valid length.
    fn check_raw_shards(&self, originals: &[&[u8]]) -> Result<usize> {
        let len = self.check_raw_len(originals.len(), originals.first().map_or(0, |s| s.len()))?;
        if let Some(bad) = originals.iter().find(|s| s.len() != len) {
            return Err(ErasureError::BodyLength {
                expected: len as u64,
                got: bad.len() as u64,
            });
        }
        Ok(len)
    }

    fn check_raw_len(&self, originals: usize, len: usize) -> Result<usize> {
        if originals != self.k() {
            return Err(ErasureError::TooFewShards {
                stripe: 0,
                have: originals as u64,
                need: self.k() as u64,
            });
        }
        if len < 2 || !len.is_multiple_of(2) || len > MAX_SHARD_LEN {
            return Err(ErasureError::InvalidShardLen {
                got: len as u64,
                max: MAX_SHARD_LEN as u64,
            });
        }
        Ok(len)
    }
}

/// Bytes of all `k + m` shards' columns encoded at once: for k = m the
/// encoder's work (the originals' columns) about fills a core's 1 MiB L2
/// while it is copied, encoded and hashed (the erasure benches compare sizes).
const BLOCK_BYTES: usize = 2 << 20;
/// Smallest column block: 64 BLAKE3 chunks, so each shard's piece is hashed
/// 16 chunks at a time (AVX-512's width); narrower blocks halve the hashing width.
const MIN_BLOCK: usize = 64 << 10;

/// Column block for `n` shards of `len` bytes: RS works column by column in
/// 64-byte units, so encoding `[a, b)` of every shard gives exactly those
/// columns of the recovery shards.
pub(crate) fn column_block(n: usize, len: usize) -> usize {
    let block = (BLOCK_BYTES / n) / MIN_BLOCK * MIN_BLOCK;
    block.max(MIN_BLOCK).min(len)
}

/// The GF(2^16) transforms on this CPU: the GFNI engine where the CPU has GFNI and
/// AVX-512F, else reed-solomon-simd's best (AVX2, SSSE3, NEON or portable); both give
/// the same bytes.
#[derive(Clone, Copy)]
pub enum Gf16Engine {
    /// GFNI and AVX-512F ([`crate::gfni::Gfni`]).
    #[cfg(target_arch = "x86_64")]
    Gfni(crate::gfni::Gfni),
    /// reed-solomon-simd's own choice (built once).
    Simd(&'static DefaultEngine),
}

impl Gf16Engine {
    /// The fastest engine this CPU runs; `ZG_GF16_ENGINE=simd` keeps reed-solomon-simd's.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::env::var("ZG_GF16_ENGINE").as_deref() != Ok("simd")
            && let Some(g) = crate::gfni::Gfni::new()
        {
            return Self::Gfni(g);
        }
        static SIMD: OnceLock<DefaultEngine> = OnceLock::new();
        Self::Simd(SIMD.get_or_init(DefaultEngine::new))
    }

    /// The engine's name, for reports.
    pub fn name(&self) -> &'static str {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Gfni(_) => "gfni-avx512",
            Self::Simd(_) => "reed-solomon-simd",
        }
    }
}

impl Default for Gf16Engine {
    fn default() -> Self {
        Self::detect()
    }
}

impl Engine for Gf16Engine {
    fn fft(
        &self,
        data: &mut ShardsRefMut<'_>,
        pos: usize,
        size: usize,
        truncated_size: usize,
        skew_delta: usize,
    ) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Gfni(e) => e.fft(data, pos, size, truncated_size, skew_delta),
            Self::Simd(e) => e.fft(data, pos, size, truncated_size, skew_delta),
        }
    }

    fn ifft(
        &self,
        data: &mut ShardsRefMut<'_>,
        pos: usize,
        size: usize,
        truncated_size: usize,
        skew_delta: usize,
    ) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Gfni(e) => e.ifft(data, pos, size, truncated_size, skew_delta),
            Self::Simd(e) => e.ifft(data, pos, size, truncated_size, skew_delta),
        }
    }

    fn mul(&self, x: &mut [[u8; 64]], log_m: GfElement) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Gfni(e) => e.mul(x, log_m),
            Self::Simd(e) => e.mul(x, log_m),
        }
    }
}

/// reed-solomon-simd's encoder and decoder on [`Gf16Engine`].
pub(crate) type Encoder = DefaultRateEncoder<Gf16Engine>;
pub(crate) type Decoder = DefaultRateDecoder<Gf16Engine>;

/// The engine for this CPU, chosen once.
pub fn engine() -> &'static Gf16Engine {
    static ENGINE: OnceLock<Gf16Engine> = OnceLock::new();
    ENGINE.get_or_init(Gf16Engine::detect)
}

/// This thread's encoder, made or reset for `k` originals and `m` recovery shards of `len` bytes.
fn reset_encoder(slot: &mut Option<Encoder>, k: usize, m: usize, len: usize) -> Result<&mut Encoder> {
    match slot {
        Some(e) => {
            e.reset(k, m, len).map_err(ErasureError::from_rs)?;
            Ok(e)
        }
        None => Ok(slot.insert(Encoder::new(k, m, len, *engine(), None).map_err(ErasureError::from_rs)?)),
    }
}

/// Copies `data[from..]` into `dst`, zero-filling past the end of `data`.
fn copy_padded(data: &[u8], from: usize, dst: &mut [u8]) {
    let lo = from.min(data.len());
    let hi = (from + dst.len()).min(data.len());
    dst[..hi - lo].copy_from_slice(&data[lo..hi]);
    dst[hi - lo..].fill(0);
}

/// Where one stripe's shard bodies come from and go while it is encoded:
/// owned records ([`Records`]) or a payload left in place ([`borrowed`]).
pub(crate) trait StripeBodies {
    /// Original `i`'s bytes `a..b` (for records, copied into the record first).
    fn original(&mut self, i: usize, a: usize, b: usize) -> &[u8];
    /// Writes recovery shard `j`'s bytes `a..b`.
    fn put_recovery(&mut self, j: usize, a: usize, b: usize, body: &[u8]);
    /// Takes shard `header.index`'s finished header, checksum filled in.
    fn seal(&mut self, header: &ShardHeader);
}

/// One stripe encoded into owned [`Shard`] records, whose buffers are reused.
struct Records<'a> {
    /// The stripe's payload bytes: short (zero-padded here) only in the last stripe.
    data: &'a [u8],
    shards: &'a mut [Shard],
    k: usize,
    len: usize,
}

impl<'a> Records<'a> {
    fn new(template: &ShardHeader, stripe: u64, data: &'a [u8], shards: &'a mut [Shard]) -> Self {
        for (i, shard) in shards.iter_mut().enumerate() {
            shard.begin(template.for_shard(stripe, i));
        }
        Self {
            data,
            shards,
            k: template.k as usize,
            len: template.shard_len as usize,
        }
    }
}

impl StripeBodies for Records<'_> {
    fn original(&mut self, i: usize, a: usize, b: usize) -> &[u8] {
        let dst = &mut self.shards[i].body_mut()[a..b];
        copy_padded(self.data, i * self.len + a, dst);
        dst
    }

    fn put_recovery(&mut self, j: usize, a: usize, b: usize, body: &[u8]) {
        self.shards[self.k + j].body_mut()[a..b].copy_from_slice(body);
    }

    fn seal(&mut self, header: &ShardHeader) {
        self.shards[header.index as usize].seal_with(header.checksum);
    }
}

/// Encodes one stripe's `k + m` shard bodies through `bodies` and seals each
/// with its checksummed header. Long shards are encoded in column blocks (see
/// [`column_block`]), each shard's checksum fed block by block from the
/// encoder's cache-hot buffers.
pub(crate) fn encode_stripe(
    template: &ShardHeader,
    stripe: u64,
    bodies: &mut impl StripeBodies,
) -> Result<()> {
    let (k, m, len) = template.geometry();
    let header = |i: usize| template.for_shard(stripe, i);
    let block = column_block(k + m, len);
    // In one block each shard is checksummed whole right after it is written, with no hasher kept.
    let mut hashers = (block < len).then(|| vec![blake3::Hasher::new(); k + m]);
    ENCODER.with(|cell| -> Result<()> {
        let mut slot = cell.borrow_mut();
        let mut a = 0;
        while a < len {
            let b = (a + block).min(len);
            let encoder = reset_encoder(&mut slot, k, m, b - a)?;
            for i in 0..k {
                let body = bodies.original(i, a, b);
                encoder.add_original_shard(body).map_err(ErasureError::from_rs)?;
                if let Some(h) = settle(&mut hashers, header(i), body) {
                    bodies.seal(&h);
                }
            }
            let result = encoder.encode().map_err(ErasureError::from_rs)?;
            for (j, body) in result.recovery_iter().enumerate() {
                bodies.put_recovery(j, a, b, body);
                if let Some(h) = settle(&mut hashers, header(k + j), body) {
                    bodies.seal(&h);
                }
            }
            a = b;
        }
        Ok(())
    })?;
    if let Some(hashers) = hashers {
        for (i, h) in hashers.into_iter().enumerate() {
            let header = header(i);
            let checksum = header.finish_checksum(h);
            bodies.seal(&ShardHeader { checksum, ..header });
        }
    }
    Ok(())
}

/// Feeds a block just written to its shard's hasher, or, for a one-block
/// shard, returns its header with the checksum of the whole body.
fn settle(
    hashers: &mut Option<Vec<blake3::Hasher>>,
    header: ShardHeader,
    block: &[u8],
) -> Option<ShardHeader> {
    match hashers {
        Some(h) => {
            h[header.index as usize].update(block);
            None
        }
        None => Some(header.sealed(block)),
    }
}

/// Collects shards of one payload, checking each as it arrives, and
/// rebuilds the payload once every stripe has `k` intact shards.
///
/// Records are kept as given (`B` is `Vec<u8>` for owned records, `&[u8]`
/// for borrowed ones, which are then never copied). A bad shard is refused
/// by [`Gf16Decoder::add`] with an error naming it and leaves the decoder as
/// it was, so a caller can skip it and go on.
#[derive(Debug)]
pub struct Gf16Decoder<B = Vec<u8>> {
    params: Option<ShardHeader>,
    /// Per stripe: indices seen (to refuse duplicates) and up to `k` records.
    stripes: BTreeMap<u64, StripeShards<B>>,
}

#[derive(Debug)]
struct StripeShards<B> {
    /// Bitset of indices seen.
    seen: Vec<u64>,
    records: Vec<Kept<B>>,
}

/// A record kept for decoding.
#[derive(Debug)]
struct Kept<B> {
    index: u32,
    record: B,
    /// Whether its checksum was checked when it was taken; if not, it is
    /// checked while its stripe decodes.
    checked: bool,
}

impl<B> StripeShards<B> {
    fn has(&self, index: u32) -> bool {
        self.seen
            .get(index as usize / 64)
            .is_some_and(|w| w & (1 << (index % 64)) != 0)
    }

    fn mark(&mut self, index: u32) {
        let word = index as usize / 64;
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
        self.seen[word] |= 1 << (index % 64);
    }
}

impl<B: AsRef<[u8]>> Kept<B> {
    fn body(&self) -> Body<'_> {
        let bytes = self.record.as_ref();
        Body {
            index: self.index,
            bytes: &bytes[HEADER_LEN..],
            claimed: (!self.checked).then(|| {
                let mut checksum = [0; 32];
                checksum.copy_from_slice(&bytes[HEADER_LEN - 32..HEADER_LEN]);
                checksum
            }),
        }
    }
}

impl<B> Default for Gf16Decoder<B> {
    fn default() -> Self {
        Self {
            params: None,
            stripes: BTreeMap::new(),
        }
    }
}

impl Gf16Decoder<Vec<u8>> {
    /// Takes a shard already checked by [`Shard::from_bytes`].
    pub fn add_shard(&mut self, shard: Shard) -> Result<()> {
        let header = *shard.header();
        self.admit(&header)?;
        self.keep(header, shard.into_bytes(), true);
        Ok(())
    }
}

impl<B: AsRef<[u8]>> Gf16Decoder<B> {
    /// An empty decoder; the first intact shard fixes the code and payload.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks and takes one shard record.
    pub fn add(&mut self, record: B) -> Result<()> {
        let header = Shard::check(record.as_ref())?;
        self.admit(&header)?;
        self.keep(header, record, true);
        Ok(())
    }

    /// Takes one record, checking its header now and its body's checksum
    /// while its stripe decodes, as the body is first read. The first record
    /// is checked whole: it fixes the geometry the others are held to.
    fn add_deferred(&mut self, record: B) -> Result<()> {
        if self.params.is_none() {
            return self.add(record);
        }
        let bytes = record.as_ref();
        let header = Shard::check_shape(bytes)?;
        let body = &bytes[HEADER_LEN..];
        let decoded = match self.admit(&header) {
            Ok(decoded) => decoded,
            Err(e) => {
                // A flipped header field can pose as a duplicate or foreign shard: name the corruption.
                header.verify(body)?;
                if matches!(e, ErasureError::DuplicateShard { .. }) {
                    self.verify_kept(|s, kept| s == header.stripe && kept.index == header.index)?;
                }
                return Err(e);
            }
        };
        if !decoded {
            // A record past the k its stripe decodes from is never read again: check it now.
            header.verify(body)?;
        }
        self.keep(header, record, !decoded);
        Ok(())
    }

    /// Refuses a foreign or duplicate shard; otherwise says whether it
    /// would be decoded from (its stripe has fewer than `k` records).
    fn admit(&self, h: &ShardHeader) -> Result<bool> {
        if let Some(p) = &self.params
            && let Some(field) = p.foreign_field(h)
        {
            return Err(ErasureError::ForeignShard {
                stripe: h.stripe,
                index: h.index,
                field,
            });
        }
        let stripe = self.stripes.get(&h.stripe);
        if stripe.is_some_and(|e| e.has(h.index)) {
            return Err(ErasureError::DuplicateShard {
                stripe: h.stripe,
                index: h.index,
            });
        }
        Ok(stripe.map_or(0, |e| e.records.len()) < h.k as usize)
    }

    /// Takes an admitted shard.
    fn keep(&mut self, h: ShardHeader, record: B, checked: bool) {
        self.params.get_or_insert(h);
        let entry = self.stripes.entry(h.stripe).or_insert_with(|| StripeShards {
            seen: Vec::new(),
            records: Vec::new(),
        });
        entry.mark(h.index);
        if entry.records.len() < h.k as usize {
            entry.records.push(Kept {
                index: h.index,
                record,
                checked,
            });
        }
    }

    /// Checks the unchecked records `pick` selects (by stripe and record).
    fn verify_kept(&self, pick: impl Fn(u64, &Kept<B>) -> bool) -> Result<()> {
        let Some(p) = &self.params else { return Ok(()) };
        for (&s, entry) in &self.stripes {
            for kept in entry.records.iter().filter(|r| pick(s, r)) {
                kept.body().verify(p, s)?;
            }
        }
        Ok(())
    }

    /// Whether every stripe has `k` shards.
    pub fn is_complete(&self) -> bool {
        self.missing().is_none()
    }

    /// The first stripe short of shards, with how many it has.
    fn missing(&self) -> Option<(u64, u64)> {
        let Some(p) = &self.params else {
            return Some((0, 0));
        };
        (0..stripe_count(p.payload_len, p.k, p.shard_len)).find_map(|s| {
            let have = self.stripes.get(&s).map_or(0, |e| e.records.len()) as u64;
            (have < u64::from(p.k)).then_some((s, have))
        })
    }

    /// Rebuilds the payload, stripes in parallel.
    pub fn finish(self) -> Result<Vec<u8>>
    where
        B: Sync,
    {
        let mut payload = Vec::new();
        self.finish_into(&mut payload)?;
        Ok(payload)
    }

    /// As [`Gf16Decoder::finish`], writing the payload into `out` (resized to
    /// the payload's length, every byte overwritten): a buffer reused from
    /// call to call spares the page faults of a fresh one.
    pub fn finish_into(self, out: &mut Vec<u8>) -> Result<()>
    where
        B: Sync,
    {
        let Some(p) = self.params else {
            return Err(ErasureError::NoShards);
        };
        if let Some((stripe, have)) = self.missing() {
            // A shard whose stripe field was flipped leaves its stripe short: name it first.
            self.verify_kept(|_, _| true)?;
            return Err(ErasureError::TooFewShards {
                stripe,
                have,
                need: u64::from(p.k),
            });
        }
        // Every stripe holds k bodies of shard_len bytes, so the payload is
        // no larger than what was handed in: the allocation is bounded.
        out.resize(p.payload_len as usize, 0);
        let stripe_bytes = p.k as usize * p.shard_len as usize;
        let stripes: Vec<(u64, StripeShards<B>)> = self.stripes.into_iter().collect();
        out.par_chunks_mut(stripe_bytes)
            .zip(stripes.par_iter())
            .try_for_each(|(out, (stripe, shards))| {
                let bodies: Vec<Body<'_>> = shards.records.iter().map(Kept::body).collect();
                decode_stripe(&p, *stripe, &bodies, out)
            })
    }
}

/// Rebuilds a payload from shard records, refusing a corrupt, duplicate or
/// foreign one with an error naming it. Records are borrowed, never copied.
///
/// Headers are checked as records are taken; the bodies a stripe decodes
/// from are checksummed while it decodes (stripes in parallel), each as it
/// is first read. Nothing unchecked is decoded; with several bad records,
/// which one is named is not fixed.
pub fn decode<'a>(records: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>> {
    let mut payload = Vec::new();
    decode_into(records, &mut payload)?;
    Ok(payload)
}

/// As [`decode`], writing the payload into `out` (see [`Gf16Decoder::finish_into`]).
pub fn decode_into<'a>(records: impl IntoIterator<Item = &'a [u8]>, out: &mut Vec<u8>) -> Result<()> {
    let mut decoder = Gf16Decoder::<&[u8]>::new();
    for record in records {
        decoder.add_deferred(record)?;
    }
    decoder.finish_into(out)
}
