//! The chain: blocks produced from transaction batches, sealed with honest roots,
//! made durable in a [`BlockLog`] before they become visible. A single sequencer
//! produces in one step; under consensus a block is built (proposer) or validated
//! (every other validator) without changing the chain, then committed once decided.

use std::collections::HashMap;

use rayon::prelude::*;

use alloy_consensus::transaction::Recovered;
use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::eip1559::{BaseFeeParams, INITIAL_BASE_FEE};
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_primitives::{Address, B256, Bloom, Bytes, KECCAK256_EMPTY, U256, keccak256};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use alloy_trie::EMPTY_ROOT_HASH;

use super::executor::{
    self, BlockContext, CallRequest, CallResult, ExecConfig, ExecError, TxError, TxOutcome,
};
use super::log::{BlockLog, LogError};
use super::proposal::{InvalidBlock, Proposal};
use super::state::{AccountChange, SlotChange, State, StateChanges};
use super::system::{self, SystemConfig};

/// Errors of a chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The block log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Execution failed for a reason that is not a transaction's fault.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The log holds a block that does not decode or does not follow its parent.
    #[error("block log record {index}: {reason}")]
    BadRecord {
        /// Record number (= block number).
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// The log belongs to another chain than the configuration describes.
    #[error(
        "the data directory holds a chain with genesis {stored}, but this configuration's genesis is {configured} (chain id, accounts, balances or the system contracts differ, as after upgrading zg); use another --data-dir or the original settings"
    )]
    GenesisMismatch {
        /// Genesis hash in the log.
        stored: B256,
        /// Genesis hash of the configuration.
        configured: B256,
    },
    /// Replaying the log did not reproduce the head's state root.
    #[error("state rebuilt from the log has root {rebuilt}, the head block says {expected}")]
    StateRootMismatch {
        /// Root the replay produced.
        rebuilt: B256,
        /// Root in the head header.
        expected: B256,
    },
    /// A block to commit was not built on the current head.
    #[error("block {number} was not built on the head (block {head})")]
    NotOnHead {
        /// The block's number.
        number: u64,
        /// The head's number.
        head: u64,
    },
    /// An earlier block failed to persist; the chain must be reopened.
    #[error("an earlier block could not be made durable; restart the node to recover from its log")]
    Failed,
}

/// What a chain starts from.
#[derive(Clone, Debug)]
pub struct ChainConfig {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Gas limit of every block.
    pub gas_limit: u64,
    /// Fee recipient of produced blocks.
    pub coinbase: Address,
    /// Genesis timestamp.
    pub genesis_timestamp: u64,
    /// Prefunded accounts.
    pub alloc: Vec<(Address, U256)>,
    /// The system contracts' genesis state (0G's Flow and market at
    /// [`crate::system::FLOW_ADDRESS`] and [`crate::system::MARKET_ADDRESS`], 0G's
    /// compute ledger and inference serving at the addresses 0G's SDK expects on
    /// 31337); `None` leaves their accounts empty, as on a plain Ethereum chain.
    pub system: Option<SystemConfig>,
}

/// A sealed block with its transactions and receipts.
#[derive(Clone, Debug)]
pub struct ChainBlock {
    /// Block hash (keccak256 of the RLP header).
    pub hash: B256,
    /// Header.
    pub header: Header,
    /// Transactions with their senders.
    pub transactions: Vec<Recovered<TxEnvelope>>,
    /// One receipt per transaction.
    pub receipts: Vec<ReceiptEnvelope>,
    /// Size of the RLP-encoded block, bytes.
    pub size: u64,
    /// The consensus engine's commit certificate, as it encodes it (`None` for a
    /// single sequencer's blocks).
    pub certificate: Option<Bytes>,
}

impl ChainBlock {
    /// The block as a proposal (what a peer catching up re-executes).
    pub fn proposal(&self) -> Proposal {
        Proposal::of(&self.header, self.transactions.iter().map(|tx| tx.inner()))
    }

    /// Gas used by transaction `index` alone.
    pub fn gas_used_by(&self, index: usize) -> u64 {
        let cumulative = self.receipts[index].cumulative_gas_used();
        let before = index
            .checked_sub(1)
            .map_or(0, |i| self.receipts[i].cumulative_gas_used());
        cumulative - before
    }
}

/// The persisted form of a block: everything needed to serve it and to replay its
/// state changes without re-executing.
#[derive(Clone, Debug, RlpEncodable, RlpDecodable)]
#[rlp(trailing)]
struct BlockRecord {
    header: Header,
    transactions: Vec<TxEnvelope>,
    senders: Vec<Address>,
    receipts: Vec<ReceiptEnvelope>,
    changes: StateChanges,
    // The consensus engine's commit certificate (absent for a single sequencer's
    // blocks, and in logs written before validators existed).
    certificate: Option<Bytes>,
}

/// A block executed on the head and sealed but not part of the chain: what a
/// proposer offers ([`Chain::build_block`]) or a validator re-executed
/// ([`Chain::validate_block`]); [`Chain::commit_block`] appends it.
#[derive(Clone, Debug)]
pub struct SealedBlock {
    record: BlockRecord,
    hash: B256,
}

impl SealedBlock {
    /// Block hash.
    pub fn hash(&self) -> B256 {
        self.hash
    }

    /// Header.
    pub fn header(&self) -> &Header {
        &self.record.header
    }

    /// Signed transactions, in block order.
    pub fn transactions(&self) -> &[TxEnvelope] {
        &self.record.transactions
    }

    /// What peers need to re-execute it.
    pub fn proposal(&self) -> Proposal {
        Proposal::of(&self.record.header, &self.record.transactions)
    }
}

/// How [`Chain::build_block`] sorted the transactions it was given.
#[derive(Debug)]
pub struct BuiltBlock {
    /// The sealed block.
    pub block: SealedBlock,
    /// Included transactions: hash and outcome, in block order.
    pub included: Vec<(B256, TxOutcome)>,
    /// Rejected transactions with the reason.
    pub rejected: Vec<(Recovered<TxEnvelope>, TxError)>,
    /// Transactions that did not fit; they belong in the next block.
    pub deferred: Vec<Recovered<TxEnvelope>>,
}

/// What producing a block did.
#[derive(Debug)]
pub struct Produced {
    /// Number of the new block.
    pub number: u64,
    /// Its hash.
    pub hash: B256,
    /// Included transactions: hash and outcome, in block order.
    pub included: Vec<(B256, TxOutcome)>,
    /// Rejected transactions with the reason.
    pub rejected: Vec<(Recovered<TxEnvelope>, TxError)>,
    /// Transactions that did not fit; they belong in the next block.
    pub deferred: Vec<Recovered<TxEnvelope>>,
}

/// The chain: state at the head, every block, and the log they persist to.
pub struct Chain {
    config: ChainConfig,
    exec: ExecConfig,
    store: BlockLog,
    state: State,
    blocks: Vec<ChainBlock>,
    by_hash: HashMap<B256, u64>,
    tx_index: HashMap<B256, (u64, usize)>,
    failed: bool,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("chain_id", &self.config.chain_id)
            .field("head", &self.head().header.number)
            .finish_non_exhaustive()
    }
}

impl Chain {
    /// Opens the chain in `store`: replays its blocks, or writes the genesis block of
    /// `config` when the store is empty.
    pub fn open(config: ChainConfig, mut store: BlockLog) -> Result<Self, ChainError> {
        let exec = ExecConfig::new(config.chain_id);
        let records = store.records()?;
        let genesis = genesis_record(&config);
        let mut chain = Self {
            config,
            exec,
            store,
            state: State::new(),
            blocks: Vec::new(),
            by_hash: HashMap::new(),
            tx_index: HashMap::new(),
            failed: false,
        };
        if records.is_empty() {
            let mut encoded = Vec::new();
            genesis.encode(&mut encoded);
            chain.store.append(&encoded)?;
            chain.push(genesis);
            return Ok(chain);
        }
        let configured = genesis.header.hash_slow();
        for (index, bytes) in records.iter().enumerate() {
            let bad = |reason: String| ChainError::BadRecord { index, reason };
            let record = BlockRecord::decode(&mut bytes.as_slice()).map_err(|e| bad(e.to_string()))?;
            if record.header.number != index as u64 {
                return Err(bad(format!("holds block {}", record.header.number)));
            }
            if record.transactions.len() != record.senders.len()
                || record.transactions.len() != record.receipts.len()
            {
                return Err(bad("transaction, sender and receipt counts differ".into()));
            }
            if index == 0 {
                let stored = record.header.hash_slow();
                if stored != configured {
                    return Err(ChainError::GenesisMismatch { stored, configured });
                }
            } else if record.header.parent_hash != chain.head().hash {
                return Err(bad("parent hash does not match the previous block".into()));
            }
            chain.push(record);
        }
        let rebuilt = chain.state.root();
        let expected = chain.head().header.state_root;
        if rebuilt != expected {
            return Err(ChainError::StateRootMismatch { rebuilt, expected });
        }
        Ok(chain)
    }

    fn push(&mut self, record: BlockRecord) {
        self.state.apply(&record.changes);
        self.push_sealed(record);
    }

    // Adds a block whose changes are already in the state.
    fn push_sealed(&mut self, record: BlockRecord) {
        let hash = record.header.hash_slow();
        let number = record.header.number;
        let transactions: Vec<Recovered<TxEnvelope>> = record
            .transactions
            .into_iter()
            .zip(record.senders)
            .map(|(tx, sender)| Recovered::new_unchecked(tx, sender))
            .collect();
        for (i, tx) in transactions.iter().enumerate() {
            self.tx_index.insert(*tx.inner().tx_hash(), (number, i));
        }
        self.by_hash.insert(hash, number);
        let size = block_size(&record.header, &transactions);
        self.blocks.push(ChainBlock {
            hash,
            header: record.header,
            transactions,
            receipts: record.receipts,
            size,
            certificate: record.certificate,
        });
    }

    /// Chain id.
    pub fn chain_id(&self) -> u64 {
        self.config.chain_id
    }

    /// The configuration the chain was opened with.
    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// The latest block.
    pub fn head(&self) -> &ChainBlock {
        self.blocks
            .last()
            .expect("a chain always holds its genesis block")
    }

    /// Block `number`, if produced.
    pub fn block(&self, number: u64) -> Option<&ChainBlock> {
        self.blocks.get(usize::try_from(number).ok()?)
    }

    /// Block with `hash`.
    pub fn block_by_hash(&self, hash: &B256) -> Option<&ChainBlock> {
        self.by_hash.get(hash).and_then(|n| self.block(*n))
    }

    /// The block holding transaction `hash` and its index there.
    pub fn transaction(&self, hash: &B256) -> Option<(&ChainBlock, usize)> {
        let (number, index) = *self.tx_index.get(hash)?;
        Some((self.block(number)?, index))
    }

    /// The state at the head.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Hash of block `number` as BLOCKHASH sees it (zero outside the last 256).
    fn block_hash_at(&self, number: u64) -> B256 {
        let head = self.head().header.number;
        if number > head || head - number >= 256 {
            return B256::ZERO;
        }
        self.block(number).map(|b| b.hash).unwrap_or_default()
    }

    /// The context the next block will execute in.
    pub fn next_block_context(&self, timestamp: u64) -> BlockContext {
        let parent = &self.head().header;
        let base_fee = parent
            .next_block_base_fee(BaseFeeParams::ethereum())
            .unwrap_or(INITIAL_BASE_FEE);
        BlockContext {
            number: parent.number + 1,
            // Instant blocks may come many per second; time never runs backwards.
            timestamp: timestamp.max(parent.timestamp),
            gas_limit: self.config.gas_limit,
            base_fee,
            coinbase: self.config.coinbase,
            prevrandao: parent.mix_hash,
        }
    }

    /// Executes `txs` as the next block, seals it and makes it durable; only then is it
    /// visible. Transactions invalid against the state are rejected, ones over the
    /// block's gas are handed back as deferred. A single sequencer's path: build and
    /// commit in one step, the state changed once.
    pub fn produce_block(
        &mut self,
        txs: Vec<Recovered<TxEnvelope>>,
        timestamp: u64,
    ) -> Result<Produced, ChainError> {
        if self.failed {
            return Err(ChainError::Failed);
        }
        let context = self.next_block_context(timestamp);
        let built = self.execute_and_seal(txs, &context, Sealing::Apply)?;
        let number = built.block.record.header.number;
        self.append(built.block.record)?;
        Ok(Produced {
            number,
            hash: self.head().hash,
            included: built.included,
            rejected: built.rejected,
            deferred: built.deferred,
        })
    }

    /// Executes `txs` as the next block and seals it with `coinbase` as its fee
    /// recipient, leaving the chain as it was: a proposer's block, for consensus to
    /// decide. Sorts the transactions as [`Chain::produce_block`] does.
    pub fn build_block(
        &mut self,
        txs: Vec<Recovered<TxEnvelope>>,
        timestamp: u64,
        coinbase: Address,
    ) -> Result<BuiltBlock, ChainError> {
        if self.failed {
            return Err(ChainError::Failed);
        }
        let context = BlockContext {
            coinbase,
            ..self.next_block_context(timestamp)
        };
        self.execute_and_seal(txs, &context, Sealing::Speculative)
    }

    /// Re-executes a peer's proposal on the head, leaving the chain as it was, and
    /// returns the block when every header field (state, receipts and transaction
    /// roots, gas, bloom, base fee) equals what re-execution gives. `now` (Unix
    /// seconds) bounds the proposer's timestamp.
    pub fn validate_block(&mut self, proposal: &Proposal, now: u64) -> Result<SealedBlock, InvalidBlock> {
        self.validate_block_with_senders(proposal, now, &|_| None)
    }

    /// [`Chain::validate_block`], taking the sender of each transaction whose hash
    /// `known` answers (a validator's pool recovered it when it arrived) instead of
    /// recovering it again; the others are recovered in parallel. A hash is a
    /// commitment to the signed bytes, so a known sender is the sender.
    pub fn validate_block_with_senders(
        &mut self,
        proposal: &Proposal,
        now: u64,
        known: &(dyn Fn(&B256) -> Option<Address> + Sync),
    ) -> Result<SealedBlock, InvalidBlock> {
        if self.failed {
            return Err(ChainError::Failed.into());
        }
        let proposed = &proposal.header;
        let head = &self.head().header;
        if proposed.number != head.number + 1 {
            return Err(InvalidBlock::NotNext {
                number: proposed.number,
                head: head.number,
            });
        }
        if proposed.parent_hash != self.head().hash {
            return Err(InvalidBlock::Parent {
                proposed: proposed.parent_hash,
                head: self.head().hash,
            });
        }
        if proposed.timestamp < head.timestamp || proposed.timestamp > now.saturating_add(MAX_CLOCK_DRIFT) {
            return Err(InvalidBlock::Timestamp {
                proposed: proposed.timestamp,
                parent: head.timestamp,
                now,
            });
        }
        let chain_id = self.config.chain_id;
        let txs = proposal
            .transactions
            .par_iter()
            .enumerate()
            .map(|(index, raw)| {
                executor::decode_unrecovered(raw, chain_id)
                    .and_then(|tx| match known(tx.tx_hash()) {
                        Some(sender) => Ok(Recovered::new_unchecked(tx, sender)),
                        None => executor::recover_sender(tx),
                    })
                    .map_err(|error| InvalidBlock::Transaction { index, error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let count = txs.len();
        let context = BlockContext {
            coinbase: proposed.beneficiary,
            ..self.next_block_context(proposed.timestamp)
        };
        let built = self.execute_and_seal(txs, &context, Sealing::Speculative)?;
        // A proposer includes only transactions that execute and fit.
        if let Some((tx, error)) = built.rejected.into_iter().next() {
            let index = proposal_index(proposal, tx.inner());
            return Err(InvalidBlock::Transaction { index, error });
        }
        if let Some(tx) = built.deferred.first() {
            let index = proposal_index(proposal, tx.inner());
            return Err(InvalidBlock::OverGas { index });
        }
        debug_assert_eq!(built.block.record.transactions.len(), count);
        compare_headers(proposed, &built.block.record.header)?;
        Ok(built.block)
    }

    /// Appends a decided block (built or validated on the current head) with the
    /// consensus engine's commit certificate, durably (fsync) before it is visible.
    pub fn commit_block(&mut self, block: SealedBlock, certificate: Bytes) -> Result<(), ChainError> {
        if self.failed {
            return Err(ChainError::Failed);
        }
        let mut record = block.record;
        if record.header.parent_hash != self.head().hash {
            return Err(ChainError::NotOnHead {
                number: record.header.number,
                head: self.head().header.number,
            });
        }
        self.state.apply(&record.changes);
        let root = self.state.root();
        if root != record.header.state_root {
            // Only a block sealed on this head reaches here; anything else is a bug.
            self.failed = true;
            return Err(ChainError::StateRootMismatch {
                rebuilt: root,
                expected: record.header.state_root,
            });
        }
        record.certificate = Some(certificate);
        self.append(record)
    }

    // Persists a sealed block whose changes are in the state, then shows it.
    fn append(&mut self, record: BlockRecord) -> Result<(), ChainError> {
        let mut encoded = Vec::new();
        record.encode(&mut encoded);
        if let Err(error) = self.store.append(&encoded) {
            // The in-memory state is ahead of the log: refuse to go on (reopening
            // rebuilds it from the log).
            self.failed = true;
            return Err(error.into());
        }
        self.push_sealed(record);
        Ok(())
    }

    // Executes `txs` in `context`, sorts them, and seals the block. `Apply` leaves
    // the block's changes in the state (the caller appends it or fails the chain);
    // `Speculative` leaves the state as it was.
    fn execute_and_seal(
        &mut self,
        txs: Vec<Recovered<TxEnvelope>>,
        context: &BlockContext,
        sealing: Sealing,
    ) -> Result<BuiltBlock, ChainError> {
        let executed = {
            let hashes = |n| self.block_hash_at(n);
            executor::execute_block(&self.state, &hashes, &self.exec, context, &txs)?
        };
        // Sort the batch into included, rejected and deferred, moving each once.
        let mut fate: Vec<Option<TxError>> = vec![None; txs.len()];
        let mut included_at = vec![false; txs.len()];
        let mut deferred_at = vec![false; txs.len()];
        for tx in &executed.included {
            included_at[tx.index] = true;
        }
        for index in &executed.deferred {
            deferred_at[*index] = true;
        }
        for (index, error) in executed.rejected {
            fate[index] = Some(error);
        }
        let (mut transactions, mut senders) = (Vec::new(), Vec::new());
        let (mut rejected, mut deferred) = (Vec::new(), Vec::new());
        for (index, tx) in txs.into_iter().enumerate() {
            if included_at[index] {
                senders.push(tx.signer());
                transactions.push(tx.into_inner());
            } else if deferred_at[index] {
                deferred.push(tx);
            } else if let Some(error) = fate[index].take() {
                rejected.push((tx, error));
            }
        }
        let parent_hash = self.head().hash;
        let included: Vec<(B256, TxOutcome)> = executed
            .included
            .iter()
            .zip(&transactions)
            .map(|(executed, tx)| (*tx.tx_hash(), executed.outcome.clone()))
            .collect();
        // The header needs the new state root; receipts, their blooms and the two list
        // roots are computed on another thread meanwhile.
        let state = &mut self.state;
        let changes = &executed.changes;
        let receipts_in = executed.included.into_iter().map(|tx| (tx.tx_type, tx.receipt));
        let (state_root, (receipts, logs_bloom, receipts_root, transactions_root)) = rayon::join(
            || match sealing {
                Sealing::Apply => {
                    state.apply(changes);
                    state.root()
                }
                Sealing::Speculative => state.root_after(changes),
            },
            || {
                let (receipts, bloom) = executor::seal_receipts(receipts_in);
                let receipts_root = alloy_consensus::proofs::calculate_receipt_root(&receipts);
                let transactions_root = alloy_consensus::proofs::calculate_transaction_root(&transactions);
                (receipts, bloom, receipts_root, transactions_root)
            },
        );
        let header = Header {
            parent_hash,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: context.coinbase,
            state_root,
            transactions_root,
            receipts_root,
            logs_bloom,
            difficulty: U256::ZERO,
            number: context.number,
            gas_limit: context.gas_limit,
            gas_used: executed.gas_used,
            timestamp: context.timestamp,
            mix_hash: alloy_primitives::keccak256(parent_hash),
            base_fee_per_gas: Some(context.base_fee),
            ..prague_header_fields()
        };
        let record = BlockRecord {
            header,
            transactions,
            senders,
            receipts,
            changes: executed.changes,
            certificate: None,
        };
        Ok(BuiltBlock {
            block: SealedBlock {
                hash: record.header.hash_slow(),
                record,
            },
            included,
            rejected,
            deferred,
        })
    }

    /// Runs a call against the head state in the next block's context.
    pub fn call(&self, request: &CallRequest, timestamp: u64) -> Result<CallResult, TxError> {
        let context = self.next_block_context(timestamp);
        let hashes = |n| self.block_hash_at(n);
        executor::call(&self.state, &hashes, &self.exec, &context, request)
    }

    /// The least gas limit with which `request` succeeds (binary search over
    /// [`Chain::call`]); a call that fails even with all the gas returns its outcome.
    pub fn estimate_gas(&self, request: &CallRequest, timestamp: u64) -> Result<u64, EstimateError> {
        let cap = request
            .gas
            .unwrap_or(self.config.gas_limit)
            .min(self.config.gas_limit);
        let run = |gas: u64| {
            self.call(
                &CallRequest {
                    gas: Some(gas),
                    ..request.clone()
                },
                timestamp,
            )
        };
        let first = run(cap).map_err(EstimateError::Invalid)?;
        if !matches!(first.outcome, TxOutcome::Success { .. }) {
            return Err(EstimateError::Failed(first.outcome));
        }
        let succeeds = |gas: u64| run(gas).is_ok_and(|r| matches!(r.outcome, TxOutcome::Success { .. }));
        // Gas used is a lower bound; the 63/64 rule and refunds may need more.
        let mut low = first.gas_used.saturating_sub(1);
        let mut high = cap;
        if succeeds(first.gas_used) {
            return Ok(first.gas_used);
        }
        low = low.max(first.gas_used);
        while low + 1 < high {
            let mid = low + (high - low) / 2;
            if succeeds(mid) {
                high = mid;
            } else {
                low = mid;
            }
        }
        Ok(high)
    }
}

/// How far ahead of a validator's clock a proposal's timestamp may be, seconds.
pub const MAX_CLOCK_DRIFT: u64 = 15;

#[derive(Clone, Copy)]
enum Sealing {
    Apply,
    Speculative,
}

// Where a transaction the executor handed back sits in the proposal.
fn proposal_index(proposal: &Proposal, tx: &TxEnvelope) -> usize {
    let hash = tx.tx_hash();
    proposal
        .transactions
        .iter()
        .position(|raw| keccak256(raw) == *hash)
        .unwrap_or(0)
}

// Names the first header field where a proposal and its re-execution differ.
fn compare_headers(proposed: &Header, executed: &Header) -> Result<(), InvalidBlock> {
    macro_rules! fields {
        ($($field:ident),*) => {$(
            if proposed.$field != executed.$field {
                return Err(InvalidBlock::Mismatch {
                    field: stringify!($field),
                    proposed: format!("{:?}", proposed.$field),
                    executed: format!("{:?}", executed.$field),
                });
            }
        )*};
    }
    fields!(
        state_root,
        receipts_root,
        transactions_root,
        gas_used,
        logs_bloom,
        gas_limit,
        base_fee_per_gas,
        mix_hash,
        parent_hash,
        number,
        timestamp,
        beneficiary,
        ommers_hash,
        difficulty,
        extra_data,
        nonce,
        withdrawals_root,
        blob_gas_used,
        excess_blob_gas,
        parent_beacon_block_root,
        requests_hash
    );
    // Every field is listed above; this catches one added to Header later.
    if proposed.hash_slow() != executed.hash_slow() {
        return Err(InvalidBlock::Mismatch {
            field: "header",
            proposed: format!("{:?}", proposed.hash_slow()),
            executed: format!("{:?}", executed.hash_slow()),
        });
    }
    Ok(())
}

/// Why a gas estimate could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EstimateError {
    /// The call is invalid (nonce, funds, fees).
    Invalid(TxError),
    /// The call reverts or halts even with all the gas.
    Failed(TxOutcome),
}

/// Length of the RLP block [header, transactions, ommers (none), withdrawals (none)].
fn block_size(header: &Header, transactions: &[Recovered<TxEnvelope>]) -> u64 {
    let list = |payload: usize| alloy_rlp::length_of_length(payload) + payload;
    let txs: usize = transactions.iter().map(|tx| tx.inner().length()).sum();
    list(header.length() + list(txs) + list(0) + list(0)) as u64
}

/// Header fields a Prague block carries without blobs, withdrawals or requests.
fn prague_header_fields() -> Header {
    Header {
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        ..Header::default()
    }
}

fn genesis_record(config: &ChainConfig) -> BlockRecord {
    let mut accounts: Vec<AccountChange> = config
        .alloc
        .iter()
        .map(|(address, balance)| AccountChange {
            address: *address,
            destroyed: false,
            storage_cleared: false,
            // An account whose deployments would land on a system contract starts past them.
            nonce: if config.system.is_some() {
                system::first_free_nonce(*address)
            } else {
                0
            },
            balance: *balance,
            code_hash: KECCAK256_EMPTY,
            storage: Vec::new(),
        })
        .collect();
    let mut codes = Vec::new();
    for account in config.system.iter().flat_map(system::genesis_accounts) {
        accounts.push(AccountChange {
            address: account.address,
            destroyed: false,
            storage_cleared: false,
            nonce: 0,
            balance: U256::ZERO,
            code_hash: keccak256(&account.code),
            storage: account
                .storage
                .into_iter()
                .map(|(key, value)| SlotChange { key, value })
                .collect(),
        });
        codes.push(account.code);
    }
    codes.dedup();
    // A prefunded account at a system address keeps the system contract (listed first).
    accounts.sort_by_key(|a| (a.address, a.code_hash == KECCAK256_EMPTY));
    accounts.dedup_by_key(|a| a.address);
    let changes = StateChanges { accounts, codes };
    let mut state = State::new();
    state.apply(&changes);
    let header = Header {
        parent_hash: B256::ZERO,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: Address::ZERO,
        state_root: state.root(),
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        logs_bloom: Bloom::ZERO,
        difficulty: U256::ZERO,
        number: 0,
        gas_limit: config.gas_limit,
        gas_used: 0,
        timestamp: config.genesis_timestamp,
        // The chain id goes into the genesis so that two chains differ from block 0.
        extra_data: Bytes::from(config.chain_id.to_be_bytes().to_vec()),
        base_fee_per_gas: Some(INITIAL_BASE_FEE),
        ..prague_header_fields()
    };
    BlockRecord {
        header,
        transactions: Vec::new(),
        senders: Vec::new(),
        receipts: Vec::new(),
        changes,
        certificate: None,
    }
}
