//! The storage node: the segment store and file pipeline of zg-core behind
//! 0G's `zgs_*` JSON-RPC and plain HTTP streaming, on one port.
//!
//! Uploads arrive segment by segment with proofs (resumable; each checked
//! against the root before it is written) or as one streamed body. A file
//! is finalized once every segment is durable: its tree is rebuilt from
//! the stored segments, checked against the root, and saved as metadata.
//!
//! Networked nodes replicate (libp2p, [`crate::p2p`]): a node announces each file it
//! finalizes; peers fetch the segments with their proofs, check each against the
//! root on arrival, and store them through the same path as uploads. On every new
//! connection a node compares its catalog with the peer's inventory and fetches what
//! it lacks, so a replacement node with an empty disk refills itself from its peers.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use jsonrpsee::RpcModule;
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned, Params};
use libp2p::PeerId;
use serde::Deserialize;
use tokio::sync::Semaphore;
use zg_core::da::NodeKey;
use zg_core::file::{self, FileError, FileMeta, IngestOptions};
use zg_core::replica::{MAX_INVENTORY_PAGE, MAX_SEGMENTS_PER_REQUEST, SegmentReply};
use zg_core::store::{Put, Store, StoreError, StoreOptions};
use zg_merkle::{FileHasher, Hash, RootKind, SEGMENT_SIZE, SegmentProof, segment_count};

use crate::api::{B64, FileInfo, Ranges, SegmentWithProof, Status, parse_kind, parse_root, root_hex};
use crate::p2p::{FileEntry, FileRequest, FileResponse, NetEvent, NetStats, Network, P2pConfig, Service};

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
    /// The p2p network to replicate over; `None` runs standalone.
    pub p2p: Option<P2pConfig>,
    /// Fault injection for tests: serve peers corrupted segments.
    pub serve_bad_segments: bool,
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
            p2p: None,
            serve_bad_segments: false,
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
    replicated_files: AtomicU64,
    replicated_bytes: AtomicU64,
    peer_requests: AtomicU64,
    peer_bad_segments: AtomicU64,
    segments_repaired: AtomicU64,
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

/// The key the catalog lives under: segment `i` is the `i`th file this node stored
/// (a [`FileEntry`]), so peers can page through what it holds.
fn catalog_key() -> Hash {
    *blake3::hash(b"zg storage catalog v1").as_bytes()
}

/// Files this node holds whole, in the order it finalized them.
#[derive(Default)]
struct Catalog {
    files: Vec<FileEntry>,
    roots: HashSet<Hash>,
    /// The record index the next entry takes.
    next: u64,
}

/// Files replicated at once; each has [`CHUNKS_IN_FLIGHT`] requests out.
const REPLICATIONS_AT_ONCE: usize = 2;
/// Segment requests one replication keeps in flight.
const CHUNKS_IN_FLIGHT: usize = 8;
/// How often a node compares inventories with every peer (besides on connect).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

struct Node {
    store: Store,
    cfg: StorageConfig,
    metrics: Metrics,
    net: Option<Network>,
    /// The runtime, for blocking readers that fetch lost segments from peers.
    rt: tokio::runtime::Handle,
    catalog: Mutex<Catalog>,
    replicating: Mutex<HashSet<Hash>>,
    replication_slots: Semaphore,
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

    /// The catalog record for a newly stored file, unless it is listed already.
    fn catalog_entry(&self, entry: FileEntry) -> Option<Put> {
        let mut c = self.catalog.lock().unwrap_or_else(|p| p.into_inner());
        if !c.roots.insert(entry.root) {
            return None;
        }
        c.files.push(entry);
        let index = c.next;
        c.next += 1;
        Some(Put::segment(catalog_key(), index, entry.encode().to_vec()))
    }

    fn holds(&self, root: &Hash) -> bool {
        self.catalog
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .roots
            .contains(root)
    }

    /// Tells peers this node holds `entry` (networked nodes only).
    fn announce(&self, entry: FileEntry) {
        if let (Some(net), Ok(rt)) = (self.net.clone(), tokio::runtime::Handle::try_current()) {
            rt.spawn(async move { net.announce_file(&entry).await });
        }
    }

    /// Segments `first..first + count` of a stored file, each verified; one that is
    /// lost or damaged here (and not rebuilt from local parity) is fetched from a
    /// peer, checked against the root, rewritten, and served. Blocking.
    fn read_segments(&self, meta: &FileMeta, first: u64, count: u64) -> Result<Vec<Bytes>, FileError> {
        let mut repaired = HashSet::new();
        loop {
            match file::read_segments(&self.store, meta, first, count) {
                Err(FileError::Unavailable { root, index, reason })
                    if self.net.is_some() && repaired.insert(index) =>
                {
                    tracing::warn!(%root, index, %reason, "segment lost here; fetching it from peers");
                    if let Err(e) = self.repair_from_peers(meta, index) {
                        return Err(FileError::Unavailable {
                            root,
                            index,
                            reason: format!("{reason}; no peer could replace it: {e}"),
                        });
                    }
                }
                other => return other,
            }
        }
    }

    /// Fetches segment `index` of `meta` from the first peer whose copy passes its
    /// proof, and stores it in place of the lost one.
    fn repair_from_peers(&self, meta: &FileMeta, index: u64) -> anyhow::Result<()> {
        let Some(net) = &self.net else {
            anyhow::bail!("not networked");
        };
        let root = meta.root();
        let data = self.rt.block_on(async {
            let mut failures = Vec::new();
            for peer in net.peers().await {
                let request = FileRequest::Segments { root, first: index, count: 1 };
                match net.request_file(peer, request).await {
                    Ok(FileResponse::Segments(mut segs)) if segs.len() == 1 => {
                        let s = segs.remove(0);
                        let ok = SegmentProof::from_bytes(&s.proof)
                            .ok()
                            .and_then(|p| p.verify(&root, meta.len(), index, &s.data).ok())
                            == Some(true);
                        if ok {
                            return Ok(s.data);
                        }
                        self.metrics.peer_bad_segments.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%peer, index, "peer sent a segment that fails its proof; refused, and the peer is banned");
                        net.ban(peer).await;
                        failures.push(format!("{peer}: bad segment"));
                    }
                    Ok(other) => failures.push(format!("{peer}: {other:?}").chars().take(200).collect()),
                    Err(e) => failures.push(format!("{peer}: {e}")),
                }
            }
            Err(anyhow::anyhow!("no peer served it ({})", failures.join("; ")))
        })?;
        self.store
            .put_batch(vec![Put::segment(meta.data_key, index, data)])?;
        self.metrics.segments_repaired.fetch_add(1, Ordering::Relaxed);
        tracing::info!(root = %root_hex(&root), index, "segment repaired from a peer");
        Ok(())
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

    /// Checks uploaded segments' shapes and stores them.
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
        let mut incoming = Vec::with_capacity(segs.len());
        for s in segs {
            let root = parse_root(&s.root).map_err(|e| err(code::INVALID_PARAMS, e))?;
            let expected = self.expected_len(s.file_size, s.index)?;
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
            let proof_bytes = hex::decode(&s.proof)
                .map_err(|e| err(code::INVALID_PARAMS, format!("proof is not hex: {e}")))?;
            let proof = SegmentProof::from_bytes(&proof_bytes)
                .map_err(|e| err(code::INVALID_PARAMS, format!("malformed proof: {e}")))?;
            incoming.push(Incoming {
                root,
                size: s.file_size,
                index: s.index,
                data,
                proof,
            });
        }
        self.store_segments(incoming)
    }

    /// The byte length segment `index` of a `file_size`-byte file must have.
    fn expected_len(&self, file_size: u64, index: u64) -> RpcResult<usize> {
        if file_size > self.cfg.max_file_bytes {
            return Err(err(
                code::TOO_LARGE,
                format!(
                    "file of {file_size} bytes exceeds this node's limit of {}",
                    self.cfg.max_file_bytes
                ),
            ));
        }
        let count = segment_count(file_size);
        if index >= count {
            return Err(err(
                code::INVALID_PARAMS,
                format!("segment {index} of a {count}-segment file"),
            ));
        }
        Ok((file_size - index * SEGMENT_SIZE as u64).min(SEGMENT_SIZE as u64) as usize)
    }

    /// Checks segments (from a client or a peer) against their roots, stores them,
    /// and finalizes files that became complete. Nothing unverified is written.
    fn store_segments(&self, segs: Vec<Incoming>) -> RpcResult<()> {
        let mut by_root: HashMap<Hash, Vec<Put>> = HashMap::new();
        let mut markers = Vec::new();
        let mut bytes = 0u64;
        for s in segs {
            let expected = self.expected_len(s.size, s.index)?;
            if s.data.len() != expected {
                return Err(err(
                    code::INVALID_PARAMS,
                    format!(
                        "segment {} has {} bytes, expected {expected}",
                        s.index,
                        s.data.len()
                    ),
                ));
            }
            let this = PendingFile {
                kind: s.proof.kind(),
                size: s.size,
            };
            if self.finalized(&s.root)?.is_some() {
                continue; // Already complete: uploads are idempotent.
            }
            match self.pending(&s.root)? {
                Some(p) if p != this => {
                    return Err(err(
                        code::CONFLICT,
                        format!(
                            "file {} is being uploaded as {} bytes ({}), not {} bytes ({})",
                            root_hex(&s.root),
                            p.size,
                            p.kind,
                            this.size,
                            this.kind
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    self.pending
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(s.root, this);
                    markers.push(Put::meta(pending_key(&s.root), this.encode()));
                }
            }
            match s.proof.verify(&s.root, s.size, s.index, &s.data) {
                Ok(true) => {}
                Ok(false) | Err(_) => {
                    self.metrics.proof_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(root = %root_hex(&s.root), index = s.index, "rejected a segment that fails its proof");
                    return Err(err(
                        code::PROOF_FAILED,
                        format!(
                            "segment {} fails its proof against {}",
                            s.index,
                            root_hex(&s.root)
                        ),
                    ));
                }
            }
            bytes += s.data.len() as u64;
            by_root
                .entry(s.root)
                .or_default()
                .push(Put::segment(s.root, s.index, s.data));
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
            // The rebuilt tree checks every byte against the root below: the record
            // checksum would hash each segment a second time.
            for r in self.store.get_many_unchecked(&wanted) {
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
        let entry = FileEntry {
            root: *root,
            size: p.size,
            kind: p.kind,
        };
        // The metadata and the catalog entry commit together.
        let mut puts = vec![Put::meta(*root, meta.encode())];
        puts.extend(self.catalog_entry(entry));
        self.store
            .put_batch(puts)
            .map_err(|e| err(code::STORE, e.to_string()))?;
        self.remember(Arc::new(meta));
        self.announce(entry);
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

/// A segment to check and store, from a client or a peer.
struct Incoming {
    root: Hash,
    size: u64,
    index: u64,
    data: Vec<u8>,
    proof: SegmentProof,
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
                files: node.catalog.lock().unwrap_or_else(|p| p.into_inner()).files.len(),
                segments: stats.segments,
                used_bytes: stats.used_bytes,
                backend: node.cfg.data_dir.display().to_string(),
                p2p: node.net.as_ref().map(|n| n.listen_addr().to_string()),
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
            let segs = node.read_segments(&meta, start, end - start).map_err(file_err)?;
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
            let seg = node
                .read_segments(&meta, index, 1)
                .map_err(file_err)?
                .pop()
                .ok_or_else(|| err(code::INTERNAL, "no segment read"))?;
            let proof = meta
                .tree
                .prove_segment(index)
                .map_err(|e| err(code::INVALID_PARAMS, e.to_string()))?;
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
            let entry = FileEntry {
                root: meta.root(),
                size: meta.len(),
                kind,
            };
            if let Some(put) = node.catalog_entry(entry) {
                let n2 = node.clone();
                match tokio::task::spawn_blocking(move || n2.store.put_batch(vec![put])).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                    Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                }
            }
            node.announce(entry);
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
            match n3.read_segments(&meta, i, n) {
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
    let peers = match &node.net {
        Some(net) => net.peers().await.len(),
        None => 0,
    };
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
         # HELP zg_store_segments Segments stored.\n# TYPE zg_store_segments gauge\nzg_store_segments {}\n\
         # HELP zg_storage_replicated_files_total Files fetched whole from peers.\n# TYPE zg_storage_replicated_files_total counter\nzg_storage_replicated_files_total {}\n\
         # HELP zg_storage_replicated_bytes_total Segment bytes fetched from peers.\n# TYPE zg_storage_replicated_bytes_total counter\nzg_storage_replicated_bytes_total {}\n\
         # HELP zg_storage_peer_requests_total Peer requests answered.\n# TYPE zg_storage_peer_requests_total counter\nzg_storage_peer_requests_total {}\n\
         # HELP zg_storage_peer_bad_segments_total Peer answers refused for failing their proofs.\n# TYPE zg_storage_peer_bad_segments_total counter\nzg_storage_peer_bad_segments_total {}\n\
         # HELP zg_storage_segments_repaired_total Segments lost here and fetched again from peers.\n# TYPE zg_storage_segments_repaired_total counter\nzg_storage_segments_repaired_total {}\n\
         # HELP zg_storage_catalog_files Files held whole.\n# TYPE zg_storage_catalog_files gauge\nzg_storage_catalog_files {}\n\
         # HELP zg_p2p_peers Storage peers in the network.\n# TYPE zg_p2p_peers gauge\nzg_p2p_peers {}\n{}",
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
        g(&m.replicated_files),
        g(&m.replicated_bytes),
        g(&m.peer_requests),
        g(&m.peer_bad_segments),
        g(&m.segments_repaired),
        node.catalog.lock().unwrap_or_else(|p| p.into_inner()).files.len(),
        peers,
        NetStats::prometheus(node.net.as_ref().map(Network::stats)),
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

/// Makes the data directory and returns where the store lives in it (`store/`, beside
/// the node key). A store written by an earlier version straight into the data
/// directory is moved into `store/` first.
fn prepare_data_dir(dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    let store_dir = dir.join("store");
    std::fs::create_dir_all(&store_dir)
        .map_err(|e| anyhow::anyhow!("creating the data directory {}: {e}", store_dir.display()))?;
    for entry in std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let legacy = name == "index.zgi" || (name.starts_with("data-") && name.ends_with(".zgs"));
        if legacy {
            std::fs::rename(entry.path(), store_dir.join(&*name))
                .map_err(|e| anyhow::anyhow!("moving {} into {}: {e}", name, store_dir.display()))?;
            tracing::info!(file = %name, "moved a store file of the old layout into store/");
        }
    }
    Ok(store_dir)
}

/// Reads the catalog records; one that does not decode is skipped with a warning.
fn load_catalog(store: &Store) -> anyhow::Result<Catalog> {
    let key = catalog_key();
    let indices = store.segment_indices(&key);
    let wanted: Vec<(Hash, u64)> = indices.iter().map(|i| (key, *i)).collect();
    let mut c = Catalog {
        next: indices.last().map_or(0, |i| i + 1),
        ..Catalog::default()
    };
    for (i, r) in indices.iter().zip(store.get_many(&wanted)) {
        match r.map_err(|e| e.to_string()).and_then(|b| FileEntry::decode(&b)) {
            Ok(e) if c.roots.insert(e.root) => c.files.push(e),
            Ok(_) => {}
            Err(e) => tracing::warn!(record = i, error = %e, "skipping an unreadable catalog record"),
        }
    }
    Ok(c)
}

/// Answers peers, follows their announcements, and compares inventories with each
/// new peer and, every [`SWEEP_EVERY`], with all of them.
async fn handle_net_events(node: Arc<Node>, mut events: tokio::sync::mpsc::Receiver<NetEvent>) {
    let Some(net) = node.net.clone() else { return };
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.tick().await;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                None => break,
                Some(NetEvent::FileAnnounced { source, entry }) => {
                    tokio::spawn(replicate_file(node.clone(), entry, Some(source)));
                }
                Some(NetEvent::FileRequest { peer, request, channel }) => {
                    let n = node.clone();
                    let net = net.clone();
                    tokio::spawn(async move {
                        let n2 = n.clone();
                        let t = Instant::now();
                        let answer = tokio::task::spawn_blocking(move || answer_file(&n2, &request))
                            .await
                            .unwrap_or_else(|e| FileResponse::Refused(e.to_string()));
                        n.metrics.peer_requests.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%peer, answer_ms = t.elapsed().as_secs_f64() * 1e3, "answered a storage peer");
                        net.respond_file(channel, answer).await;
                    });
                }
                Some(NetEvent::PeerJoined(peer)) => {
                    tokio::spawn(sync_with(node.clone(), peer));
                }
                // DA traffic: the network refuses it before it reaches a storage node.
                Some(NetEvent::Announced { .. } | NetEvent::Request { .. }) => {}
            },
            _ = sweep.tick() => {
                for peer in net.peers().await {
                    tokio::spawn(sync_with(node.clone(), peer));
                }
            }
        }
    }
}

/// What a storage node tells a peer.
fn answer_file(node: &Node, request: &FileRequest) -> FileResponse {
    match *request {
        FileRequest::Segments { root, first, count } => {
            let meta = match node.finalized(&root) {
                Ok(Some(m)) => m,
                Ok(None) => return FileResponse::NotFound,
                Err(e) => return FileResponse::Refused(e.message().to_owned()),
            };
            let n = meta.segment_count();
            let count = u64::from(count);
            if first.checked_add(count).is_none_or(|end| end > n) {
                return FileResponse::Refused(format!("segments {first}+{count} of a {n}-segment file"));
            }
            // Only what is held here: a peer asking must never start a chain of repairs.
            let segs = match file::read_segments(&node.store, &meta, first, count) {
                Ok(s) => s,
                Err(e) => return FileResponse::Refused(e.to_string()),
            };
            let mut out = Vec::with_capacity(segs.len());
            for (i, data) in (first..).zip(segs) {
                let proof = match meta.tree.prove_segment(i) {
                    Ok(p) => p.to_bytes(),
                    Err(e) => return FileResponse::Refused(e.to_string()),
                };
                node.metrics
                    .bytes_out
                    .fetch_add(data.len() as u64, Ordering::Relaxed);
                let mut data = data.to_vec();
                if node.cfg.serve_bad_segments
                    && let Some(b) = data.first_mut()
                {
                    *b ^= 1;
                }
                out.push(SegmentReply { data, proof });
            }
            node.metrics
                .segments_out
                .fetch_add(out.len() as u64, Ordering::Relaxed);
            FileResponse::Segments(out)
        }
        FileRequest::Inventory { from } => {
            let c = node.catalog.lock().unwrap_or_else(|p| p.into_inner());
            let start = usize::try_from(from).unwrap_or(usize::MAX).min(c.files.len());
            let end = (start + usize::from(MAX_INVENTORY_PAGE)).min(c.files.len());
            FileResponse::Inventory {
                files: c.files[start..end].to_vec(),
                next: end as u64,
            }
        }
    }
}

/// Pages through `peer`'s inventory and fetches every file this node lacks.
async fn sync_with(node: Arc<Node>, peer: PeerId) {
    let Some(net) = node.net.clone() else { return };
    let mut from = 0u64;
    loop {
        match net.request_file(peer, FileRequest::Inventory { from }).await {
            Ok(FileResponse::Inventory { files, next }) => {
                let full_page = files.len() == usize::from(MAX_INVENTORY_PAGE);
                for entry in files {
                    if !node.holds(&entry.root) {
                        replicate_file(node.clone(), entry, Some(peer)).await;
                    }
                }
                if !full_page || next <= from {
                    break;
                }
                from = next;
            }
            // Not a storage node, or gone: nothing to compare.
            Ok(other) => {
                tracing::debug!(%peer, answer = ?std::mem::discriminant(&other), "no inventory from peer");
                break;
            }
            Err(e) => {
                tracing::debug!(%peer, error = %e, "inventory request failed");
                break;
            }
        }
    }
}

/// Removes a root from the in-progress set when its replication ends, however it ends.
struct Replicating<'a>(&'a Node, Hash);

impl Drop for Replicating<'_> {
    fn drop(&mut self) {
        self.0
            .replicating
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.1);
    }
}

/// Fetches the segments of `entry` this node lacks, `from` first, then other peers.
async fn replicate_file(node: Arc<Node>, entry: FileEntry, from: Option<PeerId>) {
    let Some(net) = node.net.clone() else { return };
    let root = root_hex(&entry.root);
    if entry.size > node.cfg.max_file_bytes {
        tracing::warn!(%root, bytes = entry.size, "not replicating a file over this node's size limit");
        return;
    }
    match node.finalized(&entry.root) {
        Ok(Some(_)) => return,
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(%root, error = %e.message(), "cannot tell whether a file is held; not replicating it");
            return;
        }
    }
    if !node
        .replicating
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(entry.root)
    {
        return;
    }
    let _unmark = Replicating(&node, entry.root);
    let Ok(_slot) = node.replication_slots.acquire().await else {
        return;
    };
    let mut peers = net.peers().await;
    if let Some(p) = from {
        peers.retain(|x| *x != p);
        peers.insert(0, p);
    }
    let started = Instant::now();
    match fetch_file(&node, &net, entry, &peers).await {
        Ok(bytes) => {
            node.metrics.replicated_files.fetch_add(1, Ordering::Relaxed);
            node.metrics.replicated_bytes.fetch_add(bytes, Ordering::Relaxed);
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(%root, bytes, secs, mb_per_s = bytes as f64 / secs.max(1e-9) / 1e6, "file replicated from peers");
        }
        Err(e) => {
            tracing::warn!(%root, error = %e, "replication incomplete; the next inventory sweep retries");
        }
    }
}

/// Fetches the missing segments of `entry` in chunks, several in flight, then
/// finalizes the file. Returns the bytes fetched.
async fn fetch_file(
    node: &Arc<Node>,
    net: &Network,
    entry: FileEntry,
    peers: &[PeerId],
) -> anyhow::Result<u64> {
    if peers.is_empty() {
        anyhow::bail!("no peers to fetch from");
    }
    let have: HashSet<u64> = match node
        .pending(&entry.root)
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?
    {
        Some(p) if p.size == entry.size && p.kind == entry.kind => {
            node.store.segment_indices(&entry.root).into_iter().collect()
        }
        Some(p) => anyhow::bail!(
            "an upload of this root as {} bytes ({}) is in progress here",
            p.size,
            p.kind
        ),
        None => HashSet::new(),
    };
    let count = segment_count(entry.size);
    let mut chunks: Vec<(u64, u16)> = Vec::new();
    for i in (0..count).filter(|i| !have.contains(i)) {
        match chunks.last_mut() {
            Some((first, n)) if *first + u64::from(*n) == i && *n < MAX_SEGMENTS_PER_REQUEST => *n += 1,
            _ => chunks.push((i, 1)),
        }
    }
    let bytes = futures_util::stream::iter(chunks)
        .map(|(first, n)| fetch_chunk(node, net, entry, first, n, peers))
        .buffer_unordered(CHUNKS_IN_FLIGHT)
        .try_fold(0u64, |acc, b| async move { Ok(acc + b) })
        .await?;
    let n2 = node.clone();
    tokio::task::spawn_blocking(move || n2.maybe_finalize(&entry.root))
        .await?
        .map_err(|e| anyhow::anyhow!("finalizing: {}", e.message()))?;
    if !node.holds(&entry.root) {
        anyhow::bail!("every segment fetched, yet the file is not finalized");
    }
    Ok(bytes)
}

/// Segments `first..first + n` from the first peer that has them and whose
/// segments pass their proofs; a peer sending a bad one is banned.
async fn fetch_chunk(
    node: &Arc<Node>,
    net: &Network,
    entry: FileEntry,
    first: u64,
    n: u16,
    peers: &[PeerId],
) -> anyhow::Result<u64> {
    let mut failures = Vec::new();
    let mut banned = HashSet::new();
    // Busy or rate-limited peers get two more chances, a second and then two apart.
    let tries: Vec<(u64, PeerId)> = (0..3).flat_map(|a| peers.iter().map(move |p| (a, *p))).collect();
    for (attempt, peer) in tries {
        if banned.contains(&peer) {
            continue;
        }
        if attempt > 0 && peer == peers[0] {
            tokio::time::sleep(Duration::from_secs(attempt)).await;
        }
        let request = FileRequest::Segments {
            root: entry.root,
            first,
            count: n,
        };
        let asked = Instant::now();
        let segs = match net.request_file(peer, request).await {
            Ok(FileResponse::Segments(segs)) if segs.len() == usize::from(n) => segs,
            Ok(FileResponse::Segments(segs)) => {
                failures.push(format!("{peer}: {} segments for {n} asked", segs.len()));
                continue;
            }
            Ok(FileResponse::NotFound) => {
                failures.push(format!("{peer}: not held"));
                continue;
            }
            Ok(FileResponse::Refused(why)) => {
                failures.push(format!("{peer}: refused ({why})"));
                continue;
            }
            Ok(FileResponse::Inventory { .. }) => {
                failures.push(format!("{peer}: answered with an inventory"));
                continue;
            }
            Err(e) => {
                failures.push(format!("{peer}: {e}"));
                continue;
            }
        };
        let got = asked.elapsed();
        let n2 = node.clone();
        let stored = tokio::task::spawn_blocking(move || {
            let mut incoming = Vec::with_capacity(segs.len());
            let mut bytes = 0u64;
            for (index, s) in (first..).zip(segs) {
                let proof = SegmentProof::from_bytes(&s.proof).map_err(|e| {
                    err(
                        code::PROOF_FAILED,
                        format!("segment {index}: malformed proof: {e}"),
                    )
                })?;
                bytes += s.data.len() as u64;
                incoming.push(Incoming {
                    root: entry.root,
                    size: entry.size,
                    index,
                    data: s.data,
                    proof,
                });
            }
            n2.store_segments(incoming).map(|()| bytes)
        })
        .await?;
        tracing::debug!(
            first,
            fetch_ms = got.as_secs_f64() * 1e3,
            store_ms = (asked.elapsed() - got).as_secs_f64() * 1e3,
            "segments fetched and stored"
        );
        match stored {
            Ok(bytes) => return Ok(bytes),
            Err(e) if e.code() == code::PROOF_FAILED || e.code() == code::INVALID_PARAMS => {
                node.metrics.peer_bad_segments.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%peer, root = %root_hex(&entry.root), first, error = %e.message(),
                    "peer sent segments that fail their proofs; refused, and the peer is banned");
                net.ban(peer).await;
                banned.insert(peer);
                failures.push(format!("{peer}: bad segments"));
            }
            Err(e) => anyhow::bail!("storing segments {first}+{n}: {}", e.message()),
        }
    }
    anyhow::bail!(
        "segments {first}+{n}: no peer served them ({})",
        failures.join("; ")
    )
}

/// A bound, not yet serving, storage node.
pub struct StorageServer {
    listener: tokio::net::TcpListener,
    app: Router,
    node: Arc<Node>,
}

impl StorageServer {
    /// Opens the store (recovering it), loads or makes the node key, binds the
    /// listener, and joins the p2p network when configured.
    pub async fn bind(cfg: StorageConfig) -> anyhow::Result<Self> {
        let dir = cfg.data_dir.clone();
        let store_dir = prepare_data_dir(&dir)?;
        let opts = StoreOptions {
            capacity: cfg.capacity,
            ..StoreOptions::default()
        };
        let (store, report) = tokio::task::spawn_blocking(move || Store::open_path(&store_dir, opts))
            .await?
            .map_err(|e| anyhow::anyhow!("opening the store in {}: {e}", cfg.data_dir.display()))?;
        tracing::info!(dir = %cfg.data_dir.display(), backend = %report.backend, files = report.files,
            records = report.records, from_snapshot = report.from_snapshot, "store opened");
        if let Some(t) = &report.torn_tail {
            tracing::warn!(file = %t.file, dropped = t.dropped_bytes, "dropped an unacknowledged torn write on open");
        }
        let catalog = load_catalog(&store)?;
        let listener = tokio::net::TcpListener::bind(cfg.listen).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e} (is another node using the port? choose another address: \
                 --listen for zg-storage, --storage-listen for zg devnet)",
                cfg.listen
            )
        })?;
        let (net, events) = match &cfg.p2p {
            Some(p2p) => {
                let key = NodeKey::load_or_create(&dir.join(crate::da::KEY_FILE), rand::random)?;
                let (net, events) = Network::start(p2p.clone(), key.secret(), Service::Storage).await?;
                (Some(net), Some(events))
            }
            None => (None, None),
        };
        let node = Arc::new(Node {
            store,
            cfg: cfg.clone(),
            metrics: Metrics::default(),
            net,
            rt: tokio::runtime::Handle::current(),
            catalog: Mutex::new(catalog),
            replicating: Mutex::new(HashSet::new()),
            replication_slots: Semaphore::new(REPLICATIONS_AT_ONCE),
            pending: Mutex::new(HashMap::new()),
            finalizing: Mutex::new(HashSet::new()),
            clients: Mutex::new(HashMap::new()),
            metas: Mutex::new(HashMap::new()),
        });
        if let Some(events) = events {
            tokio::spawn(handle_net_events(node.clone(), events));
        }
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

    /// The p2p address peers dial, when networked.
    pub fn p2p_addr(&self) -> Option<String> {
        self.node.net.as_ref().map(|n| n.listen_addr().to_string())
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
        // The network task holds the node through its event handler: stop it too.
        if let Some(net) = &self.node.net {
            net.shutdown().await;
        }
        tracing::info!("storage node stopped");
        drop(self.node);
        Ok(())
    }
}
