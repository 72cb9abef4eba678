//! Criterion: zg-kzg beside c-kzg (`cargo bench -p zg-benches --bench kzg`).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, criterion_group, criterion_main};

fn kzg(c: &mut Criterion) {
    for pair in zg_benches::kzg::pairs(1) {
        zg_benches::criterion_pair(c, pair, 10);
    }
}

criterion_group!(benches, kzg);
criterion_main!(benches);
