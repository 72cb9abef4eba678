//! The DA node: zg-core's blob pipeline and DA store behind an HTTP API.
//!
//! A client either posts a payload (the node encodes it: commitments, cells, proofs)
//! or disperses one it encoded itself: the header, then each blob's cells, which the
//! node checks against their commitments before it stores them. Once it holds its
//! share of every blob, the node signs an attestation; a client collects them into a
//! certificate. Cells are served one by one with their proofs, and the payload whole.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use zg_core::blob::{self, BlobError, MAX_PAYLOAD};
use zg_core::da::{
    Attestation, CellSet, DaError, DaStore, MAX_BLOB_RECORD, NodeKey, SubmissionHeader, SubmissionId,
    custody_columns, decode_blob_record, encode_blob_record,
};

use crate::p2p::{DaRequest, DaResponse, NetEvent, NetStats, Network, P2pConfig, Service};
use zg_core::store::{Store, StoreError, StoreOptions};
use zg_kzg::{Bytes48, KzgContext};

/// How a DA node runs.
#[derive(Clone, Debug)]
pub struct DaConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the store and the node key live.
    pub data_dir: PathBuf,
    /// Payloads encoded at once (each uses every core); more wait their turn.
    pub max_concurrent_encodes: usize,
    /// Submissions waiting to be encoded beyond which new ones get 503.
    pub max_queued: usize,
    /// Store capacity in bytes.
    pub capacity: Option<u64>,
    /// Join the p2p network (`None`: a standalone node that keeps every cell).
    pub p2p: Option<P2pConfig>,
    /// Cells of each blob a networked node keeps (chosen from its peer id).
    pub custody_columns: usize,
    /// Fault injection for tests: serve peers cells with one bit flipped.
    pub serve_bad_cells: bool,
}

impl Default for DaConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 34000)),
            data_dir: PathBuf::from(".zg/da"),
            max_concurrent_encodes: 1,
            max_queued: 8,
            capacity: None,
            p2p: None,
            custody_columns: 64,
            serve_bad_cells: false,
        }
    }
}

/// Random cells beyond its custody a node samples from the announcing peer.
const SAMPLES_PER_SUBMISSION: usize = 8;

/// Name of the node key file in the data directory.
pub const KEY_FILE: &str = "node.key";

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn parse_hex<const N: usize>(what: &str, s: &str) -> Result<[u8; N], String> {
    let h = s.strip_prefix("0x").unwrap_or(s);
    let bytes = hex::decode(h).map_err(|e| format!("{what} {s:?} is not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("{what} has {} bytes, expected {N}", b.len()))
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

#[derive(Default)]
struct Metrics {
    submissions: AtomicU64,
    payload_bytes_in: AtomicU64,
    cells_in: AtomicU64,
    proof_failures: AtomicU64,
    rejected: AtomicU64,
    cells_served: AtomicU64,
    payloads_served: AtomicU64,
    encode_us_sum: AtomicU64,
    encodes: AtomicU64,
    peer_requests: AtomicU64,
    replicated: AtomicU64,
    peer_proof_failures: AtomicU64,
    samples_verified: AtomicU64,
    cells_from_peers: AtomicU64,
}

struct Node {
    da: DaStore,
    key: NodeKey,
    custody: CellSet,
    kzg: &'static KzgContext,
    cfg: DaConfig,
    encode_slots: Semaphore,
    queue: Semaphore,
    metrics: Metrics,
    net: Option<Network>,
}

impl Node {
    /// The cells held of each blob (one read of the submission's records), and the
    /// attestation once every blob holds at least this node's custody.
    fn share(&self, header: &SubmissionHeader) -> Result<(Vec<CellSet>, Option<Attestation>), DaError> {
        let held = self.da.custody(header)?;
        let complete = held.iter().all(|h| h.0 & self.custody.0 == self.custody.0);
        Ok((held, complete.then(|| self.key.attest(header))))
    }

    fn info(&self, header: &SubmissionHeader) -> Result<SubmissionInfo, DaError> {
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

fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, msg.into() + "\n").into_response()
}

fn da_error(node: &Node, e: &DaError) -> Response {
    let status = match e {
        DaError::Malformed { .. } | DaError::Mismatch { .. } => StatusCode::BAD_REQUEST,
        DaError::NotFound(_) | DaError::CellNotHeld { .. } => StatusCode::NOT_FOUND,
        DaError::Blob(BlobError::ProofFailed { .. }) => {
            node.metrics.proof_failures.fetch_add(1, Ordering::Relaxed);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        DaError::Blob(BlobError::PayloadTooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
        DaError::Blob(BlobError::BadCells { .. } | BlobError::Kzg(_) | BlobError::BadPacking(_)) => {
            StatusCode::BAD_REQUEST
        }
        DaError::Store(StoreError::Full { .. } | StoreError::DiskFull { .. }) => {
            StatusCode::INSUFFICIENT_STORAGE
        }
        DaError::Store(_) | DaError::Key { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status.is_client_error() {
        node.metrics.rejected.fetch_add(1, Ordering::Relaxed);
    } else {
        tracing::error!(error = %e, "DA request failed");
    }
    text(status, e.to_string())
}

type App = Arc<Node>;

// Runs blocking store or KZG work off the async threads.
async fn blocking<T: Send + 'static>(
    node: &App,
    f: impl FnOnce(&Node) -> Result<T, DaError> + Send + 'static,
) -> Result<T, Response> {
    let n = node.clone();
    match tokio::task::spawn_blocking(move || f(&n)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(da_error(node, &e)),
        Err(e) => Err(text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

fn declared_len(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// `POST /submissions`: the body is the payload; the node encodes and stores it.
async fn post_submission(State(node): State<App>, headers: HeaderMap, body: Body) -> Response {
    if declared_len(&headers).is_some_and(|n| n > MAX_PAYLOAD as u64) {
        node.metrics.rejected.fetch_add(1, Ordering::Relaxed);
        return text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("payload exceeds the maximum of {MAX_PAYLOAD} bytes (256 blobs); split it"),
        );
    }
    let Ok(_queued) = node.queue.try_acquire() else {
        node.metrics.rejected.fetch_add(1, Ordering::Relaxed);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            "too many submissions waiting to be encoded; retry later\n",
        )
            .into_response();
    };
    // Read at most the limit: a body that runs past it is refused, not buffered.
    let payload = match axum::body::to_bytes(body, MAX_PAYLOAD).await {
        Ok(p) => p,
        Err(e) => {
            node.metrics.rejected.fetch_add(1, Ordering::Relaxed);
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("reading the payload failed (at most {MAX_PAYLOAD} bytes): {e}"),
            );
        }
    };
    let Ok(_slot) = node.encode_slots.acquire().await else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "node is shutting down");
    };
    let len = payload.len();
    let result = blocking(&node, move |n| {
        let started = Instant::now();
        let sub = blob::encode(n.kzg, &payload)?;
        let header = n.da.put_encoded(&sub)?;
        let us = started.elapsed().as_micros() as u64;
        n.metrics.encode_us_sum.fetch_add(us, Ordering::Relaxed);
        n.metrics.encodes.fetch_add(1, Ordering::Relaxed);
        n.info(&header)
    })
    .await;
    match result {
        Ok(info) => {
            node.metrics.submissions.fetch_add(1, Ordering::Relaxed);
            node.metrics
                .payload_bytes_in
                .fetch_add(len as u64, Ordering::Relaxed);
            tracing::info!(id = %info.id, bytes = len, blobs = info.commitments.len(), "submission encoded and stored");
            if let (Some(net), Ok(header)) = (&node.net, HeaderJson::of_info(&info)) {
                net.announce(&header).await;
            }
            (StatusCode::CREATED, Json(info)).into_response()
        }
        Err(r) => r,
    }
}

async fn header_of(node: &App, id: &str) -> Result<SubmissionHeader, Response> {
    let id = parse_id(id).map_err(|e| text(StatusCode::BAD_REQUEST, e))?;
    blocking(node, move |n| {
        n.da.header(&id)?.ok_or_else(|| DaError::NotFound(id_hex(&id)))
    })
    .await
}

/// `PUT /submissions/{id}`: a disperser announces a submission it encoded.
async fn put_header(State(node): State<App>, Path(id): Path<String>, Json(h): Json<HeaderJson>) -> Response {
    let header = match (parse_id(&id), h.parse()) {
        (Ok(id), Ok(header)) if header.id == id => header,
        (Ok(_), Ok(header)) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("the commitments name submission {}, not {id}", id_hex(&header.id)),
            );
        }
        (Err(e), _) | (_, Err(e)) => return text(StatusCode::BAD_REQUEST, e),
    };
    match blocking(&node, move |n| {
        n.da.put_header(&header)?;
        n.info(&header)
    })
    .await
    {
        Ok(info) => Json(info).into_response(),
        Err(r) => r,
    }
}

/// `PUT /submissions/{id}/blobs/{blob}`: cells of one blob (a blob record: custody
/// bitmap, then cells and proofs), verified before they are stored.
async fn put_cells(
    State(node): State<App>,
    Path((id, blob)): Path<(String, usize)>,
    body: Bytes,
) -> Response {
    let header = match header_of(&node, &id).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    let result = blocking(&node, move |n| {
        let cells = decode_blob_record(&body)?;
        let count = cells.len() as u64;
        let held = n.da.put_cells(n.kzg, &header, blob, &cells)?;
        n.metrics.cells_in.fetch_add(count, Ordering::Relaxed);
        let (all_held, attestation) = n.share(&header)?;
        // Announced once this node can serve every cell of every blob.
        let announce = all_held.iter().all(|h| *h == CellSet::ALL);
        Ok((held, attestation, announce.then_some(header)))
    })
    .await;
    match result {
        Ok((held, attestation, announce)) => {
            if let (Some(net), Some(header)) = (&node.net, announce) {
                net.announce(&header).await;
            }
            Json(serde_json::json!({
            "blob": blob,
            "cellsHeld": held.len(),
            "attestation": attestation.as_ref().map(AttestationJson::from),
            }))
            .into_response()
        }
        Err(r) => {
            tracing::warn!(submission = %id, blob, status = %r.status(), "cells refused");
            r
        }
    }
}

/// `GET /submissions/{id}`.
async fn get_submission(State(node): State<App>, Path(id): Path<String>) -> Response {
    let header = match header_of(&node, &id).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    match blocking(&node, move |n| n.info(&header)).await {
        Ok(info) => Json(info).into_response(),
        Err(r) => r,
    }
}

/// `GET /submissions/{id}/blobs/{blob}/cells/{cell}`: one cell and its proof.
async fn get_cell(State(node): State<App>, Path((id, blob, cell)): Path<(String, usize, u64)>) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    match blocking(&node, move |n| n.da.cell(&id, blob, cell)).await {
        Ok(c) => {
            node.metrics.cells_served.fetch_add(1, Ordering::Relaxed);
            Json(CellJson {
                index: c.index,
                cell: hex0x(&c.cell),
                proof: hex0x(&c.proof),
            })
            .into_response()
        }
        Err(r) => r,
    }
}

/// `GET /submissions/{id}/payload`: the payload, rebuilt from the cells held.
async fn get_payload(State(node): State<App>, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    if let Err(r) = fill_from_peers(&node, id).await {
        return r;
    }
    match blocking(&node, move |n| n.da.payload(n.kzg, &id)).await {
        Ok(payload) => {
            node.metrics.payloads_served.fetch_add(1, Ordering::Relaxed);
            ([(header::CONTENT_TYPE, "application/octet-stream")], payload).into_response()
        }
        Err(r) => r,
    }
}

async fn status(State(node): State<App>) -> Response {
    let stats = node.da.store().stats();
    let peers = match &node.net {
        Some(net) => net.peers().await.len(),
        None => 0,
    };
    Json(DaStatus {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        node: hex0x(&node.key.node_id()),
        custody_cells: node.custody.len(),
        submissions: stats.metas,
        blob_records: stats.segments,
        used_bytes: stats.used_bytes,
        p2p: node.net.as_ref().map(|n| n.listen_addr().to_string()),
        custody: node.custody.indices().collect(),
        peers,
    })
    .into_response()
}

async fn metrics(State(node): State<App>) -> Response {
    let m = &node.metrics;
    let net = node.net.as_ref().map(Network::stats);
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let body = format!(
        "# HELP zg_da_submissions_total Payloads encoded and stored.\n# TYPE zg_da_submissions_total counter\nzg_da_submissions_total {}\n\
         # HELP zg_da_payload_bytes_in_total Payload bytes encoded.\n# TYPE zg_da_payload_bytes_in_total counter\nzg_da_payload_bytes_in_total {}\n\
         # HELP zg_da_cells_in_total Cells received from dispersers and stored after verification.\n# TYPE zg_da_cells_in_total counter\nzg_da_cells_in_total {}\n\
         # HELP zg_da_proof_failures_total Cell batches refused for failing their KZG proofs.\n# TYPE zg_da_proof_failures_total counter\nzg_da_proof_failures_total {}\n\
         # HELP zg_da_rejected_total Requests refused as malformed, oversized or over limits.\n# TYPE zg_da_rejected_total counter\nzg_da_rejected_total {}\n\
         # HELP zg_da_cells_served_total Cells served.\n# TYPE zg_da_cells_served_total counter\nzg_da_cells_served_total {}\n\
         # HELP zg_da_payloads_served_total Payloads served.\n# TYPE zg_da_payloads_served_total counter\nzg_da_payloads_served_total {}\n\
         # HELP zg_da_encode_seconds Encoding and storing a payload.\n# TYPE zg_da_encode_seconds summary\nzg_da_encode_seconds_sum {}\nzg_da_encode_seconds_count {}\n\
         # HELP zg_da_peer_requests_total Requests from peers answered.\n# TYPE zg_da_peer_requests_total counter\nzg_da_peer_requests_total {}\n\
         # HELP zg_da_replicated_total Submissions whose custody cells were fetched from peers.\n# TYPE zg_da_replicated_total counter\nzg_da_replicated_total {}\n\
         # HELP zg_da_peer_proof_failures_total Cells from peers refused for failing their KZG proofs.\n# TYPE zg_da_peer_proof_failures_total counter\nzg_da_peer_proof_failures_total {}\n\
         # HELP zg_da_samples_verified_total Cells sampled from peers and verified.\n# TYPE zg_da_samples_verified_total counter\nzg_da_samples_verified_total {}\n\
         # HELP zg_da_cells_from_peers_total Cells fetched from peers to rebuild payloads.\n# TYPE zg_da_cells_from_peers_total counter\nzg_da_cells_from_peers_total {}\n{}",
        g(&m.submissions),
        g(&m.payload_bytes_in),
        g(&m.cells_in),
        g(&m.proof_failures),
        g(&m.rejected),
        g(&m.cells_served),
        g(&m.payloads_served),
        g(&m.encode_us_sum) as f64 / 1e6,
        g(&m.encodes),
        g(&m.peer_requests),
        g(&m.replicated),
        g(&m.peer_proof_failures),
        g(&m.samples_verified),
        g(&m.cells_from_peers),
        NetStats::prometheus(net),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// A DA node bound to its address, ready to serve.
pub struct DaServer {
    listener: tokio::net::TcpListener,
    app: Router,
    node: Arc<Node>,
}

impl DaServer {
    /// Opens the store (recovering it), loads or makes the node key, binds the listener.
    pub async fn bind(cfg: DaConfig) -> anyhow::Result<Self> {
        let dir = cfg.data_dir.clone();
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("creating the data directory {}: {e}", dir.display()))?;
        let key = NodeKey::load_or_create(&dir.join(KEY_FILE), rand::random)?;
        let opts = StoreOptions {
            capacity: cfg.capacity,
            ..StoreOptions::default()
        };
        let store_dir = dir.join("store");
        let (store, report) = tokio::task::spawn_blocking(move || Store::open_path(&store_dir, opts))
            .await?
            .map_err(|e| anyhow::anyhow!("opening the store in {}: {e}", dir.display()))?;
        tracing::info!(dir = %cfg.data_dir.display(), backend = %report.backend, records = report.records, "DA store opened");
        let listener = tokio::net::TcpListener::bind(cfg.listen).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e} (is another node using the port? choose another address: \
                 --listen for zg-da, --da-listen for zg devnet)",
                cfg.listen
            )
        })?;
        // The embedded Ethereum setup; its tables are built once, before the first request.
        let kzg = KzgContext::ethereum();
        tokio::task::spawn_blocking(|| kzg.build_tables()).await?;
        let (net, events) = match &cfg.p2p {
            Some(p2p) => {
                let (net, events) = Network::start(p2p.clone(), key.secret(), Service::Da).await?;
                (Some(net), Some(events))
            }
            None => (None, None),
        };
        // A networked node keeps the cells its peer id selects; a standalone one, all.
        let custody = match &net {
            Some(net) => custody_columns(&net.peer_id().to_bytes(), cfg.custody_columns),
            None => CellSet::ALL,
        };
        let node = Arc::new(Node {
            da: DaStore::new(store),
            custody,
            net,
            kzg,
            encode_slots: Semaphore::new(cfg.max_concurrent_encodes.max(1)),
            queue: Semaphore::new(cfg.max_queued.max(1)),
            key,
            cfg,
            metrics: Metrics::default(),
        });
        tracing::info!(node = %hex0x(&node.key.node_id()), custody = node.custody.len(), "DA node key loaded");
        if let Some(events) = events {
            tokio::spawn(handle_net_events(node.clone(), events));
        }
        let app = Router::new()
            .route(
                "/submissions",
                post(post_submission).layer(DefaultBodyLimit::disable()),
            )
            .route("/submissions/{id}", get(get_submission).put(put_header))
            .route(
                "/submissions/{id}/blobs/{blob}",
                put(put_cells).layer(DefaultBodyLimit::max(MAX_BLOB_RECORD)),
            )
            .route("/submissions/{id}/blobs/{blob}/cells/{cell}", get(get_cell))
            .route("/submissions/{id}/payload", get(get_payload))
            .route("/status", get(status))
            .route("/metrics", get(metrics))
            .layer(DefaultBodyLimit::max(64 << 10))
            .with_state(node.clone());
        Ok(Self { listener, app, node })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The node's public key.
    pub fn node_id(&self) -> [u8; 32] {
        self.node.key.node_id()
    }

    /// The p2p address peers dial, when networked.
    pub fn p2p_addr(&self) -> Option<String> {
        self.node.net.as_ref().map(|n| n.listen_addr().to_string())
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        axum::serve(self.listener, self.app)
            .with_graceful_shutdown(shutdown)
            .await?;
        // The network task holds the node through its event handler: stop it too.
        if let Some(net) = &self.node.net {
            net.shutdown().await;
        }
        tracing::info!(listen = %self.node.cfg.listen, "DA node stopped");
        Ok(())
    }
}

/// Answers peers and follows their announcements.
async fn handle_net_events(node: App, mut events: tokio::sync::mpsc::Receiver<NetEvent>) {
    while let Some(event) = events.recv().await {
        match event {
            NetEvent::Request {
                peer,
                request,
                channel,
            } => {
                let n = node.clone();
                tokio::spawn(async move {
                    let answer = tokio::task::spawn_blocking({
                        let n = n.clone();
                        move || answer(&n, request)
                    })
                    .await
                    .unwrap_or_else(|e| DaResponse::Refused(e.to_string()));
                    n.metrics.peer_requests.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, "answered a peer");
                    if let Some(net) = &n.net {
                        net.respond(channel, answer).await;
                    }
                });
            }
            NetEvent::Announced { source, header } => {
                tokio::spawn(replicate(node.clone(), source, header));
            }
            // Storage traffic: the network refuses it before it reaches a DA node.
            NetEvent::FileAnnounced { .. } | NetEvent::FileRequest { .. } | NetEvent::PeerJoined(_) => {}
        }
    }
}

fn answer(node: &Node, request: DaRequest) -> DaResponse {
    let result = match request {
        DaRequest::Header { id } => node
            .da
            .header(&id)
            .map(|h| h.map(|h| DaResponse::Header(h.encode()))),
        DaRequest::Cells { id, blob, wanted } => node.da.blob_cells(&id, usize::from(blob)).map(|cells| {
            let mut cells: Vec<_> = cells.into_iter().filter(|c| wanted.contains(c.index)).collect();
            if node.cfg.serve_bad_cells {
                for c in &mut cells {
                    c.cell[7] ^= 1;
                }
            }
            (!cells.is_empty()).then(|| DaResponse::Cells(encode_blob_record(&cells)))
        }),
    };
    match result {
        Ok(Some(r)) => r,
        Ok(None) => DaResponse::NotFound,
        Err(e) => DaResponse::Refused(e.to_string()),
    }
}

/// Why fetching cells from a peer failed.
enum PeerFault {
    /// The peer sent cells that fail their proofs (or garbage): it gets banned.
    Bad(String),
    /// It did not answer usefully (gone, busy, not holding them).
    Unavailable(String),
    /// This node failed.
    Local(Response),
}

/// Asks `peer` for the `wanted` cells of one blob and checks each against its
/// commitment (once: with `keep`, `DaStore::put_cells` checks as it stores them).
/// Returns how many came, and with `keep` the cells now held of that blob.
async fn fetch_cells(
    node: &App,
    peer: libp2p::PeerId,
    header: &SubmissionHeader,
    blob: usize,
    wanted: CellSet,
    keep: bool,
) -> Result<(usize, Option<CellSet>), PeerFault> {
    let net = node
        .net
        .as_ref()
        .ok_or_else(|| PeerFault::Unavailable("not networked".into()))?;
    let request = DaRequest::Cells {
        id: header.id,
        blob: blob as u16,
        wanted,
    };
    let record = match net.request(peer, request).await {
        Ok(DaResponse::Cells(record)) => record,
        Ok(DaResponse::NotFound) => return Ok((0, None)),
        Ok(other) => return Err(PeerFault::Unavailable(format!("answered {other:?}"))),
        Err(e) => return Err(PeerFault::Unavailable(e)),
    };
    let header = header.clone();
    // Ok(Err(why)): the peer's data is bad; Err: this node failed.
    let checked = blocking(node, move |n| {
        let cells = match decode_blob_record(&record) {
            Ok(cells) => cells,
            Err(e) => return Ok(Err(e.to_string())),
        };
        if !cells.iter().all(|c| wanted.contains(c.index)) {
            return Ok(Err("sent cells that were not asked for".into()));
        }
        let result = if keep {
            n.da.put_cells(n.kzg, &header, blob, &cells).map(Some)
        } else {
            zg_core::blob::verify_cells(n.kzg, blob, &header.commitments[blob], &cells)
                .map(|_| None)
                .map_err(DaError::from)
        };
        match result {
            Ok(held) => Ok(Ok((cells.len(), held))),
            Err(e @ DaError::Store(_)) => Err(e),
            Err(e) => Ok(Err(e.to_string())),
        }
    })
    .await
    .map_err(PeerFault::Local)?;
    checked.map_err(PeerFault::Bad)
}

async fn punish(node: &App, peer: libp2p::PeerId, why: &str) {
    node.metrics.peer_proof_failures.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(%peer, reason = why, "peer sent bad cells; refused, and the peer is banned");
    if let Some(net) = &node.net {
        net.ban(peer).await;
    }
}

/// Follows an announcement: fetches this node's custody cells of every blob from the
/// announcing peer (each checked before it is stored), samples a few cells beyond its
/// custody, and attests once it holds its share.
async fn replicate(node: App, source: libp2p::PeerId, header: SubmissionHeader) {
    let id = id_hex(&header.id);
    let h = header.clone();
    let held = blocking(&node, move |n| {
        n.da.put_header(&h)?;
        n.da.custody(&h)
    })
    .await;
    let Ok(held) = held else {
        tracing::warn!(submission = %id, "cannot take the announced submission");
        return;
    };
    for (blob, held) in held.iter().enumerate() {
        let wanted = CellSet(node.custody.0 & !held.0);
        if wanted.is_empty() {
            continue;
        }
        match fetch_cells(&node, source, &header, blob, wanted, true).await {
            Ok(_) => {}
            Err(PeerFault::Bad(why)) => return punish(&node, source, &why).await,
            Err(PeerFault::Unavailable(why)) => {
                tracing::warn!(submission = %id, peer = %source, reason = why, "custody cells not fetched");
                return;
            }
            Err(PeerFault::Local(_)) => {
                tracing::warn!(submission = %id, blob, "custody cells not stored");
                return;
            }
        }
    }
    // Availability sampling: random cells outside the custody, from the same peer.
    let mut samples = 0;
    for _ in 0..SAMPLES_PER_SUBMISSION {
        let blob = rand::random_range(0..header.blob_count());
        let cell = rand::random_range(0..128u64);
        if node.custody.contains(cell) {
            continue;
        }
        match fetch_cells(&node, source, &header, blob, CellSet(1 << cell), false).await {
            Ok((1, _)) => samples += 1,
            Ok(_) | Err(PeerFault::Unavailable(_) | PeerFault::Local(_)) => {}
            Err(PeerFault::Bad(why)) => return punish(&node, source, &why).await,
        }
    }
    node.metrics
        .samples_verified
        .fetch_add(samples, Ordering::Relaxed);
    node.metrics.replicated.fetch_add(1, Ordering::Relaxed);
    tracing::info!(submission = %id, peer = %source, custody = node.custody.len(), samples, "custody cells fetched and verified; attesting");
}

/// Before a payload is rebuilt: any blob held below 64 cells is topped up with cells
/// fetched from peers, each checked against its commitment, and kept so the next read
/// needs no peers.
async fn fill_from_peers(node: &App, id: SubmissionId) -> Result<(), Response> {
    let Some(net) = &node.net else {
        return Ok(());
    };
    let Some(header) = blocking(node, move |n| n.da.header(&id)).await? else {
        return Ok(()); // payload() answers 404
    };
    let h = header.clone();
    let held = blocking(node, move |n| n.da.custody(&h)).await?;
    let peers = net.peers().await;
    for (blob, held) in held.into_iter().enumerate() {
        let mut have = held;
        for &peer in &peers {
            if have.len() >= zg_core::blob::CELLS_TO_RECOVER {
                break;
            }
            // Kept: the next read needs no peers.
            match fetch_cells(node, peer, &header, blob, CellSet(!have.0), true).await {
                Ok((count, Some(held))) if count > 0 => {
                    node.metrics
                        .cells_from_peers
                        .fetch_add(count as u64, Ordering::Relaxed);
                    have = held;
                }
                Ok(_) | Err(PeerFault::Unavailable(_)) => {}
                Err(PeerFault::Bad(why)) => punish(node, peer, &why).await,
                Err(PeerFault::Local(r)) => return Err(r),
            }
        }
    }
    Ok(())
}
