//! 0G-compatible file tree: Keccak-256 over 256-byte sectors.
//!
//! Rules (0G storage client and Flow contract): leaf = keccak256(sector,
//! zero-padded to 256 bytes); parent = keccak256(left || right); levels pair
//! left to right and an odd last node is promoted unchanged. The sector count
//! is padded with zero sectors (see [`padded_sector_count`]); segment roots
//! cover up to 1024 sectors and the file root is the tree over segment roots.
//! Proofs have 0G's shape: `lemma = [leaf, siblings bottom-up, root]` and
//! `path[i] = true` when the proven node is a left child.

use std::sync::OnceLock;

use rayon::prelude::*;
use sha3::{Digest, Keccak256};

use crate::keccak_lanes;
use crate::segments::SegmentFeeder;
use crate::{Hash, MerkleError, Result, SECTOR_SIZE, SECTORS_PER_SEGMENT, SEGMENT_SIZE};
use zg_codec::Reader;

/// Tag byte that starts an encoded [`KeccakProof`].
pub const PROOF_TAG: u8 = b'Z';
/// First byte of a serialized Keccak-tree outboard.
pub const OUTBOARD_TAG: u8 = b'P';
/// Tree depth is at most 64 levels, so a lemma holds at most 66 hashes.
const MAX_LEMMA: u64 = 66;
const SEG: u64 = SEGMENT_SIZE as u64;

/// Keccak-256 of `data`.
pub fn keccak256(data: &[u8]) -> Hash {
    Keccak256::digest(data).into()
}

/// Keccak-256 of `left || right`: the parent of two nodes.
pub fn hash_pair(left: &Hash, right: &Hash) -> Hash {
    let mut h = Keccak256::new();
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Leaf hash of one sector; a short sector is zero-padded to 256 bytes.
pub fn sector_leaf(sector: &[u8]) -> Hash {
    debug_assert!(sector.len() <= SECTOR_SIZE);
    if sector.len() == SECTOR_SIZE {
        return keccak256(sector);
    }
    let mut padded = [0u8; SECTOR_SIZE];
    padded[..sector.len()].copy_from_slice(sector);
    keccak256(&padded)
}

/// Root of a complete tree of `2^height` zero sectors (0G's `zeros(height)`).
pub fn zero_hash(height: u32) -> Hash {
    static ZEROS: OnceLock<Vec<Hash>> = OnceLock::new();
    let zeros = ZEROS.get_or_init(|| {
        let mut z = vec![keccak256(&[0u8; SECTOR_SIZE])];
        for i in 1..64 {
            z.push(hash_pair(&z[i - 1], &z[i - 1]));
        }
        z
    });
    zeros[height as usize]
}

/// Root of `count` zero-sector leaves under the promotion rule.
fn zero_tree_root(count: u64) -> Hash {
    debug_assert!(count >= 1);
    if count.is_power_of_two() {
        return zero_hash(count.trailing_zeros());
    }
    let left = count.next_power_of_two() / 2;
    hash_pair(&zero_hash(left.trailing_zeros()), &zero_tree_root(count - left))
}

/// Sectors of a file (an empty file counts as one zero sector).
pub fn sector_count(file_len: u64) -> u64 {
    file_len.div_ceil(SECTOR_SIZE as u64).max(1)
}

/// 0G's padding: to the next power of two if already one, else up to a
/// multiple of `p / 16` (`p` the next power of two; 1 when `p < 16`).
pub fn padded_sector_count(sectors: u64) -> u64 {
    let p = sectors.next_power_of_two();
    if p == sectors {
        return p;
    }
    let m = if p >= 16 { p / 16 } else { 1 };
    sectors.div_ceil(m) * m
}

/// Sizes in sectors of the submission nodes (at most four powers of two,
/// largest first) that 0G's Flow contract takes for a file.
pub fn submission_node_sizes(file_len: u64) -> Vec<u64> {
    let padded = padded_sector_count(sector_count(file_len));
    (0..64)
        .rev()
        .map(|bit| 1u64 << bit)
        .filter(|size| padded & size != 0)
        .collect()
}

/// A file's root from its submission nodes (largest first), as a storage node that
/// follows the Flow learns it: the nodes are the file tree's maximal complete
/// subtrees, so the root joins them from the right. `None` for no nodes.
pub fn root_of_submission(nodes: &[SubmissionNode]) -> Option<Hash> {
    let (last, rest) = nodes.split_last()?;
    Some(
        rest.iter()
            .rev()
            .fold(last.root, |right, left| hash_pair(&left.root, &right)),
    )
}

/// Reduces one level: pairs hashed left to right (several at once), an odd last node promoted.
fn reduce_level(level: &[Hash]) -> Vec<Hash> {
    let pairs = level.len() / 2;
    let mut out = vec![[0u8; 32]; level.len().div_ceil(2)];
    keccak_lanes::engine().pair_hashes(&level[..2 * pairs], &mut out[..pairs]);
    if let (Some(last), true) = (level.last(), level.len() % 2 == 1) {
        out[pairs] = *last;
    }
    out
}

/// Root of a tree over `leaves` with the promotion rule.
pub fn root_over_leaves(leaves: &[Hash]) -> Result<Hash> {
    let mut level = match leaves.len() {
        0 => return Err(MerkleError::NoLeaves),
        1 => return Ok(leaves[0]),
        _ => reduce_level(leaves),
    };
    while level.len() > 1 {
        level = reduce_level(&level);
    }
    Ok(level[0])
}

/// Leaves of one segment's data, zero-padded to `leaf_count` sectors.
fn segment_leaves(data: &[u8], leaf_count: usize) -> Vec<Hash> {
    debug_assert!(data.len() <= leaf_count * SECTOR_SIZE);
    let whole = data.len() / SECTOR_SIZE;
    let mut leaves = vec![[0u8; 32]; whole];
    keccak_lanes::engine().sector_leaves(&data[..whole * SECTOR_SIZE], &mut leaves);
    if data.len() > whole * SECTOR_SIZE {
        leaves.push(sector_leaf(&data[whole * SECTOR_SIZE..]));
    }
    if leaves.is_empty() {
        leaves.push(zero_hash(0));
    }
    leaves.resize(leaf_count, zero_hash(0));
    leaves
}

/// Root of one segment holding `data`, zero-padded to `leaf_count` sectors.
pub fn segment_root(data: &[u8], leaf_count: usize) -> Hash {
    let leaves = segment_leaves(data, leaf_count);
    // `leaf_count >= 1`, so the list is never empty.
    root_over_leaves(&leaves).unwrap_or_default()
}

/// The shape of a file in the 0G tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shape {
    file_len: u64,
    padded: u64,
}

impl Shape {
    fn new(file_len: u64) -> Self {
        Self {
            file_len,
            padded: padded_sector_count(sector_count(file_len)),
        }
    }

    /// Segments holding file bytes (at least one).
    fn data_segments(&self) -> u64 {
        self.file_len.div_ceil(SEG).max(1)
    }

    /// Leaves of the segment tree: data segments plus zero-only padding segments.
    fn tree_segments(&self) -> u64 {
        self.padded.div_ceil(SECTORS_PER_SEGMENT as u64)
    }

    /// Sectors (leaves) in segment `index` after padding.
    fn leaf_count(&self, index: u64) -> usize {
        (self.padded - index * SECTORS_PER_SEGMENT as u64).min(SECTORS_PER_SEGMENT as u64) as usize
    }

    /// Root of the node over segments `lo..hi`, all zero padding.
    fn padding_node(&self, lo: u64, hi: u64) -> Hash {
        if hi - lo == 1 {
            return zero_tree_root(self.leaf_count(lo) as u64);
        }
        let half = (hi - lo).next_power_of_two() / 2;
        hash_pair(
            &self.padding_node(lo, lo + half),
            &self.padding_node(lo + half, hi),
        )
    }
}

/// A root of a power-of-two run of sectors, as 0G's Flow contract takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubmissionNode {
    /// Root of the complete subtree.
    pub root: Hash,
    /// log2 of the subtree's sector count.
    pub height: u32,
}

/// A file's 0G tree: segment roots, inner levels, root and submission nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeccakTree {
    shape: Shape,
    /// `levels[0]` holds the roots of all tree segments (padding included).
    levels: Vec<Vec<Hash>>,
    nodes: Vec<SubmissionNode>,
}

impl KeccakTree {
    /// Builds the tree of `data` on the calling thread.
    pub fn from_data(data: &[u8]) -> Self {
        let mut b = KeccakTreeBuilder::new();
        b.update(data);
        b.finalize()
    }

    /// Builds the tree of `data`, hashing segments in parallel on rayon's pool.
    pub fn from_data_par(data: &[u8]) -> Self {
        let mut b = KeccakTreeBuilder::new().parallel(true);
        b.update(data);
        b.finalize()
    }

    /// The file root.
    pub fn root(&self) -> Hash {
        self.levels.last().map_or([0; 32], |l| l[0])
    }

    /// The file's length in bytes.
    pub fn file_len(&self) -> u64 {
        self.shape.file_len
    }

    /// Segments holding file bytes (at least one); proofs exist for these.
    pub fn segment_count(&self) -> u64 {
        self.shape.data_segments()
    }

    /// Sectors after 0G's padding.
    pub fn padded_sectors(&self) -> u64 {
        self.shape.padded
    }

    /// Roots of all segments of the tree, the zero-only padding segments included.
    pub fn segment_roots(&self) -> &[Hash] {
        &self.levels[0]
    }

    /// The submission nodes for 0G's Flow contract, largest first.
    pub fn submission_nodes(&self) -> &[SubmissionNode] {
        &self.nodes
    }

    /// A proof of segment `index`'s root against the file root.
    pub fn prove_segment(&self, index: u64) -> Result<KeccakProof> {
        let count = self.segment_count();
        if index >= count {
            return Err(MerkleError::IndexOutOfRange { index, count });
        }
        Ok(KeccakProof::from_levels(&self.levels, index as usize))
    }
}

impl KeccakTree {
    /// Serializes the outboard: length, root, the roots of the data segments
    /// and the submission nodes (padding and inner levels are rebuilt on load).
    pub fn to_outboard(&self) -> Vec<u8> {
        let data = &self.levels[0][..self.segment_count() as usize];
        let mut out = Vec::with_capacity(1 + 8 + 32 + 4 + 32 * data.len() + 1 + 36 * self.nodes.len());
        out.push(OUTBOARD_TAG);
        out.extend_from_slice(&self.file_len().to_le_bytes());
        out.extend_from_slice(&self.root());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        for r in data {
            out.extend_from_slice(r);
        }
        out.push(self.nodes.len() as u8);
        for n in &self.nodes {
            out.extend_from_slice(&n.root);
            out.extend_from_slice(&n.height.to_le_bytes());
        }
        out
    }

    /// Loads an outboard written by [`KeccakTree::to_outboard`], checking every
    /// length before allocating and that the segment roots hash to the root.
    pub fn from_outboard(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new("keccak outboard", bytes);
        r.tag(OUTBOARD_TAG)?;
        let file_len = r.u64()?;
        let mut root = [0u8; 32];
        root.copy_from_slice(r.take(32)?);
        let shape = Shape::new(file_len);
        let count = r.count(|r| r.u32().map(u64::from), u64::from(u32::MAX), 32)?;
        if count as u64 != shape.data_segments() {
            return Err(MerkleError::WrongNodeCount {
                what: "keccak outboard",
                got: count,
                expected: shape.data_segments() as usize,
            });
        }
        let mut roots = r.hashes(count)?;
        let node_count = r.take(1)?[0] as usize;
        if node_count != submission_node_sizes(file_len).len() {
            return Err(MerkleError::WrongNodeCount {
                what: "keccak outboard submission nodes",
                got: node_count,
                expected: submission_node_sizes(file_len).len(),
            });
        }
        let mut nodes = Vec::with_capacity(node_count);
        for _ in 0..node_count {
            let mut root = [0u8; 32];
            root.copy_from_slice(r.take(32)?);
            let height = r.u32()?;
            nodes.push(SubmissionNode { root, height });
        }
        r.finish()?;
        for index in roots.len() as u64..shape.tree_segments() {
            roots.push(zero_tree_root(shape.leaf_count(index) as u64));
        }
        let mut levels = vec![roots];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let next = reduce_level(levels.last().map_or(&[][..], |l| &l[..]));
            levels.push(next);
        }
        let tree = KeccakTree { shape, levels, nodes };
        if tree.root() != root {
            return Err(MerkleError::CorruptOutboard);
        }
        Ok(tree)
    }
}

/// Appends the roots of whole (unpadded) segments.
fn hash_full_segments(roots: &mut Vec<Hash>, data: &[u8], parallel: bool) {
    debug_assert_eq!(data.len() % SEGMENT_SIZE, 0);
    let root = |s: &[u8]| segment_root(s, SECTORS_PER_SEGMENT);
    if parallel {
        roots.par_extend(data.par_chunks(SEGMENT_SIZE).map(root));
    } else {
        roots.extend(data.chunks(SEGMENT_SIZE).map(root));
    }
}

/// Incremental 0G tree construction for files larger than memory.
#[derive(Debug, Default)]
pub struct KeccakTreeBuilder {
    parallel: bool,
    file_len: u64,
    /// Roots of whole segments hashed so far, none of them the last.
    roots: Vec<Hash>,
    feeder: SegmentFeeder,
}

impl KeccakTreeBuilder {
    /// A builder that hashes on the calling thread.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hash batches of segments in parallel on rayon's pool.
    pub fn parallel(mut self, parallel: bool) -> Self {
        self.parallel = parallel;
        self
    }

    /// Takes the next bytes of the file.
    pub fn update(&mut self, data: &[u8]) -> &mut Self {
        self.file_len += data.len() as u64;
        let (roots, parallel) = (&mut self.roots, self.parallel);
        self.feeder
            .update(data, |segments| hash_full_segments(roots, segments, parallel));
        self
    }

    /// Finishes the tree: pads, builds the levels and the submission nodes.
    pub fn finalize(mut self) -> KeccakTree {
        let shape = Shape::new(self.file_len);
        let pending = std::mem::take(&mut self.feeder).into_pending();
        let mut last_leaves = None;
        let mut chunks = pending.chunks(SEGMENT_SIZE).peekable();
        if pending.is_empty() {
            // An empty file: one zero sector.
            last_leaves = Some(segment_leaves(&[], shape.leaf_count(0)));
        }
        while let Some(seg) = chunks.next() {
            let leaf_count = shape.leaf_count(self.roots.len() as u64);
            if chunks.peek().is_none() {
                last_leaves = Some(segment_leaves(seg, leaf_count));
            } else {
                self.roots.push(segment_root(seg, leaf_count));
            }
        }
        KeccakTree::assemble(shape, self.roots, &last_leaves.unwrap_or_default())
    }
}

impl KeccakTree {
    /// The node segment `index` of a `file_len`-byte file has in the tree: its segment root.
    pub fn segment_node(file_len: u64, index: u64, data: &[u8]) -> Result<Hash> {
        let shape = Shape::new(file_len);
        let count = shape.data_segments();
        if index >= count {
            return Err(MerkleError::IndexOutOfRange { index, count });
        }
        crate::blake3_tree::check_len(file_len, index, data)?;
        Ok(segment_root(data, shape.leaf_count(index)))
    }

    /// Rebuilds the tree of a `file_len`-byte file from the roots of all its segments
    /// but the last ([`KeccakTree::segment_node`]) and the last segment's bytes, whose
    /// sectors the submission nodes smaller than a segment are built from.
    pub fn from_segment_nodes(file_len: u64, nodes: Vec<Hash>, last: &[u8]) -> Result<Self> {
        let shape = Shape::new(file_len);
        let count = shape.data_segments();
        if nodes.len() as u64 != count - 1 {
            return Err(MerkleError::WrongNodeCount {
                what: "keccak segment nodes",
                got: nodes.len(),
                expected: (count - 1) as usize,
            });
        }
        crate::blake3_tree::check_len(file_len, count - 1, last)?;
        let last_leaves = segment_leaves(last, shape.leaf_count(count - 1));
        Ok(Self::assemble(shape, nodes, &last_leaves))
    }

    /// Builds the levels and the submission nodes from the roots of the data segments
    /// before the last and the last one's (padded) sector leaves.
    fn assemble(shape: Shape, mut roots: Vec<Hash>, last_leaves: &[Hash]) -> Self {
        let last_index = roots.len() as u64;
        roots.push(root_over_leaves(last_leaves).unwrap_or_default());
        for index in roots.len() as u64..shape.tree_segments() {
            roots.push(zero_tree_root(shape.leaf_count(index) as u64));
        }

        let mut levels = vec![roots];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let next = reduce_level(levels.last().map_or(&[][..], |l| &l[..]));
            levels.push(next);
        }

        let spt = SECTORS_PER_SEGMENT as u64;
        let mut nodes = Vec::new();
        let mut offset = 0u64;
        for size in submission_node_sizes(shape.file_len) {
            let height = size.trailing_zeros();
            let root = if size >= spt {
                // An aligned complete run of segments: a node of the segment tree.
                let k = (size / spt).trailing_zeros() as usize;
                levels[k][((offset / spt) >> k) as usize]
            } else if offset / spt == last_index {
                let from = (offset % spt) as usize;
                root_over_leaves(&last_leaves[from..from + size as usize]).unwrap_or_default()
            } else {
                // Only zero padding lies past the last data segment.
                zero_hash(height)
            };
            nodes.push(SubmissionNode { root, height });
            offset += size;
        }
        KeccakTree { shape, levels, nodes }
    }
}

/// A 0G Merkle proof: `lemma = [leaf, siblings bottom-up, root]`, and
/// `path[i]` is true when the node at that level is a left child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeccakProof {
    lemma: Vec<Hash>,
    path: Vec<bool>,
}

/// The path flags a proof of leaf `position` among `num_leaves` has.
fn expected_path(mut position: u64, mut num_leaves: u64) -> Vec<bool> {
    let mut path = Vec::new();
    while num_leaves > 1 {
        if position ^ 1 < num_leaves {
            path.push(position.is_multiple_of(2));
        }
        position >>= 1;
        num_leaves = num_leaves.div_ceil(2);
    }
    path
}

impl KeccakProof {
    /// Builds the proof of leaf `index` from the tree's levels (leaves first).
    fn from_levels(levels: &[Vec<Hash>], mut index: usize) -> Self {
        let mut lemma = vec![levels[0][index]];
        let mut path = Vec::new();
        for level in &levels[..levels.len() - 1] {
            let sibling = index ^ 1;
            if sibling < level.len() {
                lemma.push(level[sibling]);
                path.push(index.is_multiple_of(2));
            }
            index >>= 1;
        }
        if !path.is_empty() {
            lemma.push(levels[levels.len() - 1][0]);
        }
        Self { lemma, path }
    }

    /// Builds the proof of `leaves[index]` in the tree over `leaves`.
    pub fn build(leaves: &[Hash], index: u64) -> Result<Self> {
        let count = leaves.len() as u64;
        if index >= count {
            return Err(MerkleError::IndexOutOfRange { index, count });
        }
        let mut levels = vec![leaves.to_vec()];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let next = reduce_level(levels.last().map_or(&[][..], |l| &l[..]));
            levels.push(next);
        }
        Ok(Self::from_levels(&levels, index as usize))
    }

    /// Builds a proof from 0G's parts, checking their lengths agree.
    pub fn from_parts(lemma: Vec<Hash>, path: Vec<bool>) -> Result<Self> {
        let expected = if path.is_empty() { 1 } else { path.len() + 2 };
        if lemma.len() != expected {
            return Err(MerkleError::WrongNodeCount {
                what: "zg proof lemma",
                got: lemma.len(),
                expected,
            });
        }
        Ok(Self { lemma, path })
    }

    /// `[leaf, siblings bottom-up, root]`.
    pub fn lemma(&self) -> &[Hash] {
        &self.lemma
    }

    /// Whether the proven node is the left child at each level with a sibling.
    pub fn path(&self) -> &[bool] {
        &self.path
    }

    /// Sibling hashes bottom-up.
    fn siblings(&self) -> &[Hash] {
        if self.path.is_empty() {
            &[]
        } else {
            &self.lemma[1..self.lemma.len() - 1]
        }
    }

    /// Verifies that `leaf` is leaf `position` of a tree of `num_leaves`
    /// leaves with `root`. A wrong hash or a path for another position gives
    /// `Ok(false)`; a lemma of the wrong length for the position is an error.
    pub fn verify_leaf(&self, root: &Hash, leaf: &Hash, position: u64, num_leaves: u64) -> Result<bool> {
        self.verify_with(root, leaf, position, num_leaves, |_, _, _| true)
    }

    /// Shared verification; `sibling_ok(level, sibling_index, hash)` may
    /// reject a sibling whose value is known in advance (zero padding).
    pub(crate) fn verify_with(
        &self,
        root: &Hash,
        leaf: &Hash,
        position: u64,
        num_leaves: u64,
        mut sibling_ok: impl FnMut(u32, u64, &Hash) -> bool,
    ) -> Result<bool> {
        if position >= num_leaves {
            return Err(MerkleError::IndexOutOfRange {
                index: position,
                count: num_leaves,
            });
        }
        let expected = expected_path(position, num_leaves);
        if self.path.len() != expected.len() {
            return Err(MerkleError::WrongNodeCount {
                what: "keccak proof",
                got: self.path.len(),
                expected: expected.len(),
            });
        }
        if self.path != expected || self.lemma[0] != *leaf || self.lemma[self.lemma.len() - 1] != *root {
            return Ok(false);
        }
        let mut hash = *leaf;
        let mut siblings = self.siblings().iter().zip(&self.path);
        let (mut index, mut n, mut level) = (position, num_leaves, 0u32);
        while n > 1 {
            if index ^ 1 < n {
                let Some((sibling, &is_left)) = siblings.next() else {
                    return Ok(false);
                };
                if !sibling_ok(level, index ^ 1, sibling) {
                    return Ok(false);
                }
                hash = if is_left {
                    hash_pair(&hash, sibling)
                } else {
                    hash_pair(sibling, &hash)
                };
            }
            index >>= 1;
            n = n.div_ceil(2);
            level += 1;
        }
        Ok(hash == *root)
    }

    /// Verifies that `data` is segment `index` of the file of `file_len`
    /// bytes with `root`. Siblings that cover only zero padding must equal
    /// the zero-subtree hashes.
    pub fn verify_segment(&self, root: &Hash, file_len: u64, index: u64, data: &[u8]) -> Result<bool> {
        let leaf = KeccakTree::segment_node(file_len, index, data)?;
        self.verify_segment_node(root, file_len, index, &leaf)
    }

    /// Verifies that `node` ([`KeccakTree::segment_node`]) is the root of segment
    /// `index` of the file of `file_len` bytes with `root`.
    pub fn verify_segment_node(&self, root: &Hash, file_len: u64, index: u64, node: &Hash) -> Result<bool> {
        let shape = Shape::new(file_len);
        let count = shape.data_segments();
        if index >= count {
            return Err(MerkleError::IndexOutOfRange { index, count });
        }
        let n = shape.tree_segments();
        self.verify_with(root, node, index, n, |level, sibling, hash| {
            let lo = sibling << level;
            let hi = ((sibling + 1) << level).min(n);
            lo < count || shape.padding_node(lo, hi) == *hash
        })
    }

    /// Encodes as tag, lemma count (u32 LE), lemma, path count (u32 LE), one byte (0/1) per flag.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 8 + 32 * self.lemma.len() + self.path.len());
        out.push(PROOF_TAG);
        out.extend_from_slice(&(self.lemma.len() as u32).to_le_bytes());
        for h in &self.lemma {
            out.extend_from_slice(h);
        }
        out.extend_from_slice(&(self.path.len() as u32).to_le_bytes());
        out.extend(self.path.iter().map(|&b| u8::from(b)));
        out
    }

    /// Decodes [`KeccakProof::to_bytes`], checking every length before allocating.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new("keccak proof", bytes);
        r.tag(PROOF_TAG)?;
        let lemma_len = r.count(|r| r.u32().map(u64::from), MAX_LEMMA, 32)?;
        let lemma = r.hashes(lemma_len)?;
        let path_len = r.count(|r| r.u32().map(u64::from), MAX_LEMMA - 2, 1)?;
        let path = r
            .take(path_len)?
            .iter()
            .enumerate()
            .map(|(index, &value)| match value {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(MerkleError::BadPathFlag { index, value }),
            })
            .collect::<Result<Vec<_>>>()?;
        r.finish()?;
        Self::from_parts(lemma, path)
    }
}
