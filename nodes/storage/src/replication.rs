//! Replication between storage nodes: a node announces each file it finalizes over
//! libp2p; peers fetch the segments with their proofs in bulk from its plain HTTP API
//! (`GET /segments/{root}`, at the IP address its libp2p connection comes from; over
//! libp2p where that is unreachable), check each against the root on arrival, and
//! store them through the same path as uploads. On every new
//! connection (and every [`SWEEP_EVERY`]) a node compares its catalog with the peer's
//! inventory and fetches what it lacks, so a replacement node with an empty disk
//! refills itself; a segment lost here is fetched again from a peer when read. A peer
//! whose segments fail their proofs is banned.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use libp2p::PeerId;
use zg_file::frames::{FrameReader, ReadError};
use zg_file::replica::{
    FileEntry, FileRequest, FileResponse, MAX_INVENTORY_PAGE, MAX_SEGMENTS_PER_REQUEST, SegmentReply,
};
use zg_file::{self as file, FileMeta, shard};
use zg_merkle::{Hash, RootKind, SegmentProof, segment_count};
use zg_node::p2p::{NetEvent, Network};
use zg_store::Put;

use crate::api::Root;
use crate::service::{Held, Incoming, StorageError, StorageService};
use crate::wire::FileProtocol;

/// Files replicated at once; each has [`CHUNKS_IN_FLIGHT`] requests out.
pub(crate) const REPLICATIONS_AT_ONCE: usize = 2;
/// Segment requests one replication keeps in flight.
const CHUNKS_IN_FLIGHT: usize = 8;
/// Segments one request asks for (over libp2p, in requests of at most
/// [`MAX_SEGMENTS_PER_REQUEST`]); a node serves up to 64 over HTTP by default.
const SEGMENTS_PER_CHUNK: u16 = 16;
/// How often a node compares inventories with every peer (besides on connect).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

impl StorageService {
    /// Tells peers this node holds `entry` (networked nodes only).
    pub(crate) fn announce(&self, entry: FileEntry) {
        if let (Some(net), Ok(rt)) = (self.net.clone(), tokio::runtime::Handle::try_current()) {
            rt.spawn(async move { net.announce(&entry).await });
        }
    }

    /// Fetches segment `index` of `meta` from the first peer whose copy passes its
    /// proof, and stores it in place of the lost one.
    pub(crate) fn repair_from_peers(&self, meta: &FileMeta, index: u64) -> anyhow::Result<()> {
        let Some(net) = &self.net else {
            anyhow::bail!("not networked");
        };
        let root = meta.root();
        let Some(rt) = &self.rt else {
            anyhow::bail!("no runtime to reach peers from");
        };
        let data = rt.block_on(async {
            let mut failures = Vec::new();
            for peer in net.peers().await {
                let request = FileRequest::Segments { root, first: index, count: 1 };
                match net.request(peer, request).await {
                    Ok(FileResponse::Segments(mut segs)) if segs.len() == 1 => {
                        let s = segs.remove(0);
                        let ok = SegmentProof::from_bytes(&s.proof)
                            .ok()
                            .and_then(|p| p.verify(&root, meta.len(), index, &s.data).ok())
                            == Some(true);
                        if ok {
                            return Ok(s.data);
                        }
                        self.metrics.peer_bad_segments.inc();
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
        self.metrics.segments_repaired.inc();
        tracing::info!(root = %Root::from(root), index, "segment repaired from a peer");
        Ok(())
    }
}

/// Answers peers, follows their announcements, and compares inventories with each
/// new peer and, every [`SWEEP_EVERY`], with all of them.
pub(crate) async fn handle_net_events(
    node: Arc<StorageService>,
    mut events: tokio::sync::mpsc::Receiver<NetEvent<FileProtocol>>,
) {
    let Some(net) = node.net.clone() else { return };
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.tick().await;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                None => break,
                Some(NetEvent::Announced { source, announcement: entry }) => {
                    tokio::spawn(replicate_file(node.clone(), entry, Some(source)));
                }
                Some(NetEvent::Request { peer, request, channel }) => {
                    let n = node.clone();
                    let net = net.clone();
                    tokio::spawn(async move {
                        let n2 = n.clone();
                        let t = Instant::now();
                        let answer = tokio::task::spawn_blocking(move || answer_file(&n2, &request))
                            .await
                            .unwrap_or_else(|e| FileResponse::Refused(e.to_string()));
                        n.metrics.peer_requests.inc();
                        tracing::debug!(%peer, answer_ms = t.elapsed().as_secs_f64() * 1e3, "answered a storage peer");
                        net.respond(channel, answer).await;
                    });
                }
                Some(NetEvent::PeerJoined(peer)) => {
                    tokio::spawn(sync_with(node.clone(), peer));
                }
            },
            _ = sweep.tick() => {
                for peer in net.peers().await {
                    tokio::spawn(sync_with(node.clone(), peer));
                }
            }
        }
    }
}

/// Why a node does not serve the segments a peer asked for.
pub(crate) enum Unserved {
    /// The file (or that part of it) is not held here.
    NotHeld,
    /// Segments past the file's end.
    BadRange(String),
    /// A read failed (a segment rotten on disk, say), with why.
    Failed(String),
}

/// Segments `first..first + count` of `root` as this node serves them to peers (over
/// libp2p and `GET /segments`), each read verified and with its proof, and the file's
/// size. Only what is held here: a peer asking must never start a chain of repairs.
pub(crate) fn held_segments(
    node: &StorageService,
    root: &Hash,
    first: u64,
    count: u64,
) -> Result<(u64, Vec<(Bytes, SegmentProof)>), Unserved> {
    let held = match node.held(root) {
        Ok(Some(h)) => h,
        Ok(None) => return Err(Unserved::NotHeld),
        Err(e) => return Err(Unserved::Failed(e.to_string())),
    };
    let (size, segs) = match &held {
        Held::Whole(meta) => {
            let n = meta.segment_count();
            if first.checked_add(count).is_none_or(|end| end > n) {
                return Err(Unserved::BadRange(format!(
                    "segments {first}+{count} of a {n}-segment file"
                )));
            }
            let segs = file::read_segments(&node.store, meta, first, count)
                .map_err(|e| e.to_string())
                .and_then(|segs| {
                    (first..)
                        .zip(segs)
                        .map(|(i, s)| meta.tree.prove_segment(i).map(|p| (s, p)))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| e.to_string())
                });
            (meta.len(), segs)
        }
        Held::Shard(meta) => {
            let indices: Vec<u64> = (first..first.saturating_add(count)).collect();
            if !indices.iter().all(|i| meta.holds(*i)) {
                return Err(Unserved::NotHeld); // Another shard's segments.
            }
            let segs = shard::read_shard_segments(&node.store, meta, &indices).map_err(|e| e.to_string());
            (meta.len, segs)
        }
    };
    let segs = segs.map_err(Unserved::Failed)?;
    node.metrics.segments_out.inc_by(segs.len() as u64);
    node.metrics
        .bytes_out
        .inc_by(segs.iter().map(|(d, _)| d.len() as u64).sum());
    // The verified read buffers go out as they are: no copy.
    #[cfg(feature = "fault-injection")]
    let segs = if node.cfg.serve_bad_segments {
        segs.into_iter()
            .map(|(data, proof)| {
                let mut bad = data.to_vec();
                if let Some(b) = bad.first_mut() {
                    *b ^= 1;
                }
                (bad.into(), proof)
            })
            .collect()
    } else {
        segs
    };
    Ok((size, segs))
}

/// What a storage node tells a peer.
fn answer_file(node: &StorageService, request: &FileRequest) -> FileResponse {
    match *request {
        FileRequest::Segments { root, first, count } => {
            match held_segments(node, &root, first, u64::from(count)) {
                Ok((_, segs)) => FileResponse::Segments(
                    segs.into_iter()
                        .map(|(data, proof)| SegmentReply {
                            data,
                            proof: proof.to_bytes(),
                        })
                        .collect(),
                ),
                Err(Unserved::NotHeld) => FileResponse::NotFound,
                Err(Unserved::BadRange(why) | Unserved::Failed(why)) => FileResponse::Refused(why),
            }
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
        FileRequest::HttpPort => FileResponse::HttpPort(node.cfg.listen.port()),
    }
}

/// Pages through `peer`'s inventory and fetches every file this node lacks.
async fn sync_with(node: Arc<StorageService>, peer: PeerId) {
    let Some(net) = node.net.clone() else { return };
    // A peer that (re)joined may listen elsewhere now: ask again.
    node.peer_http
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&peer);
    let mut from = 0u64;
    loop {
        match net.request(peer, FileRequest::Inventory { from }).await {
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
struct Replicating<'a>(&'a StorageService, Hash);

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
async fn replicate_file(node: Arc<StorageService>, entry: FileEntry, from: Option<PeerId>) {
    let Some(net) = node.net.clone() else { return };
    let root = Root::from(entry.root);
    if entry.size > node.cfg.max_file_bytes {
        tracing::warn!(%root, bytes = entry.size, "not replicating a file over this node's size limit");
        return;
    }
    match node.held(&entry.root) {
        Ok(Some(_)) => return,
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(%root, error = %e, "cannot tell whether a file is held; not replicating it");
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
            node.metrics.replicated_files.inc();
            node.metrics.replicated_bytes.inc_by(bytes);
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(%root, bytes, secs, mb_per_s = bytes as f64 / secs.max(1e-9) / 1e6, "file replicated from peers");
        }
        Err(e) if e.downcast_ref::<NotHeldYet>().is_some() => {
            tracing::debug!(%root, error = %e, "no peer holds what this node lacks yet; the next inventory sweep retries");
        }
        Err(e) => {
            tracing::warn!(%root, error = %e, "replication incomplete; the next inventory sweep retries");
        }
    }
}

/// Fetches the missing segments of `entry` in chunks, several in flight, then
/// finalizes the file. Returns the bytes fetched.
async fn fetch_file(
    node: &Arc<StorageService>,
    net: &Network<FileProtocol>,
    entry: FileEntry,
    peers: &[PeerId],
) -> anyhow::Result<u64> {
    if peers.is_empty() {
        anyhow::bail!("no peers to fetch from");
    }
    let have: HashSet<u64> = match node.pending(&entry.root).map_err(|e| anyhow::anyhow!("{e}"))? {
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
    if node.following() && entry.kind == RootKind::Keccak && node.submission_of(&entry.root).is_none() {
        // Its flow position (and so this node's share of it) comes with the Submit log.
        anyhow::bail!("not paid for on the followed Flow yet");
    }
    let wanted = node
        .cfg
        .shard
        .indices(node.position_of(&entry.root), segment_count(entry.size));
    let mut chunks: Vec<(u64, u16)> = Vec::new();
    for i in wanted.filter(|i| !have.contains(i)) {
        match chunks.last_mut() {
            Some((first, n)) if *first + u64::from(*n) == i && *n < SEGMENTS_PER_CHUNK => *n += 1,
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
        .map_err(|e| anyhow::anyhow!("finalizing: {e}"))?;
    if !node.holds(&entry.root) {
        anyhow::bail!("every segment fetched, yet the file is not finalized");
    }
    Ok(bytes)
}

/// One segment as a peer sent it, not yet checked.
struct Received {
    data: zg_store::Payload,
    proof: Bytes,
}

/// The segments a peer sent for a chunk, in order (their proofs still to check).
struct Sent(Vec<Received>);

/// Why a peer's answer gave no segments to store.
enum Refusal {
    /// The peer does not hold them.
    NotHeld,
    /// No answer, or a refusal: ask the next peer.
    Failed(String),
    /// An answer that breaks the format or fails its proofs: the peer is banned.
    Bad(String),
}

/// The client that fetches segments from peers' HTTP APIs: never through a proxy
/// (peers are reached directly), bounded waits.
pub(crate) fn http_client() -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| tracing::warn!(error = %e, "no HTTP client; replicating over libp2p only"))
        .ok()
}

/// Where `peer`'s plain HTTP API is: the port it answers, on the IP address of its
/// connection (never an address a peer names, which could aim this node at any host).
/// Asked once per join: the chunks in flight at a replication's start wait for that answer.
async fn peer_http(node: &StorageService, net: &Network<FileProtocol>, peer: PeerId) -> Option<SocketAddr> {
    let answer = node
        .peer_http
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(peer)
        .or_default()
        .clone();
    *answer
        .get_or_init(|| async {
            let port = match net.request(peer, FileRequest::HttpPort).await {
                Ok(FileResponse::HttpPort(port)) => Some(port),
                _ => None,
            };
            let addr = net.peer_ip(peer).await.zip(port).map(SocketAddr::from);
            tracing::debug!(%peer, http = ?addr, "peer's HTTP API");
            addr
        })
        .await
}

/// Why a bulk fetch over HTTP gave nothing to judge the peer's segments by.
struct HttpMiss {
    why: String,
    /// No answer at all (not merely a refusal, such as a busy node's 429): the API
    /// is not reachable there, so this peer is asked over libp2p from now on.
    unreachable: bool,
}

/// Segments `first..first + n` of `entry` from a peer's `GET /segments`.
async fn fetch_http(
    client: &reqwest::Client,
    addr: SocketAddr,
    entry: FileEntry,
    first: u64,
    n: u16,
) -> Result<Result<Sent, Refusal>, HttpMiss> {
    let url = format!(
        "http://{addr}/segments/{}?first={first}&count={n}",
        Root::from(entry.root)
    );
    let unreachable = |e: reqwest::Error| HttpMiss {
        why: format!("{url}: {e}"),
        unreachable: true,
    };
    let resp = client.get(&url).send().await.map_err(unreachable)?;
    match resp.status() {
        reqwest::StatusCode::OK => {}
        reqwest::StatusCode::NOT_FOUND => return Ok(Err(Refusal::NotHeld)),
        s => {
            return Err(HttpMiss {
                why: format!("{url}: HTTP {s}"),
                unreachable: false,
            });
        }
    }
    let limit = zg_file::frames::body_limit(n.into());
    let declared = resp.content_length().unwrap_or(0);
    if declared > limit as u64 {
        return Ok(Err(Refusal::Bad(format!(
            "{declared} bytes declared for {n} segments"
        ))));
    }
    let mut body = FrameReader::new(resp.bytes_stream(), limit);
    match body.segments(&entry.root, entry.size, first, n.into()).await {
        Ok(frames) => Ok(Ok(Sent(
            frames
                .into_iter()
                .map(|f| Received {
                    data: f.data.into(),
                    proof: f.proof.into(),
                })
                .collect(),
        ))),
        Err(ReadError::Bad(why)) => Ok(Err(Refusal::Bad(why))),
        Err(lost @ ReadError::Lost(_)) => Err(HttpMiss {
            why: format!("{url}: {lost}"),
            unreachable: true,
        }),
    }
}

/// Segments `first..first + n` of `entry` over libp2p, in requests of at most
/// [`MAX_SEGMENTS_PER_REQUEST`].
async fn fetch_p2p(
    net: &Network<FileProtocol>,
    peer: PeerId,
    entry: FileEntry,
    first: u64,
    n: u16,
) -> Result<Sent, Refusal> {
    let mut segs = Vec::with_capacity(usize::from(n));
    let end = first + u64::from(n);
    let mut at = first;
    while at < end {
        let count = (end - at).min(MAX_SEGMENTS_PER_REQUEST.into()) as u16;
        let request = FileRequest::Segments {
            root: entry.root,
            first: at,
            count,
        };
        match net.request(peer, request).await {
            Ok(FileResponse::Segments(got)) if got.len() == usize::from(count) => {
                segs.extend(got.into_iter().map(|s| Received {
                    data: s.data.into(),
                    proof: s.proof.into(),
                }));
            }
            Ok(FileResponse::Segments(got)) => {
                return Err(Refusal::Failed(format!(
                    "{} segments for {count} asked",
                    got.len()
                )));
            }
            Ok(FileResponse::NotFound) => return Err(Refusal::NotHeld),
            Ok(FileResponse::Refused(why)) => return Err(Refusal::Failed(format!("refused ({why})"))),
            Ok(FileResponse::Inventory { .. } | FileResponse::HttpPort(_)) => {
                return Err(Refusal::Failed("answered something else".into()));
            }
            Err(e) => return Err(Refusal::Failed(e)),
        }
        at += u64::from(count);
    }
    Ok(Sent(segs))
}

/// Checks the segments a peer sent for `first..` against the root and stores them
/// (as an upload's); their bytes, or why they were refused.
async fn store_sent(
    node: &Arc<StorageService>,
    entry: FileEntry,
    first: u64,
    Sent(segs): Sent,
) -> anyhow::Result<Result<u64, StorageError>> {
    let n2 = node.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let mut incoming = Vec::with_capacity(segs.len());
        let mut bytes = 0u64;
        for (index, s) in (first..).zip(segs) {
            let proof = SegmentProof::from_bytes(&s.proof)
                .map_err(|e| StorageError::ProofFailed(format!("segment {index}: malformed proof: {e}")))?;
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
    Ok(stored)
}

/// Segments `first..first + n` from the first peer that has them and whose
/// segments pass their proofs (over its HTTP API where reachable, else libp2p); a
/// peer sending a bad one is banned.
async fn fetch_chunk(
    node: &Arc<StorageService>,
    net: &Network<FileProtocol>,
    entry: FileEntry,
    first: u64,
    n: u16,
    peers: &[PeerId],
) -> anyhow::Result<u64> {
    let mut failures = Vec::new();
    let mut not_held = 0;
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
        let asked = Instant::now();
        let http = match &node.http {
            Some(client) => peer_http(node, net, peer).await.map(|addr| (client, addr)),
            None => None,
        };
        let (fetched, over_http) = match http {
            Some((client, addr)) => match fetch_http(client, addr, entry, first, n).await {
                Ok(fetched) => (fetched, true),
                Err(miss) => {
                    if miss.unreachable {
                        // Until it joins again: a port that does not answer costs a timeout per chunk.
                        tracing::info!(%peer, %addr, error = %miss.why, "peer's HTTP API unreachable; replicating from it over libp2p");
                        node.peer_http
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(peer, Arc::new(tokio::sync::OnceCell::new_with(Some(None))));
                    } else {
                        tracing::debug!(%peer, %addr, error = %miss.why, "bulk fetch refused over HTTP; asking over libp2p");
                    }
                    (fetch_p2p(net, peer, entry, first, n).await, false)
                }
            },
            None => (fetch_p2p(net, peer, entry, first, n).await, false),
        };
        // What the peer answered, once its segments are checked and stored if it sent any.
        let refusal = match fetched {
            Ok(sent) => {
                let got = asked.elapsed();
                let stored = store_sent(node, entry, first, sent).await?;
                tracing::debug!(
                    first,
                    over_http,
                    fetch_ms = got.as_secs_f64() * 1e3,
                    store_ms = (asked.elapsed() - got).as_secs_f64() * 1e3,
                    "segments fetched and stored"
                );
                match stored {
                    Ok(bytes) => {
                        if over_http {
                            node.metrics.replicated_http_bytes.inc_by(bytes);
                        }
                        return Ok(bytes);
                    }
                    // The peer's bytes fail their proofs or their shape: its fault, not ours.
                    Err(e @ (StorageError::ProofFailed(_) | StorageError::InvalidParams(_))) => {
                        Refusal::Bad(e.to_string())
                    }
                    Err(e) => anyhow::bail!("storing segments {first}+{n}: {e}"),
                }
            }
            Err(refusal) => refusal,
        };
        match refusal {
            Refusal::NotHeld => {
                not_held += 1;
                failures.push(format!("{peer}: not held"));
            }
            Refusal::Failed(why) => failures.push(format!("{peer}: {why}")),
            Refusal::Bad(why) => {
                node.metrics.peer_bad_segments.inc();
                tracing::warn!(%peer, root = %Root::from(entry.root), first, error = %why,
                    "peer sent segments that fail their proofs or their format; refused, and the peer is banned");
                net.ban(peer).await;
                banned.insert(peer);
                failures.push(format!("{peer}: bad segments ({why})"));
            }
        }
    }
    if not_held == failures.len() {
        return Err(NotHeldYet { first, n }.into());
    }
    anyhow::bail!(
        "segments {first}+{n}: no peer served them ({})",
        failures.join("; ")
    )
}

/// Every peer asked answered that it does not hold the segments: on sharded nodes,
/// the usual state while a client is still uploading this node's shard to it.
#[derive(Debug, thiserror::Error)]
#[error("segments {first}+{n}: no peer holds them (yet)")]
struct NotHeldYet {
    first: u64,
    n: u16,
}
