//! DA submissions in the segment store: stored whole or cell by cell (verified first),
//! served back, rebuilt from partial custody, and kept across a reopen.

use zg_blob::da::{CellSet, DaError, DaStore, SubmissionHeader};
use zg_blob::{self as blob, CellWithProof};
use zg_kzg::KzgContext;
use zg_store::{Store, StoreOptions};

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

fn open(dir: &std::path::Path) -> DaStore {
    DaStore::new(Store::open_path(dir, StoreOptions::default()).unwrap().0)
}

fn cells_of(sub: &blob::Submission, b: usize, indices: impl Iterator<Item = u64>) -> Vec<CellWithProof> {
    indices
        .map(|i| CellWithProof {
            index: i,
            cell: sub.blobs[b].cells[i as usize],
            proof: sub.blobs[b].proofs[i as usize],
        })
        .collect()
}

#[test]
fn encoded_submission_round_trips_and_survives_reopen() {
    let ctx = KzgContext::ethereum();
    let dir = tempfile::tempdir().unwrap();
    // Two blobs: the second holds the tail.
    let data = payload(blob::BLOB_CAPACITY + 1000, 3);
    let sub = blob::encode(ctx, &data).unwrap();
    {
        let da = open(dir.path());
        let header = da.put_encoded(&sub).unwrap();
        assert_eq!(header.id, sub.id);
        // Submitting the same payload again writes nothing.
        let used = da.store().stats().used_bytes;
        assert_eq!(da.put_encoded(&sub).unwrap(), header);
        assert_eq!(da.store().stats().used_bytes, used);
        assert_eq!(da.payload(ctx, &sub.id).unwrap(), data);
        assert_eq!(da.custody(&header).unwrap(), vec![CellSet::ALL; 2]);
        let c = da.cell(&sub.id, 1, 100).unwrap();
        assert!(
            ctx.verify_cell_kzg_proof_batch(
                &[sub.blobs[1].commitment],
                &[100],
                &[&c.cell[..]],
                &[&c.proof[..]]
            )
            .unwrap()
        );
        assert!(matches!(da.cell(&sub.id, 2, 0), Err(DaError::Mismatch { .. })));
        assert!(matches!(
            da.cell(&sub.id, 0, 128),
            Err(DaError::CellNotHeld { .. })
        ));
        assert!(matches!(da.payload(ctx, &[9; 32]), Err(DaError::NotFound(_))));
        da.store().snapshot().unwrap();
    }
    let da = open(dir.path());
    assert_eq!(da.payload(ctx, &sub.id).unwrap(), data);
    assert_eq!(da.header(&sub.id).unwrap().unwrap(), SubmissionHeader::of(&sub));
}

#[test]
fn cells_are_verified_before_they_are_stored() {
    let ctx = KzgContext::ethereum();
    let dir = tempfile::tempdir().unwrap();
    let da = open(dir.path());
    let data = payload(5000, 9);
    let sub = blob::encode(ctx, &data).unwrap();
    let header = SubmissionHeader::of(&sub);
    da.put_header(&header).unwrap();
    da.put_header(&header).unwrap();

    // A cell with another cell's proof, and a cell with a flipped bit: refused, nothing stored.
    let mut swapped = cells_of(&sub, 0, [3u64, 4].into_iter());
    swapped[0].proof = swapped[1].proof;
    assert!(matches!(
        da.put_cells(ctx, &header, 0, &swapped),
        Err(DaError::Blob(blob::BlobError::ProofFailed { blob: 0 }))
    ));
    let mut flipped = cells_of(&sub, 0, [7u64].into_iter());
    flipped[0].cell[100] ^= 1;
    assert!(da.put_cells(ctx, &header, 0, &flipped).is_err());
    assert!(da.blob_cells(&sub.id, 0).unwrap().is_empty());
    // Out of range and duplicated indices.
    let mut out_of_range = cells_of(&sub, 0, [1u64].into_iter());
    out_of_range[0].index = 128;
    assert!(da.put_cells(ctx, &header, 0, &out_of_range).is_err());
    assert!(
        da.put_cells(ctx, &header, 0, &cells_of(&sub, 0, [2u64, 2].into_iter()))
            .is_err()
    );
    assert!(
        da.put_cells(ctx, &header, 1, &cells_of(&sub, 0, [2u64].into_iter()))
            .is_err()
    );

    // Odd cells arrive in two batches (custody of 64, none of them systematic beyond
    // half): held sets merge, and the blob is recovered by the field code.
    let odd: Vec<u64> = (1..128).step_by(2).collect();
    let set = da
        .put_cells(ctx, &header, 0, &cells_of(&sub, 0, odd[..40].iter().copied()))
        .unwrap();
    assert_eq!(set.len(), 40);
    assert!(matches!(
        da.payload(ctx, &sub.id),
        Err(DaError::Blob(blob::BlobError::BadCells { .. }))
    ));
    let set = da
        .put_cells(ctx, &header, 0, &cells_of(&sub, 0, odd[30..].iter().copied()))
        .unwrap();
    assert_eq!(set.len(), 64);
    assert_eq!(set.indices().collect::<Vec<_>>(), odd);
    assert_eq!(da.payload(ctx, &sub.id).unwrap(), data);

    // A different header under the same id cannot replace the one held.
    let mut other = header;
    other.payload_len += 1;
    assert!(matches!(da.put_header(&other), Err(DaError::Mismatch { .. })));
}
