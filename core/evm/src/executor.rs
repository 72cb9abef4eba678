//! Transactions in, receipts and state changes out: decoding and sender recovery, then
//! one revm journal per block.

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{
    Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction, TxEnvelope, TxType, Typed2718,
    transaction::Recovered,
};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::map::{AddressMap, B256Map};
use alloy_primitives::{Address, B256, Bloom, BloomInput, Bytes, Log, TxKind, U256, keccak256};
use rayon::prelude::*;
use revm::context::result::{EVMError, ExecutionResult, InvalidTransaction, Output};
use revm::context::{BlockEnv, TxEnv};
use revm::context_interface::block::BlobExcessGasAndPrice;
use revm::database::WrapDatabaseRef;
use revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE;
use revm::primitives::hardfork::SpecId;
use revm::{Context, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};

use super::state::{BlockOverlay, State, StateChanges};
use super::system::SystemPrecompiles;

/// Largest raw transaction accepted (geth's pool limit is 128 KiB).
pub const MAX_TX_BYTES: usize = 128 * 1024;

/// Why a transaction was not accepted; messages follow geth's, which tools match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The bytes are not an EIP-2718 transaction.
    #[error("rlp: {0}")]
    Decode(String),
    /// Over [`MAX_TX_BYTES`].
    #[error("oversized data: transaction size {size}, limit {limit}")]
    TooLarge {
        /// Size given.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The signature does not recover to a sender.
    #[error("invalid sender: {0}")]
    BadSignature(String),
    /// Signed for another chain.
    #[error("invalid chain id: have {got}, want {expected}")]
    WrongChainId {
        /// The transaction's chain id.
        got: u64,
        /// This chain's id.
        expected: u64,
    },
    /// Blob (EIP-4844) and set-code (EIP-7702) transactions are not supported.
    #[error("transaction type not supported: {0}")]
    UnsupportedType(u8),
    /// Nonce already used.
    #[error("nonce too low: address {address}, tx: {tx} state: {state}")]
    NonceTooLow {
        /// Sender.
        address: Address,
        /// The transaction's nonce.
        tx: u64,
        /// The account's next nonce.
        state: u64,
    },
    /// Nonce ahead of the account (this node holds no gapped transactions).
    #[error("nonce too high: address {address}, tx: {tx} state: {state}")]
    NonceTooHigh {
        /// Sender.
        address: Address,
        /// The transaction's nonce.
        tx: u64,
        /// The account's next nonce.
        state: u64,
    },
    /// Balance below gas × price + value.
    #[error("insufficient funds for gas * price + value: address {address} have {have} want {want}")]
    InsufficientFunds {
        /// Sender.
        address: Address,
        /// Balance.
        have: U256,
        /// What the transaction may cost.
        want: U256,
    },
    /// Gas limit below the intrinsic cost.
    #[error("intrinsic gas too low: have {have}, want {want}")]
    IntrinsicGas {
        /// The transaction's gas limit.
        have: u64,
        /// Intrinsic gas.
        want: u64,
    },
    /// Gas limit above the block's.
    #[error("exceeds block gas limit")]
    GasLimit,
    /// Fee cap below the block's base fee.
    #[error("max fee per gas less than block base fee")]
    FeeCapTooLow,
    /// Priority fee above the fee cap.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// Any other rule of the protocol.
    #[error("invalid transaction: {0}")]
    Invalid(String),
}

impl TxError {
    fn from_revm(error: InvalidTransaction, address: Address) -> Self {
        match error {
            InvalidTransaction::NonceTooLow { tx, state } => Self::NonceTooLow { address, tx, state },
            InvalidTransaction::NonceTooHigh { tx, state } => Self::NonceTooHigh { address, tx, state },
            InvalidTransaction::LackOfFundForMaxFee { fee, balance } => Self::InsufficientFunds {
                address,
                have: *balance,
                want: *fee,
            },
            InvalidTransaction::CallGasCostMoreThanGasLimit {
                initial_gas,
                gas_limit,
            }
            | InvalidTransaction::GasFloorMoreThanGasLimit {
                gas_floor: initial_gas,
                gas_limit,
            } => Self::IntrinsicGas {
                have: gas_limit,
                want: initial_gas,
            },
            InvalidTransaction::CallerGasLimitMoreThanBlock
            | InvalidTransaction::TxGasLimitGreaterThanCap { .. } => Self::GasLimit,
            InvalidTransaction::GasPriceLessThanBasefee => Self::FeeCapTooLow,
            InvalidTransaction::PriorityFeeGreaterThanMaxFee => Self::TipAboveFeeCap,
            other => Self::Invalid(other.to_string()),
        }
    }
}

/// Decodes one signed transaction (EIP-2718 bytes, as `eth_sendRawTransaction` takes
/// them), checks what needs no state and recovers the sender.
pub fn decode_transaction(raw: &[u8], chain_id: u64) -> Result<Recovered<TxEnvelope>, TxError> {
    recover_sender(decode_unrecovered(raw, chain_id)?)
}

/// Decoding and the stateless checks, without the (costly) sender recovery.
pub fn decode_unrecovered(raw: &[u8], chain_id: u64) -> Result<TxEnvelope, TxError> {
    if raw.len() > MAX_TX_BYTES {
        return Err(TxError::TooLarge {
            size: raw.len(),
            limit: MAX_TX_BYTES,
        });
    }
    let mut buf = raw;
    let tx = TxEnvelope::decode_2718(&mut buf).map_err(|e| TxError::Decode(e.to_string()))?;
    if !buf.is_empty() {
        return Err(TxError::Decode(format!(
            "{} trailing bytes after the transaction",
            buf.len()
        )));
    }
    match tx.tx_type() {
        TxType::Legacy | TxType::Eip2930 | TxType::Eip1559 => {}
        other => return Err(TxError::UnsupportedType(other as u8)),
    }
    // Legacy transactions without EIP-155 replay protection carry no chain id; they are
    // valid on every chain, as on Ethereum.
    if let Some(got) = tx.chain_id()
        && got != chain_id
    {
        return Err(TxError::WrongChainId {
            got,
            expected: chain_id,
        });
    }
    if tx
        .max_priority_fee_per_gas()
        .is_some_and(|tip| tip > tx.max_fee_per_gas())
    {
        return Err(TxError::TipAboveFeeCap);
    }
    Ok(tx)
}

/// Recovers the sender of one decoded transaction.
pub fn recover_sender(tx: TxEnvelope) -> Result<Recovered<TxEnvelope>, TxError> {
    let signer = tx
        .recover_signer()
        .map_err(|e| TxError::BadSignature(e.to_string()))?;
    Ok(Recovered::new_unchecked(tx, signer))
}

/// Recovers the senders of many transactions in parallel (rayon), keeping their order.
pub fn recover_senders(txs: Vec<TxEnvelope>) -> Vec<Result<Recovered<TxEnvelope>, TxError>> {
    txs.into_par_iter().map(recover_sender).collect()
}

/// revm's view of a recovered transaction.
pub fn tx_env(tx: &Recovered<TxEnvelope>) -> TxEnv {
    let inner = tx.inner();
    TxEnv {
        tx_type: inner.ty(),
        caller: tx.signer(),
        gas_limit: inner.gas_limit(),
        gas_price: inner.max_fee_per_gas(),
        kind: inner.kind(),
        value: inner.value(),
        data: inner.input().clone(),
        nonce: inner.nonce(),
        chain_id: inner.chain_id(),
        access_list: inner.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: inner.max_priority_fee_per_gas(),
        ..TxEnv::default()
    }
}

/// Chain-wide execution rules.
#[derive(Clone, Debug)]
pub struct ExecConfig {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Hard fork rules revm applies.
    pub spec: SpecId,
}

impl ExecConfig {
    /// Prague rules on `chain_id`.
    pub fn new(chain_id: u64) -> Self {
        Self {
            chain_id,
            spec: SpecId::PRAGUE,
        }
    }
}

/// The block a batch of transactions executes in.
#[derive(Clone, Debug)]
pub struct BlockContext {
    /// Block number.
    pub number: u64,
    /// Seconds since the epoch.
    pub timestamp: u64,
    /// Block gas limit.
    pub gas_limit: u64,
    /// EIP-1559 base fee, wei.
    pub base_fee: u64,
    /// Fee recipient.
    pub coinbase: Address,
    /// PREVRANDAO value.
    pub prevrandao: B256,
}

impl BlockContext {
    /// revm's block environment.
    pub fn block_env(&self) -> BlockEnv {
        BlockEnv {
            number: U256::from(self.number),
            beneficiary: self.coinbase,
            timestamp: U256::from(self.timestamp),
            gas_limit: self.gas_limit,
            basefee: self.base_fee,
            difficulty: U256::ZERO,
            prevrandao: Some(self.prevrandao),
            blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new(
                0,
                BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE,
            )),
            ..BlockEnv::default()
        }
    }
}

/// What running one transaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxOutcome {
    /// Ran to completion; `output` is the return data (or the created code).
    Success {
        /// Return data.
        output: Bytes,
        /// The created contract, for a deployment.
        created: Option<Address>,
    },
    /// REVERT: `output` is the revert data.
    Revert {
        /// Revert data, e.g. an ABI-encoded `Error(string)`.
        output: Bytes,
    },
    /// Halted (out of gas, invalid opcode…): all gas spent.
    Halt {
        /// revm's reason.
        reason: String,
    },
}

/// An included transaction with its receipt.
#[derive(Clone, Debug)]
pub struct ExecutedTx {
    /// Its index in the batch given to [`execute_block`].
    pub index: usize,
    /// The transaction's type (the receipt's envelope).
    pub tx_type: TxType,
    /// Gas this transaction used.
    pub gas_used: u64,
    /// Receipt (status, cumulative gas, logs); its bloom is derived at sealing by
    /// [`seal_receipts`], as reth does, so it can run beside the state root.
    pub receipt: Receipt,
    /// Result of the execution.
    pub outcome: TxOutcome,
}

/// The outcome of executing a batch as one block.
#[derive(Debug, Default)]
pub struct ExecutedBlock {
    /// Included transactions, in order.
    pub included: Vec<ExecutedTx>,
    /// Rejected transactions (invalid against the state): index in the batch, reason.
    pub rejected: Vec<(usize, TxError)>,
    /// Indices of transactions that did not fit in the block's gas, in order.
    pub deferred: Vec<usize>,
    /// Every state change of the block.
    pub changes: StateChanges,
    /// Total gas used.
    pub gas_used: u64,
}

/// Errors that are not the transaction's fault.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// revm failed for a reason other than an invalid transaction.
    #[error("EVM internal error: {0}")]
    Internal(String),
}

/// Executes `txs` in order as one block over `state`: each is validated against the
/// state left by the ones before it; invalid ones are rejected, ones that do not fit in
/// the remaining gas are deferred. The state itself is not changed: apply
/// [`ExecutedBlock::changes`] to commit.
pub fn execute_block(
    state: &State,
    block_hashes: &dyn Fn(u64) -> B256,
    config: &ExecConfig,
    block: &BlockContext,
    txs: &[Recovered<TxEnvelope>],
) -> Result<ExecutedBlock, ExecError> {
    // Each transaction commits into an overlay over the state that is also the block's
    // diff; revm's journal stays one transaction deep, as in a transact_commit loop.
    let mut evm = Context::mainnet()
        .with_db(BlockOverlay::new(state, block_hashes))
        .modify_cfg_chained(|cfg| {
            cfg.chain_id = config.chain_id;
            cfg.spec = config.spec;
        })
        .with_block(block.block_env())
        .build_mainnet()
        .with_precompiles(SystemPrecompiles::new(config.spec));
    let mut out = ExecutedBlock {
        included: Vec::with_capacity(txs.len()),
        ..Default::default()
    };
    for (index, tx) in txs.iter().enumerate() {
        let gas_limit = tx.inner().gas_limit();
        if gas_limit > block.gas_limit {
            out.rejected.push((index, TxError::GasLimit));
            continue;
        }
        if out.gas_used + gas_limit > block.gas_limit {
            out.deferred.push(index);
            continue;
        }
        match evm.transact_commit(tx_env(tx)) {
            Ok(result) => {
                let gas_used = result.tx_gas_used();
                out.gas_used += gas_used;
                let (success, logs, outcome) = split_result(result);
                out.included.push(ExecutedTx {
                    index,
                    tx_type: tx.inner().tx_type(),
                    gas_used,
                    receipt: Receipt {
                        status: Eip658Value::Eip658(success),
                        cumulative_gas_used: out.gas_used,
                        logs,
                    },
                    outcome,
                });
            }
            Err(EVMError::Transaction(error)) => {
                out.rejected.push((index, TxError::from_revm(error, tx.signer())));
            }
            Err(other) => return Err(ExecError::Internal(other.to_string())),
        }
    }
    out.changes = evm.ctx.journaled_state.database.finish();
    Ok(out)
}

/// Typed receipts with their logs blooms, and the block's bloom (their union), for the
/// transactions of one block in order. Blooms hash every log's address and topics; a
/// block's worth is split over rayon's threads.
pub fn seal_receipts(included: impl IntoIterator<Item = (TxType, Receipt)>) -> (Vec<ReceiptEnvelope>, Bloom) {
    let receipts: Vec<(TxType, Receipt)> = included.into_iter().collect();
    // Chunks big enough that each keeps a useful address/event hash cache.
    const CHUNK: usize = 1024;
    let receipts: Vec<ReceiptEnvelope> = receipts
        .into_par_iter()
        .with_min_len(CHUNK)
        .map_init(BloomHashes::default, |blooms, (tx_type, receipt)| {
            let bloom = blooms.of(&receipt.logs);
            ReceiptEnvelope::from_typed(tx_type, ReceiptWithBloom::new(receipt, bloom))
        })
        .collect();
    let mut block_bloom = Bloom::ZERO;
    for receipt in &receipts {
        block_bloom.accrue_bloom(receipt.logs_bloom());
    }
    (receipts, block_bloom)
}

/// Logs blooms with the keccak of each emitting address and event signature (topic 0)
/// computed once per block: they recur in most logs of a block, and hashing is most of
/// a bloom's cost.
#[derive(Default)]
struct BloomHashes {
    addresses: AddressMap<B256>,
    topics: B256Map<B256>,
}

impl BloomHashes {
    fn of(&mut self, logs: &[Log]) -> Bloom {
        let mut bloom = Bloom::ZERO;
        for log in logs {
            let address = *self
                .addresses
                .entry(log.address)
                .or_insert_with(|| keccak256(log.address));
            bloom.accrue(BloomInput::Hash(address));
            let topics = log.topics();
            if let Some(event) = topics.first() {
                let hash = *self.topics.entry(*event).or_insert_with(|| keccak256(event));
                bloom.accrue(BloomInput::Hash(hash));
            }
            // Indexed arguments rarely repeat: a cache would cost more than it saves.
            for topic in topics.iter().skip(1) {
                bloom.accrue(BloomInput::Raw(topic.as_slice()));
            }
        }
        bloom
    }
}

fn split_result(result: ExecutionResult) -> (bool, Vec<Log>, TxOutcome) {
    match result {
        ExecutionResult::Success { logs, output, .. } => {
            let (output, created) = match output {
                Output::Call(data) => (data, None),
                Output::Create(data, address) => (data, address),
            };
            (true, logs, TxOutcome::Success { output, created })
        }
        ExecutionResult::Revert { logs, output, .. } => (false, logs, TxOutcome::Revert { output }),
        ExecutionResult::Halt { reason, logs, .. } => (
            false,
            logs,
            TxOutcome::Halt {
                reason: format!("{reason:?}"),
            },
        ),
    }
}

/// A message call that changes nothing: `eth_call` and `eth_estimateGas`.
#[derive(Clone, Debug, Default)]
pub struct CallRequest {
    /// Sender (zero address when absent).
    pub from: Option<Address>,
    /// Target; `None` runs `data` as init code.
    pub to: Option<Address>,
    /// Gas limit (the block's when absent).
    pub gas: Option<u64>,
    /// Gas price; absent or zero runs without fees, as geth does.
    pub gas_price: Option<u128>,
    /// Value sent.
    pub value: Option<U256>,
    /// Call data.
    pub data: Bytes,
}

/// Result of a call: gas used and outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallResult {
    /// Gas the call used.
    pub gas_used: u64,
    /// What happened.
    pub outcome: TxOutcome,
}

/// Runs `request` against `state` in `block` without committing anything.
pub fn call(
    state: &State,
    block_hashes: &dyn Fn(u64) -> B256,
    config: &ExecConfig,
    block: &BlockContext,
    request: &CallRequest,
) -> Result<CallResult, TxError> {
    let caller = request.from.unwrap_or_default();
    let gas_price = request.gas_price.unwrap_or_default();
    let mut evm = Context::mainnet()
        .with_db(WrapDatabaseRef(state.database(block_hashes)))
        .modify_cfg_chained(|cfg| {
            cfg.chain_id = config.chain_id;
            cfg.spec = config.spec;
            cfg.disable_nonce_check = true;
            cfg.disable_base_fee = gas_price == 0;
        })
        .with_block(block.block_env())
        .build_mainnet()
        .with_precompiles(SystemPrecompiles::new(config.spec));
    let tx = TxEnv {
        tx_type: 0,
        caller,
        gas_limit: request.gas.unwrap_or(block.gas_limit).min(block.gas_limit),
        gas_price,
        kind: request.to.map_or(TxKind::Create, TxKind::Call),
        value: request.value.unwrap_or_default(),
        data: request.data.clone(),
        chain_id: Some(config.chain_id),
        ..TxEnv::default()
    };
    match evm.transact(tx) {
        Ok(result) => {
            let gas_used = result.result.tx_gas_used();
            let (_, _, outcome) = split_result(result.result);
            Ok(CallResult { gas_used, outcome })
        }
        Err(EVMError::Transaction(error)) => Err(TxError::from_revm(error, caller)),
        Err(other) => Err(TxError::Invalid(other.to_string())),
    }
}
