//! The blob pipeline: packing round trips and limits, encoding checked
//! against zg-kzg's own functions, recovery from cell subsets, bad cells.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use zg_blob::{self as blob, BlobError, CellWithProof, MAX_PAYLOAD};
use zg_kzg::KzgContext;

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(&[seed])
        .finalize_xof()
        .fill(&mut out);
    out
}

#[test]
fn packing_round_trips_at_every_boundary() {
    let cap = blob::BLOB_CAPACITY;
    for len in [0, 1, 30, 31, 32, cap - 4, cap - 3, cap, 2 * cap + 17] {
        let p = bytes(len, len as u8);
        let blobs = blob::pack(&p).unwrap();
        assert_eq!(blobs.len(), blob::blob_count(len), "{len}");
        assert_eq!(blob::unpack(&blobs).unwrap(), p, "{len}");
    }
    assert_eq!(MAX_PAYLOAD, 32_505_852);
    assert!(matches!(
        blob::pack(&vec![0; MAX_PAYLOAD + 1]),
        Err(BlobError::PayloadTooLarge { .. })
    ));
}

#[test]
fn unpacking_rejects_malformed_blobs() {
    let mut blobs = blob::pack(b"hello").unwrap();
    assert!(blob::unpack::<Vec<u8>>(&[]).is_err());
    let mut short = blobs.clone();
    short[0].pop();
    assert!(blob::unpack(&short).is_err());
    let mut high = blobs.clone();
    high[0][32] = 1;
    assert!(blob::unpack(&high).is_err());
    let mut long_prefix = blobs.clone();
    long_prefix[0][1] = 0xff;
    assert!(blob::unpack(&long_prefix).is_err());
    blobs[0][100] = 9;
    assert!(blob::unpack(&blobs).is_err(), "non-zero bytes after the payload");
}

#[test]
fn encode_and_recover_from_random_halves() {
    let ctx = KzgContext::ethereum();
    let payload = bytes(blob::BLOB_CAPACITY + 1000, 3);
    let sub = blob::encode(ctx, &payload).unwrap();
    assert_eq!(sub.blobs.len(), 2);
    let blobs = blob::pack(&payload).unwrap();
    for (e, b) in sub.blobs.iter().zip(&blobs) {
        assert_eq!(e.commitment, ctx.blob_to_kzg_commitment(b).unwrap());
        assert_eq!(e.cells.len(), 128);
        assert_eq!(
            e.cells.concat()[..b.len()],
            b[..],
            "the first 64 cells are the blob"
        );
    }
    let commitments: Vec<_> = sub.blobs.iter().map(|e| e.commitment).collect();
    assert_eq!(sub.id, blob::submission_id(&commitments));
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let all = |e: &blob::EncodedBlob| -> Vec<CellWithProof> {
        (0..128)
            .map(|i| CellWithProof {
                index: i as u64,
                cell: e.cells[i],
                proof: e.proofs[i],
            })
            .collect()
    };
    // A random half of each blob (shuffled order), and the systematic half.
    let picked: Vec<Vec<CellWithProof>> = sub
        .blobs
        .iter()
        .enumerate()
        .map(|(b, e)| {
            let mut cells = all(e);
            if b == 0 {
                cells.shuffle(&mut rng);
                cells.truncate(64 + rng.random_range(0..10));
            } else {
                cells.truncate(64);
            }
            cells
        })
        .collect();
    assert_eq!(blob::decode(ctx, &commitments, &picked).unwrap(), payload);

    // Too few, duplicated, out of range, or a bad proof: typed errors.
    let mut few = picked.clone();
    few[0].truncate(63);
    assert!(matches!(
        blob::decode(ctx, &commitments, &few),
        Err(BlobError::BadCells { .. })
    ));
    let mut dup = picked.clone();
    let first = dup[1][0].clone();
    dup[1].push(first);
    assert!(matches!(
        blob::decode(ctx, &commitments, &dup),
        Err(BlobError::BadCells { .. })
    ));
    let mut far = picked.clone();
    far[1][0].index = 128;
    assert!(matches!(
        blob::decode(ctx, &commitments, &far),
        Err(BlobError::BadCells { .. })
    ));
    let mut forged = picked.clone();
    forged[1][5].cell[40] ^= 1;
    assert!(matches!(
        blob::decode(ctx, &commitments, &forged),
        Err(BlobError::ProofFailed { blob: 1 })
    ));
    assert!(blob::decode(ctx, &commitments[..1], &picked).is_err());
}
