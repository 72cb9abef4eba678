//! EIP-4844 and EIP-7594 KZG through the C ABI.

use zg_kzg::{
    BYTES_PER_BLOB, BYTES_PER_CELL, BYTES_PER_COMMITMENT, BYTES_PER_PROOF, CELLS_PER_EXT_BLOB, KzgContext,
    KzgError,
};

use crate::{Fail, ZgResult, array, fail, guard, slice, slice_mut, write_out};

/// A KZG context: the Ethereum mainnet trusted setup and its tables.
pub struct ZgKzgCtx(&'static KzgContext);

#[allow(clippy::needless_pass_by_value)] // used as map_err(kzg_err)
fn kzg_err(e: KzgError) -> Fail {
    fail(ZgResult::ZG_INVALID_DATA, e.to_string())
}

/// # Safety
/// `ctx` must be NULL or a live handle.
unsafe fn ctx<'a>(ctx: *const ZgKzgCtx) -> Result<&'a KzgContext, Fail> {
    // SAFETY: NULL or a live handle, as promised.
    unsafe { ctx.as_ref() }
        .map(|c| c.0)
        .ok_or_else(|| fail(ZgResult::ZG_NULL_PARAMETER, "KZG context is NULL"))
}

fn blob_len(len: usize) -> Result<(), Fail> {
    if len != BYTES_PER_BLOB {
        return Err(fail(
            ZgResult::ZG_BAD_ARGS,
            format!("blob is {len} bytes, expected {BYTES_PER_BLOB}"),
        ));
    }
    Ok(())
}

/// Makes a context on the embedded Ethereum mainnet setup (no file needed).
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_kzg_ctx_new(out: *mut *mut ZgKzgCtx) -> ZgResult {
    // SAFETY: `out` writable, as promised.
    guard(|| unsafe { write_out(out, crate::boxed(ZgKzgCtx(KzgContext::ethereum())), "out") })
}

/// Releases a context (NULL is fine).
///
/// # Safety
/// `ctx` must be NULL or a handle not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_kzg_ctx_free(ctx: *mut ZgKzgCtx) {
    if !ctx.is_null() {
        // SAFETY: made by zg_kzg_ctx_new and not freed before.
        drop(unsafe { Box::from_raw(ctx) });
    }
}

/// `out_commitment` (48 bytes) = the commitment to `blob` (131072 bytes).
///
/// # Safety
/// Pointers must be valid for their sizes; `c` a live context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_kzg_blob_to_commitment(
    out_commitment: *mut u8,
    blob: *const u8,
    blob_len_bytes: usize,
    c: *const ZgKzgCtx,
) -> ZgResult {
    guard(|| {
        // SAFETY: sizes and validity promised by the caller; checked for NULL.
        let (ctx, blob, out) = unsafe {
            (
                ctx(c)?,
                slice(blob, blob_len_bytes, "blob")?,
                slice_mut(out_commitment, BYTES_PER_COMMITMENT, "out_commitment")?,
            )
        };
        blob_len(blob.len())?;
        out.copy_from_slice(&ctx.blob_to_kzg_commitment(blob).map_err(kzg_err)?);
        Ok(())
    })
}

/// The proof (48 bytes) and value `y` (32 bytes) of `blob`'s polynomial at `z` (32 bytes).
///
/// # Safety
/// Pointers must be valid for their sizes; `c` a live context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_kzg_compute_proof(
    out_proof: *mut u8,
    out_y: *mut u8,
    blob: *const u8,
    blob_len_bytes: usize,
    z: *const u8,
    c: *const ZgKzgCtx,
) -> ZgResult {
    guard(|| {
        // SAFETY: sizes and validity promised by the caller; checked for NULL.
        let (ctx, blob, z, proof_out, y_out) = unsafe {
            (
                ctx(c)?,
                slice(blob, blob_len_bytes, "blob")?,
                array::<32>(z, "z")?,
                slice_mut(out_proof, BYTES_PER_PROOF, "out_proof")?,
                slice_mut(out_y, 32, "out_y")?,
            )
        };
        blob_len(blob.len())?;
        let (proof, y) = ctx.compute_kzg_proof(blob, z).map_err(kzg_err)?;
        proof_out.copy_from_slice(&proof);
        y_out.copy_from_slice(&y);
        Ok(())
    })
}

/// The blob proof (48 bytes) for `blob` and its `commitment` (48 bytes).
///
/// # Safety
/// Pointers must be valid for their sizes; `c` a live context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_kzg_compute_blob_proof(
    out_proof: *mut u8,
    blob: *const u8,
    blob_len_bytes: usize,
    commitment: *const u8,
    c: *const ZgKzgCtx,
) -> ZgResult {
    guard(|| {
        // SAFETY: sizes and validity promised by the caller; checked for NULL.
        let (ctx, blob, commitment, out) = unsafe {
            (
                ctx(c)?,
                slice(blob, blob_len_bytes, "blob")?,
                array::<48>(commitment, "commitment")?,
                slice_mut(out_proof, BYTES_PER_PROOF, "out_proof")?,
            )
        };
        blob_len(blob.len())?;
        out.copy_from_slice(&ctx.compute_blob_kzg_proof(blob, commitment).map_err(kzg_err)?);
        Ok(())
    })
}

/// `*ok` = whether `proof` shows the committed polynomial is `y` at `z`.
///
/// # Safety
/// Pointers must be valid for their sizes; `c` a live context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_kzg_verify_proof(
    ok: *mut bool,
    commitment: *const u8,
    z: *const u8,
    y: *const u8,
    proof: *const u8,
    c: *const ZgKzgCtx,
) -> ZgResult {
    guard(|| {
        // SAFETY: sizes and validity promised by the caller; checked for NULL.
        let (ctx, commitment, z, y, proof) = unsafe {
            (
                ctx(c)?,
                array::<48>(commitment, "commitment")?,
                array::<32>(z, "z")?,
                array::<32>(y, "y")?,
                array::<48>(proof, "proof")?,
            )
        };
        let v = ctx.verify_kzg_proof(commitment, z, y, proof).map_err(kzg_err)?;
        // SAFETY: writable, as promised.
        unsafe { write_out(ok, v, "ok") }
    })
}

/// `*ok` = whether `proof` holds for `blob` and `commitment`.
///
/// # Safety
/// Pointers must be valid for their sizes; `c` a live context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_kzg_verify_blob_proof(
    ok: *mut bool,
    blob: *const u8,
    blob_len_bytes: usize,
    commitment: *const u8,
    proof: *const u8,
    c: *const ZgKzgCtx,
) -> ZgResult {
    guard(|| {
        // SAFETY: sizes and validity promised by the caller; checked for NULL.
        let (ctx, blob, commitment, proof) = unsafe {
            (
                ctx(c)?,
                slice(blob, blob_len_bytes, "blob")?,
                array::<48>(commitment, "commitment")?,
                array::<48>(proof, "proof")?,
            )
        };
        blob_len(blob.len())?;
        let v = ctx
            .verify_blob_kzg_proof(blob, commitment, proof)
            .map_err(kzg_err)?;
        // SAFETY: writable, as promised.
        unsafe { write_out(ok, v, "ok") }
    })
}

/// `*ok` = whether every blob proof holds: `n` blobs (131072 bytes each,
/// contiguous), `n` commitments and `n` proofs (48 bytes each).
///
/// # Safety
/// Pointers must be valid for their sizes; `c` a live context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_kzg_verify_blob_proof_batch(
    ok: *mut bool,
    blobs: *const u8,
    commitments: *const u8,
    proofs: *const u8,
    n: usize,
    c: *const ZgKzgCtx,
) -> ZgResult {
    guard(|| {
        let total = n
            .checked_mul(BYTES_PER_BLOB)
            .ok_or_else(|| fail(ZgResult::ZG_BAD_ARGS, "blob count overflows"))?;
        // SAFETY: sizes and validity promised by the caller; checked for NULL.
        let (ctx, blobs, commitments, proofs) = unsafe {
            (
                ctx(c)?,
                slice(blobs, total, "blobs")?,
                slice(commitments, n * BYTES_PER_COMMITMENT, "commitments")?,
                slice(proofs, n * BYTES_PER_PROOF, "proofs")?,
            )
        };
        let b: Vec<&[u8]> = blobs.chunks(BYTES_PER_BLOB).collect();
        let cs: Vec<&[u8]> = commitments.chunks(BYTES_PER_COMMITMENT).collect();
        let ps: Vec<&[u8]> = proofs.chunks(BYTES_PER_PROOF).collect();
        let v = ctx.verify_blob_kzg_proof_batch(&b, &cs, &ps).map_err(kzg_err)?;
        // SAFETY: writable, as promised.
        unsafe { write_out(ok, v, "ok") }
    })
}

/// The 128 cells of `blob`'s extension into `out_cells` (128 × 2048 bytes).
///
/// # Safety
/// Pointers must be valid for their sizes; `c` a live context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_kzg_compute_cells(
    out_cells: *mut u8,
    blob: *const u8,
    blob_len_bytes: usize,
    c: *const ZgKzgCtx,
) -> ZgResult {
    guard(|| {
        // SAFETY: sizes and validity promised by the caller; checked for NULL.
        let (ctx, blob, out) = unsafe {
            (
                ctx(c)?,
                slice(blob, blob_len_bytes, "blob")?,
                slice_mut(out_cells, CELLS_PER_EXT_BLOB * BYTES_PER_CELL, "out_cells")?,
            )
        };
        blob_len(blob.len())?;
        for (dst, cell) in out
            .chunks_mut(BYTES_PER_CELL)
            .zip(ctx.compute_cells(blob).map_err(kzg_err)?)
        {
            dst.copy_from_slice(&cell);
        }
        Ok(())
    })
}

fn write_cells_and_proofs(
    out_cells: &mut [u8],
    out_proofs: &mut [u8],
    cells: &[[u8; BYTES_PER_CELL]],
    proofs: &[[u8; 48]],
) {
    for (dst, cell) in out_cells.chunks_mut(BYTES_PER_CELL).zip(cells) {
        dst.copy_from_slice(cell);
    }
    for (dst, p) in out_proofs.chunks_mut(BYTES_PER_PROOF).zip(proofs) {
        dst.copy_from_slice(p);
    }
}

/// Cells (128 × 2048 bytes) and their proofs (128 × 48 bytes) of `blob`.
///
/// # Safety
/// Pointers must be valid for their sizes; `c` a live context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_kzg_compute_cells_and_proofs(
    out_cells: *mut u8,
    out_proofs: *mut u8,
    blob: *const u8,
    blob_len_bytes: usize,
    c: *const ZgKzgCtx,
) -> ZgResult {
    guard(|| {
        // SAFETY: sizes and validity promised by the caller; checked for NULL.
        let (ctx, blob, cells_out, proofs_out) = unsafe {
            (
                ctx(c)?,
                slice(blob, blob_len_bytes, "blob")?,
                slice_mut(out_cells, CELLS_PER_EXT_BLOB * BYTES_PER_CELL, "out_cells")?,
                slice_mut(out_proofs, CELLS_PER_EXT_BLOB * BYTES_PER_PROOF, "out_proofs")?,
            )
        };
        blob_len(blob.len())?;
        let (cells, proofs) = ctx.compute_cells_and_kzg_proofs(blob).map_err(kzg_err)?;
        write_cells_and_proofs(cells_out, proofs_out, &cells, &proofs);
        Ok(())
    })
}

/// All cells and proofs of a blob from `n` (64 to 128) of its cells:
/// `cell_indices` ascending, `cells` contiguous (n × 2048 bytes).
///
/// # Safety
/// Pointers must be valid for their sizes; `c` a live context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_kzg_recover_cells_and_proofs(
    out_cells: *mut u8,
    out_proofs: *mut u8,
    cell_indices: *const u64,
    cells: *const u8,
    n: usize,
    c: *const ZgKzgCtx,
) -> ZgResult {
    guard(|| {
        if n > CELLS_PER_EXT_BLOB {
            return Err(fail(
                ZgResult::ZG_BAD_ARGS,
                format!("{n} cells, a blob has {CELLS_PER_EXT_BLOB}"),
            ));
        }
        // SAFETY: sizes and validity promised by the caller; checked for NULL.
        let (ctx, idx, cells, cells_out, proofs_out) = unsafe {
            (
                ctx(c)?,
                indices(cell_indices, n)?,
                slice(cells, n * BYTES_PER_CELL, "cells")?,
                slice_mut(out_cells, CELLS_PER_EXT_BLOB * BYTES_PER_CELL, "out_cells")?,
                slice_mut(out_proofs, CELLS_PER_EXT_BLOB * BYTES_PER_PROOF, "out_proofs")?,
            )
        };
        let given: Vec<&[u8]> = cells.chunks(BYTES_PER_CELL).collect();
        let (all, proofs) = ctx.recover_cells_and_kzg_proofs(idx, &given).map_err(kzg_err)?;
        write_cells_and_proofs(cells_out, proofs_out, &all, &proofs);
        Ok(())
    })
}

/// # Safety
/// `p` must point to `n` u64s (NULL allowed when `n` is 0).
unsafe fn indices<'a>(p: *const u64, n: usize) -> Result<&'a [u64], Fail> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(fail(ZgResult::ZG_NULL_PARAMETER, "cell_indices is NULL"));
    }
    // SAFETY: non-null, n u64s promised by the caller.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// `*ok` = whether all `n` cells verify: per cell a commitment (48 bytes),
/// an index, the cell (2048 bytes) and its proof (48 bytes), contiguous.
///
/// # Safety
/// Pointers must be valid for their sizes; `c` a live context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_kzg_verify_cell_proof_batch(
    ok: *mut bool,
    commitments: *const u8,
    cell_indices: *const u64,
    cells: *const u8,
    proofs: *const u8,
    n: usize,
    c: *const ZgKzgCtx,
) -> ZgResult {
    guard(|| {
        let cells_len = n
            .checked_mul(BYTES_PER_CELL)
            .ok_or_else(|| fail(ZgResult::ZG_BAD_ARGS, "cell count overflows"))?;
        // SAFETY: sizes and validity promised by the caller; checked for NULL.
        let (ctx, commitments, idx, cells, proofs) = unsafe {
            (
                ctx(c)?,
                slice(commitments, n * BYTES_PER_COMMITMENT, "commitments")?,
                indices(cell_indices, n)?,
                slice(cells, cells_len, "cells")?,
                slice(proofs, n * BYTES_PER_PROOF, "proofs")?,
            )
        };
        let cs: Vec<&[u8]> = commitments.chunks(BYTES_PER_COMMITMENT).collect();
        let es: Vec<&[u8]> = cells.chunks(BYTES_PER_CELL).collect();
        let ps: Vec<&[u8]> = proofs.chunks(BYTES_PER_PROOF).collect();
        let v = ctx
            .verify_cell_kzg_proof_batch(&cs, idx, &es, &ps)
            .map_err(kzg_err)?;
        // SAFETY: writable, as promised.
        unsafe { write_out(ok, v, "ok") }
    })
}
