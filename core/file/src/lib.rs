//! # zg-file
//!
//! The file pipeline: bytes → segments → Merkle tree (either root kind) →
//! optional GF(2^16) parity → stored segments; and back: stored segments
//! (or any `k` of each stripe's shards) → bytes, every segment checked
//! against the root with its proof before it is written out.
//!
//! Ingest is one pass over the input with bounded memory: read a batch,
//! hash it (rayon), hand its segments to the store's writer and read the
//! next batch while the writer syncs. Segments are stored under a random
//! upload key until the root is known; the root's metadata record (the
//! tree's outboard, the key, the erasure geometry) is written last, so a
//! file is visible only once every segment is durable.

pub mod flow;
pub mod frames;
pub mod replica;
pub mod shard;

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rayon::prelude::*;
use zg_erasure::ErasureError;
use zg_erasure::gf16::Gf16Code;
use zg_merkle::{FileHasher, FileTree, Hash, MerkleError, RootKind, SEGMENT_SIZE, SegmentProof};

use zg_codec::hex::encode as hex;
use zg_codec::{Reader, Writer};
use zg_store::{Pending, Put, Store, StoreError};

/// What went wrong in the file pipeline.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading the input failed.
    #[error("reading the input: {0}")]
    Read(#[source] io::Error),
    /// Writing the output failed.
    #[error("writing the output: {0}")]
    Write(#[source] io::Error),
    /// No file with that root is stored.
    #[error("no file with root {0} is stored")]
    NotFound(String),
    /// The file's metadata record does not decode or does not match its root.
    #[error("metadata of {root} is corrupt: {reason}")]
    BadMeta {
        /// The root in hex.
        root: String,
        /// What was wrong.
        reason: String,
    },
    /// A segment could not be read intact and could not be rebuilt.
    #[error("segment {index} of {root} is unavailable: {reason}")]
    Unavailable {
        /// The root in hex.
        root: String,
        /// The segment.
        index: u64,
        /// Why.
        reason: String,
    },
    /// A segment index past the end of the file.
    #[error("segment {index} out of range: the file has {count}")]
    OutOfRange {
        /// The index asked for.
        index: u64,
        /// Segments in the file.
        count: u64,
    },
    /// A segment another shard of the flow holds, asked of a node holding one shard.
    #[error("segment {index} of {root} is not in shard {shard}, the one held here")]
    NotInShard {
        /// The root in hex.
        root: String,
        /// The segment.
        index: u64,
        /// The shard held, `ID/N`.
        shard: String,
    },
    /// Erasure coding refused the geometry or the shards.
    #[error(transparent)]
    Erasure(#[from] ErasureError),
    /// A tree or proof operation failed.
    #[error(transparent)]
    Merkle(#[from] MerkleError),
}

/// Results of the file pipeline.
pub type Result<T, E = FileError> = std::result::Result<T, E>;

/// How a file is ingested.
#[derive(Clone, Copy, Debug)]
pub struct IngestOptions {
    /// Which tree names the file.
    pub kind: RootKind,
    /// `Some((k, m))`: `m` parity shards per stripe of `k` segments.
    pub erasure: Option<(u16, u16)>,
    /// Segments read, hashed and written per batch (memory is about three batches).
    pub batch_segments: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            kind: RootKind::Blake3,
            erasure: None,
            batch_segments: 64,
        }
    }
}

const META_MAGIC: [u8; 4] = *b"ZGFM";
const META_VERSION: u8 = 1;

/// A stored file: its tree, where its segments are, its erasure geometry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMeta {
    /// The file's tree (root, length, proofs).
    pub tree: FileTree,
    /// Key the segments are stored under.
    pub data_key: [u8; 32],
    /// `(k, m)` when parity was stored.
    pub erasure: Option<(u16, u16)>,
}

impl FileMeta {
    /// The file root.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// Bytes of the file.
    pub fn len(&self) -> u64 {
        self.tree.file_len()
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Segments of the file (at least one).
    pub fn segment_count(&self) -> u64 {
        self.tree.segment_count()
    }

    /// Byte length of segment `index`.
    pub fn segment_len(&self, index: u64) -> usize {
        let start = index * SEGMENT_SIZE as u64;
        (self.len().saturating_sub(start)).min(SEGMENT_SIZE as u64) as usize
    }

    /// Encodes the metadata record.
    pub fn encode(&self) -> Vec<u8> {
        let ob = self.tree.to_outboard();
        let (k, m) = self.erasure.unwrap_or((0, 0));
        let mut w = Writer::with_capacity(4 + 1 + 32 + 4 + ob.len());
        w.bytes(&META_MAGIC)
            .tag(META_VERSION)
            .bytes(&self.data_key)
            .u16(k)
            .u16(m)
            .bytes(&ob);
        w.into_bytes()
    }

    /// Decodes a metadata record and checks it names `root`.
    pub fn decode(root: &Hash, bytes: &[u8]) -> Result<Self> {
        let bad = |reason: String| FileError::BadMeta {
            root: hex(root),
            reason,
        };
        let mut r = Reader::new("file metadata", bytes);
        if bytes.len() < 41 || r.take(4).ok() != Some(&META_MAGIC[..]) {
            return Err(bad("bad magic or truncated".into()));
        }
        let version = r.u8().map_err(|e| bad(e.to_string()))?;
        if version != META_VERSION {
            return Err(bad(format!("unsupported version {version}")));
        }
        let (data_key, k, m) = (|| Ok::<_, zg_codec::CodecError>((r.array::<32>()?, r.u16()?, r.u16()?)))()
            .map_err(|e| bad(e.to_string()))?;
        let erasure = match (k, m) {
            (0, 0) => None,
            (0, _) | (_, 0) => return Err(bad("erasure geometry with a zero count".into())),
            (k, m) => Some((k, m)),
        };
        let tree = FileTree::from_outboard(r.rest()).map_err(|e| bad(e.to_string()))?;
        if tree.root() != *root {
            return Err(bad("its tree has another root".into()));
        }
        Ok(Self {
            tree,
            data_key,
            erasure,
        })
    }
}

/// The key parity shards of a file are stored under.
fn parity_key(data_key: &[u8; 32]) -> [u8; 32] {
    *blake3::keyed_hash(data_key, b"zg parity shards").as_bytes()
}

/// A fresh upload key: unique per process and call, unpredictable enough to never collide.
fn upload_key() -> [u8; 32] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = blake3::Hasher::new();
    h.update(b"zg upload key");
    h.update(&std::process::id().to_le_bytes());
    h.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.update(&nanos.to_le_bytes());
    *h.finalize().as_bytes()
}

/// Fills `buf` from `r` as far as it goes; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The parity shards of the stripes in `segments` (segment `first` onward,
/// `first` a multiple of `k`), as puts under the parity key.
fn parity_puts(key: &[u8; 32], first: u64, segments: &[Bytes], k: u16, m: u16) -> Result<Vec<Put>> {
    let pkey = parity_key(key);
    let stripes: Vec<Result<Vec<Put>>> = segments
        .par_chunks(usize::from(k))
        .enumerate()
        .map(|(j, stripe)| {
            let s = first / u64::from(k) + j as u64;
            let padded: Vec<Vec<u8>>;
            let refs: Vec<&[u8]> = if stripe.iter().all(|seg| seg.len() == SEGMENT_SIZE) {
                stripe.iter().map(|seg| &seg[..]).collect()
            } else {
                padded = stripe
                    .iter()
                    .map(|seg| {
                        let mut v = seg.to_vec();
                        v.resize(SEGMENT_SIZE, 0);
                        v
                    })
                    .collect();
                padded.iter().map(|v| &v[..]).collect()
            };
            let code = Gf16Code::new(refs.len(), usize::from(m))?;
            let recovery = code.encode_raw(&refs)?;
            Ok(recovery
                .into_iter()
                .enumerate()
                .map(|(r, body)| Put::segment(pkey, s * u64::from(m) + r as u64, body))
                .collect())
        })
        .collect();
    let mut out = Vec::new();
    for s in stripes {
        out.extend(s?);
    }
    Ok(out)
}

/// Ingests everything `reader` yields; `progress` gets the bytes done so far.
pub fn ingest(
    store: &Store,
    mut reader: impl Read,
    opts: &IngestOptions,
    mut progress: impl FnMut(u64),
) -> Result<FileMeta> {
    if let Some((k, m)) = opts.erasure {
        Gf16Code::new(usize::from(k), usize::from(m))?;
    }
    let batch_segments = match opts.erasure {
        Some((k, _)) => opts.batch_segments.div_ceil(usize::from(k)).max(1) * usize::from(k),
        None => opts.batch_segments.max(1),
    };
    let key = upload_key();
    let mut hasher = FileHasher::new(opts.kind).parallel(true);
    let mut in_flight: std::collections::VecDeque<Pending> = std::collections::VecDeque::new();
    let mut index = 0u64;
    let mut total = 0u64;
    loop {
        let mut buf = vec![0u8; batch_segments * SEGMENT_SIZE];
        let n = read_full(&mut reader, &mut buf).map_err(FileError::Read)?;
        if n == 0 && total > 0 {
            break;
        }
        buf.truncate(n);
        hasher.update(&buf);
        let buf = Bytes::from(buf);
        let segments: Vec<Bytes> = if n == 0 {
            vec![Bytes::new()]
        } else {
            (0..n)
                .step_by(SEGMENT_SIZE)
                .map(|o| buf.slice(o..(o + SEGMENT_SIZE).min(n)))
                .collect()
        };
        let mut puts: Vec<Put> = Vec::with_capacity(segments.len());
        if let Some((k, m)) = opts.erasure {
            puts.extend(parity_puts(&key, index, &segments, k, m)?);
        }
        for (i, seg) in segments.into_iter().enumerate() {
            puts.push(Put::segment(key, index + i as u64, seg));
        }
        index += n.div_ceil(SEGMENT_SIZE).max(1) as u64;
        total += n as u64;
        // Two batches in flight: the writer syncs one while this thread reads and hashes the next.
        in_flight.push_back(store.put_batch_async(puts)?);
        if in_flight.len() > 2
            && let Some(p) = in_flight.pop_front()
        {
            p.wait()?;
        }
        progress(total);
        if n < batch_segments * SEGMENT_SIZE {
            break;
        }
    }
    for p in in_flight {
        p.wait()?;
    }
    let meta = FileMeta {
        tree: hasher.finalize(),
        data_key: key,
        erasure: opts.erasure,
    };
    store.put_batch(vec![Put::meta(meta.root(), meta.encode())])?;
    Ok(meta)
}

/// Ingests the file at `path`, reporting progress in bytes.
pub fn ingest_path(
    store: &Store,
    path: impl AsRef<std::path::Path>,
    opts: &IngestOptions,
    progress: impl FnMut(u64),
) -> Result<FileMeta> {
    let f = std::fs::File::open(path.as_ref()).map_err(FileError::Read)?;
    // Batches are read 16 MiB at a time: no BufReader needed.
    ingest(store, f, opts, progress)
}

/// Ingests `data`.
pub fn ingest_bytes(store: &Store, data: &[u8], opts: &IngestOptions) -> Result<FileMeta> {
    ingest(store, data, opts, |_| {})
}

/// The stored file named `root`.
pub fn open(store: &Store, root: &Hash) -> Result<FileMeta> {
    match store.get_meta(root) {
        Ok(bytes) => FileMeta::decode(root, &bytes),
        Err(StoreError::NotFound { .. }) => Err(FileError::NotFound(hex(root))),
        Err(e) => Err(e.into()),
    }
}

/// Checks a segment read from the store against the root; the reason when it fails.
fn check_segment(meta: &FileMeta, index: u64, got: std::result::Result<&[u8], String>) -> Result<(), String> {
    let data = got?;
    let proof = meta.tree.prove_segment(index).map_err(|e| e.to_string())?;
    match proof.verify(&meta.root(), meta.len(), index, data) {
        Ok(true) => Ok(()),
        Ok(false) => Err("failed its Merkle proof".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Segments `first..first + count`, each verified against the root; a
/// segment that is missing or fails is rebuilt from its stripe's parity.
pub fn read_segments(store: &Store, meta: &FileMeta, first: u64, count: u64) -> Result<Vec<Bytes>> {
    let n = meta.segment_count();
    let end = first
        .checked_add(count)
        .filter(|e| *e <= n)
        .ok_or(FileError::OutOfRange {
            index: first.saturating_add(count).saturating_sub(1),
            count: n,
        })?;
    let wanted: Vec<([u8; 32], u64)> = (first..end).map(|i| (meta.data_key, i)).collect();
    // Each segment is checked against the root below: the record checksum would hash it twice.
    let got = store.get_many_unchecked(&wanted);
    let checked: Vec<(u64, std::result::Result<Bytes, String>)> = got
        .into_par_iter()
        .enumerate()
        .map(|(j, r)| {
            let i = first + j as u64;
            let r = r.map_err(|e| e.to_string());
            let verdict = check_segment(meta, i, r.as_ref().map(|s| &s[..]).map_err(Clone::clone));
            // The store's aligned read buffer becomes the Bytes: no copy.
            (i, verdict.and(r).map(Bytes::from_owner))
        })
        .collect();
    let mut out = Vec::with_capacity(checked.len());
    for (i, r) in checked {
        match r {
            Ok(b) => out.push(b),
            Err(reason) => out.push(rebuild_segment(store, meta, i, reason)?),
        }
    }
    Ok(out)
}

/// Rebuilds segment `index` from the other segments of its stripe and the
/// stripe's parity, then verifies it like any other.
fn rebuild_segment(store: &Store, meta: &FileMeta, index: u64, reason: String) -> Result<Bytes> {
    let root = hex(&meta.root());
    let unavailable = |reason: String| FileError::Unavailable {
        root: root.clone(),
        index,
        reason,
    };
    let Some((k, m)) = meta.erasure else {
        return Err(unavailable(reason));
    };
    tracing::warn!(root = %root, index, reason = %reason, "rebuilding a segment from parity");
    let (k64, m64) = (u64::from(k), u64::from(m));
    let stripe = index / k64;
    let lo = stripe * k64;
    let hi = (lo + k64).min(meta.segment_count());
    let mut wanted: Vec<([u8; 32], u64)> = (lo..hi)
        .filter(|i| *i != index)
        .map(|i| (meta.data_key, i))
        .collect();
    let pkey = parity_key(&meta.data_key);
    wanted.extend((0..m64).map(|j| (pkey, stripe * m64 + j)));
    let got = store.get_many(&wanted);
    let mut bodies: Vec<(u32, Vec<u8>)> = Vec::new();
    for ((key, i), r) in wanted.iter().zip(got) {
        let Ok(seg) = r else { continue };
        if *key == meta.data_key {
            if check_segment(meta, *i, Ok(&seg[..])).is_err() {
                continue;
            }
            let mut v = seg.to_vec();
            v.resize(SEGMENT_SIZE, 0);
            bodies.push(((i - lo) as u32, v));
        } else {
            // Parity is checked by the store's record checksum.
            bodies.push(((hi - lo) as u32 + (i - stripe * m64) as u32, seg.to_vec()));
        }
    }
    let code = Gf16Code::new((hi - lo) as usize, usize::from(m))?;
    let shards: Vec<(u32, &[u8])> = bodies.iter().map(|(i, b)| (*i, &b[..])).collect();
    let stripe_bytes = code
        .reconstruct_raw(&shards)
        .map_err(|e| unavailable(format!("{reason}; rebuilding from parity failed: {e}")))?;
    let at = (index - lo) as usize * SEGMENT_SIZE;
    let seg = &stripe_bytes[at..at + meta.segment_len(index)];
    check_segment(meta, index, Ok(seg)).map_err(|e| unavailable(format!("rebuilt segment {e}")))?;
    Ok(Bytes::copy_from_slice(seg))
}

/// Segment `index` with its proof against the root.
pub fn segment_with_proof(store: &Store, meta: &FileMeta, index: u64) -> Result<(Bytes, SegmentProof)> {
    let seg = read_segments(store, meta, index, 1)?
        .pop()
        .ok_or(FileError::OutOfRange {
            index,
            count: meta.segment_count(),
        })?;
    Ok((seg, meta.tree.prove_segment(index)?))
}

/// Writes the whole file named `root` to `out`, every segment verified;
/// `progress` gets the bytes written so far. Returns the file's length.
pub fn read_to(
    store: &Store,
    root: &Hash,
    mut out: impl Write,
    mut progress: impl FnMut(u64),
) -> Result<u64> {
    let meta = open(store, root)?;
    let n = meta.segment_count();
    let batch = 64u64;
    let mut done = 0u64;
    let mut first = 0u64;
    while first < n {
        let count = batch.min(n - first);
        for seg in read_segments(store, &meta, first, count)? {
            out.write_all(&seg).map_err(FileError::Write)?;
            done += seg.len() as u64;
        }
        progress(done);
        first += count;
    }
    out.flush().map_err(FileError::Write)?;
    Ok(done)
}

/// Deletes the file named `root`: its metadata, segments and parity.
pub fn delete(store: &Store, root: &Hash) -> Result<()> {
    let meta = open(store, root)?;
    store.delete(parity_key(&meta.data_key))?;
    store.delete(meta.data_key)?;
    store.delete(*root)?;
    Ok(())
}
