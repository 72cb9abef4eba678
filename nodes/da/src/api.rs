//! The DA node's JSON types, shared by node and client: submissions, headers,
//! cells, status and 0G DA signing requests, with ids and bytes as `0x` hex.

use serde::{Deserialize, Serialize};
use zg_blob as blob;
use zg_blob::da::SubmissionHeader;
use zg_kzg::{BYTES_PER_CELL, Bytes48};

pub use zg_codec::hex::HexBytes;

/// A submission id (the hash of its header): 32 bytes, `0x` hex in JSON, URLs and
/// on the command line.
pub type Id = HexBytes<32>;
/// A node's ed25519 public key, `0x` hex.
pub type NodeKey = HexBytes<32>;
/// A KZG commitment or proof, `0x` hex.
pub type Commitment = HexBytes<48>;

/// A submission's header in JSON: what a disperser sends before its cells.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HeaderJson {
    /// Payload bytes.
    pub payload_len: u64,
    /// Per blob.
    pub commitments: Vec<Commitment>,
}

impl HeaderJson {
    /// From a header.
    pub fn of(h: &SubmissionHeader) -> Self {
        Self {
            payload_len: h.payload_len,
            commitments: h.commitments.iter().copied().map(HexBytes).collect(),
        }
    }

    /// The header a node reported in `info`, checked.
    pub fn of_info(info: &SubmissionInfo) -> Result<SubmissionHeader, String> {
        Self {
            payload_len: info.payload_len,
            commitments: info.commitments.clone(),
        }
        .parse()
    }

    /// Parses and checks it (the id is computed from the commitments).
    pub fn parse(&self) -> Result<SubmissionHeader, String> {
        if self.commitments.len() > blob::MAX_BLOBS {
            return Err(format!(
                "{} commitments, at most {}",
                self.commitments.len(),
                blob::MAX_BLOBS
            ));
        }
        let commitments: Vec<Bytes48> = self.commitments.iter().map(|c| c.0).collect();
        SubmissionHeader::new(self.payload_len, commitments).map_err(|e| e.to_string())
    }
}

/// What the node says of a submission.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionInfo {
    /// The id.
    pub id: Id,
    /// Payload bytes.
    pub payload_len: u64,
    /// Per blob.
    pub commitments: Vec<Commitment>,
    /// Cells held of each blob.
    pub cells_held: Vec<usize>,
    /// Whether the node holds its custody of every blob.
    pub custody_held: bool,
}

/// A cell with its proof, hex.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CellJson {
    /// Position among the blob's 128 cells.
    pub index: u64,
    /// The cell.
    pub cell: HexBytes<BYTES_PER_CELL>,
    /// Its KZG proof.
    pub proof: Commitment,
}

/// The node's status.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DaStatus {
    /// Software version.
    pub version: String,
    /// The node's ed25519 public key (its libp2p identity).
    pub node: NodeKey,
    /// Cells of each blob this node keeps.
    pub custody_cells: usize,
    /// Submissions held.
    pub submissions: usize,
    /// Blob records held.
    pub blob_records: usize,
    /// Bytes of the store's data files.
    pub used_bytes: u64,
    /// The p2p address peers dial (with `/p2p/<peer id>`), when networked.
    pub p2p: Option<String>,
    /// The cells of each blob this node keeps.
    pub custody: Vec<u64>,
    /// Peers on the DA topic.
    pub peers: usize,
}

/// `POST /zerog/sign`: a disperser asks a quorum member to sign a 0G DA blob whose
/// rows it was sent (as cells of the zg submission holding the blob).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SignRequest {
    /// The zg submission that holds the blob.
    pub submission: Id,
    /// 0G's storage root of the blob.
    pub storage_root: HexBytes<32>,
    /// The epoch `DataUpload` gave it.
    pub epoch: u64,
    /// The quorum `DataUpload` gave it.
    pub quorum_id: u64,
    /// The block whose `DataUpload` the signer checks.
    pub block: u64,
}

/// A quorum member's signature of a blob.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SignResponse {
    /// The signer's account.
    pub signer: HexBytes<20>,
    /// Rows of the quorum it signed for.
    pub rows: usize,
    /// σ = sk·H(digest), a G1 point as two big-endian words.
    pub signature: [HexBytes<32>; 2],
}
