//! Flow tree against a naive leaf-array model of 0G's Flow contract.

use rand::{Rng, RngCore, SeedableRng, rngs::StdRng};
use zg_merkle::flow::{FlowFrontier, FlowTree, verify_node};
use zg_merkle::keccak_tree::{KeccakProof, KeccakTree, hash_pair, keccak256, zero_hash};
use zg_merkle::{Hash, MerkleError};

fn h(hex_str: &str) -> Hash {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

/// Values from 0G's FlowTreeLib.zeros().
#[test]
fn zero_hashes_match_0g_contract() {
    assert_eq!(
        zero_hash(0),
        h("d397b3b043d87fcd6fad1291ff0bfd16401c274896d8c63a923727f077b8e0b5")
    );
    assert_eq!(
        zero_hash(1),
        h("f73e6947d7d1628b9976a6e40d7b278a8a16405e96324a68df45b12a51b7cfde")
    );
    assert_eq!(
        zero_hash(10),
        h("e68d02859bb6211cec64f52368b77d422de3b8eac34bf615942b814b643301b5")
    );
    assert_eq!(
        zero_hash(63),
        h("b48a92d40b61dc995ceecee4cded6415050dcece448b1e0b5e5b6a0e6981f3ef")
    );
}

/// All sector leaves of a file after 0G padding.
fn file_leaves(file: &[u8]) -> Vec<Hash> {
    let tree = KeccakTree::from_data(file);
    (0..tree.padded_sectors() as usize)
        .map(|i| {
            let mut s = [0u8; 256];
            let lo = (i * 256).min(file.len());
            let hi = ((i + 1) * 256).min(file.len());
            s[..hi - lo].copy_from_slice(&file[lo..hi]);
            keccak256(&s)
        })
        .collect()
}

fn complete_root(leaves: &[Hash]) -> Hash {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let half = leaves.len() / 2;
    hash_pair(&complete_root(&leaves[..half]), &complete_root(&leaves[half..]))
}

/// The flow as a plain array of sector leaves, following the contract's rules.
struct NaiveFlow(Vec<Hash>);

impl NaiveFlow {
    fn align(len: usize, h: u32) -> usize {
        len.div_ceil(1 << h) << h
    }
    fn append(&mut self, heights: &[u32], leaves: &[Hash]) {
        let size: usize = heights.iter().map(|h| 1usize << h).sum();
        let mut at = Self::align(self.0.len(), heights[0]);
        if !at.is_multiple_of(1024) && at / 1024 != (at + size - 1) / 1024 {
            at += 1024 - at % 1024;
        }
        self.0.resize(at, zero_hash(0));
        let mut off = 0;
        for &hgt in heights {
            let at = Self::align(self.0.len(), hgt);
            self.0.resize(at, zero_hash(0));
            self.0.extend_from_slice(&leaves[off..off + (1 << hgt)]);
            off += 1 << hgt;
        }
    }
    fn root(&self) -> Hash {
        let mut leaves = self.0.clone();
        leaves.resize(leaves.len().next_power_of_two().max(1), zero_hash(0));
        complete_root(&leaves)
    }
}

/// A file of random bytes, 1 byte to 600 KB (most sizes give several submission nodes).
fn random_file(rng: &mut StdRng) -> Vec<u8> {
    let len = match rng.random_range(0..4) {
        0 => rng.random_range(1..300),
        1 => rng.random_range(300..5000),
        2 => rng.random_range(5000..70_000),
        _ => rng.random_range(200_000..600_000),
    };
    let mut file = vec![0u8; len];
    rng.fill_bytes(&mut file);
    file
}

#[test]
fn flow_matches_naive_model_and_proves_against_past_roots() {
    let mut rng = StdRng::seed_from_u64(42);
    let mut flow = FlowTree::with_identifier(keccak256(b"flow identifier"));
    let mut naive = NaiveFlow(vec![keccak256(b"flow identifier")]);
    assert_eq!(flow.root(), naive.root());
    let mut history = Vec::new();
    for _ in 0..40 {
        let file = random_file(&mut rng);
        let tree = KeccakTree::from_data(&file);
        let nodes = tree.submission_nodes();
        let record = flow.append_submission(nodes).unwrap();
        let heights: Vec<u32> = nodes.iter().map(|n| n.height).collect();
        naive.append(&heights, &file_leaves(&file));
        assert_eq!(record.end, naive.0.len() as u64);
        assert_eq!(record.root, naive.root(), "after a file of {} bytes", file.len());
        history.push((record, nodes.to_vec()));
    }
    // Every node of every submission proves against the root right after it and the latest root.
    let now = flow.len();
    let root_now = flow.root();
    for (record, nodes) in &history {
        let mut at = record.start;
        for node in nodes {
            at = at.div_ceil(1 << node.height) << node.height;
            for (length, root) in [(record.end, record.root), (now, root_now)] {
                let proof = flow.prove_node(node.height, at, length).unwrap();
                assert!(verify_node(&proof, &root, &node.root, node.height, at, length).unwrap());
                assert!(!verify_node(&proof, &root, &keccak256(b"x"), node.height, at, length).unwrap());
            }
            at += 1 << node.height;
        }
        assert_eq!(flow.root_at(record.end).unwrap(), record.root);
    }
}

/// The contract's frontier (length and one node per height) places every submission
/// where the full tree does and has the same root after each, also when rebuilt
/// from its stored parts, for files from 1 byte to 600 KB and nodes of single sectors.
#[test]
fn frontier_agrees_with_the_full_flow() {
    let mut rng = StdRng::seed_from_u64(7);
    let id = keccak256(b"flow identifier");
    let mut flow = FlowTree::with_identifier(id);
    let mut frontier = FlowFrontier::with_identifier(id);
    assert_eq!(frontier.root(), flow.root());
    for round in 0..200 {
        let file = random_file(&mut rng);
        let nodes = KeccakTree::from_data(&file).submission_nodes().to_vec();
        let expected = flow.append_submission(&nodes).unwrap();
        assert_eq!(
            frontier.append_submission(&nodes).unwrap(),
            expected,
            "round {round}"
        );
        assert_eq!(frontier.len(), flow.len());
        let mut parts = [[0u8; 32]; 64];
        for (h, node) in parts.iter_mut().enumerate() {
            *node = frontier.node(h as u32).unwrap_or_default();
        }
        assert_eq!(frontier.node(64), None);
        assert_eq!(
            FlowFrontier::from_parts(frontier.len(), parts).root(),
            expected.root
        );
    }
}

#[test]
fn siblings_past_the_end_must_be_zero() {
    let mut flow = FlowTree::new();
    flow.insert_node(keccak256(b"first"), 2).unwrap(); // sectors 0..4
    let node = keccak256(b"second");
    flow.insert_node(node, 0).unwrap(); // sector 4; the tree is now 8 wide
    let len = flow.len();
    assert_eq!(len, 5);
    let proof = flow.prove_node(0, 4, len).unwrap();
    assert!(verify_node(&proof, &flow.root(), &node, 0, 4, len).unwrap());
    // lemma = [node, sector 5 (past the end), sectors 6..8 (past the end), sectors 0..4, root]
    let mut lemma = proof.lemma().to_vec();
    assert_eq!(lemma[1], zero_hash(0));
    assert_eq!(lemma[2], zero_hash(1));
    // Forge data past the end and a root to match: a plain leaf check accepts it,
    // the flow check refuses it.
    lemma[1] = keccak256(b"forged");
    let l1 = hash_pair(&node, &lemma[1]);
    let l2 = hash_pair(&l1, &lemma[2]);
    lemma[4] = hash_pair(&lemma[3], &l2);
    let forged_root = lemma[4];
    let forged = KeccakProof::from_parts(lemma, proof.path().to_vec()).unwrap();
    assert!(forged.verify_leaf(&forged_root, &node, 4, 8).unwrap());
    assert!(!verify_node(&forged, &forged_root, &node, 0, 4, len).unwrap());
}

#[test]
fn bad_input_gives_typed_errors() {
    let mut flow = FlowTree::new();
    assert!(flow.append_submission(&[]).is_err());
    let n = |h: u32| zg_merkle::keccak_tree::SubmissionNode {
        root: [1; 32],
        height: h,
    };
    assert!(matches!(
        flow.append_submission(&[n(2), n(3)]),
        Err(MerkleError::Flow(_))
    ));
    assert!(matches!(flow.insert_node([0; 32], 63), Err(MerkleError::Flow(_))));
    flow.append_submission(&[n(4), n(1)]).unwrap();
    assert_eq!(flow.len(), 18);
    assert!(flow.prove_node(4, 3, 18).is_err(), "unaligned");
    assert!(flow.prove_node(4, 0, 100).is_err(), "past the end");
    assert!(flow.prove_node(1, 0, 18).is_err(), "inside a submission node");
    assert!(flow.root_at(17).is_err(), "not a boundary");
    assert!(flow.root_at(19).is_err());
}
