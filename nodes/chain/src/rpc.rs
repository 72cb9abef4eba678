//! The chain's standard Ethereum JSON-RPC: accounts, calls, gas, fees, raw
//! transactions, receipts, blocks and logs, in the shapes alloy, ethers, viem and
//! web3.py expect.

use std::sync::Arc;

use alloy_consensus::{ReceiptEnvelope, Transaction as _};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_eth::{
    Block, BlockTransactions, FeeHistory, Filter, Header as RpcHeader, Log, Transaction, TransactionReceipt,
    TransactionRequest,
};
use jsonrpsee::RpcModule;
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};
use tokio::sync::oneshot;
use zg_evm::{CallRequest, Chain, ChainBlock, EstimateError, TxError, TxOutcome, decode_transaction};

use crate::api::EthApiServer;
use crate::sequencer::{MAX_NONCE_AHEAD, MAX_QUEUED_TXS, QueueError, Shared, Submission, now_secs};
use crate::server::{MAX_BLOCK_RANGE, MAX_LOGS};

const GWEI: u128 = 1_000_000_000;

type RpcResult<T> = Result<T, ErrorObjectOwned>;

// Where the sequencer reports whether a submitted transaction made it into a block.
type Outcome = oneshot::Receiver<Result<(), TxError>>;

fn rpc_err(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(code, message.into(), None::<()>)
}

// geth answers transaction-pool and state errors with -32000.
fn tx_err(error: &TxError) -> ErrorObjectOwned {
    rpc_err(-32000, error.to_string())
}

fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    rpc_err(-32602, message)
}

// Execution reverted: code 3 with the revert data, as geth reports it.
fn reverted(output: &Bytes) -> ErrorObjectOwned {
    use alloy_sol_types::SolError;
    let reason = alloy_sol_types::Revert::abi_decode(output)
        .map(|revert| revert.reason)
        .ok()
        .or_else(|| alloy_sol_types::decode_revert_reason(output));
    let message = match reason {
        Some(reason) => format!("execution reverted: {reason}"),
        None => "execution reverted".to_owned(),
    };
    ErrorObject::owned(3, message, Some(output.to_string()))
}

// Resolves a block parameter to a number; `None` for a block that does not exist.
fn resolve(chain: &Chain, id: Option<BlockId>) -> RpcResult<Option<u64>> {
    let head = chain.head().header.number;
    Ok(match id.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest)) {
        BlockId::Hash(hash) => chain.block_by_hash(&hash.block_hash).map(|b| b.header.number),
        BlockId::Number(number) => match number {
            BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
            BlockNumberOrTag::Earliest => Some(0),
            _ => Some(head),
        },
    })
}

// State queries answer for the head only: this node keeps no historical state.
fn at_head(chain: &Chain, id: Option<BlockId>) -> RpcResult<()> {
    match resolve(chain, id)? {
        Some(n) if n == chain.head().header.number => Ok(()),
        Some(n) => Err(rpc_err(
            -32000,
            format!(
                "historical state is not available (block {n}, head {}): this node keeps the latest state only",
                chain.head().header.number
            ),
        )),
        None => Err(rpc_err(-32000, "header not found")),
    }
}

fn call_request(request: TransactionRequest) -> CallRequest {
    CallRequest {
        from: request.from,
        to: request.to.and_then(|kind| kind.to().copied()),
        gas: request.gas,
        gas_price: request.gas_price.or(request.max_fee_per_gas),
        value: request.value,
        data: request.input.into_input().unwrap_or_default(),
    }
}

fn rpc_transaction(block: &ChainBlock, index: usize) -> Transaction {
    let tx = &block.transactions[index];
    Transaction {
        inner: tx.clone(),
        block_hash: Some(block.hash),
        block_number: Some(block.header.number),
        transaction_index: Some(index as u64),
        effective_gas_price: Some(tx.inner().effective_gas_price(block.header.base_fee_per_gas)),
        block_timestamp: Some(block.header.timestamp),
    }
}

fn rpc_receipt(block: &ChainBlock, index: usize) -> TransactionReceipt {
    let tx = &block.transactions[index];
    let hash = *tx.inner().tx_hash();
    let mut log_index: u64 = block.receipts[..index]
        .iter()
        .map(|r| r.logs().len() as u64)
        .sum();
    let inner: ReceiptEnvelope<Log> = block.receipts[index].clone().map_logs(|log| {
        let log = Log {
            inner: log,
            block_hash: Some(block.hash),
            block_number: Some(block.header.number),
            block_timestamp: Some(block.header.timestamp),
            transaction_hash: Some(hash),
            transaction_index: Some(index as u64),
            log_index: Some(log_index),
            removed: false,
        };
        log_index += 1;
        log
    });
    TransactionReceipt {
        inner,
        transaction_hash: hash,
        transaction_index: Some(index as u64),
        block_hash: Some(block.hash),
        block_number: Some(block.header.number),
        gas_used: block.gas_used_by(index),
        effective_gas_price: tx.inner().effective_gas_price(block.header.base_fee_per_gas),
        blob_gas_used: None,
        blob_gas_price: None,
        from: tx.signer(),
        to: tx.inner().to(),
        contract_address: tx
            .inner()
            .is_create()
            .then(|| tx.signer().create(tx.inner().nonce())),
    }
}

fn rpc_block(block: &ChainBlock, full: bool) -> Block {
    let transactions = if full {
        BlockTransactions::Full(
            (0..block.transactions.len())
                .map(|i| rpc_transaction(block, i))
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(
            block
                .transactions
                .iter()
                .map(|tx| *tx.inner().tx_hash())
                .collect(),
        )
    };
    Block {
        header: RpcHeader {
            hash: block.hash,
            inner: block.header.clone(),
            total_difficulty: Some(U256::ZERO),
            size: Some(U256::from(block.size)),
        },
        uncles: Vec::new(),
        transactions,
        withdrawals: Some(Default::default()),
    }
}

fn logs(chain: &Chain, filter: &Filter) -> RpcResult<Vec<Log>> {
    let head = chain.head().header.number;
    let range = if let Some(hash) = filter.get_block_hash() {
        let block = chain
            .block_by_hash(&hash)
            .ok_or_else(|| rpc_err(-32000, "unknown block"))?;
        block.header.number..=block.header.number
    } else {
        let from = filter.get_from_block().unwrap_or(head).min(head);
        let to = filter.get_to_block().unwrap_or(head).min(head);
        if from > to {
            return Ok(Vec::new());
        }
        if to - from >= MAX_BLOCK_RANGE {
            return Err(rpc_err(
                -32005,
                format!("block range over the {MAX_BLOCK_RANGE}-block limit"),
            ));
        }
        from..=to
    };
    let mut out = Vec::new();
    for number in range {
        let Some(block) = chain.block(number) else { break };
        if !filter.matches_bloom(block.header.logs_bloom) {
            continue;
        }
        for index in 0..block.transactions.len() {
            for log in rpc_receipt(block, index).inner.into_logs() {
                if filter.matches(&log.inner) {
                    if out.len() == MAX_LOGS {
                        return Err(rpc_err(
                            -32005,
                            format!("query returned more than {MAX_LOGS} results; narrow the block range"),
                        ));
                    }
                    out.push(log);
                }
            }
        }
    }
    Ok(out)
}

// Weighted percentiles of the tips paid in `block` (by gas used), as geth computes them.
fn block_rewards(block: &ChainBlock, percentiles: &[f64]) -> Vec<u128> {
    let base_fee = block.header.base_fee_per_gas;
    let mut tips: Vec<(u128, u64)> = (0..block.transactions.len())
        .map(|i| {
            let tx = block.transactions[i].inner();
            (
                tx.effective_tip_per_gas(base_fee.unwrap_or_default())
                    .unwrap_or_default(),
                block.gas_used_by(i),
            )
        })
        .collect();
    if tips.is_empty() {
        return vec![0; percentiles.len()];
    }
    tips.sort_unstable();
    let total: u64 = tips.iter().map(|t| t.1).sum();
    percentiles
        .iter()
        .map(|p| {
            let threshold = (total as f64 * p / 100.0) as u64;
            let mut sum = 0;
            for (tip, gas) in &tips {
                sum += gas;
                if sum >= threshold {
                    return *tip;
                }
            }
            tips.last().map_or(0, |t| t.0)
        })
        .collect()
}

fn fee_history(
    chain: &Chain,
    count: u64,
    newest: BlockNumberOrTag,
    percentiles: Option<Vec<f64>>,
) -> RpcResult<FeeHistory> {
    let head = chain.head().header.number;
    let newest = match newest {
        BlockNumberOrTag::Number(n) => n.min(head),
        BlockNumberOrTag::Earliest => 0,
        _ => head,
    };
    let count = count.clamp(1, 1024).min(newest + 1);
    if let Some(p) = &percentiles
        && (p.len() > 100
            || p.windows(2).any(|w| w[0] > w[1])
            || p.iter().any(|x| !(0.0..=100.0).contains(x)))
    {
        return Err(invalid_params(
            "reward percentiles must be ascending values in 0..=100 (at most 100)",
        ));
    }
    let oldest = newest + 1 - count;
    let blocks: Vec<&ChainBlock> = (oldest..=newest).filter_map(|n| chain.block(n)).collect();
    let mut base_fee_per_gas: Vec<u128> = blocks
        .iter()
        .map(|b| u128::from(b.header.base_fee_per_gas.unwrap_or_default()))
        .collect();
    let next = chain.next_block_context(now_secs()).base_fee;
    base_fee_per_gas.push(if newest == head {
        u128::from(next)
    } else {
        chain
            .block(newest + 1)
            .map_or(0, |b| u128::from(b.header.base_fee_per_gas.unwrap_or_default()))
    });
    Ok(FeeHistory {
        base_fee_per_gas,
        gas_used_ratio: blocks
            .iter()
            .map(|b| b.header.gas_used as f64 / b.header.gas_limit as f64)
            .collect(),
        base_fee_per_blob_gas: vec![0; blocks.len() + 1],
        blob_gas_used_ratio: vec![0.0; blocks.len()],
        oldest_block: oldest,
        reward: percentiles.map(|p| blocks.iter().map(|b| block_rewards(b, &p)).collect()),
    })
}

fn send_raw(shared: &Arc<Shared>, raw: &Bytes, relay: bool) -> RpcResult<(B256, Option<Outcome>)> {
    let chain_id = shared.chain().chain_id();
    let tx = decode_transaction(raw, chain_id).map_err(|e| tx_err(&e))?;
    let hash = *tx.inner().tx_hash();
    let sender = tx.signer();
    let nonce = tx.inner().nonce();
    if tx.inner().gas_limit() > shared.gas_limit {
        return Err(tx_err(&TxError::GasLimit));
    }
    {
        let chain = shared.chain();
        if chain.transaction(&hash).is_some() {
            return Err(rpc_err(-32000, "already known"));
        }
        let (state_nonce, balance) = chain
            .state()
            .account(&sender)
            .map_or((0, U256::ZERO), |a| (a.nonce, a.balance));
        if nonce < state_nonce {
            return Err(tx_err(&TxError::NonceTooLow {
                address: sender,
                tx: nonce,
                state: state_nonce,
            }));
        }
        if nonce - state_nonce > MAX_NONCE_AHEAD {
            return Err(rpc_err(
                -32000,
                format!(
                    "nonce {nonce} is too far ahead of the account's {state_nonce} (at most {MAX_NONCE_AHEAD} ahead)"
                ),
            ));
        }
        let want = U256::from(tx.inner().gas_limit()) * U256::from(tx.inner().max_fee_per_gas())
            + tx.inner().value();
        if balance < want {
            return Err(tx_err(&TxError::InsufficientFunds {
                address: sender,
                have: balance,
                want,
            }));
        }
    }
    {
        let mut queued = shared
            .queued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match queued.insert(sender, nonce) {
            Ok(()) => {}
            Err(QueueError::Duplicate) => {
                return Err(rpc_err(-32000, "replacement transaction underpriced"));
            }
            Err(QueueError::Full) => {
                return Err(rpc_err(
                    -32000,
                    format!(
                        "txpool is full ({MAX_QUEUED_TXS} transactions wait); try again after the next block"
                    ),
                ));
            }
        }
    }
    let (reply, receiver) = if shared.instant {
        let (tx, rx) = oneshot::channel();
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    shared
        .submit
        .send(Submission {
            tx,
            reply,
            raw: raw.clone(),
            relay,
        })
        .map_err(|_| rpc_err(-32000, "the node is shutting down"))?;
    Ok((hash, receiver))
}

/// The node's side of [`EthApiServer`].
pub(crate) struct RpcHandler(pub(crate) Arc<Shared>);

#[jsonrpsee::core::async_trait]
impl EthApiServer for RpcHandler {
    fn client_version(&self) -> RpcResult<String> {
        Ok(format!("zg-chain/{}", env!("CARGO_PKG_VERSION")))
    }

    fn net_version(&self) -> RpcResult<String> {
        Ok(self.0.chain().chain_id().to_string())
    }

    fn net_listening(&self) -> RpcResult<bool> {
        Ok(true)
    }

    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.0.chain().chain_id()))
    }

    fn syncing(&self) -> RpcResult<bool> {
        Ok(false)
    }

    fn accounts(&self) -> RpcResult<Vec<Address>> {
        Ok(Vec::new())
    }

    fn block_number(&self) -> RpcResult<U64> {
        Ok(U64::from(self.0.chain().head().header.number))
    }

    fn gas_price(&self) -> RpcResult<U256> {
        let base = self.0.chain().next_block_context(now_secs()).base_fee;
        Ok(U256::from(u128::from(base) + GWEI))
    }

    fn max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        Ok(U256::from(GWEI))
    }

    fn fee_history(
        &self,
        count: U64,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        fee_history(&self.0.chain(), count.to(), newest, percentiles)
    }

    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        let chain = self.0.chain();
        at_head(&chain, block)?;
        Ok(chain.state().account(&address).map_or(U256::ZERO, |a| a.balance))
    }

    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64> {
        if matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending))) {
            return Ok(U64::from(self.0.pending_nonce(&address)));
        }
        let chain = self.0.chain();
        at_head(&chain, block)?;
        Ok(U64::from(chain.state().account(&address).map_or(0, |a| a.nonce)))
    }

    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        let chain = self.0.chain();
        at_head(&chain, block)?;
        Ok(chain.state().code_of(&address))
    }

    fn storage_at(&self, address: Address, slot: U256, block: Option<BlockId>) -> RpcResult<B256> {
        let chain = self.0.chain();
        at_head(&chain, block)?;
        Ok(B256::from(chain.state().storage(&address, slot)))
    }

    fn call(&self, request: TransactionRequest, block: Option<BlockId>) -> RpcResult<Bytes> {
        let chain = self.0.chain();
        at_head(&chain, block)?;
        match chain
            .call(&call_request(request), now_secs())
            .map_err(|e| tx_err(&e))?
            .outcome
        {
            TxOutcome::Success { output, .. } => Ok(output),
            TxOutcome::Revert { output } => Err(reverted(&output)),
            TxOutcome::Halt { reason } => Err(rpc_err(-32000, format!("execution halted: {reason}"))),
        }
    }

    fn estimate_gas(&self, request: TransactionRequest, block: Option<BlockId>) -> RpcResult<U64> {
        let chain = self.0.chain();
        at_head(&chain, block)?;
        match chain.estimate_gas(&call_request(request), now_secs()) {
            Ok(gas) => Ok(U64::from(gas)),
            Err(EstimateError::Invalid(e)) => Err(tx_err(&e)),
            Err(EstimateError::Failed(TxOutcome::Revert { output })) => Err(reverted(&output)),
            Err(EstimateError::Failed(outcome)) => Err(rpc_err(
                -32000,
                format!(
                    "gas required exceeds allowance ({}): {outcome:?}",
                    self.0.gas_limit
                ),
            )),
        }
    }

    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        let (hash, receiver) = send_raw(&self.0, &raw, true)?;
        if let Some(receiver) = receiver {
            match receiver.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(tx_err(&error)),
                Err(_) => {
                    return Err(rpc_err(
                        -32000,
                        "the node stopped before the transaction was executed",
                    ));
                }
            }
        }
        Ok(hash)
    }

    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>> {
        let chain = self.0.chain();
        Ok(chain
            .transaction(&hash)
            .map(|(block, i)| rpc_transaction(block, i)))
    }

    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>> {
        let chain = self.0.chain();
        Ok(chain.transaction(&hash).map(|(block, i)| rpc_receipt(block, i)))
    }

    fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> RpcResult<Option<Block>> {
        let chain = self.0.chain();
        let number = resolve(&chain, Some(BlockId::Number(number)))?;
        Ok(number.and_then(|n| chain.block(n)).map(|b| rpc_block(b, full)))
    }

    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>> {
        let chain = self.0.chain();
        Ok(chain.block_by_hash(&hash).map(|b| rpc_block(b, full)))
    }

    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<TransactionReceipt>>> {
        let chain = self.0.chain();
        let found = match block {
            BlockId::Hash(hash) => chain.block_by_hash(&hash.block_hash),
            number => resolve(&chain, Some(number))?.and_then(|n| chain.block(n)),
        };
        Ok(found.map(|b| (0..b.transactions.len()).map(|i| rpc_receipt(b, i)).collect()))
    }

    fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>> {
        logs(&self.0.chain(), &filter)
    }
}

/// The node's JSON-RPC methods.
pub(crate) fn rpc_module(shared: Arc<Shared>) -> RpcModule<RpcHandler> {
    let mut module = RpcHandler(shared).into_rpc();
    // A transaction another validator accepted: pooled here, not relayed again.
    module
        .register_method("zg_relayRawTransaction", |params, handler, _| {
            let raw: Bytes = params.one()?;
            send_raw(&handler.0, &raw, false).map(|(hash, _)| hash)
        })
        .expect("the method name is not taken");
    module
}
