//! Replication between DA nodes over libp2p: a node follows announcements of new
//! submissions, fetches its custody cells from the announcing peer (each checked
//! against its commitment before it is stored), samples a few beyond its custody,
//! answers peers' header and cell requests, and tops up blobs from peers before it
//! rebuilds a payload. A peer that sends a cell failing its proof is banned.

use axum::response::Response;
use zg_blob::da::{CellSet, DaError, SubmissionHeader, SubmissionId, decode_blob_record, encode_blob_record};
use zg_blob::da::{DaRequest, DaResponse};
use zg_node::p2p::NetEvent;

use crate::api::Id;
use crate::http::{App, blocking};
use crate::server::SAMPLES_PER_SUBMISSION;
use crate::service::DaService;
use crate::wire::DaProtocol;

/// Answers peers and follows their announcements.
pub(crate) async fn handle_net_events(
    node: App,
    mut events: tokio::sync::mpsc::Receiver<NetEvent<DaProtocol>>,
) {
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
                    n.metrics.peer_requests.inc();
                    tracing::debug!(%peer, "answered a peer");
                    if let Some(net) = &n.net {
                        net.respond(channel, answer).await;
                    }
                });
            }
            NetEvent::Announced {
                source,
                announcement: header,
            } => {
                tokio::spawn(replicate(node.clone(), source, header));
            }
            // Storage traffic: the network refuses it before it reaches a DA node.
            NetEvent::PeerJoined(_) => {}
        }
    }
}

fn answer(node: &DaService, request: DaRequest) -> DaResponse {
    let result = match request {
        DaRequest::Header { id } => node
            .da
            .header(&id)
            .map(|h| h.map(|h| DaResponse::Header(h.encode()))),
        DaRequest::Cells { id, blob, wanted } => node.da.blob_cells(&id, usize::from(blob)).map(|cells| {
            #[cfg_attr(not(feature = "fault-injection"), allow(unused_mut))]
            let mut cells: Vec<_> = cells.into_iter().filter(|c| wanted.contains(c.index)).collect();
            #[cfg(feature = "fault-injection")]
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
            zg_blob::verify_cells(n.kzg, blob, &header.commitments[blob], &cells)
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
    node.metrics.peer_proof_failures.inc();
    tracing::warn!(%peer, reason = why, "peer sent bad cells; refused, and the peer is banned");
    if let Some(net) = &node.net {
        net.ban(peer).await;
    }
}

/// Follows an announcement: fetches this node's custody cells of every blob from the
/// announcing peer (each checked before it is stored), samples a few cells beyond its
/// custody; it then holds its share.
async fn replicate(node: App, source: libp2p::PeerId, header: SubmissionHeader) {
    let id = Id::from(header.id);
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
    node.metrics.samples_verified.inc_by(samples);
    node.metrics.replicated.inc();
    tracing::info!(submission = %id, peer = %source, custody = node.custody.len(), samples, "custody cells fetched and verified");
}

/// Before a payload is rebuilt: any blob held below 64 cells is topped up with cells
/// fetched from peers, each checked against its commitment, and kept so the next read
/// needs no peers.
pub(crate) async fn fill_from_peers(node: &App, id: SubmissionId) -> Result<(), Response> {
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
            if have.len() >= zg_blob::CELLS_TO_RECOVER {
                break;
            }
            // Kept: the next read needs no peers.
            match fetch_cells(node, peer, &header, blob, CellSet(!have.0), true).await {
                Ok((count, Some(held))) if count > 0 => {
                    node.metrics.cells_from_peers.inc_by(count as u64);
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
