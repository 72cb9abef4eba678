//! Criterion: zg-erasure beside raw reed-solomon-simd (`cargo bench -p zg-benches --bench erasure`).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, criterion_group, criterion_main};

fn erasure(c: &mut Criterion) {
    for pair in zg_benches::erasure::pairs(1) {
        zg_benches::criterion_pair(c, pair, 10);
    }
}

criterion_group!(benches, erasure);
criterion_main!(benches);
