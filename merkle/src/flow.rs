//! The append-only flow: 0G's global log of submissions as one Merkle tree.
//!
//! Leaves are sectors. A submission node of height `h` is placed at the next
//! multiple of `2^h`; a submission that would straddle a segment boundary
//! from a non-aligned start moves to the next segment (0G's `FlowTreeLib.pad`).
//! The root at length `L` is the complete tree of height `ceil(log2 L)` with
//! every sector past `L` (and every gap) a zero sector, so missing right
//! siblings are zero-subtree hashes.

use std::collections::HashMap;

use crate::keccak_tree::{KeccakProof, SubmissionNode, hash_pair, zero_hash};
use crate::{Hash, MerkleError, Result, SECTORS_PER_SEGMENT};

const SPS: u64 = SECTORS_PER_SEGMENT as u64;
/// The flow holds at most 2^63 sectors.
const MAX_HEIGHT: u32 = 63;

/// Where a submission landed in the flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubmissionRecord {
    /// First sector of the submission's first node.
    pub start: u64,
    /// Flow length (sectors) after the submission.
    pub end: u64,
    /// Flow root after the submission.
    pub root: Hash,
}

/// Checks a submission's nodes and says where the flow must be zero-filled to before
/// they go in: the flow's length, or the next segment boundary when the submission
/// would straddle one from a non-aligned start (0G's `FlowTreeLib.pad`).
fn submission_pad(length: u64, nodes: &[SubmissionNode]) -> Result<u64> {
    let Some(first) = nodes.first() else {
        return Err(MerkleError::Flow("a submission needs at least one node"));
    };
    if nodes.windows(2).any(|w| w[1].height >= w[0].height) || first.height > MAX_HEIGHT - 1 {
        return Err(MerkleError::Flow(
            "submission node heights must strictly decrease",
        ));
    }
    let size: u64 = nodes.iter().map(|n| 1u64 << n.height).sum();
    let start = next_align(length, first.height);
    if !start.is_multiple_of(SPS) && start / SPS != (start + size - 1) / SPS {
        return Ok(start + SPS - start % SPS);
    }
    Ok(length)
}

/// The append-only flow tree with every complete node kept, so proofs can be
/// served against any past root.
#[derive(Clone, Debug, Default)]
pub struct FlowTree {
    length: u64,
    /// Complete nodes by (height, index at that height).
    nodes: HashMap<(u32, u64), Hash>,
}

fn ceil_log2(n: u64) -> u32 {
    if n <= 1 { 0 } else { 64 - (n - 1).leading_zeros() }
}

fn next_align(length: u64, height: u32) -> u64 {
    length.div_ceil(1 << height) << height
}

impl FlowTree {
    /// An empty flow.
    pub fn new() -> Self {
        Self::default()
    }

    /// A flow whose first sector is `identifier`, as 0G's contract starts it.
    pub fn with_identifier(identifier: Hash) -> Self {
        let mut flow = Self::new();
        flow.place(identifier, 0, 0);
        flow
    }

    /// Sectors in the flow, gaps included.
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether nothing was appended yet.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        // The current length is always a node boundary.
        self.root_at(self.length).unwrap_or_default()
    }

    /// The root when the flow was `length` sectors long; `length` must be a
    /// length the flow had after an append.
    pub fn root_at(&self, length: u64) -> Result<Hash> {
        if length > self.length {
            return Err(MerkleError::Flow("length is past the end of the flow"));
        }
        self.node_at(ceil_log2(length), 0, length)
            .ok_or(MerkleError::Flow("length is not a submission boundary"))
    }

    /// Value of node (height, index) as of flow length `length`.
    fn node_at(&self, height: u32, index: u64, length: u64) -> Option<Hash> {
        let start = index << height;
        if start >= length {
            return Some(zero_hash(height));
        }
        if start + (1 << height) <= length {
            return self.nodes.get(&(height, index)).copied();
        }
        let left = self.node_at(height - 1, 2 * index, length)?;
        let right = self.node_at(height - 1, 2 * index + 1, length)?;
        Some(hash_pair(&left, &right))
    }

    /// Appends one node of `2^height` sectors at the next aligned position;
    /// returns its first sector.
    pub fn insert_node(&mut self, root: Hash, height: u32) -> Result<u64> {
        Appender::insert_node(self, root, height)
    }

    /// Appends a file's submission nodes (largest first, as
    /// [`crate::keccak_tree::KeccakTree::submission_nodes`] gives them).
    pub fn append_submission(&mut self, nodes: &[SubmissionNode]) -> Result<SubmissionRecord> {
        Appender::append_submission(self, nodes)
    }

    /// A proof of the node of height `height` starting at sector `start`
    /// against the root the flow had at `length`.
    pub fn prove_node(&self, height: u32, start: u64, length: u64) -> Result<KeccakProof> {
        if height > MAX_HEIGHT
            || !start.is_multiple_of(1 << height)
            || start.saturating_add(1 << height) > length
        {
            return Err(MerkleError::Flow(
                "node is not an aligned node inside that flow length",
            ));
        }
        if length > self.length {
            return Err(MerkleError::Flow("length is past the end of the flow"));
        }
        let missing = MerkleError::Flow("node is not a boundary of that flow length");
        let top = ceil_log2(length);
        let mut lemma = vec![
            self.node_at(height, start >> height, length)
                .ok_or(missing.clone())?,
        ];
        let mut path = Vec::new();
        let mut index = start >> height;
        for h in height..top {
            lemma.push(self.node_at(h, index ^ 1, length).ok_or(missing.clone())?);
            path.push(index.is_multiple_of(2));
            index >>= 1;
        }
        if !path.is_empty() {
            lemma.push(self.root_at(length)?);
        }
        KeccakProof::from_parts(lemma, path)
    }
}

/// How both flows grow: complete nodes placed at aligned positions, gaps filled with
/// zero subtrees. Each flow says only how it keeps a placed node.
trait Appender {
    fn length(&self) -> u64;

    /// Keeps a complete node at `start` (aligned, at the current length).
    fn place(&mut self, root: Hash, height: u32, start: u64);

    /// Fills sectors up to `to` with zero subtrees.
    fn fill_zeros(&mut self, to: u64) {
        while self.length() < to {
            let at = self.length();
            let align = if at == 0 { MAX_HEIGHT } else { at.trailing_zeros() };
            let height = align.min(63 - (to - at).leading_zeros());
            self.place(zero_hash(height), height, at);
        }
    }

    fn insert_node(&mut self, root: Hash, height: u32) -> Result<u64> {
        if height > MAX_HEIGHT - 1 {
            return Err(MerkleError::Flow("node height exceeds the flow's capacity"));
        }
        let start = next_align(self.length(), height);
        if start
            .checked_add(1 << height)
            .is_none_or(|end| end > 1 << MAX_HEIGHT)
        {
            return Err(MerkleError::Flow("flow is full"));
        }
        self.fill_zeros(start);
        self.place(root, height, start);
        Ok(start)
    }

    fn append_submission(&mut self, nodes: &[SubmissionNode]) -> Result<SubmissionRecord> {
        let pad_to = submission_pad(self.length(), nodes)?;
        self.fill_zeros(pad_to);
        let mut first_start = None;
        for node in nodes {
            let at = self.insert_node(node.root, node.height)?;
            first_start.get_or_insert(at);
        }
        Ok(SubmissionRecord {
            start: first_start.unwrap_or_default(),
            end: self.length(),
            root: self.root(),
        })
    }

    fn root(&self) -> Hash;
}

impl Appender for FlowTree {
    fn length(&self) -> u64 {
        self.length
    }

    fn root(&self) -> Hash {
        FlowTree::root(self)
    }

    /// Stores the node and every parent it completes.
    fn place(&mut self, root: Hash, height: u32, start: u64) {
        let (mut h, mut i, mut hash) = (height, start >> height, root);
        loop {
            self.nodes.insert((h, i), hash);
            if i % 2 == 0 || h >= MAX_HEIGHT {
                break;
            }
            // Everything left of `start` is filled, so the left sibling is stored.
            let Some(left) = self.nodes.get(&(h, i - 1)) else {
                break;
            };
            hash = hash_pair(left, &hash);
            h += 1;
            i /= 2;
        }
        self.length = start + (1 << height);
    }
}

/// The flow as a contract keeps it: its length and one hash per height (the
/// complete node ending at the current length, where the length's bit at that
/// height is set), enough to append and to compute the root, but not to prove.
/// Appends land where [`FlowTree`]'s do, and roots agree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowFrontier {
    length: u64,
    /// `frontier[h]`: the complete node of height `h` ending where the nodes above it
    /// end; meaningful only when bit `h` of `length` is set.
    frontier: [Hash; MAX_HEIGHT as usize + 1],
}

impl FlowFrontier {
    /// A flow whose first sector is `identifier`, as 0G's contract starts it.
    pub fn with_identifier(identifier: Hash) -> Self {
        let mut frontier = [Hash::default(); MAX_HEIGHT as usize + 1];
        frontier[0] = identifier;
        Self { length: 1, frontier }
    }

    /// A frontier from its parts (as stored); `frontier[h]` is read where bit `h` of
    /// `length` is set.
    pub fn from_parts(length: u64, frontier: [Hash; MAX_HEIGHT as usize + 1]) -> Self {
        Self { length, frontier }
    }

    /// Sectors in the flow, gaps included.
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether nothing was appended yet.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The node of height `height` the frontier keeps: where bit `height` of the length is set.
    pub fn node(&self, height: u32) -> Option<Hash> {
        (height <= MAX_HEIGHT && self.length >> height & 1 == 1).then(|| self.frontier[height as usize])
    }

    /// The current root: the complete tree of height `ceil(log2 length)`, zero sectors past the end.
    pub fn root(&self) -> Hash {
        let top = ceil_log2(self.length);
        if self.length == 1 << top {
            return self.frontier[top as usize];
        }
        // The node holding the flow's end, bottom-up; `None` while it is all zeros.
        let mut partial: Option<Hash> = None;
        for h in 0..top {
            partial = if self.length >> h & 1 == 1 {
                Some(hash_pair(
                    &self.frontier[h as usize],
                    &partial.unwrap_or_else(|| zero_hash(h)),
                ))
            } else {
                partial.map(|p| hash_pair(&p, &zero_hash(h)))
            };
        }
        partial.unwrap_or_else(|| zero_hash(top))
    }

    /// Appends a file's submission nodes (largest first) as [`FlowTree::append_submission`] does.
    pub fn append_submission(&mut self, nodes: &[SubmissionNode]) -> Result<SubmissionRecord> {
        Appender::append_submission(self, nodes)
    }
}

impl Appender for FlowFrontier {
    fn length(&self) -> u64 {
        self.length
    }

    fn root(&self) -> Hash {
        FlowFrontier::root(self)
    }

    /// Folds the node into the frontier, merging the completed left siblings.
    fn place(&mut self, root: Hash, height: u32, start: u64) {
        let (mut h, mut index, mut hash) = (height, start >> height, root);
        while index % 2 == 1 && h < MAX_HEIGHT {
            hash = hash_pair(&self.frontier[h as usize], &hash);
            h += 1;
            index /= 2;
        }
        self.frontier[h as usize] = hash;
        self.length = start + (1 << height);
    }
}

/// Verifies a flow proof: `node` is the root of the `2^height` sectors at
/// `start` in the flow of `length` sectors with `root`. Siblings past the
/// flow's end must be zero-subtree hashes.
pub fn verify_node(
    proof: &KeccakProof,
    root: &Hash,
    node: &Hash,
    height: u32,
    start: u64,
    length: u64,
) -> Result<bool> {
    if height > MAX_HEIGHT || !start.is_multiple_of(1 << height) || start.saturating_add(1 << height) > length
    {
        return Err(MerkleError::Flow(
            "node is not an aligned node inside that flow length",
        ));
    }
    let top = ceil_log2(length);
    let leaves = 1u64 << (top - height);
    proof.verify_with(root, node, start >> height, leaves, |level, sibling, hash| {
        let h = height + level;
        (sibling << h) < length || *hash == zero_hash(h)
    })
}
