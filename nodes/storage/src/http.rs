//! The storage node's plain HTTP: files streamed in (`PUT /files`) and out
//! (`GET /files/{root}`, with `Range`), segment frames in (`POST /segments`) and out
//! (`GET /segments/{root}`), Prometheus `/metrics`, and the per-client limit on
//! requests in flight.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use jsonrpsee::RpcModule;
use serde::Deserialize;
use tokio::sync::Semaphore;
use zg_file::replica::FileEntry;
use zg_file::{self as file, FileError, IngestOptions};
use zg_merkle::SEGMENT_SIZE;
use zg_node::http::{declared_len, text};
use zg_store::StoreError;

use crate::api::{Root, parse_kind};
use crate::replication::{Unserved, held_segments};
use crate::service::{StorageError, StorageService};

/// What every HTTP handler of the node shares.
#[derive(Clone)]
pub(crate) struct App {
    /// The service the requests go to.
    pub(crate) service: Arc<StorageService>,
    /// Its JSON-RPC methods.
    pub(crate) rpc: Arc<RpcModule<crate::rpc::RpcHandler>>,
    /// Requests in flight per client address.
    pub(crate) clients: Arc<Mutex<HashMap<IpAddr, Arc<Semaphore>>>>,
}

#[derive(Deserialize)]
pub(crate) struct PutQuery {
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

/// Most files one `GET /files` lists.
const MAX_LISTED: u64 = 1000;

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    offset: Option<u64>,
    limit: Option<u64>,
}

/// `GET /files?offset=&limit=`: the files this node holds whole, in the order it stored
/// them (at most 1000 a page), each with its tx seq when it is paid for on the Flow.
pub(crate) async fn list_files(
    State(App { service: node, .. }): State<App>,
    Query(q): Query<ListQuery>,
) -> Response {
    let limit = q.limit.unwrap_or(100).min(MAX_LISTED);
    let listed = tokio::task::spawn_blocking(move || {
        let (total, start, page) = {
            let c = node.catalog.lock().unwrap_or_else(|p| p.into_inner());
            let total = c.files.len();
            let start = usize::try_from(q.offset.unwrap_or(0)).map_or(total, |o| o.min(total));
            let end = start.saturating_add(limit as usize).min(total);
            (total, start, c.files[start..end].to_vec())
        };
        let files: Vec<serde_json::Value> = page
            .iter()
            .map(|e| {
                let seq = node
                    .info(&e.root)
                    .ok()
                    .flatten()
                    .and_then(|i| i.tx)
                    .map(|t| t.seq);
                serde_json::json!({
                    "root": Root::from(e.root),
                    "fileSize": e.size,
                    "rootKind": e.kind.to_string(),
                    "txSeq": seq,
                })
            })
            .collect();
        serde_json::json!({"total": total, "offset": start, "files": files})
    })
    .await;
    match listed {
        Ok(body) => Json(body).into_response(),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `PUT /files`: the body streams through the file pipeline.
pub(crate) async fn put_file(
    State(App { service: node, .. }): State<App>,
    Query(q): Query<PutQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let kind = match q.kind.as_deref().map(parse_kind).transpose() {
        Ok(k) => k.unwrap_or_default(),
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    if declared_len(&headers).is_some_and(|n| n > node.cfg.max_file_bytes) {
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
            node.metrics.bytes_in.inc_by(meta.len());
            node.metrics.files_finalized.inc();
            tracing::info!(root = %Root::from(meta.root()), bytes = meta.len(), %kind, "file stored over HTTP");
            Json(serde_json::json!({
                "root": Root::from(meta.root()),
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

/// The HTTP status of a service error.
fn status_of(e: &StorageError) -> StatusCode {
    match e {
        StorageError::InvalidParams(_) => StatusCode::BAD_REQUEST,
        StorageError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        StorageError::Conflict(_) | StorageError::AlreadyFinalized => StatusCode::CONFLICT,
        StorageError::ProofFailed(_) => StatusCode::UNPROCESSABLE_ENTITY,
        StorageError::NotFound(_) => StatusCode::NOT_FOUND,
        StorageError::NotPaid(_) => StatusCode::PAYMENT_REQUIRED,
        StorageError::Store(StoreError::Full { .. } | StoreError::DiskFull { .. }) => {
            StatusCode::INSUFFICIENT_STORAGE
        }
        StorageError::Store(_) | StorageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `POST /segments`: segments with proofs in [`zg_file::frames`]' binary form, checked
/// and stored as `zgs_uploadSegments` does them; 204 once durable.
pub(crate) async fn post_segments(State(App { service: node, .. }): State<App>, body: Bytes) -> Response {
    let n2 = node.clone();
    match tokio::task::spawn_blocking(move || n2.upload_frames(&body)).await {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e)) => text(status_of(&e), e.to_string()),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("upload task failed: {e}"),
        ),
    }
}

#[derive(Deserialize)]
pub(crate) struct SegmentsQuery {
    first: u64,
    count: u64,
}

/// `GET /segments/{root}?first=&count=`: segments of a file held here, each with its
/// proof, as segment frames (zg-file's `frames`): how peers replicate in bulk. The
/// verified read buffers are sent as they are, between their frame headers.
pub(crate) async fn get_segments(
    State(App { service: node, .. }): State<App>,
    Path(root): Path<Root>,
    Query(q): Query<SegmentsQuery>,
) -> Response {
    let max = node.cfg.max_segments_per_request as u64;
    if q.count == 0 || q.count > max {
        return text(
            StatusCode::BAD_REQUEST,
            format!("{} segments asked; 1 to {max} per request", q.count),
        );
    }
    let (n2, root) = (node.clone(), root.0);
    let held = tokio::task::spawn_blocking(move || held_segments(&n2, &root, q.first, q.count)).await;
    let (size, segs) = match held {
        Ok(Ok(s)) => s,
        Ok(Err(Unserved::NotHeld)) => {
            return text(
                StatusCode::NOT_FOUND,
                format!(
                    "segments {}+{} of {} are not held here",
                    q.first,
                    q.count,
                    Root::from(root)
                ),
            );
        }
        Ok(Err(Unserved::BadRange(why))) => return text(StatusCode::BAD_REQUEST, why),
        Ok(Err(Unserved::Failed(why))) => return text(StatusCode::INTERNAL_SERVER_ERROR, why),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let mut parts: Vec<Bytes> = Vec::with_capacity(1 + 2 * segs.len());
    parts.push(Bytes::from_static(zg_file::frames::MAGIC));
    for (index, (data, proof)) in (q.first..).zip(segs) {
        let header = zg_file::frames::header(&root, size, index, &proof.to_bytes(), data.len());
        parts.extend([Bytes::from(header), data]);
    }
    let len: usize = parts.iter().map(Bytes::len).sum();
    let mut resp = Response::new(Body::from_stream(futures_util::stream::iter(
        parts.into_iter().map(Ok::<_, io::Error>),
    )));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(zg_file::frames::CONTENT_TYPE),
    );
    resp
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
pub(crate) async fn get_file(
    State(App { service: node, .. }): State<App>,
    Path(root): Path<Root>,
    headers: HeaderMap,
) -> Response {
    let root = root.0;
    let n2 = node.clone();
    let meta = match tokio::task::spawn_blocking(move || n2.open_meta(&root)).await {
        Ok(Ok(m)) => m,
        Ok(Err(FileError::NotFound(_))) if !node.cfg.shard.is_whole() => {
            let why = format!(
                "no whole file {} here: this node holds shard {} of the flow; gather the segments from every shard's node (zg download --node URL…)",
                Root::from(root),
                node.cfg.shard
            );
            return text(StatusCode::NOT_FOUND, why);
        }
        Ok(Err(FileError::NotFound(_))) => {
            return text(StatusCode::NOT_FOUND, format!("no file {}", Root::from(root)));
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
    // 8 MiB of read-ahead: segments are verified while the socket drains.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(32);
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
                        n3.metrics.bytes_out.inc_by(part.len() as u64);
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
    // The first segments are read before the status goes out: a file that fails
    // its check at the start gets an error status, not a 200 cut short.
    let first = match rx.recv().await {
        Some(Err(e)) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        first => first,
    };
    let rest = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
    let stream = futures_util::stream::iter(first).chain(rest);
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

/// `GET /metrics`: every metric, the store's and the network's gauges read now.
pub(crate) async fn metrics(State(App { service: node, .. }): State<App>) -> Response {
    let m = &node.metrics;
    if let Some(net) = &node.net {
        m.peers.set(net.peers().await.len() as i64);
    }
    let stats = node.store.stats();
    m.store_used_bytes.set(stats.used_bytes as i64);
    m.store_segments.set(stats.segments as i64);
    let files = node.catalog.lock().unwrap_or_else(|p| p.into_inner()).files.len();
    m.catalog_files.set(files as i64);
    let body = zg_node::metrics::render(&node.registry);
    ([(header::CONTENT_TYPE, zg_node::metrics::CONTENT_TYPE)], body).into_response()
}

/// Caps the requests one client address has in flight.
pub(crate) async fn per_client_limit(
    State(App {
        service: node,
        clients,
        ..
    }): State<App>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let sem = {
        let mut clients = clients.lock().unwrap_or_else(|p| p.into_inner());
        if clients.len() > 4096 {
            clients.retain(|_, s| Arc::strong_count(s) > 1);
        }
        clients
            .entry(addr.ip())
            .or_insert_with(|| Arc::new(Semaphore::new(node.cfg.max_concurrent_per_client)))
            .clone()
    };
    let Ok(_permit) = sem.try_acquire_owned() else {
        node.metrics.rejected.inc();
        let why = format!(
            "too many concurrent requests from {} (limit {}); retry shortly",
            addr.ip(),
            node.cfg.max_concurrent_per_client
        );
        if req.method() == axum::http::Method::POST && req.uri().path() == "/" {
            // A JSON-RPC client gets an error object it can parse (-32005: limit exceeded).
            let body =
                serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32005, "message": why}});
            return (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
        }
        return text(StatusCode::TOO_MANY_REQUESTS, why);
    };
    next.run(req).await
}
