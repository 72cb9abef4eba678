//! Criterion: zg-chain with 4 validators beside the single sequencer, throughput and time to finality (`cargo bench -p zg-benches --bench consensus`).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, criterion_group, criterion_main};

fn consensus(c: &mut Criterion) {
    for pair in zg_benches::consensus::pairs(1) {
        zg_benches::criterion_pair(c, pair, 10);
    }
}

criterion_group!(benches, consensus);
criterion_main!(benches);
