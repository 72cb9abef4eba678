//! # zg-chain
//!
//! The chain node: zg's EVM chain behind standard Ethereum JSON-RPC, in dev mode — one
//! sequencer, prefunded accounts from a mnemonic, instant or interval blocks, blocks
//! durable before they are reported.
//!
//! - [`server`]: configuration, dev accounts and lifecycle.
//! - [`api`]: the Ethereum JSON-RPC methods, for node and clients.
//! - `sequencer`: orders transactions into blocks; `rpc`: the node's side of [`api`].

pub mod api;
mod rpc;
mod sequencer;
pub mod server;
mod validator;

pub use sequencer::{MAX_NONCE_AHEAD, MAX_QUEUED_TXS};
pub use server::{
    ChainNode, ChainNodeConfig, DEV_MNEMONIC, DevAccount, MAX_BLOCK_RANGE, MAX_LOGS, block_time,
    dev_accounts, print_accounts,
};
pub use validator::{ValidatorSettings, derived_network_secret, persistent_network_secret};
