//! The chain node (`zg-chain`): zg-core's EVM chain behind standard Ethereum JSON-RPC,
//! in dev mode — one sequencer, prefunded accounts from a mnemonic, instant or
//! interval blocks, blocks durable before they are reported.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy_consensus::transaction::Recovered;
use alloy_consensus::{ReceiptEnvelope, Transaction as _, TxEnvelope};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_eth::{
    Block, BlockTransactions, FeeHistory, Filter, Header as RpcHeader, Log, Transaction, TransactionReceipt,
    TransactionRequest,
};
use anyhow::Context as _;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use jsonrpsee::RpcModule;
use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned, Params};
use tokio::sync::oneshot;
use zg_core::evm::{
    CallRequest, Chain, ChainBlock, ChainConfig, EstimateError, FileBlockStore, MemoryBlockStore, TxError,
    TxOutcome, decode_transaction,
};

/// Hardhat's and Anvil's development mnemonic: wallets and tools know its accounts.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";
/// Most logs one `eth_getLogs` returns (as Infura and Alchemy cap it).
pub const MAX_LOGS: usize = 10_000;
/// Most blocks one `eth_getLogs` or `eth_feeHistory` spans.
pub const MAX_BLOCK_RANGE: u64 = 10_000;
// Most transactions the sequencer puts in one batch (more wait for the next block).
const MAX_BATCH_TXS: usize = 4096;
const GWEI: u128 = 1_000_000_000;

/// Chain node settings; [`Default`] is the dev chain on 127.0.0.1:8545.
#[derive(Clone, Debug)]
pub struct ChainNodeConfig {
    /// JSON-RPC address.
    pub listen: SocketAddr,
    /// Block log directory; `None` keeps the chain in memory.
    pub data_dir: Option<PathBuf>,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// `None`: a block as soon as transactions arrive; otherwise one block per interval.
    pub block_time: Option<Duration>,
    /// Mnemonic the dev accounts derive from (BIP-44, m/44'/60'/0'/0/i).
    pub mnemonic: String,
    /// Number of prefunded dev accounts.
    pub accounts: u32,
    /// Balance of each dev account, in ether.
    pub balance_ether: u64,
    /// More prefunded accounts (address, wei), e.g. for load tests.
    pub extra_alloc: Vec<(Address, U256)>,
    /// Gas limit of every block.
    pub gas_limit: u64,
    /// Largest JSON-RPC request body, bytes.
    pub max_request_bytes: u32,
    /// Largest JSON-RPC response body, bytes.
    pub max_response_bytes: u32,
    /// Most calls in one JSON-RPC batch.
    pub max_batch: u32,
    /// Most simultaneous connections.
    pub max_connections: u32,
}

impl Default for ChainNodeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8545)),
            data_dir: None,
            chain_id: 31337,
            block_time: None,
            mnemonic: DEV_MNEMONIC.to_owned(),
            accounts: 10,
            balance_ether: 10_000,
            extra_alloc: Vec::new(),
            gas_limit: 30_000_000,
            // geth's limits: 5 MiB requests, 1000 calls per batch.
            max_request_bytes: 5 << 20,
            max_response_bytes: 64 << 20,
            max_batch: 1000,
            max_connections: 256,
        }
    }
}

/// `--block-time SECS` as the node takes it: `None` for instant blocks; refuses zero,
/// negative and non-finite values.
pub fn block_time(secs: Option<f64>) -> anyhow::Result<Option<Duration>> {
    match secs {
        Some(secs) if !(secs > 0.0 && secs.is_finite()) => {
            anyhow::bail!("--block-time must be a positive number of seconds, got {secs}")
        }
        Some(secs) => Ok(Some(Duration::from_secs_f64(secs))),
        None => Ok(None),
    }
}

/// A prefunded development account.
#[derive(Clone, Debug)]
pub struct DevAccount {
    /// Address.
    pub address: Address,
    /// Private key (dev only: printed for wallets and scripts).
    pub private_key: B256,
}

/// The first `count` accounts of `mnemonic` on Ethereum's derivation path.
pub fn dev_accounts(mnemonic: &str, count: u32) -> anyhow::Result<Vec<DevAccount>> {
    use alloy_signer_local::{MnemonicBuilder, coins_bip39::English};
    (0..count)
        .map(|index| {
            let signer = MnemonicBuilder::<English>::default()
                .phrase(mnemonic)
                .index(index)?
                .build()
                .context("deriving dev accounts from the mnemonic")?;
            Ok(DevAccount {
                address: signer.address(),
                private_key: signer.to_bytes(),
            })
        })
        .collect()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// A transaction on its way to the sequencer, with where to report its fate.
struct Submission {
    tx: Recovered<TxEnvelope>,
    reply: Option<oneshot::Sender<Result<(), TxError>>>,
}

struct Shared {
    chain: RwLock<Chain>,
    // Nonces handed to the sequencer and not yet executed, per sender.
    queued: Mutex<HashMap<Address, BTreeSet<u64>>>,
    submit: Sender<Submission>,
    instant: bool,
    gas_limit: u64,
}

impl Shared {
    fn chain(&self) -> std::sync::RwLockReadGuard<'_, Chain> {
        self.chain
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    // The next nonce of `address` counting queued transactions.
    fn pending_nonce(&self, address: &Address) -> u64 {
        let mut nonce = self.chain().state().account(address).map_or(0, |a| a.nonce);
        if let Some(queued) = self
            .queued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(address)
        {
            while queued.contains(&nonce) {
                nonce += 1;
            }
        }
        nonce
    }

    fn unqueue(&self, txs: &[(Address, u64)]) {
        let mut queued = self
            .queued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (sender, nonce) in txs {
            if let Some(set) = queued.get_mut(sender) {
                set.remove(nonce);
                if set.is_empty() {
                    queued.remove(sender);
                }
            }
        }
    }
}

/// A running chain node.
pub struct ChainNode {
    addr: SocketAddr,
    server: ServerHandle,
    stop: Arc<AtomicBool>,
    sequencer: Option<JoinHandle<()>>,
    accounts: Vec<DevAccount>,
    chain_id: u64,
    head: u64,
}

impl ChainNode {
    /// Opens (or creates) the chain and starts serving JSON-RPC.
    pub async fn start(config: ChainNodeConfig) -> anyhow::Result<Self> {
        let accounts = dev_accounts(&config.mnemonic, config.accounts)?;
        let wei_per_ether = U256::from(10u64).pow(U256::from(18u64));
        let chain_config = ChainConfig {
            chain_id: config.chain_id,
            gas_limit: config.gas_limit,
            coinbase: Address::ZERO,
            genesis_timestamp: 0,
            alloc: accounts
                .iter()
                .map(|a| (a.address, U256::from(config.balance_ether) * wei_per_ether))
                .chain(config.extra_alloc.iter().copied())
                .collect(),
        };
        let store: Box<dyn zg_core::evm::BlockStore> = match &config.data_dir {
            Some(dir) => Box::new(
                FileBlockStore::open(dir)
                    .with_context(|| format!("opening the block log in {}", dir.display()))?,
            ),
            None => Box::new(MemoryBlockStore::default()),
        };
        let chain = tokio::task::spawn_blocking(move || Chain::open(chain_config, store))
            .await?
            .context("opening the chain")?;
        let head = chain.head().header.number;
        let (submit, receiver) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            chain: RwLock::new(chain),
            queued: Mutex::new(HashMap::new()),
            submit,
            instant: config.block_time.is_none(),
            gas_limit: config.gas_limit,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let sequencer = {
            let shared = shared.clone();
            let stop = stop.clone();
            let block_time = config.block_time;
            std::thread::Builder::new()
                .name("zg-sequencer".into())
                .spawn(move || sequence(&shared, &receiver, block_time, &stop))?
        };
        let limits = ServerConfig::builder()
            .max_request_body_size(config.max_request_bytes)
            .max_response_body_size(config.max_response_bytes)
            .max_connections(config.max_connections)
            .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch))
            .build();
        let server = Server::builder()
            .set_config(limits)
            .build(config.listen)
            .await
            .with_context(|| format!("binding the chain JSON-RPC to {}", config.listen))?;
        let addr = server.local_addr()?;
        let handle = server.start(rpc_module(shared)?);
        tracing::info!(%addr, chain_id = config.chain_id, head, "chain node serving");
        Ok(Self {
            addr,
            server: handle,
            stop,
            sequencer: Some(sequencer),
            accounts,
            chain_id: config.chain_id,
            head,
        })
    }

    /// The JSON-RPC address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The prefunded dev accounts.
    pub fn accounts(&self) -> &[DevAccount] {
        &self.accounts
    }

    /// Chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Head block number when the node started.
    pub fn start_head(&self) -> u64 {
        self.head
    }

    /// Stops serving, lets the sequencer finish (queued transactions go into a last
    /// block) and waits for it.
    pub async fn stop(mut self) {
        let _ = self.server.stop();
        self.server.clone().stopped().await;
        self.stop.store(true, Ordering::SeqCst);
        if let Some(sequencer) = self.sequencer.take() {
            let _ = tokio::task::spawn_blocking(move || sequencer.join()).await;
        }
        tracing::info!("chain node stopped");
    }
}

// The sequencer: collects submissions, produces blocks, reports outcomes.
fn sequence(
    shared: &Shared,
    receiver: &Receiver<Submission>,
    block_time: Option<Duration>,
    stop: &AtomicBool,
) {
    let mut next_tick = block_time.map(|t| Instant::now() + t);
    loop {
        let mut batch = Vec::new();
        let stopping = loop {
            let wait = match next_tick {
                Some(tick) => tick.saturating_duration_since(Instant::now()),
                None if batch.is_empty() => Duration::from_millis(50),
                None => Duration::ZERO,
            };
            match receiver.recv_timeout(wait) {
                Ok(submission) => {
                    batch.push(submission);
                    batch.extend(
                        receiver
                            .try_iter()
                            .take(MAX_BATCH_TXS.saturating_sub(batch.len())),
                    );
                    if next_tick.is_none() || batch.len() >= MAX_BATCH_TXS {
                        break false;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if stop.load(Ordering::SeqCst) {
                        break true;
                    }
                    if next_tick.is_some_and(|t| Instant::now() >= t) || !batch.is_empty() {
                        break false;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break true,
            }
        };
        if let (Some(tick), Some(period)) = (next_tick.as_mut(), block_time)
            && Instant::now() >= *tick
        {
            *tick += period;
        }
        if !batch.is_empty() || (block_time.is_some() && !stopping) {
            produce(shared, batch);
        }
        if stopping {
            // Whatever arrived while stopping was acknowledged: it goes into a last block.
            let rest: Vec<Submission> = receiver.try_iter().collect();
            if !rest.is_empty() {
                produce(shared, rest);
            }
            return;
        }
    }
}

// Puts each sender's transactions in nonce order (senders keep their arrival order), so
// that nonces sent over concurrent connections need not arrive in order.
fn order_by_nonce(batch: Vec<Submission>) -> Vec<Submission> {
    let mut senders: Vec<Address> = Vec::new();
    let mut by_sender: HashMap<Address, Vec<Submission>> = HashMap::new();
    for submission in batch {
        let sender = submission.tx.signer();
        by_sender.entry(sender).or_insert_with(|| {
            senders.push(sender);
            Vec::new()
        });
        by_sender.get_mut(&sender).expect("inserted").push(submission);
    }
    senders
        .into_iter()
        .flat_map(|sender| {
            let mut txs = by_sender.remove(&sender).unwrap_or_default();
            txs.sort_by_key(|s| s.tx.inner().nonce());
            txs
        })
        .collect()
}

fn produce(shared: &Shared, batch: Vec<Submission>) {
    let batch = order_by_nonce(batch);
    let mut replies: HashMap<B256, oneshot::Sender<Result<(), TxError>>> = HashMap::new();
    let mut done: Vec<(Address, u64)> = Vec::with_capacity(batch.len());
    let mut txs = Vec::with_capacity(batch.len());
    for submission in batch {
        if let Some(reply) = submission.reply {
            replies.insert(*submission.tx.inner().tx_hash(), reply);
        }
        done.push((submission.tx.signer(), submission.tx.inner().nonce()));
        txs.push(submission.tx);
    }
    let mut first = true;
    while first || !txs.is_empty() {
        first = false;
        let result = {
            let mut chain = shared
                .chain
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            chain.produce_block(std::mem::take(&mut txs), now_secs())
        };
        match result {
            Ok(produced) => {
                tracing::debug!(
                    number = produced.number,
                    txs = produced.included.len(),
                    rejected = produced.rejected.len(),
                    "block produced"
                );
                for (hash, _) in produced.included {
                    if let Some(reply) = replies.remove(&hash) {
                        let _ = reply.send(Ok(()));
                    }
                }
                for (tx, error) in produced.rejected {
                    tracing::debug!(hash = %tx.inner().tx_hash(), %error, "transaction rejected");
                    if let Some(reply) = replies.remove(tx.inner().tx_hash()) {
                        let _ = reply.send(Err(error));
                    }
                }
                txs = produced.deferred;
            }
            Err(error) => {
                tracing::error!(%error, "producing a block failed; the node refuses transactions until restarted");
                for (_, reply) in replies.drain() {
                    let _ = reply.send(Err(TxError::Invalid(format!("block production failed: {error}"))));
                }
                break;
            }
        }
    }
    shared.unqueue(&done);
}

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

fn next_or_default<T: serde::de::DeserializeOwned>(
    seq: &mut jsonrpsee::types::params::ParamsSequence<'_>,
) -> RpcResult<Option<T>> {
    seq.optional_next::<T>()
}

fn send_raw(shared: &Arc<Shared>, raw: &Bytes) -> RpcResult<(B256, Option<Outcome>)> {
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
        if !queued.entry(sender).or_default().insert(nonce) {
            return Err(rpc_err(-32000, "replacement transaction underpriced"));
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
        .send(Submission { tx, reply })
        .map_err(|_| rpc_err(-32000, "the node is shutting down"))?;
    Ok((hash, receiver))
}

fn rpc_module(shared: Arc<Shared>) -> anyhow::Result<RpcModule<Arc<Shared>>> {
    let mut m = RpcModule::new(shared);
    m.register_method("web3_clientVersion", |_, _, _| -> RpcResult<String> {
        Ok(format!("zg-chain/{}", env!("CARGO_PKG_VERSION")))
    })?;
    m.register_method("net_version", |_, s, _| -> RpcResult<String> {
        Ok(s.chain().chain_id().to_string())
    })?;
    m.register_method("net_listening", |_, _, _| -> RpcResult<bool> { Ok(true) })?;
    m.register_method("eth_chainId", |_, s, _| -> RpcResult<U64> {
        Ok(U64::from(s.chain().chain_id()))
    })?;
    m.register_method("eth_syncing", |_, _, _| -> RpcResult<bool> { Ok(false) })?;
    m.register_method("eth_accounts", |_, _, _| -> RpcResult<Vec<Address>> {
        Ok(Vec::new())
    })?;
    m.register_method("eth_blockNumber", |_, s, _| -> RpcResult<U64> {
        Ok(U64::from(s.chain().head().header.number))
    })?;
    m.register_method("eth_gasPrice", |_, s, _| -> RpcResult<U256> {
        let base = s.chain().next_block_context(now_secs()).base_fee;
        Ok(U256::from(u128::from(base) + GWEI))
    })?;
    m.register_method("eth_maxPriorityFeePerGas", |_, _, _| -> RpcResult<U256> {
        Ok(U256::from(GWEI))
    })?;
    m.register_method("eth_feeHistory", |p: Params<'_>, s, _| -> RpcResult<FeeHistory> {
        let mut seq = p.sequence();
        let count: U64 = seq.next()?;
        let newest: BlockNumberOrTag = seq.next()?;
        let percentiles: Option<Vec<f64>> = next_or_default(&mut seq)?;
        fee_history(&s.chain(), count.to(), newest, percentiles)
    })?;
    m.register_method("eth_getBalance", |p: Params<'_>, s, _| -> RpcResult<U256> {
        let mut seq = p.sequence();
        let address: Address = seq.next()?;
        let block: Option<BlockId> = next_or_default(&mut seq)?;
        let chain = s.chain();
        at_head(&chain, block)?;
        Ok(chain.state().account(&address).map_or(U256::ZERO, |a| a.balance))
    })?;
    m.register_method(
        "eth_getTransactionCount",
        |p: Params<'_>, s, _| -> RpcResult<U64> {
            let mut seq = p.sequence();
            let address: Address = seq.next()?;
            let block: Option<BlockId> = next_or_default(&mut seq)?;
            if matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending))) {
                return Ok(U64::from(s.pending_nonce(&address)));
            }
            let chain = s.chain();
            at_head(&chain, block)?;
            Ok(U64::from(chain.state().account(&address).map_or(0, |a| a.nonce)))
        },
    )?;
    m.register_method("eth_getCode", |p: Params<'_>, s, _| -> RpcResult<Bytes> {
        let mut seq = p.sequence();
        let address: Address = seq.next()?;
        let block: Option<BlockId> = next_or_default(&mut seq)?;
        let chain = s.chain();
        at_head(&chain, block)?;
        Ok(chain.state().code_of(&address))
    })?;
    m.register_method("eth_getStorageAt", |p: Params<'_>, s, _| -> RpcResult<B256> {
        let mut seq = p.sequence();
        let address: Address = seq.next()?;
        let slot: U256 = seq.next()?;
        let block: Option<BlockId> = next_or_default(&mut seq)?;
        let chain = s.chain();
        at_head(&chain, block)?;
        Ok(B256::from(chain.state().storage(&address, slot)))
    })?;
    m.register_blocking_method("eth_call", |p: Params<'_>, s, _| -> RpcResult<Bytes> {
        let mut seq = p.sequence();
        let request: TransactionRequest = seq.next()?;
        let block: Option<BlockId> = next_or_default(&mut seq)?;
        let chain = s.chain();
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
    })?;
    m.register_blocking_method("eth_estimateGas", |p: Params<'_>, s, _| -> RpcResult<U64> {
        let mut seq = p.sequence();
        let request: TransactionRequest = seq.next()?;
        let block: Option<BlockId> = next_or_default(&mut seq)?;
        let chain = s.chain();
        at_head(&chain, block)?;
        match chain.estimate_gas(&call_request(request), now_secs()) {
            Ok(gas) => Ok(U64::from(gas)),
            Err(EstimateError::Invalid(e)) => Err(tx_err(&e)),
            Err(EstimateError::Failed(TxOutcome::Revert { output })) => Err(reverted(&output)),
            Err(EstimateError::Failed(outcome)) => Err(rpc_err(
                -32000,
                format!("gas required exceeds allowance ({}): {outcome:?}", s.gas_limit),
            )),
        }
    })?;
    m.register_async_method("eth_sendRawTransaction", |p, s, _| async move {
        let raw: Bytes = p.one()?;
        let (hash, receiver) = send_raw(&s, &raw)?;
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
        RpcResult::Ok(hash)
    })?;
    m.register_method(
        "eth_getTransactionByHash",
        |p: Params<'_>, s, _| -> RpcResult<Option<Transaction>> {
            let hash: B256 = p.one()?;
            let chain = s.chain();
            Ok(chain
                .transaction(&hash)
                .map(|(block, i)| rpc_transaction(block, i)))
        },
    )?;
    m.register_method(
        "eth_getTransactionReceipt",
        |p: Params<'_>, s, _| -> RpcResult<Option<TransactionReceipt>> {
            let hash: B256 = p.one()?;
            let chain = s.chain();
            Ok(chain.transaction(&hash).map(|(block, i)| rpc_receipt(block, i)))
        },
    )?;
    m.register_method(
        "eth_getBlockByNumber",
        |p: Params<'_>, s, _| -> RpcResult<Option<Block>> {
            let (number, full): (BlockNumberOrTag, bool) = p.parse()?;
            let chain = s.chain();
            let number = resolve(&chain, Some(BlockId::Number(number)))?;
            Ok(number.and_then(|n| chain.block(n)).map(|b| rpc_block(b, full)))
        },
    )?;
    m.register_method(
        "eth_getBlockByHash",
        |p: Params<'_>, s, _| -> RpcResult<Option<Block>> {
            let (hash, full): (B256, bool) = p.parse()?;
            let chain = s.chain();
            Ok(chain.block_by_hash(&hash).map(|b| rpc_block(b, full)))
        },
    )?;
    m.register_blocking_method("eth_getLogs", |p: Params<'_>, s, _| -> RpcResult<Vec<Log>> {
        let filter: Filter = p.one()?;
        logs(&s.chain(), &filter)
    })?;
    Ok(m)
}

/// Prints the chain id, head, mnemonic and dev accounts (with their keys: dev only).
pub fn print_accounts(node: &ChainNode, mnemonic: &str, balance_ether: u64) {
    println!(
        "  chain id {} · head block {}",
        node.chain_id(),
        node.start_head()
    );
    println!("  dev accounts ({balance_ether} ETH each at genesis), mnemonic \"{mnemonic}\":");
    for (i, account) in node.accounts().iter().enumerate() {
        println!("    ({i}) {}  key {}", account.address, account.private_key);
    }
}
