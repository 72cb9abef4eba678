//! # zg-storage
//!
//! The storage node: the segment store and file pipeline behind 0G's `zgs_*` JSON-RPC
//! and plain HTTP streaming on one port, replicating files between nodes over libp2p;
//! and the client the `zg` CLI uploads and downloads with.
//!
//! - [`service`]: the upload state machine, finalize from checked segments and the catalog, with
//!   typed errors; no transport.
//! - `rpc`, `http`, `replication`: the service's transports (JSON-RPC, plain HTTP,
//!   libp2p).
//! - `flow`, [`follow`]: the paid submissions of a followed chain's Flow (tx seq →
//!   root, size, flow position), kept in the store, and the poller that reads them
//!   from `Submit` logs.
//! - [`server`]: configuration and lifecycle of a node.
//! - [`api`]: the JSON types of the API, shared by node and client.
//! - [`frames`]: the binary form of a segment upload (`POST /segments`), zg's own.
//! - [`client`]: upload, download and proofs against a node.
//! - [`pay`]: paying for a file on the followed chain's Flow before uploading it.

pub mod api;
pub mod client;
mod flow;
pub mod follow;
mod http;
mod metrics;
pub mod pay;
mod replication;
mod rpc;
mod save;
pub mod server;
pub mod service;
pub mod wire;

pub use client::StorageClient;
pub use follow::{Announce, FollowConfig};
pub use server::{StorageConfig, StorageServer};
pub use service::{StorageError, StorageResult};
pub use zg_file::frames;
pub use zg_file::shard::Shard;
