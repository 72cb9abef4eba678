//! Criterion: the C ABI per-call overhead beside direct Rust (`cargo bench -p zg-benches --bench ffi`).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, criterion_group, criterion_main};

fn ffi(c: &mut Criterion) {
    for pair in zg_benches::ffi::pairs(1) {
        zg_benches::criterion_pair(c, pair, 10);
    }
}

criterion_group!(benches, ffi);
criterion_main!(benches);
