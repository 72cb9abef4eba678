//! The storage node's JSON-RPC API in 0G's shape (`zgs_*`), over HTTP POST on the
//! node's one port: single calls and capped batches, each request handed to jsonrpsee
//! as the raw text it arrived as.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use jsonrpsee::RpcModule;
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned, Params};
use zg_merkle::Hash;

use crate::api::{B64, SegmentWithProof, Status, parse_root};
use crate::http::App;
use crate::service::{StorageError, StorageService};

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

/// The JSON-RPC error a service error goes out as.
pub(crate) fn rpc_err(e: StorageError) -> ErrorObjectOwned {
    let code = match &e {
        StorageError::InvalidParams(_) => code::INVALID_PARAMS,
        StorageError::TooLarge(_) => code::TOO_LARGE,
        StorageError::Conflict(_) => code::CONFLICT,
        StorageError::ProofFailed(_) => code::PROOF_FAILED,
        StorageError::NotFound(_) => code::NOT_FOUND,
        StorageError::Store(_) => code::STORE,
        StorageError::Internal(_) => code::INTERNAL,
    };
    // The variants' messages are the whole text; a store error keeps its source's.
    let message = match e {
        StorageError::InvalidParams(m)
        | StorageError::TooLarge(m)
        | StorageError::Conflict(m)
        | StorageError::ProofFailed(m)
        | StorageError::NotFound(m)
        | StorageError::Internal(m) => m,
        StorageError::Store(s) => s.to_string(),
    };
    err(code, message)
}

type RpcResult<T> = Result<T, ErrorObjectOwned>;

fn root_param(params: &Params<'_>) -> RpcResult<Hash> {
    let (root,): (String,) = params.parse()?;
    parse_root(&root).map_err(|e| err(code::INVALID_PARAMS, e))
}

pub(crate) fn rpc_module(node: Arc<StorageService>) -> RpcModule<Arc<StorageService>> {
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
            node.upload(vec![seg]).map_err(rpc_err)
        }),
    );
    ok(
        m.register_blocking_method("zgs_uploadSegments", |params, node, _| -> RpcResult<()> {
            let segs: Vec<SegmentWithProof> = params.one()?;
            node.upload(segs).map_err(rpc_err)
        }),
    );
    ok(m.register_blocking_method("zgs_getFileInfo", |params, node, _| {
        node.info(&root_param(&params)?).map_err(rpc_err)
    }));
    ok(m.register_blocking_method(
        "zgs_checkFileFinalized",
        |params, node, _| -> RpcResult<Option<bool>> {
            let root = root_param(&params)?;
            Ok(node.info(&root).map_err(rpc_err)?.map(|i| i.finalized))
        },
    ));
    ok(
        m.register_blocking_method("zg_missingSegments", |params, node, _| {
            node.missing(&root_param(&params)?).map_err(rpc_err)
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
            let meta = node.open_meta(&root).map_err(|e| rpc_err(e.into()))?;
            let segs = node
                .read_segments(&meta, start, end - start)
                .map_err(|e| rpc_err(e.into()))?;
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
            let meta = node.open_meta(&root).map_err(|e| rpc_err(e.into()))?;
            let seg = node
                .read_segments(&meta, index, 1)
                .map_err(|e| rpc_err(e.into()))?
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

fn rpc_error_body(code: i32, message: &str) -> serde_json::Value {
    serde_json::json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": null})
}

async fn call_one(rpc: &RpcModule<Arc<StorageService>>, req: &str) -> Box<serde_json::value::RawValue> {
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
pub(crate) async fn rpc_handler(
    State(App {
        service: node, rpc, ..
    }): State<App>,
    body: Bytes,
) -> Response {
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
