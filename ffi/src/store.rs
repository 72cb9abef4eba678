//! The segment store through the C ABI.

use std::ffi::c_char;

use zg_store::{Store, StoreError, StoreOptions};

use crate::{Fail, ZgBytes, ZgResult, array, boxed, c_str, fail, guard, slice, write_out};

/// An open segment store.
pub struct ZgStore(Store);

#[allow(clippy::needless_pass_by_value)] // used as map_err(store_err)
fn store_err(e: StoreError) -> Fail {
    let code = match e {
        StoreError::NotFound { .. } => ZgResult::ZG_NOT_FOUND,
        StoreError::PayloadTooLarge { .. } => ZgResult::ZG_BAD_ARGS,
        StoreError::Corrupt { .. } => ZgResult::ZG_INVALID_DATA,
        _ => ZgResult::ZG_IO,
    };
    fail(code, e.to_string())
}

/// Opens (creating) the store in directory `path`, recovering it.
///
/// # Safety
/// `path` a NUL-terminated string; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_store_open(out: *mut *mut ZgStore, path: *const c_char) -> ZgResult {
    guard(|| {
        // SAFETY: NUL-terminated, as promised.
        let path = unsafe { c_str(path, "path")? };
        let (store, _report) = Store::open_path(path, StoreOptions::default()).map_err(store_err)?;
        // SAFETY: writable, as promised.
        unsafe { write_out(out, boxed(ZgStore(store)), "out") }
    })
}

/// Stores segment `index` of `key` (32 bytes); returns once it is durable.
///
/// # Safety
/// Pointers valid for their sizes; `s` a live store.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_store_put(
    key: *const u8,
    index: u64,
    data: *const u8,
    len: usize,
    s: *const ZgStore,
) -> ZgResult {
    guard(|| {
        // SAFETY: sizes and validity promised; live handle or NULL.
        let (key, data, s) = unsafe { (array::<32>(key, "key")?, slice(data, len, "data")?, s.as_ref()) };
        let s = s.ok_or_else(|| fail(ZgResult::ZG_NULL_PARAMETER, "store is NULL"))?;
        s.0.put(*key, index, data.to_vec()).map_err(store_err)
    })
}

/// Segment `index` of `key`, checked (free with `zg_bytes_free`); `ZG_NOT_FOUND` if absent.
///
/// # Safety
/// Pointers valid; `s` a live store.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_store_get(
    out: *mut *mut ZgBytes,
    key: *const u8,
    index: u64,
    s: *const ZgStore,
) -> ZgResult {
    guard(|| {
        // SAFETY: sizes and validity promised; live handle or NULL.
        let (key, s) = unsafe { (array::<32>(key, "key")?, s.as_ref()) };
        let s = s.ok_or_else(|| fail(ZgResult::ZG_NULL_PARAMETER, "store is NULL"))?;
        let seg = s.0.get(key, index).map_err(store_err)?;
        // SAFETY: writable, as promised.
        unsafe { write_out(out, boxed(ZgBytes(seg.to_vec())), "out") }
    })
}

/// Closes a store (writes its index snapshot; NULL is fine).
///
/// # Safety
/// NULL or a handle not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_store_close(s: *mut ZgStore) {
    if !s.is_null() {
        // SAFETY: made by zg_store_open, not freed before.
        drop(unsafe { Box::from_raw(s) });
    }
}
