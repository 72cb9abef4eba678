//! The DA service: a node's DA store, key and custody columns, and what it
//! attests; the HTTP API and p2p replication are its transports.

use std::sync::atomic::AtomicU64;

use tokio::sync::Semaphore;
use zg_blob::da::{Attestation, CellSet, DaError, DaStore, NodeKey, SubmissionHeader};
use zg_kzg::KzgContext;
use zg_node::p2p::Network;

use crate::api::{AttestationJson, SubmissionInfo, hex0x, id_hex};
use crate::server::DaConfig;

#[derive(Default)]
/// Counters the node reports on `/metrics`.
pub(crate) struct Metrics {
    pub(crate) submissions: AtomicU64,
    pub(crate) payload_bytes_in: AtomicU64,
    pub(crate) cells_in: AtomicU64,
    pub(crate) proof_failures: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) cells_served: AtomicU64,
    pub(crate) payloads_served: AtomicU64,
    pub(crate) encode_us_sum: AtomicU64,
    pub(crate) encodes: AtomicU64,
    pub(crate) peer_requests: AtomicU64,
    pub(crate) replicated: AtomicU64,
    pub(crate) peer_proof_failures: AtomicU64,
    pub(crate) samples_verified: AtomicU64,
    pub(crate) cells_from_peers: AtomicU64,
}

/// A DA node's state: its store, key and custody, shared by its transports.
pub(crate) struct DaService {
    pub(crate) da: DaStore,
    pub(crate) key: NodeKey,
    pub(crate) custody: CellSet,
    pub(crate) kzg: &'static KzgContext,
    pub(crate) cfg: DaConfig,
    pub(crate) encode_slots: Semaphore,
    pub(crate) queue: Semaphore,
    pub(crate) metrics: Metrics,
    pub(crate) net: Option<Network>,
}

impl DaService {
    /// The cells held of each blob (one read of the submission's records), and the
    /// attestation once every blob holds at least this node's custody.
    pub(crate) fn share(
        &self,
        header: &SubmissionHeader,
    ) -> Result<(Vec<CellSet>, Option<Attestation>), DaError> {
        let held = self.da.custody(header)?;
        let complete = held.iter().all(|h| h.0 & self.custody.0 == self.custody.0);
        Ok((held, complete.then(|| self.key.attest(header))))
    }

    pub(crate) fn info(&self, header: &SubmissionHeader) -> Result<SubmissionInfo, DaError> {
        let (held, attestation) = self.share(header)?;
        Ok(SubmissionInfo {
            id: id_hex(&header.id),
            payload_len: header.payload_len,
            commitments: header.commitments.iter().map(|c| hex0x(c)).collect(),
            cells_held: held.iter().map(|c| c.len()).collect(),
            attestation: attestation.as_ref().map(AttestationJson::from),
        })
    }
}
