//! One API over both tree kinds: hash a file, prove and verify segments.

use std::fmt;
use std::str::FromStr;

use crate::blake3_tree::{self, Blake3Proof, Blake3Tree, Blake3TreeBuilder};
use crate::keccak_tree::{self, KeccakProof, KeccakTree, KeccakTreeBuilder};
use crate::{Hash, MerkleError, Result};

/// Which Merkle tree names a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RootKind {
    /// The root is the file's BLAKE3 hash (the default).
    #[default]
    Blake3,
    /// 0G's Keccak sector tree.
    Keccak,
}

impl RootKind {
    /// The kind's name as the CLI and APIs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Blake3 => "blake3",
            Self::Keccak => "keccak",
        }
    }
}

impl fmt::Display for RootKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A root kind name other than `blake3` or `keccak` (or its older names `zg`, `0g`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown root kind {0:?}: expected \"blake3\" or \"keccak\" (0G's tree)")]
pub struct UnknownRootKind(pub String);

impl FromStr for RootKind {
    type Err = UnknownRootKind;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "blake3" => Ok(Self::Blake3),
            // `zg` was this kind's first name; 0G users may say `0g`.
            "keccak" | "zg" | "0g" => Ok(Self::Keccak),
            other => Err(UnknownRootKind(other.to_owned())),
        }
    }
}

/// Segments of a file of `file_len` bytes (at least one): the unit of
/// upload, download and proof for both kinds.
pub fn segment_count(file_len: u64) -> u64 {
    blake3_tree::segment_count(file_len)
}

/// The node segment `index` (its bytes `data`) of a `file_len`-byte file has in
/// the file's tree under `kind`: what a proof of it is checked with, and what
/// [`FileTree::from_segment_nodes`] rebuilds the tree from.
pub fn segment_node(kind: RootKind, file_len: u64, index: u64, data: &[u8]) -> Result<Hash> {
    match kind {
        RootKind::Blake3 => Blake3Tree::segment_node(file_len, index, data),
        RootKind::Keccak => KeccakTree::segment_node(file_len, index, data),
    }
}

/// The root of `data` under `kind`, hashed on the calling thread.
pub fn file_root(kind: RootKind, data: &[u8]) -> Hash {
    match kind {
        RootKind::Blake3 => *blake3::hash(data).as_bytes(),
        RootKind::Keccak => KeccakTree::from_data(data).root(),
    }
}

#[derive(Debug)]
enum Builder {
    Blake3(Blake3TreeBuilder),
    Keccak(KeccakTreeBuilder),
}

/// Incremental hashing of a file into a [`FileTree`] of either kind.
#[derive(Debug)]
pub struct FileHasher(Builder);

impl FileHasher {
    /// A hasher for `kind` that works on the calling thread.
    pub fn new(kind: RootKind) -> Self {
        Self(match kind {
            RootKind::Blake3 => Builder::Blake3(Blake3TreeBuilder::new()),
            RootKind::Keccak => Builder::Keccak(KeccakTreeBuilder::new()),
        })
    }

    /// Hash batches of segments in parallel on rayon's pool.
    pub fn parallel(self, parallel: bool) -> Self {
        Self(match self.0 {
            Builder::Blake3(b) => Builder::Blake3(b.parallel(parallel)),
            Builder::Keccak(b) => Builder::Keccak(b.parallel(parallel)),
        })
    }

    /// Takes the next bytes of the file.
    pub fn update(&mut self, data: &[u8]) -> &mut Self {
        match &mut self.0 {
            Builder::Blake3(b) => {
                b.update(data);
            }
            Builder::Keccak(b) => {
                b.update(data);
            }
        }
        self
    }

    /// Reads `reader` to its end into the hasher; returns the bytes read.
    pub fn update_reader(&mut self, mut reader: impl std::io::Read) -> std::io::Result<u64> {
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    self.update(&buf[..n]);
                    total += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Finishes the tree.
    pub fn finalize(self) -> FileTree {
        match self.0 {
            Builder::Blake3(b) => FileTree::Blake3(b.finalize()),
            Builder::Keccak(b) => FileTree::Keccak(b.finalize()),
        }
    }
}

/// A file's tree of either kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileTree {
    /// BLAKE3 tree.
    Blake3(Blake3Tree),
    /// 0G Keccak tree.
    Keccak(KeccakTree),
}

impl FileTree {
    /// Builds the tree of `data` under `kind`, in parallel on rayon's pool.
    pub fn from_data(kind: RootKind, data: &[u8]) -> Self {
        match kind {
            RootKind::Blake3 => Self::Blake3(Blake3Tree::from_data_par(data)),
            RootKind::Keccak => Self::Keccak(KeccakTree::from_data_par(data)),
        }
    }

    /// Rebuilds the tree of a `file_len`-byte file from the nodes ([`segment_node`]) of
    /// all its segments but the last, and the last segment's bytes, without the file.
    pub fn from_segment_nodes(kind: RootKind, file_len: u64, nodes: Vec<Hash>, last: &[u8]) -> Result<Self> {
        match kind {
            RootKind::Blake3 => Blake3Tree::from_segment_nodes(file_len, nodes, last).map(Self::Blake3),
            RootKind::Keccak => KeccakTree::from_segment_nodes(file_len, nodes, last).map(Self::Keccak),
        }
    }

    /// The tree's kind.
    pub fn kind(&self) -> RootKind {
        match self {
            Self::Blake3(_) => RootKind::Blake3,
            Self::Keccak(_) => RootKind::Keccak,
        }
    }

    /// The file root.
    pub fn root(&self) -> Hash {
        match self {
            Self::Blake3(t) => t.root(),
            Self::Keccak(t) => t.root(),
        }
    }

    /// The file's length in bytes.
    pub fn file_len(&self) -> u64 {
        match self {
            Self::Blake3(t) => t.file_len(),
            Self::Keccak(t) => t.file_len(),
        }
    }

    /// Segments of the file (at least one).
    pub fn segment_count(&self) -> u64 {
        segment_count(self.file_len())
    }

    /// Serializes the tree's outboard (its first byte names the kind), from
    /// which proofs are served without the file.
    pub fn to_outboard(&self) -> Vec<u8> {
        match self {
            Self::Blake3(t) => t.to_outboard(),
            Self::Keccak(t) => t.to_outboard(),
        }
    }

    /// Loads [`FileTree::to_outboard`], checking it hashes to its root.
    pub fn from_outboard(bytes: &[u8]) -> Result<Self> {
        match bytes.first() {
            Some(&keccak_tree::OUTBOARD_TAG) => KeccakTree::from_outboard(bytes).map(Self::Keccak),
            Some(_) => Blake3Tree::from_outboard(bytes).map(Self::Blake3),
            None => Err(MerkleError::Truncated {
                what: "outboard",
                needed: 1,
                got: 0,
            }),
        }
    }

    /// A proof of segment `index`.
    pub fn prove_segment(&self, index: u64) -> Result<SegmentProof> {
        match self {
            Self::Blake3(t) => t.prove_segment(index).map(SegmentProof::Blake3),
            Self::Keccak(t) => t.prove_segment(index).map(SegmentProof::Keccak),
        }
    }
}

/// A proof of one segment against a file root of either kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentProof {
    /// Chaining-value path in BLAKE3's tree.
    Blake3(Blake3Proof),
    /// 0G lemma and path over segment roots.
    Keccak(KeccakProof),
}

impl SegmentProof {
    /// The proof's kind.
    pub fn kind(&self) -> RootKind {
        match self {
            Self::Blake3(_) => RootKind::Blake3,
            Self::Keccak(_) => RootKind::Keccak,
        }
    }

    /// Verifies that `data` is segment `index` of the file of `file_len`
    /// bytes with `root`: `Ok(false)` for a wrong proof, an error for
    /// malformed input.
    pub fn verify(&self, root: &Hash, file_len: u64, index: u64, data: &[u8]) -> Result<bool> {
        match self {
            Self::Blake3(p) => p.verify_segment(root, file_len, index, data),
            Self::Keccak(p) => p.verify_segment(root, file_len, index, data),
        }
    }

    /// Verifies that `node` ([`segment_node`] of the segment's bytes) is the node of
    /// segment `index` of the file of `file_len` bytes with `root`, as
    /// [`SegmentProof::verify`] does with the bytes.
    pub fn verify_node(&self, root: &Hash, file_len: u64, index: u64, node: &Hash) -> Result<bool> {
        match self {
            Self::Blake3(p) => p.verify_segment_node(root, file_len, index, node),
            Self::Keccak(p) => p.verify_segment_node(root, file_len, index, node),
        }
    }

    /// Verifies as [`SegmentProof::verify`] after checking the proof is of `kind`.
    pub fn verify_kind(
        &self,
        kind: RootKind,
        root: &Hash,
        file_len: u64,
        index: u64,
        data: &[u8],
    ) -> Result<bool> {
        if self.kind() != kind {
            return Err(MerkleError::KindMismatch {
                expected: kind.as_str(),
                got: self.kind().as_str(),
            });
        }
        self.verify(root, file_len, index, data)
    }

    /// Encodes the proof; the first byte names its kind.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Blake3(p) => p.to_bytes(),
            Self::Keccak(p) => p.to_bytes(),
        }
    }

    /// Decodes [`SegmentProof::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        match bytes.first() {
            Some(&keccak_tree::PROOF_TAG) => KeccakProof::from_bytes(bytes).map(Self::Keccak),
            Some(_) => Blake3Proof::from_bytes(bytes).map(Self::Blake3),
            None => Err(MerkleError::Truncated {
                what: "segment proof",
                needed: 1,
                got: 0,
            }),
        }
    }
}
