//! The DA service against the fault-injecting store: submissions, dispersed cells,
//! bad cells and headers, crashes, a full disk.

use std::sync::Arc;

use zg_blob::Submission;
use zg_blob::da::{custody_columns, encode_blob_record};
use zg_kzg::CELLS_PER_EXT_BLOB;
use zg_store::{CrashMode, MemoryDir, StoreOptions};

use super::*;

fn payload(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    blake3::Hasher::new()
        .update(&[seed])
        .finalize_xof()
        .fill(&mut bytes);
    bytes
}

/// A service over `dir` with the node key `secret`, keeping `custody` of each blob.
fn service(dir: &MemoryDir, secret: u8, custody: CellSet) -> DaService {
    let (store, _) = Store::open(Arc::new(dir.clone()), StoreOptions::default()).unwrap();
    let key = NodeKey::from_secret([secret; 32]);
    DaService::new(
        store,
        key,
        custody,
        KzgContext::ethereum(),
        DaConfig::default(),
        None,
        None,
    )
}

/// The cells of blob `blob` a node with `custody` keeps, as a blob record.
fn record(sub: &Submission, blob: usize, custody: CellSet) -> Vec<u8> {
    let cells = sub.blobs[blob]
        .cells
        .iter()
        .zip(&sub.blobs[blob].proofs)
        .enumerate()
        .filter(|(i, _)| custody.contains(*i as u64))
        .map(|(i, (cell, proof))| CellWithProof {
            index: i as u64,
            cell: *cell,
            proof: *proof,
        })
        .collect::<Vec<_>>();
    encode_blob_record(&cells)
}

/// A payload posted to a node is encoded, every cell kept, and read back whole; each
/// cell it serves verifies against its commitment.
#[test]
fn a_submitted_payload_is_kept_and_reads_back() {
    let dir = MemoryDir::faulty();
    let svc = service(&dir, 1, CellSet::ALL);
    let data = payload(200_000, 1);
    let info = svc.submit(&data).unwrap();
    assert_eq!(info.payload_len, 200_000);
    assert_eq!(info.commitments.len(), blob::blob_count(data.len()));
    assert!(info.cells_held.iter().all(|&n| n == CELLS_PER_EXT_BLOB));
    assert!(info.custody_held);
    let header = svc.header(&info.id.0).unwrap();
    assert_eq!(svc.payload(&header.id).unwrap(), data);
    let cell = svc.cell(&header.id, 1, 77).unwrap();
    blob::verify_cells(svc.kzg, 1, &header.commitments[1], &[cell]).unwrap();
    assert_eq!(svc.metrics.submissions.get(), 1);
    assert_eq!(svc.metrics.payload_bytes_in.get(), 200_000);
    assert_eq!(svc.metrics.cells_served.get(), 1);
    assert!(matches!(
        svc.submit(&vec![0; blob::MAX_PAYLOAD + 1]).unwrap_err(),
        DaError::Blob(blob::BlobError::PayloadTooLarge { .. })
    ));
}

/// A disperser's header and then its cells, blob by blob: a node that keeps half the
/// columns holds its custody only once every blob's is stored, refuses forged
/// cells and a header that names another submission, and serves only what it holds.
#[test]
fn dispersed_cells_are_verified_and_custody_is_held_blob_by_blob() {
    let dir = MemoryDir::faulty();
    let custody = custody_columns(b"node b", 64);
    let svc = service(&dir, 2, custody);
    let data = payload(150_000, 2);
    let sub = blob::encode(KzgContext::ethereum(), &data).unwrap();
    assert_eq!(sub.blobs.len(), 2);
    let json = HeaderJson::of(&SubmissionHeader::of(&sub));
    let id = sub.id;

    assert!(matches!(
        svc.put_header(&[7; 32], &json).unwrap_err(),
        DaError::Mismatch { .. }
    ));
    assert!(matches!(svc.header(&id).unwrap_err(), DaError::NotFound(_)));
    let header = svc.put_header(&id, &json).unwrap();

    // A flipped bit in one cell: the whole record is refused, nothing stored.
    let mut forged = record(&sub, 0, custody);
    forged[16 + 100] ^= 1;
    assert!(matches!(
        svc.put_cells(&header, 0, &forged).unwrap_err(),
        DaError::Blob(blob::BlobError::ProofFailed { .. })
    ));
    assert!(matches!(
        svc.put_cells(&header, 0, &forged[..forged.len() - 1])
            .unwrap_err(),
        DaError::Malformed { .. }
    ));
    assert_eq!(svc.info(&header).unwrap().cells_held, vec![0, 0]);

    let first = svc.put_cells(&header, 0, &record(&sub, 0, custody)).unwrap();
    assert_eq!(first.held, custody);
    assert!(!first.custody_held, "blob 1 is not held yet");
    let second = svc.put_cells(&header, 1, &record(&sub, 1, custody)).unwrap();
    assert!(second.custody_held, "custody of every blob is held");
    assert!(!second.complete, "half the columns is not every cell");
    assert_eq!(svc.metrics.cells_in.get(), 128);

    let outside = (0..128).find(|&i| !custody.contains(i)).unwrap();
    assert!(matches!(
        svc.cell(&id, 0, outside).unwrap_err(),
        DaError::CellNotHeld { .. }
    ));
    // Half of each blob's cells is enough to rebuild the payload.
    assert_eq!(svc.payload(&id).unwrap(), data);
}

/// Every acknowledged submission and cell survives a power loss; the node holds its
/// custody of the same submission after it restarts.
#[test]
fn acknowledged_cells_survive_a_crash() {
    let dir = MemoryDir::faulty();
    let custody = custody_columns(b"node c", 64);
    let data = payload(10_000, 3);
    let sub = blob::encode(KzgContext::ethereum(), &data).unwrap();
    let id = sub.id;
    let (posted, dispersed) = {
        let svc = service(&dir, 3, custody);
        let posted = svc.submit(&payload(5_000, 4)).unwrap().id.0;
        let header = svc
            .put_header(&id, &HeaderJson::of(&SubmissionHeader::of(&sub)))
            .unwrap();
        svc.put_cells(&header, 0, &record(&sub, 0, custody)).unwrap();
        (posted, header)
    };
    for mode in [CrashMode::DropUnsynced, CrashMode::TearLast] {
        let svc = service(&dir.crash(mode), 3, custody);
        assert_eq!(svc.payload(&posted).unwrap(), payload(5_000, 4), "{mode:?}");
        let info = svc.info(&dispersed).unwrap();
        assert_eq!(info.cells_held, vec![64], "{mode:?}");
        assert!(info.custody_held, "{mode:?}");
        assert_eq!(svc.payload(&id).unwrap(), data, "{mode:?}");
    }
}

/// A full disk is a store error: the submission is not acknowledged, and the node
/// takes it once space is back.
#[test]
fn a_full_disk_is_a_store_error() {
    let dir = MemoryDir::faulty();
    let svc = service(&dir, 4, CellSet::ALL);
    let data = payload(1_000, 5);
    dir.set_space_left(Some(10_000));
    assert!(matches!(svc.submit(&data).unwrap_err(), DaError::Store(_)));
    assert_eq!(svc.metrics.submissions.get(), 0);
    dir.set_space_left(None);
    let info = svc.submit(&data).unwrap();
    assert_eq!(svc.payload(&info.id.0).unwrap(), data);
}
