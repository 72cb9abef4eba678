//! Encoding that leaves the payload where it is: original shard bodies are
//! borrowed from it, only headers and recovery bodies are written. A large
//! payload's encode then writes half the bytes the owned records take, and
//! each shard goes out as two slices (header, body) in one vectored write.

use std::cell::RefCell;
use std::io::{self, IoSlice, Write};

use rayon::prelude::*;
use reed_solomon_simd::engine::{Engine, ShardsRefMut};

use super::{
    Gf16Code, HEADER_LEN, ShardHeader, StripeBodies, column_block, copy_padded, encode_stripe, engine,
    nontemporal,
};
use crate::{ErasureError, Result};

/// Buffers of a borrowed encode, handed back by [`BorrowedShards::into_buffers`]
/// so the next encode touches no fresh memory.
#[derive(Clone, Debug, Default)]
pub struct EncodeBuffers {
    /// Every shard's header, stripe-major.
    headers: Vec<[u8; HEADER_LEN]>,
    /// Recovery bodies, `m` per stripe, stripe-major.
    recovery: Vec<u8>,
    /// Zero-padded originals of stripes the payload does not fill (the last one at most).
    tail: Vec<u8>,
}

/// A payload's shards, stripe-major like [`Gf16Code::encode`]'s, with the
/// original bodies borrowed from the payload.
#[derive(Debug)]
pub struct BorrowedShards<'a> {
    payload: &'a [u8],
    template: ShardHeader,
    first_stripe: u64,
    stripes: usize,
    /// Stripes whose originals lie whole in `payload`; the rest are in `bufs.tail`.
    whole: usize,
    bufs: EncodeBuffers,
}

/// One shard of a [`BorrowedShards`]: its header and body, not joined.
#[derive(Clone, Copy, Debug)]
pub struct ShardRef<'a> {
    header: ShardHeader,
    header_bytes: &'a [u8; HEADER_LEN],
    body: &'a [u8],
}

impl Gf16Code {
    /// Encodes `payload` as [`Gf16Code::encode`] does, but leaves the
    /// original bodies in `payload` instead of copying them into records:
    /// only headers and recovery bodies are written, into `buffers` (pass
    /// `EncodeBuffers::default()`, or the buffers of a previous encode).
    /// Stripes encode in parallel. Write a shard with [`ShardRef::write_to`];
    /// the bytes are the record [`Shard::as_bytes`](super::Shard::as_bytes) would hold.
    pub fn encode_borrowed<'a>(
        &self,
        payload: &'a [u8],
        payload_id: &[u8; 32],
        buffers: EncodeBuffers,
    ) -> Result<BorrowedShards<'a>> {
        let template = self.header(payload.len() as u64, payload_id);
        let stripes = self.stripes_for(template.payload_len) as usize;
        encode_stripes(&template, 0, stripes, payload, buffers)
    }
}

/// Recovery output above which it is written with non-temporal stores: past
/// a core's 1 MiB L2 it cannot stay cached for the caller anyway, and the
/// stores skip the write-allocate reads.
const STREAMING_RECOVERY_BYTES: usize = 1 << 20;

/// Recovery output up to which stripes are encoded inside it (see
/// [`encodes_in_place`]): half a 32 MiB L3, so the originals copied in stay
/// cached. Past it each copy-in misses and pays the write-allocate reads the
/// encoder's cached buffer and a non-temporal copy out avoid.
const IN_PLACE_RECOVERY_BYTES: usize = 16 << 20;

/// Largest stripe of recovery bodies transformed in a per-thread scratch
/// buffer when the payload's recovery is too large to transform in place
/// (then streamed out). The scratch is 64-byte aligned, where the encoder's
/// buffer lies wherever malloc puts it, and the engine's speed moves with that
/// offset.
const SCRATCH_BYTES: usize = 4 << 20;

/// Encodes `stripes` stripes starting at `first_stripe` whose payload bytes
/// are `data` (short only in the last stripe), into `bufs`.
pub(crate) fn encode_stripes<'a>(
    template: &ShardHeader,
    first_stripe: u64,
    stripes: usize,
    data: &'a [u8],
    mut bufs: EncodeBuffers,
) -> Result<BorrowedShards<'a>> {
    let (k, m, len) = template.geometry();
    let stripe_bytes = k * len;
    let whole = (data.len() / stripe_bytes).min(stripes);
    let EncodeBuffers {
        headers,
        recovery,
        tail,
    } = &mut bufs;
    resize(headers, stripes * (k + m), [0; HEADER_LEN], "shard headers")?;
    resize(recovery, stripes * m * len, 0, "recovery shards")?;
    resize(tail, (stripes - whole) * stripe_bytes, 0, "the last stripe")?;
    copy_padded(data, whole * stripe_bytes, tail);
    let tail = &*tail;
    let streaming = recovery.len() > STREAMING_RECOVERY_BYTES;
    let transformable = encodes_in_place(k, m, len);
    let in_place = transformable && recovery.len() <= IN_PLACE_RECOVERY_BYTES;
    let in_scratch = transformable && !in_place && m * len <= SCRATCH_BYTES;
    recovery
        .par_chunks_mut(m * len)
        .zip(headers.par_chunks_mut(k + m))
        .enumerate()
        .try_for_each(|(s, (recovery, headers))| {
            let originals = match s.checked_sub(whole) {
                None => &data[s * stripe_bytes..(s + 1) * stripe_bytes],
                Some(t) => &tail[t * stripe_bytes..(t + 1) * stripe_bytes],
            };
            let stripe = first_stripe + s as u64;
            if in_place {
                transform_stripe(template, stripe, originals, recovery, headers, |_, _| {});
                return Ok(());
            }
            if in_scratch {
                let done = transform_stripe_in_scratch(template, stripe, originals, recovery, headers);
                nontemporal::fence();
                return done;
            }
            let mut bodies = BorrowedBodies {
                originals,
                recovery,
                headers,
                len,
                streaming,
            };
            let done = encode_stripe(template, stripe, &mut bodies);
            if streaming {
                nontemporal::fence();
            }
            done
        })?;
    Ok(BorrowedShards {
        payload: data,
        template: *template,
        first_stripe,
        stripes,
        whole,
        bufs,
    })
}

/// Whether a stripe can be encoded inside its own recovery bodies, with no
/// copy out of an encoder: reed-solomon-simd's high-rate transform, the one
/// `ReedSolomonEncoder` picks when `k <= m`, works in place over
/// `k.next_power_of_two()` shard slots, which are exactly the `m` recovery
/// bodies when that is `m`; the bodies must be whole 64-byte units and one
/// column block. It saves copying the recovery out of an encoder.
fn encodes_in_place(k: usize, m: usize, len: usize) -> bool {
    k.next_power_of_two() == m && len.is_multiple_of(64) && column_block(k + m, len) == len
}

/// Encodes one stripe for which [`encodes_in_place`] holds: the originals are
/// copied into `work` (and checksummed while cached), transformed there into
/// the recovery bodies (IFFT over the k originals, FFT to m), and
/// checksummed; `work` is the stripe's recovery bodies or a scratch buffer.
fn transform_stripe(
    template: &ShardHeader,
    stripe: u64,
    originals: &[u8],
    work: &mut [u8],
    headers: &mut [[u8; HEADER_LEN]],
    mut recovered: impl FnMut(usize, &[u8]),
) {
    let (k, m, len) = template.geometry();
    let mut seal = |i: usize, body: &[u8]| {
        template
            .for_shard(stripe, i)
            .sealed(body)
            .write_to(&mut headers[i]);
    };
    for (i, (body, slot)) in originals
        .chunks_exact(len)
        .zip(work.chunks_exact_mut(len))
        .enumerate()
    {
        slot.copy_from_slice(body);
        seal(i, body);
    }
    let (units, rest) = work.as_chunks_mut::<64>();
    debug_assert!(rest.is_empty());
    let mut shards = ShardsRefMut::new(m, len / 64, units);
    shards.zero(k..m);
    // What HighRateEncoder::encode does for one chunk of originals (k <= chunk size m).
    engine().ifft(&mut shards, 0, m, k, m);
    engine().fft(&mut shards, 0, m, m, 0);
    for (j, body) in work.chunks_exact(len).enumerate() {
        seal(k + j, body);
        recovered(j, body);
    }
}

thread_local! {
    // Per thread: where stripes of payloads too large to transform in place are transformed.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// As [`transform_stripe`] into this thread's scratch buffer, each
/// recovery body streamed out to `recovery` right after it is checksummed.
fn transform_stripe_in_scratch(
    template: &ShardHeader,
    stripe: u64,
    originals: &[u8],
    recovery: &mut [u8],
    headers: &mut [[u8; HEADER_LEN]],
) -> Result<()> {
    let len = template.shard_len as usize;
    SCRATCH.with(|cell| {
        let mut buf = cell.borrow_mut();
        resize(&mut buf, recovery.len() + 64, 0, "the encode scratch buffer")?;
        let at = buf.as_ptr().align_offset(64).min(64);
        let work = &mut buf[at..at + recovery.len()];
        transform_stripe(template, stripe, originals, work, headers, |j, body| {
            nontemporal::copy(&mut recovery[j * len..(j + 1) * len], body);
        });
        Ok(())
    })
}

/// Resizes `buf` to `n` items, refusing with a typed error what cannot be allocated.
fn resize<T: Clone>(buf: &mut Vec<T>, n: usize, fill: T, what: &'static str) -> Result<()> {
    if let Some(more) = n.checked_sub(buf.len()) {
        buf.try_reserve_exact(more)
            .map_err(|_| ErasureError::Allocation {
                what,
                bytes: n as u128 * size_of::<T>() as u128,
            })?;
    }
    buf.resize(n, fill);
    Ok(())
}

/// One stripe's bodies where a borrowed encode keeps them (originals in the
/// payload), for stripes not transformed by [`transform_stripe`].
struct BorrowedBodies<'a> {
    /// `k` original bodies of `len` bytes, back to back.
    originals: &'a [u8],
    /// `m` recovery bodies, back to back.
    recovery: &'a mut [u8],
    /// The stripe's `k + m` headers.
    headers: &'a mut [[u8; HEADER_LEN]],
    len: usize,
    /// Write recovery bodies with non-temporal stores.
    streaming: bool,
}

impl StripeBodies for BorrowedBodies<'_> {
    fn original(&mut self, i: usize, a: usize, b: usize) -> &[u8] {
        &self.originals[i * self.len + a..i * self.len + b]
    }

    fn put_recovery(&mut self, j: usize, a: usize, b: usize, body: &[u8]) {
        let dst = &mut self.recovery[j * self.len + a..j * self.len + b];
        if self.streaming {
            nontemporal::copy(dst, body);
        } else {
            dst.copy_from_slice(body);
        }
    }

    fn seal(&mut self, header: &ShardHeader) {
        header.write_to(&mut self.headers[header.index as usize]);
    }
}

impl<'a> BorrowedShards<'a> {
    /// Shards in all: `stripes * (k + m)`.
    pub fn len(&self) -> usize {
        self.bufs.headers.len()
    }

    /// Whether there are no shards (never: an empty payload has one stripe).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shard `i`, stripe-major: index `i % (k + m)` of stripe `i / (k + m)`.
    pub fn get(&self, i: usize) -> Option<ShardRef<'_>> {
        (i < self.len()).then(|| self.shard(i))
    }

    /// Stripes encoded.
    pub fn stripes(&self) -> usize {
        self.stripes
    }

    /// Every shard, stripe-major.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = ShardRef<'_>> + '_ {
        (0..self.len()).map(|i| self.shard(i))
    }

    /// The buffers, for the next encode.
    pub fn into_buffers(self) -> EncodeBuffers {
        self.bufs
    }

    fn shard(&self, i: usize) -> ShardRef<'_> {
        let (k, m, len) = self.template.geometry();
        let (s, index) = (i / (k + m), i % (k + m));
        let body = if index >= k {
            let at = (s * m + index - k) * len;
            &self.bufs.recovery[at..at + len]
        } else if s < self.whole {
            let at = (s * k + index) * len;
            &self.payload[at..at + len]
        } else {
            let at = ((s - self.whole) * k + index) * len;
            &self.bufs.tail[at..at + len]
        };
        let header_bytes = &self.bufs.headers[i];
        let mut checksum = [0u8; 32];
        checksum.copy_from_slice(&header_bytes[HEADER_LEN - 32..]);
        ShardRef {
            header: ShardHeader {
                checksum,
                ..self.template.for_shard(self.first_stripe + s as u64, index)
            },
            header_bytes,
            body,
        }
    }
}

impl<'a> ShardRef<'a> {
    /// The shard's header.
    pub fn header(&self) -> &ShardHeader {
        &self.header
    }

    /// The header as stored or sent, checksum included.
    pub fn header_bytes(&self) -> &'a [u8; HEADER_LEN] {
        self.header_bytes
    }

    /// The shard's data.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Bytes of the whole record: header and body.
    pub fn record_len(&self) -> usize {
        HEADER_LEN + self.body.len()
    }

    /// Writes the record (header, then body) with vectored writes.
    pub fn write_to<W: Write + ?Sized>(&self, out: &mut W) -> io::Result<()> {
        let mut slices = [IoSlice::new(self.header_bytes), IoSlice::new(self.body)];
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match out.write_vectored(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The record as one buffer, as [`Shard::as_bytes`](super::Shard::as_bytes) holds it.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut record = Vec::with_capacity(self.record_len());
        record.extend_from_slice(self.header_bytes);
        record.extend_from_slice(self.body);
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_past_the_address_space_are_a_typed_error() {
        let mut headers: Vec<[u8; HEADER_LEN]> = Vec::new();
        let err = resize(&mut headers, usize::MAX / 64, [0; HEADER_LEN], "shard headers").unwrap_err();
        assert!(
            matches!(err, ErasureError::Allocation { what: "shard headers", bytes } if bytes > isize::MAX as u128),
            "{err}"
        );
        assert!(headers.is_empty());
    }
}
