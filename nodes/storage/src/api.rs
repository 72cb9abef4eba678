//! The storage API's JSON types, in 0G's shape (`zgs_*` methods, camelCase
//! fields, hex roots, base64 segment data).

use base64::Engine;
use serde::{Deserialize, Serialize};
use zg_merkle::{Hash, RootKind};

/// The standard engine for segment bytes.
pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A root as `0x`-prefixed hex.
pub fn root_hex(root: &Hash) -> String {
    format!("0x{}", hex::encode(root))
}

/// Parses a root given as hex, with or without `0x`.
pub fn parse_root(s: &str) -> Result<Hash, String> {
    let h = s.strip_prefix("0x").unwrap_or(s);
    let bytes = hex::decode(h).map_err(|e| format!("root {s:?} is not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("root {s:?} has {} bytes, expected 32", b.len()))
}

/// One segment with its proof, as uploaded and downloaded.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SegmentWithProof {
    /// File root (hex).
    pub root: String,
    /// Segment bytes (base64).
    pub data: String,
    /// Segment index.
    pub index: u64,
    /// The proof: zg-merkle's `SegmentProof` encoding, hex (its first byte names the root kind).
    pub proof: String,
    /// Bytes of the whole file.
    pub file_size: u64,
}

impl SegmentWithProof {
    /// Builds one from raw parts.
    pub fn new(
        root: &Hash,
        index: u64,
        data: &[u8],
        proof: &zg_merkle::SegmentProof,
        file_size: u64,
    ) -> Self {
        Self {
            root: root_hex(root),
            data: B64.encode(data),
            index,
            proof: hex::encode(proof.to_bytes()),
            file_size,
        }
    }
}

/// What a node knows of a file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    /// File root (hex).
    pub root: String,
    /// Bytes of the file.
    pub file_size: u64,
    /// `blake3` or `zg`.
    pub root_kind: String,
    /// Segments of the file.
    pub segment_count: u64,
    /// Segments stored so far.
    pub uploaded_seg_num: u64,
    /// Whether every segment is durable and the file can be downloaded.
    pub finalized: bool,
}

/// A node's status.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Software version.
    pub version: String,
    /// Files stored (finalized).
    pub files: usize,
    /// Segments stored.
    pub segments: usize,
    /// Bytes of the store's data files.
    pub used_bytes: u64,
    /// Where and how the store does I/O.
    pub backend: String,
    /// The node's p2p address, when networked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p: Option<String>,
}

/// Half-open ranges of segment indices, `[start, end)`.
pub type Ranges = Vec<[u64; 2]>;

/// The kind named by a string, for CLI flags and query strings.
pub fn parse_kind(s: &str) -> Result<RootKind, String> {
    s.parse::<RootKind>().map_err(|e| e.to_string())
}
