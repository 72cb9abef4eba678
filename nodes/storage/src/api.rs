//! The storage API's JSON types, in 0G's shape (`zgs_*` methods, camelCase
//! fields, hex roots, base64 segment data).

use base64::Engine;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use serde::{Deserialize, Serialize};
use zg_merkle::{Hash, RootKind};

pub use zg_codec::hex::{HexBytes, HexVec};

/// A file root: 32 bytes, `0x` hex in JSON and on the command line.
pub type Root = HexBytes<32>;

/// The storage node's JSON-RPC methods, defined once for the node (`StorageRpcServer`)
/// and for clients (`StorageRpcClient`, on any jsonrpsee client). Roots travel as hex
/// strings (`0x` optional), segment bytes as base64, as 0G's clients send them; a
/// root that is not 32 bytes of hex is refused as invalid params before any method runs.
#[rpc(server, client)]
pub trait StorageRpc {
    /// The node's version, what it holds and where.
    #[method(name = "zgs_getStatus", blocking)]
    fn get_status(&self) -> RpcResult<Status>;

    /// Stores one segment after checking it against its root.
    #[method(name = "zgs_uploadSegment", blocking)]
    fn upload_segment(&self, segment: SegmentWithProof) -> RpcResult<()>;

    /// Stores segments after checking each against its root; all or none.
    #[method(name = "zgs_uploadSegments", blocking)]
    fn upload_segments(&self, segments: Vec<SegmentWithProof>) -> RpcResult<()>;

    /// What the node knows of a file, or null.
    #[method(name = "zgs_getFileInfo", blocking)]
    fn get_file_info(&self, root: Root) -> RpcResult<Option<FileInfo>>;

    /// Whether the file is finalized, or null when the node has never heard of it.
    #[method(name = "zgs_checkFileFinalized", blocking)]
    fn check_file_finalized(&self, root: Root) -> RpcResult<Option<bool>>;

    /// The segment ranges an upload in progress still lacks (zg's own, for resuming).
    #[method(name = "zg_missingSegments", blocking)]
    fn missing_segments(&self, root: Root) -> RpcResult<Ranges>;

    /// Segments `start..end` of a finalized file, concatenated, base64.
    #[method(name = "zgs_downloadSegment", blocking)]
    fn download_segment(&self, root: Root, start: u64, end: u64) -> RpcResult<String>;

    /// One segment with its proof.
    #[method(name = "zgs_downloadSegmentWithProof", blocking)]
    fn download_segment_with_proof(&self, root: Root, index: u64) -> RpcResult<SegmentWithProof>;
}

/// The standard engine for segment bytes.
pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One segment with its proof, as uploaded and downloaded.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SegmentWithProof {
    /// File root.
    pub root: Root,
    /// Segment bytes (base64).
    pub data: String,
    /// Segment index.
    pub index: u64,
    /// The proof: zg-merkle's `SegmentProof` encoding (its first byte names the root kind).
    pub proof: HexVec,
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
            root: Root::from(*root),
            data: B64.encode(data),
            index,
            proof: HexVec(proof.to_bytes()),
            file_size,
        }
    }
}

/// What a node knows of a file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    /// File root.
    pub root: Root,
    /// Bytes of the file.
    pub file_size: u64,
    /// `blake3` or `keccak` (0G's tree).
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
