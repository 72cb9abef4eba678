//! Merkle roots, incremental hashing and segment proofs through the C ABI.

use zg_merkle::{FileHasher, FileTree, RootKind, SegmentProof};

use crate::{Fail, ZgBytes, ZgResult, array, boxed, fail, guard, slice, slice_mut, write_out};

/// `ZG_ROOT_BLAKE3`: the root is the file's BLAKE3 hash.
pub const ZG_ROOT_BLAKE3: u32 = 0;
/// `ZG_ROOT_KECCAK`: 0G's Keccak sector tree.
pub const ZG_ROOT_KECCAK: u32 = 1;

fn kind(k: u32) -> Result<RootKind, Fail> {
    match k {
        ZG_ROOT_BLAKE3 => Ok(RootKind::Blake3),
        ZG_ROOT_KECCAK => Ok(RootKind::Keccak),
        other => Err(fail(
            ZgResult::ZG_BAD_ARGS,
            format!("unknown root kind {other}: use ZG_ROOT_BLAKE3 or ZG_ROOT_KECCAK"),
        )),
    }
}

/// An incremental hasher of a file.
pub struct ZgHasher(Option<FileHasher>);

/// A file's tree: its root, length and proofs.
pub struct ZgTree(FileTree);

/// `out_root` (32 bytes) = the root of `data` under `kind`.
///
/// # Safety
/// Pointers must be valid for their sizes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_merkle_root(
    out_root: *mut u8,
    data: *const u8,
    len: usize,
    root_kind: u32,
) -> ZgResult {
    guard(|| {
        // SAFETY: sizes and validity promised by the caller; checked for NULL.
        let (out, data) = unsafe { (slice_mut(out_root, 32, "out_root")?, slice(data, len, "data")?) };
        out.copy_from_slice(&FileTree::from_data(kind(root_kind)?, data).root());
        Ok(())
    })
}

/// A new incremental hasher for `root_kind`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_hasher_new(out: *mut *mut ZgHasher, root_kind: u32) -> ZgResult {
    guard(|| {
        let h = ZgHasher(Some(FileHasher::new(kind(root_kind)?).parallel(true)));
        // SAFETY: writable, as promised.
        unsafe { write_out(out, boxed(h), "out") }
    })
}

/// Feeds the next `len` bytes of the file.
///
/// # Safety
/// `data` must hold `len` bytes; `h` a live hasher.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_hasher_update(data: *const u8, len: usize, h: *mut ZgHasher) -> ZgResult {
    guard(|| {
        // SAFETY: live handle or NULL; size promised by the caller.
        let (h, data) = unsafe { (h.as_mut(), slice(data, len, "data")?) };
        let h = h.ok_or_else(|| fail(ZgResult::ZG_NULL_PARAMETER, "hasher is NULL"))?;
        h.0.as_mut()
            .ok_or_else(|| fail(ZgResult::ZG_BAD_ARGS, "hasher already finalized"))?
            .update(data);
        Ok(())
    })
}

/// Finishes the file into a tree (the hasher is spent; free it still).
///
/// # Safety
/// `out` writable; `h` a live hasher.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_hasher_finalize(out: *mut *mut ZgTree, h: *mut ZgHasher) -> ZgResult {
    guard(|| {
        // SAFETY: live handle or NULL.
        let h = unsafe { h.as_mut() }.ok_or_else(|| fail(ZgResult::ZG_NULL_PARAMETER, "hasher is NULL"))?;
        let tree =
            h.0.take()
                .ok_or_else(|| fail(ZgResult::ZG_BAD_ARGS, "hasher already finalized"))?
                .finalize();
        // SAFETY: writable, as promised.
        unsafe { write_out(out, boxed(ZgTree(tree)), "out") }
    })
}

/// Releases a hasher (NULL is fine).
///
/// # Safety
/// NULL or a handle not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_hasher_free(h: *mut ZgHasher) {
    if !h.is_null() {
        // SAFETY: made by zg_hasher_new, not freed before.
        drop(unsafe { Box::from_raw(h) });
    }
}

/// The tree's root (32 bytes), file length and segment count.
///
/// # Safety
/// Outputs writable (`out_len`, `out_segments` may be NULL); `t` a live tree.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_tree_root(
    out_root: *mut u8,
    out_len: *mut u64,
    out_segments: *mut u64,
    t: *const ZgTree,
) -> ZgResult {
    guard(|| {
        // SAFETY: live handle or NULL; output sizes promised.
        let (t, out) = unsafe { (t.as_ref(), slice_mut(out_root, 32, "out_root")?) };
        let t = t.ok_or_else(|| fail(ZgResult::ZG_NULL_PARAMETER, "tree is NULL"))?;
        out.copy_from_slice(&t.0.root());
        if !out_len.is_null() {
            // SAFETY: non-null and writable, as promised.
            unsafe { out_len.write(t.0.file_len()) };
        }
        if !out_segments.is_null() {
            // SAFETY: non-null and writable, as promised.
            unsafe { out_segments.write(t.0.segment_count()) };
        }
        Ok(())
    })
}

/// The encoded proof of segment `index` (free with `zg_bytes_free`).
///
/// # Safety
/// `out` writable; `t` a live tree.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_tree_prove_segment(
    out: *mut *mut ZgBytes,
    index: u64,
    t: *const ZgTree,
) -> ZgResult {
    guard(|| {
        // SAFETY: live handle or NULL.
        let t = unsafe { t.as_ref() }.ok_or_else(|| fail(ZgResult::ZG_NULL_PARAMETER, "tree is NULL"))?;
        let proof =
            t.0.prove_segment(index)
                .map_err(|e| fail(ZgResult::ZG_BAD_ARGS, e.to_string()))?;
        // SAFETY: writable, as promised.
        unsafe { write_out(out, boxed(ZgBytes(proof.to_bytes())), "out") }
    })
}

/// Releases a tree (NULL is fine).
///
/// # Safety
/// NULL or a handle not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_tree_free(t: *mut ZgTree) {
    if !t.is_null() {
        // SAFETY: made by zg_hasher_finalize, not freed before.
        drop(unsafe { Box::from_raw(t) });
    }
}

/// `*ok` = whether `data` is segment `index` of the `file_len`-byte file
/// with `root` (32 bytes), by the encoded `proof`.
///
/// # Safety
/// Pointers must be valid for their sizes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_merkle_verify_segment(
    ok: *mut bool,
    root: *const u8,
    file_len: u64,
    index: u64,
    data: *const u8,
    data_len: usize,
    proof: *const u8,
    proof_len: usize,
) -> ZgResult {
    guard(|| {
        // SAFETY: sizes and validity promised by the caller; checked for NULL.
        let (root, data, proof) = unsafe {
            (
                array::<32>(root, "root")?,
                slice(data, data_len, "data")?,
                slice(proof, proof_len, "proof")?,
            )
        };
        let proof =
            SegmentProof::from_bytes(proof).map_err(|e| fail(ZgResult::ZG_INVALID_DATA, e.to_string()))?;
        let v = proof
            .verify(root, file_len, index, data)
            .map_err(|e| fail(ZgResult::ZG_INVALID_DATA, e.to_string()))?;
        // SAFETY: writable, as promised.
        unsafe { write_out(ok, v, "ok") }
    })
}
