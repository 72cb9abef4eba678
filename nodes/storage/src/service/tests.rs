//! The storage service against the fault-injecting store: uploads, bad input, crashes, a full disk.

use zg_merkle::{FileHasher, FileTree};
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
    StorageService::new(store, StorageConfig::default(), None).unwrap()
}

/// A BLAKE3 file's segment nodes (two or more segments) are the store's segment
/// hashes, which uploads and replicas hand the store instead of hashing twice.
#[test]
fn blake3_segment_nodes_are_the_store_segment_hashes() {
    assert_eq!(SEGMENT_SIZE as u64, zg_store::SEGMENT_BYTES);
    for len in [
        SEGMENT_SIZE + 1,
        2 * SEGMENT_SIZE,
        13 * SEGMENT_SIZE - 999,
        64 * SEGMENT_SIZE + 5,
    ] {
        let (bytes, _) = file(len, 3);
        let count = segment_count(len as u64);
        for index in [0, 1, count / 2, count - 1] {
            let lo = index as usize * SEGMENT_SIZE;
            let data = &bytes[lo..(lo + SEGMENT_SIZE).min(len)];
            let node = segment_node(RootKind::Blake3, len as u64, index, data).unwrap();
            assert_eq!(
                node,
                zg_store::segment_chaining_value(index, data),
                "{len} bytes, segment {index}"
            );
        }
    }
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

/// A service that follows a chain (the follower itself is not started: the tests
/// add the Flow's entries by hand).
fn following(dir: &MemoryDir) -> StorageService {
    following_as(dir, zg_file::shard::Shard::WHOLE)
}

/// A service that follows a chain and holds `shard` of its flow.
fn following_as(dir: &MemoryDir, shard: zg_file::shard::Shard) -> StorageService {
    let (store, _) = Store::open(Arc::new(dir.clone()), StoreOptions::default()).unwrap();
    let cfg = StorageConfig {
        chain: Some(crate::follow::FollowConfig {
            url: "http://127.0.0.1:9".into(),
            confirmations: 0,
            poll: std::time::Duration::from_secs(1),
            announce: None,
        }),
        shard,
        ..StorageConfig::default()
    };
    StorageService::new(store, cfg, None).unwrap()
}

/// Records that `seq` paid for `tree`'s file, as the follower does from a `Submit` log.
fn paid(svc: &StorageService, seq: u64, tree: &zg_merkle::keccak_tree::KeccakTree, block: u64) {
    paid_at(svc, seq, tree, 1 << 20, block);
}

/// Records that `seq` paid for `tree`'s file at flow sector `start`.
fn paid_at(
    svc: &StorageService,
    seq: u64,
    tree: &zg_merkle::keccak_tree::KeccakTree,
    start: u64,
    block: u64,
) {
    let entry = crate::flow::FlowEntry::new(
        seq,
        tree.file_len(),
        start,
        tree.submission_nodes().to_vec(),
        block,
    )
    .unwrap();
    svc.flow
        .lock()
        .unwrap()
        .append(&svc.store, vec![entry], block + 1)
        .unwrap();
}

/// Segment `index` of `bytes` in 0G's shape, the last one cut to whole chunks.
fn flow_segment(
    bytes: &[u8],
    tree: &zg_merkle::keccak_tree::KeccakTree,
    index: u64,
) -> crate::api::FlowSegment {
    let start = index as usize * SEGMENT_SIZE;
    let end = (start + SEGMENT_SIZE).min(bytes.len());
    let mut data = bytes[start..end].to_vec();
    data.resize(data.len().div_ceil(256) * 256, 0);
    let proof = tree.prove_segment(index).unwrap();
    crate::api::FlowSegment {
        root: Root::from(tree.root()),
        data: B64.encode(&data),
        index,
        proof: crate::api::FlowProof {
            lemma: proof.lemma().iter().copied().map(Root::from).collect(),
            path: proof.path().to_vec(),
        },
        file_size: bytes.len() as u64,
    }
}

/// Following a chain, a Keccak-rooted file is taken only once a submission paid for it
/// (at its paid size); BLAKE3 files stay open. Segments in 0G's shape (the last cut to
/// whole chunks) finalize it; a forged one stores nothing; a second upload gets 0G's
/// "already uploaded and finalized"; downloads by tx seq return whole, zero-padded chunks.
#[test]
fn following_a_chain_gates_keccak_files_on_payment_and_serves_them_by_tx_seq() {
    let dir = MemoryDir::faulty();
    let svc = following(&dir);
    let bytes: Vec<u8> = (0..SEGMENT_SIZE + 1000).map(|i| (i * 31 % 251) as u8).collect();
    let tree = zg_merkle::keccak_tree::KeccakTree::from_data(&bytes);
    let root = tree.root();
    let proof = SegmentProof::Keccak(tree.prove_segment(0).unwrap());
    let zg_shaped = SegmentWithProof::new(&root, 0, &bytes[..SEGMENT_SIZE], &proof, bytes.len() as u64);
    assert!(matches!(
        svc.upload(vec![zg_shaped]).unwrap_err(),
        StorageError::NotPaid(_)
    ));
    assert!(matches!(
        svc.upload_by_seq(vec![flow_segment(&bytes, &tree, 0)], 0)
            .unwrap_err(),
        StorageError::NotFound(_)
    ));
    let (b3, b3_tree) = file(1000, 7);
    svc.upload(vec![segment(&b3, &b3_tree, 0)]).unwrap();
    assert!(svc.holds(&b3_tree.root()), "BLAKE3 files are not gated");

    paid(&svc, 0, &tree, 5);
    assert_eq!(
        svc.missing(&root).unwrap(),
        vec![[0, 2]],
        "paid, nothing uploaded yet"
    );
    let info = svc.info_by_seq(0).unwrap().unwrap();
    assert_eq!((info.uploaded_seg_num, info.finalized), (0, false));
    assert_eq!(info.tx.as_ref().unwrap().seq, 0);
    assert_eq!(info.tx.as_ref().unwrap().size, bytes.len() as u64);
    assert_eq!(svc.status(0).next_tx_seq, 1);
    assert_eq!(svc.status(0).log_sync_height, 5);

    let mut forged = flow_segment(&bytes, &tree, 1);
    let mut data = B64.decode(&forged.data).unwrap();
    data[3] ^= 1;
    forged.data = B64.encode(&data);
    assert!(matches!(
        svc.upload_by_seq(vec![forged], 0).unwrap_err(),
        StorageError::ProofFailed(_)
    ));
    assert_eq!(svc.info(&root).unwrap().unwrap().uploaded_seg_num, 0);
    assert_eq!(svc.download_by_seq(0, 0, 1).unwrap(), None, "not finalized yet");

    let n = svc
        .upload_by_seq(
            vec![flow_segment(&bytes, &tree, 0), flow_segment(&bytes, &tree, 1)],
            0,
        )
        .unwrap();
    assert_eq!(n, 2);
    assert!(svc.info_by_seq(0).unwrap().unwrap().finalized);
    assert!(matches!(
        svc.upload_by_seq(vec![flow_segment(&bytes, &tree, 1)], 0)
            .unwrap_err(),
        StorageError::AlreadyFinalized
    ));
    // The last chunks: 1000 bytes past the first segment end in a chunk padded with zeros.
    let first = (SEGMENT_SIZE / 256) as u64;
    let tail = svc.download_by_seq(0, first, first + 4).unwrap().unwrap();
    assert_eq!(tail.len(), 1024);
    assert_eq!(&tail[..1000], &bytes[SEGMENT_SIZE..]);
    assert!(tail[1000..].iter().all(|b| *b == 0));
    let head = svc.download_by_seq(0, 0, 2).unwrap().unwrap();
    assert_eq!(head, bytes[..512]);
    assert!(matches!(
        svc.download_by_seq(0, first, first + 5).unwrap_err(),
        StorageError::InvalidParams(_)
    ));
}

/// The followed flow survives a power loss as acknowledged: tx seqs and the sync height
/// come back, and a seq out of order is refused rather than renumbered.
#[test]
fn the_followed_flow_survives_a_crash_and_refuses_gaps() {
    let dir = MemoryDir::faulty();
    let trees: Vec<_> = (1..4u8)
        .map(|s| zg_merkle::keccak_tree::KeccakTree::from_data(&vec![s; 3000 * usize::from(s)]))
        .collect();
    {
        let svc = following(&dir);
        for (seq, tree) in trees.iter().enumerate() {
            paid(&svc, seq as u64, tree, 10 + seq as u64);
        }
        let skipped = crate::flow::FlowEntry::new(7, 1, 0, trees[0].submission_nodes().to_vec(), 20).unwrap();
        assert!(matches!(
            svc.flow.lock().unwrap().append(&svc.store, vec![skipped], 21),
            Err(crate::flow::FlowError::Gap { got: 7, expected: 3 })
        ));
    }
    let svc = following(&dir.crash(CrashMode::DropUnsynced));
    let status = svc.status(0);
    assert_eq!((status.next_tx_seq, status.log_sync_height), (3, 12));
    for (seq, tree) in trees.iter().enumerate() {
        let info = svc.info_by_seq(seq as u64).unwrap().unwrap();
        assert_eq!(info.root, Root::from(tree.root()));
        assert_eq!(info.tx.unwrap().seq, seq as u64);
    }
    assert_eq!(svc.info_by_seq(3).unwrap(), None);
}

/// A node holding shard 1/2 of the flow takes only the segments whose flow index (the
/// file's first flow segment plus its own index) is odd, keeps their proofs, finalizes
/// once it holds its share, serves those segments verified (by root and by tx seq) and
/// no others, and still knows it all after a power loss. A paid file none of whose
/// segments fall in its shard is complete there as it is.
#[test]
fn a_shard_node_holds_its_share_of_the_flow() {
    let dir = MemoryDir::faulty();
    let shard: zg_file::shard::Shard = "1/2".parse().unwrap();
    let svc = following_as(&dir, shard);
    let bytes: Vec<u8> = (0..4 * SEGMENT_SIZE + 100).map(|i| (i * 7 % 253) as u8).collect();
    let tree = zg_merkle::keccak_tree::KeccakTree::from_data(&bytes);
    let root = tree.root();
    // Flow segment 3 is the file's first: its segments 0, 2 and 4 are this shard's.
    paid_at(&svc, 0, &tree, 3 * 1024, 5);
    assert_eq!(svc.missing(&root).unwrap(), vec![[0, 1], [2, 3], [4, 5]]);
    let err = svc
        .upload_by_seq(vec![flow_segment(&bytes, &tree, 1)], 0)
        .unwrap_err();
    assert!(
        matches!(&err, StorageError::InvalidParams(m) if m.contains("belongs to shard 0/2")),
        "{err}"
    );
    svc.upload_by_seq(
        vec![flow_segment(&bytes, &tree, 0), flow_segment(&bytes, &tree, 2)],
        0,
    )
    .unwrap();
    let info = svc.info_by_seq(0).unwrap().unwrap();
    assert_eq!((info.uploaded_seg_num, info.finalized), (2, false));
    assert_eq!(svc.missing(&root).unwrap(), vec![[4, 5]]);
    svc.upload_by_seq(vec![flow_segment(&bytes, &tree, 4)], 0)
        .unwrap();
    let info = svc.info_by_seq(0).unwrap().unwrap();
    assert_eq!((info.uploaded_seg_num, info.finalized), (3, true));
    assert!(svc.holds(&root));
    assert!(matches!(
        svc.upload_by_seq(vec![flow_segment(&bytes, &tree, 2)], 0)
            .unwrap_err(),
        StorageError::AlreadyFinalized
    ));

    let check = |svc: &StorageService| {
        let chunks = (SEGMENT_SIZE / 256) as u64;
        assert_eq!(
            svc.download_by_seq(0, 0, chunks).unwrap().unwrap(),
            bytes[..SEGMENT_SIZE]
        );
        assert_eq!(
            svc.download_by_seq(0, chunks, chunks + 1).unwrap(),
            None,
            "shard 0's segment"
        );
        // The last segment, 100 bytes, comes as one zero-padded chunk.
        let tail = svc
            .download_by_seq(0, 4 * chunks, 4 * chunks + 1)
            .unwrap()
            .unwrap();
        assert_eq!(&tail[..100], &bytes[4 * SEGMENT_SIZE..]);
        assert!(tail[100..].iter().all(|b| *b == 0));
        assert_eq!(
            svc.download(&root, 2, 3).unwrap(),
            bytes[2 * SEGMENT_SIZE..3 * SEGMENT_SIZE]
        );
        assert!(matches!(
            svc.download(&root, 1, 2).unwrap_err(),
            StorageError::NotFound(_)
        ));
        let seg = svc.download_with_proof(&root, 4).unwrap();
        let data = B64.decode(&seg.data).unwrap();
        assert_eq!(data, bytes[4 * SEGMENT_SIZE..]);
        let proof = SegmentProof::from_bytes(&seg.proof.0).unwrap();
        assert!(proof.verify(&root, bytes.len() as u64, 4, &data).unwrap());
    };
    check(&svc);
    drop(svc);
    let svc = following_as(&dir.crash(CrashMode::DropUnsynced), shard);
    assert!(svc.info_by_seq(0).unwrap().unwrap().finalized);
    check(&svc);

    // One segment at flow segment 4 (even): shard 0's, nothing for this node to wait for.
    let small = zg_merkle::keccak_tree::KeccakTree::from_data(&[1u8; 3000]);
    paid_at(&svc, 1, &small, 4 * 1024, 6);
    let info = svc.info_by_seq(1).unwrap().unwrap();
    assert_eq!((info.uploaded_seg_num, info.finalized), (0, true));
    assert_eq!(svc.download_by_seq(1, 0, 1).unwrap(), None);
}
