//! Bounds-checked reading of proof and outboard encodings.

use crate::{Hash, MerkleError, Result};

/// Reads fixed-size fields from a byte slice, failing with a typed error
/// instead of panicking when the input is short.
pub(crate) struct Reader<'a> {
    what: &'static str,
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        Self { what, bytes }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(MerkleError::Truncated {
                what: self.what,
                needed: n,
                got: self.bytes.len(),
            });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn tag(&mut self, expected: u8) -> Result<()> {
        let got = self.take(1)?[0];
        if got != expected {
            return Err(MerkleError::BadTag {
                what: self.what,
                got,
                expected,
            });
        }
        Ok(())
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    /// Reads a u32 count and checks it against `max` and the bytes left
    /// (`item_len` each) before anything is allocated.
    pub(crate) fn count(&mut self, max: u64, item_len: usize) -> Result<usize> {
        let n = u64::from(self.u32()?);
        if n > max {
            return Err(MerkleError::CountTooLarge {
                what: self.what,
                got: n,
                max,
            });
        }
        let n = n as usize;
        let needed = n * item_len;
        if self.bytes.len() < needed {
            return Err(MerkleError::Truncated {
                what: self.what,
                needed,
                got: self.bytes.len(),
            });
        }
        Ok(n)
    }

    pub(crate) fn hashes(&mut self, n: usize) -> Result<Vec<Hash>> {
        let raw = self.take(n * 32)?;
        Ok(raw
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect())
    }

    pub(crate) fn finish(self) -> Result<()> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(MerkleError::TrailingBytes {
                what: self.what,
                extra: self.bytes.len(),
            })
        }
    }
}
