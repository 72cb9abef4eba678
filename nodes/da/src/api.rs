//! The DA node's JSON types, shared by node and client: submissions, headers,
//! attestations, cells and status, with ids and bytes as `0x` hex.

use serde::{Deserialize, Serialize};
use zg_blob as blob;
use zg_blob::da::{Attestation, SubmissionHeader, SubmissionId};
use zg_kzg::Bytes48;

pub(crate) use zg_codec::hex::encode_0x as hex0x;

/// `N` bytes from hex (`0x` optional); the error names `what`.
pub(crate) fn parse_hex<const N: usize>(what: &str, s: &str) -> Result<[u8; N], String> {
    zg_codec::hex::parse(s).map_err(|e| format!("{what}: {e}"))
}

/// A submission id as `0x` hex.
pub fn id_hex(id: &SubmissionId) -> String {
    hex0x(id)
}

/// Parses a submission id (hex, `0x` optional).
pub fn parse_id(s: &str) -> Result<SubmissionId, String> {
    parse_hex("submission id", s)
}

/// An attestation in JSON.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AttestationJson {
    /// The node's ed25519 public key, hex.
    pub node: String,
    /// Its signature, hex.
    pub signature: String,
}

impl From<&Attestation> for AttestationJson {
    fn from(a: &Attestation) -> Self {
        Self {
            node: hex0x(&a.node),
            signature: hex0x(&a.signature),
        }
    }
}

impl AttestationJson {
    /// Back to bytes.
    pub fn parse(&self) -> Result<Attestation, String> {
        Ok(Attestation {
            node: parse_hex("node key", &self.node)?,
            signature: parse_hex("signature", &self.signature)?,
        })
    }
}

/// A submission's header in JSON: what a disperser sends before its cells.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HeaderJson {
    /// Payload bytes.
    pub payload_len: u64,
    /// Per blob, hex.
    pub commitments: Vec<String>,
}

impl HeaderJson {
    /// From a header.
    pub fn of(h: &SubmissionHeader) -> Self {
        Self {
            payload_len: h.payload_len,
            commitments: h.commitments.iter().map(|c| hex0x(c)).collect(),
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
        let commitments = self
            .commitments
            .iter()
            .map(|c| parse_hex::<48>("commitment", c))
            .collect::<Result<Vec<Bytes48>, _>>()?;
        SubmissionHeader::new(self.payload_len, commitments).map_err(|e| e.to_string())
    }
}

/// What the node says of a submission.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionInfo {
    /// The id, hex.
    pub id: String,
    /// Payload bytes.
    pub payload_len: u64,
    /// Per blob, hex.
    pub commitments: Vec<String>,
    /// Cells held of each blob.
    pub cells_held: Vec<usize>,
    /// The node's attestation, once it holds its share of every blob.
    pub attestation: Option<AttestationJson>,
}

/// A cell with its proof, hex.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CellJson {
    /// Position among the blob's 128 cells.
    pub index: u64,
    /// The cell (2048 bytes).
    pub cell: String,
    /// Its KZG proof (48 bytes).
    pub proof: String,
}

/// The node's status.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DaStatus {
    /// Software version.
    pub version: String,
    /// The node's ed25519 public key (attestations verify against it).
    pub node: String,
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
