//! The user's side of 0G's fine-tuning task API: requests signed as 0G's SDK signs
//! them (a task, a cancellation, a download), sent to a provider's URL.

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use serde_json::{Value, json};

/// Why a call to the task API failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskClientError {
    /// The provider could not be reached.
    #[error("cannot reach the fine-tuning provider at {url}: {error}")]
    Unreachable {
        /// The endpoint.
        url: String,
        /// What went wrong.
        error: String,
    },
    /// The provider refused.
    #[error("the provider answered {status}: {message}")]
    Refused {
        /// Its HTTP status.
        status: u16,
        /// Its reason.
        message: String,
    },
    /// A signature could not be made.
    #[error("signing: {0}")]
    Sign(String),
}

/// `hash` signed as an EIP-191 message by `signer`, `0x` hex.
fn eip191(signer: &PrivateKeySigner, hash: B256) -> Result<String, TaskClientError> {
    let signature = signer
        .sign_message_sync(hash.as_slice())
        .map_err(|e| TaskClientError::Sign(e.to_string()))?;
    Ok(format!(
        "0x{}",
        alloy_primitives::hex::encode(signature.as_bytes())
    ))
}

/// A task request's signature, as the SDK's `sign_request` makes it.
pub fn sign_request(
    signer: &PrivateKeySigner,
    nonce: U256,
    dataset_root: &str,
) -> Result<String, TaskClientError> {
    let mut packed = Vec::with_capacity(52 + dataset_root.len());
    packed.extend_from_slice(signer.address().as_slice());
    packed.extend_from_slice(&nonce.to_be_bytes::<32>());
    packed.extend_from_slice(dataset_root.as_bytes());
    eip191(signer, keccak256(&packed))
}

/// A cancellation's signature, as the SDK's `sign_task_id` makes it.
pub fn sign_cancel(signer: &PrivateKeySigner, task_id: &str) -> Result<String, TaskClientError> {
    let id = alloy_primitives::hex::decode(task_id.replace('-', ""))
        .map_err(|_| TaskClientError::Sign(format!("{task_id:?} is not a task id")))?;
    eip191(signer, keccak256(&id))
}

/// A download's signature at Unix time `timestamp`, as the SDK's
/// `download_lora_from_tee` makes it.
pub fn sign_download(
    signer: &PrivateKeySigner,
    task_id: &str,
    timestamp: u64,
) -> Result<String, TaskClientError> {
    let message = format!("{}{timestamp}", task_id.replace('-', ""));
    eip191(signer, keccak256(message.as_bytes()))
}

/// A user's client of one provider's task API.
pub struct TaskClient {
    http: reqwest::Client,
    url: String,
    signer: PrivateKeySigner,
}

impl TaskClient {
    /// A client of the provider serving at `url`, signing as `signer`.
    pub fn new(url: &str, signer: PrivateKeySigner) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.trim_end_matches('/').to_owned(),
            signer,
        }
    }

    /// The user.
    pub fn user(&self) -> Address {
        self.signer.address()
    }

    fn user_url(&self, tail: &str) -> String {
        format!("{}/v1/user/{}/task{tail}", self.url, self.user())
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, TaskClientError> {
        let response = request.send().await.map_err(|e| TaskClientError::Unreachable {
            url: url.to_owned(),
            error: e.to_string(),
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or(body);
        Err(TaskClientError::Refused {
            status: status.as_u16(),
            message,
        })
    }

    async fn json(&self, request: reqwest::RequestBuilder, url: &str) -> Result<Value, TaskClientError> {
        self.send(request, url)
            .await?
            .json()
            .await
            .map_err(|e| TaskClientError::Unreachable {
                url: url.to_owned(),
                error: e.to_string(),
            })
    }

    async fn text(&self, request: reqwest::RequestBuilder, url: &str) -> Result<String, TaskClientError> {
        self.send(request, url)
            .await?
            .text()
            .await
            .map_err(|e| TaskClientError::Unreachable {
                url: url.to_owned(),
                error: e.to_string(),
            })
    }

    /// The models the provider trains (`/v1/model`).
    pub async fn models(&self) -> Result<Value, TaskClientError> {
        let url = format!("{}/v1/model", self.url);
        self.json(self.http.get(&url), &url).await
    }

    /// Creates a task: the base model's hash, the dataset's storage root and the
    /// training parameters (a JSON object). The task as the provider took it.
    pub async fn create(
        &self,
        model_hash: &str,
        dataset_root: B256,
        params: &Value,
    ) -> Result<Value, TaskClientError> {
        let root = dataset_root.to_string();
        // The SDK's nonce: milliseconds × 10⁴ + 40.
        let nonce = U256::from(crate::service::now_ms()) * U256::from(10_000) + U256::from(40);
        let body = json!({
            "userAddress": self.user().to_string(),
            "preTrainedModelHash": model_hash,
            "datasetHash": root,
            "trainingParams": params.to_string(),
            "fee": "0",
            "nonce": nonce.to_string(),
            "signature": sign_request(&self.signer, nonce, &root)?,
            "wait": false,
        });
        let url = self.user_url("");
        self.json(self.http.post(&url).json(&body), &url).await
    }

    /// The user's tasks, newest first.
    pub async fn list(&self) -> Result<Vec<Value>, TaskClientError> {
        let url = self.user_url("");
        let all = self.json(self.http.get(&url), &url).await?;
        Ok(all.as_array().cloned().unwrap_or_default())
    }

    /// Task `id`.
    pub async fn get(&self, id: &str) -> Result<Value, TaskClientError> {
        let url = self.user_url(&format!("/{id}"));
        self.json(self.http.get(&url), &url).await
    }

    /// Task `id`'s log.
    pub async fn log(&self, id: &str) -> Result<String, TaskClientError> {
        let url = self.user_url(&format!("/{id}/log"));
        self.text(self.http.get(&url), &url).await
    }

    /// Cancels task `id`; the provider's answer.
    pub async fn cancel(&self, id: &str) -> Result<String, TaskClientError> {
        let url = self.user_url(&format!("/{id}/cancel"));
        let body = json!({"signature": sign_cancel(&self.signer, id)?});
        self.text(self.http.post(&url).json(&body), &url).await
    }

    /// Task `id`'s sealed model.
    pub async fn download(&self, id: &str) -> Result<Vec<u8>, TaskClientError> {
        let url = self.user_url(&format!("/{id}/lora"));
        let timestamp = crate::service::now_ms() / 1000;
        let body = json!({"signature": sign_download(&self.signer, id, timestamp)?, "timestamp": timestamp});
        let response = self.send(self.http.post(&url).json(&body), &url).await?;
        let bytes = response.bytes().await.map_err(|e| TaskClientError::Unreachable {
            url: url.clone(),
            error: e.to_string(),
        })?;
        Ok(bytes.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::{check_cancel, check_download, request_signer};

    /// What this client signs, the provider's checks take, and only from its user.
    #[test]
    fn signatures_pass_the_providers_checks() {
        let user = PrivateKeySigner::random();
        let other = PrivateKeySigner::random();
        let root = B256::repeat_byte(7).to_string();
        let nonce = U256::from(17_650_000_000_000_040u64);
        let sig = |s: String| alloy_primitives::hex::decode(s).unwrap();
        let request = sig(sign_request(&user, nonce, &root).unwrap());
        let key = request_signer(user.address(), nonce, &root, &request).unwrap();
        assert_eq!(Address::from_public_key(&key.into()), user.address());
        assert!(request_signer(other.address(), nonce, &root, &request).is_err());
        assert!(request_signer(user.address(), nonce + U256::from(1), &root, &request).is_err());
        let id = crate::tasks::new_task_id();
        let cancel = sig(sign_cancel(&user, &id).unwrap());
        check_cancel(user.address(), &id, &cancel).unwrap();
        assert!(check_cancel(other.address(), &id, &cancel).is_err());
        let download = sig(sign_download(&user, &id, 1_000).unwrap());
        check_download(user.address(), &id, 1_000, 1_100, 300, &download).unwrap();
        assert!(
            check_download(user.address(), &id, 1_000, 1_400, 300, &download).is_err(),
            "stale"
        );
        assert!(check_download(user.address(), &id, 1_001, 1_100, 300, &download).is_err());
        assert!(check_download(other.address(), &id, 1_000, 1_100, 300, &download).is_err());
    }
}
