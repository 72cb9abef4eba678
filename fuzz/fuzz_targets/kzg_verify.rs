//! Every verifier on arbitrary bytes: `Ok(bool)` or a typed error, never a
//! panic; nothing the fuzzer makes up verifies against a real commitment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zg_kzg::{BYTES_PER_BLOB, BYTES_PER_CELL, KzgContext};

fuzz_target!(|input: &[u8]| {
    let ctx = KzgContext::ethereum();
    if input.len() < 160 {
        return;
    }
    let (commitment, rest) = input.split_at(48);
    let (z, rest) = rest.split_at(32);
    let (y, rest) = rest.split_at(32);
    let (proof, rest) = rest.split_at(48);
    let _ = ctx.verify_kzg_proof(commitment, z, y, proof);
    // A blob from the remaining bytes, repeated (sometimes non-canonical).
    let blob: Vec<u8> = rest.iter().copied().cycle().take(BYTES_PER_BLOB).collect();
    if !rest.is_empty() {
        let _ = ctx.verify_blob_kzg_proof(&blob, commitment, proof);
        let _ =
            ctx.verify_blob_kzg_proof_batch(&[&blob[..], &blob[..]], &[commitment, commitment], &[proof, z]);
        let cell: Vec<u8> = rest.iter().copied().cycle().take(BYTES_PER_CELL).collect();
        let index = u64::from(rest[0]);
        let _ = ctx.verify_cell_kzg_proof_batch(&[commitment], &[index], &[&cell[..]], &[proof]);
        // A batch as large as the shared subgroup checks and bucket sums take.
        let indices: Vec<u64> = (0..48).map(|k| u64::from(rest[k % rest.len()]) % 128).collect();
        let _ = ctx.verify_cell_kzg_proof_batch(&[commitment; 48], &indices, &[&cell[..]; 48], &[proof; 48]);
    }
});
