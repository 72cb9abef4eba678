//! The chain node's configuration and lifecycle: dev accounts, the block log, the
//! sequencer thread and the JSON-RPC server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use alloy_primitives::{Address, B256, U256};
use anyhow::Context as _;
use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};
use zg_contracts::DEFAULT_PRICE_PER_SECTOR;
use zg_contracts::compute::DEFAULT_LOCK_TIME_SECS;
use zg_evm::system::SystemConfig;
use zg_evm::{BlockLog, Chain, ChainConfig};

use crate::rpc::rpc_module;
use crate::sequencer::{Shared, sequence};
use crate::validator::{ValidatorRuntime, ValidatorSettings};

/// Hardhat's and Anvil's development mnemonic: wallets and tools know its accounts.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";
/// Most logs one `eth_getLogs` returns (as Infura and Alchemy cap it).
pub const MAX_LOGS: usize = 10_000;
/// Most blocks one `eth_getLogs` or `eth_feeHistory` spans.
pub const MAX_BLOCK_RANGE: u64 = 10_000;
// Most transactions the sequencer puts in one batch (more wait for the next block).

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
    /// Wei per 256-byte sector 0G's Flow charges (the market's `pricePerSector`).
    pub price_per_sector: U256,
    /// Seconds a compute sub-account's refund stays locked (InferenceServing's `lockTime`).
    pub refund_lock_secs: u64,
    /// `Some`: one of many validators under consensus instead of the single sequencer.
    pub validator: Option<ValidatorSettings>,
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
            price_per_sector: U256::from(DEFAULT_PRICE_PER_SECTOR),
            refund_lock_secs: DEFAULT_LOCK_TIME_SECS,
            validator: None,
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

/// A running chain node.
pub struct ChainNode {
    addr: SocketAddr,
    server: ServerHandle,
    stop: Arc<AtomicBool>,
    sequencer: Option<JoinHandle<()>>,
    validator: Option<ValidatorRuntime>,
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
            system: Some(SystemConfig {
                price_per_sector: config.price_per_sector,
                refund_lock_secs: config.refund_lock_secs,
                // Dev account 0 owns the compute contracts, as 0G's deployer does.
                compute_owner: accounts.first().map_or(Address::ZERO, |a| a.address),
                // DAEntrance's blob price starts at 0, as 0G's does.
                ..SystemConfig::default()
            }),
        };
        let store = match &config.data_dir {
            Some(dir) => BlockLog::open_path(dir)
                .with_context(|| format!("opening the block log in {}", dir.display()))?,
            None => BlockLog::in_memory(),
        };
        let chain = tokio::task::spawn_blocking(move || Chain::open(chain_config, store))
            .await?
            .context("opening the chain")?;
        let head = chain.head().header.number;
        let (submit, receiver) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            chain: RwLock::new(chain),
            queued: Mutex::new(crate::sequencer::Queued::default()),
            submit,
            instant: config.block_time.is_none() && config.validator.is_none(),
            gas_limit: config.gas_limit,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (sequencer, validator) = match config.validator.clone() {
            None => {
                let shared = shared.clone();
                let stop = stop.clone();
                let block_time = config.block_time;
                let thread = std::thread::Builder::new()
                    .name("zg-sequencer".into())
                    .spawn(move || sequence(&shared, &receiver, block_time, &stop))?;
                (Some(thread), None)
            }
            Some(settings) => {
                let runtime = crate::validator::start(
                    settings,
                    config.chain_id,
                    shared.clone(),
                    receiver,
                    stop.clone(),
                )
                .await
                .context("starting consensus")?;
                (None, Some(runtime))
            }
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
        let handle = server.start(rpc_module(shared));
        tracing::info!(%addr, chain_id = config.chain_id, head, "chain node serving");
        Ok(Self {
            addr,
            server: handle,
            stop,
            sequencer,
            validator,
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
        if let Some(validator) = self.validator.take() {
            validator.running.engine.actor.stop(None);
            let _ = validator.running.engine.handle.await;
            validator.running.app.abort();
            let _ = tokio::task::spawn_blocking(move || validator.pool_thread.join()).await;
        }
        tracing::info!("chain node stopped");
    }
}

// The sequencer: collects submissions, produces blocks, reports outcomes.

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
    println!(
        "  0G Flow {}  ·  storage market {} (pricePerSector() wei per 256-byte sector)",
        zg_contracts::FLOW_ADDRESS,
        zg_contracts::MARKET_ADDRESS
    );
}
