//! The chain node as one of many validators: transactions wait in a pool (and are
//! relayed to the other validators' JSON-RPC, so the proposer has them), Malachite
//! decides the blocks, and the node commits each decided block before JSON-RPC
//! reports it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use alloy_consensus::transaction::Recovered;
use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_primitives::{Address, B256, Bytes};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use zg_consensus::{Host, Multiaddr, Validator, ValidatorKey, ValidatorSet};
use zg_evm::Chain;

use crate::sequencer::{Shared, Submission};

/// The p2p identity's secret derived from a validator's consensus secret (distinct
/// keys, one flag).
pub fn derived_network_secret(key_secret: &[u8; 32]) -> [u8; 32] {
    alloy_primitives::keccak256([b"zg-network-key".as_slice(), key_secret.as_slice()].concat()).0
}

/// A follower's p2p secret: read from `path`, or made at random and written there
/// (fsynced) on its first start, so its peer id stays the same across restarts.
pub fn persistent_network_secret(path: &std::path::Path) -> std::io::Result<[u8; 32]> {
    use std::io::Write as _;
    match std::fs::read_to_string(path) {
        Ok(hex) => zg_codec::hex::parse::<32>(hex.trim()).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: not a 32-byte hex key: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret: [u8; 32] = rand::random();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let partial = path.with_extension("partial");
            let mut file = std::fs::File::create(&partial)?;
            file.write_all(zg_codec::hex::encode(&secret).as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&partial, path)?;
            // The rename itself survives a crash once its directory is synced.
            if let Some(dir) = path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(secret)
        }
        Err(e) => Err(e),
    }
}

/// A consensus node's settings: a validator's, or a follower's (no key).
#[derive(Clone, Debug)]
pub struct ValidatorSettings {
    /// Its ed25519 consensus secret; `None`: a follower, which re-executes and
    /// commits the decided blocks and serves them, but never proposes or votes.
    pub key_secret: Option<[u8; 32]>,
    /// The ed25519 secret of its p2p identity.
    pub network_secret: [u8; 32],
    /// Consensus p2p address to listen on.
    pub p2p_listen: Multiaddr,
    /// The other validators' p2p addresses.
    pub p2p_peers: Vec<Multiaddr>,
    /// Every validator's ed25519 public key (the genesis validator set, equal power).
    pub validators: Vec<[u8; 32]>,
    /// The other validators' JSON-RPC URLs, to relay transactions to.
    pub rpc_peers: Vec<String>,
    /// Where the consensus write-ahead log lives.
    pub wal_dir: PathBuf,
    /// The propose timeout of round 0.
    pub propose_timeout: Duration,
    /// How long an idle chain waits before an empty block (a transaction starts the next height at once).
    pub block_time: Duration,
    /// Test-only: propose blocks with a false state root (a Byzantine proposer).
    pub propose_invalid: bool,
}

// Pending transactions, by sender in nonce order, senders in arrival order.
#[derive(Default)]
struct Pool {
    senders: Vec<Address>,
    by_sender: HashMap<Address, Vec<Recovered<TxEnvelope>>>,
    // Each pending transaction's sender, by hash, for checking proposals.
    by_hash: HashMap<B256, Address>,
}

impl Pool {
    fn add(&mut self, tx: Recovered<TxEnvelope>) {
        let sender = tx.signer();
        let txs = self.by_sender.entry(sender).or_insert_with(|| {
            self.senders.push(sender);
            Vec::new()
        });
        let nonce = tx.inner().nonce();
        let at = txs.partition_point(|t| t.inner().nonce() < nonce);
        if txs.get(at).is_none_or(|t| t.inner().nonce() != nonce) {
            self.by_hash.insert(*tx.inner().tx_hash(), sender);
            txs.insert(at, tx);
        }
    }

    fn take(&self, max: usize) -> Vec<Recovered<TxEnvelope>> {
        self.senders
            .iter()
            .flat_map(|s| self.by_sender.get(s).into_iter().flatten())
            .take(max)
            .cloned()
            .collect()
    }

    // Drops what the chain has executed: every nonce below each sender's state nonce.
    fn prune(&mut self, chain: &Chain) -> Vec<(Address, u64)> {
        let mut gone = Vec::new();
        for (sender, txs) in &mut self.by_sender {
            let next = chain.state().account(sender).map_or(0, |a| a.nonce);
            txs.retain(|tx| {
                let keep = tx.inner().nonce() >= next;
                if !keep {
                    gone.push((*sender, tx.inner().nonce()));
                    self.by_hash.remove(tx.inner().tx_hash());
                }
                keep
            });
        }
        self.by_sender.retain(|_, txs| !txs.is_empty());
        let by_sender = &self.by_sender;
        self.senders.retain(|s| by_sender.contains_key(s));
        gone
    }
}

/// What the consensus engine sees of the node.
pub(crate) struct ValidatorHost {
    shared: Arc<Shared>,
    pool: Mutex<Pool>,
    arrivals: tokio::sync::Notify,
}

impl Host for ValidatorHost {
    fn chain(&self) -> &RwLock<Chain> {
        &self.shared.chain
    }

    fn pending(&self, max: usize) -> Vec<Recovered<TxEnvelope>> {
        self.pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take(max)
    }

    fn committed(&self, number: u64) {
        let gone = {
            let chain = self.shared.chain();
            self.pool
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .prune(&chain)
        };
        self.shared.unqueue(&gone);
        tracing::debug!(number, "block committed");
    }

    fn arrivals(&self) -> &tokio::sync::Notify {
        &self.arrivals
    }

    fn sender_of(&self, hash: &B256) -> Option<Address> {
        self.pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .by_hash
            .get(hash)
            .copied()
    }
}

/// The validator's parts: the engine, the task feeding the pool, the relay.
pub(crate) struct ValidatorRuntime {
    pub(crate) running: zg_consensus::RunningValidator,
    pub(crate) pool_thread: std::thread::JoinHandle<()>,
}

/// Starts consensus for the node, and the thread moving submitted transactions into
/// the pool (relaying each to the other validators).
pub(crate) async fn start(
    settings: ValidatorSettings,
    chain_id: u64,
    shared: Arc<Shared>,
    receiver: Receiver<Submission>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<ValidatorRuntime> {
    let key = settings
        .key_secret
        .map(|secret| ValidatorKey::from_secret(secret, chain_id));
    let validators = settings
        .validators
        .iter()
        .map(|public| {
            let key = zg_consensus::PublicKey::from_bytes(*public)
                .map_err(|e| anyhow::anyhow!("validator key {}: {e}", zg_codec::hex::encode_0x(public)))?;
            Ok(Validator::new(key, 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let validators = ValidatorSet::new(validators)?;
    let host = Arc::new(ValidatorHost {
        shared: shared.clone(),
        pool: Mutex::new(Pool::default()),
        arrivals: tokio::sync::Notify::new(),
    });
    let config = zg_consensus::ValidatorConfig {
        moniker: key
            .as_ref()
            .map_or_else(|| "follower".to_owned(), |k| format!("validator-{}", k.address())),
        chain_id,
        key,
        network_secret: settings.network_secret,
        wal_dir: settings.wal_dir.clone(),
        listen: settings.p2p_listen.clone(),
        peers: settings.p2p_peers.clone(),
        validators,
        timeouts: zg_consensus::LinearTimeouts {
            propose: settings.propose_timeout,
            ..zg_consensus::LinearTimeouts::default()
        },
        block_time: settings.block_time,
        propose_invalid: settings.propose_invalid,
        coinbase: Address::ZERO,
    };
    match &config.key {
        Some(key) => {
            tracing::info!(address = %key.address(), validators = settings.validators.len(), "validating");
        }
        None => tracing::info!(
            validators = settings.validators.len(),
            "following (no --validator-key): re-executing and serving the decided blocks, not voting"
        ),
    }
    let running = zg_consensus::start(config, host.clone()).await?;
    let relays: Vec<_> = settings
        .rpc_peers
        .into_iter()
        .map(|url| {
            let (relay, relayed) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
            tokio::spawn(relay_to(url, relayed));
            relay
        })
        .collect();
    let pool_thread = std::thread::Builder::new()
        .name("zg-pool".into())
        .spawn(move || {
            loop {
                match receiver.recv_timeout(Duration::from_millis(100)) {
                    Ok(submission) => {
                        if submission.relay {
                            for relay in &relays {
                                let _ = relay.send(submission.raw.clone());
                            }
                        }
                        host.pool
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .add(submission.tx);
                        host.arrivals.notify_one();
                        if let Some(reply) = submission.reply {
                            let _ = reply.send(Ok(()));
                        }
                    }
                    Err(RecvTimeoutError::Timeout) if !stop.load(Ordering::SeqCst) => {}
                    Err(_) => return,
                }
            }
        })?;
    Ok(ValidatorRuntime { running, pool_thread })
}

// Sends each accepted transaction to another validator (best effort: a peer that is
// down misses it, and gets the block instead); one task per peer, so a slow one
// holds up no other.
async fn relay_to(url: String, mut relayed: tokio::sync::mpsc::UnboundedReceiver<Bytes>) {
    let client = match HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(2))
        .build(&url)
    {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%url, %error, "cannot relay transactions to this peer");
            return;
        }
    };
    while let Some(raw) = relayed.recv().await {
        let result: Result<B256, _> = client.request("zg_relayRawTransaction", rpc_params![raw]).await;
        if let Err(error) = result {
            tracing::debug!(%url, %error, "relaying a transaction failed");
        }
    }
}
