//! The on-disk record: a 128-byte header, the payload, padding to 4 KiB.
//!
//! Layout (little-endian): magic `ZGSR` (4), version (1), kind (1), reserved
//! zero (2), sequence number (8), index (8), payload length (4), reserved
//! zero (4), key (32), the payload's hash (32), the first 16 bytes of
//! BLAKE3 over the 96 bytes before it (16), zero (16). Records start at
//! 4 KiB-aligned offsets so reads can bypass the page cache (`O_DIRECT`).
//!
//! The version says what the payload's hash is ([`Hashing`]): 1, BLAKE3 of the
//! payload; 2 (segment records only), the payload's BLAKE3 chaining value as the
//! subtree at byte offset `index` × [`SEGMENT_BYTES`] — a BLAKE3-rooted file's
//! segment node, which a node has already computed when it checked the segment's
//! proof, so storing it costs no second pass over the bytes.
//!
//! A commit record closes each group-committed batch: its `index` is the
//! offset where the batch starts and the first 8 bytes of its key count the
//! batch's records, so recovery can tell a torn last batch from corruption.

use std::ops::Deref;

use zg_codec::{Fixed, Reader, Writer};

/// Records start at multiples of this many bytes.
pub const ALIGN: u64 = 4096;
/// Bytes of the record header.
pub const HEADER_LEN: usize = 128;
/// The largest payload a record holds (a file's metadata may be large).
pub const MAX_PAYLOAD: usize = 16 << 20;
/// The offset unit of a version-2 record's chaining value: zg-merkle's segment size.
pub const SEGMENT_BYTES: u64 = 256 << 10;
const MAGIC: [u8; 4] = *b"ZGSR";
const VERSION_WHOLE: u8 = 1;
const VERSION_AT_SEGMENT: u8 = 2;
const CHECKED_LEN: usize = 96;

/// What a record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum RecordKind {
    /// A segment of a file: key = file key, index = segment index.
    Segment = 1,
    /// Deletes every earlier record of its key.
    Tombstone = 2,
    /// Closes a group-committed batch.
    Commit = 3,
    /// A file's metadata (its tree), under the file root.
    Meta = 4,
}

impl RecordKind {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Segment,
            2 => Self::Tombstone,
            3 => Self::Commit,
            4 => Self::Meta,
            _ => return None,
        })
    }
}

/// What a record's payload hash is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hashing {
    /// BLAKE3 of the payload (version 1).
    Whole,
    /// The payload's BLAKE3 chaining value as the subtree at byte offset `index` ×
    /// [`SEGMENT_BYTES`] (version 2; segment records of 1 to [`SEGMENT_BYTES`] bytes).
    AtSegment,
}

/// The BLAKE3 chaining value of `payload` as the subtree at byte offset `index` ×
/// [`SEGMENT_BYTES`] (the node of segment `index` in a BLAKE3 file tree of two or
/// more segments). `payload` must hold 1 to [`SEGMENT_BYTES`] bytes.
pub fn segment_chaining_value(index: u64, payload: &[u8]) -> [u8; 32] {
    use blake3::hazmat::HasherExt;
    debug_assert!(!payload.is_empty() && payload.len() as u64 <= SEGMENT_BYTES);
    let mut hasher = blake3::Hasher::new();
    hasher.set_input_offset(index * SEGMENT_BYTES);
    hasher.update(payload);
    hasher.finalize_non_root()
}

/// Whether a version-2 hash can be taken of a payload of `len` bytes at `index`
/// (a subtree of 1 to [`SEGMENT_BYTES`] bytes at an offset that fits in a u64).
fn fits_at_segment(index: u64, len: u64) -> bool {
    (1..=SEGMENT_BYTES).contains(&len) && index.checked_mul(SEGMENT_BYTES).is_some()
}

/// Why a header did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Fewer than 128 bytes.
    #[error("record header truncated: {got} of 128 bytes")]
    Truncated {
        /// Bytes available.
        got: usize,
    },
    /// Not a record (zeros, garbage, or another format).
    #[error("bad record magic {0:02x?}")]
    BadMagic([u8; 4]),
    /// A format version this build does not read.
    #[error("unsupported record version {0}")]
    BadVersion(u8),
    /// An unknown kind byte.
    #[error("unknown record kind {0}")]
    BadKind(u8),
    /// The header checksum does not match.
    #[error("record header checksum mismatch")]
    BadChecksum,
    /// Reserved bytes are not zero, or the payload length is impossible.
    #[error("malformed record header: {0}")]
    Malformed(&'static str),
}

/// A parsed record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// What the record holds.
    pub kind: RecordKind,
    /// Position in the store's total order of writes.
    pub seq: u64,
    /// Segment index, or a commit's batch start offset.
    pub index: u64,
    /// Payload bytes after the header.
    pub payload_len: u32,
    /// File key (root), or a commit's record count in the first 8 bytes.
    pub key: [u8; 32],
    /// The payload's hash, as `hashing` says.
    pub payload_hash: [u8; 32],
    /// What `payload_hash` is.
    pub hashing: Hashing,
}

/// Rounds `n` up to a multiple of [`ALIGN`].
pub fn align_up(n: u64) -> u64 {
    n.div_ceil(ALIGN) * ALIGN
}

impl RecordHeader {
    /// A header for `payload`.
    pub fn new(kind: RecordKind, seq: u64, key: [u8; 32], index: u64, payload: &[u8]) -> Self {
        Self {
            kind,
            seq,
            index,
            payload_len: payload.len() as u32,
            key,
            payload_hash: *blake3::hash(payload).as_bytes(),
            hashing: Hashing::Whole,
        }
    }

    /// A segment record's header whose hash is `chaining_value`, which the caller
    /// computed as [`segment_chaining_value`] of the payload (`None` if the payload
    /// cannot be hashed that way: empty, over [`SEGMENT_BYTES`], or at an index too large).
    pub fn at_segment(
        seq: u64,
        key: [u8; 32],
        index: u64,
        payload: &[u8],
        chaining_value: [u8; 32],
    ) -> Option<Self> {
        fits_at_segment(index, payload.len() as u64).then_some(Self {
            kind: RecordKind::Segment,
            seq,
            index,
            payload_len: payload.len() as u32,
            key,
            payload_hash: chaining_value,
            hashing: Hashing::AtSegment,
        })
    }

    /// The commit record closing `count` records that start at `batch_start`.
    pub fn commit(seq: u64, batch_start: u64, count: u64) -> Self {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&count.to_le_bytes());
        Self::new(RecordKind::Commit, seq, key, batch_start, &[])
    }

    /// A commit record's count of records in its batch.
    pub fn commit_count(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.key[..8]);
        u64::from_le_bytes(b)
    }

    /// Bytes the record takes on disk, padding included.
    pub fn record_len(&self) -> u64 {
        align_up(HEADER_LEN as u64 + u64::from(self.payload_len))
    }

    /// The header's 128 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut w = Writer::<Fixed<HEADER_LEN>>::fixed();
        let version = match self.hashing {
            Hashing::Whole => VERSION_WHOLE,
            Hashing::AtSegment => VERSION_AT_SEGMENT,
        };
        w.bytes(&MAGIC)
            .tag(version)
            .tag(self.kind as u8)
            .zeros(2)
            .u64(self.seq)
            .u64(self.index)
            .u32(self.payload_len)
            .zeros(4)
            .bytes(&self.key)
            .bytes(&self.payload_hash)
            .zeros(HEADER_LEN - CHECKED_LEN);
        let mut out = w.into_array();
        let check = blake3::hash(&out[..CHECKED_LEN]);
        out[CHECKED_LEN..CHECKED_LEN + 16].copy_from_slice(&check.as_bytes()[..16]);
        out
    }

    /// Parses and checks a header (not the payload: see [`RecordHeader::check_payload`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, HeaderError> {
        let Some(b) = bytes.get(..HEADER_LEN) else {
            return Err(HeaderError::Truncated { got: bytes.len() });
        };
        // Exactly 128 bytes from here: no field read below can run short.
        let short = |_| HeaderError::Truncated { got: bytes.len() };
        let mut r = Reader::new("record header", b);
        let magic = r.array::<4>().map_err(short)?;
        if magic != MAGIC {
            return Err(HeaderError::BadMagic(magic));
        }
        let hashing = match r.u8().map_err(short)? {
            VERSION_WHOLE => Hashing::Whole,
            VERSION_AT_SEGMENT => Hashing::AtSegment,
            v => return Err(HeaderError::BadVersion(v)),
        };
        if blake3::hash(&b[..CHECKED_LEN]).as_bytes()[..16] != b[CHECKED_LEN..CHECKED_LEN + 16] {
            return Err(HeaderError::BadChecksum);
        }
        let kind = r.u8().map_err(short)?;
        let kind = RecordKind::from_u8(kind).ok_or(HeaderError::BadKind(kind))?;
        let reserved_a = r.array::<2>().map_err(short)?;
        let seq = r.u64().map_err(short)?;
        let index = r.u64().map_err(short)?;
        let payload_len = r.u32().map_err(short)?;
        let reserved_b = r.array::<4>().map_err(short)?;
        let key = r.array::<32>().map_err(short)?;
        let payload_hash = r.array::<32>().map_err(short)?;
        let _check = r.array::<16>().map_err(short)?;
        if reserved_a != [0; 2] || reserved_b != [0; 4] || r.rest() != [0; 16] {
            return Err(HeaderError::Malformed("reserved bytes are not zero"));
        }
        if payload_len as usize > MAX_PAYLOAD {
            return Err(HeaderError::Malformed("payload length over the maximum"));
        }
        if kind == RecordKind::Commit && payload_len != 0 {
            return Err(HeaderError::Malformed("commit record with a payload"));
        }
        if hashing == Hashing::AtSegment
            && (kind != RecordKind::Segment || !fits_at_segment(index, u64::from(payload_len)))
        {
            return Err(HeaderError::Malformed(
                "a segment hash on a record that is no segment of 1 to 256 KiB",
            ));
        }
        Ok(Self {
            kind,
            seq,
            index,
            payload_len,
            key,
            payload_hash,
            hashing,
        })
    }

    /// Whether `payload` is the one this header names.
    pub fn check_payload(&self, payload: &[u8]) -> bool {
        payload.len() == self.payload_len as usize
            && match self.hashing {
                Hashing::Whole => blake3::hash(payload).as_bytes() == &self.payload_hash,
                // Parsed or built only where the payload fits (`fits_at_segment`).
                Hashing::AtSegment => segment_chaining_value(self.index, payload) == self.payload_hash,
            }
    }
}

/// A buffer whose start is 4 KiB-aligned, as `O_DIRECT` needs, made
/// without `unsafe` by over-allocating and starting at the aligned offset.
/// Buffers are recycled through a small pool: fresh pages cost a fault and
/// a clear each, which measured slower than the reads themselves.
#[derive(Debug, Default)]
pub struct AlignedBuf {
    raw: Vec<u8>,
    start: usize,
    len: usize,
}

/// Buffers kept for reuse (about 34 MiB of segment records at most).
const POOL_MAX: usize = 128;
static POOL: std::sync::Mutex<Vec<AlignedBuf>> = std::sync::Mutex::new(Vec::new());

impl AlignedBuf {
    /// `len` zero bytes, freshly allocated.
    pub fn zeroed(len: usize) -> Self {
        let raw = vec![0u8; len + ALIGN as usize];
        let start = raw.as_ptr().align_offset(ALIGN as usize);
        Self { raw, start, len }
    }

    /// `len` bytes of unspecified content (a recycled buffer when one fits):
    /// for callers that overwrite every byte.
    pub(crate) fn for_overwrite(len: usize) -> Self {
        let reused = {
            let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
            let fit = pool
                .iter()
                .position(|b| b.raw.len() - b.start >= len && b.raw.len() <= 2 * (len + ALIGN as usize));
            fit.map(|i| pool.swap_remove(i))
        };
        match reused {
            Some(mut b) => {
                b.len = len;
                b
            }
            None => Self::zeroed(len),
        }
    }

    /// The bytes, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + self.len]
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if self.raw.len() < 64 << 10 {
            return;
        }
        let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < POOL_MAX {
            pool.push(std::mem::take(self));
        }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.raw[self.start..self.start + self.len]
    }
}

/// A record laid out as it goes to disk: header, payload, zero padding, in
/// one aligned buffer (so `O_DIRECT` writes take it as it is).
pub(crate) fn record_image(header: &RecordHeader, payload: &[u8]) -> AlignedBuf {
    let mut img = RecordImage {
        buf: AlignedBuf::for_overwrite(header.record_len() as usize),
        payload_len: payload.len(),
    };
    img.payload_mut().copy_from_slice(payload);
    img.finish(header)
}

/// A record for a payload the caller writes in place (a segment received straight
/// into it): room for the header, the payload, then padding, in one aligned buffer,
/// so the store writes it out without copying the payload ([`crate::Put::segment`]).
#[derive(Debug)]
pub struct RecordImage {
    buf: AlignedBuf,
    payload_len: usize,
}

impl RecordImage {
    /// An image for `len` payload bytes, their content unspecified until the caller
    /// fills them; `None` past [`MAX_PAYLOAD`].
    pub fn for_payload(len: usize) -> Option<Self> {
        (len <= MAX_PAYLOAD).then(|| Self {
            buf: AlignedBuf::for_overwrite(align_up((HEADER_LEN + len) as u64) as usize),
            payload_len: len,
        })
    }

    /// The payload, to fill.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut_slice()[HEADER_LEN..HEADER_LEN + self.payload_len]
    }

    /// The record as it goes to disk: `header` (which describes the payload) in front, zeros behind.
    pub(crate) fn finish(mut self, header: &RecordHeader) -> AlignedBuf {
        let b = self.buf.as_mut_slice();
        b[..HEADER_LEN].copy_from_slice(&header.encode());
        b[HEADER_LEN + self.payload_len..].fill(0);
        self.buf
    }
}

impl Deref for RecordImage {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[HEADER_LEN..HEADER_LEN + self.payload_len]
    }
}

/// A payload read back from the store: checked against its header's hash.
#[derive(Debug)]
pub struct Segment {
    buf: AlignedBuf,
    len: usize,
}

impl Segment {
    pub(crate) fn new(buf: AlignedBuf, len: usize) -> Self {
        debug_assert!(HEADER_LEN + len <= buf.len());
        Self { buf, len }
    }

    /// Copies the payload out.
    pub fn to_vec(&self) -> Vec<u8> {
        self.deref().to_vec()
    }
}

impl Deref for Segment {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[HEADER_LEN..HEADER_LEN + self.len]
    }
}

impl AsRef<[u8]> for Segment {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_every_flipped_bit_is_caught() {
        let h = RecordHeader::new(RecordKind::Segment, 7, [9; 32], 3, b"payload");
        let bytes = h.encode();
        assert_eq!(RecordHeader::parse(&bytes), Ok(h));
        assert!(h.check_payload(b"payload"));
        assert!(!h.check_payload(b"payloaD"));
        for bit in 0..HEADER_LEN * 8 {
            let mut b = bytes;
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(RecordHeader::parse(&b).is_err(), "bit {bit}");
        }
        assert_eq!(h.record_len(), ALIGN);
    }

    #[test]
    fn segment_hashed_records_round_trip_and_check_their_payload() {
        let payload = vec![5u8; 3000];
        for index in [0, 1, 7, 1 << 40] {
            let cv = segment_chaining_value(index, &payload);
            let h = RecordHeader::at_segment(3, [2; 32], index, &payload, cv).unwrap();
            let back = RecordHeader::parse(&h.encode()).unwrap();
            assert_eq!(back, h);
            assert_eq!(back.hashing, Hashing::AtSegment);
            assert!(back.check_payload(&payload));
            let mut bad = payload.clone();
            bad[2999] ^= 1;
            assert!(!back.check_payload(&bad));
            // The hash depends on where the segment sits, and is not BLAKE3 of the payload.
            assert!(
                !RecordHeader {
                    index: index + 1,
                    ..back
                }
                .check_payload(&payload)
            );
            assert_ne!(cv, *blake3::hash(&payload).as_bytes());
        }
        // Empty, over a segment, at an offset past u64: not made, and not parsed.
        let cv = [0; 32];
        assert!(RecordHeader::at_segment(0, [2; 32], 0, &[], cv).is_none());
        assert!(RecordHeader::at_segment(0, [2; 32], 0, &vec![0; SEGMENT_BYTES as usize + 1], cv).is_none());
        assert!(RecordHeader::at_segment(0, [2; 32], u64::MAX / 1000, b"x", cv).is_none());
        let h = RecordHeader::at_segment(0, [2; 32], 0, b"x", cv).unwrap();
        for forged in [
            RecordHeader { payload_len: 0, ..h },
            RecordHeader {
                payload_len: SEGMENT_BYTES as u32 + 1,
                ..h
            },
            RecordHeader { index: u64::MAX, ..h },
            RecordHeader {
                kind: RecordKind::Meta,
                ..h
            },
        ] {
            assert!(
                matches!(
                    RecordHeader::parse(&forged.encode()),
                    Err(HeaderError::Malformed(_))
                ),
                "{forged:?}"
            );
        }
    }

    #[test]
    fn commit_counts() {
        let c = RecordHeader::commit(1, 8192, 5);
        let p = RecordHeader::parse(&c.encode()).unwrap();
        assert_eq!((p.kind, p.index, p.commit_count()), (RecordKind::Commit, 8192, 5));
    }

    #[test]
    fn aligned_buffers_are_aligned() {
        for len in [0, 1, 4096, 300_000] {
            let b = AlignedBuf::zeroed(len);
            assert_eq!(b.as_ptr() as usize % ALIGN as usize, 0);
            assert_eq!(b.len(), len);
        }
    }
}
