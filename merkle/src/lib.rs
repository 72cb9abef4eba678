//! # zg-merkle
//!
//! Merkle trees that name and prove files in zg:
//!
//! - [`blake3_tree`]: the root of a file **is** its BLAKE3 hash; segment
//!   proofs are chaining-value paths in BLAKE3's own tree (Bao-style), served
//!   from an outboard without rehashing the file.
//! - [`keccak_tree`]: 0G-compatible Keccak-256 sector tree with 0G's padding,
//!   submission nodes and proof shape.
//! - [`flow`]: 0G's append-only flow of submissions, with proofs against
//!   past roots.
//! - [`file`]: one API over both kinds ([`FileHasher`], [`FileTree`],
//!   [`SegmentProof`]).
//!
//! ```
//! use zg_merkle::{FileTree, RootKind};
//!
//! let data = vec![7u8; 600 * 1024];
//! let tree = FileTree::from_data(RootKind::Blake3, &data);
//! assert_eq!(tree.root(), *blake3::hash(&data).as_bytes());
//! let proof = tree.prove_segment(1).unwrap();
//! let segment = &data[256 * 1024..512 * 1024];
//! assert!(proof.verify(&tree.root(), data.len() as u64, 1, segment).unwrap());
//! ```

/// BLAKE3-native tree, proofs and outboard.
pub mod blake3_tree;
mod error;
/// One API over both tree kinds.
pub mod file;
/// 0G's append-only flow tree.
pub mod flow;
/// Keccak-256 of many messages at once (AVX-512 ×8, AVX2 ×4), for the Keccak tree.
pub mod keccak_lanes;
/// 0G-compatible Keccak sector tree.
pub mod keccak_tree;
mod segments;

pub use error::{MerkleError, Result};

pub use file::{
    FileHasher, FileTree, RootKind, SegmentProof, UnknownRootKind, file_root, segment_count, segment_node,
};

/// A 32-byte hash or chaining value.
pub type Hash = [u8; 32];

/// 0G's smallest unit ("chunk" in the 0G Go client).
pub const SECTOR_SIZE: usize = 256;
/// Sectors in one segment.
pub const SECTORS_PER_SEGMENT: usize = 1024;
/// The unit of upload, download, proof and replication: 256 KiB.
pub const SEGMENT_SIZE: usize = SECTOR_SIZE * SECTORS_PER_SEGMENT;
