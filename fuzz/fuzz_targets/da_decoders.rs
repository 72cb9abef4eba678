//! DA formats on arbitrary bytes: submission headers and blob records parse to a typed
//! error or to a value that encodes back to the same bytes; parsed cells go through
//! the KZG cell verifier against a real commitment; peer requests and responses and 0G
//! dispersal records parse or refuse; BN254 points as 0G DA's contracts carry them
//! (G1 in two words, G2 in four) decode only when canonical and on the curve (and, for
//! G2, in the subgroup), and then encode back to the same words. Never a panic, never
//! an acceptance of a forged cell or a point off the curve.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zg_blob::da::{DaRequest, DaResponse, SubmissionHeader, decode_blob_record, encode_blob_record};
use zg_blob::zerog::DispersalRecord;
use zg_blob::zerog_bls as bls;
use zg_blob::{self as blob, Submission};
use zg_kzg::KzgContext;

// One real submission.
fn fixture() -> &'static Submission {
    static F: OnceLock<Submission> = OnceLock::new();
    F.get_or_init(|| blob::encode(KzgContext::ethereum(), b"zg fuzz fixture").expect("encodes"))
}

fn word(bytes: &[u8], i: usize) -> [u8; 32] {
    bytes[32 * i..32 * (i + 1)].try_into().expect("32 bytes")
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    // 0G disperser records a DA node keeps (the other formats keep their old selectors).
    if which == 255 {
        if let Ok(r) = DispersalRecord::decode(bytes) {
            // Version 2 has one encoding; version 1 reads back as the same record.
            if bytes[0] == 2 {
                assert_eq!(r.encode(), bytes);
            }
            assert_eq!(DispersalRecord::decode(&r.encode()), Ok(r));
        }
        return;
    }
    let sub = fixture();
    match which % 5 {
        0 => {
            if let Ok(h) = SubmissionHeader::decode(bytes) {
                assert_eq!(h.encode(), bytes);
                assert_eq!(h.id, blob::submission_id(&h.commitments));
            }
        }
        1 => {
            if let Ok(cells) = decode_blob_record(bytes) {
                assert_eq!(encode_blob_record(&cells), bytes);
                let commitment = &sub.blobs[0].commitment;
                if let Ok(ok) = blob::verify_cells(KzgContext::ethereum(), 0, commitment, &cells) {
                    // Accepted cells must be the real ones.
                    for c in ok {
                        assert_eq!(c.cell, sub.blobs[0].cells[c.index as usize]);
                    }
                }
            }
        }
        3 => {
            if let Ok(r) = DaRequest::decode(bytes) {
                assert_eq!(r.encode(), bytes);
            }
        }
        4 => {
            if let Ok(r) = DaResponse::decode(bytes) {
                // Refusal reasons are cut to 256 bytes and made UTF-8; the rest round-trips.
                if !matches!(r, DaResponse::Refused(_)) {
                    assert_eq!(r.encode(), bytes);
                }
            }
        }
        _ => {
            // BN254 points as DASigners and DAEntrance read them.
            if bytes.len() >= 64
                && let Some(p) = bls::g1_from_words(&word(bytes, 0), &word(bytes, 1))
            {
                assert!(p.is_on_curve());
                assert_eq!(bls::g1_words(&p), (word(bytes, 0), word(bytes, 1)));
            }
            if bytes.len() >= 128 {
                let w: [[u8; 32]; 4] = std::array::from_fn(|i| word(bytes, i));
                if let Some(p) = bls::g2_from_words(&w[0], &w[1], &w[2], &w[3]) {
                    assert!(p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve());
                    assert_eq!(bls::g2_words(&p), w);
                }
            }
        }
    }
});
