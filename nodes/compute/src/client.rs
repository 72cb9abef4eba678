//! The user's side of a chat: a streamed chat completion from a provider, with the
//! text as it arrives and the usage the provider bills.

use futures_util::StreamExt;
use serde_json::Value;

use crate::engine::{SseSplitter, Usage};

/// Why a chat failed.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// The provider could not be reached or broke off.
    #[error("the provider at {url}: {error}")]
    Unreachable {
        /// The endpoint.
        url: String,
        /// What went wrong.
        error: String,
    },
    /// The provider refused the request.
    #[error("the provider answered {status}: {message}")]
    Refused {
        /// Its HTTP status.
        status: u16,
        /// Its error message (or body).
        message: String,
    },
    /// The stream broke the OpenAI shape.
    #[error("the provider's stream is malformed: {0}")]
    Malformed(String),
}

/// A streamed answer, whole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// The generated text.
    pub text: String,
    /// The tokens billed, when the provider sent its usage chunk.
    pub usage: Option<Usage>,
    /// Why generation stopped (`stop`, `length`).
    pub finish_reason: Option<String>,
}

/// Sends `request` (an OpenAI chat completion body; streaming and the usage chunk are
/// turned on) to the provider serving at `service_url` with the API key `key`, and
/// calls `on_text` with each piece of text as it arrives.
pub async fn ask(
    http: &reqwest::Client,
    service_url: &str,
    key: &str,
    mut request: Value,
    mut on_text: impl FnMut(&str),
) -> Result<Answer, AskError> {
    let url = format!("{}/v1/proxy/chat/completions", service_url.trim_end_matches('/'));
    let unreachable = |e: reqwest::Error| AskError::Unreachable {
        url: url.clone(),
        error: e.to_string(),
    };
    if let Some(body) = request.as_object_mut() {
        body.insert("stream".into(), Value::Bool(true));
        body.insert(
            "stream_options".into(),
            serde_json::json!({"include_usage": true}),
        );
    }
    let response = http
        .post(&url)
        .bearer_auth(key)
        .json(&request)
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or(body);
        return Err(AskError::Refused {
            status: status.as_u16(),
            message,
        });
    }
    let mut answer = Answer::default();
    let mut sse = SseSplitter::default();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let events = sse
            .feed(&chunk.map_err(unreachable)?)
            .ok_or_else(|| AskError::Malformed("an event past 1 MiB".into()))?;
        for event in events {
            if event.trim() == "[DONE]" {
                return Ok(answer);
            }
            let value: Value =
                serde_json::from_str(&event).map_err(|e| AskError::Malformed(format!("an event: {e}")))?;
            if let Some(error) = value.get("error") {
                let message = error["message"].as_str().unwrap_or("unknown error").to_owned();
                return Err(AskError::Refused {
                    status: status.as_u16(),
                    message,
                });
            }
            if let Some(usage) = Usage::from_json(&value) {
                answer.usage = Some(usage);
            }
            let choice = &value["choices"][0];
            if let Some(text) = choice["delta"]["content"].as_str() {
                on_text(text);
                answer.text.push_str(text);
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                answer.finish_reason = Some(reason.to_owned());
            }
        }
    }
    Err(AskError::Malformed("the stream ended before [DONE]".into()))
}
