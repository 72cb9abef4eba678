//! GF(2^16) erasure coding with checked shards through the C ABI.

use zg_erasure::gf16::{self, Gf16Code, Shard};

use crate::{ZgBytes, ZgResult, array, boxed, fail, guard, slice, write_out};

/// The shards of an encoded payload.
pub struct ZgShards(Vec<Shard>);

/// Encodes `payload` with `k` original and `m` recovery shards per stripe;
/// `payload_id` (32 bytes) names it in every shard header.
///
/// # Safety
/// Pointers must be valid for their sizes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_gf16_encode(
    out: *mut *mut ZgShards,
    payload: *const u8,
    payload_len: usize,
    payload_id: *const u8,
    k: u32,
    m: u32,
) -> ZgResult {
    guard(|| {
        // SAFETY: sizes and validity promised by the caller; checked for NULL.
        let (payload, id) = unsafe {
            (
                slice(payload, payload_len, "payload")?,
                array::<32>(payload_id, "payload_id")?,
            )
        };
        let code =
            Gf16Code::new(k as usize, m as usize).map_err(|e| fail(ZgResult::ZG_BAD_ARGS, e.to_string()))?;
        let shards = code
            .encode(payload, id)
            .map_err(|e| fail(ZgResult::ZG_BAD_ARGS, e.to_string()))?;
        // SAFETY: writable, as promised.
        unsafe { write_out(out, boxed(ZgShards(shards)), "out") }
    })
}

/// Shards in the set (0 for NULL).
///
/// # Safety
/// NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_shards_count(s: *const ZgShards) -> usize {
    // SAFETY: NULL or a live handle.
    unsafe { s.as_ref() }.map_or(0, |s| s.0.len())
}

/// Shard `i` (header and body, as stored or sent); valid until the set is freed.
///
/// # Safety
/// Outputs writable; `s` a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_shards_get(
    out_ptr: *mut *const u8,
    out_len: *mut usize,
    i: usize,
    s: *const ZgShards,
) -> ZgResult {
    guard(|| {
        // SAFETY: NULL or a live handle.
        let s = unsafe { s.as_ref() }.ok_or_else(|| fail(ZgResult::ZG_NULL_PARAMETER, "shards is NULL"))?;
        let shard =
            s.0.get(i)
                .ok_or_else(|| fail(ZgResult::ZG_BAD_ARGS, format!("shard {i} of {}", s.0.len())))?;
        // SAFETY: writable, as promised.
        unsafe {
            write_out(out_ptr, shard.as_bytes().as_ptr(), "out_ptr")?;
            write_out(out_len, shard.as_bytes().len(), "out_len")
        }
    })
}

/// Releases a shard set (NULL is fine).
///
/// # Safety
/// NULL or a handle not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_shards_free(s: *mut ZgShards) {
    if !s.is_null() {
        // SAFETY: made by zg_gf16_encode, not freed before.
        drop(unsafe { Box::from_raw(s) });
    }
}

/// Rebuilds a payload from `n` shards (pointers and lengths); corrupt,
/// duplicate or foreign shards are errors, never wrong bytes.
///
/// # Safety
/// `shards` and `lens` must hold `n` entries, each shard its length in bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_gf16_decode(
    out: *mut *mut ZgBytes,
    shards: *const *const u8,
    lens: *const usize,
    n: usize,
) -> ZgResult {
    guard(|| {
        if n > 0 && (shards.is_null() || lens.is_null()) {
            return Err(fail(ZgResult::ZG_NULL_PARAMETER, "shards or lens is NULL"));
        }
        let mut records = Vec::with_capacity(n.min(1 << 17));
        for i in 0..n {
            // SAFETY: `shards` and `lens` hold n entries, as promised.
            let (p, l) = unsafe { (*shards.add(i), *lens.add(i)) };
            // SAFETY: each shard pointer holds its length, as promised.
            records.push(unsafe { slice(p, l, "shard")? });
        }
        let payload = gf16::decode(records).map_err(|e| fail(ZgResult::ZG_INVALID_DATA, e.to_string()))?;
        // SAFETY: writable, as promised.
        unsafe { write_out(out, boxed(ZgBytes(payload)), "out") }
    })
}
