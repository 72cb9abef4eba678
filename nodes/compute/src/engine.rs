//! Engines answer chat completions. [`Upstream`] proxies any OpenAI-compatible server
//! (vLLM, llama.cpp, Ollama) and bills the `usage` it reports; the built-in model comes
//! next to it.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::Value;

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

    /// The upstream's models (`GET /v1/models`).
    pub async fn models(&self) -> Result<Value, EngineError> {
        let url = format!("{}/v1/models", self.base);
        let response = self.http.get(url).send().await.map_err(|e| self.err(e))?;
        response.json().await.map_err(|e| self.err(e))
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
