//! # zg-codec
//!
//! The one binary codec zg's formats are read and written with: a [`Reader`] that
//! checks every length before it takes bytes or allocates, failing with a typed
//! [`CodecError`] that names the format, and a [`Writer`]. Integers are
//! little-endian, as in every zg format. [`hex`] shows and parses byte
//! strings (roots, ids, keys) as `0x` hex, and (feature `serde`) carries them in JSON.
//!
//! ```
//! use zg_codec::{Reader, Writer};
//!
//! let mut w = Writer::with_capacity(16);
//! w.tag(7).u64(42).bytes(b"ab");
//! let bytes = w.into_bytes();
//! let mut r = Reader::new("example", &bytes);
//! r.tag(7).unwrap();
//! assert_eq!(r.u64().unwrap(), 42);
//! assert_eq!(r.take(2).unwrap(), b"ab");
//! r.finish().unwrap();
//! ```

pub mod hex;

/// Why bytes do not parse as the format they were read as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input ends before a field does.
    #[error("{what}: needs {needed} more bytes, {got} left")]
    Truncated {
        /// The format being read.
        what: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        got: usize,
    },
    /// A tag or magic byte that is not the format's.
    #[error("{what}: tag {got:#04x}, expected {expected:#04x}")]
    BadTag {
        /// The format being read.
        what: &'static str,
        /// The byte found.
        got: u8,
        /// The byte expected.
        expected: u8,
    },
    /// A count over the format's limit.
    #[error("{what}: count {got} over the limit of {max}")]
    CountTooLarge {
        /// The format being read.
        what: &'static str,
        /// The count read.
        got: u64,
        /// The limit.
        max: u64,
    },
    /// Bytes after the end of the format.
    #[error("{what}: {extra} trailing bytes")]
    TrailingBytes {
        /// The format being read.
        what: &'static str,
        /// How many.
        extra: usize,
    },
}

/// Reads fields from a byte slice; every read is checked, nothing panics.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    what: &'static str,
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader of `bytes` in the format named `what` (for error messages).
    pub fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        Self { what, bytes }
    }

    /// The format's name.
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.bytes.len() < n {
            return Err(CodecError::Truncated {
                what: self.what,
                needed: n,
                got: self.bytes.len(),
            });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.array::<1>()?[0])
    }

    /// A little-endian u16.
    pub fn u16(&mut self) -> Result<u16, CodecError> {
        self.array().map(u16::from_le_bytes)
    }

    /// A little-endian u32.
    pub fn u32(&mut self) -> Result<u32, CodecError> {
        self.array().map(u32::from_le_bytes)
    }

    /// A little-endian u64.
    pub fn u64(&mut self) -> Result<u64, CodecError> {
        self.array().map(u64::from_le_bytes)
    }

    /// A little-endian u128.
    pub fn u128(&mut self) -> Result<u128, CodecError> {
        self.array().map(u128::from_le_bytes)
    }

    /// One byte that must be `expected`.
    pub fn tag(&mut self, expected: u8) -> Result<(), CodecError> {
        let got = self.u8()?;
        if got != expected {
            return Err(CodecError::BadTag {
                what: self.what,
                got,
                expected,
            });
        }
        Ok(())
    }

    /// A count (as read by `read`) checked against `max` and against the bytes left
    /// (`item_len` each) before anything is allocated for the items.
    pub fn count(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<u64, CodecError>,
        max: u64,
        item_len: usize,
    ) -> Result<usize, CodecError> {
        let n = read(self)?;
        if n > max {
            return Err(CodecError::CountTooLarge {
                what: self.what,
                got: n,
                max,
            });
        }
        // n <= max, which callers keep within memory: this cannot overflow.
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        let needed = n.saturating_mul(item_len);
        if self.bytes.len() < needed {
            return Err(CodecError::Truncated {
                what: self.what,
                needed,
                got: self.bytes.len(),
            });
        }
        Ok(n)
    }

    /// `n` 32-byte hashes.
    pub fn hashes(&mut self, n: usize) -> Result<Vec<[u8; 32]>, CodecError> {
        let raw = self.take(n.saturating_mul(32))?;
        Ok(raw
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect())
    }

    /// Ends the read: no bytes may be left.
    pub fn finish(&self) -> Result<(), CodecError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(CodecError::TrailingBytes {
                what: self.what,
                extra: self.bytes.len(),
            })
        }
    }
}

/// Where a [`Writer`] puts bytes: a growing `Vec`, or a fixed array for headers
/// (no allocation on hot paths).
pub trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
    /// Bytes held.
    fn len(&self) -> usize;
    /// Whether nothing is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    fn len(&self) -> usize {
        Vec::len(self)
    }
}

/// An `N`-byte array filled front to back.
#[derive(Debug, Clone)]
pub struct Fixed<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Sink for Fixed<N> {
    /// # Panics
    /// Past `N` bytes: a bug in that format's writer, which its round-trip test catches.
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        assert!(end <= N, "a {N}-byte format wrote {end} bytes");
        self.bytes[self.len..end].copy_from_slice(bytes);
        self.len = end;
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// Writes fields, little-endian, into a [`Sink`]: a growing buffer by default, or
/// a fixed array ([`Writer::fixed`]).
#[derive(Debug, Default, Clone)]
pub struct Writer<S: Sink = Vec<u8>> {
    bytes: S,
}

impl Writer {
    /// An empty writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(n),
        }
    }

    /// The bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl<const N: usize> Writer<Fixed<N>> {
    /// A writer for a format of exactly `N` bytes (a header).
    pub fn fixed() -> Self {
        Self {
            bytes: Fixed {
                bytes: [0; N],
                len: 0,
            },
        }
    }

    /// The `N` bytes.
    ///
    /// # Panics
    /// When fewer than `N` bytes were written: a bug in that format's writer, which
    /// its round-trip test catches.
    pub fn into_array(self) -> [u8; N] {
        assert_eq!(
            self.bytes.len, N,
            "a {N}-byte format wrote {} bytes",
            self.bytes.len
        );
        self.bytes.bytes
    }
}

impl<S: Sink> Writer<S> {
    /// Appends bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.bytes.put(b);
        self
    }

    /// Appends one byte.
    pub fn tag(&mut self, b: u8) -> &mut Self {
        self.bytes(&[b])
    }

    /// Appends a little-endian u16.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }

    /// Appends a little-endian u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }

    /// Appends a little-endian u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }

    /// Appends a little-endian u128.
    pub fn u128(&mut self, v: u128) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }

    /// `n` zero bytes (reserved fields, padding).
    pub fn zeros(&mut self, n: usize) -> &mut Self {
        const ZEROS: [u8; 64] = [0; 64];
        let mut left = n;
        while left > 0 {
            let k = left.min(ZEROS.len());
            self.bytes(&ZEROS[..k]);
            left -= k;
        }
        self
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_round_trips_and_short_input_is_a_typed_error() {
        let mut w = Writer::with_capacity(0);
        w.tag(1).u16(2).u32(3).u64(4).u128(5).bytes(&[9; 32]);
        let bytes = w.into_bytes();
        let mut r = Reader::new("t", &bytes);
        r.tag(1).unwrap();
        assert_eq!(r.u16().unwrap(), 2);
        assert_eq!(r.u32().unwrap(), 3);
        assert_eq!(r.u64().unwrap(), 4);
        assert_eq!(r.u128().unwrap(), 5);
        assert_eq!(r.hashes(1).unwrap(), vec![[9; 32]]);
        r.finish().unwrap();
        for cut in 0..bytes.len() {
            let mut r = Reader::new("t", &bytes[..cut]);
            let all = (|| {
                r.tag(1)?;
                r.u16()?;
                r.u32()?;
                r.u64()?;
                r.u128()?;
                r.hashes(1)
            })();
            assert!(
                matches!(all, Err(CodecError::Truncated { what: "t", .. })),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn fixed_writers_fill_arrays_and_zeros_span_any_length() {
        let mut fixed = Writer::<Fixed<4>>::fixed();
        fixed.u16(7).zeros(2);
        assert_eq!(fixed.into_array(), [7, 0, 0, 0]);
        let mut long = Writer::with_capacity(0);
        long.zeros(130).tag(1);
        assert_eq!(long.len(), 131);
        assert_eq!(long.into_bytes()[129..], [0, 1]);
    }

    #[test]
    #[should_panic(expected = "a 2-byte format wrote 4 bytes")]
    fn a_fixed_writer_refuses_to_run_past_its_size() {
        Writer::<Fixed<2>>::fixed().u32(1);
    }

    #[test]
    fn counts_are_checked_before_allocating() {
        let bytes = [0xff, 0xff, 0xff, 0xff, 1, 2];
        let mut r = Reader::new("t", &bytes);
        let e = r.count(|r| r.u32().map(u64::from), 10, 32).unwrap_err();
        assert!(matches!(
            e,
            CodecError::CountTooLarge {
                got: 0xffff_ffff,
                max: 10,
                ..
            }
        ));
        let bytes = [3, 0, 0, 0, 1, 2];
        let mut r = Reader::new("t", &bytes);
        let e = r.count(|r| r.u32().map(u64::from), 10, 32).unwrap_err();
        assert!(matches!(
            e,
            CodecError::Truncated {
                needed: 96,
                got: 2,
                ..
            }
        ));
        let mut r = Reader::new("t", &[2, 0, 0xaa, 0xbb]);
        assert_eq!(r.count(|r| r.u16().map(u64::from), 2, 1).unwrap(), 2);
        assert!(matches!(
            r.clone().tag(0),
            Err(CodecError::BadTag { got: 0xaa, .. })
        ));
        assert!(matches!(
            r.finish(),
            Err(CodecError::TrailingBytes { extra: 2, .. })
        ));
    }
}
