//! # zg-evm
//!
//! EVM execution for zg's chain: signed Ethereum transactions (legacy, EIP-2930,
//! EIP-1559) executed in blocks by revm, with receipts, logs, blooms and
//! Merkle-Patricia roots, persisted to a crash-safe block log. The [`system`]
//! contracts (0G's Flow and storage market) run as Rust at fixed addresses.
//!
//! ```
//! use zg_evm::{BlockLog, Chain, ChainConfig};
//! use alloy_primitives::{Address, U256};
//!
//! let config = ChainConfig {
//!     chain_id: 16601,
//!     gas_limit: 30_000_000,
//!     coinbase: Address::ZERO,
//!     genesis_timestamp: 0,
//!     alloc: vec![(Address::repeat_byte(1), U256::from(10u64).pow(U256::from(21u64)))],
//!     system: None,
//! };
//! let chain = Chain::open(config, BlockLog::in_memory()).unwrap();
//! assert_eq!(chain.head().header.number, 0);
//! assert_eq!(chain.state().account(&Address::repeat_byte(1)).unwrap().nonce, 0);
//! ```

mod chain;
#[cfg(feature = "test-contracts")]
pub mod contracts;
mod executor;
mod log;
mod proposal;
mod state;
pub mod system;
mod trie;

pub use chain::{
    BuiltBlock, Chain, ChainBlock, ChainConfig, ChainError, EstimateError, MAX_CLOCK_DRIFT, Produced,
    SealedBlock,
};
pub use executor::{
    BlockContext, CallRequest, CallResult, ExecConfig, ExecError, ExecutedBlock, ExecutedTx, MAX_TX_BYTES,
    TxError, TxOutcome, call, decode_transaction, decode_unrecovered, execute_block, recover_sender,
    recover_senders, seal_receipts, tx_env,
};
pub use log::{BlockLog, LOG_FILE, LogError, MAX_RECORD};
pub use proposal::{InvalidBlock, Proposal};
pub use state::{Account, AccountChange, BlockOverlay, SlotChange, State, StateChanges, StateDb};
pub use trie::Trie;
