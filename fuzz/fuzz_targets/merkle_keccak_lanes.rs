//! The multi-lane Keccak engines (AVX-512 ×8, AVX2 ×4) against the portable one on
//! arbitrary bytes: the same sector leaves and the same pair hashes, message for
//! message, whatever the count (whole lane groups and the ones left over).
#![no_main]

use libfuzzer_sys::fuzz_target;
use zg_merkle::keccak_lanes::Engine;

fuzz_target!(|data: &[u8]| {
    let sectors = data.len() / 256;
    let hashes = data.len() / 32;
    for engine in [Engine::Avx512, Engine::Avx2] {
        if !engine.available() {
            continue;
        }
        let (mut got, mut want) = (vec![[0u8; 32]; sectors], vec![[0u8; 32]; sectors]);
        engine.sector_leaves(&data[..sectors * 256], &mut got);
        Engine::Portable.sector_leaves(&data[..sectors * 256], &mut want);
        assert_eq!(got, want, "{engine:?} sector leaves");

        let level: Vec<[u8; 32]> = data[..hashes * 32]
            .chunks(32)
            .map(|c| c.try_into().unwrap())
            .collect();
        let (mut got, mut want) = (vec![[0u8; 32]; hashes / 2], vec![[0u8; 32]; hashes / 2]);
        engine.pair_hashes(&level[..hashes / 2 * 2], &mut got);
        Engine::Portable.pair_hashes(&level[..hashes / 2 * 2], &mut want);
        assert_eq!(got, want, "{engine:?} pair hashes");
    }
});
