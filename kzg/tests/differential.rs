//! zg-kzg against c-kzg (blst) on random and edge-value blobs: every output
//! byte-equal, and each side's proofs accepted by the other.

use rand::{RngCore, SeedableRng, rngs::StdRng};
use zg_kzg::{BYTES_PER_BLOB, KzgContext, KzgError};

/// BLS12-381 scalar modulus r, big-endian.
const MODULUS: [u8; 32] = [
    0x73, 0xed, 0xa7, 0x53, 0x29, 0x9d, 0x7d, 0x48, 0x33, 0x39, 0xd8, 0x08, 0x09, 0xa1, 0xd8, 0x05, 0x53,
    0xbd, 0xa4, 0x02, 0xff, 0xfe, 0x5b, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01,
];

/// r - 1, the largest field element (r ends in 0x01).
fn r_minus_one() -> [u8; 32] {
    let mut x = MODULUS;
    x[31] = 0;
    x
}

fn random_element(rng: &mut StdRng) -> [u8; 32] {
    let mut x = [0u8; 32];
    rng.fill_bytes(&mut x);
    x[0] &= 0x3f; // below 2^254 < r
    x
}

/// Random blobs, then edge values: zero, one, r - 1 everywhere, mixes.
fn blobs() -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(4844);
    let mut out = Vec::new();
    for _ in 0..3 {
        out.push((0..4096).flat_map(|_| random_element(&mut rng)).collect());
    }
    let mut one = [0u8; 32];
    one[31] = 1;
    let r_minus_1 = r_minus_one();
    out.push(vec![0u8; BYTES_PER_BLOB]);
    out.push(one.repeat(4096));
    out.push(r_minus_1.repeat(4096));
    let mixed: Vec<u8> = (0..4096)
        .flat_map(|i| match i % 4 {
            0 => [0u8; 32],
            1 => one,
            2 => r_minus_1,
            _ => random_element(&mut rng),
        })
        .collect();
    out.push(mixed);
    out
}

fn ckzg() -> &'static c_kzg::KzgSettings {
    c_kzg::ethereum_kzg_settings(0)
}

#[test]
fn eip4844_matches_c_kzg() {
    let ctx = KzgContext::ethereum();
    let mut rng = StdRng::seed_from_u64(1);
    for blob in blobs() {
        let cblob = c_kzg::Blob::from_bytes(&blob).unwrap();
        let commitment = ctx.blob_to_kzg_commitment(&blob).unwrap();
        let c_commitment = ckzg().blob_to_kzg_commitment(&cblob).unwrap();
        assert_eq!(commitment, c_commitment.to_bytes().into_inner());

        // z random, z in the domain (a root of unity), z = 0.
        let mut zs = vec![random_element(&mut rng), [0u8; 32]];
        let mut one = [0u8; 32];
        one[31] = 1; // 1 is the first root of unity
        zs.push(one);
        for z in zs {
            let (proof, y) = ctx.compute_kzg_proof(&blob, &z).unwrap();
            let (c_proof, c_y) = ckzg()
                .compute_kzg_proof(&cblob, &c_kzg::Bytes32::from_bytes(&z).unwrap())
                .unwrap();
            assert_eq!(proof, c_proof.to_bytes().into_inner());
            assert_eq!(y, *c_y);
            assert!(ctx.verify_kzg_proof(&commitment, &z, &y, &proof).unwrap());
        }

        let proof = ctx.compute_blob_kzg_proof(&blob, &commitment).unwrap();
        let c_proof = ckzg()
            .compute_blob_kzg_proof(&cblob, &c_commitment.to_bytes())
            .unwrap();
        assert_eq!(proof, c_proof.to_bytes().into_inner());
        assert!(ctx.verify_blob_kzg_proof(&blob, &commitment, &proof).unwrap());
        let cb = c_kzg::Bytes48::from_bytes(&proof).unwrap();
        assert!(
            ckzg()
                .verify_blob_kzg_proof(&cblob, &c_commitment.to_bytes(), &cb)
                .unwrap()
        );
    }
}

#[test]
fn batch_verification_agrees_with_c_kzg() {
    let ctx = KzgContext::ethereum();
    let blobs = blobs();
    let commitments: Vec<[u8; 48]> = blobs
        .iter()
        .map(|b| ctx.blob_to_kzg_commitment(b).unwrap())
        .collect();
    let mut proofs: Vec<[u8; 48]> = blobs
        .iter()
        .zip(&commitments)
        .map(|(b, c)| ctx.compute_blob_kzg_proof(b, c).unwrap())
        .collect();
    let cblobs: Vec<c_kzg::Blob> = blobs
        .iter()
        .map(|b| c_kzg::Blob::from_bytes(b).unwrap())
        .collect();
    let b48 = |v: &[[u8; 48]]| {
        v.iter()
            .map(|x| c_kzg::Bytes48::from_bytes(x).unwrap())
            .collect::<Vec<_>>()
    };
    assert!(
        ctx.verify_blob_kzg_proof_batch(&blobs, &commitments, &proofs)
            .unwrap()
    );
    assert!(
        ckzg()
            .verify_blob_kzg_proof_batch(&cblobs, &b48(&commitments), &b48(&proofs))
            .unwrap()
    );
    // Swap two proofs: both refuse.
    proofs.swap(0, 1);
    assert!(
        !ctx.verify_blob_kzg_proof_batch(&blobs, &commitments, &proofs)
            .unwrap()
    );
    assert!(
        !ckzg()
            .verify_blob_kzg_proof_batch(&cblobs, &b48(&commitments), &b48(&proofs))
            .unwrap()
    );
}

#[test]
fn eip7594_matches_c_kzg() {
    let ctx = KzgContext::ethereum();
    for blob in blobs().into_iter().take(5) {
        let cblob = c_kzg::Blob::from_bytes(&blob).unwrap();
        let commitment = ctx.blob_to_kzg_commitment(&blob).unwrap();
        let (cells, proofs) = ctx.compute_cells_and_kzg_proofs(&blob).unwrap();
        let (c_cells, c_proofs) = ckzg().compute_cells_and_kzg_proofs(&cblob).unwrap();
        for i in 0..128 {
            assert_eq!(cells[i], c_cells[i].to_bytes(), "cell {i}");
            assert_eq!(proofs[i], c_proofs[i].to_bytes().into_inner(), "proof {i}");
        }
        assert_eq!(ctx.compute_cells(&blob).unwrap(), cells);

        // Recover from an irregular half and check against the originals.
        let idx: Vec<u64> = (0..128u64).filter(|i| (i * 73 + 5) % 128 < 64).collect();
        let given: Vec<&[u8]> = idx.iter().map(|&i| &cells[i as usize][..]).collect();
        let (rc, rp) = ctx.recover_cells_and_kzg_proofs(&idx, &given).unwrap();
        assert_eq!(rc, cells);
        assert_eq!(rp, proofs);

        // Every cell verifies with c-kzg and with zg; a tampered one fails in both.
        let all: Vec<u64> = (0..128).collect();
        let commitments = vec![commitment; 128];
        assert!(
            ctx.verify_cell_kzg_proof_batch(&commitments, &all, &cells, &proofs)
                .unwrap()
        );
        let c_commitments = vec![c_kzg::Bytes48::from_bytes(&commitment).unwrap(); 128];
        let c_proof_bytes: Vec<c_kzg::Bytes48> = proofs
            .iter()
            .map(|p| c_kzg::Bytes48::from_bytes(p).unwrap())
            .collect();
        assert!(
            ckzg()
                .verify_cell_kzg_proof_batch(&c_commitments, &all, &c_cells[..], &c_proof_bytes)
                .unwrap()
        );
        let mut bad = cells.clone();
        bad[7][31] ^= 1;
        assert!(
            !ctx.verify_cell_kzg_proof_batch(&commitments, &all, &bad, &proofs)
                .unwrap()
        );

        // A proof on the curve outside G1 (x = 4), at any place of a batch the
        // subgroup checks share, is refused by both as the spec asks.
        let mut outside = [0u8; 48];
        outside[0] = 0x80;
        outside[47] = 4;
        for k in [0usize, 63, 127] {
            let mut p = proofs.clone();
            p[k] = outside;
            let got = ctx.verify_cell_kzg_proof_batch(&commitments, &all, &cells, &p);
            assert!(
                matches!(got, Err(KzgError::InvalidPoint { what: "proof", index, reason }) if index == k && reason.contains("subgroup")),
                "{got:?}"
            );
            let c_p: Vec<c_kzg::Bytes48> = p.iter().map(|x| c_kzg::Bytes48::from_bytes(x).unwrap()).collect();
            assert!(
                ckzg()
                    .verify_cell_kzg_proof_batch(&c_commitments, &all, &c_cells[..], &c_p)
                    .is_err()
            );
        }
        // The same cell and proof many times (equal points in one bucket) verify in both.
        let same = vec![7u64; 40];
        let (c7, p7) = (vec![cells[7]; 40], vec![proofs[7]; 40]);
        assert!(
            ctx.verify_cell_kzg_proof_batch(&commitments[..40], &same, &c7, &p7)
                .unwrap()
        );
        assert!(
            ckzg()
                .verify_cell_kzg_proof_batch(
                    &c_commitments[..40],
                    &same,
                    &vec![c_cells[7]; 40],
                    &vec![c_proof_bytes[7]; 40]
                )
                .unwrap()
        );
    }
}

#[test]
fn points_at_infinity_and_invalid_points() {
    let ctx = KzgContext::ethereum();
    let zero_blob = vec![0u8; BYTES_PER_BLOB];
    let infinity = {
        let mut p = [0u8; 48];
        p[0] = 0xc0;
        p
    };
    // The zero polynomial commits to the point at infinity, and so do its proofs.
    assert_eq!(ctx.blob_to_kzg_commitment(&zero_blob).unwrap(), infinity);
    assert_eq!(
        ctx.compute_blob_kzg_proof(&zero_blob, &infinity).unwrap(),
        infinity
    );
    assert!(
        ctx.verify_blob_kzg_proof(&zero_blob, &infinity, &infinity)
            .unwrap()
    );
    // Infinity with stray bits, the uncompressed flag, an x not on the curve.
    let mut stray = infinity;
    stray[47] = 1;
    let mut uncompressed = infinity;
    uncompressed[0] = 0x40;
    let mut off_curve = [0u8; 48];
    off_curve[0] = 0x80;
    off_curve[47] = 4;
    for bad in [stray, uncompressed, off_curve] {
        assert!(ctx.verify_blob_kzg_proof(&zero_blob, &bad, &infinity).is_err());
        let c = c_kzg::Bytes48::from_bytes(&bad).unwrap();
        let ok = ckzg().verify_blob_kzg_proof(
            &c_kzg::Blob::from_bytes(&zero_blob).unwrap(),
            &c,
            &c_kzg::Bytes48::from_bytes(&infinity).unwrap(),
        );
        assert!(ok.is_err(), "c-kzg refuses it too");
    }
    // r itself is not a field element.
    let mut blob = vec![0u8; BYTES_PER_BLOB];
    blob[..32].copy_from_slice(&MODULUS);
    assert!(matches!(
        ctx.blob_to_kzg_commitment(&blob),
        Err(zg_kzg::KzgError::NonCanonicalField { index: 0, .. })
    ));
}

/// Every table setting gives c-kzg's bytes: the presets and odd shapes
/// (partial last blocks, a stride that splits the top digit, one-bit and
/// sixteen-bit blocks).
#[test]
fn every_table_setting_matches_c_kzg() {
    use zg_kzg::{BlockShape, Precompute};
    let odd = Precompute {
        blob_blocks: BlockShape::new(7, 100),
        cell_blocks: BlockShape::new(5, 37),
    };
    let tiny = Precompute {
        blob_blocks: BlockShape::new(16, 255),
        cell_blocks: BlockShape::new(1, 255),
    };
    let blobs = blobs();
    let expected: Vec<_> = blobs
        .iter()
        .map(|blob| {
            let cblob = c_kzg::Blob::from_bytes(blob).unwrap();
            let commitment = ckzg().blob_to_kzg_commitment(&cblob).unwrap();
            let proof = ckzg()
                .compute_blob_kzg_proof(&cblob, &commitment.to_bytes())
                .unwrap();
            let (cells, proofs) = ckzg().compute_cells_and_kzg_proofs(&cblob).unwrap();
            let cells: Vec<[u8; 2048]> = cells.iter().map(|c| c.to_bytes()).collect();
            let proofs: Vec<[u8; 48]> = proofs.iter().map(|p| p.to_bytes().into_inner()).collect();
            (
                commitment.to_bytes().into_inner(),
                proof.to_bytes().into_inner(),
                cells,
                proofs,
            )
        })
        .collect();
    for precompute in [
        Precompute::NONE,
        Precompute::DEFAULT,
        Precompute::LARGE,
        odd,
        tiny,
    ] {
        let ctx = KzgContext::ethereum_with(precompute);
        for (blob, (commitment, proof, cells, cell_proofs)) in blobs.iter().zip(&expected) {
            assert_eq!(
                ctx.blob_to_kzg_commitment(blob).unwrap(),
                *commitment,
                "{precompute:?}"
            );
            assert_eq!(
                ctx.compute_blob_kzg_proof(blob, commitment).unwrap(),
                *proof,
                "{precompute:?}"
            );
            assert_eq!(
                ctx.compute_cells_and_kzg_proofs(blob).unwrap().1,
                *cell_proofs,
                "{precompute:?}"
            );
            // Cell verification's interpolation MSM runs on the same tables.
            let commitments = vec![*commitment; 128];
            let all: Vec<u64> = (0..128).collect();
            assert!(
                ctx.verify_cell_kzg_proof_batch(&commitments, &all, cells, cell_proofs)
                    .unwrap()
            );
            // Another canonical value for one element: 0 becomes 1, anything else 0.
            let mut bad = cells.clone();
            let element = &mut bad[3][..32];
            let was_zero = element.iter().all(|&b| b == 0);
            element.fill(0);
            element[31] = u8::from(was_zero);
            assert!(
                !ctx.verify_cell_kzg_proof_batch(&commitments, &all, &bad, cell_proofs)
                    .unwrap()
            );
        }
        // Every blob at once (in lockstep): the same bytes in blob order.
        let commitments: Vec<[u8; 48]> = expected.iter().map(|e| e.0).collect();
        assert_eq!(
            ctx.blob_to_kzg_commitments(&blobs).unwrap(),
            commitments,
            "{precompute:?}"
        );
        let many = ctx.compute_cells_and_kzg_proofs_many(&blobs).unwrap();
        assert_eq!(many.len(), blobs.len());
        for ((cells, proofs), (_, _, want_cells, want_proofs)) in many.iter().zip(&expected) {
            assert_eq!(cells, want_cells, "{precompute:?}");
            assert_eq!(proofs, want_proofs, "{precompute:?}");
        }
    }
}

/// The bench's old proving path (feature `bench-legacy`) gives the same bytes.
#[cfg(feature = "bench-legacy")]
#[test]
fn the_benchs_old_path_gives_the_same_bytes() {
    let ctx = KzgContext::ethereum_with(zg_kzg::Precompute::DEFAULT);
    let blobs: Vec<Vec<u8>> = blobs().into_iter().take(4).collect();
    // One blob at a time, then the first three at once.
    let outputs = || {
        let single: Vec<_> = blobs
            .iter()
            .map(|blob| {
                (
                    ctx.blob_to_kzg_commitment(blob).unwrap(),
                    ctx.compute_cells_and_kzg_proofs(blob).unwrap(),
                )
            })
            .collect();
        let many = (
            ctx.blob_to_kzg_commitments(&blobs[..3]).unwrap(),
            ctx.compute_cells_and_kzg_proofs_many(&blobs[..3]).unwrap(),
        );
        (single, many)
    };
    let new = outputs();
    zg_kzg::set_bench_legacy(true);
    let old = outputs();
    zg_kzg::set_bench_legacy(false);
    assert_eq!(new, old);
}
