//! Criterion: a DA submission end to end beside its KZG kernels (`cargo bench -p zg-benches --bench da`).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, criterion_group, criterion_main};

fn da(c: &mut Criterion) {
    // A 1/8 submission (32 blobs): criterion takes at least 10 samples a side.
    for pair in zg_benches::da::pairs(8) {
        zg_benches::criterion_pair(c, pair, 10);
    }
}

criterion_group!(benches, da);
criterion_main!(benches);
