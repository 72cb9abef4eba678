//! Engines answer chat completions in OpenAI's shapes. [`Upstream`] proxies any
//! OpenAI-compatible server (vLLM, llama.cpp, Ollama) and bills the `usage` it reports;
//! [`Builtin`] runs a GGUF model in-process and counts its own tokens.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};

use crate::model::{LocalModel, ModelError, Params};

/// Token counts of one completion, as OpenAI's `usage` reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Tokens of the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
}

impl Usage {
    /// The `usage` object of an OpenAI answer or stream chunk, if it has one.
    pub fn from_json(value: &Value) -> Option<Self> {
        let usage = value.get("usage")?;
        Some(Self {
            prompt_tokens: usage.get("prompt_tokens")?.as_u64()?,
            completion_tokens: usage.get("completion_tokens")?.as_u64()?,
        })
    }
}

/// Why an engine could not answer.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The upstream server could not be reached or broke off.
    #[error("the upstream model server at {url}: {error}")]
    Upstream {
        /// Its URL.
        url: String,
        /// What went wrong.
        error: String,
    },
    /// The upstream refused the request; its status and body are passed on.
    #[error("the upstream model server answered {status}")]
    Refused {
        /// Its HTTP status.
        status: u16,
        /// Its body.
        body: Bytes,
    },
    /// The answer has no `usage`, so it cannot be billed.
    #[error("the upstream model server's answer has no usage; it cannot be billed")]
    NoUsage,
    /// The built-in model refused the request or failed.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// What answers: a proxied server or the built-in model.
#[derive(Clone)]
pub enum Engine {
    /// An OpenAI-compatible server.
    Upstream(Upstream),
    /// A GGUF model run in-process.
    Builtin(Builtin),
}

impl Engine {
    /// A whole answer and its usage.
    pub async fn complete(&self, request: &Value) -> Result<(Value, Usage), EngineError> {
        match self {
            Self::Upstream(u) => u.complete(request).await,
            Self::Builtin(b) => b.complete(request).await,
        }
    }

    /// A streamed answer as OpenAI SSE bytes, ending with a usage chunk and `[DONE]`.
    pub async fn stream(&self, request: &Value) -> Result<ByteStream, EngineError> {
        match self {
            Self::Upstream(u) => u.stream(request).await,
            Self::Builtin(b) => b.stream(request).await,
        }
    }

    /// [`Self::complete`] or [`Self::stream`] by `model` under the name `name` (a user's
    /// fine-tuned model) instead of the engine's own; built-in engines only.
    pub async fn answer_with(
        &self,
        model: Arc<LocalModel>,
        name: &str,
        request: &Value,
        stream: bool,
    ) -> Result<Answered, EngineError> {
        let Self::Builtin(b) = self else {
            return Err(EngineError::Model(ModelError::BadRequest(
                "fine-tuned models are served by the built-in engine only".into(),
            )));
        };
        Ok(if stream {
            Answered::Stream(b.stream_with(model, name, request).await?)
        } else {
            let (answer, usage) = b.complete_with(model, name, request).await?;
            Answered::Whole(answer, usage)
        })
    }
}

/// An answer, whole or streamed.
pub enum Answered {
    /// The whole answer and its usage.
    Whole(Value, Usage),
    /// A stream of SSE bytes.
    Stream(ByteStream),
}

/// A streamed answer: the upstream's SSE bytes as they arrive.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, EngineError>> + Send>>;

/// An OpenAI-compatible server the provider fronts.
#[derive(Clone)]
pub struct Upstream {
    base: String,
    http: reqwest::Client,
}

impl Upstream {
    /// A proxy of the server at `base` (e.g. `http://127.0.0.1:8000`; `/v1/chat/completions`
    /// is appended).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    fn url(&self) -> String {
        format!("{}/v1/chat/completions", self.base)
    }

    fn err(&self, error: impl std::fmt::Display) -> EngineError {
        EngineError::Upstream {
            url: self.base.clone(),
            error: error.to_string(),
        }
    }

    async fn post(&self, body: &Value) -> Result<reqwest::Response, EngineError> {
        let response = self
            .http
            .post(self.url())
            .json(body)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            let body = response.bytes().await.unwrap_or_default();
            return Err(EngineError::Refused { status, body });
        }
        Ok(response)
    }

    /// A whole answer and its usage.
    pub async fn complete(&self, request: &Value) -> Result<(Value, Usage), EngineError> {
        let mut body = request.clone();
        body["stream"] = Value::Bool(false);
        let answer: Value = self.post(&body).await?.json().await.map_err(|e| self.err(e))?;
        let usage = Usage::from_json(&answer).ok_or(EngineError::NoUsage)?;
        Ok((answer, usage))
    }

    /// A streamed answer, asked with `include_usage` so that it ends with a usage chunk.
    pub async fn stream(&self, request: &Value) -> Result<ByteStream, EngineError> {
        let mut body = request.clone();
        body["stream"] = Value::Bool(true);
        body["stream_options"] = serde_json::json!({"include_usage": true});
        let response = self.post(&body).await?;
        let base = self.base.clone();
        Ok(Box::pin(response.bytes_stream().map(move |chunk| {
            chunk.map_err(|e| EngineError::Upstream {
                url: base.clone(),
                error: e.to_string(),
            })
        })))
    }
}

/// The built-in model behind OpenAI's chat completion shapes. Answers run one at a
/// time on blocking threads (the model uses every core for one answer); others wait.
#[derive(Clone)]
pub struct Builtin {
    model: Arc<LocalModel>,
    name: String,
    turn: Arc<tokio::sync::Semaphore>,
}

/// A completion id unique to this process.
fn completion_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("chatcmpl-{now:x}{:04x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn usage_json(usage: Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    })
}

impl Builtin {
    /// Serves `model` under the name `name`.
    pub fn new(model: LocalModel, name: &str) -> Self {
        Self {
            model: Arc::new(model),
            name: name.to_owned(),
            turn: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    /// The prompt's tokens (by `model`, answering as `name`) and the sampling
    /// parameters, or why the request is refused.
    fn prepare(model: &LocalModel, name: &str, request: &Value) -> Result<(Vec<u32>, Params), EngineError> {
        if let Some(asked) = request.get("model").and_then(Value::as_str)
            && asked != name
        {
            let message = format!("the model `{asked}` does not exist; this provider serves `{name}`");
            let body = json!({"error": {"message": message, "type": "invalid_request_error", "code": "model_not_found"}});
            return Err(EngineError::Refused {
                status: 404,
                body: body.to_string().into(),
            });
        }
        let params = Params::from_request(request)?;
        let prompt = model.encode(&model.render(&request["messages"])?)?;
        Ok((prompt, params))
    }

    async fn complete(&self, request: &Value) -> Result<(Value, Usage), EngineError> {
        self.complete_with(self.model.clone(), &self.name.clone(), request)
            .await
    }

    async fn complete_with(
        &self,
        model: Arc<LocalModel>,
        name: &str,
        request: &Value,
    ) -> Result<(Value, Usage), EngineError> {
        let (prompt, params) = Self::prepare(&model, name, request)?;
        let _turn = self
            .turn
            .acquire()
            .await
            .map_err(|e| ModelError::Run(e.to_string()))?;
        let (text, finished) = tokio::task::spawn_blocking(move || {
            let mut text = String::new();
            model
                .generate(&prompt, &params, |piece| {
                    text.push_str(piece);
                    true
                })
                .map(|f| (text, f))
        })
        .await
        .map_err(|e| ModelError::Run(e.to_string()))??;
        let answer = json!({
            "id": completion_id(),
            "object": "chat.completion",
            "created": unix_now(),
            "model": name,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finished.finish_reason,
            }],
            "usage": usage_json(finished.usage),
        });
        Ok((answer, finished.usage))
    }

    async fn stream(&self, request: &Value) -> Result<ByteStream, EngineError> {
        self.stream_with(self.model.clone(), &self.name.clone(), request)
            .await
    }

    async fn stream_with(
        &self,
        model: Arc<LocalModel>,
        name: &str,
        request: &Value,
    ) -> Result<ByteStream, EngineError> {
        let (prompt, params) = Self::prepare(&model, name, request)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
        let (turn, name) = (self.turn.clone(), name.to_owned());
        tokio::spawn(async move {
            let Ok(_turn) = turn.acquire_owned().await else {
                return;
            };
            let generated = tokio::task::spawn_blocking(move || {
                let (id, created) = (completion_id(), unix_now());
                let chunk = |delta: Value, finish: Value| {
                    let chunk = json!({
                        "id": id, "object": "chat.completion.chunk", "created": created, "model": name,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    });
                    Bytes::from(format!("data: {chunk}\n\n"))
                };
                if tx
                    .blocking_send(chunk(json!({"role": "assistant", "content": ""}), Value::Null))
                    .is_err()
                {
                    return Ok(());
                }
                // A closed channel means the client left: generation stops there.
                let finished = model.generate(&prompt, &params, |piece| {
                    tx.blocking_send(chunk(json!({"content": piece}), Value::Null))
                        .is_ok()
                })?;
                let usage = json!({
                    "id": id, "object": "chat.completion.chunk", "created": created, "model": name,
                    "choices": [], "usage": usage_json(finished.usage),
                });
                for bytes in [
                    chunk(json!({}), Value::from(finished.finish_reason)),
                    Bytes::from(format!("data: {usage}\n\n")),
                    Bytes::from_static(b"data: [DONE]\n\n"),
                ] {
                    if tx.blocking_send(bytes).is_err() {
                        break;
                    }
                }
                Ok::<_, ModelError>(())
            })
            .await;
            match generated {
                Ok(Ok(())) => {}
                // The stream ends without [DONE]: nothing is billed.
                Ok(Err(e)) => tracing::warn!(error = %e, "the built-in model failed mid-answer"),
                Err(e) => tracing::warn!(error = %e, "the built-in model's thread failed"),
            }
        });
        Ok(Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|bytes| (Ok(bytes), rx))
        })))
    }
}

/// Splits SSE bytes into events (`data: …` payloads), keeping a partial event for the
/// next chunk.
#[derive(Default)]
pub struct SseSplitter {
    buffer: Vec<u8>,
    // Bytes of `buffer` already searched for a separator, so a long event fed in
    // small chunks is scanned once, not once per chunk.
    scanned: usize,
}

impl SseSplitter {
    /// Most bytes one event may hold before the stream is refused.
    pub const MAX_EVENT: usize = 1 << 20;

    /// Feeds bytes; returns each complete event's data, or `None` when an event grows
    /// past [`Self::MAX_EVENT`].
    pub fn feed(&mut self, bytes: &[u8]) -> Option<Vec<String>> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        // A separator may straddle the old end: back up by its length less one.
        let mut from = self.scanned.saturating_sub(3);
        while let Some((len, sep)) = find_event_end(&self.buffer[from..]).map(|(l, s)| (from + l, s)) {
            let text = String::from_utf8_lossy(&self.buffer[..len]);
            let data: Vec<&str> = text
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if !data.is_empty() {
                events.push(data.join("\n"));
            }
            self.buffer.drain(..len + sep);
            from = 0;
        }
        self.scanned = self.buffer.len();
        (self.buffer.len() <= Self::MAX_EVENT).then_some(events)
    }
}

/// Where the first event ends: (its length, the separator's length).
fn find_event_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buffer.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_across_chunks() {
        let mut sse = SseSplitter::default();
        assert_eq!(sse.feed(b"data: {\"a\":1}\n\nda").unwrap(), vec!["{\"a\":1}"]);
        assert_eq!(sse.feed(b"ta: [DONE]\r\n\r\n").unwrap(), vec!["[DONE]"]);
        assert!(sse.feed(b": comment\n\n").unwrap().is_empty());
        assert!(sse.feed(&vec![b'x'; SseSplitter::MAX_EVENT + 1]).is_none());
    }

    #[test]
    fn usage_reads_openai_counts() {
        let v =
            serde_json::json!({"usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}});
        assert_eq!(
            Usage::from_json(&v),
            Some(Usage {
                prompt_tokens: 7,
                completion_tokens: 3
            })
        );
        assert_eq!(Usage::from_json(&serde_json::json!({"usage": null})), None);
    }
}
