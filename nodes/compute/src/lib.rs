//! # zg-compute
//!
//! zg's compute network, the provider side of 0G's inference API. This first part is
//! the API key a provider checks before it serves a request:
//!
//! - [`api_key`]: 0G's `app-sk-` keys parsed and checked (signer, provider, expiry,
//!   revocation, generation, acknowledgement), each refusal a typed reason.

pub mod api_key;

pub use api_key::{AccountKeys, ApiKey, ApiKeyError, KeyMessage};
