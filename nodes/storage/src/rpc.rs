//! The storage node's JSON-RPC API in 0G's shape (`zgs_*`), over HTTP POST on the
//! node's one port: single calls and capped batches, each request handed to jsonrpsee
//! as the raw text it arrived as.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use jsonrpsee::RpcModule;
use jsonrpsee::core::RpcResult;
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};

use crate::api::{
    B64, FileInfo, FlowSegment, Ranges, Root, SegmentWithProof, ShardConfig, Status, StorageRpcServer,
};
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
    pub(super) const NOT_PAID: i32 = -32015;
}

fn err(code: i32, msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(code, msg.into(), None::<()>)
}

/// The JSON-RPC error a service error goes out as: its code names the kind, its
/// message is the error's text.
impl From<StorageError> for ErrorObjectOwned {
    fn from(e: StorageError) -> Self {
        let code = match &e {
            StorageError::InvalidParams(_) => code::INVALID_PARAMS,
            StorageError::TooLarge(_) => code::TOO_LARGE,
            StorageError::Conflict(_) => code::CONFLICT,
            StorageError::ProofFailed(_) => code::PROOF_FAILED,
            StorageError::NotFound(_) => code::NOT_FOUND,
            StorageError::Store(_) => code::STORE,
            StorageError::NotPaid(_) => code::NOT_PAID,
            StorageError::Internal(_) => code::INTERNAL,
            // 0G's node says it this way, and 0G's SDKs take it as success.
            StorageError::AlreadyFinalized => {
                return ErrorObject::owned(code::INVALID_PARAMS, "Invalid params: root", Some(e.to_string()));
            }
        };
        err(code, e.to_string())
    }
}

/// The node's side of [`StorageRpcServer`]: each method parses its root and hands
/// the call to the service.
pub(crate) struct RpcHandler(pub(crate) Arc<StorageService>);

impl StorageRpcServer for RpcHandler {
    fn get_status(&self) -> RpcResult<Status> {
        // A blocking method runs off the async threads: it may wait for the network task.
        let peers = match (&self.0.net, &self.0.rt) {
            (Some(net), Some(rt)) => rt.block_on(net.peers()).len(),
            _ => 0,
        };
        Ok(self.0.status(peers))
    }

    fn upload_segment(&self, segment: SegmentWithProof) -> RpcResult<()> {
        self.0.upload(vec![segment]).map_err(Into::into)
    }

    fn upload_segments(&self, segments: Vec<SegmentWithProof>) -> RpcResult<()> {
        self.0.upload(segments).map_err(Into::into)
    }

    fn get_file_info(&self, root: Root, _need_available: Option<bool>) -> RpcResult<Option<FileInfo>> {
        self.0.info(&root.0).map_err(Into::into)
    }

    fn check_file_finalized(&self, root: Root) -> RpcResult<Option<bool>> {
        let info = self.0.info(&root.0)?;
        Ok(info.map(|i| i.finalized))
    }

    fn missing_segments(&self, root: Root) -> RpcResult<Ranges> {
        self.0.missing(&root.0).map_err(Into::into)
    }

    fn download_segment(&self, root: Root, start: u64, end: u64) -> RpcResult<String> {
        let bytes = self.0.download(&root.0, start, end)?;
        Ok(B64.encode(bytes))
    }

    fn download_segment_with_proof(&self, root: Root, index: u64) -> RpcResult<SegmentWithProof> {
        self.0.download_with_proof(&root.0, index).map_err(Into::into)
    }

    fn get_file_info_by_tx_seq(&self, seq: u64) -> RpcResult<Option<FileInfo>> {
        self.0.info_by_seq(seq).map_err(Into::into)
    }

    fn get_shard_config(&self) -> RpcResult<ShardConfig> {
        Ok(ShardConfig {
            shard_id: self.0.cfg.shard.id(),
            num_shard: self.0.cfg.shard.count(),
        })
    }

    fn upload_segments_by_tx_seq(&self, segments: Vec<FlowSegment>, seq: u64) -> RpcResult<u64> {
        self.0.upload_by_seq(segments, seq).map_err(Into::into)
    }

    fn upload_segment_by_tx_seq(&self, segment: FlowSegment, seq: u64) -> RpcResult<u64> {
        self.0.upload_by_seq(vec![segment], seq).map_err(Into::into)
    }

    fn download_segment_by_tx_seq(&self, seq: u64, start: u64, end: u64) -> RpcResult<Option<String>> {
        let bytes = self.0.download_by_seq(seq, start, end)?;
        Ok(bytes.map(|b| B64.encode(b)))
    }
}

/// The node's JSON-RPC methods.
pub(crate) fn rpc_module(node: Arc<StorageService>) -> RpcModule<RpcHandler> {
    RpcHandler(node).into_rpc()
}

fn rpc_error_body(code: i32, message: &str) -> serde_json::Value {
    serde_json::json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": null})
}

async fn call_one(rpc: &RpcModule<RpcHandler>, req: &str) -> Box<serde_json::value::RawValue> {
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
    node.metrics.rpc_requests.inc();
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
