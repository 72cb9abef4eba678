//! 0G DA's `storage_root`: the 32-byte root 0G gives a blob, so that the same bytes get
//! the same root on zg as on 0G (facts from `0G-DA-WIRE.md` §2.1; no code of 0G's).
//!
//! 1. The data is padded to the full raw blob: the bytes, zeros, and the data's length as
//!    a u32 little-endian in the last 4 bytes.
//! 2. Every 31-byte unit, read little-endian with a zero top byte, is one BN254 scalar;
//!    the scalars fill a `rows × cols` matrix row by row (0G: 1024 × 1024).
//! 3. The matrix is read column by column as the evaluations of one polynomial on the
//!    subgroup of order `rows · cols`; coset 0 is the data itself and coset `k` (1, 2)
//!    evaluates the polynomial on that subgroup shifted by `ω₂₈^bitreverse(k, 28 − log n)`,
//!    where ω₂₈ is arkworks' fixed 2^28-th root of unity of BN254's scalar field. Each
//!    coset is turned back into a `rows × cols` matrix (column-major to row-major).
//! 4. Each scalar becomes 32 bytes little-endian; each coset's bytes (row by row) get a
//!    Keccak tree over 256-byte sectors (0G Storage's leaves); the root is
//!    `keccak(keccak(r0 ‖ r1) ‖ r2)`, which is also 0G Storage's file root of the three
//!    cosets' bytes together.
//!
//! The shape is a parameter so that small shapes can be checked against the plain
//! definition (direct evaluation of the polynomial); [`Shape::ZEROG`] is 0G's.

use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, BigInteger, FftField, Field, PrimeField};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use rayon::prelude::*;
use zg_merkle::keccak_tree::{KeccakTree, hash_pair};

/// Bytes of data one scalar carries.
pub const UNIT: usize = 31;
/// Erasure-coded cosets (rate 1/3).
pub const COSETS: usize = 3;
/// 0G's largest blob: the raw blob less its 4-byte length trailer.
pub const MAX_DATA: usize = Shape::ZEROG.raw_len() - 4;

/// Rows of a 0G quorum (3 cosets of 1024).
pub const QUORUM_ROWS: usize = 3072;

/// The zg cell column that row `row` of a 0G quorum stands for: row `r` is column
/// `r mod 128` of every blob of the submission (3072 = 24 × 128), so a signer holding
/// rows must hold, verified against their KZG commitments, those columns of every blob.
pub fn row_column(row: usize) -> u64 {
    (row % crate::CELLS_PER_EXT_BLOB) as u64
}

/// Why a root cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootError {
    /// No bytes (0G refuses an empty blob).
    #[error("blob size must be greater than 0")]
    Empty,
    /// More bytes than the shape holds.
    #[error("blob of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Bytes given.
        len: usize,
        /// The most the shape takes.
        max: usize,
    },
    /// A shape no coset domain exists for.
    #[error("shape {rows} x {cols} is not a pair of powers of two with room for {COSETS} cosets")]
    BadShape {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
    },
}

/// The blob matrix: `2^log_rows` rows of `2^log_cols` scalars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// log2 of the rows.
    pub log_rows: u32,
    /// log2 of the columns.
    pub log_cols: u32,
}

impl Shape {
    /// 0G's blob: 1024 × 1024 scalars.
    pub const ZEROG: Self = Self {
        log_rows: 10,
        log_cols: 10,
    };

    /// Scalars in one coset.
    pub const fn scalars(&self) -> usize {
        1 << (self.log_rows + self.log_cols)
    }

    /// Bytes of the padded raw blob (with its length trailer).
    pub const fn raw_len(&self) -> usize {
        self.scalars() * UNIT
    }

    /// The most data bytes the shape holds.
    pub const fn max_data(&self) -> usize {
        self.raw_len() - 4
    }

    fn check(&self) -> Result<(), RootError> {
        let bad = RootError::BadShape {
            rows: 1 << self.log_rows.min(31),
            cols: 1 << self.log_cols.min(31),
        };
        let depth = self.log_rows + self.log_cols;
        // Four bytes of trailer need a unit; coset 2's shift needs two spare bits.
        if depth == 0 || depth + 2 > Fr::TWO_ADICITY || self.log_rows > 15 || self.log_cols > 15 {
            return Err(bad);
        }
        Ok(())
    }

    /// The shift of coset `k`'s domain: ω₂₈^bitreverse(k, 28 − depth).
    pub fn coset_shift(&self, k: usize) -> Fr {
        let spare = Fr::TWO_ADICITY - (self.log_rows + self.log_cols);
        let pow = (k as u64).reverse_bits() >> (64 - spare);
        Fr::TWO_ADIC_ROOT_OF_UNITY.pow([pow])
    }
}

/// The blob padded, as scalars in row-major order.
pub fn raw_scalars(shape: Shape, data: &[u8]) -> Result<Vec<Fr>, RootError> {
    shape.check()?;
    if data.is_empty() {
        return Err(RootError::Empty);
    }
    if data.len() > shape.max_data() {
        return Err(RootError::TooLarge {
            len: data.len(),
            max: shape.max_data(),
        });
    }
    let len = u32::try_from(data.len()).map_err(|_| RootError::TooLarge {
        len: data.len(),
        max: shape.max_data(),
    })?;
    let trailer_at = shape.raw_len() - 4;
    Ok((0..shape.scalars())
        .into_par_iter()
        .with_min_len(1 << 12)
        .map(|i| {
            let mut unit = [0u8; 32];
            let start = i * UNIT;
            // The data part of this unit, then the trailer if it falls in it.
            let end = (start + UNIT).min(data.len());
            if start < end {
                unit[..end - start].copy_from_slice(&data[start..end]);
            }
            for (j, byte) in len.to_le_bytes().into_iter().enumerate() {
                let at = trailer_at + j;
                if (start..start + UNIT).contains(&at) {
                    unit[at - start] = byte;
                }
            }
            scalar_from_le(&unit)
        })
        .collect())
}

/// A scalar from 32 little-endian bytes whose top byte is zero (always below the modulus).
fn scalar_from_le(bytes: &[u8; 32]) -> Fr {
    let limbs: [u64; 4] =
        std::array::from_fn(|i| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap_or_default()));
    // Below 2^248 < p: never reduced, so `from_bigint` cannot refuse it.
    Fr::from_bigint(ark_ff::BigInt(limbs)).unwrap_or_default()
}

/// A scalar's 32 little-endian bytes.
pub fn scalar_bytes(x: &Fr) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&x.into_bigint().to_bytes_le());
    out
}

/// `matrix` (`rows × cols`, row-major) transposed into a `cols × rows` row-major one.
fn transpose(matrix: &[Fr], rows: usize, cols: usize) -> Vec<Fr> {
    let mut out = vec![Fr::ZERO; matrix.len()];
    // Row by row of the output, in parallel; each reads one column of the input.
    out.par_chunks_mut(rows).enumerate().for_each(|(c, column)| {
        for (r, x) in column.iter_mut().enumerate() {
            *x = matrix[r * cols + c];
        }
    });
    out
}

/// The three cosets of the encoded blob, each `rows × cols` scalars row-major.
pub fn encode(shape: Shape, data: &[u8]) -> Result<[Vec<Fr>; COSETS], RootError> {
    let raw = raw_scalars(shape, data)?;
    let (rows, cols) = (1usize << shape.log_rows, 1usize << shape.log_cols);
    // Column-major: the polynomial's evaluations on the subgroup, in order.
    let evaluations = transpose(&raw, rows, cols);
    let domain =
        Radix2EvaluationDomain::<Fr>::new(shape.scalars()).ok_or(RootError::BadShape { rows, cols })?;
    let coefficients = domain.ifft(&evaluations);
    let coset = |k: usize| -> Result<Vec<Fr>, RootError> {
        let shifted = domain
            .get_coset(shape.coset_shift(k))
            .ok_or(RootError::BadShape { rows, cols })?;
        Ok(transpose(&shifted.fft(&coefficients), cols, rows))
    };
    let (one, two) = rayon::join(|| coset(1), || coset(2));
    Ok([raw, one?, two?])
}

/// A coset's bytes: its scalars, 32 bytes little-endian each, row by row.
pub fn coset_bytes(coset: &[Fr]) -> Vec<u8> {
    let mut out = vec![0u8; coset.len() * 32];
    out.par_chunks_mut(32 << 10)
        .zip(coset.par_chunks(1 << 10))
        .for_each(|(bytes, scalars)| {
            for (word, x) in bytes.chunks_exact_mut(32).zip(scalars) {
                word.copy_from_slice(&scalar_bytes(x));
            }
        });
    out
}

/// The roots of the three cosets' Keccak trees.
pub fn coset_roots(shape: Shape, data: &[u8]) -> Result<[[u8; 32]; COSETS], RootError> {
    let cosets = encode(shape, data)?;
    Ok(cosets.map(|c| KeccakTree::from_data_par(&coset_bytes(&c)).root()))
}

/// The storage root of `data` in `shape`: `keccak(keccak(r0 ‖ r1) ‖ r2)`.
pub fn storage_root_in(shape: Shape, data: &[u8]) -> Result<[u8; 32], RootError> {
    let [r0, r1, r2] = coset_roots(shape, data)?;
    Ok(hash_pair(&hash_pair(&r0, &r1), &r2))
}

/// 0G DA's storage root of a blob of 1..=[`MAX_DATA`] bytes.
pub fn storage_root(data: &[u8]) -> Result<[u8; 32], RootError> {
    storage_root_in(Shape::ZEROG, data)
}

/// Where a blob dispersed through 0G's disperser API stands, numbered as 0G's `BlobStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum DispersalStatus {
    /// Taken; being encoded.
    Processing = 1,
    /// Stored, attested and named by its coordinates; retrievable.
    Confirmed = 2,
    /// Given up, with a reason.
    Failed = 3,
    /// Final.
    Finalized = 4,
}

impl DispersalStatus {
    /// The status numbered `v`, if any.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Processing,
            2 => Self::Confirmed,
            3 => Self::Failed,
            4 => Self::Finalized,
            _ => return None,
        })
    }
}

/// A blob's coordinates on 0G: its storage root, epoch and quorum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobCoords {
    /// 0G's storage root of the blob.
    pub storage_root: [u8; 32],
    /// The signers' epoch.
    pub epoch: u64,
    /// The quorum of that epoch.
    pub quorum_id: u64,
}

/// What a DA node keeps of one dispersal request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispersalRecord {
    /// Where it stands.
    pub status: DispersalStatus,
    /// Bytes dispersed.
    pub data_len: u64,
    /// From CONFIRMED on: the blob's coordinates and the id of zg's submission holding it.
    pub blob: Option<(BlobCoords, [u8; 32])>,
    /// Why it FAILED.
    pub reason: String,
    /// The block of its last step on chain: the upload while PROCESSING with
    /// coordinates, the certificate from CONFIRMED on; 0 where no chain is followed.
    pub block: u64,
}

/// The longest reason kept.
const MAX_REASON: usize = 1024;
/// Bytes of a record before its reason.
const RECORD_HEAD: usize = 1 + 1 + 8 + 1 + 32 + 8 + 8 + 32 + 8 + 2;
/// Version 1's head: no block.
const RECORD_HEAD_V1: usize = RECORD_HEAD - 8;

impl DispersalRecord {
    /// Version 2: status, data length, whether coordinates follow, root, epoch,
    /// quorum, submission id (zeros when absent), block, the reason's length and bytes.
    /// (Version 1, read too, had no block.)
    pub fn encode(&self) -> Vec<u8> {
        let reason = &self.reason.as_bytes()[..self.reason.len().min(MAX_REASON)];
        let mut out = Vec::with_capacity(RECORD_HEAD + reason.len());
        out.push(2);
        out.push(self.status as u8);
        out.extend_from_slice(&self.data_len.to_le_bytes());
        let (coords, id) = match &self.blob {
            Some((c, id)) => (*c, *id),
            None => (
                BlobCoords {
                    storage_root: [0; 32],
                    epoch: 0,
                    quorum_id: 0,
                },
                [0; 32],
            ),
        };
        out.push(u8::from(self.blob.is_some()));
        out.extend_from_slice(&coords.storage_root);
        out.extend_from_slice(&coords.epoch.to_le_bytes());
        out.extend_from_slice(&coords.quorum_id.to_le_bytes());
        out.extend_from_slice(&id);
        out.extend_from_slice(&self.block.to_le_bytes());
        out.extend_from_slice(&(reason.len() as u16).to_le_bytes());
        out.extend_from_slice(reason);
        out
    }

    /// The inverse of [`DispersalRecord::encode`]; every length checked.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let head = match bytes.first() {
            Some(1) => RECORD_HEAD_V1,
            Some(2) => RECORD_HEAD,
            Some(v) => return Err(format!("record version {v} is not 1 or 2")),
            None => return Err("an empty record".to_owned()),
        };
        if bytes.len() < head {
            return Err(format!(
                "a record of {} bytes is shorter than its head",
                bytes.len()
            ));
        }
        let status =
            DispersalStatus::from_u8(bytes[1]).ok_or_else(|| format!("status {} is unknown", bytes[1]))?;
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
        let data_len = word(2);
        let has_blob = match bytes[10] {
            0 => false,
            1 => true,
            other => return Err(format!("coordinates flag {other} is not 0 or 1")),
        };
        let mut storage_root = [0u8; 32];
        storage_root.copy_from_slice(&bytes[11..43]);
        let (epoch, quorum_id) = (word(43), word(51));
        let mut id = [0u8; 32];
        id.copy_from_slice(&bytes[59..91]);
        // One encoding per record: no coordinates means all-zero coordinate bytes.
        if !has_blob && bytes[11..91].iter().any(|b| *b != 0) {
            return Err("coordinates are set but flagged absent".to_owned());
        }
        let block = if head == RECORD_HEAD { word(91) } else { 0 };
        let reason_len = usize::from(u16::from_le_bytes([bytes[head - 2], bytes[head - 1]]));
        if reason_len > MAX_REASON || bytes.len() != head + reason_len {
            return Err(format!(
                "a reason of {reason_len} bytes does not fit a {}-byte record",
                bytes.len()
            ));
        }
        let reason =
            String::from_utf8(bytes[head..].to_vec()).map_err(|_| "the reason is not UTF-8".to_owned())?;
        let coords = BlobCoords {
            storage_root,
            epoch,
            quorum_id,
        };
        Ok(Self {
            status,
            data_len,
            blob: has_blob.then_some((coords, id)),
            reason,
            block,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bad_ones_are_refused() {
        let confirmed = DispersalRecord {
            status: DispersalStatus::Confirmed,
            data_len: 1_048_579,
            blob: Some((
                BlobCoords {
                    storage_root: [7; 32],
                    epoch: 3,
                    quorum_id: 1,
                },
                [9; 32],
            )),
            reason: String::new(),
            block: 12,
        };
        let failed = DispersalRecord {
            status: DispersalStatus::Failed,
            data_len: 1,
            blob: None,
            reason: "the store is full".into(),
            block: 0,
        };
        for r in [confirmed, failed] {
            let bytes = r.encode();
            assert_eq!(DispersalRecord::decode(&bytes).unwrap(), r);
            assert!(DispersalRecord::decode(&bytes[..bytes.len() - 1]).is_err());
            let mut bad = bytes.clone();
            bad[1] = 9;
            assert!(DispersalRecord::decode(&bad).is_err());
        }
        assert!(DispersalRecord::decode(&[1, 1]).is_err());
        // Found by fuzzing: coordinates without the flag would decode to a record that
        // encodes differently; refused.
        let mut stray = DispersalRecord {
            status: DispersalStatus::Processing,
            data_len: 5,
            blob: None,
            reason: String::new(),
            block: 0,
        }
        .encode();
        // Version 1 (no block) still reads, as block 0.
        let mut v1 = stray[..91].to_vec();
        v1[0] = 1;
        v1.extend_from_slice(&stray[99..]);
        assert_eq!(DispersalRecord::decode(&v1).unwrap().encode(), stray);
        stray[20] = 7;
        assert!(DispersalRecord::decode(&stray).is_err());
    }
}
