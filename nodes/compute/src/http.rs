//! The provider's HTTP API, under the URL its service registers: OpenAI's chat
//! completions at `/v1/proxy/chat/completions` (whole or streamed as SSE), `/v1/models`,
//! `/v1/user/{address}/unsettledfee`, `/v1/quote` and `/metrics`; with fine-tuning,
//! 0G's task API ([`fine_tuning`]).

pub mod fine_tuning;

use std::sync::Arc;

use alloy_primitives::{Address, U256};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::engine::{Answered, ByteStream, EngineError, SseSplitter, Usage};
use crate::fine_tuning::FineTuner;
use crate::metrics::Metrics;
use crate::model::ModelError;
use crate::service::{Admitted, Provider, Refusal};

/// Largest request body, bytes.
pub const MAX_BODY: usize = 1 << 20;

#[derive(Clone)]
struct App {
    provider: Arc<Provider>,
    metrics: Arc<Metrics>,
    tuner: Option<Arc<FineTuner>>,
}

/// The provider's routes, with the fine-tuning task API when `tuner` is given.
pub fn router(provider: Arc<Provider>, metrics: Arc<Metrics>, tuner: Option<Arc<FineTuner>>) -> Router {
    let routes = match &tuner {
        Some(tuner) => fine_tuning::routes(tuner.clone()),
        None => Router::new(),
    };
    Router::new()
        .route("/v1/proxy/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .route("/v1/user/{address}/unsettledfee", get(unsettled_fee))
        .route("/v1/quote", get(quote))
        .route("/metrics", get(metrics_text))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(App {
            provider,
            metrics,
            tuner,
        })
        .merge(routes.layer(DefaultBodyLimit::max(MAX_BODY)))
}

/// An OpenAI-shaped error.
fn error(status: u16, code: &str, message: impl std::fmt::Display) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"error": {"message": message.to_string(), "type": code, "code": code}});
    (status, axum::Json(body)).into_response()
}

fn refuse(app: &App, refusal: &Refusal) -> Response {
    app.metrics
        .refused
        .get_or_create(&vec![("code".into(), refusal.code().into())])
        .inc();
    error(refusal.status(), refusal.code(), refusal)
}

fn engine_error(e: EngineError) -> Response {
    match e {
        EngineError::Refused { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        EngineError::Model(ModelError::BadRequest(why)) => error(400, "invalid_request_error", why),
        EngineError::Model(e) => error(500, "engine_error", e),
        other => error(502, "upstream_error", other),
    }
}

async fn chat(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => return refuse(&app, &Refusal::BadRequest("the body is not a JSON object".into())),
    };
    let (user, account) = match app.provider.authorize(auth).await {
        Ok(ok) => ok,
        Err(refusal) => return refuse(&app, &refusal),
    };
    // A user's own fine-tuned model, by its name.
    let asked = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let tuned = match &app.tuner {
        Some(tuner) => match tuner.served_model(user, &asked).await {
            Some(Ok(model)) => Some(model),
            Some(Err(refusal)) => {
                let code = if refusal.status() == 404 {
                    "model_not_found"
                } else {
                    "invalid_request_error"
                };
                return error(refusal.status(), code, refusal);
            }
            None => None,
        },
        None => None,
    };
    let admitted = match app.provider.admit(user, &account, request) {
        Ok(admitted) => admitted,
        Err(refusal) => return refuse(&app, &refusal),
    };
    let stream = admitted.request.get("stream").and_then(Value::as_bool) == Some(true);
    if let Some(model) = tuned {
        return match app
            .provider
            .engine()
            .answer_with(model, &asked, &admitted.request, stream)
            .await
        {
            Ok(Answered::Stream(upstream)) => {
                let include_usage =
                    admitted.request["stream_options"]["include_usage"].as_bool() == Some(true);
                sse(app, admitted, upstream, include_usage)
            }
            Ok(Answered::Whole(answer, usage)) => whole(&app, &admitted, answer, usage),
            Err(e) => {
                app.provider.abandon(&admitted);
                engine_error(e)
            }
        };
    }
    if stream {
        let include_usage = admitted.request["stream_options"]["include_usage"].as_bool() == Some(true);
        return match app.provider.engine().stream(&admitted.request).await {
            Ok(upstream) => sse(app, admitted, upstream, include_usage),
            Err(e) => {
                app.provider.abandon(&admitted);
                engine_error(e)
            }
        };
    }
    match app.provider.engine().complete(&admitted.request).await {
        Ok((answer, usage)) => whole(&app, &admitted, answer, usage),
        Err(e) => {
            app.provider.abandon(&admitted);
            engine_error(e)
        }
    }
}

/// A whole answer, billed before it is sent.
fn whole(app: &App, admitted: &Admitted, answer: Value, usage: Usage) -> Response {
    let id = answer
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match app.provider.bill(admitted, &id, usage) {
        Ok(_) => {
            app.metrics.served(usage);
            axum::Json(answer).into_response()
        }
        Err(e) => error(500, "billing_error", e),
    }
}

/// A streamed answer in flight: the upstream's events pass through; its usage chunk is
/// held until the request is billed, then sent (when the client asked for it) before
/// `[DONE]`. Dropped before that (client gone, upstream broke off): nothing is billed.
struct Relay {
    app: App,
    admitted: Option<Admitted>,
    upstream: ByteStream,
    sse: SseSplitter,
    id: String,
    usage: Option<(Usage, String)>,
    include_usage: bool,
    done: bool,
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(admitted) = self.admitted.take() {
            self.app.provider.abandon(&admitted);
        }
    }
}

impl Relay {
    /// The bytes to send for `events`; bills at `[DONE]`.
    fn relay(&mut self, events: Vec<String>) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        for event in events {
            if event.trim() == "[DONE]" {
                let (usage, chunk) = self
                    .usage
                    .take()
                    .ok_or("the upstream stream ended without usage")?;
                let admitted = self.admitted.take().ok_or("billed twice")?;
                self.app
                    .provider
                    .bill(&admitted, &self.id, usage)
                    .map_err(|e| e.to_string())?;
                self.app.metrics.served(usage);
                if self.include_usage {
                    out.extend_from_slice(format!("data: {chunk}\n\n").as_bytes());
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
                self.done = true;
                break;
            }
            let value: Value =
                serde_json::from_str(&event).map_err(|e| format!("an upstream event is not JSON: {e}"))?;
            if let Some(id) = value.get("id").and_then(Value::as_str) {
                self.id = id.to_owned();
            }
            let no_choices = value
                .get("choices")
                .and_then(Value::as_array)
                .is_none_or(|c| c.is_empty());
            match Usage::from_json(&value) {
                Some(usage) if no_choices => self.usage = Some((usage, event)),
                _ => out.extend_from_slice(format!("data: {event}\n\n").as_bytes()),
            }
        }
        Ok(out)
    }
}

fn sse(app: App, admitted: Admitted, upstream: ByteStream, include_usage: bool) -> Response {
    let relay = Relay {
        app,
        admitted: Some(admitted),
        upstream,
        sse: SseSplitter::default(),
        id: String::new(),
        usage: None,
        include_usage,
        done: false,
    };
    let stream = futures_util::stream::unfold(relay, |mut relay| async move {
        loop {
            if relay.done {
                return None;
            }
            let chunk = match relay.upstream.next().await {
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "upstream stream broke off; nothing billed");
                    return None;
                }
                None => {
                    tracing::warn!("upstream stream ended before [DONE]; nothing billed");
                    return None;
                }
            };
            let Some(events) = relay.sse.feed(&chunk) else {
                tracing::warn!("an upstream event is too large; nothing billed");
                return None;
            };
            match relay.relay(events) {
                Ok(bytes) if bytes.is_empty() => continue,
                Ok(bytes) => return Some((Ok::<_, std::io::Error>(Bytes::from(bytes)), relay)),
                Err(e) => {
                    tracing::warn!(error = %e, "streamed answer not billed");
                    let event = json!({"error": {"message": e, "type": "upstream_error"}});
                    relay.done = true;
                    return Some((Ok(Bytes::from(format!("data: {event}\n\n"))), relay));
                }
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|e| error(500, "internal_error", e))
}

async fn models(State(app): State<App>) -> Response {
    let model = &app.provider.config().model;
    axum::Json(json!({
        "object": "list",
        "data": [{"id": model, "object": "model", "owned_by": app.provider.address().to_string()}],
    }))
    .into_response()
}

/// A wei amount as a JSON number when it fits 64 bits, else a decimal string.
fn wei(amount: U256) -> Value {
    u64::try_from(amount).map_or_else(|_| Value::String(amount.to_string()), Value::from)
}

async fn unsettled_fee(State(app): State<App>, Path(address): Path<String>) -> Response {
    let Ok(user) = address.parse::<Address>() else {
        return error(
            400,
            "invalid_request_error",
            format!("{address:?} is not an address"),
        );
    };
    axum::Json(json!({"unsettledFee": wei(app.provider.billing().unsettled_fee(user))})).into_response()
}

async fn quote(State(app): State<App>) -> Response {
    axum::Json(json!({
        "tee": false,
        "quote": null,
        "signer": app.provider.config().signer.address().to_string(),
        // 0G's fine-tuning SDK reads the signer from a TDX quote's `report_data`.
        "report_data": app.provider.config().signer.address().to_string(),
        "message": "No TEE backs this provider: there is no attestation quote, and its answers are not attested. \
                    Settlements are signed by `signer`, the service's registered teeSignerAddress.",
    }))
    .into_response()
}

async fn metrics_text(State(app): State<App>) -> Response {
    (
        [(header::CONTENT_TYPE, zg_node::metrics::CONTENT_TYPE)],
        app.metrics.render(),
    )
        .into_response()
}
