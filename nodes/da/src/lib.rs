//! # zg-da
//!
//! The DA node: the blob pipeline and DA store behind an HTTP API, replicating and
//! sampling cells between nodes over libp2p; and the client that submits, disperses,
//! samples and fetches.
//!
//! A client either posts a payload (the node encodes it: commitments, cells, proofs)
//! or disperses one it encoded itself: the header, then each blob's cells, which the
//! node checks against their commitments before it stores them. Cells are served one
//! by one with their proofs, and the payload whole. What nodes vouch for is signed on
//! chain: a node that follows a chain is a 0G DA signer, and blobs dispersed through
//! 0G's disperser API are certified by BLS quorum certificates on DAEntrance.
//!
//! - `service`: the node's store, key and custody; `http` and `replication`, its
//!   transports.
//! - [`server`]: configuration and lifecycle of a node.
//! - [`api`]: the JSON types, shared by node and client.
//! - [`client`]: submit, disperse, sample and fetch against DA nodes.
//! - [`dispersal`]: 0G's disperser flow (request ids, statuses, 0G's storage root,
//!   retrieval by coordinates); [`grpc`], its transport (`disperser.Disperser`).
//! - [`disperser_client`]: disperse and wait for FINALIZED, retrieve.
//! - [`chain`]: 0G DA's contracts from the node's side (BLS key, registration,
//!   uploads, quorums, certificates); [`signing`]: what a quorum member checks before
//!   it signs, and how a disperser gathers a certificate.
//! - [`op_server`]: the OP-stack DA server (PUT a batch, GET it by commitment) in
//!   front of a disperser API.

pub mod api;
pub mod chain;
pub mod client;
pub mod dispersal;
pub mod disperser_client;
pub mod grpc;
mod http;
pub mod op_server;
mod replication;
pub mod server;
mod service;
pub mod signing;
pub mod wire;

pub use client::DaClient;
pub use server::{DaConfig, DaServer};
