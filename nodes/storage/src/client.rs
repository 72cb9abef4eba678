//! The client side of the storage API: what `zg upload`, `zg download`,
//! `zg root` and `zg proof` do.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use zg_merkle::{FileHasher, FileTree, Hash, RootKind, SEGMENT_SIZE, SegmentProof};

use crate::api::{B64, FileInfo, Ranges, Root, SegmentWithProof, Status, StorageRpcClient};
use crate::save::{BlockWriter, start_writeback};
use crate::{Shard, frames};

/// Segments per upload request (4 MiB of data).
const UPLOAD_BATCH: u64 = 16;
/// Requests in flight at once.
const IN_FLIGHT: usize = 8;

/// A connection to a storage node.
pub struct StorageClient {
    url: String,
    rpc: HttpClient,
    /// Plain HTTP: streamed downloads and binary segment uploads.
    http: reqwest::Client,
}

/// One request's segments, in the form the node takes.
enum Batch {
    /// `zgs_uploadSegments` (0G's nodes, and zg's before `POST /segments`).
    Json(Vec<SegmentWithProof>),
    /// A `POST /segments` body.
    Frames(Vec<u8>),
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_owned());
    pb
}

impl StorageClient {
    /// Connects (lazily) to the node at `url`.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let rpc = HttpClientBuilder::default()
            .max_request_size(32 << 20)
            .max_response_size(32 << 20)
            .request_timeout(Duration::from_secs(120))
            .build(url)
            .with_context(|| format!("bad node URL {url:?}"))?;
        Ok(Self {
            url: url.to_owned(),
            rpc,
            http: reqwest::Client::new(),
        })
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn unreachable(&self, e: jsonrpsee::core::ClientError) -> anyhow::Error {
        match e {
            jsonrpsee::core::ClientError::Transport(t) => anyhow!(
                "cannot reach the storage node at {}: {t}\n  is it running? start one with `zg devnet` or `zg-storage`, or pass --node URL",
                self.url
            ),
            other => anyhow!("storage node {} answered with an error: {other}", self.url),
        }
    }

    /// Whether the node takes binary segment uploads (`POST /segments`): zg's nodes
    /// do, 0G's answer 404 and get JSON-RPC.
    async fn takes_frames(&self) -> anyhow::Result<bool> {
        Ok(self
            .post_frames(frames::MAGIC.to_vec())
            .await?
            .status()
            .is_success())
    }

    /// `POST /segments` with `body`.
    async fn post_frames(&self, body: Vec<u8>) -> anyhow::Result<reqwest::Response> {
        self.http
            .post(format!("{}/segments", self.url.trim_end_matches('/')))
            .header(reqwest::header::CONTENT_TYPE, frames::CONTENT_TYPE)
            .body(body)
            .send()
            .await
            .with_context(|| format!("cannot reach the storage node at {}", self.url))
    }

    /// Sends one batch of segments with their proofs.
    async fn send_batch(&self, batch: Batch) -> anyhow::Result<()> {
        match batch {
            Batch::Json(segs) => self
                .rpc
                .upload_segments(segs)
                .await
                .map_err(|e| self.unreachable(e)),
            Batch::Frames(body) => {
                let resp = self.post_frames(body).await?;
                let status = resp.status();
                if !status.is_success() {
                    let why = resp.text().await.unwrap_or_default();
                    bail!("storage node {} refused the segments ({status}): {why}", self.url);
                }
                Ok(())
            }
        }
    }

    /// The node's status (its followed chain's Flow, when it follows one).
    pub async fn status(&self) -> anyhow::Result<Status> {
        self.rpc.get_status().await.map_err(|e| self.unreachable(e))
    }

    /// What the node knows of the submission with tx seq `seq`.
    pub async fn file_info_by_tx_seq(&self, seq: u64) -> anyhow::Result<Option<FileInfo>> {
        self.rpc
            .get_file_info_by_tx_seq(seq)
            .await
            .map_err(|e| self.unreachable(e))
    }

    /// What the node knows of `root`.
    pub async fn file_info(&self, root: &Hash) -> anyhow::Result<Option<FileInfo>> {
        self.rpc
            .get_file_info(Root::from(*root), None)
            .await
            .map_err(|e| self.unreachable(e))
    }

    /// Uploads the file at `path` (resuming a partial upload), returns its root.
    pub async fn upload(&self, path: &Path, kind: RootKind) -> anyhow::Result<Hash> {
        let tree = hash_file(path, kind).await?;
        self.upload_tree(path, &tree).await?;
        Ok(tree.root())
    }

    /// Uploads the file at `path`, whose tree is `tree`: the segments this node lacks
    /// of what it holds (all of them, or its shard's), then checks it finalized them.
    pub async fn upload_tree(&self, path: &Path, tree: &FileTree) -> anyhow::Result<()> {
        let len = tree.file_len();
        let root = tree.root();
        let count = tree.segment_count();
        let missing: Ranges = match self.file_info(&root).await? {
            Some(info) if info.finalized => {
                eprintln!("{} is already stored on {}", Root::from(root), self.url);
                return Ok(());
            }
            Some(info) => {
                let m: Ranges = self
                    .rpc
                    .missing_segments(Root::from(root))
                    .await
                    .map_err(|e| self.unreachable(e))?;
                eprintln!(
                    "resuming: {} of {count} segments already on the node",
                    info.uploaded_seg_num
                );
                m
            }
            // A file off the flow: a sharded node holds the segments its shard counts from 0.
            None => crate::api::ranges(self.shard().await?.indices(0, count)),
        };
        let todo: u64 = missing
            .iter()
            .flat_map(|[a, b]| *a..*b)
            .map(|i| (len - i * SEGMENT_SIZE as u64).min(SEGMENT_SIZE as u64))
            .sum();
        let pb = bar(todo, "uploading");
        let file = Arc::new(File::open(path).with_context(|| format!("cannot open {}", path.display()))?);
        let tree = Arc::new(tree.clone());
        let batches: Vec<(u64, u64)> = missing
            .iter()
            .flat_map(|[a, b]| {
                (*a..*b)
                    .step_by(UPLOAD_BATCH as usize)
                    .map(move |s| (s, (s + UPLOAD_BATCH).min(*b)))
            })
            .collect();
        let binary = self.takes_frames().await?;
        let mut uploads = futures_util::stream::iter(batches.into_iter().map(|(s, e)| {
            let (file, tree, pb) = (file.clone(), tree.clone(), pb.clone());
            async move {
                let seg_len = move |i: u64| (len - i * SEGMENT_SIZE as u64).min(SEGMENT_SIZE as u64) as usize;
                let batch = tokio::task::spawn_blocking(move || -> anyhow::Result<Batch> {
                    if binary {
                        // Each segment is read straight into the body, after its header.
                        let mut body = frames::new_body(frames::body_limit((e - s) as usize));
                        for i in s..e {
                            let proof = tree.prove_segment(i)?.to_bytes();
                            frames::push_header(&mut body, &tree.root(), len, i, &proof, seg_len(i));
                            let at = body.len();
                            body.resize(at + seg_len(i), 0);
                            file.read_exact_at(&mut body[at..], i * SEGMENT_SIZE as u64)?;
                        }
                        return Ok(Batch::Frames(body));
                    }
                    (s..e)
                        .map(|i| {
                            let mut data = vec![0u8; seg_len(i)];
                            file.read_exact_at(&mut data, i * SEGMENT_SIZE as u64)?;
                            let proof = tree.prove_segment(i)?;
                            Ok(SegmentWithProof::new(&tree.root(), i, &data, &proof, len))
                        })
                        .collect::<anyhow::Result<_>>()
                        .map(Batch::Json)
                })
                .await??;
                let bytes: u64 = (s..e).map(|i| seg_len(i) as u64).sum();
                self.send_batch(batch).await?;
                pb.inc(bytes);
                anyhow::Ok(())
            }
        }))
        .buffer_unordered(IN_FLIGHT);
        while let Some(r) = uploads.next().await {
            r?;
        }
        pb.finish_and_clear();
        let done: Option<bool> = self
            .rpc
            .check_file_finalized(Root::from(root))
            .await
            .map_err(|e| self.unreachable(e))?;
        if done != Some(true) {
            bail!(
                "upload of {} finished but the node has not finalized it",
                Root::from(root)
            );
        }
        Ok(())
    }

    /// Downloads `root` to `out`, every segment checked against the root,
    /// then the whole file re-hashed; nothing is left at `out` on failure.
    pub async fn download(&self, root: &Hash, out: &Path) -> anyhow::Result<u64> {
        let Some(info) = self.file_info(root).await? else {
            bail!("{} has no file {}", self.url, Root::from(*root));
        };
        if !info.finalized {
            bail!(
                "{} is still being uploaded to {} ({} of {} segments)",
                Root::from(*root),
                self.url,
                info.uploaded_seg_num,
                info.segment_count
            );
        }
        let kind: RootKind = info.root_kind.parse().map_err(|e| anyhow!("{e}"))?;
        let len = info.file_size;
        let part = PathBuf::from(format!("{}.part", out.display()));
        // Fast path: the file streamed over HTTP, hashed into its tree as it is written;
        // a root that matches verifies every segment at once.
        match self.download_stream(root, kind, len, &part).await {
            Ok(()) => {
                std::fs::rename(&part, out).with_context(|| format!("cannot write {}", out.display()))?;
                return Ok(len);
            }
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                tracing::warn!(error = %e, "streamed download failed; fetching segment by segment with proofs");
            }
        }
        download_segments(&[self], |_| 0, root, kind, len, &part, out).await
    }

    /// The shard of the flow this node holds.
    pub async fn shard(&self) -> anyhow::Result<Shard> {
        let c = self
            .rpc
            .get_shard_config()
            .await
            .map_err(|e| self.unreachable(e))?;
        Shard::new(c.shard_id, c.num_shard).map_err(|e| anyhow!("{} reports a bad shard: {e}", self.url))
    }

    /// `GET /files/{root}` into `part`, hashed on the way; errors unless the bytes
    /// have the file's length and root.
    async fn download_stream(
        &self,
        root: &Hash,
        kind: RootKind,
        len: u64,
        part: &Path,
    ) -> anyhow::Result<()> {
        let url = format!("{}/files/{}", self.url.trim_end_matches('/'), Root::from(*root));
        let mut resp = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        if !resp.status().is_success() {
            bail!("GET {url}: {}", resp.status());
        }
        let pb = bar(len, "downloading");
        let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(64);
        let path = part.to_owned();
        // Hashing and writing run beside the socket reads: whole blocks are hashed
        // in place, then written by the writer's own thread.
        let writer = tokio::task::spawn_blocking(move || -> anyhow::Result<(Hash, u64)> {
            let mut f =
                BlockWriter::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut h = FileHasher::new(kind).parallel(true);
            while let Some(chunk) = rx.blocking_recv() {
                f.write(&chunk, |block| {
                    h.update(block);
                })
                .with_context(|| format!("cannot write {}", path.display()))?;
            }
            let n = f
                .finish(|rest| {
                    h.update(rest);
                })
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok((h.finalize().root(), n))
        });
        let mut received = 0u64;
        while let Some(chunk) = resp.chunk().await.with_context(|| format!("reading {url}"))? {
            received += chunk.len() as u64;
            if received > len {
                bail!("{url} sent more than the file's {len} bytes");
            }
            pb.inc(chunk.len() as u64);
            if tx.send(chunk).await.is_err() {
                break; // The writer failed; its error is below.
            }
        }
        drop(tx);
        pb.finish_and_clear();
        let (got, n) = writer.await??;
        if n != len {
            bail!("{url} sent {n} bytes of a {len}-byte file");
        }
        if got != *root {
            bail!(
                "the bytes from {url} hash to {}, not {}",
                Root::from(got),
                Root::from(*root)
            );
        }
        Ok(())
    }

    /// Segment `index` of `root` with its proof, verified.
    pub async fn proof(&self, root: &Hash, index: u64) -> anyhow::Result<(SegmentWithProof, bool)> {
        let info = self
            .file_info(root)
            .await?
            .ok_or_else(|| anyhow!("{} has no file {}", self.url, Root::from(*root)))?;
        let seg: SegmentWithProof = self
            .rpc
            .download_segment_with_proof(Root::from(*root), index)
            .await
            .map_err(|e| self.unreachable(e))?;
        let data = B64.decode(&seg.data)?;
        let proof = SegmentProof::from_bytes(&seg.proof.0)?;
        let ok = proof.verify(root, info.file_size, index, &data)?;
        Ok((seg, ok))
    }
}

fn file_roots_one(path: &Path, kind: RootKind) -> anyhow::Result<Hash> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = FileHasher::new(kind).parallel(true);
    h.update_reader(f)?;
    Ok(h.finalize().root())
}

/// The tree of the file at `path` under `kind`, hashed with a progress bar.
pub async fn hash_file(path: &Path, kind: RootKind) -> anyhow::Result<FileTree> {
    let path_buf = path.to_path_buf();
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    let pb = bar(len, "hashing");
    let pb2 = pb.clone();
    let tree = tokio::task::spawn_blocking(move || -> anyhow::Result<FileTree> {
        let f = File::open(&path_buf).with_context(|| format!("cannot open {}", path_buf.display()))?;
        let mut h = FileHasher::new(kind).parallel(true);
        h.update_reader(pb2.wrap_read(f))
            .with_context(|| format!("reading {}", path_buf.display()))?;
        Ok(h.finalize())
    })
    .await??;
    pb.finish_and_clear();
    Ok(tree)
}

/// Which file to download: by root, or by its tx seq on the followed Flow.
#[derive(Clone, Copy, Debug)]
pub enum FileId {
    /// The file root.
    Root(Hash),
    /// The submission's tx seq.
    TxSeq(u64),
}

/// Downloads a file to `out` from `nodes`, which together hold the whole flow: one
/// node as [`StorageClient::download`] does, several by fetching each segment from
/// the node whose shard holds it, every segment checked against the root, then the
/// whole file's root. Returns the root and the bytes written.
pub async fn download_from(nodes: &[StorageClient], file: FileId, out: &Path) -> anyhow::Result<(Hash, u64)> {
    let Some(first) = nodes.first() else {
        bail!("no storage node given: pass --node URL (once per shard)");
    };
    let root = match file {
        FileId::Root(r) => r,
        FileId::TxSeq(seq) => match first.file_info_by_tx_seq(seq).await? {
            Some(info) => info.root.0,
            None => bail!(
                "{} knows no submission with tx seq {seq} (has it followed the chain that far?)",
                first.url
            ),
        },
    };
    if nodes.len() == 1 {
        return Ok((root, first.download(&root, out).await?));
    }
    let mut shards = Vec::with_capacity(nodes.len());
    let mut info = None;
    for node in nodes {
        shards.push(node.shard().await?);
        match node.file_info(&root).await? {
            Some(i) if i.finalized => info = Some(i),
            Some(i) => bail!(
                "{} is still being uploaded to {} ({} segments of its shard stored)",
                Root::from(root),
                node.url,
                i.uploaded_seg_num
            ),
            None => bail!("{} has no file {}", node.url, Root::from(root)),
        }
    }
    let info = info.ok_or_else(|| anyhow!("no node answered"))?;
    let kind: RootKind = info.root_kind.parse().map_err(|e| anyhow!("{e}"))?;
    let len = info.file_size;
    // Shards count flow segments: the file's first is where the Flow put it.
    let position = info
        .tx
        .as_ref()
        .map_or(0, |t| t.start_entry_index / (SEGMENT_SIZE as u64 / 256));
    let holder = |i: u64| shards.iter().position(|s| s.holds(position, i));
    if let Some(i) = (0..zg_merkle::segment_count(len)).find(|i| holder(*i).is_none()) {
        let n = shards.iter().map(|s| s.count()).max().unwrap_or(1);
        bail!(
            "no node given holds segment {i} (flow shard {} of {n}): add that shard's node with --node",
            Shard::of(position, i, n)
        );
    }
    let clients: Vec<&StorageClient> = nodes.iter().collect();
    let part = PathBuf::from(format!("{}.part", out.display()));
    let n = download_segments(&clients, |i| holder(i).unwrap_or(0), &root, kind, len, &part, out).await?;
    Ok((root, n))
}

/// Every segment through `zgs_downloadSegmentWithProof` from `nodes[pick(i)]`, each
/// checked against the root before it is written, then the whole file's root.
async fn download_segments(
    nodes: &[&StorageClient],
    pick: impl Fn(u64) -> usize,
    root: &Hash,
    kind: RootKind,
    len: u64,
    part: &Path,
    out: &Path,
) -> anyhow::Result<u64> {
    let segment_count = zg_merkle::segment_count(len);
    let file = Arc::new(File::create(part).with_context(|| format!("cannot create {}", part.display()))?);
    file.set_len(len)?;
    let pb = bar(len, "downloading");
    let mut fetches = futures_util::stream::iter((0..segment_count).map(|i| {
        let (file, pb) = (file.clone(), pb.clone());
        let node = nodes[pick(i)];
        async move {
            let seg: SegmentWithProof = node
                .rpc
                .download_segment_with_proof(Root::from(*root), i)
                .await
                .map_err(|e| node.unreachable(e))?;
            let data = B64.decode(&seg.data).context("segment data is not base64")?;
            let proof = SegmentProof::from_bytes(&seg.proof.0)?;
            if seg.index != i || seg.file_size != len || !proof.verify_kind(kind, root, len, i, &data)? {
                bail!("segment {i} from {} fails its proof: refusing it", node.url);
            }
            let n = data.len() as u64;
            tokio::task::spawn_blocking(move || {
                let at = i * SEGMENT_SIZE as u64;
                file.write_all_at(&data, at)?;
                start_writeback(&file, at, n);
                std::io::Result::Ok(())
            })
            .await??;
            pb.inc(n);
            anyhow::Ok(())
        }
    }))
    .buffer_unordered(IN_FLIGHT * 2);
    let mut failed = None;
    while let Some(r) = fetches.next().await {
        if let Err(e) = r {
            failed = Some(e);
            break;
        }
    }
    drop(fetches);
    pb.finish_and_clear();
    let verdict = match failed {
        Some(e) => Err(e),
        None => {
            file.sync_all()?;
            let got = file_roots_one(part, kind)?;
            if got == *root {
                Ok(())
            } else {
                Err(anyhow!(
                    "downloaded bytes hash to {}, not {}",
                    Root::from(got),
                    Root::from(*root)
                ))
            }
        }
    };
    match verdict {
        Ok(()) => {
            std::fs::rename(part, out).with_context(|| format!("cannot write {}", out.display()))?;
            Ok(len)
        }
        Err(e) => {
            let _ = std::fs::remove_file(part);
            Err(e)
        }
    }
}

/// Both roots of the file at `path`, hashed in one read.
pub fn file_roots(path: &Path) -> anyhow::Result<(FileTree, FileTree)> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    let pb = bar(len, "hashing");
    let mut f = pb.wrap_read(File::open(path).with_context(|| format!("cannot open {}", path.display()))?);
    let mut b3 = FileHasher::new(RootKind::Blake3).parallel(true);
    let mut zg = FileHasher::new(RootKind::Keccak).parallel(true);
    let mut buf = vec![0u8; 16 << 20];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf)?;
        if n == 0 {
            break;
        }
        // Each hasher spreads its segments over rayon's pool.
        b3.update(&buf[..n]);
        zg.update(&buf[..n]);
    }
    pb.finish_and_clear();
    Ok((b3.finalize(), zg.finalize()))
}
