//! DA formats on arbitrary bytes: submission headers, blob records and certificates
//! parse to a typed error or to a value that encodes back to the same bytes; parsed
//! cells go through the KZG cell verifier against a real commitment, and parsed
//! certificates through the certificate check; peer requests and responses and 0G
//! dispersal records parse or refuse. Never a panic, never an acceptance of a forged cell or signature.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zg_blob::{self as blob, Submission};
use zg_blob::da::{
    Certificate, DaRequest, DaResponse, NodeKey, SubmissionHeader, decode_blob_record, encode_blob_record,
};
use zg_blob::zerog::DispersalRecord;
use zg_kzg::KzgContext;

// One real submission and a node set of two keys.
fn fixture() -> &'static (Submission, Vec<[u8; 32]>) {
    static F: OnceLock<(Submission, Vec<[u8; 32]>)> = OnceLock::new();
    F.get_or_init(|| {
        let sub = blob::encode(KzgContext::ethereum(), b"zg fuzz fixture").expect("encodes");
        let keys = [1u8, 2].map(|k| NodeKey::from_secret([k; 32]).node_id()).to_vec();
        (sub, keys)
    })
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
    let (sub, keys) = fixture();
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
            if let Ok(cert) = Certificate::decode(bytes) {
                assert_eq!(cert.encode(), bytes);
                let _ = cert.verify(keys, 1);
            }
        }
    }
});
