//! Malformed input gets a typed error naming what was wrong; the setup
//! loaders check what they read.

use ark_bls12_381::Fr;
use ark_ff::{BigInt, BigInteger, FftField, Field, PrimeField};
use zg_kzg::{BYTES_PER_BLOB, BYTES_PER_CELL, KzgContext, KzgError, TrustedSetup};

fn setup_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/trusted_setup.txt"
    ))
    .unwrap()
}

#[test]
fn embedded_setup_equals_the_checked_text_file() {
    let from_text = TrustedSetup::from_text(&setup_text()).unwrap();
    assert_eq!(TrustedSetup::ethereum(), from_text);
    assert_eq!(
        include_bytes!("../src/trusted_setup.bin").as_slice(),
        from_text.to_embedded_bytes().as_slice()
    );
    assert_eq!(
        include_bytes!("../src/fk20_rows.bin").as_slice(),
        from_text.fk20_rows_bytes().as_slice()
    );
}

/// The specs' roots of unity are powers of 7; ark's radix-2 roots must be the same.
#[test]
fn roots_of_unity_match_the_spec() {
    let mut exp: BigInt<4> = Fr::MODULUS;
    exp.sub_with_borrow(&BigInt::from(1u64));
    let exp = exp >> 12; // (r - 1) / 4096
    assert_eq!(Fr::get_root_of_unity(4096), Some(Fr::from(7u64).pow(exp)));
}

#[test]
fn setup_files_are_checked() {
    let text = setup_text();
    let mut tokens: Vec<&str> = text.split_whitespace().collect();
    let bad = |t: &[&str]| TrustedSetup::from_text(&t.join("\n"));
    assert!(
        matches!(bad(&tokens[..100]), Err(KzgError::Setup(_))),
        "truncated"
    );
    let mut wrong_count = tokens.clone();
    wrong_count[0] = "4095";
    assert!(matches!(bad(&wrong_count), Err(KzgError::Setup(_))));
    let mut swapped = tokens.clone();
    swapped.swap(2, 3);
    assert!(
        matches!(bad(&swapped), Err(KzgError::Setup(_))),
        "lagrange points out of order"
    );
    let mut not_hex = tokens.clone();
    not_hex[5] = "zz";
    assert!(bad(&not_hex).is_err());
    tokens.push("00");
    assert!(matches!(bad(&tokens), Err(KzgError::Setup(_))), "trailing data");
    assert!(matches!(
        KzgContext::from_trusted_setup_file("/nonexistent/setup.txt", zg_kzg::Precompute::NONE),
        Err(KzgError::Setup(_))
    ));
}

#[test]
fn wrong_lengths_and_non_canonical_elements() {
    let ctx = KzgContext::ethereum();
    let blob = vec![0u8; BYTES_PER_BLOB];
    let c = ctx.blob_to_kzg_commitment(&blob).unwrap();
    assert!(matches!(
        ctx.blob_to_kzg_commitment(&blob[1..]),
        Err(KzgError::WrongLength { what: "blob", .. })
    ));
    assert!(matches!(
        ctx.verify_kzg_proof(&c[..47], &[0; 32], &[0; 32], &c),
        Err(KzgError::WrongLength {
            what: "commitment",
            ..
        })
    ));
    assert!(matches!(
        ctx.compute_kzg_proof(&blob, &[0xff; 32]),
        Err(KzgError::NonCanonicalField { what: "z", .. })
    ));
    assert!(matches!(
        ctx.verify_kzg_proof(&c, &[0; 32], &[0xff; 32], &c),
        Err(KzgError::NonCanonicalField { what: "y", .. })
    ));
    let mut bad_blob = blob.clone();
    bad_blob[32 * 7..32 * 8].fill(0xff);
    assert!(matches!(
        ctx.verify_blob_kzg_proof_batch(&[&blob[..]], &[c, c], &[c]),
        Err(KzgError::LengthMismatch { .. })
    ));
    // Alone, and among several blobs (failing the whole call), with its own error.
    let several = [&blob[..], &bad_blob[..], &blob[..]];
    for err in [
        ctx.compute_cells(&bad_blob).err(),
        ctx.compute_cells_and_kzg_proofs_many(&several).err(),
        ctx.blob_to_kzg_commitments(&several).err(),
    ] {
        assert!(
            matches!(
                err,
                Some(KzgError::NonCanonicalField {
                    what: "blob",
                    index: 7
                })
            ),
            "{err:?}"
        );
    }
    assert!(matches!(
        ctx.blob_to_kzg_commitments(&[&blob[..], &blob[1..]]),
        Err(KzgError::WrongLength { what: "blob", .. })
    ));
    assert_eq!(
        ctx.compute_cells_and_kzg_proofs_many::<&[u8]>(&[]).unwrap(),
        vec![]
    );
    assert_eq!(
        ctx.blob_to_kzg_commitments::<&[u8]>(&[]).unwrap(),
        Vec::<[u8; 48]>::new()
    );
}

#[test]
fn cell_errors() {
    let ctx = KzgContext::ethereum();
    let blob: Vec<u8> = (0..4096u32)
        .flat_map(|i| {
            let mut e = [0u8; 32];
            e[28..].copy_from_slice(&(i * i + 7).to_be_bytes());
            e
        })
        .collect();
    let c = ctx.blob_to_kzg_commitment(&blob).unwrap();
    let (cells, proofs) = ctx.compute_cells_and_kzg_proofs(&blob).unwrap();
    let half: Vec<u64> = (0..64).collect();
    let half_cells: Vec<&[u8]> = cells[..64].iter().map(|c| &c[..]).collect();
    // Recovery: too few, out of order, duplicated, out of range, short cells.
    assert!(matches!(
        ctx.recover_cells_and_kzg_proofs(&half[..63], &half_cells[..63]),
        Err(KzgError::CellCount { got: 63, .. })
    ));
    let mut shuffled = half.clone();
    shuffled.swap(3, 4);
    assert!(matches!(
        ctx.recover_cells_and_kzg_proofs(&shuffled, &half_cells),
        Err(KzgError::CellIndicesNotAscending { .. })
    ));
    let mut dup = half.clone();
    dup[4] = 3;
    assert!(matches!(
        ctx.recover_cells_and_kzg_proofs(&dup, &half_cells),
        Err(KzgError::CellIndicesNotAscending {
            previous: 3,
            index: 3
        })
    ));
    let mut far = half.clone();
    far[63] = 128;
    assert!(matches!(
        ctx.recover_cells_and_kzg_proofs(&far, &half_cells),
        Err(KzgError::CellIndexOutOfRange { index: 128, .. })
    ));
    let mut short = half_cells.clone();
    short[0] = &cells[0][..BYTES_PER_CELL - 1];
    assert!(matches!(
        ctx.recover_cells_and_kzg_proofs(&half, &short),
        Err(KzgError::WrongLength { what: "cell", .. })
    ));
    assert!(matches!(
        ctx.recover_cells_and_kzg_proofs(&half, &half_cells[..10]),
        Err(KzgError::LengthMismatch { .. })
    ));
    // More than half, one cell altered: not one blob.
    let mut many: Vec<Vec<u8>> = cells[..70].iter().map(|c| c.to_vec()).collect();
    many[69][31] ^= 1;
    let idx: Vec<u64> = (0..70).collect();
    assert!(matches!(
        ctx.recover_cells_and_kzg_proofs(&idx, &many),
        Err(KzgError::InconsistentCells)
    ));
    // Verification: bad index, mismatched lengths, an invalid proof point.
    assert!(matches!(
        ctx.verify_cell_kzg_proof_batch(&[c], &[128], &[cells[0]], &[proofs[0]]),
        Err(KzgError::CellIndexOutOfRange { .. })
    ));
    assert!(matches!(
        ctx.verify_cell_kzg_proof_batch(&[c, c], &[0], &[cells[0]], &[proofs[0]]),
        Err(KzgError::LengthMismatch { .. })
    ));
    let mut bad_proof = proofs[0];
    bad_proof[10] ^= 0x55;
    assert!(matches!(
        ctx.verify_cell_kzg_proof_batch(&[c], &[0], &[cells[0]], &[bad_proof]),
        Err(KzgError::InvalidPoint { what: "proof", .. }) | Ok(false)
    ));
    // A valid proof for another cell is a false, not an error.
    assert!(
        !ctx.verify_cell_kzg_proof_batch(&[c], &[1], &[cells[0]], &[proofs[0]])
            .unwrap()
    );
    let empty: [[u8; 48]; 0] = [];
    let no_cells: [[u8; BYTES_PER_CELL]; 0] = [];
    assert!(
        ctx.verify_cell_kzg_proof_batch(&empty, &[], &no_cells, &empty)
            .unwrap()
    );
}

#[test]
fn precompute_settings_give_the_same_results() {
    let plain = KzgContext::ethereum_with(zg_kzg::Precompute::NONE);
    let ctx = KzgContext::ethereum();
    assert_eq!(plain.precompute_bytes(), 0);
    assert!(ctx.precompute_bytes() > 1 << 20);
    let blob: Vec<u8> = (0..4096u32)
        .flat_map(|i| {
            let mut e = [0u8; 32];
            e[28..].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_be_bytes());
            e
        })
        .collect();
    assert_eq!(
        plain.blob_to_kzg_commitment(&blob).unwrap(),
        ctx.blob_to_kzg_commitment(&blob).unwrap()
    );
    assert_eq!(
        plain.compute_cells_and_kzg_proofs(&blob).unwrap(),
        ctx.compute_cells_and_kzg_proofs(&blob).unwrap()
    );
}
