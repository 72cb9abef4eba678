//! Incremental hashing with arbitrary splits equals one-shot hashing, for both kinds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zg_merkle::{FileHasher, FileTree, RootKind};

fuzz_target!(|input: &[u8]| {
    let Some((&seed, rest)) = input.split_first() else {
        return;
    };
    // Stretch small inputs past segment boundaries now and then.
    let data: Vec<u8> = rest
        .iter()
        .copied()
        .cycle()
        .take(rest.len() * (1 + usize::from(seed % 4) * 700))
        .collect();
    for kind in [RootKind::Blake3, RootKind::Keccak] {
        let one_shot = FileTree::from_data(kind, &data);
        let mut hasher = FileHasher::new(kind).parallel(seed % 2 == 0);
        let mut at = 0;
        let mut step = usize::from(seed) * 997 + 1;
        while at < data.len() {
            let end = (at + step).min(data.len());
            hasher.update(&data[at..end]);
            at = end;
            step = step * 7 % 300_007 + 1;
        }
        assert_eq!(hasher.finalize(), one_shot);
    }
});
