//! zg-kzg and c-kzg on arbitrary blobs: the same commitment and proof
//! bytes, or both refuse the blob.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zg_kzg::{BYTES_PER_BLOB, KzgContext};

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    if rest.is_empty() {
        return;
    }
    let mut blob: Vec<u8> = rest.iter().copied().cycle().take(BYTES_PER_BLOB).collect();
    if mode % 4 != 0 {
        // Mostly canonical elements; every fourth input keeps its top bits.
        for e in blob.chunks_exact_mut(32) {
            e[0] &= 0x3f;
        }
    }
    let ctx = KzgContext::ethereum();
    let ckzg = c_kzg::ethereum_kzg_settings(0);
    let cblob = c_kzg::Blob::from_bytes(&blob).unwrap();
    let ours = ctx.blob_to_kzg_commitment(&blob);
    let theirs = ckzg.blob_to_kzg_commitment(&cblob);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => assert_eq!(*a, b.to_bytes().into_inner()),
        (Err(_), Err(_)) => return,
        _ => panic!("zg {:?} vs c-kzg {:?}", ours.is_ok(), theirs.is_ok()),
    }
    let commitment = ours.unwrap();
    let proof = ctx.compute_blob_kzg_proof(&blob, &commitment).unwrap();
    let cproof = ckzg
        .compute_blob_kzg_proof(&cblob, &c_kzg::Bytes48::from_bytes(&commitment).unwrap())
        .unwrap();
    assert_eq!(proof, cproof.to_bytes().into_inner());
});
