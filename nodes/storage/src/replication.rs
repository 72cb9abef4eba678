//! Replication between storage nodes over libp2p: a node announces each file it
//! finalizes; peers fetch the segments with their proofs, check each against the root
//! on arrival, and store them through the same path as uploads. On every new
//! connection (and every [`SWEEP_EVERY`]) a node compares its catalog with the peer's
//! inventory and fetches what it lacks, so a replacement node with an empty disk
//! refills itself; a segment lost here is fetched again from a peer when read. A peer
//! whose segments fail their proofs is banned.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use libp2p::PeerId;
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

/// What a storage node tells a peer.
fn answer_file(node: &StorageService, request: &FileRequest) -> FileResponse {
    match *request {
        FileRequest::Segments { root, first, count } => {
            let held = match node.held(&root) {
                Ok(Some(h)) => h,
                Ok(None) => return FileResponse::NotFound,
                Err(e) => return FileResponse::Refused(e.to_string()),
            };
            let count = u64::from(count);
            // Only what is held here: a peer asking must never start a chain of repairs.
            let segs = match &held {
                Held::Whole(meta) => {
                    let n = meta.segment_count();
                    if first.checked_add(count).is_none_or(|end| end > n) {
                        return FileResponse::Refused(format!(
                            "segments {first}+{count} of a {n}-segment file"
                        ));
                    }
                    match file::read_segments(&node.store, meta, first, count) {
                        Ok(segs) => (first..)
                            .zip(segs)
                            .map(|(i, s)| meta.tree.prove_segment(i).map(|p| (s, p)))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    }
                }
                Held::Shard(meta) => {
                    let indices: Vec<u64> = (first..first.saturating_add(count)).collect();
                    if !indices.iter().all(|i| meta.holds(*i)) {
                        return FileResponse::NotFound; // Another shard's segments.
                    }
                    shard::read_shard_segments(&node.store, meta, &indices).map_err(|e| e.to_string())
                }
            };
            let segs = match segs {
                Ok(s) => s,
                Err(e) => return FileResponse::Refused(e),
            };
            let mut out = Vec::with_capacity(segs.len());
            for (data, proof) in segs {
                let proof = proof.to_bytes();
                node.metrics.bytes_out.inc_by(data.len() as u64);
                // The verified read buffer goes out as it is: no copy.
                #[cfg(feature = "fault-injection")]
                let data = if node.cfg.serve_bad_segments {
                    let mut bad = data.to_vec();
                    if let Some(b) = bad.first_mut() {
                        *b ^= 1;
                    }
                    bad.into()
                } else {
                    data
                };
                out.push(SegmentReply { data, proof });
            }
            node.metrics.segments_out.inc_by(out.len() as u64);
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
async fn sync_with(node: Arc<StorageService>, peer: PeerId) {
    let Some(net) = node.net.clone() else { return };
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
        .map_err(|e| anyhow::anyhow!("finalizing: {e}"))?;
    if !node.holds(&entry.root) {
        anyhow::bail!("every segment fetched, yet the file is not finalized");
    }
    Ok(bytes)
}

/// Segments `first..first + n` from the first peer that has them and whose
/// segments pass their proofs; a peer sending a bad one is banned.
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
        let request = FileRequest::Segments {
            root: entry.root,
            first,
            count: n,
        };
        let asked = Instant::now();
        let segs = match net.request(peer, request).await {
            Ok(FileResponse::Segments(segs)) if segs.len() == usize::from(n) => segs,
            Ok(FileResponse::Segments(segs)) => {
                failures.push(format!("{peer}: {} segments for {n} asked", segs.len()));
                continue;
            }
            Ok(FileResponse::NotFound) => {
                not_held += 1;
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
                    StorageError::ProofFailed(format!("segment {index}: malformed proof: {e}"))
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
            // The peer's bytes fail their proofs or their shape: its fault, not ours.
            Err(e @ (StorageError::ProofFailed(_) | StorageError::InvalidParams(_))) => {
                node.metrics.peer_bad_segments.inc();
                tracing::warn!(%peer, root = %Root::from(entry.root), first, error = %e,
                    "peer sent segments that fail their proofs; refused, and the peer is banned");
                net.ban(peer).await;
                banned.insert(peer);
                failures.push(format!("{peer}: bad segments"));
            }
            Err(e) => anyhow::bail!("storing segments {first}+{n}: {e}"),
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
