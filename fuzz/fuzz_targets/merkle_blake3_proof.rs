//! Blake3 proof and outboard decoding and verification on arbitrary bytes:
//! never a panic, and a proof of the fuzzer's own choosing never verifies
//! data other than the tree's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use zg_merkle::blake3_tree::{Blake3Proof, Blake3Tree, range_len};

const FILE_LEN: usize = 5 * 256 * 1024 + 1000;

fn tree() -> &'static (Vec<u8>, Blake3Tree) {
    static T: OnceLock<(Vec<u8>, Blake3Tree)> = OnceLock::new();
    T.get_or_init(|| {
        let data: Vec<u8> = (0..FILE_LEN).map(|i| (i % 253) as u8).collect();
        let tree = Blake3Tree::from_data(&data);
        (data, tree)
    })
}

fuzz_target!(|input: &[u8]| {
    let (data, tree) = tree();
    let _ = Blake3Tree::from_outboard(input);
    let Some((&len_byte, proof_bytes)) = input.split_first() else {
        return;
    };
    let Ok(proof) = Blake3Proof::from_bytes(proof_bytes) else {
        return;
    };
    // Lengths around the real one, so shapes both match and differ.
    let file_len = (FILE_LEN as u64).saturating_add_signed(i64::from(len_byte as i8) * 4096);
    let need = range_len(file_len, proof.start(), proof.end());
    if need > 8 << 20 {
        return;
    }
    let lo = proof.start().saturating_mul(262_144).min(data.len() as u64) as usize;
    let mut slice = data[lo..].to_vec();
    slice.resize(need as usize, 0);
    let verified = proof.verify(&tree.root(), file_len, &slice);
    if verified == Ok(true) {
        // Only the true data at the true length may verify.
        let hi = proof.end().saturating_mul(262_144).min(FILE_LEN as u64) as usize;
        assert_eq!(file_len, FILE_LEN as u64);
        assert_eq!(&slice[..], &data[lo..hi]);
    }
});
