//! Opening a segment store whose data file and index snapshot are
//! arbitrary bytes: a typed error, or a store that fsck can walk and that
//! takes and returns a new write — never a panic or a huge allocation.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use zg_store::{MemoryDir, Store, StoreOptions};

fuzz_target!(|input: &[u8]| {
    // [flags][split: u16 LE][data file bytes .. split][snapshot bytes ..]
    let Some((&flags, rest)) = input.split_first() else {
        return;
    };
    let (split, rest) = match rest {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]) as usize, rest),
        _ => return,
    };
    let split = split.min(rest.len());
    let dir = MemoryDir::faulty();
    dir.put_file("data-00000000.zgs", rest[..split].to_vec());
    if flags & 1 == 1 {
        dir.put_file("index.zgi", rest[split..].to_vec());
    }
    if flags & 2 == 2 {
        // A second, empty file: the first is then sealed, not the active one.
        dir.put_file("data-00000001.zgs", Vec::new());
    }
    let opts = StoreOptions {
        snapshot_every: u64::MAX,
        ..StoreOptions::default()
    };
    let Ok((store, _report)) = Store::open(Arc::new(dir), opts) else {
        return;
    };
    let _ = store.fsck();
    for i in 0..4 {
        let _ = store.get(&[0; 32], i);
    }
    store
        .put([0xAB; 32], 7, b"fuzz".to_vec())
        .expect("a reopened store takes writes");
    assert_eq!(
        &store.get(&[0xAB; 32], 7).expect("and reads them back")[..],
        b"fuzz"
    );
});
