//! Reed-Solomon over the BLS12-381 scalar field in EIP-7594's shape
//! (4096 evaluations extended to 8192, bit-reversed order) through the C ABI.
//! Field elements are 32-byte big-endian and must be below the modulus.

use std::sync::OnceLock;

use ark_bls12_381::Fr;
use ark_ff::{BigInt, PrimeField};
use zg_erasure::field::CellCode;

use crate::{Fail, ZgResult, fail, guard, slice, slice_mut};

use zg_kzg::{
    CELLS_PER_EXT_BLOB as CELLS, FIELD_ELEMENTS_PER_BLOB as BLOB_ELEMENTS,
    FIELD_ELEMENTS_PER_CELL as CELL_ELEMENTS,
};

fn code() -> &'static CellCode<Fr> {
    static CODE: OnceLock<CellCode<Fr>> = OnceLock::new();
    CODE.get_or_init(|| CellCode::new(BLOB_ELEMENTS, CELLS).expect("the EIP-7594 shape is valid"))
}

fn element(b: &[u8], index: usize) -> Result<Fr, Fail> {
    let limb = |i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[32 - 8 * (i + 1)..32 - 8 * i]);
        u64::from_be_bytes(a)
    };
    Fr::from_bigint(BigInt([limb(0), limb(1), limb(2), limb(3)])).ok_or_else(|| {
        fail(
            ZgResult::ZG_INVALID_DATA,
            format!("field element {index} is not below the modulus"),
        )
    })
}

fn elements(bytes: &[u8]) -> Result<Vec<Fr>, Fail> {
    bytes
        .chunks_exact(32)
        .enumerate()
        .map(|(i, b)| element(b, i))
        .collect()
}

fn write_elements(out: &mut [u8], xs: &[Fr]) {
    for (dst, x) in out.chunks_exact_mut(32).zip(xs) {
        let limbs = x.into_bigint().0;
        for (i, l) in limbs.iter().enumerate() {
            dst[32 - 8 * (i + 1)..32 - 8 * i].copy_from_slice(&l.to_be_bytes());
        }
    }
}

/// Extends 4096 evaluations (bit-reversed, 32 bytes each) to the 8192 of
/// the extended domain (`out_evals`, 8192 × 32 bytes; the first half is the input).
///
/// # Safety
/// Pointers must be valid for their sizes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_field_extend(out_evals: *mut u8, evals: *const u8) -> ZgResult {
    guard(|| {
        // SAFETY: sizes promised by the caller; checked for NULL.
        let (out, input) = unsafe {
            (
                slice_mut(out_evals, 2 * BLOB_ELEMENTS * 32, "out_evals")?,
                slice(evals, BLOB_ELEMENTS * 32, "evals")?,
            )
        };
        let ext = code()
            .extend(&elements(input)?)
            .map_err(|e| fail(ZgResult::ZG_INVALID_DATA, e.to_string()))?;
        write_elements(out, &ext);
        Ok(())
    })
}

/// Recovers all 8192 evaluations from `n` (64 to 128) cells of 64
/// elements: `cell_indices` (each below 128, no repeats) and the cells'
/// bytes, contiguous (n × 2048).
///
/// # Safety
/// Pointers must be valid for their sizes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zg_field_recover(
    out_evals: *mut u8,
    cell_indices: *const u64,
    cells: *const u8,
    n: usize,
) -> ZgResult {
    guard(|| {
        if n > CELLS {
            return Err(fail(
                ZgResult::ZG_BAD_ARGS,
                format!("{n} cells, the extension has {CELLS}"),
            ));
        }
        if n > 0 && cell_indices.is_null() {
            return Err(fail(ZgResult::ZG_NULL_PARAMETER, "cell_indices is NULL"));
        }
        // SAFETY: sizes promised by the caller; checked for NULL.
        let (out, data) = unsafe {
            (
                slice_mut(out_evals, 2 * BLOB_ELEMENTS * 32, "out_evals")?,
                slice(cells, n * CELL_ELEMENTS * 32, "cells")?,
            )
        };
        let idx: &[u64] = if n == 0 {
            &[]
        } else {
            // SAFETY: non-null; n indices promised by the caller.
            unsafe { std::slice::from_raw_parts(cell_indices, n) }
        };
        let xs = elements(data)?;
        let given: Vec<(u64, &[Fr])> = idx.iter().copied().zip(xs.chunks(CELL_ELEMENTS)).collect();
        let all = code()
            .recover(&given)
            .map_err(|e| fail(ZgResult::ZG_INVALID_DATA, e.to_string()))?;
        write_elements(out, &all);
        Ok(())
    })
}
