//! Criterion: the segment store and file pipeline beside std::fs, dd and pread (`cargo bench -p zg-benches --bench store`).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, criterion_group, criterion_main};

fn store(c: &mut Criterion) {
    for pair in zg_benches::store::pairs(1) {
        zg_benches::criterion_pair(c, pair, 10);
    }
}

criterion_group!(benches, store);
criterion_main!(benches);
