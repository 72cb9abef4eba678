//! Storage replication messages (and followed Flow entries) on arbitrary bytes: file announcements, requests and
//! responses parse to an error or to a value that encodes back to the same bytes;
//! segments in a parsed response go through proof parsing and verification against a
//! real file's root, which must never accept them unless they are that file's bytes.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zg_file::flow::FlowEntry;
use zg_file::replica::{FileEntry, FileRequest, FileResponse};
use zg_merkle::{FileHasher, FileTree, RootKind, SegmentProof};

// A real two-segment file (root and bytes) to verify fuzzed segments against.
fn fixture() -> &'static (Vec<u8>, FileTree) {
    static F: OnceLock<(Vec<u8>, FileTree)> = OnceLock::new();
    F.get_or_init(|| {
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let mut h = FileHasher::new(RootKind::Blake3);
        h.update(&bytes);
        (bytes, h.finalize())
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    // A followed Flow entry as the store keeps it.
    if which == 0xff {
        if let Ok(e) = FlowEntry::decode(bytes) {
            assert_eq!(e.encode(), bytes);
            assert!(e.nodes.len() <= 4);
        }
        return;
    }
    match which % 3 {
        0 => {
            if let Ok(e) = FileEntry::from_announcement(bytes) {
                assert_eq!(e.announcement(), bytes);
            }
        }
        1 => {
            if let Ok(r) = FileRequest::decode(bytes) {
                assert_eq!(r.encode(), bytes);
            }
        }
        _ => match FileResponse::decode(bytes) {
            Ok(FileResponse::Refused(_)) | Err(_) => {}
            Ok(FileResponse::Segments(segs)) => {
                assert_eq!(FileResponse::Segments(segs.clone()).encode(), bytes);
                let (file, tree) = fixture();
                for (index, s) in (0u64..).zip(segs) {
                    let Ok(proof) = SegmentProof::from_bytes(&s.proof) else { continue };
                    if let Ok(true) = proof.verify(&tree.root(), tree.file_len(), index, &s.data) {
                        let start = index as usize * zg_merkle::SEGMENT_SIZE;
                        assert_eq!(&file[start..start + s.data.len()], &s.data[..], "a forged segment verified");
                    }
                }
            }
            Ok(r) => assert_eq!(r.encode(), bytes),
        },
    }
});
