//! The file pipeline: round trips for both root kinds against the
//! independent roots, verified reads, rebuilding from parity, bad input.

use std::sync::Arc;

use zg_file::{self as file, FileError, IngestOptions};
use zg_merkle::{RootKind, SEGMENT_SIZE, file_root};
use zg_store::{MemoryDir, Store, StoreOptions};

fn data(len: usize, seed: u8) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(&[seed])
        .finalize_xof()
        .fill(&mut out);
    out
}

fn new_store() -> (Store, MemoryDir) {
    let dir = MemoryDir::faulty();
    let (s, _) = Store::open(Arc::new(dir.clone()), StoreOptions::default()).unwrap();
    (s, dir)
}

#[test]
fn round_trips_for_both_kinds_with_and_without_parity() {
    let (store, _dir) = new_store();
    let lens = [
        0,
        1,
        SEGMENT_SIZE - 1,
        SEGMENT_SIZE,
        SEGMENT_SIZE + 1,
        3 * SEGMENT_SIZE + 5,
        70 * SEGMENT_SIZE + 3,
    ];
    for kind in [RootKind::Blake3, RootKind::Keccak] {
        for erasure in [None, Some((4, 2)), Some((3, 1))] {
            for (n, &len) in lens.iter().enumerate() {
                let bytes = data(len, n as u8);
                let opts = IngestOptions {
                    kind,
                    erasure,
                    batch_segments: 16,
                };
                let meta = file::ingest_bytes(&store, &bytes, &opts).unwrap();
                // Independent references for the root.
                assert_eq!(meta.root(), file_root(kind, &bytes), "{kind} {len}");
                if kind == RootKind::Blake3 {
                    assert_eq!(&meta.root(), blake3::hash(&bytes).as_bytes());
                }
                assert_eq!(meta.len(), len as u64);
                let reopened = file::open(&store, &meta.root()).unwrap();
                assert_eq!(reopened, meta);
                let mut out = Vec::new();
                assert_eq!(
                    file::read_to(&store, &meta.root(), &mut out, |_| {}).unwrap(),
                    len as u64
                );
                assert!(out == bytes, "{kind} {erasure:?} {len}");
                let last = meta.segment_count() - 1;
                let (seg, proof) = file::segment_with_proof(&store, &meta, last).unwrap();
                assert!(proof.verify(&meta.root(), meta.len(), last, &seg).unwrap());
            }
        }
    }
}

/// Flips a byte inside the stored copy of `needle` in the data file.
fn corrupt(dir: &MemoryDir, needle: &[u8]) {
    let name = "data-00000000.zgs";
    let mut bytes = dir.file(name).unwrap();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("segment stored");
    bytes[at + needle.len() / 2] ^= 0x40;
    dir.put_file(name, bytes);
}

#[test]
fn damaged_segments_fail_without_parity_and_are_rebuilt_with_it() {
    let bytes = data(9 * SEGMENT_SIZE + 1000, 7);
    let seg = |i: usize| &bytes[i * SEGMENT_SIZE..i * SEGMENT_SIZE + 64];

    let (store, dir) = new_store();
    let meta = file::ingest_bytes(&store, &bytes, &IngestOptions::default()).unwrap();
    corrupt(&dir, seg(2));
    let err = file::read_to(&store, &meta.root(), Vec::new(), |_| {}).unwrap_err();
    assert!(matches!(err, FileError::Unavailable { index: 2, .. }), "{err}");

    for kind in [RootKind::Blake3, RootKind::Keccak] {
        let (store, dir) = new_store();
        let opts = IngestOptions {
            kind,
            erasure: Some((4, 2)),
            ..IngestOptions::default()
        };
        let meta = file::ingest_bytes(&store, &bytes, &opts).unwrap();
        // Two losses in stripe 0 (m = 2) and one in the short last stripe.
        for i in [1, 3, 8] {
            corrupt(&dir, seg(i));
        }
        let mut out = Vec::new();
        file::read_to(&store, &meta.root(), &mut out, |_| {}).unwrap();
        assert!(out == bytes);
        // A third loss in stripe 0 is beyond m: a clear error, never wrong bytes.
        corrupt(&dir, seg(0));
        let err = file::read_to(&store, &meta.root(), Vec::new(), |_| {}).unwrap_err();
        assert!(matches!(err, FileError::Unavailable { .. }), "{err}");
    }
}

#[test]
fn missing_roots_bad_ranges_and_deletes() {
    let (store, _dir) = new_store();
    let err = file::read_to(&store, &[7; 32], Vec::new(), |_| {}).unwrap_err();
    assert!(matches!(err, FileError::NotFound(_)), "{err}");
    let bytes = data(3 * SEGMENT_SIZE, 1);
    let meta = file::ingest_bytes(&store, &bytes, &IngestOptions::default()).unwrap();
    assert!(matches!(
        file::read_segments(&store, &meta, 2, 2),
        Err(FileError::OutOfRange { .. })
    ));
    assert!(matches!(
        file::read_segments(&store, &meta, u64::MAX, 2),
        Err(FileError::OutOfRange { .. })
    ));
    assert!(matches!(
        file::ingest_bytes(
            &store,
            &bytes,
            &IngestOptions {
                erasure: Some((0, 1)),
                ..IngestOptions::default()
            }
        ),
        Err(FileError::Erasure(_))
    ));
    file::delete(&store, &meta.root()).unwrap();
    assert!(matches!(
        file::open(&store, &meta.root()),
        Err(FileError::NotFound(_))
    ));
}

#[test]
fn corrupt_metadata_is_a_typed_error() {
    let root = [3u8; 32];
    for bad in [
        &b""[..],
        b"ZGFM",
        b"XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    ] {
        assert!(matches!(
            file::FileMeta::decode(&root, bad),
            Err(FileError::BadMeta { .. })
        ));
    }
    let (store, _dir) = new_store();
    let meta = file::ingest_bytes(&store, b"hello", &IngestOptions::default()).unwrap();
    let enc = meta.encode();
    assert_eq!(file::FileMeta::decode(&meta.root(), &enc).unwrap(), meta);
    assert!(file::FileMeta::decode(&root, &enc).is_err());
    for i in 0..enc.len() {
        let mut b = enc.clone();
        b[i] ^= 1;
        // Any flip either fails to decode or still decodes to the same root
        // (the upload key is not covered by the root).
        if let Ok(m) = file::FileMeta::decode(&meta.root(), &b) {
            assert_eq!(m.root(), meta.root());
        }
    }
}
