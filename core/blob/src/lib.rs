//! # zg-blob
//!
//! DA data. The blob pipeline (this crate's root): payload bytes → EIP-4844 blobs → per blob a KZG
//! commitment, 128 cells and 128 cell proofs (EIP-7594); and back, from any
//! 64 verified cells of each blob.
//!
//! Packing: a 4-byte big-endian length prefix, then the payload, 31 bytes
//! per field element (the element's top byte is zero, so every element is
//! below the BLS12-381 modulus), zero-filled to whole blobs. With at most
//! 256 blobs a submission carries up to 32,505,852 payload bytes — exactly
//! 0G DA's limit (256 × 4096 × 31 − 4).
//!
//! [`da`] keeps DA submissions in the segment store and signs attestations over them.
//! [`zerog`] gives a blob the storage root 0G DA gives it; [`zerog_bls`] signs and
//! checks 0G DA's BN254 signatures.

pub mod da;
pub mod zerog;
pub mod zerog_bls;

use rayon::prelude::*;
use zg_kzg::{
    BYTES_PER_BLOB, BYTES_PER_CELL, BYTES_PER_FIELD_ELEMENT, Bytes48, CELLS_PER_EXT_BLOB, Cell,
    FIELD_ELEMENTS_PER_BLOB, KzgContext, KzgError,
};

/// Payload bytes per field element.
pub const BYTES_PER_ELEMENT_PAYLOAD: usize = 31;
/// Payload bytes one blob carries (the prefix takes 4 of the first blob's).
pub const BLOB_CAPACITY: usize = FIELD_ELEMENTS_PER_BLOB * BYTES_PER_ELEMENT_PAYLOAD;
/// Blobs in one submission at most.
pub const MAX_BLOBS: usize = 256;
/// The largest payload of one submission.
pub const MAX_PAYLOAD: usize = MAX_BLOBS * BLOB_CAPACITY - 4;
/// Cells that rebuild a blob.
pub const CELLS_TO_RECOVER: usize = CELLS_PER_EXT_BLOB / 2;

/// What went wrong in the blob pipeline.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The payload is larger than a submission holds.
    #[error("payload of {len} bytes exceeds the maximum of {max} ({MAX_BLOBS} blobs)")]
    PayloadTooLarge {
        /// Bytes given.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// Blobs that do not decode to a payload.
    #[error("blobs do not hold a payload: {0}")]
    BadPacking(String),
    /// Too few or malformed cells for a blob.
    #[error("blob {blob}: {reason}")]
    BadCells {
        /// The blob.
        blob: usize,
        /// What was wrong.
        reason: String,
    },
    /// Cells that fail their proofs against the commitment.
    #[error("blob {blob}: cells fail their KZG proofs")]
    ProofFailed {
        /// The blob.
        blob: usize,
    },
    /// A KZG operation refused its input.
    #[error(transparent)]
    Kzg(#[from] KzgError),
}

/// Results of the blob pipeline.
pub type Result<T, E = BlobError> = std::result::Result<T, E>;

/// Blobs needed for a payload of `len` bytes (at least one).
pub fn blob_count(len: usize) -> usize {
    (len + 4).div_ceil(BLOB_CAPACITY)
}

/// Packs `payload` into blobs.
pub fn pack(payload: &[u8]) -> Result<Vec<Vec<u8>>> {
    if payload.len() > MAX_PAYLOAD {
        return Err(BlobError::PayloadTooLarge {
            len: payload.len(),
            max: MAX_PAYLOAD,
        });
    }
    let mut framed = Vec::with_capacity(payload.len() + 4);
    framed.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    framed.extend_from_slice(payload);
    Ok(framed
        .par_chunks(BLOB_CAPACITY)
        .map(|chunk| {
            let mut blob = vec![0u8; BYTES_PER_BLOB];
            for (el, src) in blob
                .chunks_exact_mut(BYTES_PER_FIELD_ELEMENT)
                .zip(chunk.chunks(31))
            {
                el[1..1 + src.len()].copy_from_slice(src);
            }
            blob
        })
        .collect())
}

/// Unpacks blobs made by [`pack`].
pub fn unpack<B: AsRef<[u8]>>(blobs: &[B]) -> Result<Vec<u8>> {
    let bad = |s: String| BlobError::BadPacking(s);
    if blobs.is_empty() || blobs.len() > MAX_BLOBS {
        return Err(bad(format!("{} blobs, expected 1 to {MAX_BLOBS}", blobs.len())));
    }
    let mut framed = Vec::with_capacity(blobs.len() * BLOB_CAPACITY);
    for (i, blob) in blobs.iter().enumerate() {
        let blob = blob.as_ref();
        if blob.len() != BYTES_PER_BLOB {
            return Err(bad(format!(
                "blob {i} has {} bytes, expected {BYTES_PER_BLOB}",
                blob.len()
            )));
        }
        for el in blob.chunks_exact(BYTES_PER_FIELD_ELEMENT) {
            if el[0] != 0 {
                return Err(bad(format!(
                    "blob {i} has a field element with a non-zero top byte"
                )));
            }
            framed.extend_from_slice(&el[1..]);
        }
    }
    let len = u32::from_be_bytes([framed[0], framed[1], framed[2], framed[3]]) as usize;
    if blob_count(len) != blobs.len() {
        return Err(bad(format!(
            "length prefix {len} needs {} blobs, got {}",
            blob_count(len),
            blobs.len()
        )));
    }
    if framed[4 + len..].iter().any(|b| *b != 0) {
        return Err(bad("non-zero bytes after the payload".into()));
    }
    framed.truncate(4 + len);
    framed.drain(..4);
    Ok(framed)
}

/// One blob's commitment, cells and cell proofs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedBlob {
    /// KZG commitment to the blob.
    pub commitment: Bytes48,
    /// The 128 cells of the extended blob (the first 64 are the blob itself).
    pub cells: Vec<Cell>,
    /// A proof per cell.
    pub proofs: Vec<Bytes48>,
}

/// A payload made ready for dispersal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    /// Names the submission: BLAKE3 over the ordered commitments.
    pub id: [u8; 32],
    /// Payload bytes.
    pub payload_len: usize,
    /// Per blob, in order.
    pub blobs: Vec<EncodedBlob>,
}

/// A submission's id from its commitments.
pub fn submission_id<C: AsRef<[u8]>>(commitments: &[C]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("zg da submission id v1");
    h.update(&(commitments.len() as u32).to_le_bytes());
    for c in commitments {
        h.update(c.as_ref());
    }
    *h.finalize().as_bytes()
}

/// Blobs encoded together: their commitments' table reads and additions,
/// and their FK20 steps, share batches and each field inversion (about 10%
/// less time a blob than one at a time on 2 cores; 8 measured faster than
/// 4), and 256 blobs still make 32 groups to balance over the threads.
const LOCKSTEP_BLOBS: usize = 8;

/// Packs `payload` and computes every blob's commitment, cells and proofs
/// on rayon's pool: groups of blobs side by side (whole blobs per thread
/// scale better than one blob's steps split over threads), each group's own
/// work split too when threads are left over.
pub fn encode(ctx: &KzgContext, payload: &[u8]) -> Result<Submission> {
    let blobs = pack(payload)?;
    let groups: Vec<Vec<EncodedBlob>> = blobs
        .par_chunks(LOCKSTEP_BLOBS)
        .map(|group| {
            let (commitments, cells_and_proofs) = rayon::join(
                || ctx.blob_to_kzg_commitments(group),
                || ctx.compute_cells_and_kzg_proofs_many(group),
            );
            Ok(commitments?
                .into_iter()
                .zip(cells_and_proofs?)
                .map(|(commitment, (cells, proofs))| EncodedBlob {
                    commitment,
                    cells,
                    proofs,
                })
                .collect())
        })
        .collect::<Result<_>>()?;
    let encoded: Vec<EncodedBlob> = groups.into_iter().flatten().collect();
    let commitments: Vec<Bytes48> = encoded.iter().map(|e| e.commitment).collect();
    Ok(Submission {
        id: submission_id(&commitments),
        payload_len: payload.len(),
        blobs: encoded,
    })
}

/// A cell as it arrives from a peer or the store: its index, bytes and proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellWithProof {
    /// Position among the blob's 128 cells.
    pub index: u64,
    /// The cell.
    pub cell: Cell,
    /// Its KZG proof.
    pub proof: Bytes48,
}

/// Checks `cells` of blob `blob` against `commitment` (all of them, in one
/// batch) and returns them sorted by index. Duplicates, indices out of
/// range and failing proofs are errors.
pub fn verify_cells(
    ctx: &KzgContext,
    blob: usize,
    commitment: &Bytes48,
    cells: &[CellWithProof],
) -> Result<Vec<CellWithProof>> {
    let bad = |reason: String| BlobError::BadCells { blob, reason };
    if cells.len() > CELLS_PER_EXT_BLOB {
        return Err(bad(format!(
            "{} cells, a blob has {CELLS_PER_EXT_BLOB}",
            cells.len()
        )));
    }
    let mut sorted = cells.to_vec();
    sorted.sort_by_key(|c| c.index);
    for w in sorted.windows(2) {
        if w[0].index == w[1].index {
            return Err(bad(format!("cell {} given twice", w[0].index)));
        }
    }
    if let Some(c) = sorted.last()
        && c.index >= CELLS_PER_EXT_BLOB as u64
    {
        return Err(bad(format!("cell index {} out of range", c.index)));
    }
    if sorted.is_empty() {
        return Ok(sorted);
    }
    let commitments = vec![*commitment; sorted.len()];
    let indices: Vec<u64> = sorted.iter().map(|c| c.index).collect();
    let cell_bytes: Vec<&[u8]> = sorted.iter().map(|c| &c.cell[..]).collect();
    let proofs: Vec<&[u8]> = sorted.iter().map(|c| &c.proof[..]).collect();
    if !ctx.verify_cell_kzg_proof_batch(&commitments, &indices, &cell_bytes, &proofs)? {
        return Err(BlobError::ProofFailed { blob });
    }
    Ok(sorted)
}

/// Rebuilds blob `blob` from at least 64 of its cells, each verified
/// against `commitment` first: unverified data is never used.
pub fn recover_blob(
    ctx: &KzgContext,
    blob: usize,
    commitment: &Bytes48,
    cells: &[CellWithProof],
) -> Result<Vec<u8>> {
    let sorted = verify_cells(ctx, blob, commitment, cells)?;
    rebuild_blob(ctx, blob, &sorted)
}

/// Rebuilds blob `blob` from at least 64 of its cells, sorted by index without
/// duplicates, that were verified already (e.g. when they were stored): the
/// first 64 cells are the blob itself; otherwise the field code recovers it.
pub fn rebuild_blob(ctx: &KzgContext, blob: usize, sorted: &[CellWithProof]) -> Result<Vec<u8>> {
    if sorted.len() < CELLS_TO_RECOVER {
        return Err(BlobError::BadCells {
            blob,
            reason: format!(
                "{} cells, at least {CELLS_TO_RECOVER} rebuild a blob",
                sorted.len()
            ),
        });
    }
    let systematic = sorted
        .iter()
        .take(CELLS_TO_RECOVER)
        .enumerate()
        .all(|(i, c)| c.index == i as u64);
    let cells: Vec<Cell> = if systematic {
        // The first 64 cells are the blob itself: nothing to solve.
        sorted.iter().take(CELLS_TO_RECOVER).map(|c| c.cell).collect()
    } else {
        let indices: Vec<u64> = sorted.iter().map(|c| c.index).collect();
        let given: Vec<&[u8]> = sorted.iter().map(|c| &c.cell[..]).collect();
        let (all, _proofs) = ctx.recover_cells_and_kzg_proofs(&indices, &given)?;
        all.into_iter().take(CELLS_TO_RECOVER).collect()
    };
    let mut out = Vec::with_capacity(BYTES_PER_BLOB);
    for c in &cells {
        out.extend_from_slice(c);
    }
    debug_assert_eq!(out.len(), CELLS_TO_RECOVER * BYTES_PER_CELL);
    Ok(out)
}

/// Rebuilds a payload from each blob's commitment and at least 64 of its cells.
pub fn decode(ctx: &KzgContext, commitments: &[Bytes48], cells: &[Vec<CellWithProof>]) -> Result<Vec<u8>> {
    if commitments.len() != cells.len() {
        return Err(BlobError::BadPacking(format!(
            "{} commitments but cells for {} blobs",
            commitments.len(),
            cells.len()
        )));
    }
    let blobs = commitments
        .iter()
        .zip(cells)
        .enumerate()
        .map(|(i, (c, cells))| recover_blob(ctx, i, c, cells))
        .collect::<Result<Vec<_>>>()?;
    unpack(&blobs)
}
