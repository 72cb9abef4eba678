//! 0G tree: known answers from ../shared/ZG-ROOT-VECTORS.md, a naive
//! top-down reference, proofs, padding checks and bad input.

use rand::{RngCore, SeedableRng, rngs::StdRng};
use zg_merkle::keccak_tree::{
    KeccakProof, KeccakTree, KeccakTreeBuilder, hash_pair, keccak256, padded_sector_count, root_over_leaves,
    submission_node_sizes,
};
use zg_merkle::{Hash, MerkleError, SEGMENT_SIZE};

fn h(hex_str: &str) -> Hash {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

fn pat(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn chunk_leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| keccak256(format!("chunk data - {i}").as_bytes()))
        .collect()
}

#[test]
fn known_leaf_trees() {
    let cases = [
        (
            chunk_leaves(5),
            "2dea03c693750777940bcd0cc3f5d93543c075fa3b9a07b9fd86ec8fbaf6a8b2",
        ),
        (
            chunk_leaves(6),
            "318c92000aefba6ebf570a8a6daa57aa643f04350ffbe583999ddd9e24ceb147",
        ),
        (
            chunk_leaves(7),
            "ca80116fb7fb8d6ef4a47e322f22e94ae8beb03e6fcbf8ab59c4d6f54fe42c4d",
        ),
        (
            vec![keccak256(&[0; 256]); 6],
            "567c47a879794dd489a210dec17d31cc5919bc427d138d716a8107e025e2dbcb",
        ),
        (
            vec![keccak256(&[0; 256]); 7],
            "294253ab31cbf90dbbbef755a75ff1601da790e35c365f530e7c1a1ca904dcf8",
        ),
    ];
    for (leaves, root) in cases {
        assert_eq!(
            root_over_leaves(&leaves).unwrap(),
            h(root),
            "{} leaves",
            leaves.len()
        );
    }
    assert_eq!(
        keccak256(&[0; 256]),
        h("d397b3b043d87fcd6fad1291ff0bfd16401c274896d8c63a923727f077b8e0b5")
    );
}

#[test]
fn known_file_roots_and_submission_nodes() {
    let cases: [(Vec<u8>, &str, &[u64]); 9] = [
        (
            b"hello".to_vec(),
            "3c0a2457170aa849c8f7051e23d7874a362be798d95fbb333c901c6cf19dca5a",
            &[1],
        ),
        (
            pat(1),
            "d397b3b043d87fcd6fad1291ff0bfd16401c274896d8c63a923727f077b8e0b5",
            &[1],
        ),
        (
            pat(256),
            "e2a94a8afb5941b26a9be1be979c403e33559570b52961b48b3f7d36237fecc8",
            &[1],
        ),
        (
            pat(257),
            "24b74d6cdc150cad90a1ba71ff747a7e0d377f676fc78dbcc9218d22dafa503b",
            &[2],
        ),
        (
            pat(4097),
            "b6c1b3198755cdcf3e030b73b31801aaea2ea41be49229e5e0b5eaa0be775ed8",
            &[16, 2],
        ),
        (
            pat(262144),
            "4d533607c0f4423a9287d761e7394aa61552adb7d6a080cdb278ddb65b2eacb7",
            &[1024],
        ),
        (
            pat(262145),
            "1458412a6ece9f4f9dc83ade0c68037378ef3e10fe484cea5d451cc10c9212d0",
            &[1024, 128],
        ),
        (
            pat(1048577),
            "3bdc4fe98b58589538649dc2bfa4675ab5d18d30908256443d6e86ad70da2756",
            &[4096, 512],
        ),
        (
            pat(3000000),
            "3368602342163c128496dcbf4065300f3ff60e1aa56c87bffd785c41af3e4bd3",
            &[8192, 4096],
        ),
    ];
    for (file, root, nodes) in cases {
        for tree in [KeccakTree::from_data(&file), KeccakTree::from_data_par(&file)] {
            assert_eq!(tree.root(), h(root), "file of {} bytes", file.len());
            let sizes: Vec<u64> = tree.submission_nodes().iter().map(|n| 1u64 << n.height).collect();
            assert_eq!(sizes, nodes, "file of {} bytes", file.len());
        }
        assert_eq!(submission_node_sizes(file.len() as u64), nodes);
    }
}

#[test]
fn padding_rule_and_split() {
    assert_eq!(padded_sector_count(18), 18);
    assert_eq!(submission_node_sizes(18 * 256), [16, 2]);
    assert_eq!(padded_sector_count(17), 18);
    assert_eq!(padded_sector_count(1025), 1152);
    assert_eq!(padded_sector_count(11719), 12288);
    for n in 1..5000u64 {
        let sizes = submission_node_sizes(n * 256);
        assert!(sizes.len() <= 4, "{n} sectors split into {sizes:?}");
        assert!(sizes.iter().sum::<u64>() >= n);
    }
}

/// 5, 6 and 7 sectors of 0..=255: the file tree is the tree over their leaves.
#[test]
fn repeated_full_sectors() {
    let sector: Vec<u8> = (0..=255).collect();
    for n in [5, 6, 7] {
        let file = sector.repeat(n);
        let leaves = vec![keccak256(&sector); n];
        assert_eq!(
            KeccakTree::from_data(&file).root(),
            root_over_leaves(&leaves).unwrap()
        );
    }
}

/// Independent top-down reference: split at next_pow2(n) / 2.
fn naive_root(leaves: &[Hash]) -> Hash {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let left = leaves.len().next_power_of_two() / 2;
    hash_pair(&naive_root(&leaves[..left]), &naive_root(&leaves[left..]))
}

fn naive_file_root(file: &[u8]) -> Hash {
    let sectors = file.len().div_ceil(256).max(1);
    let padded = padded_sector_count(sectors as u64) as usize;
    let mut leaves: Vec<Hash> = (0..padded)
        .map(|i| {
            let mut s = [0u8; 256];
            let lo = (i * 256).min(file.len());
            let hi = ((i + 1) * 256).min(file.len());
            s[..hi - lo].copy_from_slice(&file[lo..hi]);
            keccak256(&s)
        })
        .collect();
    let segment_roots: Vec<Hash> = leaves.chunks_mut(1024).map(|c| naive_root(c)).collect();
    naive_root(&segment_roots)
}

fn random(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

const SIZES: &[usize] = &[
    0,
    1,
    255,
    256,
    257,
    4096,
    4097,
    SEGMENT_SIZE - 1,
    SEGMENT_SIZE,
    SEGMENT_SIZE + 1,
    3 * SEGMENT_SIZE + 77,
    16385 * 256, // a zero-only padding segment at the end
    17 * SEGMENT_SIZE + 1,
];

#[test]
fn matches_naive_reference_and_incremental() {
    for &len in SIZES {
        let file = random(len, len as u64);
        let tree = KeccakTree::from_data(&file);
        assert_eq!(tree.root(), naive_file_root(&file), "len {len}");
        let mut b = KeccakTreeBuilder::new().parallel(true);
        for piece in file.chunks(70_001) {
            b.update(piece);
        }
        assert_eq!(b.finalize(), tree, "len {len}");
    }
}

fn segment(d: &[u8], i: u64) -> &[u8] {
    let lo = (i as usize * SEGMENT_SIZE).min(d.len());
    let hi = ((i as usize + 1) * SEGMENT_SIZE).min(d.len());
    &d[lo..hi]
}

#[test]
fn segment_proofs_verify_and_bit_flips_fail() {
    for &len in SIZES {
        let file = random(len, 3 + len as u64);
        let tree = KeccakTree::from_data(&file);
        let root = tree.root();
        for i in 0..tree.segment_count() {
            let proof = tree.prove_segment(i).unwrap();
            let seg = segment(&file, i);
            assert!(
                proof.verify_segment(&root, len as u64, i, seg).unwrap(),
                "len {len} seg {i}"
            );
            let bytes = proof.to_bytes();
            assert_eq!(KeccakProof::from_bytes(&bytes).unwrap(), proof);
            // Every bit of the first and last proofs of three shapes (each check rehashes a segment).
            if ![4097, 3 * SEGMENT_SIZE + 77, 16385 * 256].contains(&len)
                || (i != 0 && i + 1 != tree.segment_count())
            {
                continue;
            }
            for bit in 0..bytes.len() * 8 {
                let mut b = bytes.clone();
                b[bit / 8] ^= 1 << (bit % 8);
                let ok =
                    KeccakProof::from_bytes(&b).and_then(|p| p.verify_segment(&root, len as u64, i, seg));
                assert!(
                    !matches!(ok, Ok(true)),
                    "len {len} seg {i}: bit {bit} flipped still verifies"
                );
            }
            if !seg.is_empty() {
                let mut s = seg.to_vec();
                s[seg.len() / 2] ^= 4;
                assert!(!proof.verify_segment(&root, len as u64, i, &s).unwrap());
            }
        }
    }
}

#[test]
fn padding_siblings_must_be_zero() {
    // 16385 sectors: 17 data segments, then one zero-only padding segment.
    let len = 16385 * 256;
    let file = random(len, 11);
    let tree = KeccakTree::from_data(&file);
    assert_eq!(tree.segment_roots().len(), 18);
    assert_eq!(tree.segment_count(), 17);
    // Forge a tree in which the padding segment holds data, and prove segment 16 in it.
    let mut roots = tree.segment_roots().to_vec();
    roots[17] = keccak256(b"not padding");
    let forged_root = naive_root(&roots);
    let forged = KeccakProof::build(&roots, 16).unwrap();
    assert!(forged.verify_leaf(&forged_root, &roots[16], 16, 18).unwrap());
    assert!(
        !forged
            .verify_segment(&forged_root, len as u64, 16, segment(&file, 16))
            .unwrap()
    );
}

#[test]
fn leaf_proofs_over_any_count() {
    for n in 1..40u64 {
        let leaves = chunk_leaves(n as usize);
        let root = naive_root(&leaves);
        for i in 0..n {
            let p = KeccakProof::build(&leaves, i).unwrap();
            assert!(p.verify_leaf(&root, &leaves[i as usize], i, n).unwrap());
            // The same proof claimed for any other position fails.
            for j in 0..n {
                if j != i {
                    assert!(!matches!(
                        p.verify_leaf(&root, &leaves[i as usize], j, n),
                        Ok(true)
                    ));
                }
            }
        }
    }
}

#[test]
fn bad_input_gives_typed_errors() {
    let file = random(3 * SEGMENT_SIZE, 2);
    let tree = KeccakTree::from_data(&file);
    let root = tree.root();
    assert!(matches!(
        tree.prove_segment(3),
        Err(MerkleError::IndexOutOfRange { index: 3, count: 3 })
    ));
    let proof = tree.prove_segment(0).unwrap();
    let bytes = proof.to_bytes();
    for cut in 0..bytes.len() {
        assert!(KeccakProof::from_bytes(&bytes[..cut]).is_err());
    }
    let mut flag = bytes;
    let last = flag.len() - 1;
    flag[last] = 2;
    assert!(matches!(
        KeccakProof::from_bytes(&flag),
        Err(MerkleError::BadPathFlag { value: 2, .. })
    ));
    let mut huge = vec![b'Z'];
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        KeccakProof::from_bytes(&huge),
        Err(MerkleError::CountTooLarge { .. })
    ));
    assert!(matches!(
        KeccakProof::from_parts(vec![[0; 32]; 2], vec![true]),
        Err(MerkleError::WrongNodeCount { .. })
    ));
    assert!(matches!(
        KeccakProof::build(&[], 0),
        Err(MerkleError::IndexOutOfRange { .. })
    ));
    assert!(matches!(root_over_leaves(&[]), Err(MerkleError::NoLeaves)));
    assert!(matches!(
        proof.verify_segment(&root, file.len() as u64, 0, &file[..5]),
        Err(MerkleError::DataLength { .. })
    ));
    assert!(matches!(
        proof.verify_segment(&root, file.len() as u64, 9, &[]),
        Err(MerkleError::IndexOutOfRange { .. })
    ));
    // A length whose tree has another depth: the proof's shape is wrong.
    assert!(matches!(
        proof.verify_segment(&root, 9 * SEGMENT_SIZE as u64, 0, segment(&file, 0)),
        Err(MerkleError::WrongNodeCount { .. })
    ));
}

/// The root a follower of the Flow computes from a file's submission nodes is the
/// file's root, for one sector up to sizes with four nodes.
#[test]
fn the_submission_nodes_give_the_file_root() {
    for len in [
        1usize,
        255,
        256,
        257,
        4096,
        18 * 256,
        300_000,
        1 << 20,
        (5 << 20) + 17,
        7_000_001,
    ] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let tree = KeccakTree::from_data(&data);
        assert_eq!(
            zg_merkle::keccak_tree::root_of_submission(tree.submission_nodes()),
            Some(tree.root()),
            "{len} bytes, {} nodes",
            tree.submission_nodes().len()
        );
    }
    assert_eq!(zg_merkle::keccak_tree::root_of_submission(&[]), None);
}
