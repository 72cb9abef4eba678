//! EIP-7594: cells of the extended blob, their proofs (FK20), recovery
//! from half of them, and batch verification by the universal equation.

use std::collections::HashMap;

use ark_bls12_381::Fr;
use ark_ec::CurveGroup;
use ark_ff::{One, Zero};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use zg_erasure::ErasureError;

use crate::blst_ops::{msm, pairings_cancel};
use crate::eip4844::blob_to_polynomial;
use crate::encoding::{
    MONTGOMERY_R, fr_from_bytes, fr_over_r_from_bytes, fr_to_bytes, g1_to_bytes, g1s_from_bytes, hash_to_fr,
};
use crate::var_msm::msms;
use crate::{
    BYTES_PER_CELL, BYTES_PER_FIELD_ELEMENT, Bytes32, Bytes48, CELLS_PER_EXT_BLOB, Cell,
    FIELD_ELEMENTS_PER_BLOB, FIELD_ELEMENTS_PER_CELL, KzgContext, KzgError, Result,
};

const RANDOM_CHALLENGE_KZG_CELL_BATCH_DOMAIN: &[u8; 16] = b"RCKZGCBATCH__V1_";

/// Parses one cell into its 64 field elements.
fn cell_to_evals(cell: &[u8], index: usize) -> Result<Vec<Fr>> {
    parse_cell(cell, index, fr_from_bytes)
}

/// [`cell_to_evals`] as `x / R` each (see [`fr_over_r_from_bytes`]).
fn cell_to_evals_over_r(cell: &[u8], index: usize) -> Result<Vec<Fr>> {
    parse_cell(cell, index, fr_over_r_from_bytes)
}

fn parse_cell(
    cell: &[u8],
    index: usize,
    parse: fn(&[u8], &'static str, usize) -> Result<Fr>,
) -> Result<Vec<Fr>> {
    if cell.len() != BYTES_PER_CELL {
        return Err(KzgError::WrongLength {
            what: "cell",
            expected: BYTES_PER_CELL,
            got: cell.len(),
        });
    }
    cell.chunks_exact(BYTES_PER_FIELD_ELEMENT)
        .map(|c| parse(c, "cell", index))
        .collect()
}

/// `a_i = sum_j x_j w^-ij` (an inverse FFT without the 1/64) for `x` given
/// in bit-reversed order, `a` in natural order (decimation in time).
fn inverse_fft_unnormalized(a: &mut [Fr], twiddles: &[Fr]) {
    let n = a.len();
    debug_assert_eq!(2 * twiddles.len(), n);
    let mut half = 1;
    while half < n {
        let step = n / (2 * half);
        for block in a.chunks_exact_mut(2 * half) {
            let (lo, hi) = block.split_at_mut(half);
            for (j, (u, v)) in lo.iter_mut().zip(hi.iter_mut()).enumerate() {
                if j > 0 {
                    *v *= twiddles[j * step];
                }
                let t = *u;
                *u += *v;
                *v = t - *v;
            }
        }
        half *= 2;
    }
}

fn check_cell_index(index: u64) -> Result<usize> {
    usize::try_from(index)
        .ok()
        .filter(|&i| i < CELLS_PER_EXT_BLOB)
        .ok_or(KzgError::CellIndexOutOfRange {
            index,
            count: CELLS_PER_EXT_BLOB,
        })
}

/// Splits the 8192 bit-reversed evaluations of the extension into cells.
fn evals_to_cells(ext: &[Fr]) -> Vec<Cell> {
    ext.par_chunks_exact(FIELD_ELEMENTS_PER_CELL)
        .map(|chunk| {
            let mut cell = [0u8; BYTES_PER_CELL];
            for (out, x) in cell.chunks_exact_mut(BYTES_PER_FIELD_ELEMENT).zip(chunk) {
                out.copy_from_slice(&fr_to_bytes(x));
            }
            cell
        })
        .collect()
}

/// The specs' `compute_verify_cell_kzg_proof_batch_challenge`, over
/// deduplicated commitments, each cell's commitment index and cell index,
/// the cells' bytes and the proofs.
pub fn compute_verify_cell_kzg_proof_batch_challenge<C, E, P>(
    commitments: &[C],
    commitment_indices: &[u64],
    cell_indices: &[u64],
    cells: &[E],
    proofs: &[P],
) -> Result<Bytes32>
where
    C: AsRef<[u8]>,
    E: AsRef<[u8]>,
    P: AsRef<[u8]>,
{
    let n = cells.len();
    if commitment_indices.len() != n || cell_indices.len() != n || proofs.len() != n {
        return Err(KzgError::LengthMismatch {
            what: "commitment indices, cell indices, cells and proofs",
            a: n,
            b: commitment_indices.len().max(cell_indices.len()).max(proofs.len()),
        });
    }
    let mut h = Sha256::new();
    h.update(RANDOM_CHALLENGE_KZG_CELL_BATCH_DOMAIN);
    h.update((FIELD_ELEMENTS_PER_BLOB as u64).to_be_bytes());
    h.update((FIELD_ELEMENTS_PER_CELL as u64).to_be_bytes());
    h.update((commitments.len() as u64).to_be_bytes());
    h.update((n as u64).to_be_bytes());
    for c in commitments {
        h.update(c.as_ref());
    }
    for k in 0..n {
        h.update(commitment_indices[k].to_be_bytes());
        h.update(cell_indices[k].to_be_bytes());
        h.update(cells[k].as_ref());
        h.update(proofs[k].as_ref());
    }
    Ok(fr_to_bytes(&hash_to_fr(&h.finalize().into())))
}

impl KzgContext {
    /// EIP-7594 `compute_cells`: the 128 cells of the extended blob.
    pub fn compute_cells(&self, blob: &[u8]) -> Result<Vec<Cell>> {
        let poly = blob_to_polynomial(blob)?;
        let coeffs = self.cells.coefficients(&poly).map_err(erasure_to_kzg)?;
        self.cells_of(&coeffs, Some(blob))
    }

    /// The 128 cells of a polynomial (coefficients). Given the blob, its
    /// first half is the blob's bytes, copied: only the odd coset's half is
    /// evaluated and encoded.
    fn cells_of(&self, coeffs: &[Fr], blob: Option<&[u8]>) -> Result<Vec<Cell>> {
        let Some(blob) = blob else {
            let ext = self.cells.extend_coefficients(coeffs).map_err(erasure_to_kzg)?;
            return Ok(evals_to_cells(&ext));
        };
        let odd = self.cells.odd_half(coeffs).map_err(erasure_to_kzg)?;
        let mut cells: Vec<Cell> = blob
            .chunks_exact(BYTES_PER_CELL)
            .map(|c| c.try_into().unwrap_or([0; BYTES_PER_CELL]))
            .collect();
        cells.extend(evals_to_cells(&odd));
        Ok(cells)
    }

    /// The spec's `compute_cells_and_kzg_proofs_polynomialcoeff` for each
    /// polynomial (coefficients), with its blob where there is one (see
    /// [`KzgContext::cells_of`]): every cell, and every cell proof by FK20,
    /// side by side; several polynomials' FK20 steps run in lockstep.
    fn cells_and_proofs(
        &self,
        polys: &[&[Fr]],
        blobs: Option<&[&[u8]]>,
    ) -> Result<Vec<(Vec<Cell>, Vec<Bytes48>)>> {
        let (cells, proofs) = rayon::join(
            || {
                polys
                    .par_iter()
                    .enumerate()
                    .map(|(k, c)| self.cells_of(c, blobs.and_then(|b| b.get(k).copied())))
                    .collect::<Result<Vec<_>>>()
            },
            || self.cell_proofs(polys),
        );
        Ok(cells?
            .into_iter()
            .zip(proofs)
            .map(|(cells, proofs)| (cells, proofs.iter().map(g1_to_bytes).collect()))
            .collect())
    }

    /// EIP-7594 `compute_cells_and_kzg_proofs`: cells and their proofs by FK20.
    pub fn compute_cells_and_kzg_proofs(&self, blob: &[u8]) -> Result<(Vec<Cell>, Vec<Bytes48>)> {
        let mut one = self.compute_cells_and_kzg_proofs_many(&[blob])?;
        Ok(one.pop().unwrap_or_default())
    }

    /// [`KzgContext::compute_cells_and_kzg_proofs`] of several blobs at once,
    /// the same cells and proofs in blob order. Their FK20 steps run in
    /// lockstep, which shares each step's field inversions across the blobs:
    /// faster per blob than one call each (for DA nodes that encode many).
    pub fn compute_cells_and_kzg_proofs_many<B: AsRef<[u8]> + Sync>(
        &self,
        blobs: &[B],
    ) -> Result<Vec<(Vec<Cell>, Vec<Bytes48>)>> {
        let coeffs: Vec<Vec<Fr>> = blobs
            .par_iter()
            .map(|blob| {
                let poly = blob_to_polynomial(blob.as_ref())?;
                self.cells.coefficients(&poly).map_err(erasure_to_kzg)
            })
            .collect::<Result<_>>()?;
        let polys: Vec<&[Fr]> = coeffs.iter().map(Vec::as_slice).collect();
        let blobs: Vec<&[u8]> = blobs.iter().map(AsRef::as_ref).collect();
        self.cells_and_proofs(&polys, Some(&blobs))
    }

    /// EIP-7594 `recover_cells_and_kzg_proofs`: every cell and proof from at
    /// least half of the cells, given with strictly ascending indices.
    pub fn recover_cells_and_kzg_proofs<C: AsRef<[u8]>>(
        &self,
        cell_indices: &[u64],
        cells: &[C],
    ) -> Result<(Vec<Cell>, Vec<Bytes48>)> {
        if cell_indices.len() != cells.len() {
            return Err(KzgError::LengthMismatch {
                what: "cell indices and cells",
                a: cell_indices.len(),
                b: cells.len(),
            });
        }
        let (min, max) = (CELLS_PER_EXT_BLOB / 2, CELLS_PER_EXT_BLOB);
        if cells.len() < min || cells.len() > max {
            return Err(KzgError::CellCount {
                min,
                max,
                got: cells.len(),
            });
        }
        for (k, &index) in cell_indices.iter().enumerate() {
            check_cell_index(index)?;
            if k > 0 && cell_indices[k - 1] >= index {
                return Err(KzgError::CellIndicesNotAscending {
                    previous: cell_indices[k - 1],
                    index,
                });
            }
        }
        let evals: Vec<Vec<Fr>> = cells
            .iter()
            .enumerate()
            .map(|(k, c)| cell_to_evals(c.as_ref(), k))
            .collect::<Result<_>>()?;
        let given: Vec<(u64, &[Fr])> = cell_indices
            .iter()
            .zip(&evals)
            .map(|(i, e)| (*i, &e[..]))
            .collect();
        let coeffs = self.cells.recover_coefficients(&given).map_err(erasure_to_kzg)?;
        let mut one = self.cells_and_proofs(&[&coeffs], None)?;
        Ok(one.pop().unwrap_or_default())
    }

    /// EIP-7594 `verify_cell_kzg_proof_batch`: whether every cell belongs to
    /// its commitment, by one pairing check (the universal verification
    /// equation). `Ok(false)` when some proof does not hold.
    pub fn verify_cell_kzg_proof_batch<C, E, P>(
        &self,
        commitments: &[C],
        cell_indices: &[u64],
        cells: &[E],
        proofs: &[P],
    ) -> Result<bool>
    where
        C: AsRef<[u8]> + Sync,
        E: AsRef<[u8]> + Sync,
        P: AsRef<[u8]> + Sync,
    {
        let n = cells.len();
        if commitments.len() != n || cell_indices.len() != n || proofs.len() != n {
            return Err(KzgError::LengthMismatch {
                what: "commitments, cell indices, cells and proofs",
                a: n,
                b: commitments.len().max(cell_indices.len()).max(proofs.len()),
            });
        }
        // Parse and check everything before any arithmetic.
        let mut unique: Vec<&[u8]> = Vec::new();
        let mut position: HashMap<&[u8], usize> = HashMap::new();
        let mut commitment_indices = Vec::with_capacity(n);
        for c in commitments {
            let c = c.as_ref();
            let next = unique.len();
            let i = *position.entry(c).or_insert(next);
            if i == next {
                unique.push(c);
            }
            commitment_indices.push(i as u64);
        }
        let commitment_points = g1s_from_bytes(&unique, "commitment")?;
        let indices: Vec<usize> = cell_indices
            .iter()
            .map(|&i| check_cell_index(i))
            .collect::<Result<_>>()?;
        let evals: Vec<Vec<Fr>> = (0..n)
            .into_par_iter()
            .map(|k| cell_to_evals_over_r(cells[k].as_ref(), k))
            .collect::<Result<_>>()?;
        let proof_points = g1s_from_bytes(proofs, "proof")?;
        if n == 0 {
            return Ok(true);
        }

        let r = compute_verify_cell_kzg_proof_batch_challenge(
            &unique,
            &commitment_indices,
            cell_indices,
            cells,
            proofs,
        )?;
        let r = fr_from_bytes(&r, "challenge", 0)?;
        let mut r_powers = Vec::with_capacity(n);
        let mut acc = Fr::one();
        for _ in 0..n {
            r_powers.push(acc);
            acc *= r;
        }

        // RLC = sum_i weight_i C_i, weight_i = sum of r^k over the cells of commitment i
        let mut weights = vec![Fr::zero(); commitment_points.len()];
        for (k, &i) in commitment_indices.iter().enumerate() {
            weights[i as usize] += r_powers[k];
        }
        let rlc = msm(&commitment_points, &weights);
        // RLI = [sum_k r^k I_k(tau)]: interpolate per cell index once, after
        // summing the r-weighted (bit-reversed) evaluations of that index. The
        // cells were parsed as x / R: r^k R brings them back.
        let r_powers_r: Vec<Fr> = r_powers.iter().map(|p| *p * MONTGOMERY_R).collect();
        let mut per_index: Vec<Option<Vec<Fr>>> = vec![None; CELLS_PER_EXT_BLOB];
        for (k, e) in evals.iter().enumerate() {
            let sum = per_index[indices[k]].get_or_insert_with(|| vec![Fr::zero(); FIELD_ELEMENTS_PER_CELL]);
            for (s, x) in sum.iter_mut().zip(e) {
                *s += r_powers_r[k] * x;
            }
        }
        let add = |mut a: Vec<Fr>, b: Vec<Fr>| {
            for (x, y) in a.iter_mut().zip(&b) {
                *x += y;
            }
            a
        };
        let zeros = || vec![Fr::zero(); FIELD_ELEMENTS_PER_CELL];
        let agg = per_index
            .into_par_iter()
            .enumerate()
            .filter_map(|(c, sum)| sum.map(|s| (c, s)))
            .fold(zeros, |mut agg, (c, mut s)| {
                // 64 J_i for J(w^j) = the coset's j-th value; I(X) = J(X / h): I_i = J_i h^-i.
                inverse_fft_unnormalized(&mut s, &self.cell_ifft_twiddles);
                let scale =
                    &self.coset_interpolation_scale[c * FIELD_ELEMENTS_PER_CELL..][..FIELD_ELEMENTS_PER_CELL];
                for ((a, x), t) in agg.iter_mut().zip(&s).zip(scale) {
                    *a += *x * t;
                }
                agg
            })
            .reduce(zeros, add);
        let rli = self.cell_monomial.msm(&agg);
        // LL = sum r^k proof_k and RLP = sum r^k h_k^64 proof_k, in one pass over the proofs.
        let weighted: Vec<Fr> = (0..n)
            .map(|k| r_powers[k] * self.coset_shift_pow[indices[k]])
            .collect();
        let sums = msms(&proof_points, &[&r_powers, &weighted]);
        let (ll, rlp) = (sums[0], sums[1]);
        let rl = rlc - rli + rlp;
        // e(LL, [tau^64]G2) == e(RL, G2)
        Ok(pairings_cancel(
            &ll.into_affine(),
            &self.g2_tau_cell,
            &(-rl).into_affine(),
            &self.g2_gen,
        ))
    }
}

fn erasure_to_kzg(e: ErasureError) -> KzgError {
    match e {
        ErasureError::InvalidShape(_) => KzgError::InconsistentCells,
        ErasureError::NotEnoughCells { have, .. } => KzgError::CellCount {
            min: CELLS_PER_EXT_BLOB / 2,
            max: CELLS_PER_EXT_BLOB,
            got: have,
        },
        ErasureError::CellIndexOutOfRange { index, count } => KzgError::CellIndexOutOfRange { index, count },
        ErasureError::DuplicateCell { index } => KzgError::CellIndicesNotAscending {
            previous: index,
            index,
        },
        other => KzgError::Setup(other.to_string()),
    }
}
