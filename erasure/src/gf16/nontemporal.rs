//! Copies that bypass the cache, for output too large to stay in it: a
//! normal store first reads every line it writes (write-allocate), a
//! non-temporal one does not, so a large encode moves a third less memory.

/// Copies `src` into `dst` (same length) with non-temporal stores where the
/// CPU has them; call [`fence`] before another thread reads `dst`.
pub(super) fn copy(dst: &mut [u8], src: &[u8]) {
    assert_eq!(dst.len(), src.len(), "copy between slices of one length");
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_stream_si128};
        // Streaming stores need 16-byte aligned targets: plain-copy the ragged ends.
        let head = dst.as_ptr().align_offset(16).min(dst.len());
        let lanes = (dst.len() - head) / 16;
        let tail = head + 16 * lanes;
        dst[..head].copy_from_slice(&src[..head]);
        for i in 0..lanes {
            let at = head + 16 * i;
            // SAFETY: SSE2 is part of x86_64; `at + 16 <= tail <= len` for both slices
            // (equal lengths, asserted), `dst + at` is 16-byte aligned (`head` aligns it, `at - head` is a multiple of 16),
            // and the unaligned load has no alignment requirement.
            unsafe {
                let v = _mm_loadu_si128(src.as_ptr().add(at).cast::<__m128i>());
                _mm_stream_si128(dst.as_mut_ptr().add(at).cast::<__m128i>(), v);
            }
        }
        dst[tail..].copy_from_slice(&src[tail..]);
    }
    #[cfg(not(target_arch = "x86_64"))]
    dst.copy_from_slice(src);
}

/// Orders the non-temporal stores before this thread's later stores (and
/// the release that hands `dst` to another thread).
pub(super) fn fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of x86_64; a store fence has no other effect.
    unsafe {
        std::arch::x86_64::_mm_sfence();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn copies_every_length_and_alignment() {
        let src: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for offset in 0..17 {
            for len in [0, 1, 15, 16, 17, 31, 32, 33, 64, 100, 255, 283 - offset] {
                let mut dst = vec![0u8; 300];
                super::copy(&mut dst[offset..offset + len], &src[..len]);
                super::fence();
                assert_eq!(
                    &dst[offset..offset + len],
                    &src[..len],
                    "offset {offset} len {len}"
                );
                assert!(dst[..offset].iter().all(|&b| b == 0));
                assert!(dst[offset + len..].iter().all(|&b| b == 0));
            }
        }
    }
}
