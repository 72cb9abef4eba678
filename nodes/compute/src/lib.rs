//! # zg-compute
//!
//! zg's compute network, the provider side of 0G's inference API: a provider node
//! that registers its service on chain, answers OpenAI chat completions for users who
//! hold an `app-sk-` key, bills each answer's tokens at its on-chain prices in
//! crash-safe books, and settles them through InferenceServing.
//!
//! - [`agent`]: an agent's manifest, checked, and the chat request it makes.
//! - [`api_key`]: 0G's `app-sk-` keys parsed and checked (signer, provider, expiry,
//!   revocation, generation, acknowledgement), each refusal a typed reason.
//! - [`billing`]: the books (served requests and settlements) in zg's store.
//! - [`chain`]: the LedgerManager and InferenceServing over JSON-RPC, for providers
//!   and users.
//! - [`client`]: a user's streamed chat with a provider.
//! - [`engine`]: what answers — an OpenAI-compatible upstream or the built-in model.
//! - [`fine_tuning`]: a fine-tuning provider's service: tasks as 0G's SDK sends them,
//!   datasets checked against their storage root, training, sealed adapters uploaded,
//!   deliverables and their settlement on FineTuningServing.
//! - [`lora`]: LoRA fine-tuning of the built-in model on CPU (candle autograd, AdamW),
//!   adapters saved, evaluated and merged into the model served to their owner.
//! - [`model`]: the built-in model: a llama GGUF on CPU with candle, with the
//!   tokenizer and chat template the GGUF carries.
//! - [`seal`]: a trained model sealed for its user (AES-256-GCM chunks signed by the
//!   provider's TEE signer, the key sealed with ECIES), in the formats 0G's SDK opens.
//! - [`service`]: authorization, admission, billing and settlement, apart from HTTP.
//! - [`task_client`]: the user's side of the fine-tuning task API, signed as 0G's SDK signs.
//! - [`tasks`]: a fine-tuning provider's crash-safe task book (one task trains at a
//!   time, one open task per user, interrupted training restarts, nothing delivered twice).
//! - [`http`]: the provider's HTTP API; [`server`]: the node that runs it all.

pub mod agent;
pub mod api_key;
pub mod billing;
pub mod chain;
pub mod client;
pub mod engine;
pub mod fine_tuning;
pub mod http;
pub mod lora;
pub mod metrics;
pub mod model;
pub mod seal;
pub mod server;
pub mod service;
pub mod task_client;
pub mod tasks;

pub use api_key::{AccountKeys, ApiKey, ApiKeyError, KeyMessage};
pub use server::ProviderServer;
pub use service::{Provider, ProviderConfig};
