//! BLAKE3-native file tree: the root of a file is `blake3::hash(file)`.
//!
//! A 256 KiB segment is 256 BLAKE3 chunks, a complete subtree of BLAKE3's own
//! chunk tree, so the segments' chaining values (CVs) are nodes of the real
//! BLAKE3 tree. The tree keeps every segment CV as an outboard; proofs are the
//! sibling CVs on the way from the proven segments to the root (as in Bao), so
//! they are served without rehashing the file.
//!
//! The file length is an input of verification, not part of the proof: the
//! tree shape depends on it, and (as in Bao) only a proof that covers the last
//! segment authenticates it. Download clients verify the last segment.

use blake3::hazmat::{ChainingValue, HasherExt, Mode, merge_subtrees_non_root, merge_subtrees_root};
use rayon::prelude::*;

use crate::segments::SegmentFeeder;
use crate::{Hash, MerkleError, Result, SEGMENT_SIZE};
use zg_codec::Reader;

const SEG: u64 = SEGMENT_SIZE as u64;
/// Tag byte that starts an encoded [`Blake3Proof`].
pub const PROOF_TAG: u8 = b'B';
/// Tag byte that starts an encoded outboard.
pub const OUTBOARD_TAG: u8 = b'O';
/// A range proof holds at most two siblings per tree level.
const MAX_PROOF_NODES: u64 = 2 * 64;

/// Segments in a file of `file_len` bytes; an empty file has one empty segment.
pub fn segment_count(file_len: u64) -> u64 {
    file_len.div_ceil(SEG).max(1)
}

/// Bytes of segments `start..end` in a file of `file_len` bytes.
pub fn range_len(file_len: u64, start: u64, end: u64) -> u64 {
    let lo = start.saturating_mul(SEG).min(file_len);
    let hi = end.saturating_mul(SEG).min(file_len);
    hi - lo
}

/// The largest power of two strictly below `n` (BLAKE3's left subtree size).
fn left_len(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Chaining value of the subtree holding `data`, which starts at segment `first`.
fn subtree_cv(first: u64, data: &[u8]) -> ChainingValue {
    let mut hasher = blake3::Hasher::new();
    hasher.set_input_offset(first * SEG);
    hasher.update(data);
    hasher.finalize_non_root()
}

fn segment_cvs(first: u64, data: &[u8], parallel: bool) -> Vec<ChainingValue> {
    if parallel {
        data.par_chunks(SEGMENT_SIZE)
            .enumerate()
            .map(|(i, s)| subtree_cv(first + i as u64, s))
            .collect()
    } else {
        data.chunks(SEGMENT_SIZE)
            .enumerate()
            .map(|(i, s)| subtree_cv(first + i as u64, s))
            .collect()
    }
}

/// A file's BLAKE3 tree: its root, its length and the outboard of inner nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blake3Tree {
    file_len: u64,
    root: Hash,
    /// `levels[k][i]` is the CV of segments `i * 2^k .. (i + 1) * 2^k`; empty
    /// for a one-segment file, whose root is its plain hash.
    levels: Vec<Vec<ChainingValue>>,
}

impl Blake3Tree {
    /// Builds the tree of `data` on the calling thread.
    pub fn from_data(data: &[u8]) -> Self {
        Self::build(data, false)
    }

    /// Builds the tree of `data`, hashing segments in parallel on rayon's pool.
    pub fn from_data_par(data: &[u8]) -> Self {
        Self::build(data, true)
    }

    fn build(data: &[u8], parallel: bool) -> Self {
        let file_len = data.len() as u64;
        if segment_count(file_len) == 1 {
            return Self::single(file_len, blake3::hash(data));
        }
        Self::from_segment_cvs(file_len, segment_cvs(0, data, parallel))
    }

    fn single(file_len: u64, root: blake3::Hash) -> Self {
        Self {
            file_len,
            root: *root.as_bytes(),
            levels: Vec::new(),
        }
    }

    /// Builds the inner levels and the root from the CVs of all (two or more) segments.
    fn from_segment_cvs(file_len: u64, cvs: Vec<ChainingValue>) -> Self {
        debug_assert_eq!(cvs.len() as u64, segment_count(file_len));
        debug_assert!(cvs.len() >= 2);
        let mut levels = vec![cvs];
        while let Some(prev) = levels.last().filter(|l| l.len() >= 2) {
            let next = prev
                .chunks_exact(2)
                .map(|p| merge_subtrees_non_root(&p[0], &p[1], Mode::Hash))
                .collect();
            levels.push(next);
        }
        let mut tree = Self {
            file_len,
            root: [0; 32],
            levels,
        };
        let n = tree.segment_count();
        let mid = left_len(n);
        let root = merge_subtrees_root(&tree.node(0, mid), &tree.node(mid, n), Mode::Hash);
        tree.root = *root.as_bytes();
        tree
    }

    /// The node segment `index` of a `file_len`-byte file has in the tree: its
    /// chaining value, or for a one-segment file the root itself.
    pub fn segment_node(file_len: u64, index: u64, data: &[u8]) -> Result<Hash> {
        let n = segment_count(file_len);
        check_range(index, index.saturating_add(1), n)?;
        check_len(file_len, index, data)?;
        Ok(if n == 1 {
            *blake3::hash(data).as_bytes()
        } else {
            subtree_cv(index, data)
        })
    }

    /// Rebuilds the tree of a `file_len`-byte file from the nodes of all its segments
    /// but the last ([`Blake3Tree::segment_node`]) and the last segment's bytes.
    pub fn from_segment_nodes(file_len: u64, mut nodes: Vec<Hash>, last: &[u8]) -> Result<Self> {
        let n = segment_count(file_len);
        if nodes.len() as u64 != n - 1 {
            return Err(MerkleError::WrongNodeCount {
                what: "blake3 segment nodes",
                got: nodes.len(),
                expected: (n - 1) as usize,
            });
        }
        check_len(file_len, n - 1, last)?;
        if n == 1 {
            return Ok(Self::single(file_len, blake3::hash(last)));
        }
        nodes.push(subtree_cv(n - 1, last));
        Ok(Self::from_segment_cvs(file_len, nodes))
    }

    /// The root: equal to `blake3::hash` of the whole file.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The file's length in bytes.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Number of segments (at least one).
    pub fn segment_count(&self) -> u64 {
        segment_count(self.file_len)
    }

    /// CV of the tree node over segments `lo..hi` (a node of BLAKE3's tree).
    fn node(&self, lo: u64, hi: u64) -> ChainingValue {
        let size = hi - lo;
        if size.is_power_of_two() {
            let k = size.trailing_zeros() as usize;
            debug_assert_eq!(lo % size, 0, "pow2 nodes are aligned");
            return self.levels[k][(lo >> k) as usize];
        }
        let mid = lo + left_len(size);
        merge_subtrees_non_root(&self.node(lo, mid), &self.node(mid, hi), Mode::Hash)
    }

    /// A proof of the single segment `index`.
    pub fn prove_segment(&self, index: u64) -> Result<Blake3Proof> {
        self.prove_range(index, index.saturating_add(1))
    }

    /// A proof of the run of segments `start..end`.
    pub fn prove_range(&self, start: u64, end: u64) -> Result<Blake3Proof> {
        let n = self.segment_count();
        check_range(start, end, n)?;
        let mut nodes = Vec::new();
        if n >= 2 {
            let mid = left_len(n);
            self.collect(0, mid, start, end, &mut nodes);
            self.collect(mid, n, start, end, &mut nodes);
        }
        Ok(Blake3Proof { start, end, nodes })
    }

    fn collect(&self, lo: u64, hi: u64, start: u64, end: u64, out: &mut Vec<Hash>) {
        if hi <= start || lo >= end {
            out.push(self.node(lo, hi));
        } else if lo < start || hi > end {
            let mid = lo + left_len(hi - lo);
            self.collect(lo, mid, start, end, out);
            self.collect(mid, hi, start, end, out);
        }
    }

    /// Serializes the outboard: length, root and every segment CV
    /// (32 bytes per 256 KiB segment; inner levels are rebuilt on load).
    pub fn to_outboard(&self) -> Vec<u8> {
        let cvs = self.levels.first().map_or(&[][..], |l| &l[..]);
        let mut out = Vec::with_capacity(1 + 8 + 32 + 4 + 32 * cvs.len());
        out.push(OUTBOARD_TAG);
        out.extend_from_slice(&self.file_len.to_le_bytes());
        out.extend_from_slice(&self.root);
        out.extend_from_slice(&(cvs.len() as u32).to_le_bytes());
        for cv in cvs {
            out.extend_from_slice(cv);
        }
        out
    }

    /// Loads an outboard written by [`Blake3Tree::to_outboard`], checking
    /// every length before allocating and that the nodes hash to the root.
    pub fn from_outboard(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new("blake3 outboard", bytes);
        r.tag(OUTBOARD_TAG)?;
        let file_len = r.u64()?;
        let mut root = [0u8; 32];
        root.copy_from_slice(r.take(32)?);
        let n = segment_count(file_len);
        let expected = if n >= 2 { n } else { 0 };
        let count = r.count(|r| r.u32().map(u64::from), u64::from(u32::MAX), 32)?;
        if count as u64 != expected {
            return Err(MerkleError::WrongNodeCount {
                what: "blake3 outboard",
                got: count,
                expected: expected as usize,
            });
        }
        let cvs = r.hashes(count)?;
        r.finish()?;
        if n == 1 {
            return Ok(Self {
                file_len,
                root,
                levels: Vec::new(),
            });
        }
        let tree = Self::from_segment_cvs(file_len, cvs);
        if tree.root != root {
            return Err(MerkleError::CorruptOutboard);
        }
        Ok(tree)
    }
}

/// Checks `data` is as long as segment `index` of a `file_len`-byte file.
pub(crate) fn check_len(file_len: u64, index: u64, data: &[u8]) -> Result<()> {
    let expected = range_len(file_len, index, index + 1);
    if data.len() as u64 != expected {
        return Err(MerkleError::DataLength {
            expected,
            got: data.len() as u64,
        });
    }
    Ok(())
}

fn check_range(start: u64, end: u64, n: u64) -> Result<()> {
    if start >= end {
        return Err(MerkleError::InvalidRange { start, end });
    }
    if end > n {
        return Err(MerkleError::IndexOutOfRange {
            index: end - 1,
            count: n,
        });
    }
    Ok(())
}

/// Siblings proving segments `start..end` against a BLAKE3 root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blake3Proof {
    start: u64,
    end: u64,
    nodes: Vec<Hash>,
}

impl Blake3Proof {
    /// First proven segment.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// One past the last proven segment.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The sibling CVs, in the order the verifier consumes them.
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Number of sibling CVs a proof of `start..end` in a file of `n` segments holds.
    fn expected_nodes(lo: u64, hi: u64, start: u64, end: u64) -> usize {
        if hi <= start || lo >= end {
            1
        } else if lo >= start && hi <= end {
            0
        } else {
            let mid = lo + left_len(hi - lo);
            Self::expected_nodes(lo, mid, start, end) + Self::expected_nodes(mid, hi, start, end)
        }
    }

    /// Verifies that `data` is segment `index` of the file of `file_len` bytes with `root`.
    pub fn verify_segment(&self, root: &Hash, file_len: u64, index: u64, data: &[u8]) -> Result<bool> {
        self.check_segment(index)?;
        self.verify(root, file_len, data)
    }

    /// Verifies that `data` is segments `start..end` of the file of
    /// `file_len` bytes with `root`: `Ok(false)` for a well-formed proof that
    /// does not match, an error for a proof or data of the wrong shape.
    pub fn verify(&self, root: &Hash, file_len: u64, data: &[u8]) -> Result<bool> {
        let n = segment_count(file_len);
        check_range(self.start, self.end, n)?;
        let expected_len = range_len(file_len, self.start, self.end);
        if data.len() as u64 != expected_len {
            return Err(MerkleError::DataLength {
                expected: expected_len,
                got: data.len() as u64,
            });
        }
        if n == 1 {
            if !self.nodes.is_empty() {
                return Err(self.wrong_count(0));
            }
            return Ok(blake3::hash(data).as_bytes() == root);
        }
        self.verify_nodes(root, n, |lo, hi| {
            let from = ((lo - self.start) * SEG) as usize;
            let to = (((hi - self.start) * SEG) as usize).min(data.len());
            subtree_cv(lo, &data[from..to])
        })
    }

    /// Verifies that `node` ([`Blake3Tree::segment_node`]) is the node of segment
    /// `index` of the file of `file_len` bytes with `root`.
    pub fn verify_segment_node(&self, root: &Hash, file_len: u64, index: u64, node: &Hash) -> Result<bool> {
        self.check_segment(index)?;
        let n = segment_count(file_len);
        check_range(self.start, self.end, n)?;
        if n == 1 {
            if !self.nodes.is_empty() {
                return Err(self.wrong_count(0));
            }
            return Ok(node == root);
        }
        self.verify_nodes(root, n, |_, _| *node)
    }

    /// Checks the proof's node count for a file of `n >= 2` segments, then hashes
    /// up to the root with `proven(lo, hi)` giving the CVs of the proven nodes.
    fn verify_nodes(&self, root: &Hash, n: u64, proven: impl Fn(u64, u64) -> ChainingValue) -> Result<bool> {
        let mid = left_len(n);
        let expected = Self::expected_nodes(0, mid, self.start, self.end)
            + Self::expected_nodes(mid, n, self.start, self.end);
        if self.nodes.len() != expected {
            return Err(self.wrong_count(expected));
        }
        let mut nodes = self.nodes.iter();
        let left = self.rebuild(0, mid, &proven, &mut nodes);
        let right = self.rebuild(mid, n, &proven, &mut nodes);
        Ok(merge_subtrees_root(&left, &right, Mode::Hash).as_bytes() == root)
    }

    /// Checks the proof covers exactly segment `index`.
    fn check_segment(&self, index: u64) -> Result<()> {
        if self.start != index || self.end != index.saturating_add(1) {
            return Err(MerkleError::RangeMismatch {
                start: index,
                end: index.saturating_add(1),
                got_start: self.start,
                got_end: self.end,
            });
        }
        Ok(())
    }

    fn wrong_count(&self, expected: usize) -> MerkleError {
        MerkleError::WrongNodeCount {
            what: "blake3 proof",
            got: self.nodes.len(),
            expected,
        }
    }

    /// CV of node `lo..hi`: `proven`'s where the node is proven, the proof's
    /// where it is disjoint. The node count was checked beforehand.
    fn rebuild<'a>(
        &self,
        lo: u64,
        hi: u64,
        proven: &impl Fn(u64, u64) -> ChainingValue,
        nodes: &mut impl Iterator<Item = &'a Hash>,
    ) -> ChainingValue {
        if hi <= self.start || lo >= self.end {
            return nodes.next().copied().unwrap_or_default();
        }
        if lo >= self.start && hi <= self.end {
            return proven(lo, hi);
        }
        let mid = lo + left_len(hi - lo);
        let left = self.rebuild(lo, mid, proven, nodes);
        let right = self.rebuild(mid, hi, proven, nodes);
        merge_subtrees_non_root(&left, &right, Mode::Hash)
    }

    /// Encodes as tag, start, end (u64 LE), node count (u32 LE), nodes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 8 + 8 + 4 + 32 * self.nodes.len());
        out.push(PROOF_TAG);
        out.extend_from_slice(&self.start.to_le_bytes());
        out.extend_from_slice(&self.end.to_le_bytes());
        out.extend_from_slice(&(self.nodes.len() as u32).to_le_bytes());
        for n in &self.nodes {
            out.extend_from_slice(n);
        }
        out
    }

    /// Decodes [`Blake3Proof::to_bytes`], checking every length before allocating.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new("blake3 proof", bytes);
        r.tag(PROOF_TAG)?;
        let start = r.u64()?;
        let end = r.u64()?;
        if start >= end {
            return Err(MerkleError::InvalidRange { start, end });
        }
        let count = r.count(|r| r.u32().map(u64::from), MAX_PROOF_NODES, 32)?;
        let nodes = r.hashes(count)?;
        r.finish()?;
        Ok(Self { start, end, nodes })
    }
}

/// Incremental BLAKE3 tree construction for files larger than memory.
///
/// Memory stays at one batch of segments (16 MiB) plus the outboard.
#[derive(Debug, Default)]
pub struct Blake3TreeBuilder {
    parallel: bool,
    file_len: u64,
    /// CVs of segments already hashed: all known not to be the last.
    cvs: Vec<ChainingValue>,
    feeder: SegmentFeeder,
}

impl Blake3TreeBuilder {
    /// A builder that hashes on the calling thread.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hash batches of segments in parallel on rayon's pool.
    pub fn parallel(mut self, parallel: bool) -> Self {
        self.parallel = parallel;
        self
    }

    /// Bytes taken so far.
    pub fn len(&self) -> u64 {
        self.file_len
    }

    /// Whether no bytes were taken yet.
    pub fn is_empty(&self) -> bool {
        self.file_len == 0
    }

    /// Takes the next bytes of the file.
    pub fn update(&mut self, data: &[u8]) -> &mut Self {
        self.file_len += data.len() as u64;
        let (cvs, parallel) = (&mut self.cvs, self.parallel);
        self.feeder.update(data, |segments| {
            cvs.extend(segment_cvs(cvs.len() as u64, segments, parallel));
        });
        self
    }

    /// Finishes the tree.
    pub fn finalize(mut self) -> Blake3Tree {
        let pending = self.feeder.into_pending();
        if self.cvs.is_empty() && pending.len() <= SEGMENT_SIZE {
            return Blake3Tree::single(self.file_len, blake3::hash(&pending));
        }
        let first = self.cvs.len() as u64;
        self.cvs.extend(segment_cvs(first, &pending, self.parallel));
        Blake3Tree::from_segment_cvs(self.file_len, self.cvs)
    }
}

impl std::io::Write for Blake3TreeBuilder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
