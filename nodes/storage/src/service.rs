//! The storage service: the upload state machine over the segment store and the
//! file pipeline, apart from the transports that carry it.
//!
//! Uploads arrive segment by segment with proofs (resumable; each checked against the
//! root before it is written; an upload in progress is marked durably with its size and
//! root kind). A file is finalized once every segment is durable: its tree is rebuilt
//! from the stored segments, checked against the root, and saved as metadata with the
//! file's catalog entry. The catalog lists the files held whole, in the order they were
//! finalized, so peers can page through it.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine;
use bytes::Bytes;
use libp2p::PeerId;
use rayon::prelude::*;
use tokio::sync::Semaphore;
use zg_codec::{Reader, Writer};
use zg_file::replica::FileEntry;
use zg_file::shard::{self, ShardMeta};
use zg_file::{self as file, FileError, FileMeta};
use zg_merkle::{FileTree, Hash, RootKind, SEGMENT_SIZE, SegmentProof, segment_count, segment_node};
use zg_node::metrics::Registry;
use zg_node::p2p::Network;
use zg_store::{Put, Store, StoreError};

use crate::api::{B64, FileInfo, NetworkIdentity, ProtocolVersion, Ranges, Root, SegmentWithProof, Status};
use crate::flow::{FlowError, FlowLog};
use crate::metrics::Metrics;
use crate::server::StorageConfig;
use crate::wire::FileProtocol;

/// Why the storage service refused or failed a request; each transport maps these to
/// its own codes (JSON-RPC error codes, HTTP statuses, p2p refusals).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The request is malformed: bad hex or base64, a wrong length, an index past the end.
    #[error("{0}")]
    InvalidParams(String),
    /// Over one of the node's limits (file size, segments per request).
    #[error("{0}")]
    TooLarge(String),
    /// The root is already being uploaded with another size or root kind.
    #[error("{0}")]
    Conflict(String),
    /// A segment that fails its proof against the root.
    #[error("{0}")]
    ProofFailed(String),
    /// No such file or upload.
    #[error("{0}")]
    NotFound(String),
    /// The segment store refused (full, or an I/O error).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A Keccak-rooted file this node follows the Flow for, but nobody paid for.
    #[error("{0}")]
    NotPaid(String),
    /// 0G's answer to segments for a file already finalized here.
    #[error("already uploaded and finalized")]
    AlreadyFinalized,
    /// Anything else: stored data that does not add up.
    #[error("{0}")]
    Internal(String),
}

impl From<FileError> for StorageError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::NotFound(_) | FileError::NotInShard { .. } => Self::NotFound(e.to_string()),
            FileError::OutOfRange { .. } => Self::InvalidParams(e.to_string()),
            FileError::Store(s @ (StoreError::Full { .. } | StoreError::DiskFull { .. })) => Self::Store(s),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// The storage service's results.
pub type StorageResult<T> = Result<T, StorageError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PendingFile {
    pub(crate) kind: RootKind,
    pub(crate) size: u64,
}

impl PendingFile {
    fn encode(self) -> Vec<u8> {
        let mut w = Writer::with_capacity(9);
        w.tag(u8::from(self.kind == RootKind::Keccak)).u64(self.size);
        w.into_bytes()
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new("upload marker", b);
        let kind = if r.u8().ok()? == 1 {
            RootKind::Keccak
        } else {
            RootKind::Blake3
        };
        let size = r.u64().ok()?;
        r.finish().ok()?;
        Some(Self { kind, size })
    }
}

/// What a node holds of a complete file: all of it, or every segment of its shard.
#[derive(Clone)]
pub(crate) enum Held {
    /// The whole file, with its tree.
    Whole(Arc<FileMeta>),
    /// This node's shard of it, each segment with its proof.
    Shard(Arc<ShardMeta>),
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
pub(crate) struct Catalog {
    pub(crate) files: Vec<FileEntry>,
    pub(crate) roots: HashSet<Hash>,
    /// The record index the next entry takes.
    pub(crate) next: u64,
}

pub(crate) struct StorageService {
    pub(crate) store: Store,
    pub(crate) cfg: StorageConfig,
    pub(crate) metrics: Metrics,
    /// Every metric, for `/metrics`.
    pub(crate) registry: Registry,
    pub(crate) net: Option<Network<FileProtocol>>,
    /// The runtime, for blocking readers that fetch lost segments from peers.
    pub(crate) rt: Option<tokio::runtime::Handle>,
    pub(crate) catalog: Mutex<Catalog>,
    pub(crate) replicating: Mutex<HashSet<Hash>>,
    pub(crate) replication_slots: Semaphore,
    pub(crate) pending: Mutex<HashMap<Hash, PendingFile>>,
    pub(crate) finalizing: Mutex<HashSet<Hash>>,
    /// Nodes of the segments of whole files being uploaded, each checked on arrival
    /// against its proof, by root: finalize builds the tree from them (kept in
    /// memory; segments stored before a restart are read back instead).
    pub(crate) segment_nodes: Mutex<HashMap<Hash, Vec<(u64, Hash)>>>,
    /// Finalized files' metadata: decoding it rebuilds the tree, too costly for every segment request.
    pub(crate) metas: Mutex<HashMap<Hash, Arc<FileMeta>>>,
    /// Files of which this node holds its shard, complete.
    pub(crate) shard_metas: Mutex<HashMap<Hash, Arc<ShardMeta>>>,
    /// The paid submissions followed on the chain (empty off-chain).
    pub(crate) flow: Mutex<FlowLog>,
    /// The followed chain's id, once it answered (0 before).
    pub(crate) chain_id: AtomicU64,
    /// Where each peer's plain HTTP API is (`None`: not reachable, use libp2p), once
    /// asked (the cell is shared by the fetches waiting for the answer).
    pub(crate) peer_http: Mutex<HashMap<PeerId, Arc<tokio::sync::OnceCell<Option<SocketAddr>>>>>,
    /// The client that fetches segments from peers' HTTP APIs (`None` if it failed to build).
    pub(crate) http: Option<reqwest::Client>,
}

/// Files whose metadata stays decoded (a file's tree is 32 bytes per segment per level).
const META_CACHE: usize = 256;

impl StorageService {
    /// The service over `store` (its catalog read from it), replicating over `net`
    /// when networked; a blocking reader reaches peers through the current runtime.
    pub(crate) fn new(
        store: Store,
        cfg: StorageConfig,
        net: Option<Network<FileProtocol>>,
    ) -> Result<Self, FlowError> {
        let catalog = load_catalog(&store);
        let flow = FlowLog::load(&store)?;
        let metrics = Metrics::new();
        let registry = metrics.registry(net.as_ref());
        Ok(Self {
            store,
            cfg,
            metrics,
            registry,
            net,
            rt: tokio::runtime::Handle::try_current().ok(),
            catalog: Mutex::new(catalog),
            replicating: Mutex::new(HashSet::new()),
            replication_slots: Semaphore::new(crate::replication::REPLICATIONS_AT_ONCE),
            pending: Mutex::new(HashMap::new()),
            finalizing: Mutex::new(HashSet::new()),
            segment_nodes: Mutex::new(HashMap::new()),
            metas: Mutex::new(HashMap::new()),
            shard_metas: Mutex::new(HashMap::new()),
            flow: Mutex::new(flow),
            chain_id: AtomicU64::new(0),
            peer_http: Mutex::new(HashMap::new()),
            http: crate::replication::http_client(),
        })
    }

    pub(crate) fn pending(&self, root: &Hash) -> StorageResult<Option<PendingFile>> {
        if let Some(p) = self.pending.lock().unwrap_or_else(|p| p.into_inner()).get(root) {
            return Ok(Some(*p));
        }
        match self.store.get_meta(&pending_key(root)) {
            Ok(b) => {
                let p = PendingFile::decode(&b)
                    .ok_or_else(|| StorageError::Internal("corrupt upload marker".into()))?;
                self.pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(*root, p);
                Ok(Some(p))
            }
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(StorageError::Store(e)),
        }
    }

    /// The finalized file `root`, decoded once and then served from the cache.
    pub(crate) fn open_meta(&self, root: &Hash) -> Result<Arc<FileMeta>, FileError> {
        if let Some(m) = self.metas.lock().unwrap_or_else(|p| p.into_inner()).get(root) {
            return Ok(m.clone());
        }
        let meta = Arc::new(file::open(&self.store, root)?);
        self.remember(meta.clone());
        Ok(meta)
    }

    pub(crate) fn remember(&self, meta: Arc<FileMeta>) {
        let mut metas = self.metas.lock().unwrap_or_else(|p| p.into_inner());
        if metas.len() >= META_CACHE {
            metas.clear();
        }
        metas.insert(meta.root(), meta);
    }

    /// The catalog record for a newly stored file, unless it is listed already.
    pub(crate) fn catalog_entry(&self, entry: FileEntry) -> Option<Put> {
        let mut c = self.catalog.lock().unwrap_or_else(|p| p.into_inner());
        if !c.roots.insert(entry.root) {
            return None;
        }
        c.files.push(entry);
        let index = c.next;
        c.next += 1;
        Some(Put::segment(catalog_key(), index, entry.encode().to_vec()))
    }

    pub(crate) fn holds(&self, root: &Hash) -> bool {
        self.catalog
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .roots
            .contains(root)
    }

    /// Segments `first..first + count` of a stored file, each verified; one that is
    /// lost or damaged here (and not rebuilt from local parity) is fetched from a
    /// peer, checked against the root, rewritten, and served. Blocking.
    pub(crate) fn read_segments(
        &self,
        meta: &FileMeta,
        first: u64,
        count: u64,
    ) -> Result<Vec<Bytes>, FileError> {
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

    pub(crate) fn finalized(&self, root: &Hash) -> StorageResult<Option<Arc<FileMeta>>> {
        match self.open_meta(root) {
            Ok(m) => Ok(Some(m)),
            Err(FileError::NotFound(_)) => Ok(None),
            Err(e) => Err(StorageError::from(e)),
        }
    }

    /// What this node holds of the complete file `root`: the whole file, or every
    /// segment of its shard (none at all when its shard has no segment of a paid file).
    pub(crate) fn held(&self, root: &Hash) -> StorageResult<Option<Held>> {
        if let Some(m) = self.finalized(root)? {
            return Ok(Some(Held::Whole(m)));
        }
        let shard = self.cfg.shard;
        if shard.is_whole() {
            return Ok(None);
        }
        if let Some(m) = self
            .shard_metas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(root)
        {
            return Ok(Some(Held::Shard(m.clone())));
        }
        if let Some(m) = shard::open_shard(&self.store, root)? {
            let m = Arc::new(m);
            let mut cache = self.shard_metas.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= META_CACHE {
                cache.clear();
            }
            cache.insert(*root, m.clone());
            return Ok(Some(Held::Shard(m)));
        }
        // A paid file none of whose segments fall in this shard is complete here as it is.
        Ok(self
            .submission_of(root)
            .map(|e| ShardMeta {
                root: *root,
                len: e.size,
                kind: RootKind::Keccak,
                shard,
                position: Self::flow_position(&e),
            })
            .filter(|m| m.held_count() == 0)
            .map(|m| Held::Shard(Arc::new(m))))
    }

    /// The first flow segment of `root`: where the followed Flow put it, 0 off the flow.
    pub(crate) fn position_of(&self, root: &Hash) -> u64 {
        self.submission_of(root).map_or(0, |e| Self::flow_position(&e))
    }

    /// What the node knows of `root`: a file held whole (or its shard), an upload in
    /// progress, or (following a chain) a paid submission no segment of which arrived yet.
    pub(crate) fn info(&self, root: &Hash) -> StorageResult<Option<FileInfo>> {
        let tx = self.submission_of(root);
        let info = |size: u64, kind: RootKind, uploaded: u64, finalized: bool| FileInfo {
            root: Root::from(*root),
            file_size: size,
            root_kind: kind.to_string(),
            segment_count: segment_count(size),
            uploaded_seg_num: uploaded,
            finalized,
            tx: tx.as_ref().map(Self::flow_tx),
            is_cached: false,
            pruned: false,
        };
        match self.held(root)? {
            Some(Held::Whole(m)) => return Ok(Some(info(m.len(), m.tree.kind(), m.segment_count(), true))),
            Some(Held::Shard(m)) => return Ok(Some(info(m.len, m.kind, m.held_count(), true))),
            None => {}
        }
        if let Some(p) = self.pending(root)? {
            let uploaded = self.store.segment_indices(root).len() as u64;
            return Ok(Some(info(p.size, p.kind, uploaded, false)));
        }
        Ok(tx.as_ref().map(|e| info(e.size, RootKind::Keccak, 0, false)))
    }

    /// The followed flow (a poisoned lock still holds whole entries: each append is one batch).
    pub(crate) fn flow_log(&self) -> std::sync::MutexGuard<'_, FlowLog> {
        self.flow.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Refuses an upload of more segments than one request may carry.
    pub(crate) fn check_request_size(&self, segments: usize) -> StorageResult<()> {
        if segments > self.cfg.max_segments_per_request {
            return Err(StorageError::TooLarge(format!(
                "{segments} segments in one request; the limit is {}",
                self.cfg.max_segments_per_request
            )));
        }
        Ok(())
    }

    /// Refuses segment `index` of `root` unless this node's shard holds it.
    pub(crate) fn check_shard(&self, root: &Hash, index: u64) -> StorageResult<()> {
        let shard = self.cfg.shard;
        let position = self.position_of(root);
        if shard.holds(position, index) {
            return Ok(());
        }
        Err(StorageError::InvalidParams(format!(
            "segment {index} of {} (flow segment {}) belongs to shard {}/{}; this node holds shard {shard}",
            Root::from(*root),
            u128::from(position) + u128::from(index),
            zg_file::shard::Shard::of(position, index, shard.count()),
            shard.count()
        )))
    }

    /// Checks uploaded segments' shapes and stores them.
    pub(crate) fn upload(&self, segs: Vec<SegmentWithProof>) -> StorageResult<()> {
        self.check_request_size(segs.len())?;
        let mut incoming = Vec::with_capacity(segs.len());
        for s in segs {
            let root = s.root.0;
            let expected = self.expected_len(s.file_size, s.index)?;
            // base64 is 4 chars per 3 bytes: refuse oversize text before decoding it.
            if s.data.len() > expected.div_ceil(3) * 4 {
                return Err(StorageError::InvalidParams(format!(
                    "segment {} data longer than {expected} bytes",
                    s.index
                )));
            }
            let data = B64.decode(&s.data).map_err(|e| {
                StorageError::InvalidParams(format!("segment {} data is not base64: {e}", s.index))
            })?;
            incoming.push(self.incoming(root, s.file_size, s.index, data.into(), &s.proof.0)?);
        }
        self.store_segments(incoming)
    }

    /// Checks and stores the segments of a binary upload ([`zg_file::frames`]).
    pub(crate) fn upload_frames(&self, body: &Bytes) -> StorageResult<()> {
        let frames = zg_file::frames::decode(body, self.cfg.max_segments_per_request)
            .map_err(|e| StorageError::InvalidParams(e.to_string()))?;
        // Each segment stays a slice of the body: stored without a copy.
        let incoming = frames
            .into_iter()
            .map(|f| self.incoming(f.root, f.file_size, f.index, body.slice_ref(f.data), f.proof))
            .collect::<StorageResult<Vec<_>>>()?;
        self.store_segments(incoming)
    }

    /// One uploaded segment, its proof decoded and its file's payment checked.
    fn incoming(
        &self,
        root: Hash,
        size: u64,
        index: u64,
        data: Bytes,
        proof: &[u8],
    ) -> StorageResult<Incoming> {
        let proof = SegmentProof::from_bytes(proof)
            .map_err(|e| StorageError::InvalidParams(format!("malformed proof: {e}")))?;
        self.check_paid(&root, size, proof.kind())?;
        Ok(Incoming {
            root,
            size,
            index,
            data: data.into(),
            proof,
        })
    }

    /// The byte length segment `index` of a `file_size`-byte file must have.
    pub(crate) fn expected_len(&self, file_size: u64, index: u64) -> StorageResult<usize> {
        if file_size > self.cfg.max_file_bytes {
            return Err(StorageError::TooLarge(format!(
                "file of {file_size} bytes exceeds this node's limit of {}",
                self.cfg.max_file_bytes
            )));
        }
        let count = segment_count(file_size);
        if index >= count {
            return Err(StorageError::InvalidParams(format!(
                "segment {index} of a {count}-segment file"
            )));
        }
        Ok((file_size - index * SEGMENT_SIZE as u64).min(SEGMENT_SIZE as u64) as usize)
    }

    /// Checks segments (from a client or a peer) against their roots, stores them,
    /// and finalizes files that became complete. Nothing unverified is written.
    pub(crate) fn store_segments(&self, segs: Vec<Incoming>) -> StorageResult<()> {
        let mut by_root: HashMap<Hash, Vec<Put>> = HashMap::new();
        let mut nodes: HashMap<Hash, Vec<(u64, Hash)>> = HashMap::new();
        let mut markers = Vec::new();
        let (mut bytes, mut n) = (0u64, 0u64);
        for s in segs {
            let expected = self.expected_len(s.size, s.index)?;
            if s.data.len() != expected {
                return Err(StorageError::InvalidParams(format!(
                    "segment {} has {} bytes, expected {expected}",
                    s.index,
                    s.data.len()
                )));
            }
            let this = PendingFile {
                kind: s.proof.kind(),
                size: s.size,
            };
            if self.held(&s.root)?.is_some() {
                continue; // Already complete: uploads are idempotent.
            }
            self.check_shard(&s.root, s.index)?;
            match self.pending(&s.root)? {
                Some(p) if p != this => {
                    return Err(StorageError::Conflict(format!(
                        "file {} is being uploaded as {} bytes ({}), not {} bytes ({})",
                        Root::from(s.root),
                        p.size,
                        p.kind,
                        this.size,
                        this.kind
                    )));
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
            // The segment's node is hashed once: it checks the proof and, kept, builds the tree at finalize.
            let node = segment_node(this.kind, s.size, s.index, &s.data);
            let node = match node
                .and_then(|node| Ok((s.proof.verify_node(&s.root, s.size, s.index, &node)?, node)))
            {
                Ok((true, node)) => {
                    nodes.entry(s.root).or_default().push((s.index, node));
                    node
                }
                Ok((false, _)) | Err(_) => {
                    self.metrics.proof_failures.inc();
                    tracing::warn!(root = %Root::from(s.root), index = s.index, "rejected a segment that fails its proof");
                    return Err(StorageError::ProofFailed(format!(
                        "segment {} fails its proof against {}",
                        s.index,
                        Root::from(s.root)
                    )));
                }
            };
            bytes += s.data.len() as u64;
            n += 1;
            let puts = by_root.entry(s.root).or_default();
            if !self.cfg.shard.is_whole() {
                // A shard cannot rebuild the file's tree: it keeps each checked proof.
                puts.push(Put::segment(
                    shard::proof_key(&s.root),
                    s.index,
                    s.proof.to_bytes(),
                ));
            }
            // A BLAKE3 file's segment node (of two or more segments) is the store's
            // segment hash: the store keeps it rather than hash the bytes a second time.
            puts.push(if this.kind == RootKind::Blake3 && segment_count(s.size) > 1 {
                Put::segment_hashed(s.root, s.index, s.data, node)
            } else {
                Put::segment(s.root, s.index, s.data)
            });
        }
        let roots: Vec<Hash> = by_root.keys().copied().collect();
        let mut puts = markers;

        puts.extend(by_root.into_values().flatten());
        if puts.is_empty() {
            return Ok(());
        }
        let t = Instant::now();
        self.store.put_batch(puts).map_err(StorageError::Store)?;
        self.metrics
            .store_write_seconds
            .observe(t.elapsed().as_secs_f64());
        self.metrics.bytes_in.inc_by(bytes);
        self.metrics.segments_in.inc_by(n);
        if self.cfg.shard.is_whole() {
            let mut kept = self.segment_nodes.lock().unwrap_or_else(|p| p.into_inner());
            for (root, list) in nodes {
                kept.entry(root).or_default().extend(list);
            }
        }
        for root in roots {
            self.maybe_finalize(&root)?;
        }
        Ok(())
    }

    /// Finalizes `root` if every segment is stored: rebuilds the tree from
    /// the segments, checks the root, writes the metadata.
    pub(crate) fn maybe_finalize(&self, root: &Hash) -> StorageResult<()> {
        let Some(p) = self.pending(root)? else {
            return Ok(());
        };
        let count = segment_count(p.size);
        let (shard, position) = (self.cfg.shard, self.position_of(root));
        if (self.store.segment_indices(root).len() as u64) < shard.held_count(position, count) {
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
        let result = if shard.is_whole() {
            self.finalize(root, p, count)
        } else {
            self.finalize_shard(root, p, position)
        };
        self.finalizing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(root);
        result
    }

    /// Finalizes a whole file: its tree built from the nodes of the segments checked on
    /// arrival, the segments stored before a restart (whose nodes went with it) and the
    /// last one (0G's small submission nodes need its sectors) read back and hashed.
    pub(crate) fn finalize(&self, root: &Hash, p: PendingFile, count: u64) -> StorageResult<()> {
        let kept = self
            .segment_nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(root)
            .unwrap_or_default();
        let mut nodes: Vec<Option<Hash>> = vec![None; count as usize - 1];
        for (index, node) in kept {
            if let Some(slot) = nodes.get_mut(index as usize) {
                *slot = Some(node);
            }
        }
        // The rebuilt tree checks every byte read here against the root below: the
        // record checksum would hash each segment a second time.
        let read = |indices: &[u64]| -> StorageResult<Vec<zg_store::Segment>> {
            let keys: Vec<(Hash, u64)> = indices.iter().map(|&i| (*root, i)).collect();
            self.store
                .get_many_unchecked(&keys)
                .into_iter()
                .collect::<Result<_, _>>()
                .map_err(StorageError::Store)
        };
        let missing: Vec<u64> = (0..count - 1).filter(|&i| nodes[i as usize].is_none()).collect();
        for chunk in missing.chunks(64) {
            let segs = read(chunk)?;
            let hashed: Vec<Hash> = chunk
                .par_iter()
                .zip(segs.par_iter())
                .map(|(&i, seg)| segment_node(p.kind, p.size, i, seg))
                .collect::<Result<_, _>>()
                .map_err(|e| StorageError::Internal(format!("a stored segment has the wrong shape: {e}")))?;
            for (&i, node) in chunk.iter().zip(hashed) {
                nodes[i as usize] = Some(node);
            }
        }
        let last = read(&[count - 1])?;
        let last = last.first().map_or(&[][..], |s| &s[..]);
        let nodes: Vec<Hash> = nodes.into_iter().map(Option::unwrap_or_default).collect();
        let tree = FileTree::from_segment_nodes(p.kind, p.size, nodes, last)
            .map_err(|e| StorageError::Internal(format!("stored segments do not rebuild a tree: {e}")))?;
        if tree.root() != *root || tree.file_len() != p.size {
            return Err(StorageError::Internal(
                "stored segments do not rebuild the root".into(),
            ));
        }
        let meta = FileMeta {
            tree,
            data_key: *root,
            erasure: None,
        };
        self.complete(root, p, Put::meta(*root, meta.encode()))?;
        self.remember(Arc::new(meta));
        tracing::info!(root = %Root::from(*root), bytes = p.size, kind = %p.kind, "file finalized");
        Ok(())
    }

    /// Marks this node's shard of `root` complete: every segment of it is stored, each
    /// checked against the root with the proof kept beside it.
    fn finalize_shard(&self, root: &Hash, p: PendingFile, position: u64) -> StorageResult<()> {
        let meta = ShardMeta {
            root: *root,
            len: p.size,
            kind: p.kind,
            shard: self.cfg.shard,
            position,
        };
        self.complete(root, p, Put::meta(shard::shard_meta_key(root), meta.encode()))?;
        tracing::info!(root = %Root::from(*root), bytes = p.size, kind = %p.kind, shard = %meta.shard,
            segments = meta.held_count(), "shard of a file finalized");
        self.shard_metas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(*root, Arc::new(meta));
        Ok(())
    }

    /// Commits what a node holds of a complete file (`record`) with its catalog entry,
    /// tells peers, and drops the upload marker.
    fn complete(&self, root: &Hash, p: PendingFile, record: Put) -> StorageResult<()> {
        let entry = FileEntry {
            root: *root,
            size: p.size,
            kind: p.kind,
        };
        // The record and the catalog entry commit together.
        let mut puts = vec![record];
        puts.extend(self.catalog_entry(entry));
        self.store.put_batch(puts).map_err(StorageError::Store)?;
        self.announce(entry);
        // The marker's tombstone: the file is complete.
        self.store
            .delete(pending_key(root))
            .map_err(StorageError::Store)?;
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(root);
        // Nodes of a duplicate segment that arrived while the file finalized.
        self.segment_nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(root);
        self.metrics.files_finalized.inc();
        Ok(())
    }

    /// What the node holds and how it stores it, with `peers` storage peers connected.
    pub(crate) fn status(&self, peers: usize) -> Status {
        let stats = self.store.stats();
        let flow = self.flow_log();
        Status {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            files: self.catalog.lock().unwrap_or_else(|p| p.into_inner()).files.len(),
            segments: stats.segments,
            used_bytes: stats.used_bytes,
            backend: self.cfg.data_dir.display().to_string(),
            p2p: self.net.as_ref().map(|n| n.listen_addr().to_string()),
            connected_peers: peers,
            log_sync_height: flow.next_block().saturating_sub(1),
            log_sync_block: Root::default(),
            next_tx_seq: flow.next_seq(),
            network_identity: self.following().then(|| NetworkIdentity {
                chain_id: self.chain_id.load(std::sync::atomic::Ordering::Relaxed),
                flow_address: zg_contracts::FLOW_ADDRESS.to_string(),
                p2p_protocol_version: ProtocolVersion {
                    major: 0,
                    minor: 4,
                    build: 0,
                },
            }),
        }
    }

    /// Segments `start..end` of a finalized file, each verified, concatenated.
    pub(crate) fn download(&self, root: &Hash, start: u64, end: u64) -> StorageResult<Vec<u8>> {
        let limit = self.cfg.max_segments_per_request as u64;
        if end <= start || end - start > limit {
            return Err(StorageError::InvalidParams(format!(
                "range {start}..{end}: ask for 1 to {limit} segments"
            )));
        }
        let segs = match self.held(root)? {
            Some(Held::Shard(m)) => {
                let indices: Vec<u64> = (start..end).collect();
                let segs = shard::read_shard_segments(&self.store, &m, &indices)?;
                segs.into_iter().map(|(s, _)| s).collect()
            }
            Some(Held::Whole(m)) => self.read_segments(&m, start, end - start)?,
            None => {
                return Err(StorageError::NotFound(format!(
                    "no file with root {} is stored",
                    Root::from(*root)
                )));
            }
        };
        let bytes: Vec<u8> = segs.concat();
        self.metrics.bytes_out.inc_by(bytes.len() as u64);
        self.metrics.segments_out.inc_by(segs.len() as u64);
        Ok(bytes)
    }

    /// Segment `index` of a finalized file with its proof.
    pub(crate) fn download_with_proof(&self, root: &Hash, index: u64) -> StorageResult<SegmentWithProof> {
        if let Some(Held::Shard(m)) = self.held(root)? {
            let (seg, proof) = shard::read_shard_segments(&self.store, &m, &[index])?
                .pop()
                .ok_or_else(|| StorageError::Internal("no segment read".into()))?;
            self.metrics.bytes_out.inc_by(seg.len() as u64);
            self.metrics.segments_out.inc();
            return Ok(SegmentWithProof::new(root, index, &seg, &proof, m.len));
        }
        let meta = self.open_meta(root)?;
        let seg = self
            .read_segments(&meta, index, 1)?
            .pop()
            .ok_or_else(|| StorageError::Internal("no segment read".into()))?;
        let proof = meta
            .tree
            .prove_segment(index)
            .map_err(|e| StorageError::InvalidParams(e.to_string()))?;
        self.metrics.bytes_out.inc_by(seg.len() as u64);
        self.metrics.segments_out.inc();
        Ok(SegmentWithProof::new(root, index, &seg, &proof, meta.len()))
    }

    pub(crate) fn missing(&self, root: &Hash) -> StorageResult<Ranges> {
        if self.held(root)?.is_some() {
            return Ok(Vec::new());
        }
        let size = match (self.pending(root)?, self.submission_of(root)) {
            (Some(p), _) => p.size,
            // Paid for on the followed Flow, no segment yet: all of it.
            (None, Some(e)) => e.size,
            (None, None) => {
                return Err(StorageError::NotFound(format!(
                    "no upload of {} in progress",
                    Root::from(*root)
                )));
            }
        };
        let have: HashSet<u64> = self.store.segment_indices(root).into_iter().collect();
        let wanted = self
            .cfg
            .shard
            .indices(self.position_of(root), segment_count(size));
        Ok(crate::api::ranges(wanted.filter(|i| !have.contains(i))))
    }
}

/// A segment to check and store, from a client or a peer.
pub(crate) struct Incoming {
    pub(crate) root: Hash,
    pub(crate) size: u64,
    pub(crate) index: u64,
    /// Shared with the request or message it came in, or received straight into
    /// the record the store writes (no copy on the way to disk).
    pub(crate) data: zg_store::Payload,
    pub(crate) proof: SegmentProof,
}

/// Reads the catalog records; one that does not decode is skipped with a warning.
pub(crate) fn load_catalog(store: &Store) -> Catalog {
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
    c
}

mod by_tx_seq;

#[cfg(test)]
mod tests;
