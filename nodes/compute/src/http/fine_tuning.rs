//! 0G's fine-tuning task API, as `0g-inference-sdk`'s `FineTuningProvider` calls it:
//! tasks under `/v1/user/{address}/task` (create, list, get, cancel, log, and the
//! sealed model at `…/lora`), `/v1/task/pending` and the base models at `/v1/model`.

use std::sync::Arc;

use alloy_primitives::Address;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::fine_tuning::{FineTuner, SDK_LOCAL_MODEL_NAME, TaskRefusal, TaskRequest};
use crate::tasks::Task;

/// How far a signed download's time may be from the provider's, seconds.
const DOWNLOAD_WINDOW_SECS: u64 = 300;

/// The fine-tuning routes.
pub fn routes(tuner: Arc<FineTuner>) -> Router {
    Router::new()
        .route("/v1/user/{address}/task", post(create).get(list))
        .route("/v1/user/{address}/task/{id}", get(one))
        .route("/v1/user/{address}/task/{id}/cancel", post(cancel))
        .route("/v1/user/{address}/task/{id}/log", get(log))
        .route("/v1/user/{address}/task/{id}/lora", post(lora))
        .route("/v1/task/pending", get(pending))
        .route("/v1/model", get(models))
        .route("/v1/model/{name}", get(model))
        .with_state(tuner)
}

/// A refusal as the API answers it: its status and `{"error": reason}`.
struct Refused(TaskRefusal);

impl<E: Into<TaskRefusal>> From<E> for Refused {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(json!({"error": self.0.to_string()}))).into_response()
    }
}

type Answer = Result<Response, Refused>;

fn bad(reason: String) -> Refused {
    Refused(TaskRefusal::BadRequest(reason))
}

fn user(address: &str) -> Result<Address, Refused> {
    address
        .parse()
        .map_err(|_| bad(format!("{address:?} is not an address")))
}

fn rfc3339(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// A task in 0G's JSON (`Task.from_dict`), with zg's progress details beside it.
fn task_json(tuner: &FineTuner, t: &Task) -> Value {
    json!({
        "id": t.id,
        "createdAt": rfc3339(t.created_ms),
        "updatedAt": rfc3339(t.updated_ms),
        "userAddress": t.user.to_string(),
        "preTrainedModelHash": t.model_hash,
        "datasetHash": t.dataset_root.to_string(),
        "trainingParams": t.params,
        "fee": t.fee.to_string(),
        "nonce": t.nonce,
        "signature": t.signature,
        "progress": t.state.progress_name(),
        "wait": false,
        "step": t.step,
        "steps": t.steps,
        "tokens": t.tokens,
        "deliverableRoot": t.deliverable_root.map(|r| r.to_string()),
        "error": t.error,
        // Chat with it under this name (`model` of a chat completion) once paid in full.
        "servedModel": t.paid_in_full.then(|| tuner.tuned_name(&t.id)),
    })
}

async fn create(State(tuner): State<Arc<FineTuner>>, Path(address): Path<String>, body: Bytes) -> Answer {
    let user = user(&address)?;
    let request: TaskRequest =
        serde_json::from_slice(&body).map_err(|e| bad(format!("the body is not a task: {e}")))?;
    let task = tuner.submit(user, request).await?;
    Ok(axum::Json(task_json(&tuner, &task)).into_response())
}

async fn list(
    State(tuner): State<Arc<FineTuner>>,
    Path(address): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Answer {
    let mut tasks = tuner.tasks().of_user(user(&address)?);
    if query.get("latest").is_some_and(|v| v == "true") {
        tasks.truncate(1);
    }
    Ok(axum::Json(tasks.iter().map(|t| task_json(&tuner, t)).collect::<Vec<_>>()).into_response())
}

async fn one(State(tuner): State<Arc<FineTuner>>, Path((address, id)): Path<(String, String)>) -> Answer {
    let task = tuner.tasks().get(user(&address)?, &id)?;
    Ok(axum::Json(task_json(&tuner, &task)).into_response())
}

async fn log(State(tuner): State<Arc<FineTuner>>, Path((address, id)): Path<(String, String)>) -> Answer {
    let task = tuner.tasks().get(user(&address)?, &id)?;
    let mut text = task.log.join("\n");
    text.push('\n');
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// A JSON body's `signature` (hex) and, when asked, `timestamp`.
fn signed(body: &[u8]) -> Result<(Vec<u8>, Option<u64>), Refused> {
    let value: Value = serde_json::from_slice(body).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
    let signature = value["signature"]
        .as_str()
        .and_then(|s| alloy_primitives::hex::decode(s).ok())
        .ok_or_else(|| bad("no hex \"signature\"".into()))?;
    Ok((signature, value["timestamp"].as_u64()))
}

async fn cancel(
    State(tuner): State<Arc<FineTuner>>,
    Path((address, id)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let (signature, _) = signed(&body)?;
    let task = tuner.cancel(user(&address)?, &id, &signature)?;
    Ok(if task.state.is_final() {
        "cancelled".into_response()
    } else {
        "cancelling: the task stops at its next training step".into_response()
    })
}

/// The sealed model, to its user only (signed as the SDK's `download_lora_from_tee`).
async fn lora(
    State(tuner): State<Arc<FineTuner>>,
    Path((address, id)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let user = user(&address)?;
    let (signature, Some(timestamp)) = signed(&body)? else {
        return Err(bad("no \"timestamp\"".into()));
    };
    let path = tuner.deliverable_file(user, &id)?;
    let now = crate::service::now_ms() / 1000;
    crate::tasks::check_download(user, &id, timestamp, now, DOWNLOAD_WINDOW_SECS, &signature)?;
    Ok(match tokio::fs::File::open(&path).await {
        Ok(file) => {
            let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
            let body = Body::from_stream(file_stream(file));
            (
                [
                    (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                    (header::CONTENT_LENGTH, len.to_string()),
                ],
                body,
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading the model: {e}"),
        )
            .into_response(),
    })
}

/// A file as a stream of chunks.
fn file_stream(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt as _;
        let mut buf = vec![0u8; 1 << 16];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    })
}

async fn pending(State(tuner): State<Arc<FineTuner>>) -> Response {
    tuner.tasks().pending().to_string().into_response()
}

/// The base model in 0G's `CustomizedModel` JSON.
fn model_json(tuner: &FineTuner) -> Value {
    let c = tuner.config();
    json!({
        "name": c.model_name,
        "hash": tuner.model_hash(),
        "image": "",
        "dataType": "text",
        "trainingScript": "zg-compute LoRA (q and v projections, AdamW, CPU)",
        "description": format!(
            "{}: LoRA fine-tuning on chat JSONL ({{\"messages\": [...]}} per line, the last an assistant answer); \
             parameters: lora_r, lora_alpha, learning_rate, num_train_epochs, per_device_train_batch_size, \
             max_steps, max_seq_len, seed",
            c.model_name
        ),
        "tokenizer": c.model_name,
    })
}

async fn models(State(tuner): State<Arc<FineTuner>>) -> Response {
    axum::Json(json!([model_json(&tuner)])).into_response()
}

async fn model(State(tuner): State<Arc<FineTuner>>, Path(name): Path<String>) -> Answer {
    if name == tuner.config().model_name || name == SDK_LOCAL_MODEL_NAME {
        return Ok(axum::Json(model_json(&tuner)).into_response());
    }
    Err(Refused(TaskRefusal::Unknown(format!(
        "this provider trains {} only",
        tuner.config().model_name
    ))))
}
