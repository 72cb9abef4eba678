//! The storage service against the fault-injecting store: uploads, bad input, crashes, a full disk.

use zg_merkle::FileTree;
use zg_store::{CrashMode, MemoryDir, StoreOptions};

use super::*;

fn file(len: usize, seed: u8) -> (Vec<u8>, FileTree) {
    let mut bytes = vec![0u8; len];
    blake3::Hasher::new()
        .update(&[seed])
        .finalize_xof()
        .fill(&mut bytes);
    let mut hasher = FileHasher::new(RootKind::Blake3);
    hasher.update(&bytes);
    (bytes, hasher.finalize())
}

fn segment(bytes: &[u8], tree: &FileTree, index: u64) -> SegmentWithProof {
    let start = index as usize * SEGMENT_SIZE;
    let end = (start + SEGMENT_SIZE).min(bytes.len());
    let proof = tree.prove_segment(index).unwrap();
    SegmentWithProof::new(
        &tree.root(),
        index,
        &bytes[start..end],
        &proof,
        bytes.len() as u64,
    )
}

fn service(dir: &MemoryDir) -> StorageService {
    let (store, _) = Store::open(Arc::new(dir.clone()), StoreOptions::default()).unwrap();
    StorageService::new(store, StorageConfig::default(), None)
}

/// Segments in any order finalize the file once the last is durable; the catalog
/// lists it, re-uploads change nothing, and every segment reads back verified.
#[test]
fn segments_finalize_a_file_and_reuploads_are_idempotent() {
    let dir = MemoryDir::faulty();
    let svc = service(&dir);
    let (bytes, tree) = file(2 * SEGMENT_SIZE + 1000, 1);
    let root = tree.root();
    svc.upload(vec![segment(&bytes, &tree, 2), segment(&bytes, &tree, 0)])
        .unwrap();
    let info = svc.info(&root).unwrap().unwrap();
    assert!(!info.finalized);
    assert_eq!(info.uploaded_seg_num, 2);
    assert_eq!(svc.missing(&root).unwrap(), vec![[1, 2]]);
    assert!(!svc.holds(&root));
    svc.upload(vec![segment(&bytes, &tree, 1)]).unwrap();
    let info = svc.info(&root).unwrap().unwrap();
    assert!(info.finalized);
    assert_eq!(info.segment_count, 3);
    assert!(svc.holds(&root));
    assert_eq!(svc.missing(&root).unwrap(), Vec::<[u64; 2]>::new());
    svc.upload(vec![segment(&bytes, &tree, 1)]).unwrap();
    let meta = svc.open_meta(&root).unwrap();
    let read: Vec<u8> = svc.read_segments(&meta, 0, 3).unwrap().concat();
    assert_eq!(read, bytes);
    assert_eq!(svc.metrics.files_finalized.get(), 1);
}

/// Bad segments get the typed error that names their fault, and nothing is written.
#[test]
fn bad_segments_get_typed_errors_and_store_nothing() {
    let dir = MemoryDir::faulty();
    let svc = service(&dir);
    let (bytes, tree) = file(SEGMENT_SIZE + 10, 2);
    let root = tree.root();

    let mut forged = segment(&bytes, &tree, 0);
    let mut data = B64.decode(&forged.data).unwrap();
    data[5] ^= 1;
    forged.data = B64.encode(&data);
    let err = svc.upload(vec![forged]).unwrap_err();
    assert!(matches!(err, StorageError::ProofFailed(_)), "{err}");
    assert_eq!(svc.info(&root).unwrap().unwrap().uploaded_seg_num, 0);

    let mut past_end = segment(&bytes, &tree, 1);
    past_end.index = 2;
    assert!(matches!(
        svc.upload(vec![past_end]).unwrap_err(),
        StorageError::InvalidParams(_)
    ));

    let mut short = segment(&bytes, &tree, 0);
    short.data = B64.encode(&bytes[..100]);
    assert!(matches!(
        svc.upload(vec![short]).unwrap_err(),
        StorageError::InvalidParams(_)
    ));

    let mut not_b64 = segment(&bytes, &tree, 0);
    not_b64.data = "@@@@".into();
    assert!(matches!(
        svc.upload(vec![not_b64]).unwrap_err(),
        StorageError::InvalidParams(_)
    ));

    let mut huge = segment(&bytes, &tree, 0);
    huge.file_size = StorageConfig::default().max_file_bytes + 1;
    assert!(matches!(
        svc.upload(vec![huge]).unwrap_err(),
        StorageError::TooLarge(_)
    ));

    let many = vec![segment(&bytes, &tree, 0); StorageConfig::default().max_segments_per_request + 1];
    assert!(matches!(svc.upload(many).unwrap_err(), StorageError::TooLarge(_)));

    // The same root claimed with another size while its upload is in progress.
    let mut other_size = segment(&bytes, &tree, 0);
    other_size.file_size += 1;
    assert!(matches!(
        svc.upload(vec![other_size]).unwrap_err(),
        StorageError::Conflict(_)
    ));

    assert!(matches!(
        svc.missing(&[9u8; 32]).unwrap_err(),
        StorageError::NotFound(_)
    ));
    assert_eq!(svc.info(&[9u8; 32]).unwrap(), None);
    assert_eq!(svc.metrics.proof_failures.get(), 1);
    assert_eq!(svc.store.stats().segments, 0, "no segment was stored");
}

/// An upload cut by a power loss resumes where it stopped: every acknowledged
/// segment and the upload marker survive, the rest is asked for again.
#[test]
fn an_upload_resumes_after_a_crash() {
    let dir = MemoryDir::faulty();
    let (bytes, tree) = file(3 * SEGMENT_SIZE, 3);
    let root = tree.root();
    {
        let svc = service(&dir);
        svc.upload(vec![segment(&bytes, &tree, 0), segment(&bytes, &tree, 2)])
            .unwrap();
    }
    let after = dir.crash(CrashMode::DropUnsynced);
    let svc = service(&after);
    assert_eq!(svc.missing(&root).unwrap(), vec![[1, 2]]);
    svc.upload(vec![segment(&bytes, &tree, 1)]).unwrap();
    assert!(svc.info(&root).unwrap().unwrap().finalized);
    // The finalized file and its catalog entry survive the next crash too.
    drop(svc);
    let svc = service(&after.crash(CrashMode::DropUnsynced));
    assert!(svc.holds(&root));
    let meta = svc.open_meta(&root).unwrap();
    assert_eq!(svc.read_segments(&meta, 0, 3).unwrap().concat(), bytes);
}

/// A full disk is a store error, not a lost or half-finalized file.
#[test]
fn a_full_disk_is_a_store_error() {
    let dir = MemoryDir::faulty();
    let svc = service(&dir);
    let (bytes, tree) = file(SEGMENT_SIZE, 4);
    dir.set_space_left(Some(1000));
    let err = svc.upload(vec![segment(&bytes, &tree, 0)]).unwrap_err();
    assert!(matches!(err, StorageError::Store(_)), "{err}");
    assert!(!svc.holds(&tree.root()));
}
