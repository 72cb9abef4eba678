//! Rebuilding one stripe. Originals present are copied out; lost ones are
//! restored on reed-solomon-simd's engine a column block at a time, so the
//! decoder's work stays in a core's L2 where `ReedSolomonDecoder` transforms
//! every shard's full length at once. Bodies not yet checked are checked
//! here, each just before it is first read, while it is in cache.
//!
//! The restore runs the high-rate decode reed-solomon-simd describes in its
//! `algorithm.md` (erasure locator by `eval_poly`, IFFT, formal derivative,
//! FFT) on 64-byte columns: RS works column by column, so decoding bytes
//! `[a, b)` of every shard restores exactly those bytes of the lost ones.
//! Its last FFT is run only where the originals lie (see [`fft_originals`]).

use std::cell::RefCell;

use reed_solomon_simd::engine::tables::get_skew;
use reed_solomon_simd::engine::utils::xor_within;
use reed_solomon_simd::engine::{DefaultEngine, Engine, GF_MODULUS, GF_ORDER, GfElement, ShardsRefMut};
use reed_solomon_simd::rate::RateDecoder;

use super::{Decoder, ShardHeader, engine};
use crate::{ErasureError, Result};

/// Bytes of decoder work per column block: half a core's 1 MiB L2, leaving
/// room for the bodies streaming in and the restored bytes going out.
const BLOCK_BYTES: usize = 512 << 10;
/// Narrowest column block: below 1 KiB the transforms' per-call overhead
/// outweighs the cache they save.
const MIN_BLOCK: usize = 1 << 10;

thread_local! {
    // Reused per thread so no call pays for fresh work buffers.
    static DECODER: RefCell<Option<Decoder>> = const { RefCell::new(None) };
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

/// A restore's reusable buffers: the work and the 128 KiB erasure locator.
struct Scratch {
    work: Vec<[u8; 64]>,
    erasures: Box<[GfElement; GF_ORDER]>,
}

/// One shard body handed to [`decode_stripe`], with the checksum its header
/// claims when the body has not been checked yet.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Body<'a> {
    pub(crate) index: u32,
    pub(crate) bytes: &'a [u8],
    pub(crate) claimed: Option<[u8; 32]>,
}

impl<'a> Body<'a> {
    /// A body its caller has checked (or vouches for).
    pub(crate) fn checked(index: u32, bytes: &'a [u8]) -> Self {
        Self {
            index,
            bytes,
            claimed: None,
        }
    }

    /// Checks the body against the checksum its header claims, if unchecked.
    pub(crate) fn verify(&self, p: &ShardHeader, stripe: u64) -> Result<()> {
        match self.claimed {
            Some(checksum) => ShardHeader {
                checksum,
                ..p.for_shard(stripe, self.index as usize)
            }
            .verify(self.bytes),
            None => Ok(()),
        }
    }
}

/// Rebuilds one stripe's payload bytes (`out`, at most `k * shard_len`) from
/// at least `k` shards with distinct indices below `k + m`, bodies
/// `shard_len` bytes; an unchecked body that fails its checksum is refused.
pub(crate) fn decode_stripe(p: &ShardHeader, stripe: u64, shards: &[Body<'_>], out: &mut [u8]) -> Result<()> {
    let (k, m, len) = p.geometry();
    if shards.len() < k {
        return Err(ErasureError::TooFewShards {
            stripe,
            have: shards.len() as u64,
            need: k as u64,
        });
    }
    let originals = shards.iter().filter(|b| (b.index as usize) < k);
    if originals.clone().count() == k {
        for body in originals {
            body.verify(p, stripe)?;
            place(out, len, body);
        }
        return Ok(());
    }
    if uses_high_rate(k, m) && len.is_multiple_of(64) {
        return restore_high_rate(p, stripe, shards, out);
    }
    DECODER.with(|cell| -> Result<()> {
        let mut slot = cell.borrow_mut();
        let decoder = match slot.as_mut() {
            Some(d) => {
                d.reset(k, m, len).map_err(ErasureError::from_rs)?;
                d
            }
            None => slot.insert(Decoder::new(k, m, len, *engine(), None).map_err(ErasureError::from_rs)?),
        };
        // Originals first (they need no restoring), then recovery shards up to k in all.
        let (originals, recovery): (Vec<&Body<'_>>, Vec<_>) =
            shards.iter().partition(|b| (b.index as usize) < k);
        for body in &originals {
            body.verify(p, stripe)?;
            place(out, len, body);
            decoder
                .add_original_shard(body.index as usize, body.bytes)
                .map_err(ErasureError::from_rs)?;
        }
        for body in recovery.iter().take(k - originals.len()) {
            body.verify(p, stripe)?;
            decoder
                .add_recovery_shard(body.index as usize - k, body.bytes)
                .map_err(ErasureError::from_rs)?;
        }
        let result = decoder.decode().map_err(ErasureError::from_rs)?;
        for (index, bytes) in result.restored_original_iter() {
            place(out, len, &Body::checked(index as u32, bytes));
        }
        Ok(())
    })
}

/// Copies original `body.index` to its place in `out`, clipped to `out`'s end.
fn place(out: &mut [u8], len: usize, body: &Body<'_>) {
    let lo = (body.index as usize * len).min(out.len());
    let hi = (lo + len).min(out.len());
    out[lo..hi].copy_from_slice(&body.bytes[..hi - lo]);
}

/// Whether `ReedSolomonEncoder` encodes `k` originals and `m` recovery shards
/// with its high-rate code (its `DefaultRate` rule): a decoder must use the
/// rate the encoder did.
pub(crate) fn uses_high_rate(k: usize, m: usize) -> bool {
    let (k2, m2) = (k.next_power_of_two(), m.next_power_of_two());
    k2 > m2 || (k2 == m2 && k <= m)
}

/// Rebuilds a high-rate stripe with 64-byte-multiple bodies, some originals
/// missing, a column block at a time (see the module docs).
fn restore_high_rate(p: &ShardHeader, stripe: u64, given: &[Body<'_>], out: &mut [u8]) -> Result<()> {
    let (k, m, len) = p.geometry();
    debug_assert!(uses_high_rate(k, m) && len.is_multiple_of(64) && given.len() >= k);
    // Work slots: recovery j at j, originals i at chunk + i, zeros past them.
    let chunk = m.next_power_of_two();
    let original_end = chunk + k;
    let slots = original_end.next_power_of_two();
    let mut bodies: Vec<Option<&Body<'_>>> = vec![None; slots];
    for body in given {
        let index = body.index as usize;
        bodies[if index < k { chunk + index } else { index - k }] = Some(body);
    }
    let missing: Vec<usize> = (0..k).filter(|&i| bodies[chunk + i].is_none()).collect();
    let block = (BLOCK_BYTES / slots / 64 * 64).max(MIN_BLOCK).min(len);
    // One block: each body is checked and placed as it is copied in, while cached.
    let whole = block == len;
    if !whole {
        for body in given {
            body.verify(p, stripe)?;
            if (body.index as usize) < k {
                place(out, len, body);
            }
        }
    }

    SCRATCH.with(|cell| -> Result<()> {
        let mut cell = cell.borrow_mut();
        let scratch = cell.get_or_insert_with(|| Scratch {
            work: Vec::new(),
            erasures: vec![0; GF_ORDER]
                .into_boxed_slice()
                .try_into()
                .expect("GF_ORDER long"),
        });
        // The erasure locator: 1 at every slot up to original_end not given.
        let erasures = &mut scratch.erasures;
        for (e, body) in erasures.iter_mut().zip(&bodies[..original_end]) {
            *e = GfElement::from(body.is_none());
        }
        erasures[original_end..].fill(0);
        DefaultEngine::eval_poly(erasures, original_end);

        scratch.work.resize(slots * block / 64, [0; 64]);
        let mut a = 0;
        while a < len {
            let b = (a + block).min(len);
            let mut work = ShardsRefMut::new(slots, (b - a) / 64, &mut scratch.work[..slots * (b - a) / 64]);
            for (slot, body) in bodies.iter().enumerate() {
                let dst = &mut work[slot];
                let Some(body) = body else {
                    dst.fill([0; 64]);
                    continue;
                };
                if whole {
                    body.verify(p, stripe)?;
                    if slot >= chunk {
                        place(out, len, body);
                    }
                }
                dst.as_flattened_mut().copy_from_slice(&body.bytes[a..b]);
                engine().mul(dst, erasures[slot]);
            }
            engine().ifft(&mut work, 0, slots, original_end, 0);
            formal_derivative(&mut work);
            fft_originals(&mut work, chunk, original_end);
            for &i in &missing {
                let slot = chunk + i;
                engine().mul(&mut work[slot], GF_MODULUS - erasures[slot]);
                let lo = (i * len + a).min(out.len());
                let hi = (i * len + b).min(out.len());
                out[lo..hi].copy_from_slice(&work[slot].as_flattened()[..hi - lo]);
            }
            a = b;
        }
        Ok(())
    })
}

/// The FFT of `work` at the original slots `[chunk, end)` only. A
/// decimation-in-time FFT's top layer (`x += y·s`, then `y += x`) leaves its
/// two halves independent; when the originals all lie in the upper half
/// (`k <= chunk`), that half's inputs are formed and only its FFT is run:
/// about half the transform. A block at slot 0 has top skew `s = 0` (its
/// subspace polynomial vanishes at 0), so the layer is just `y += x`.
fn fft_originals(work: &mut ShardsRefMut<'_>, chunk: usize, end: usize) {
    let slots = work.len();
    if slots != 2 * chunk || !top_skew_is_zero(chunk) {
        engine().fft(work, 0, slots, end, 0);
        return;
    }
    xor_within(work, chunk, 0, chunk);
    engine().fft(work, chunk, chunk, end - chunk, chunk);
}

/// Whether the top layer of the engine's FFT of `2 * half` slots at slot 0
/// multiplies by zero (the skew table marks zero as `GF_MODULUS`).
fn top_skew_is_zero(half: usize) -> bool {
    get_skew()[half - 1] == GF_MODULUS
}

/// The formal derivative in the polynomial basis reed-solomon-simd's
/// transforms use: slot `i` gains the `2^tz(i)` slots before it.
fn formal_derivative(work: &mut ShardsRefMut<'_>) {
    for i in 1..work.len() {
        let width = 1 << i.trailing_zeros();
        xor_within(work, i - width, i, width);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_takes_the_half_fft() {
        // Else decode quietly falls back to the full FFT.
        for bits in 0..16 {
            assert!(top_skew_is_zero(1 << bits), "chunk 2^{bits}");
        }
    }
}
