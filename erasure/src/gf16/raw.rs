//! Raw encoding (no headers, no checksums) a column block at a time: reed-solomon-simd's
//! high- and low-rate encoders, step for step (the same transforms, skews, zero padding
//! and rate choice), on a block of every shard small enough to stay in L1/L2. On the
//! GFNI engine the block's work shards are the caller's recovery buffers themselves
//! (scratch only past `m`), so the recovery is never copied out; other engines work
//! in a contiguous buffer, as their interface needs. RS works column by column in
//! 64-byte chunks, so encoding chunks `[a, b)` of every shard gives exactly those
//! chunks of the recovery shards.

use std::cell::RefCell;

use reed_solomon_simd::engine::{Engine, GF_ORDER, ShardsRefMut, utils};

use super::Gf16Engine;

/// Work bytes aimed at per column block: about a core's L2 share; the transforms go
/// depth first, so their inner blocks run in L1 (sizes from 16 KiB to 1 MiB measured
/// on 32:32, 128:128 and 1024:1024; this and [`MIN_BLOCK_CHUNKS`] were the fastest).
const WORK_BYTES: usize = 256 << 10;
/// Fewest chunks (4 KiB) per shard per block: narrower blocks pay the transforms'
/// per-call set-up (multipliers per butterfly group) more often than they save.
const MIN_BLOCK_CHUNKS: usize = 64;

thread_local! {
    // Reused per thread so no call pays for a fresh work buffer.
    static WORK: RefCell<Vec<[u8; 64]>> = const { RefCell::new(Vec::new()) };
}

/// Which of reed-solomon-simd's encoders `DefaultRateEncoder` runs for `k:m`:
/// high rate where the original count's power of two is larger, or equal with
/// `k <= m`. The counts are valid (checked by `Gf16Code::new`).
fn high_rate(k: usize, m: usize) -> bool {
    debug_assert!(k <= GF_ORDER && m <= GF_ORDER);
    let (kp, mp) = (k.next_power_of_two(), m.next_power_of_two());
    kp > mp || (kp == mp && k <= m)
}

/// Shards in the work buffer and the transform chunk size, as reed-solomon-simd sizes them.
fn work_shape(k: usize, m: usize) -> (usize, usize) {
    if high_rate(k, m) {
        let chunk = m.next_power_of_two();
        (k.next_multiple_of(chunk), chunk)
    } else {
        let chunk = k.next_power_of_two();
        (m.next_multiple_of(chunk), chunk)
    }
}

/// Writes into `recovery` (`m` buffers) the recovery shards of `originals` (`k`
/// buffers), all of one even length, exactly as reed-solomon-simd's encoder would.
/// The caller has checked the counts and lengths.
pub(crate) fn encode(engine: &Gf16Engine, originals: &[&[u8]], recovery: &mut [&mut [u8]]) {
    #[cfg(target_arch = "x86_64")]
    if let Gf16Engine::Gfni(gfni) = engine {
        return encode_in_place(gfni, originals, recovery);
    }
    encode_copied(engine, originals, recovery, 0);
}

/// Chunks per shard per column block for a work of `work_count` shards.
fn block_chunks(work_count: usize, chunks: usize) -> usize {
    (WORK_BYTES / (work_count * 64))
        .max(MIN_BLOCK_CHUNKS)
        .min(chunks)
        .max(1)
}

/// [`encode`] for any engine, from chunk `from` on: each block's originals copied into a
/// work buffer, transformed there, and the recovery chunks copied out.
fn encode_copied(engine: &impl Engine, originals: &[&[u8]], recovery: &mut [&mut [u8]], from: usize) {
    let (k, m) = (originals.len(), recovery.len());
    let len = originals.first().map_or(0, |s| s.len());
    let chunks = len.div_ceil(64);
    let (work_count, chunk) = work_shape(k, m);
    let block = block_chunks(work_count, chunks);
    WORK.with(|cell| {
        let mut buf = cell.borrow_mut();
        if buf.len() < work_count * block {
            buf.resize(work_count * block, [0; 64]);
        }
        let mut a = from;
        while a < chunks {
            let c = block.min(chunks - a);
            let work = &mut buf[..work_count * c];
            for (i, o) in originals.iter().enumerate() {
                load(o, a, &mut work[i * c..(i + 1) * c]);
            }
            let mut data = Contiguous {
                engine,
                data: ShardsRefMut::new(work_count, c, work),
            };
            run(&mut data, k, m, chunk, work_count);
            for (j, r) in recovery.iter_mut().enumerate() {
                store(&data.data[j], a, r);
            }
            a += c;
        }
    });
}

/// [`encode`] on the GFNI engine: each block's work shards are the recovery buffers'
/// own chunks (plus scratch shards past `m`), so nothing is copied out; a last chunk
/// short of 64 bytes goes through [`encode_copied`].
#[cfg(target_arch = "x86_64")]
fn encode_in_place(gfni: &crate::gfni::Gfni, originals: &[&[u8]], recovery: &mut [&mut [u8]]) {
    let (k, m) = (originals.len(), recovery.len());
    let len = originals.first().map_or(0, |s| s.len());
    let whole = len / 64;
    let (work_count, chunk) = work_shape(k, m);
    let block = block_chunks(work_count, whole.max(1));
    let scratch_count = work_count - m;
    WORK.with(|cell| {
        let mut buf = cell.borrow_mut();
        if buf.len() < scratch_count * block {
            buf.resize(scratch_count * block, [0; 64]);
        }
        let mut a = 0;
        while a < whole {
            let c = block.min(whole - a);
            let mut rows: Vec<&mut [[u8; 64]]> = Vec::with_capacity(work_count);
            rows.extend(
                recovery
                    .iter_mut()
                    .map(|r| r[a * 64..(a + c) * 64].as_chunks_mut::<64>().0),
            );
            rows.extend(buf[..scratch_count * c].chunks_exact_mut(c));
            for (row, o) in rows.iter_mut().zip(originals) {
                load(o, a, row);
            }
            run(
                &mut InPlace {
                    gfni,
                    rows: crate::gfni::RowList(&mut rows),
                },
                k,
                m,
                chunk,
                work_count,
            );
            a += c;
        }
    });
    if whole * 64 < len {
        encode_copied(gfni, originals, recovery, whole);
    }
}

/// What reed-solomon-simd's encoders do to their work shards, wherever those are.
trait Work {
    /// Zeroes shards `from..to`.
    fn zero(&mut self, from: usize, to: usize);
    /// [`Engine::ifft`].
    fn ifft(&mut self, pos: usize, size: usize, truncated: usize, skew_delta: usize);
    /// [`Engine::fft`].
    fn fft(&mut self, pos: usize, size: usize, truncated: usize, skew_delta: usize);
    /// Shard `x + i` ^= shard `y + i`, for `i < count`.
    fn xor_within(&mut self, x: usize, y: usize, count: usize);
    /// Shard `to + i` = shard `i`, for `i < count`.
    fn copy_head(&mut self, to: usize, count: usize);
}

/// Work shards in one buffer, transformed by any engine.
struct Contiguous<'a, E> {
    engine: &'a E,
    data: ShardsRefMut<'a>,
}

impl<E: Engine> Work for Contiguous<'_, E> {
    fn zero(&mut self, from: usize, to: usize) {
        self.data.zero(from..to);
    }

    fn ifft(&mut self, pos: usize, size: usize, truncated: usize, skew_delta: usize) {
        self.engine.ifft(&mut self.data, pos, size, truncated, skew_delta);
    }

    fn fft(&mut self, pos: usize, size: usize, truncated: usize, skew_delta: usize) {
        self.engine.fft(&mut self.data, pos, size, truncated, skew_delta);
    }

    fn xor_within(&mut self, x: usize, y: usize, count: usize) {
        utils::xor_within(&mut self.data, x, y, count);
    }

    fn copy_head(&mut self, to: usize, count: usize) {
        let (head, mut tail) = self.data.split_at_mut(to);
        for i in 0..count {
            tail[i].copy_from_slice(&head[i]);
        }
    }
}

/// Work shards anywhere in memory, transformed by the GFNI engine.
#[cfg(target_arch = "x86_64")]
struct InPlace<'a, 'b, 'c> {
    gfni: &'a crate::gfni::Gfni,
    rows: crate::gfni::RowList<'b, 'c>,
}

#[cfg(target_arch = "x86_64")]
impl Work for InPlace<'_, '_, '_> {
    fn zero(&mut self, from: usize, to: usize) {
        for row in &mut self.rows.0[from..to] {
            row.fill([0; 64]);
        }
    }

    fn ifft(&mut self, pos: usize, size: usize, truncated: usize, skew_delta: usize) {
        self.gfni
            .ifft_rows(&mut self.rows, pos, size, truncated, skew_delta);
    }

    fn fft(&mut self, pos: usize, size: usize, truncated: usize, skew_delta: usize) {
        self.gfni
            .fft_rows(&mut self.rows, pos, size, truncated, skew_delta);
    }

    fn xor_within(&mut self, x: usize, y: usize, count: usize) {
        for i in 0..count {
            let (to, from) = if x < y {
                let (lo, hi) = self.rows.0.split_at_mut(y + i);
                (&mut *lo[x + i], &*hi[0])
            } else {
                let (lo, hi) = self.rows.0.split_at_mut(x + i);
                (&mut *hi[0], &*lo[y + i])
            };
            utils::xor(to, from);
        }
    }

    fn copy_head(&mut self, to: usize, count: usize) {
        let (head, tail) = self.rows.0.split_at_mut(to);
        for (t, h) in tail[..count].iter_mut().zip(head.iter()) {
            t.copy_from_slice(h);
        }
    }
}

/// reed-solomon-simd's encoder for `k:m` (high or low rate, as it chooses) on one
/// block's work shards, originals at `0..k`; the recovery ends at `0..m`.
fn run(data: &mut impl Work, k: usize, m: usize, chunk: usize, work_count: usize) {
    if high_rate(k, m) {
        encode_high(data, k, m, chunk, work_count);
    } else {
        encode_low(data, k, m, chunk, work_count);
    }
}

/// reed-solomon-simd's `HighRateEncoder::encode`.
fn encode_high(data: &mut impl Work, k: usize, m: usize, chunk: usize, work_count: usize) {
    let first = k.min(chunk);
    data.zero(first, chunk);
    data.ifft(0, chunk, first, chunk);
    if k > chunk {
        let mut start = chunk;
        while start + chunk <= k {
            data.ifft(start, chunk, chunk, start + chunk);
            data.xor_within(0, start, chunk);
            start += chunk;
        }
        let last = k % chunk;
        if last > 0 {
            data.zero(start + last, work_count);
            data.ifft(start, chunk, last, start + chunk);
            data.xor_within(0, start, chunk);
        }
    }
    data.fft(0, chunk, m, 0);
}

/// reed-solomon-simd's `LowRateEncoder::encode`.
fn encode_low(data: &mut impl Work, k: usize, m: usize, chunk: usize, work_count: usize) {
    data.zero(k, chunk);
    data.ifft(0, chunk, k, 0);
    let mut start = chunk;
    while start < work_count {
        data.copy_head(start, chunk);
        start += chunk;
    }
    let mut start = 0;
    while start + chunk <= m {
        data.fft(start, chunk, chunk, start + chunk);
        start += chunk;
    }
    let last = m % chunk;
    if last > 0 {
        data.fft(start, chunk, last, start + chunk);
    }
}

/// Copies chunks `a..a + dst.len()` of shard `src` into `dst`; a last chunk short of
/// 64 bytes (an even length) goes in as reed-solomon-simd lays it out: its first half
/// at the front of the low 32 bytes, its second half at the front of the high 32.
fn load(src: &[u8], a: usize, dst: &mut [[u8; 64]]) {
    let from = a * 64;
    let bytes = (src.len() - from).min(dst.len() * 64);
    let whole = bytes / 64;
    dst[..whole]
        .as_flattened_mut()
        .copy_from_slice(&src[from..from + whole * 64]);
    let tail = bytes % 64;
    if tail > 0 {
        let (lo, hi) = src[from + whole * 64..from + bytes].split_at(tail / 2);
        let last = &mut dst[whole];
        last.fill(0);
        last[..lo.len()].copy_from_slice(lo);
        last[32..32 + hi.len()].copy_from_slice(hi);
    }
}

/// The inverse of [`load`]: chunks of `src` into shard `dst` from chunk `a` on.
fn store(src: &[[u8; 64]], a: usize, dst: &mut [u8]) {
    let from = a * 64;
    let bytes = (dst.len() - from).min(src.len() * 64);
    let whole = bytes / 64;
    dst[from..from + whole * 64].copy_from_slice(src[..whole].as_flattened());
    let tail = bytes % 64;
    if tail > 0 {
        let last = &src[whole];
        let out = &mut dst[from + whole * 64..from + bytes];
        let (lo, hi) = out.split_at_mut(tail / 2);
        lo.copy_from_slice(&last[..tail / 2]);
        hi.copy_from_slice(&last[32..32 + tail / 2]);
    }
}

#[cfg(test)]
mod tests {
    use reed_solomon_simd::ReedSolomonEncoder;
    use reed_solomon_simd::engine::NoSimd;

    use super::*;

    fn mut_refs(v: &mut [Vec<u8>]) -> Vec<&mut [u8]> {
        v.iter_mut().map(Vec::as_mut_slice).collect()
    }

    /// Every rate path (high with one, several and a partial chunk of originals; low with
    /// one, several and a partial chunk of recovery), lengths with and without a short
    /// last chunk and spanning several blocks, on the portable engine and on this CPU's,
    /// against reed-solomon-simd's own encoder.
    #[test]
    fn recovery_matches_reed_solomon_simd() {
        for (k, m, len) in [
            (1, 1, 2),
            (3, 2, 130),
            (32, 32, 4096),
            (32, 32, 65_536 + 62),
            (100, 28, 1024),
            (64, 64, 3 * 8192 + 1000),
            (1000, 24, 192),
            (24, 1000, 192),
            (7, 200, 640),
            (5, 16, 64 * 40 + 2),
            (16, 5, 64 * 40 + 34),
            (128, 128, 8192 + 64 * 3),
            (1024, 1024, 1024),
        ] {
            let originals: Vec<Vec<u8>> = (0..k)
                .map(|i| crate::test_bytes(len, (k * 31 + m * 7 + i) as u64))
                .collect();
            let refs: Vec<&[u8]> = originals.iter().map(Vec::as_slice).collect();
            let mut theirs = ReedSolomonEncoder::new(k, m, len).unwrap();
            for o in &refs {
                theirs.add_original_shard(o).unwrap();
            }
            let want: Vec<Vec<u8>> = theirs
                .encode()
                .unwrap()
                .recovery_iter()
                .map(<[u8]>::to_vec)
                .collect();
            let mut portable = vec![vec![0xA5u8; len]; m];
            let mut native = vec![vec![0x5Au8; len]; m];
            encode_copied(&NoSimd::new(), &refs, &mut mut_refs(&mut portable), 0);
            encode(crate::gf16::engine(), &refs, &mut mut_refs(&mut native));
            assert!(
                portable == want,
                "{k}:{m} at {len}, portable engine: recovery differs"
            );
            assert!(
                native == want,
                "{k}:{m} at {len}, this CPU's engine: recovery differs"
            );
        }
    }
}
