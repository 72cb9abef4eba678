//! The DA node's HTTP API: payloads posted or dispersed (header, then each blob's
//! cells), cells and payloads served, status and Prometheus `/metrics`.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use zg_blob::da::{DaError, SubmissionHeader};
use zg_blob::{BlobError, MAX_PAYLOAD};
use zg_node::http::{declared_len, text};
use zg_store::StoreError;

use crate::api::{CellJson, DaStatus, HeaderJson, HexBytes, Id, NodeKey, SignRequest};
use crate::replication::fill_from_peers;
use crate::service::DaService;
use crate::signing::SignError;

fn da_error(node: &DaService, e: &DaError) -> Response {
    let status = match e {
        DaError::Malformed { .. } | DaError::Mismatch { .. } => StatusCode::BAD_REQUEST,
        DaError::NotFound(_) | DaError::CellNotHeld { .. } => StatusCode::NOT_FOUND,
        DaError::Blob(BlobError::ProofFailed { .. }) => {
            node.metrics.proof_failures.inc();
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
        node.metrics.rejected.inc();
    } else {
        tracing::error!(error = %e, "DA request failed");
    }
    text(status, e.to_string())
}

/// What every handler shares.
pub(crate) type App = Arc<DaService>;

// Runs blocking store or KZG work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    node: &App,
    f: impl FnOnce(&DaService) -> Result<T, DaError> + Send + 'static,
) -> Result<T, Response> {
    let n = node.clone();
    match tokio::task::spawn_blocking(move || f(&n)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(da_error(node, &e)),
        Err(e) => Err(text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// `POST /submissions`: the body is the payload; the node encodes and stores it.
pub(crate) async fn post_submission(State(node): State<App>, headers: HeaderMap, body: Body) -> Response {
    if declared_len(&headers).is_some_and(|n| n > MAX_PAYLOAD as u64) {
        node.metrics.rejected.inc();
        return text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("payload exceeds the maximum of {MAX_PAYLOAD} bytes (256 blobs); split it"),
        );
    }
    let Ok(_queued) = node.queue.try_acquire() else {
        node.metrics.rejected.inc();
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
            node.metrics.rejected.inc();
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
    match blocking(&node, move |n| n.submit(&payload)).await {
        Ok(info) => {
            tracing::info!(id = %info.id, bytes = len, blobs = info.commitments.len(), "submission encoded and stored");
            if let (Some(net), Ok(header)) = (&node.net, HeaderJson::of_info(&info)) {
                net.announce(&header).await;
            }
            (StatusCode::CREATED, Json(info)).into_response()
        }
        Err(r) => r,
    }
}

async fn header_of(node: &App, id: Id) -> Result<SubmissionHeader, Response> {
    blocking(node, move |n| n.header(&id.0)).await
}

/// `PUT /submissions/{id}`: a disperser announces a submission it encoded.
pub(crate) async fn put_header(
    State(node): State<App>,
    Path(id): Path<Id>,
    Json(h): Json<HeaderJson>,
) -> Response {
    let id = id.0;
    match blocking(&node, move |n| n.info(&n.put_header(&id, &h)?)).await {
        Ok(info) => Json(info).into_response(),
        Err(r) => r,
    }
}

/// `PUT /submissions/{id}/blobs/{blob}`: cells of one blob (a blob record: custody
/// bitmap, then cells and proofs), verified before they are stored.
pub(crate) async fn put_cells(
    State(node): State<App>,
    Path((id, blob)): Path<(Id, usize)>,
    body: Bytes,
) -> Response {
    let header = match header_of(&node, id).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    let h = header.clone();
    match blocking(&node, move |n| n.put_cells(&h, blob, &body)).await {
        Ok(stored) => {
            // Announced once this node can serve every cell of every blob.
            if let (Some(net), true) = (&node.net, stored.complete) {
                net.announce(&header).await;
            }
            Json(serde_json::json!({
            "blob": blob,
            "cellsHeld": stored.held.len(),
            "custodyHeld": stored.custody_held,
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
pub(crate) async fn get_submission(State(node): State<App>, Path(id): Path<Id>) -> Response {
    let header = match header_of(&node, id).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    match blocking(&node, move |n| n.info(&header)).await {
        Ok(info) => Json(info).into_response(),
        Err(r) => r,
    }
}

/// `GET /submissions/{id}/blobs/{blob}/cells/{cell}`: one cell and its proof.
pub(crate) async fn get_cell(
    State(node): State<App>,
    Path((id, blob, cell)): Path<(Id, usize, u64)>,
) -> Response {
    let id = id.0;
    match blocking(&node, move |n| n.cell(&id, blob, cell)).await {
        Ok(c) => Json(CellJson {
            index: c.index,
            cell: HexBytes(c.cell),
            proof: HexBytes(c.proof),
        })
        .into_response(),
        Err(r) => r,
    }
}

/// `GET /submissions/{id}/payload`: the payload, rebuilt from the cells held.
pub(crate) async fn get_payload(State(node): State<App>, Path(id): Path<Id>) -> Response {
    let id = id.0;
    if let Err(r) = fill_from_peers(&node, id).await {
        return r;
    }
    match blocking(&node, move |n| n.payload(&id)).await {
        Ok(payload) => ([(header::CONTENT_TYPE, "application/octet-stream")], payload).into_response(),
        Err(r) => r,
    }
}

pub(crate) async fn status(State(node): State<App>) -> Response {
    let stats = node.da.store().stats();
    let peers = match &node.net {
        Some(net) => net.peers().await.len(),
        None => 0,
    };
    Json(DaStatus {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        node: NodeKey::from(node.key.node_id()),
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

/// `GET /metrics`: every metric, the network's included.
pub(crate) async fn metrics(State(node): State<App>) -> Response {
    let body = zg_node::metrics::render(&node.registry);
    ([(header::CONTENT_TYPE, zg_node::metrics::CONTENT_TYPE)], body).into_response()
}

/// `POST /zerog/sign`: signs a 0G DA blob whose quorum rows this node holds.
pub(crate) async fn sign(State(node): State<App>, Json(req): Json<SignRequest>) -> Response {
    match crate::signing::sign(&node, &req).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => {
            let status = match &e {
                SignError::Da(d) => return da_error(&node, d),
                SignError::NoChain => StatusCode::NOT_IMPLEMENTED,
                SignError::NotHeld(_) => StatusCode::NOT_FOUND,
                SignError::NotInQuorum { .. } => StatusCode::FORBIDDEN,
                SignError::RowsNotHeld { .. } | SignError::NotUploaded { .. } => StatusCode::CONFLICT,
                SignError::RootMismatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                SignError::QuorumShort { .. } | SignError::Chain(_) => StatusCode::BAD_GATEWAY,
            };
            if status.is_client_error() {
                node.metrics.rejected.inc();
            }
            tracing::warn!(error = %e, "refused to sign a 0G DA blob");
            text(status, e.to_string())
        }
    }
}
