//! Criterion: EVM block execution beside raw revm, and the chain node's intake (`cargo bench -p zg-benches --bench evm`).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, criterion_group, criterion_main};

fn evm(c: &mut Criterion) {
    for pair in zg_benches::evm::pairs(1) {
        zg_benches::criterion_pair(c, pair, 10);
    }
}

criterion_group!(benches, evm);
criterion_main!(benches);
