//! Storage replication messages (and followed Flow entries, shard records and shard
//! settings) on arbitrary bytes: file announcements, requests and
//! responses parse to an error or to a value that encodes back to the same bytes;
//! segments in a parsed response go through proof parsing and verification against a
//! real file's root, which must never accept them unless they are that file's bytes;
//! a response decodes the same from a shared frame; and checking a segment's node
//! gives the same answer as checking its bytes.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zg_file::flow::FlowEntry;
use zg_file::replica::{FileEntry, FileRequest, FileResponse};
use zg_file::shard::{Shard, ShardMeta};
use zg_merkle::{FileHasher, FileTree, RootKind, SegmentProof, segment_node};

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
    // A sharded file's record as the store keeps it, and a shard setting as typed.
    if which == 0xfe {
        if let Ok(m) = ShardMeta::decode(&[7; 32], bytes) {
            assert_eq!(m.encode(), bytes);
            assert!(m.shard.count().is_power_of_two() && m.shard.id() < m.shard.count());
            let held = m
                .shard
                .indices(m.position, m.segment_count().min(1 << 16))
                .count() as u64;
            assert_eq!(
                held,
                m.shard.held_count(m.position, m.segment_count().min(1 << 16))
            );
        }
        if let Ok(Ok(s)) = std::str::from_utf8(bytes).map(str::parse::<Shard>) {
            assert_eq!(s.to_string().parse::<Shard>(), Ok(s));
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
            // The node decodes a peer's frame shared (segments sliced, not copied): the same answer.
            decoded if decoded != FileResponse::decode_shared(&bytes::Bytes::copy_from_slice(bytes)) => {
                panic!("decode and decode_shared disagree");
            }
            Ok(FileResponse::Refused(_)) | Err(_) => {}
            Ok(FileResponse::Segments(segs)) => {
                assert_eq!(FileResponse::Segments(segs.clone()).encode(), bytes);
                let (file, tree) = fixture();
                for (index, s) in (0u64..).zip(segs) {
                    let Ok(proof) = SegmentProof::from_bytes(&s.proof) else {
                        continue;
                    };
                    let verified = proof.verify(&tree.root(), tree.file_len(), index, &s.data);
                    if let Ok(true) = verified {
                        let start = index as usize * zg_merkle::SEGMENT_SIZE;
                        assert_eq!(
                            &file[start..start + s.data.len()],
                            &s.data[..],
                            "a forged segment verified"
                        );
                    }
                    // A node checks the segment's node instead of its bytes: the same answer.
                    let node = segment_node(proof.kind(), tree.file_len(), index, &s.data);
                    if let Ok(node) = node {
                        let by_node = proof.verify_node(&tree.root(), tree.file_len(), index, &node);
                        assert_eq!(by_node.unwrap_or(false), verified.unwrap_or(false));
                    }
                }
            }
            Ok(r) => assert_eq!(r.encode(), bytes),
        },
    }
});
