//! # zg-consensus
//!
//! zg's chain under Malachite, a maintained Rust implementation of Tendermint: the
//! [`ZgContext`] that tells the engine what zg's heights, validators, proposals and
//! votes are, their ed25519 signatures, and the [`WireCodec`] every consensus, sync
//! and WAL message is read and written with. Validators agree on a block's hash; the
//! block streams in [`ProposalPart`]s and every validator re-executes it
//! (`zg_evm::Chain::validate_block`) before it votes.

pub use arc_malachitebft_app_channel::app::net::Multiaddr;
pub use arc_malachitebft_app_channel::app::types::core::LinearTimeouts;
pub use arc_malachitebft_signing_ed25519::PublicKey;

mod codec;
mod signing;
mod types;
mod validator;

pub use codec::{
    MAX_PART_BYTES, MAX_SYNC_VALUES, MAX_VALUE_BYTES, WireCodec, WireError, decode_commit_certificate,
    encode_commit_certificate, parts_sign_bytes, proposal_sign_bytes, vote_sign_bytes,
};
pub use signing::{ValidatorKey, ZgVerifier};
pub use types::{
    BlockId, Height, MAX_VALIDATORS, Proposal, ProposalPart, Validator, ValidatorAddress, ValidatorSet,
    ValidatorSetError, Vote, ZgContext,
};
pub use validator::{Host, INVALID_MARK, RunningValidator, StartError, ValidatorConfig, start};
