//! Criterion: storage on chain, `zg upload` paying on the Flow beside 0G's SDK and the chain-gated node path beside the off-chain one (`cargo bench -p zg-benches --bench storage_chain`).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, criterion_group, criterion_main};

fn storage_chain(c: &mut Criterion) {
    for pair in zg_benches::storage_chain::pairs(1) {
        zg_benches::criterion_pair(c, pair, 10);
    }
}

criterion_group!(benches, storage_chain);
criterion_main!(benches);
