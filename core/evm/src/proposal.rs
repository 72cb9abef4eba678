//! A proposed block as validators exchange it: the header and the signed
//! transactions, which every validator re-executes before it votes.

use alloy_consensus::{Header, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{B256, Bytes};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};

use super::chain::ChainError;
use super::executor::TxError;
use super::log::MAX_RECORD;

/// A block as its proposer sends it: header and EIP-2718 transactions, RLP-encoded.
#[derive(Clone, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Proposal {
    /// The proposer's header; re-execution must give the same one.
    pub header: Header,
    /// Signed transactions in block order, EIP-2718 bytes.
    pub transactions: Vec<Bytes>,
}

impl Proposal {
    /// The proposal of a block with `header` and `transactions`.
    pub fn of<'a>(header: &Header, transactions: impl IntoIterator<Item = &'a TxEnvelope>) -> Self {
        Self {
            header: header.clone(),
            transactions: transactions
                .into_iter()
                .map(|tx| Bytes::from(tx.encoded_2718()))
                .collect(),
        }
    }

    /// The proposed block's hash.
    pub fn hash(&self) -> B256 {
        self.header.hash_slow()
    }

    /// RLP bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.length());
        self.encode(&mut out);
        out
    }

    /// Decodes RLP bytes from a peer; over [`MAX_RECORD`] or with trailing bytes is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, InvalidBlock> {
        if bytes.len() > MAX_RECORD {
            return Err(InvalidBlock::Decode(format!(
                "{} bytes, over the {MAX_RECORD}-byte limit",
                bytes.len()
            )));
        }
        let mut buf = bytes;
        let proposal = Self::decode(&mut buf).map_err(|e| InvalidBlock::Decode(e.to_string()))?;
        if !buf.is_empty() {
            return Err(InvalidBlock::Decode(format!("{} trailing bytes", buf.len())));
        }
        Ok(proposal)
    }
}

/// Why a proposed block is refused.
#[derive(Debug, thiserror::Error)]
pub enum InvalidBlock {
    /// The bytes are not a proposal.
    #[error("proposal does not decode: {0}")]
    Decode(String),
    /// Not the block after the head.
    #[error("proposal for block {number}, but the head is block {head}")]
    NotNext {
        /// Proposed number.
        number: u64,
        /// The head's number.
        head: u64,
    },
    /// Built on another parent.
    #[error("proposal's parent is {proposed}, the head is {head}")]
    Parent {
        /// Proposed parent hash.
        proposed: B256,
        /// The head's hash.
        head: B256,
    },
    /// Older than its parent, or too far ahead of this validator's clock.
    #[error(
        "proposal's timestamp {proposed} is before its parent's ({parent}) or more than {}s past this node's clock ({now})",
        super::chain::MAX_CLOCK_DRIFT
    )]
    Timestamp {
        /// Proposed timestamp.
        proposed: u64,
        /// The parent's timestamp.
        parent: u64,
        /// This validator's clock.
        now: u64,
    },
    /// A transaction that does not decode, has a bad signature or fails against the state.
    #[error("transaction {index} of the proposal: {error}")]
    Transaction {
        /// Its position in the proposal.
        index: usize,
        /// Why.
        error: TxError,
    },
    /// A transaction over the block's remaining gas.
    #[error("transaction {index} of the proposal does not fit in the block's gas")]
    OverGas {
        /// Its position in the proposal.
        index: usize,
    },
    /// Re-execution gives another header.
    #[error("proposal's {field} is {proposed}, re-executing it gives {executed}")]
    Mismatch {
        /// The first field that differs.
        field: &'static str,
        /// The proposer's value.
        proposed: String,
        /// This validator's value.
        executed: String,
    },
    /// This node could not check it (its own chain failed).
    #[error(transparent)]
    Chain(#[from] ChainError),
}
