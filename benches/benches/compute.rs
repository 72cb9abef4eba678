//! Criterion: the compute node's built-in engine beside llama.cpp on the same GGUF (`cargo bench -p zg-benches --bench compute`; the peer needs ZG_LLAMA_PYTHON).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, criterion_group, criterion_main};

fn compute(c: &mut Criterion) {
    for pair in zg_benches::compute::pairs(1) {
        zg_benches::criterion_pair(c, pair, 10);
    }
}

criterion_group!(benches, compute);
criterion_main!(benches);
