//! The kind-agnostic API: hashers, trees and proofs of both kinds.

use zg_merkle::{FileHasher, FileTree, MerkleError, RootKind, SEGMENT_SIZE, SegmentProof, file_root};

#[test]
fn both_kinds_hash_prove_and_verify() {
    let data: Vec<u8> = (0..(2 * SEGMENT_SIZE + 999))
        .map(|i| (i * 7 % 256) as u8)
        .collect();
    for kind in [RootKind::Blake3, RootKind::Keccak] {
        let tree = FileTree::from_data(kind, &data);
        assert_eq!(tree.kind(), kind);
        assert_eq!(tree.root(), file_root(kind, &data));
        let mut hasher = FileHasher::new(kind).parallel(true);
        assert_eq!(hasher.update_reader(&data[..]).unwrap(), data.len() as u64);
        assert_eq!(hasher.finalize(), tree);
        assert_eq!(tree.segment_count(), 3);
        for i in 0..3u64 {
            let seg = &data[i as usize * SEGMENT_SIZE..((i as usize + 1) * SEGMENT_SIZE).min(data.len())];
            let proof = SegmentProof::from_bytes(&tree.prove_segment(i).unwrap().to_bytes()).unwrap();
            assert_eq!(proof.kind(), kind);
            assert!(
                proof
                    .verify_kind(kind, &tree.root(), data.len() as u64, i, seg)
                    .unwrap()
            );
            let other = if kind == RootKind::Keccak {
                RootKind::Blake3
            } else {
                RootKind::Keccak
            };
            assert!(matches!(
                proof.verify_kind(other, &tree.root(), data.len() as u64, i, seg),
                Err(MerkleError::KindMismatch { .. })
            ));
        }
    }
    assert_eq!(
        file_root(RootKind::Blake3, &data),
        *blake3::hash(&data).as_bytes()
    );
}

#[test]
fn root_kind_names() {
    assert_eq!("blake3".parse::<RootKind>().unwrap(), RootKind::Blake3);
    assert_eq!("zg".parse::<RootKind>().unwrap(), RootKind::Keccak);
    assert_eq!(RootKind::Keccak.to_string(), "keccak");
    assert_eq!("keccak".parse::<RootKind>().unwrap(), RootKind::Keccak);
    assert!("sha256".parse::<RootKind>().is_err());
    assert!(SegmentProof::from_bytes(&[]).is_err());
}

#[test]
fn outboards_of_both_kinds_round_trip_and_reject_damage() {
    use zg_merkle::{FileTree, RootKind};
    for kind in [RootKind::Blake3, RootKind::Keccak] {
        for len in [
            0usize,
            1,
            256 * 1024 - 1,
            256 * 1024 + 1,
            5 * 256 * 1024 + 77,
            18 * 256,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            let tree = FileTree::from_data(kind, &data);
            let ob = tree.to_outboard();
            assert_eq!(FileTree::from_outboard(&ob).unwrap(), tree, "{kind} {len}");
            assert!(FileTree::from_outboard(&ob[..ob.len() - 1]).is_err());
            let mut longer = ob.clone();
            longer.push(0);
            assert!(FileTree::from_outboard(&longer).is_err());
            if tree.segment_count() > 1 {
                let mut bad = ob.clone();
                bad[1 + 8 + 32 + 4] ^= 1;
                assert!(FileTree::from_outboard(&bad).is_err(), "{kind} {len}");
            }
        }
    }
    assert!(FileTree::from_outboard(&[]).is_err());
}

/// Trees rebuilt from the segments' nodes (as a node checks each segment on arrival)
/// equal the trees hashed from the whole file, and the nodes verify against the
/// proofs exactly when the bytes do.
#[test]
fn trees_rebuild_from_segment_nodes_and_nodes_verify() {
    use zg_merkle::segment_node;
    let sectors = 256usize;
    for len in [
        0usize,
        1,
        sectors,
        SEGMENT_SIZE - 1,
        SEGMENT_SIZE,
        SEGMENT_SIZE + 1,
        // A last segment holding several small submission nodes.
        2 * SEGMENT_SIZE + 37 * sectors + 5,
        5 * SEGMENT_SIZE,
        9 * SEGMENT_SIZE + 1,
    ] {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        for kind in [RootKind::Blake3, RootKind::Keccak] {
            let tree = FileTree::from_data(kind, &data);
            let n = tree.segment_count();
            let seg = |i: u64| {
                &data[(i as usize * SEGMENT_SIZE).min(len)..((i as usize + 1) * SEGMENT_SIZE).min(len)]
            };
            let nodes: Vec<_> = (0..n)
                .map(|i| segment_node(kind, len as u64, i, seg(i)).unwrap())
                .collect();
            let rebuilt =
                FileTree::from_segment_nodes(kind, len as u64, nodes[..n as usize - 1].to_vec(), seg(n - 1))
                    .unwrap();
            assert_eq!(rebuilt, tree, "{kind} {len}");
            for i in 0..n {
                let proof = tree.prove_segment(i).unwrap();
                assert!(
                    proof
                        .verify_node(&tree.root(), len as u64, i, &nodes[i as usize])
                        .unwrap()
                );
                let mut wrong = nodes[i as usize];
                wrong[7] ^= 1;
                assert!(!proof.verify_node(&tree.root(), len as u64, i, &wrong).unwrap());
                if n > 1 {
                    // Another segment's node, at this index.
                    let other = nodes[((i + 1) % n) as usize];
                    assert!(!proof.verify_node(&tree.root(), len as u64, i, &other).unwrap());
                }
            }
            // Wrong shapes are errors, not trees.
            assert!(segment_node(kind, len as u64, n, &[]).is_err());
            assert!(FileTree::from_segment_nodes(kind, len as u64, nodes.clone(), seg(n - 1)).is_err());
            if len > 0 {
                assert!(
                    FileTree::from_segment_nodes(
                        kind,
                        len as u64,
                        nodes[..n as usize - 1].to_vec(),
                        &seg(n - 1)[1..]
                    )
                    .is_err()
                );
            }
        }
    }
}

/// Updates of whole segments after a first one (a download's blocks) are hashed from
/// the caller's slice once the buffered segments are handed out: the same trees as
/// one shot, whether a block ends the file or a short tail follows.
#[test]
fn whole_segment_blocks_hash_to_the_one_shot_tree() {
    for (blocks, tail) in [(1usize, 0usize), (3, 0), (3, 1), (2, SEGMENT_SIZE - 1), (5, 777)] {
        let block = 3 * SEGMENT_SIZE;
        let data: Vec<u8> = (0..blocks * block + tail)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for kind in [RootKind::Blake3, RootKind::Keccak] {
            for parallel in [false, true] {
                let mut hasher = FileHasher::new(kind).parallel(parallel);
                for piece in data.chunks(block) {
                    hasher.update(piece);
                }
                assert_eq!(
                    hasher.finalize(),
                    FileTree::from_data(kind, &data),
                    "{kind} {blocks} blocks + {tail}, parallel {parallel}"
                );
            }
        }
    }
}
