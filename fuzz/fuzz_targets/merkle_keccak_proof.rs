//! 0G proof decoding and verification (segment and leaf) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use zg_merkle::keccak_tree::{KeccakProof, KeccakTree};

// 16385 sectors: the tree ends in a zero-only padding segment.
const FILE_LEN: usize = 16385 * 256;

fn tree() -> &'static (Vec<u8>, KeccakTree) {
    static T: OnceLock<(Vec<u8>, KeccakTree)> = OnceLock::new();
    T.get_or_init(|| {
        let data: Vec<u8> = (0..FILE_LEN).map(|i| (i % 241) as u8).collect();
        let tree = KeccakTree::from_data(&data);
        (data, tree)
    })
}

fuzz_target!(|input: &[u8]| {
    let (data, tree) = tree();
    if input.len() < 2 {
        return;
    }
    let (index, num) = (u64::from(input[0] % 20), u64::from(input[1]));
    let Ok(proof) = KeccakProof::from_bytes(&input[2..]) else {
        return;
    };
    let root = tree.root();
    let _ = proof.verify_leaf(&root, &proof.lemma()[0], index, num);
    if index < 17 {
        let lo = index as usize * 262_144;
        let hi = (lo + 262_144).min(FILE_LEN);
        let ok = proof.verify_segment(&root, FILE_LEN as u64, index, &data[lo..hi]);
        if ok == Ok(true) {
            assert_eq!(proof, tree.prove_segment(index).unwrap());
        }
    }
    let _ = proof.verify_segment(&root, u64::from(input[1]) * 300, index, &[]);
});
