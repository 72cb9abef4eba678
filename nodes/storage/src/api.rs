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

    /// What the node knows of a file, or null. A file paid for on the followed Flow
    /// is known from its `Submit` log on, before any segment arrives. `needAvailable`
    /// (0G's second parameter) changes nothing: this node answers for what it holds.
    #[method(name = "zgs_getFileInfo", blocking)]
    fn get_file_info(&self, root: Root, need_available: Option<bool>) -> RpcResult<Option<FileInfo>>;

    /// What the node knows of the submission with tx seq `tx_seq`, or null.
    #[method(name = "zgs_getFileInfoByTxSeq", blocking)]
    fn get_file_info_by_tx_seq(&self, tx_seq: u64) -> RpcResult<Option<FileInfo>>;

    /// Which shard of the flow this node keeps.
    #[method(name = "zgs_getShardConfig", blocking)]
    fn get_shard_config(&self) -> RpcResult<ShardConfig>;

    /// Stores segments of the paid submission `tx_seq` (0G's segment shape); returns how
    /// many were taken. A finalized file answers 0G's "already uploaded and finalized".
    #[method(name = "zgs_uploadSegmentsByTxSeq", blocking)]
    fn upload_segments_by_tx_seq(&self, segments: Vec<FlowSegment>, tx_seq: u64) -> RpcResult<u64>;

    /// One segment of the paid submission `tx_seq`, as `zgs_uploadSegmentsByTxSeq`.
    #[method(name = "zgs_uploadSegmentByTxSeq", blocking)]
    fn upload_segment_by_tx_seq(&self, segment: FlowSegment, tx_seq: u64) -> RpcResult<u64>;

    /// Chunks `start..end` (256 bytes each, file-relative, at most 1024) of the
    /// finalized submission `seq`, base64, the last chunk zero-padded; null when the
    /// node does not hold it.
    #[method(name = "zgs_downloadSegmentByTxSeq", blocking)]
    fn download_segment_by_tx_seq(&self, tx_seq: u64, start: u64, end: u64) -> RpcResult<Option<String>>;

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

/// A submission as 0G's node reports it in `FileInfo.tx`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FlowTx {
    /// 0G's stream ids (none here).
    pub stream_ids: Vec<String>,
    /// 0G's inline data (none here).
    pub data: Vec<u8>,
    /// The file's root.
    pub data_merkle_root: Root,
    /// The submission nodes as `[height, root]`, largest first.
    pub merkle_nodes: Vec<(u32, Root)>,
    /// The first flow position, in sectors.
    pub start_entry_index: u64,
    /// Bytes of the file.
    pub size: u64,
    /// The tx sequence number.
    pub seq: u64,
}

/// A shard of the flow: the segments whose index ≡ `shard_id` mod `num_shard`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ShardConfig {
    /// This node's shard.
    pub shard_id: u64,
    /// Shards the flow is cut into (a power of two).
    pub num_shard: u64,
}

/// A segment as 0G's SDKs upload it: the proof as `lemma` (segment root, siblings
/// bottom-up, file root) and `path` (true where the node is a left child); the last
/// segment cut to whole 256-byte chunks.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FlowSegment {
    /// File root.
    pub root: Root,
    /// Segment bytes (base64).
    pub data: String,
    /// Segment index.
    pub index: u64,
    /// The Merkle proof.
    pub proof: FlowProof,
    /// Bytes of the whole file.
    pub file_size: u64,
}

/// 0G's proof shape.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FlowProof {
    /// Segment root, siblings bottom-up, file root.
    pub lemma: Vec<Root>,
    /// Per sibling: whether the node is the left child.
    pub path: Vec<bool>,
}

/// The node's place in a network following a chain, as 0G's clients read it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkIdentity {
    /// The followed chain's id.
    pub chain_id: u64,
    /// The Flow contract's address.
    pub flow_address: String,
    /// 0G's p2p protocol version.
    pub p2p_protocol_version: ProtocolVersion,
}

/// A protocol version.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProtocolVersion {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Build.
    pub build: u64,
}

/// What a node knows of a file: zg's fields and 0G's (`tx`, `isCached`, `pruned`).
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
    /// The paid submission, for a file on the followed Flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx: Option<FlowTx>,
    /// 0G's cache flag (always false: nothing is cached apart from the store).
    #[serde(default)]
    pub is_cached: bool,
    /// 0G's pruned flag (always false: nothing is pruned).
    #[serde(default)]
    pub pruned: bool,
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
    /// Storage peers connected.
    #[serde(default)]
    pub connected_peers: usize,
    /// The next block the node reads the Flow's logs from, less one (0 off-chain).
    #[serde(default)]
    pub log_sync_height: u64,
    /// 0G's hash of that block (zero: not tracked).
    #[serde(default)]
    pub log_sync_block: Root,
    /// The tx seq the next submission gets, as far as the node has followed.
    #[serde(default)]
    pub next_tx_seq: u64,
    /// The followed chain and Flow; absent off-chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_identity: Option<NetworkIdentity>,
}

/// Half-open ranges of segment indices, `[start, end)`.
pub type Ranges = Vec<[u64; 2]>;

/// Contiguous runs of ascending `indices`, as `[start, end)` ranges.
pub fn ranges(indices: impl Iterator<Item = u64>) -> Ranges {
    let mut out: Ranges = Vec::new();
    for i in indices {
        match out.last_mut() {
            Some(r) if r[1] == i => r[1] += 1,
            _ => out.push([i, i + 1]),
        }
    }
    out
}

/// The kind named by a string, for CLI flags and query strings.
pub fn parse_kind(s: &str) -> Result<RootKind, String> {
    s.parse::<RootKind>().map_err(|e| e.to_string())
}
