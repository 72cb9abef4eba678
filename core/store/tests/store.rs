//! The segment store on real files (io_uring and pread/pwrite) and on the
//! fault-injecting backend: round trips, recovery, faults, compaction.

use std::sync::Arc;

use zg_store::{
    CrashMode, FsDir, IoMode, MemoryDir, Put, StorageDir, Store, StoreError, StoreOptions, uring_support,
};

fn payload(key: u8, index: u64, len: usize) -> Vec<u8> {
    let mut h = blake3::Hasher::new();
    h.update(&[key]);
    h.update(&index.to_le_bytes());
    let mut out = vec![0u8; len];
    h.finalize_xof().fill(&mut out);
    out
}

fn small_opts() -> StoreOptions {
    StoreOptions {
        max_file_size: 1 << 20,
        snapshot_every: u64::MAX,
        ..StoreOptions::default()
    }
}

fn fill(store: &Store, key: u8, count: u64, len: usize) {
    let puts = (0..count)
        .map(|i| Put::segment([key; 32], i, payload(key, i, len)))
        .collect();
    store.put_batch(puts).unwrap();
}

fn check(store: &Store, key: u8, count: u64, len: usize) {
    let wanted: Vec<_> = (0..count).map(|i| ([key; 32], i)).collect();
    for (i, r) in store.get_many(&wanted).into_iter().enumerate() {
        assert_eq!(
            &r.unwrap()[..],
            &payload(key, i as u64, len)[..],
            "key {key} segment {i}"
        );
    }
}

fn dirs() -> Vec<(&'static str, Arc<dyn StorageDir>, Option<tempfile::TempDir>)> {
    let mut out: Vec<(&'static str, Arc<dyn StorageDir>, Option<tempfile::TempDir>)> =
        vec![("faulty", Arc::new(MemoryDir::faulty()), None)];
    let t = tempfile::tempdir().unwrap();
    out.push((
        "sync",
        Arc::new(FsDir::open(t.path(), IoMode::Sync).unwrap()),
        Some(t),
    ));
    if uring_support().is_ok() {
        let t = tempfile::tempdir().unwrap();
        out.push((
            "uring",
            Arc::new(FsDir::open(t.path(), IoMode::Uring).unwrap()),
            Some(t),
        ));
        let t = tempfile::tempdir().unwrap();
        let d = FsDir::open(t.path(), IoMode::Uring).unwrap().direct_reads(true);
        out.push(("uring+direct", Arc::new(d), Some(t)));
    }
    out
}

#[test]
fn round_trip_reopen_and_roll_over_files_on_every_backend() {
    for (what, dir, _keep) in dirs() {
        let (store, report) = Store::open(dir.clone(), small_opts()).unwrap();
        assert_eq!(report.records, 0, "{what}");
        // Odd lengths, an empty payload, and enough bytes for several files.
        for (key, len) in [(1u8, 1usize), (2, 0), (3, 262_144), (4, 100_003)] {
            fill(&store, key, 9, len);
        }
        store
            .put_batch(vec![Put::meta([3; 32], b"meta".to_vec())])
            .unwrap();
        assert!(store.stats().files > 1, "{what}: {:?}", store.stats());
        check(&store, 3, 9, 262_144);
        store.close().unwrap();
        let (store, report) = Store::open(dir.clone(), small_opts()).unwrap();
        assert!(
            report.from_snapshot && report.torn_tail.is_none() && report.corrupt.is_empty(),
            "{what}: {report:?}"
        );
        for (key, len) in [(1u8, 1usize), (2, 0), (3, 262_144), (4, 100_003)] {
            check(&store, key, 9, len);
        }
        assert_eq!(&store.get_meta(&[3; 32]).unwrap()[..], b"meta");
        assert!(store.fsck().unwrap().is_clean(), "{what}");
        drop(store);
        // Without the snapshot the index is rebuilt from the files alone.
        let names = dir.list().unwrap();
        assert!(names.contains(&"index.zgi".to_owned()));
        if let Some(t) = &_keep {
            std::fs::remove_file(t.path().join("index.zgi")).unwrap();
            let (store, report) = Store::open(dir.clone(), small_opts()).unwrap();
            assert!(!report.from_snapshot, "{what}");
            check(&store, 4, 9, 100_003);
        }
    }
}

#[test]
fn missing_keys_and_oversized_payloads_are_typed_errors() {
    let (store, _) = Store::open(Arc::new(MemoryDir::faulty()), small_opts()).unwrap();
    assert!(matches!(store.get(&[9; 32], 0), Err(StoreError::NotFound { .. })));
    assert!(matches!(
        store.get_meta(&[9; 32]),
        Err(StoreError::NotFound { .. })
    ));
    store.put_batch(Vec::new()).unwrap();
    assert_eq!(store.stats().used_bytes, 0, "an empty batch writes nothing");
    let big = vec![0u8; zg_store::MAX_PAYLOAD + 1];
    assert!(matches!(
        store.put([1; 32], 0, big),
        Err(StoreError::PayloadTooLarge { .. })
    ));
}

#[test]
fn overwrite_delete_and_compaction() {
    let dir = MemoryDir::faulty();
    let (store, _) = Store::open(Arc::new(dir.clone()), small_opts()).unwrap();
    fill(&store, 1, 8, 200_000);
    fill(&store, 2, 8, 200_000);
    store.put([2; 32], 3, b"new".to_vec()).unwrap();
    store.delete([1; 32]).unwrap();
    assert!(!store.contains(&[1; 32], 0));
    assert_eq!(store.segment_indices(&[2; 32]), (0..8).collect::<Vec<_>>());
    assert_eq!(&store.get(&[2; 32], 3).unwrap()[..], b"new");
    let before = store.stats();
    let report = store.compact(0.5).unwrap();
    assert!(report.files_removed > 0 && report.bytes_freed > 0, "{report:?}");
    let after = store.stats();
    assert!(after.used_bytes < before.used_bytes, "{before:?} -> {after:?}");
    assert!(store.fsck().unwrap().is_clean());
    // Re-upload after delete is visible; the old tombstone does not hide it.
    fill(&store, 1, 2, 10);
    drop(store);
    for mode in [CrashMode::KeepAll, CrashMode::DropUnsynced] {
        let (store, _) = Store::open(Arc::new(dir.crash(mode)), small_opts()).unwrap();
        check(&store, 1, 2, 10);
        assert!(!store.contains(&[1; 32], 2));
        assert_eq!(&store.get(&[2; 32], 3).unwrap()[..], b"new");
        assert_eq!(&store.get(&[2; 32], 4).unwrap()[..], &payload(2, 4, 200_000)[..]);
    }
}

/// Every acknowledged write survives every crash mode; nothing unacknowledged
/// is half visible (each record present reads back whole and checked).
#[test]
fn crashes_lose_nothing_acknowledged() {
    for seed in 0..40u64 {
        let dir = MemoryDir::faulty();
        let opts = StoreOptions {
            max_file_size: 600_000,
            snapshot_every: 500_000,
            ..StoreOptions::default()
        };
        let (store, _) = Store::open(Arc::new(dir.clone()), opts.clone()).unwrap();
        let acked = 3 + seed % 5;
        for i in 0..acked {
            store.put([7; 32], i, payload(7, i, 70_000 + i as usize)).unwrap();
        }
        // Then writes that are not yet synced when the power goes: written by
        // hand through a second handle that never syncs.
        let names = dir.list().unwrap();
        let last = names.iter().rfind(|n| n.starts_with("data-")).unwrap().clone();
        let f = dir.open(&last, false).unwrap();
        let end = f.len().unwrap();
        let junk = payload(99, seed, 9000);
        f.write_all_at(&[(end, &junk[..])]).unwrap();
        for mode in [
            CrashMode::DropUnsynced,
            CrashMode::TearLast,
            CrashMode::Random(seed),
            CrashMode::KeepAll,
        ] {
            let crashed = dir.crash(mode);
            let (reopened, report) = Store::open(Arc::new(crashed), opts.clone()).unwrap();
            assert!(report.corrupt.is_empty(), "seed {seed} {mode:?}: {report:?}");
            for i in 0..acked {
                assert_eq!(
                    &reopened.get(&[7; 32], i).unwrap()[..],
                    &payload(7, i, 70_000 + i as usize)[..],
                    "seed {seed} {mode:?}"
                );
            }
            assert!(reopened.fsck().unwrap().is_clean());
            // And it takes writes again.
            reopened.put([8; 32], 0, b"after".to_vec()).unwrap();
        }
        drop(store);
    }
}

#[test]
fn torn_batches_are_dropped_whole() {
    // A batch whose fsync never happened: crash with random writeback.
    for seed in 0..30u64 {
        let dir = MemoryDir::faulty();
        let (store, _) = Store::open(Arc::new(dir.clone()), small_opts()).unwrap();
        store.put([1; 32], 0, payload(1, 0, 5000)).unwrap();
        // Arm a failing sync: the next batch is written but never acknowledged.
        dir.fail_syncs_after(0);
        let puts = (0..4)
            .map(|i| Put::segment([2; 32], i, payload(2, i, 30_000)))
            .collect();
        assert!(matches!(
            store.put_batch(puts),
            Err(StoreError::SyncFailed { .. })
        ));
        // After a failed fsync the store refuses writes rather than retrying.
        assert!(matches!(
            store.put([3; 32], 0, vec![1]),
            Err(StoreError::Failed(_))
        ));
        // Reads of acknowledged data still work.
        assert_eq!(&store.get(&[1; 32], 0).unwrap()[..], &payload(1, 0, 5000)[..]);
        let crashed = dir.crash(CrashMode::Random(seed));
        drop(store);
        let (store, report) = Store::open(Arc::new(crashed), small_opts()).unwrap();
        assert!(report.corrupt.is_empty(), "{report:?}");
        assert_eq!(&store.get(&[1; 32], 0).unwrap()[..], &payload(1, 0, 5000)[..]);
        // All four of the batch or none: group commit is atomic on recovery.
        let present = store.segment_indices(&[2; 32]).len();
        assert!(present == 0 || present == 4, "seed {seed}: {present}");
        for i in store.segment_indices(&[2; 32]) {
            assert_eq!(&store.get(&[2; 32], i).unwrap()[..], &payload(2, i, 30_000)[..]);
        }
    }
}

#[test]
fn full_disk_and_capacity_are_typed_and_lose_nothing() {
    let dir = MemoryDir::faulty();
    let (store, _) = Store::open(Arc::new(dir.clone()), small_opts()).unwrap();
    store.put([1; 32], 0, payload(1, 0, 50_000)).unwrap();
    dir.set_space_left(Some(100_000));
    let puts = (0..4)
        .map(|i| Put::segment([2; 32], i, payload(2, i, 50_000)))
        .collect();
    assert!(matches!(store.put_batch(puts), Err(StoreError::DiskFull { .. })));
    dir.set_space_left(None);
    // The failed batch was rolled back; the store goes on.
    store.put([3; 32], 0, b"ok".to_vec()).unwrap();
    drop(store);
    let (store, report) = Store::open(Arc::new(dir.crash(CrashMode::DropUnsynced)), small_opts()).unwrap();
    assert!(
        report.torn_tail.is_none() && report.corrupt.is_empty(),
        "{report:?}"
    );
    assert_eq!(&store.get(&[1; 32], 0).unwrap()[..], &payload(1, 0, 50_000)[..]);
    assert_eq!(&store.get(&[3; 32], 0).unwrap()[..], b"ok");
    assert!(store.segment_indices(&[2; 32]).is_empty());

    let opts = StoreOptions {
        capacity: Some(300_000),
        ..small_opts()
    };
    let (store, _) = Store::open(Arc::new(MemoryDir::faulty()), opts).unwrap();
    store.put([1; 32], 0, payload(1, 0, 200_000)).unwrap();
    assert!(matches!(
        store.put([1; 32], 1, payload(1, 1, 200_000)),
        Err(StoreError::Full { .. })
    ));
    store.put([1; 32], 1, payload(1, 1, 10)).unwrap();
}

#[test]
fn corruption_is_reported_and_acknowledged_data_after_it_kept() {
    let dir = MemoryDir::faulty();
    let (store, _) = Store::open(Arc::new(dir.clone()), small_opts()).unwrap();
    for i in 0..3 {
        store.put([1; 32], i, payload(1, i, 10_000)).unwrap();
    }
    drop(store);
    dir.remove("index.zgi").unwrap();
    let mut bytes = dir.file("data-00000000.zgs").unwrap();
    // Flip a payload byte of the first record (bit rot).
    bytes[200] ^= 1;
    dir.put_file("data-00000000.zgs", bytes);
    let (store, report) = Store::open(Arc::new(dir), small_opts()).unwrap();
    assert_eq!(report.corrupt.len(), 1, "{report:?}");
    assert!(report.torn_tail.is_none());
    assert!(!store.contains(&[1; 32], 0));
    for i in 1..3 {
        assert_eq!(&store.get(&[1; 32], i).unwrap()[..], &payload(1, i, 10_000)[..]);
    }
    assert!(!store.fsck().unwrap().is_clean());

    // Corruption under a live index entry is caught on read.
    let (store, _) = Store::open(Arc::new(MemoryDir::faulty()), small_opts()).unwrap();
    drop(store);
    let dir = MemoryDir::faulty();
    let (store, _) = Store::open(Arc::new(dir.clone()), small_opts()).unwrap();
    store.put([5; 32], 0, payload(5, 0, 10_000)).unwrap();
    let mut bytes = dir.file("data-00000000.zgs").unwrap();
    bytes[300] ^= 1;
    dir.put_file("data-00000000.zgs", bytes);
    assert!(matches!(store.get(&[5; 32], 0), Err(StoreError::Corrupt { .. })));
    dir.fail_reads(true);
    assert!(matches!(store.get(&[5; 32], 0), Err(StoreError::Io { .. })));
}

/// Segments stored with the chaining value their caller already had (a BLAKE3
/// file's segment nodes) read back, survive a rebuild from the files alone, and are
/// caught when a byte rots, on read and on open, like records hashed whole.
#[test]
fn segment_hashed_records_are_checked_like_any_other() {
    use zg_store::{SEGMENT_BYTES, segment_chaining_value};
    for (what, dir, keep) in dirs() {
        let (store, _) = Store::open(dir.clone(), small_opts()).unwrap();
        let lens = [1usize, 4096, 100_003, SEGMENT_BYTES as usize];
        let puts = (0..lens.len() as u64)
            .map(|i| {
                let data = payload(6, i, lens[i as usize]);
                Put::segment_hashed([6; 32], i, data.clone(), segment_chaining_value(i, &data))
            })
            // An empty payload cannot take a segment hash: it is hashed whole.
            .chain([Put::segment_hashed([6; 32], 9, Vec::new(), [0; 32])])
            .collect();
        store.put_batch(puts).unwrap();
        for (i, len) in lens.iter().enumerate() {
            assert_eq!(
                &store.get(&[6; 32], i as u64).unwrap()[..],
                &payload(6, i as u64, *len)[..],
                "{what}"
            );
        }
        assert!(store.get(&[6; 32], 9).unwrap().is_empty());
        store.close().unwrap();
        if let Some(t) = &keep {
            std::fs::remove_file(t.path().join("index.zgi")).unwrap();
        }
        let (store, report) = Store::open(dir.clone(), small_opts()).unwrap();
        assert!(
            report.corrupt.is_empty() && report.torn_tail.is_none(),
            "{what}: {report:?}"
        );
        assert_eq!(
            &store.get(&[6; 32], 2).unwrap()[..],
            &payload(6, 2, 100_003)[..],
            "{what}"
        );
        assert!(store.fsck().unwrap().is_clean(), "{what}");
    }
    // A rotten byte: caught on read under a live index, and on open without one.
    let dir = MemoryDir::faulty();
    let (store, _) = Store::open(Arc::new(dir.clone()), small_opts()).unwrap();
    // Two batches: a bad last batch would read as a torn, unacknowledged write.
    for i in [3, 4] {
        let data = payload(7, i, 10_000);
        store
            .put_batch(vec![Put::segment_hashed(
                [7; 32],
                i,
                data.clone(),
                segment_chaining_value(i, &data),
            )])
            .unwrap();
    }
    let mut bytes = dir.file("data-00000000.zgs").unwrap();
    bytes[300] ^= 1;
    dir.put_file("data-00000000.zgs", bytes);
    assert!(matches!(store.get(&[7; 32], 3), Err(StoreError::Corrupt { .. })));
    drop(store);
    dir.remove("index.zgi").unwrap();
    let (store, report) = Store::open(Arc::new(dir), small_opts()).unwrap();
    assert_eq!(report.corrupt.len(), 1, "{report:?}");
    assert!(!store.contains(&[7; 32], 3));
    assert_eq!(&store.get(&[7; 32], 4).unwrap()[..], &payload(7, 4, 10_000)[..]);
}

#[test]
fn payloads_written_in_place_round_trip_and_are_checked() {
    use zg_store::{RecordImage, segment_chaining_value};
    let image = |data: &[u8]| {
        let mut img = RecordImage::for_payload(data.len()).unwrap();
        img.payload_mut().copy_from_slice(data);
        img
    };
    assert!(RecordImage::for_payload(zg_store::MAX_PAYLOAD + 1).is_none());
    for (what, dir, _keep) in dirs() {
        let (store, _) = Store::open(dir.clone(), small_opts()).unwrap();
        // With the caller's chaining value, without one (hashed whole), and beside a shared payload.
        let (a, b, c) = (payload(8, 0, 262_144), payload(8, 1, 77_777), payload(8, 2, 5));
        store
            .put_batch(vec![
                Put::segment_hashed([8; 32], 0, image(&a), segment_chaining_value(0, &a)),
                Put::segment([8; 32], 1, image(&b)),
                Put::segment([8; 32], 2, c.clone()),
            ])
            .unwrap();
        for (i, want) in [&a, &b, &c].into_iter().enumerate() {
            assert_eq!(&store.get(&[8; 32], i as u64).unwrap()[..], &want[..], "{what}");
        }
        assert!(store.fsck().unwrap().is_clean(), "{what}");
    }
    // A rotten byte of an in-place record is caught on read like any other.
    let dir = MemoryDir::faulty();
    let (store, _) = Store::open(Arc::new(dir.clone()), small_opts()).unwrap();
    let data = payload(9, 0, 10_000);
    store
        .put_batch(vec![Put::segment([9; 32], 0, image(&data))])
        .unwrap();
    let mut bytes = dir.file("data-00000000.zgs").unwrap();
    bytes[300] ^= 1;
    dir.put_file("data-00000000.zgs", bytes);
    assert!(matches!(store.get(&[9; 32], 0), Err(StoreError::Corrupt { .. })));
}

#[test]
fn bad_snapshots_and_missing_files_are_handled() {
    let dir = MemoryDir::faulty();
    let (store, _) = Store::open(Arc::new(dir.clone()), small_opts()).unwrap();
    fill(&store, 1, 8, 200_000);
    store.close().unwrap();
    // A damaged snapshot: rebuilt from the files.
    let mut snap = dir.file("index.zgi").unwrap();
    snap[10] ^= 1;
    dir.put_file("index.zgi", snap);
    let (store, report) = Store::open(Arc::new(dir.clone()), small_opts()).unwrap();
    assert!(!report.from_snapshot && report.snapshot_problem.is_some());
    check(&store, 1, 8, 200_000);
    store.close().unwrap();
    // A data file the snapshot names is gone: refuse to open rather than lose data silently.
    dir.remove("data-00000000.zgs").unwrap();
    assert!(matches!(
        Store::open(Arc::new(dir), small_opts()),
        Err(StoreError::MissingDataFile(_))
    ));
    // A stranger in the directory.
    let dir = MemoryDir::faulty();
    dir.put_file("notes.txt", b"hi".to_vec());
    assert!(matches!(
        Store::open(Arc::new(dir), small_opts()),
        Err(StoreError::ForeignFile(_))
    ));
}

#[test]
fn concurrent_writers_share_group_commits() {
    let t = tempfile::tempdir().unwrap();
    let (store, _) = Store::open_path(t.path(), StoreOptions::default()).unwrap();
    let store = Arc::new(store);
    std::thread::scope(|s| {
        for key in 0..8u8 {
            let store = store.clone();
            s.spawn(move || {
                for i in 0..20 {
                    store.put([key; 32], i, payload(key, i, 4000)).unwrap();
                }
            });
        }
    });
    for key in 0..8u8 {
        check(&store, key, 20, 4000);
    }
}
