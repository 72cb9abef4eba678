//! The fixed shard header, and a shard as one checked record.

use zg_codec::{Fixed, Reader, Writer};

use crate::{ErasureError, Result};

use super::{Gf16Code, MAX_SHARD_LEN};

/// First bytes of every shard.
pub const MAGIC: [u8; 4] = *b"ZGEC";
/// The shard format this build writes and reads (2: the checksum hashes the body first).
pub const VERSION: u8 = 2;
/// Bytes of header fields covered by the checksum.
const FIELDS_LEN: usize = 72;
/// Header bytes before the body: the fields and the 32-byte checksum.
pub const HEADER_LEN: usize = FIELDS_LEN + 32;

/// Where a shard belongs and how to check it.
///
/// Layout (little-endian): magic `ZGEC` (4), version (1), reserved zero (3),
/// k (4), m (4), index (4), shard length (4), stripe (8), payload length (8),
/// payload id (32), then BLAKE3 of the body followed by the 72 bytes of fields (32).
/// The checksum covers the fields too, so a flipped index or length is
/// caught like a flipped body byte. The body comes first so that it starts on a
/// BLAKE3 chunk boundary: hashed in pieces, every piece goes through the SIMD path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardHeader {
    /// Original shards per stripe.
    pub k: u32,
    /// Recovery shards per stripe.
    pub m: u32,
    /// Shard index: `< k` original, `k..k + m` recovery.
    pub index: u32,
    /// Body bytes of every shard of the payload.
    pub shard_len: u32,
    /// Stripe the shard belongs to.
    pub stripe: u64,
    /// Bytes of the whole payload.
    pub payload_len: u64,
    /// Names the payload (a file root, say): shards of other payloads are foreign.
    pub payload_id: [u8; 32],
    /// BLAKE3 of the header fields and the body.
    pub checksum: [u8; 32],
}

/// Stripes of a payload: at least one, each `k * shard_len` payload bytes.
pub(crate) fn stripe_count(payload_len: u64, k: u32, shard_len: u32) -> u64 {
    payload_len.div_ceil(u64::from(k) * u64::from(shard_len)).max(1)
}

impl ShardHeader {
    /// Parses and checks a header from the start of `bytes`; the checksum is
    /// checked by [`Shard::from_bytes`], which also has the body.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let Some(fixed) = bytes.get(..HEADER_LEN) else {
            return Err(ErasureError::Truncated {
                needed: HEADER_LEN,
                got: bytes.len(),
            });
        };
        // Exactly HEADER_LEN bytes from here: no field read below can run short.
        let short = |_| ErasureError::Truncated {
            needed: HEADER_LEN,
            got: bytes.len(),
        };
        let mut r = Reader::new("shard header", fixed);
        let magic = r.array::<4>().map_err(short)?;
        if magic != MAGIC {
            return Err(ErasureError::BadMagic { got: magic });
        }
        let version = r.u8().map_err(short)?;
        if version != VERSION {
            return Err(ErasureError::UnsupportedVersion {
                got: version,
                supported: VERSION,
            });
        }
        if r.array::<3>().map_err(short)? != [0, 0, 0] {
            return Err(ErasureError::InvalidHeader("reserved bytes are not zero"));
        }
        let header = Self {
            k: r.u32().map_err(short)?,
            m: r.u32().map_err(short)?,
            index: r.u32().map_err(short)?,
            shard_len: r.u32().map_err(short)?,
            stripe: r.u64().map_err(short)?,
            payload_len: r.u64().map_err(short)?,
            payload_id: r.array().map_err(short)?,
            checksum: r.array().map_err(short)?,
        };
        header.validate()?;
        Ok(header)
    }

    /// Checks that the fields agree with each other.
    fn validate(&self) -> Result<()> {
        Gf16Code::new(self.k as usize, self.m as usize)?;
        if u64::from(self.index) >= u64::from(self.k) + u64::from(self.m) {
            return Err(ErasureError::InvalidHeader("index is not below k + m"));
        }
        let len = self.shard_len as usize;
        if len < 2 || !len.is_multiple_of(2) || len > MAX_SHARD_LEN {
            return Err(ErasureError::InvalidShardLen {
                got: u64::from(self.shard_len),
                max: MAX_SHARD_LEN as u64,
            });
        }
        if self.stripe >= stripe_count(self.payload_len, self.k, self.shard_len) {
            return Err(ErasureError::InvalidHeader(
                "stripe is past the payload's last stripe",
            ));
        }
        Ok(())
    }

    /// `(k, m, shard_len)` as sizes: the shape every stripe of the payload has.
    pub(crate) fn geometry(&self) -> (usize, usize, usize) {
        (self.k as usize, self.m as usize, self.shard_len as usize)
    }

    /// The 72 bytes of fields the checksum covers.
    fn fields(&self) -> [u8; FIELDS_LEN] {
        let mut w = Writer::<Fixed<FIELDS_LEN>>::fixed();
        w.bytes(&MAGIC)
            .tag(VERSION)
            .zeros(3)
            .u32(self.k)
            .u32(self.m)
            .u32(self.index)
            .u32(self.shard_len)
            .u64(self.stripe)
            .u64(self.payload_len)
            .bytes(&self.payload_id);
        w.into_array()
    }

    /// This payload's header for shard `index` of `stripe` (checksum not yet set).
    pub(crate) fn for_shard(&self, stripe: u64, index: usize) -> Self {
        Self {
            index: index as u32,
            stripe,
            ..*self
        }
    }

    /// This header with the checksum of `body` filled in.
    pub(crate) fn sealed(self, body: &[u8]) -> Self {
        Self {
            checksum: self.compute_checksum(body),
            ..self
        }
    }

    /// BLAKE3 of `body` followed by these fields.
    pub fn compute_checksum(&self, body: &[u8]) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(body);
        self.finish_checksum(h)
    }

    /// Checks `body` against this header's checksum.
    pub(crate) fn verify(&self, body: &[u8]) -> Result<()> {
        if self.compute_checksum(body) == self.checksum {
            Ok(())
        } else {
            Err(ErasureError::CorruptShard {
                stripe: self.stripe,
                index: self.index,
            })
        }
    }

    /// Ends a checksum whose hasher has been fed the whole body.
    pub(crate) fn finish_checksum(&self, mut body_hasher: blake3::Hasher) -> [u8; 32] {
        body_hasher.update(&self.fields());
        *body_hasher.finalize().as_bytes()
    }

    /// Writes the header (with its checksum field) into `out[..HEADER_LEN]`.
    pub(crate) fn write_to(&self, out: &mut [u8]) {
        out[..FIELDS_LEN].copy_from_slice(&self.fields());
        out[FIELDS_LEN..HEADER_LEN].copy_from_slice(&self.checksum);
    }

    /// Whether `other` belongs to the same payload and geometry; names the first field that differs.
    pub(crate) fn foreign_field(&self, other: &Self) -> Option<&'static str> {
        if self.k != other.k {
            Some("k")
        } else if self.m != other.m {
            Some("m")
        } else if self.shard_len != other.shard_len {
            Some("shard length")
        } else if self.payload_len != other.payload_len {
            Some("payload length")
        } else if self.payload_id != other.payload_id {
            Some("payload id")
        } else {
            None
        }
    }
}

/// One shard: header and body in one buffer, checked on construction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shard {
    header: ShardHeader,
    bytes: Vec<u8>,
}

impl Default for ShardHeader {
    fn default() -> Self {
        Self {
            k: 1,
            m: 1,
            index: 0,
            shard_len: 0,
            stripe: 0,
            payload_len: 0,
            payload_id: [0; 32],
            checksum: [0; 32],
        }
    }
}

impl Shard {
    /// Starts rewriting this shard in place (reusing its buffer) for `header`:
    /// the body is then written through [`Shard::body_mut`] and the shard sealed.
    pub(crate) fn begin(&mut self, header: ShardHeader) {
        let n = HEADER_LEN + header.shard_len as usize;
        self.bytes.resize(n, 0);
        self.header = header;
    }

    /// The body, to be written between [`Shard::begin`] and a seal.
    pub(crate) fn body_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[HEADER_LEN..]
    }

    /// Writes the header with `checksum` (of the body written since `begin`).
    pub(crate) fn seal_with(&mut self, checksum: [u8; 32]) {
        self.header.checksum = checksum;
        self.header.write_to(&mut self.bytes);
    }

    /// Checks a shard record in place (header, body length, checksum) and
    /// returns its header.
    pub fn check(record: &[u8]) -> Result<ShardHeader> {
        let header = Self::check_shape(record)?;
        header.verify(&record[HEADER_LEN..])?;
        Ok(header)
    }

    /// Parses a record's header and checks the body's length, not its checksum.
    pub(crate) fn check_shape(record: &[u8]) -> Result<ShardHeader> {
        let header = ShardHeader::parse(record)?;
        let body = record.len() - HEADER_LEN;
        if body as u64 != u64::from(header.shard_len) {
            return Err(ErasureError::BodyLength {
                expected: u64::from(header.shard_len),
                got: body as u64,
            });
        }
        Ok(header)
    }

    /// Parses a shard record, checking the header, the body length and the checksum.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        let header = Self::check(&bytes)?;
        Ok(Self { header, bytes })
    }

    /// The parsed header.
    pub fn header(&self) -> &ShardHeader {
        &self.header
    }

    /// The shard's data.
    pub fn body(&self) -> &[u8] {
        &self.bytes[HEADER_LEN..]
    }

    /// Header and body as stored or sent.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The record's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}
