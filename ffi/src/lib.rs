//! # zg-ffi: the C ABI of zg's kernels
//!
//! Conventions (as in c-kzg and rustls-ffi):
//! - every function returns a [`ZgResult`]; outputs come first, then const
//!   inputs, and the handle last;
//! - verifiers return `ZG_OK` and set `bool *ok` (false for a well-formed
//!   proof that does not verify); malformed input is `ZG_INVALID_DATA`;
//! - opaque handles are made by `zg_<noun>_new` (or a function that returns
//!   one) and released by `zg_<noun>_free`, which accepts NULL;
//! - on failure, `zg_last_error_message` copies the reason (this thread's
//!   last error) into a caller buffer: nothing to free;
//! - no panic crosses the boundary: one becomes `ZG_PANIC`.
//!
//! Pointers are checked for NULL and lengths for sense before anything is
//! read. A pointer with a length of 0 may be NULL.

use std::cell::RefCell;
use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

mod erasure;
mod field;
mod kzg;
mod merkle;
mod store;

pub use erasure::*;
pub use field::*;
pub use kzg::*;
pub use merkle::*;
pub use store::*;

/// Bytes of a blob (4096 field elements).
pub const ZG_BYTES_PER_BLOB: usize = 131_072;
/// Bytes of a commitment or a proof (a compressed G1 point).
pub const ZG_BYTES_PER_COMMITMENT: usize = 48;
/// Bytes of a cell (64 field elements).
pub const ZG_BYTES_PER_CELL: usize = 2048;
/// Cells of an extended blob.
pub const ZG_CELLS_PER_EXT_BLOB: usize = 128;
/// Bytes of a segment.
pub const ZG_SEGMENT_SIZE: usize = 262_144;

// The header needs literals (cbindgen does not follow other crates' constants): tie them to the kernels'.
const _: () = {
    assert!(ZG_BYTES_PER_BLOB == zg_kzg::BYTES_PER_BLOB);
    assert!(ZG_BYTES_PER_COMMITMENT == zg_kzg::BYTES_PER_COMMITMENT);
    assert!(ZG_BYTES_PER_CELL == zg_kzg::BYTES_PER_CELL);
    assert!(ZG_CELLS_PER_EXT_BLOB == zg_kzg::CELLS_PER_EXT_BLOB);
    assert!(ZG_SEGMENT_SIZE == zg_merkle::SEGMENT_SIZE);
};

/// What a call did.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)] // the names C callers see, as cbindgen writes them
pub enum ZgResult {
    /// Success.
    ZG_OK = 0,
    /// An argument is out of range (a count, a length, a kind).
    ZG_BAD_ARGS = 1,
    /// A required pointer was NULL.
    ZG_NULL_PARAMETER = 2,
    /// Input bytes are malformed (a bad point, a corrupt shard, a bad proof encoding).
    ZG_INVALID_DATA = 3,
    /// An I/O operation failed.
    ZG_IO = 4,
    /// The thing asked for does not exist.
    ZG_NOT_FOUND = 5,
    /// A bug: zg panicked (the message says where).
    ZG_PANIC = 6,
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A failed call: its code and message.
pub(crate) type Fail = (ZgResult, String);

pub(crate) fn fail(code: ZgResult, msg: impl Into<String>) -> Fail {
    (code, msg.into())
}

/// Runs `f` behind the panic boundary and records the error message.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Fail>) -> ZgResult {
    let outcome = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(fail(ZgResult::ZG_PANIC, format!("panic in zg: {msg}")))
    });
    match outcome {
        Ok(()) => {
            LAST_ERROR.with(|e| e.borrow_mut().clear());
            ZgResult::ZG_OK
        }
        Err((code, msg)) => {
            LAST_ERROR.with(|e| *e.borrow_mut() = msg);
            code
        }
    }
}

/// Borrows `len` bytes at `ptr` (NULL allowed when `len` is 0).
///
/// # Safety
/// `ptr` must point to `len` readable bytes that outlive the borrow.
pub(crate) unsafe fn slice<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], Fail> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(fail(ZgResult::ZG_NULL_PARAMETER, format!("{what} is NULL")));
    }
    if len > isize::MAX as usize {
        return Err(fail(
            ZgResult::ZG_BAD_ARGS,
            format!("{what} length {len} is impossible"),
        ));
    }
    // SAFETY: non-null, length checked, validity promised by the caller.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrows `len` writable bytes at `ptr`.
///
/// # Safety
/// `ptr` must point to `len` writable bytes not aliased during the borrow.
pub(crate) unsafe fn slice_mut<'a>(ptr: *mut u8, len: usize, what: &str) -> Result<&'a mut [u8], Fail> {
    if ptr.is_null() {
        return Err(fail(ZgResult::ZG_NULL_PARAMETER, format!("{what} is NULL")));
    }
    // SAFETY: non-null; size and exclusivity promised by the caller.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// Borrows a fixed-size array at `ptr`.
///
/// # Safety
/// `ptr` must point to `N` readable bytes.
pub(crate) unsafe fn array<'a, const N: usize>(ptr: *const u8, what: &str) -> Result<&'a [u8; N], Fail> {
    if ptr.is_null() {
        return Err(fail(ZgResult::ZG_NULL_PARAMETER, format!("{what} is NULL")));
    }
    // SAFETY: non-null; the caller promises N readable bytes; [u8; N] has alignment 1.
    Ok(unsafe { &*ptr.cast::<[u8; N]>() })
}

/// Writes `v` through `ptr`.
///
/// # Safety
/// `ptr` must be valid for a write of `T`.
pub(crate) unsafe fn write_out<T>(ptr: *mut T, v: T, what: &str) -> Result<(), Fail> {
    if ptr.is_null() {
        return Err(fail(ZgResult::ZG_NULL_PARAMETER, format!("{what} is NULL")));
    }
    // SAFETY: non-null; validity promised by the caller.
    unsafe { ptr.write(v) };
    Ok(())
}

/// Reads a NUL-terminated UTF-8 string.
///
/// # Safety
/// `ptr` must point to a NUL-terminated string.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Fail> {
    if ptr.is_null() {
        return Err(fail(ZgResult::ZG_NULL_PARAMETER, format!("{what} is NULL")));
    }
    // SAFETY: non-null, NUL-terminated by the caller's promise.
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|_| fail(ZgResult::ZG_BAD_ARGS, format!("{what} is not UTF-8")))
}

/// Copies this thread's last error message into `buf` (at most `len - 1`
/// bytes and a NUL); returns the message's full length in bytes (0: none).
///
/// # Safety
/// `buf` must be NULL or point to `len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_last_error_message(buf: *mut c_char, len: usize) -> usize {
    LAST_ERROR.with(|e| {
        let msg = e.borrow();
        if !buf.is_null() && len > 0 {
            let n = msg.len().min(len - 1);
            // SAFETY: `buf` has `len` writable bytes; n + 1 <= len; the regions cannot overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), n);
                *buf.add(n) = 0;
            }
        }
        msg.len()
    })
}

/// A byte buffer owned by zg (a proof, a decoded payload, a segment).
pub struct ZgBytes(pub(crate) Vec<u8>);

/// The bytes of `b` (NULL for NULL) and their count in `*len`.
///
/// # Safety
/// `b` must be NULL or a live handle; `len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_bytes_data(len: *mut usize, b: *const ZgBytes) -> *const u8 {
    // SAFETY: NULL or a live handle, as promised.
    let Some(b) = (unsafe { b.as_ref() }) else {
        return std::ptr::null();
    };
    if !len.is_null() {
        // SAFETY: non-null and writable, as promised.
        unsafe { len.write(b.0.len()) };
    }
    b.0.as_ptr()
}

/// Releases a byte buffer (NULL is fine).
///
/// # Safety
/// `b` must be NULL or a handle not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_bytes_free(b: *mut ZgBytes) {
    if !b.is_null() {
        // SAFETY: made by Box::into_raw in this crate and not freed before.
        drop(unsafe { Box::from_raw(b) });
    }
}

pub(crate) fn boxed<T>(v: T) -> *mut T {
    Box::into_raw(Box::new(v))
}
