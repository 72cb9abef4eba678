//! Criterion: zg-merkle beside raw BLAKE3 and Keccak (`cargo bench -p zg-benches --bench merkle`).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, criterion_group, criterion_main};

fn merkle(c: &mut Criterion) {
    for pair in zg_benches::merkle::pairs(1) {
        zg_benches::criterion_pair(c, pair, 10);
    }
}

criterion_group!(benches, merkle);
criterion_main!(benches);
