//! The DA service: a node's DA store, key and custody columns, and what it holds;
//! the HTTP API and p2p replication are its transports.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Semaphore;
use zg_blob::da::{CellSet, DaError, DaStore, NodeKey, SubmissionHeader, SubmissionId, decode_blob_record};
use zg_blob::{self as blob, CellWithProof};
use zg_kzg::KzgContext;
use zg_node::metrics::{Counter, Histogram, Registry};
use zg_node::p2p::Network;
use zg_store::Store;

use crate::api::{HeaderJson, HexBytes, Id, SubmissionInfo};
use crate::chain::DaChain;
use crate::server::DaConfig;
use crate::wire::DaProtocol;

/// What the node reports on `/metrics`.
pub(crate) struct Metrics {
    pub(crate) submissions: Counter,
    pub(crate) payload_bytes_in: Counter,
    pub(crate) cells_in: Counter,
    pub(crate) proof_failures: Counter,
    pub(crate) rejected: Counter,
    pub(crate) cells_served: Counter,
    pub(crate) payloads_served: Counter,
    pub(crate) encode_seconds: Histogram,
    pub(crate) peer_requests: Counter,
    pub(crate) replicated: Counter,
    pub(crate) peer_proof_failures: Counter,
    pub(crate) samples_verified: Counter,
    pub(crate) cells_from_peers: Counter,
}

impl Metrics {
    /// Fresh metrics, and a registry of them (and of the network's, when networked).
    fn new(net: Option<&Network<DaProtocol>>) -> (Self, Registry) {
        let m = Self {
            submissions: Counter::default(),
            payload_bytes_in: Counter::default(),
            cells_in: Counter::default(),
            proof_failures: Counter::default(),
            rejected: Counter::default(),
            cells_served: Counter::default(),
            payloads_served: Counter::default(),
            encode_seconds: zg_node::metrics::seconds(),
            peer_requests: Counter::default(),
            replicated: Counter::default(),
            peer_proof_failures: Counter::default(),
            samples_verified: Counter::default(),
            cells_from_peers: Counter::default(),
        };
        let mut r = Registry::default();
        let counters = [
            ("zg_da_submissions", "Payloads encoded and stored", &m.submissions),
            (
                "zg_da_payload_bytes_in",
                "Payload bytes encoded",
                &m.payload_bytes_in,
            ),
            (
                "zg_da_cells_in",
                "Cells received from dispersers and stored after verification",
                &m.cells_in,
            ),
            (
                "zg_da_proof_failures",
                "Cell batches refused for failing their KZG proofs",
                &m.proof_failures,
            ),
            (
                "zg_da_rejected",
                "Requests refused as malformed, oversized or over limits",
                &m.rejected,
            ),
            ("zg_da_cells_served", "Cells served", &m.cells_served),
            ("zg_da_payloads_served", "Payloads served", &m.payloads_served),
            (
                "zg_da_peer_requests",
                "Requests from peers answered",
                &m.peer_requests,
            ),
            (
                "zg_da_replicated",
                "Submissions whose custody cells were fetched from peers",
                &m.replicated,
            ),
            (
                "zg_da_peer_proof_failures",
                "Cells from peers refused for failing their KZG proofs",
                &m.peer_proof_failures,
            ),
            (
                "zg_da_samples_verified",
                "Cells sampled from peers and verified",
                &m.samples_verified,
            ),
            (
                "zg_da_cells_from_peers",
                "Cells fetched from peers to rebuild payloads",
                &m.cells_from_peers,
            ),
        ];
        for (name, help, counter) in counters {
            r.register(name, help, counter.clone());
        }
        r.register(
            "zg_da_encode_seconds",
            "Encoding and storing a payload",
            m.encode_seconds.clone(),
        );
        if let Some(net) = net {
            net.stats().register(&mut r);
        }
        (m, r)
    }
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
    /// Every metric, for `/metrics`.
    pub(crate) registry: Registry,
    pub(crate) net: Option<Network<DaProtocol>>,
    /// 0G DA's contracts, when the node follows a chain: it signs quorum rows and
    /// certifies what it disperses.
    pub(crate) chain: Option<DaChain>,
    /// 0G storage roots this node computed for submissions it holds (bounded).
    roots: Mutex<HashMap<SubmissionId, [u8; 32]>>,
}

/// Runs blocking store, KZG or hashing work for an async caller off the async
/// threads; a task that dies is reported as `what` failing.
pub(crate) async fn off_thread<T, E>(
    node: &Arc<DaService>,
    what: &'static str,
    f: impl FnOnce(&DaService) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<DaError> + Send + 'static,
{
    let n = node.clone();
    tokio::task::spawn_blocking(move || f(&n)).await.map_err(|e| {
        E::from(DaError::Malformed {
            what,
            reason: e.to_string(),
        })
    })?
}

/// Roots remembered before the map starts over.
const MAX_ROOTS: usize = 4096;

/// What storing one blob's cells left the node holding.
#[derive(Debug)]
pub(crate) struct CellsStored {
    /// The cells of that blob now held.
    pub(crate) held: CellSet,
    /// Whether it holds its custody of every blob.
    pub(crate) custody_held: bool,
    /// Whether every cell of every blob is held (the node can serve the whole submission).
    pub(crate) complete: bool,
}

impl DaService {
    /// A service over `store` that signs as `key` and keeps `custody` of every blob.
    pub(crate) fn new(
        store: Store,
        key: NodeKey,
        custody: CellSet,
        kzg: &'static KzgContext,
        cfg: DaConfig,
        net: Option<Network<DaProtocol>>,
        chain: Option<DaChain>,
    ) -> Self {
        let (metrics, registry) = Metrics::new(net.as_ref());
        Self {
            da: DaStore::new(store),
            custody,
            kzg,
            encode_slots: Semaphore::new(cfg.max_concurrent_encodes.max(1)),
            queue: Semaphore::new(cfg.max_queued.max(1)),
            key,
            cfg,
            metrics,
            registry,
            net,
            chain,
            roots: Mutex::new(HashMap::new()),
        }
    }

    /// The 0G storage root this node computed for submission `id`, if it did.
    pub(crate) fn verified_root(&self, id: &SubmissionId) -> Option<[u8; 32]> {
        self.roots.lock().ok()?.get(id).copied()
    }

    /// Remembers the 0G storage root computed for submission `id`.
    pub(crate) fn remember_root(&self, id: SubmissionId, root: [u8; 32]) {
        if let Ok(mut roots) = self.roots.lock() {
            if roots.len() >= MAX_ROOTS {
                roots.clear();
            }
            roots.insert(id, root);
        }
    }

    /// Encodes a payload into blobs, stores every cell, and says what the node holds.
    pub(crate) fn submit(&self, payload: &[u8]) -> Result<SubmissionInfo, DaError> {
        let started = Instant::now();
        let sub = blob::encode(self.kzg, payload)?;
        let header = self.da.put_encoded(&sub)?;
        self.metrics
            .encode_seconds
            .observe(started.elapsed().as_secs_f64());
        self.metrics.submissions.inc();
        self.metrics.payload_bytes_in.inc_by(payload.len() as u64);
        self.info(&header)
    }

    /// Stores the header a disperser announces as submission `id`: its commitments
    /// must hash to `id`.
    pub(crate) fn put_header(
        &self,
        id: &SubmissionId,
        json: &HeaderJson,
    ) -> Result<SubmissionHeader, DaError> {
        let header = json.parse().map_err(|reason| DaError::Malformed {
            what: "submission header",
            reason,
        })?;
        if header.id != *id {
            return Err(DaError::Mismatch {
                id: Id::from(*id).to_string(),
                reason: format!("the commitments name submission {}", Id::from(header.id)),
            });
        }
        self.da.put_header(&header)?;
        Ok(header)
    }

    /// The header of submission `id`, if held.
    pub(crate) fn header(&self, id: &SubmissionId) -> Result<SubmissionHeader, DaError> {
        self.da
            .header(id)?
            .ok_or_else(|| DaError::NotFound(Id::from(*id).to_string()))
    }

    /// Verifies the cells of one blob (a blob record: custody bitmap, then cells and
    /// proofs) against its commitment and stores them; nothing is stored if any fails.
    pub(crate) fn put_cells(
        &self,
        header: &SubmissionHeader,
        blob: usize,
        record: &[u8],
    ) -> Result<CellsStored, DaError> {
        let cells = decode_blob_record(record)?;
        let held = self.da.put_cells(self.kzg, header, blob, &cells)?;
        self.metrics.cells_in.inc_by(cells.len() as u64);
        let (all_held, custody_held) = self.share(header)?;
        Ok(CellsStored {
            held,
            custody_held,
            complete: all_held.iter().all(|h| *h == CellSet::ALL),
        })
    }

    /// One held cell with its proof.
    pub(crate) fn cell(&self, id: &SubmissionId, blob: usize, index: u64) -> Result<CellWithProof, DaError> {
        let cell = self.da.cell(id, blob, index)?;
        self.metrics.cells_served.inc();
        Ok(cell)
    }

    /// The payload, rebuilt from the cells held (at least half of each blob's).
    pub(crate) fn payload(&self, id: &SubmissionId) -> Result<Vec<u8>, DaError> {
        let payload = self.da.payload(self.kzg, id)?;
        self.metrics.payloads_served.inc();
        Ok(payload)
    }

    /// The cells held of each blob (one read of the submission's records), and the
    /// whether every blob holds at least this node's custody.
    pub(crate) fn share(&self, header: &SubmissionHeader) -> Result<(Vec<CellSet>, bool), DaError> {
        let held = self.da.custody(header)?;
        let complete = held.iter().all(|h| h.0 & self.custody.0 == self.custody.0);
        Ok((held, complete))
    }

    pub(crate) fn info(&self, header: &SubmissionHeader) -> Result<SubmissionInfo, DaError> {
        let (held, custody_held) = self.share(header)?;
        Ok(SubmissionInfo {
            id: Id::from(header.id),
            payload_len: header.payload_len,
            commitments: header.commitments.iter().copied().map(HexBytes).collect(),
            cells_held: held.iter().map(|c| c.len()).collect(),
            custody_held,
        })
    }
}

#[cfg(test)]
mod tests;
