//! The storage node: the segment store and file pipeline of zg-core behind
//! 0G's `zgs_*` JSON-RPC and plain HTTP streaming, on one port.
//!
//! Uploads arrive segment by segment with proofs (resumable; each checked
//! against the root before it is written) or as one streamed body. A file
//! is finalized once every segment is durable: its tree is rebuilt from
//! the stored segments, checked against the root, and saved as metadata.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine;
use bytes::Bytes;
use futures_util::TryStreamExt;
use jsonrpsee::RpcModule;
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned, Params};
use serde::Deserialize;
use tokio::sync::Semaphore;
use zg_core::file::{self, FileError, FileMeta, IngestOptions};
use zg_core::store::{Put, Store, StoreError, StoreOptions};
use zg_merkle::{FileHasher, Hash, RootKind, SEGMENT_SIZE, SegmentProof, segment_count};

use crate::api::{B64, FileInfo, Ranges, SegmentWithProof, Status, parse_kind, parse_root, root_hex};

/// How a storage node runs.
#[derive(Clone, Debug)]
pub struct StorageConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the store lives.
    pub data_dir: PathBuf,
    /// Largest JSON-RPC request body.
    pub max_request_bytes: usize,
    /// Most segments in one upload or download request.
    pub max_segments_per_request: usize,
    /// Most requests in one JSON-RPC batch.
    pub max_batch: usize,
    /// Largest file accepted.
    pub max_file_bytes: u64,
    /// Requests one client address may have in flight.
    pub max_concurrent_per_client: usize,
    /// Store capacity in bytes.
    pub capacity: Option<u64>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 5678)),
            data_dir: PathBuf::from(".zg/storage"),
            max_request_bytes: 24 << 20,
            max_segments_per_request: 64,
            max_batch: 64,
            max_file_bytes: 1 << 40,
            max_concurrent_per_client: 32,
            capacity: None,
        }
    }
}

#[derive(Default)]
struct Metrics {
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    segments_in: AtomicU64,
    segments_out: AtomicU64,
    proof_failures: AtomicU64,
    rejected: AtomicU64,
    rpc_requests: AtomicU64,
    files_finalized: AtomicU64,
    store_write_us_sum: AtomicU64,
    store_writes: AtomicU64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PendingFile {
    kind: RootKind,
    size: u64,
}

impl PendingFile {
    fn encode(self) -> Vec<u8> {
        let mut v = vec![u8::from(self.kind == RootKind::Zg)];
        v.extend_from_slice(&self.size.to_le_bytes());
        v
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let (&k, size) = b.split_first()?;
        Some(Self {
            kind: if k == 1 { RootKind::Zg } else { RootKind::Blake3 },
            size: u64::from_le_bytes(size.try_into().ok()?),
        })
    }
}

/// Key of the record that marks an upload in progress (its kind and size).
fn pending_key(root: &Hash) -> Hash {
    *blake3::keyed_hash(root, b"zg pending upload").as_bytes()
}

struct Node {
    store: Store,
    cfg: StorageConfig,
    metrics: Metrics,
    pending: Mutex<HashMap<Hash, PendingFile>>,
    finalizing: Mutex<HashSet<Hash>>,
    clients: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
    /// Finalized files' metadata: decoding it rebuilds the tree, too costly for every segment request.
    metas: Mutex<HashMap<Hash, Arc<FileMeta>>>,
}

/// Files whose metadata stays decoded (a file's tree is 32 bytes per segment per level).
const META_CACHE: usize = 256;

/// JSON-RPC error codes beyond the standard ones.
mod code {
    pub(super) const INVALID_PARAMS: i32 = -32602;
    pub(super) const INTERNAL: i32 = -32603;
    pub(super) const PROOF_FAILED: i32 = -32010;
    pub(super) const NOT_FOUND: i32 = -32011;
    pub(super) const CONFLICT: i32 = -32012;
    pub(super) const TOO_LARGE: i32 = -32013;
    pub(super) const STORE: i32 = -32014;
}

fn err(code: i32, msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(code, msg.into(), None::<()>)
}

fn file_err(e: FileError) -> ErrorObjectOwned {
    match e {
        FileError::NotFound(_) => err(code::NOT_FOUND, e.to_string()),
        FileError::OutOfRange { .. } => err(code::INVALID_PARAMS, e.to_string()),
        FileError::Store(StoreError::Full { .. } | StoreError::DiskFull { .. }) => {
            err(code::STORE, e.to_string())
        }
        other => err(code::INTERNAL, other.to_string()),
    }
}

type RpcResult<T> = Result<T, ErrorObjectOwned>;

impl Node {
    fn pending(&self, root: &Hash) -> RpcResult<Option<PendingFile>> {
        if let Some(p) = self.pending.lock().unwrap_or_else(|p| p.into_inner()).get(root) {
            return Ok(Some(*p));
        }
        match self.store.get_meta(&pending_key(root)) {
            Ok(b) => {
                let p =
                    PendingFile::decode(&b).ok_or_else(|| err(code::INTERNAL, "corrupt upload marker"))?;
                self.pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(*root, p);
                Ok(Some(p))
            }
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(err(code::STORE, e.to_string())),
        }
    }

    /// The finalized file `root`, decoded once and then served from the cache.
    fn open_meta(&self, root: &Hash) -> Result<Arc<FileMeta>, FileError> {
        if let Some(m) = self.metas.lock().unwrap_or_else(|p| p.into_inner()).get(root) {
            return Ok(m.clone());
        }
        let meta = Arc::new(file::open(&self.store, root)?);
        self.remember(meta.clone());
        Ok(meta)
    }

    fn remember(&self, meta: Arc<FileMeta>) {
        let mut metas = self.metas.lock().unwrap_or_else(|p| p.into_inner());
        if metas.len() >= META_CACHE {
            metas.clear();
        }
        metas.insert(meta.root(), meta);
    }

    fn finalized(&self, root: &Hash) -> RpcResult<Option<Arc<FileMeta>>> {
        match self.open_meta(root) {
            Ok(m) => Ok(Some(m)),
            Err(FileError::NotFound(_)) => Ok(None),
            Err(e) => Err(file_err(e)),
        }
    }

    fn info(&self, root: &Hash) -> RpcResult<Option<FileInfo>> {
        if let Some(m) = self.finalized(root)? {
            return Ok(Some(FileInfo {
                root: root_hex(root),
                file_size: m.len(),
                root_kind: m.tree.kind().to_string(),
                segment_count: m.segment_count(),
                uploaded_seg_num: m.segment_count(),
                finalized: true,
            }));
        }
        Ok(self.pending(root)?.map(|p| FileInfo {
            root: root_hex(root),
            file_size: p.size,
            root_kind: p.kind.to_string(),
            segment_count: segment_count(p.size),
            uploaded_seg_num: self.store.segment_indices(root).len() as u64,
            finalized: false,
        }))
    }

    /// Checks and stores uploaded segments; finalizes the file when complete.
    fn upload(&self, segs: Vec<SegmentWithProof>) -> RpcResult<()> {
        if segs.len() > self.cfg.max_segments_per_request {
            return Err(err(
                code::TOO_LARGE,
                format!(
                    "{} segments in one request; the limit is {}",
                    segs.len(),
                    self.cfg.max_segments_per_request
                ),
            ));
        }
        let mut by_root: HashMap<Hash, Vec<Put>> = HashMap::new();
        let mut markers = Vec::new();
        let mut bytes = 0u64;
        for s in segs {
            let root = parse_root(&s.root).map_err(|e| err(code::INVALID_PARAMS, e))?;
            if s.file_size > self.cfg.max_file_bytes {
                return Err(err(
                    code::TOO_LARGE,
                    format!(
                        "file of {} bytes exceeds this node's limit of {}",
                        s.file_size, self.cfg.max_file_bytes
                    ),
                ));
            }
            let count = segment_count(s.file_size);
            if s.index >= count {
                return Err(err(
                    code::INVALID_PARAMS,
                    format!("segment {} of a {count}-segment file", s.index),
                ));
            }
            let expected = (s.file_size - s.index * SEGMENT_SIZE as u64).min(SEGMENT_SIZE as u64) as usize;
            // base64 is 4 chars per 3 bytes: refuse oversize text before decoding it.
            if s.data.len() > expected.div_ceil(3) * 4 {
                return Err(err(
                    code::INVALID_PARAMS,
                    format!("segment {} data longer than {expected} bytes", s.index),
                ));
            }
            let data = B64.decode(&s.data).map_err(|e| {
                err(
                    code::INVALID_PARAMS,
                    format!("segment {} data is not base64: {e}", s.index),
                )
            })?;
            if data.len() != expected {
                return Err(err(
                    code::INVALID_PARAMS,
                    format!(
                        "segment {} has {} bytes, expected {expected}",
                        s.index,
                        data.len()
                    ),
                ));
            }
            let proof_bytes = hex::decode(&s.proof)
                .map_err(|e| err(code::INVALID_PARAMS, format!("proof is not hex: {e}")))?;
            let proof = SegmentProof::from_bytes(&proof_bytes)
                .map_err(|e| err(code::INVALID_PARAMS, format!("malformed proof: {e}")))?;
            let this = PendingFile {
                kind: proof.kind(),
                size: s.file_size,
            };
            if self.finalized(&root)?.is_some() {
                continue; // Already complete: uploads are idempotent.
            }
            match self.pending(&root)? {
                Some(p) if p != this => {
                    return Err(err(
                        code::CONFLICT,
                        format!(
                            "file {} is being uploaded as {} bytes ({}), not {} bytes ({})",
                            s.root, p.size, p.kind, this.size, this.kind
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    self.pending
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(root, this);
                    markers.push(Put::meta(pending_key(&root), this.encode()));
                }
            }
            match proof.verify(&root, s.file_size, s.index, &data) {
                Ok(true) => {}
                Ok(false) | Err(_) => {
                    self.metrics.proof_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(root = %s.root, index = s.index, "rejected a segment that fails its proof");
                    return Err(err(
                        code::PROOF_FAILED,
                        format!("segment {} fails its proof against {}", s.index, s.root),
                    ));
                }
            }
            bytes += data.len() as u64;
            by_root
                .entry(root)
                .or_default()
                .push(Put::segment(root, s.index, data));
        }
        let roots: Vec<Hash> = by_root.keys().copied().collect();
        let mut puts = markers;
        let n: usize = by_root.values().map(Vec::len).sum();
        puts.extend(by_root.into_values().flatten());
        if puts.is_empty() {
            return Ok(());
        }
        let t = Instant::now();
        self.store
            .put_batch(puts)
            .map_err(|e| err(code::STORE, e.to_string()))?;
        self.metrics
            .store_write_us_sum
            .fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
        self.metrics.store_writes.fetch_add(1, Ordering::Relaxed);
        self.metrics.bytes_in.fetch_add(bytes, Ordering::Relaxed);
        self.metrics.segments_in.fetch_add(n as u64, Ordering::Relaxed);
        for root in roots {
            self.maybe_finalize(&root)?;
        }
        Ok(())
    }

    /// Finalizes `root` if every segment is stored: rebuilds the tree from
    /// the segments, checks the root, writes the metadata.
    fn maybe_finalize(&self, root: &Hash) -> RpcResult<()> {
        let Some(p) = self.pending(root)? else {
            return Ok(());
        };
        let count = segment_count(p.size);
        if (self.store.segment_indices(root).len() as u64) < count {
            return Ok(());
        }
        if !self
            .finalizing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(*root)
        {
            return Ok(()); // Another request is finalizing it.
        }
        let result = self.finalize(root, p, count);
        self.finalizing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(root);
        result
    }

    fn finalize(&self, root: &Hash, p: PendingFile, count: u64) -> RpcResult<()> {
        let mut hasher = FileHasher::new(p.kind).parallel(true);
        let mut first = 0;
        while first < count {
            let n = 64.min(count - first);
            let wanted: Vec<(Hash, u64)> = (first..first + n).map(|i| (*root, i)).collect();
            for r in self.store.get_many(&wanted) {
                let seg = r.map_err(|e| err(code::STORE, e.to_string()))?;
                hasher.update(&seg);
            }
            first += n;
        }
        let tree = hasher.finalize();
        if tree.root() != *root || tree.file_len() != p.size {
            return Err(err(code::INTERNAL, "stored segments do not rebuild the root"));
        }
        let meta = FileMeta {
            tree,
            data_key: *root,
            erasure: None,
        };
        self.store
            .put_batch(vec![Put::meta(*root, meta.encode())])
            .map_err(|e| err(code::STORE, e.to_string()))?;
        self.remember(Arc::new(meta));
        // The marker's tombstone: the file is complete.
        self.store
            .delete(pending_key(root))
            .map_err(|e| err(code::STORE, e.to_string()))?;
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(root);
        self.metrics.files_finalized.fetch_add(1, Ordering::Relaxed);
        tracing::info!(root = %root_hex(root), bytes = p.size, kind = %p.kind, "file finalized");
        Ok(())
    }

    fn missing(&self, root: &Hash) -> RpcResult<Ranges> {
        if self.finalized(root)?.is_some() {
            return Ok(Vec::new());
        }
        let Some(p) = self.pending(root)? else {
            return Err(err(
                code::NOT_FOUND,
                format!("no upload of {} in progress", root_hex(root)),
            ));
        };
        let have = self.store.segment_indices(root);
        let mut out: Ranges = Vec::new();
        let mut next = 0u64;
        for i in have.into_iter().chain(std::iter::once(segment_count(p.size))) {
            if i > next {
                out.push([next, i]);
            }
            next = i + 1;
        }
        Ok(out)
    }
}

fn root_param(params: &Params<'_>) -> RpcResult<Hash> {
    let (root,): (String,) = params.parse()?;
    parse_root(&root).map_err(|e| err(code::INVALID_PARAMS, e))
}

fn rpc_module(node: Arc<Node>) -> RpcModule<Arc<Node>> {
    let mut m = RpcModule::new(node);
    let ok = |r: Result<&mut _, _>| {
        if let Err(e) = r {
            tracing::error!(error = %e, "registering an RPC method failed");
        }
    };
    ok(
        m.register_blocking_method("zgs_getStatus", |_, node, _| -> RpcResult<Status> {
            let stats = node.store.stats();
            Ok(Status {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                files: stats.metas,
                segments: stats.segments,
                used_bytes: stats.used_bytes,
                backend: node.cfg.data_dir.display().to_string(),
            })
        }),
    );
    ok(
        m.register_blocking_method("zgs_uploadSegment", |params, node, _| -> RpcResult<()> {
            let seg: SegmentWithProof = params.one()?;
            node.upload(vec![seg])
        }),
    );
    ok(
        m.register_blocking_method("zgs_uploadSegments", |params, node, _| -> RpcResult<()> {
            let segs: Vec<SegmentWithProof> = params.one()?;
            node.upload(segs)
        }),
    );
    ok(m.register_blocking_method("zgs_getFileInfo", |params, node, _| {
        node.info(&root_param(&params)?)
    }));
    ok(m.register_blocking_method(
        "zgs_checkFileFinalized",
        |params, node, _| -> RpcResult<Option<bool>> {
            let root = root_param(&params)?;
            Ok(node.info(&root)?.map(|i| i.finalized))
        },
    ));
    ok(
        m.register_blocking_method("zg_missingSegments", |params, node, _| {
            node.missing(&root_param(&params)?)
        }),
    );
    ok(
        m.register_blocking_method("zgs_downloadSegment", |params, node, _| -> RpcResult<String> {
            let (root, start, end): (String, u64, u64) = params.parse()?;
            let root = parse_root(&root).map_err(|e| err(code::INVALID_PARAMS, e))?;
            if end <= start || end - start > node.cfg.max_segments_per_request as u64 {
                return Err(err(
                    code::INVALID_PARAMS,
                    format!(
                        "range {start}..{end}: ask for 1 to {} segments",
                        node.cfg.max_segments_per_request
                    ),
                ));
            }
            let meta = node.open_meta(&root).map_err(file_err)?;
            let segs = file::read_segments(&node.store, &meta, start, end - start).map_err(file_err)?;
            let bytes: Vec<u8> = segs.concat();
            node.metrics
                .bytes_out
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            node.metrics
                .segments_out
                .fetch_add(segs.len() as u64, Ordering::Relaxed);
            Ok(B64.encode(bytes))
        }),
    );
    ok(m.register_blocking_method(
        "zgs_downloadSegmentWithProof",
        |params, node, _| -> RpcResult<SegmentWithProof> {
            let (root, index): (String, u64) = params.parse()?;
            let root = parse_root(&root).map_err(|e| err(code::INVALID_PARAMS, e))?;
            let meta = node.open_meta(&root).map_err(file_err)?;
            let (seg, proof) = file::segment_with_proof(&node.store, &meta, index).map_err(file_err)?;
            node.metrics
                .bytes_out
                .fetch_add(seg.len() as u64, Ordering::Relaxed);
            node.metrics.segments_out.fetch_add(1, Ordering::Relaxed);
            Ok(SegmentWithProof::new(&root, index, &seg, &proof, meta.len()))
        },
    ));
    m
}

type App = (Arc<Node>, Arc<RpcModule<Arc<Node>>>);

fn rpc_error_body(code: i32, message: &str) -> serde_json::Value {
    serde_json::json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": null})
}

async fn call_one(rpc: &RpcModule<Arc<Node>>, req: &str) -> Box<serde_json::value::RawValue> {
    let invalid =
        || serde_json::value::to_raw_value(&rpc_error_body(-32600, "Invalid request")).unwrap_or_default();
    if !req.trim_start().starts_with('{') {
        return invalid();
    }
    match rpc.raw_json_request(req, 1).await {
        Ok((resp, _)) => resp,
        Err(e) if e.is_syntax() || e.is_eof() => {
            serde_json::value::to_raw_value(&rpc_error_body(-32700, "Parse error")).unwrap_or_default()
        }
        Err(_) => invalid(),
    }
}

fn raw_json(v: &[Box<serde_json::value::RawValue>]) -> Response {
    // The responses are JSON already: join them without parsing them again.
    let mut out = String::from("[");
    for (i, r) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r.get());
    }
    out.push(']');
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

/// JSON-RPC over HTTP POST: single calls and batches (capped). Requests go
/// to jsonrpsee as the raw text they arrived as: large segment uploads are
/// parsed once, not three times.
async fn rpc_handler(State((node, rpc)): State<App>, body: Bytes) -> Response {
    node.metrics.rpc_requests.fetch_add(1, Ordering::Relaxed);
    let parse_error = || Json(rpc_error_body(-32700, "Parse error")).into_response();
    let Ok(text) = std::str::from_utf8(&body) else {
        return parse_error();
    };
    if text.trim_start().starts_with('[') {
        let Ok(calls) = serde_json::from_str::<Vec<&serde_json::value::RawValue>>(text) else {
            return parse_error();
        };
        if calls.is_empty() {
            return Json(rpc_error_body(-32600, "Invalid request: empty batch")).into_response();
        }
        if calls.len() > node.cfg.max_batch {
            return Json(rpc_error_body(
                -32010,
                &format!(
                    "The batch request was too large: {} calls, limit {}",
                    calls.len(),
                    node.cfg.max_batch
                ),
            ))
            .into_response();
        }
        let mut out = Vec::with_capacity(calls.len());
        for c in calls {
            out.push(call_one(&rpc, c.get()).await);
        }
        return raw_json(&out);
    }
    if !text.trim_start().starts_with('{') {
        return parse_error();
    }
    let resp = call_one(&rpc, text).await;
    (
        [(header::CONTENT_TYPE, "application/json")],
        resp.get().to_owned(),
    )
        .into_response()
}

#[derive(Deserialize)]
struct PutQuery {
    kind: Option<String>,
}

/// A reader that fails once more than `limit` bytes came through.
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::FileTooLarge,
                "the body exceeds this node's file size limit",
            )
        })?;
        Ok(n)
    }
}

fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, msg.into() + "\n").into_response()
}

/// `PUT /files`: the body streams through the file pipeline.
async fn put_file(
    State((node, _)): State<App>,
    Query(q): Query<PutQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let kind = match q.kind.as_deref().map(parse_kind).transpose() {
        Ok(k) => k.unwrap_or_default(),
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > node.cfg.max_file_bytes) {
        return text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "file exceeds this node's limit of {} bytes",
                node.cfg.max_file_bytes
            ),
        );
    }
    let stream = body.into_data_stream().map_err(io::Error::other);
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let limit = node.cfg.max_file_bytes;
    let n2 = node.clone();
    let result = tokio::task::spawn_blocking(move || {
        let capped = Capped {
            inner: reader,
            left: limit,
        };
        let opts = IngestOptions {
            kind,
            ..IngestOptions::default()
        };
        file::ingest(&n2.store, capped, &opts, |_| {})
    })
    .await;
    match result {
        Ok(Ok(meta)) => {
            // A re-upload may have stored the root under a new upload key: serve the newest.
            node.remember(Arc::new(meta.clone()));
            node.metrics.bytes_in.fetch_add(meta.len(), Ordering::Relaxed);
            node.metrics.files_finalized.fetch_add(1, Ordering::Relaxed);
            tracing::info!(root = %root_hex(&meta.root()), bytes = meta.len(), %kind, "file stored over HTTP");
            Json(serde_json::json!({
                "root": root_hex(&meta.root()),
                "fileSize": meta.len(),
                "rootKind": kind.to_string(),
                "segmentCount": meta.segment_count(),
            }))
            .into_response()
        }
        Ok(Err(FileError::Read(e))) if e.kind() == io::ErrorKind::FileTooLarge => {
            text(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
        }
        Ok(Err(FileError::Read(e))) => text(StatusCode::BAD_REQUEST, format!("reading the body failed: {e}")),
        Ok(Err(e @ FileError::Store(StoreError::Full { .. } | StoreError::DiskFull { .. }))) => {
            text(StatusCode::INSUFFICIENT_STORAGE, e.to_string())
        }
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("ingest task failed: {e}"),
        ),
    }
}

/// Parses `bytes=a-b`, `bytes=a-` or `bytes=-n` against a length.
fn parse_range(v: &str, len: u64) -> Option<(u64, u64)> {
    let spec = v.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (len.saturating_sub(n), len)
        }
        (a, "") => (a.parse().ok()?, len),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.saturating_add(1).min(len)),
    };
    (start < end && end <= len).then_some((start, end))
}

/// `GET /files/{root}`: the verified file, streamed, with `Range` support.
async fn get_file(State((node, _)): State<App>, Path(root): Path<String>, headers: HeaderMap) -> Response {
    let root = match parse_root(&root) {
        Ok(r) => r,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let n2 = node.clone();
    let meta = match tokio::task::spawn_blocking(move || n2.open_meta(&root)).await {
        Ok(Ok(m)) => m,
        Ok(Err(FileError::NotFound(_))) => {
            return text(StatusCode::NOT_FOUND, format!("no file {}", root_hex(&root)));
        }
        Ok(Err(e)) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let len = meta.len();
    let (start, end, status) = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) => match parse_range(r, len) {
            Some((s, e)) => (s, e, StatusCode::PARTIAL_CONTENT),
            None => {
                let mut resp = text(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    format!("range {r:?} not satisfiable"),
                );
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    resp.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return resp;
            }
        },
        None => (0, len, StatusCode::OK),
    };
    // 8 MiB of read-ahead: segments are verified while the socket drains (measured 0.51x -> 0.58x).
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(32);
    let n3 = node.clone();
    tokio::task::spawn_blocking(move || {
        let seg = SEGMENT_SIZE as u64;
        let (first, last) = (start / seg, if end == 0 { 0 } else { (end - 1) / seg });
        let mut i = first;
        while i <= last && end > start {
            let n = 16.min(last + 1 - i);
            match file::read_segments(&n3.store, &meta, i, n) {
                Ok(segs) => {
                    for (j, s) in segs.into_iter().enumerate() {
                        let at = (i + j as u64) * seg;
                        let lo = start.saturating_sub(at).min(s.len() as u64) as usize;
                        let hi = (end - at).min(s.len() as u64) as usize;
                        let part = s.slice(lo..hi);
                        n3.metrics
                            .bytes_out
                            .fetch_add(part.len() as u64, Ordering::Relaxed);
                        if tx.blocking_send(Ok(part)).is_err() {
                            return; // The client went away.
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "download failed mid-stream");
                    let _ = tx.blocking_send(Err(io::Error::other(e.to_string())));
                    return;
                }
            }
            i += n;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    resp
}

/// Prometheus text format.
async fn metrics(State((node, _)): State<App>) -> Response {
    let m = &node.metrics;
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let stats = node.store.stats();
    let body = format!(
        "# HELP zg_storage_bytes_in_total Segment bytes accepted.\n# TYPE zg_storage_bytes_in_total counter\nzg_storage_bytes_in_total {}\n\
         # HELP zg_storage_bytes_out_total Bytes served.\n# TYPE zg_storage_bytes_out_total counter\nzg_storage_bytes_out_total {}\n\
         # HELP zg_storage_segments_in_total Segments accepted.\n# TYPE zg_storage_segments_in_total counter\nzg_storage_segments_in_total {}\n\
         # HELP zg_storage_segments_out_total Segments served.\n# TYPE zg_storage_segments_out_total counter\nzg_storage_segments_out_total {}\n\
         # HELP zg_storage_proof_failures_total Segments rejected for failing their proof.\n# TYPE zg_storage_proof_failures_total counter\nzg_storage_proof_failures_total {}\n\
         # HELP zg_storage_rejected_total Requests refused by limits.\n# TYPE zg_storage_rejected_total counter\nzg_storage_rejected_total {}\n\
         # HELP zg_storage_rpc_requests_total JSON-RPC HTTP requests.\n# TYPE zg_storage_rpc_requests_total counter\nzg_storage_rpc_requests_total {}\n\
         # HELP zg_storage_files_finalized_total Files completed.\n# TYPE zg_storage_files_finalized_total counter\nzg_storage_files_finalized_total {}\n\
         # HELP zg_store_write_seconds Durable store writes (group commits included).\n# TYPE zg_store_write_seconds summary\nzg_store_write_seconds_sum {}\nzg_store_write_seconds_count {}\n\
         # HELP zg_store_used_bytes Bytes of the store's data files.\n# TYPE zg_store_used_bytes gauge\nzg_store_used_bytes {}\n\
         # HELP zg_store_segments Segments stored.\n# TYPE zg_store_segments gauge\nzg_store_segments {}\n",
        g(&m.bytes_in),
        g(&m.bytes_out),
        g(&m.segments_in),
        g(&m.segments_out),
        g(&m.proof_failures),
        g(&m.rejected),
        g(&m.rpc_requests),
        g(&m.files_finalized),
        g(&m.store_write_us_sum) as f64 / 1e6,
        g(&m.store_writes),
        stats.used_bytes,
        stats.segments,
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Caps the requests one client address has in flight.
async fn per_client_limit(
    State((node, _)): State<App>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let sem = {
        let mut clients = node.clients.lock().unwrap_or_else(|p| p.into_inner());
        if clients.len() > 4096 {
            clients.retain(|_, s| Arc::strong_count(s) > 1);
        }
        clients
            .entry(addr.ip())
            .or_insert_with(|| Arc::new(Semaphore::new(node.cfg.max_concurrent_per_client)))
            .clone()
    };
    let Ok(_permit) = sem.try_acquire_owned() else {
        node.metrics.rejected.fetch_add(1, Ordering::Relaxed);
        return text(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many concurrent requests from {} (limit {}); retry shortly",
                addr.ip(),
                node.cfg.max_concurrent_per_client
            ),
        );
    };
    next.run(req).await
}

/// A bound, not yet serving, storage node.
pub struct StorageServer {
    listener: tokio::net::TcpListener,
    app: Router,
    node: Arc<Node>,
}

impl StorageServer {
    /// Opens the store (recovering it) and binds the listener.
    pub async fn bind(cfg: StorageConfig) -> anyhow::Result<Self> {
        let dir = cfg.data_dir.clone();
        let opts = StoreOptions {
            capacity: cfg.capacity,
            ..StoreOptions::default()
        };
        let (store, report) = tokio::task::spawn_blocking(move || Store::open_path(&dir, opts))
            .await?
            .map_err(|e| anyhow::anyhow!("opening the store in {}: {e}", cfg.data_dir.display()))?;
        tracing::info!(dir = %cfg.data_dir.display(), backend = %report.backend, files = report.files,
            records = report.records, from_snapshot = report.from_snapshot, "store opened");
        if let Some(t) = &report.torn_tail {
            tracing::warn!(file = %t.file, dropped = t.dropped_bytes, "dropped an unacknowledged torn write on open");
        }
        let listener = tokio::net::TcpListener::bind(cfg.listen).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e} (is another node using the port? choose another address: \
                 --listen for zg-storage, --storage-listen for zg devnet)",
                cfg.listen
            )
        })?;
        let node = Arc::new(Node {
            store,
            cfg: cfg.clone(),
            metrics: Metrics::default(),
            pending: Mutex::new(HashMap::new()),
            finalizing: Mutex::new(HashSet::new()),
            clients: Mutex::new(HashMap::new()),
            metas: Mutex::new(HashMap::new()),
        });
        let rpc = Arc::new(rpc_module(node.clone()));
        let state: App = (node.clone(), rpc);
        let app = Router::new()
            .route("/", post(rpc_handler))
            .route("/files", put(put_file).layer(DefaultBodyLimit::disable()))
            .route("/files/{root}", get(get_file))
            .route("/metrics", get(metrics))
            .layer(DefaultBodyLimit::max(cfg.max_request_bytes))
            .layer(middleware::from_fn_with_state(state.clone(), per_client_limit))
            .with_state(state);
        Ok(Self { listener, app, node })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then closes the store cleanly.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        axum::serve(
            self.listener,
            self.app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        tracing::info!("storage node stopped");
        drop(self.node);
        Ok(())
    }
}
