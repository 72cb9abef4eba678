//! # zg-erasure
//!
//! Reed-Solomon erasure codes for zg:
//!
//! - [`gf16`]: systematic RS over GF(2^16) with reed-solomon-simd, for byte
//!   shards in storage. Shards carry a checked header; stripes bound memory
//!   and encode in parallel; streams handle payloads larger than memory, and
//!   a borrowed encode leaves the original bodies in the payload.
//! - [`field`]: RS over a prime field by FFT (ark-poly radix-2 domains), in
//!   the bit-reversed order EIP-7594 uses: extend 4096 evaluations to 8192
//!   and recover from any half of the cells.
//!
//! ```
//! use zg_erasure::gf16::{self, Gf16Code};
//!
//! let code = Gf16Code::new(4, 2).unwrap();
//! let payload = b"any bytes at all".repeat(100);
//! let shards = code.encode(&payload, &[7; 32]).unwrap();
//! // Lose any two of the six shards.
//! let kept = shards.iter().skip(2).map(|s| s.as_bytes());
//! assert_eq!(gf16::decode(kept).unwrap(), payload);
//! ```

mod error;
// Each module's docs are its own `//!` lines, whose links resolve in its scope.
pub mod field;
pub mod gf16;
/// GF(2^16) transforms on GFNI and AVX-512: an engine for reed-solomon-simd.
#[cfg(target_arch = "x86_64")]
pub mod gfni;

pub use error::{ErasureError, Result};

/// `n` bytes of an xorshift stream from `seed`, for the tests' inputs.
#[cfg(test)]
pub(crate) fn test_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect()
}
