//! Many validators beside the single sequencer: transactions per second and time to
//! finality of zg-chain with 4 validators under Malachite, each with its own chain,
//! block log, JSON-RPC and libp2p port on loopback (in this process), beside one
//! sequencer node. Both are driven over JSON-RPC as users drive them, with the same
//! signed transactions; the ratio (sequencer time / validators time) is the price of
//! Byzantine fault tolerance on one machine, where four nodes share its cores.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use rayon::prelude::*;
use zg_chain::api::EthApiClient;
use zg_chain::{ChainNode, ChainNodeConfig, ValidatorSettings};

use crate::{Pair, Side};

const CHAIN_ID: u64 = 16601;
const VALIDATORS: u8 = 4;
/// Transfers per throughput run, from as many senders, spread over the nodes.
const BATCH: usize = 2_000;
/// Throughput runs signed before timing starts; later runs sign their own.
const PRESIGNED_BATCHES: u64 = 12;
/// Concurrent JSON-RPC clients sending a batch.
const CLIENTS: usize = 8;
/// Every transfer pays this address one wei: its balance says how many landed.
const SINK: Address = Address::repeat_byte(0x5c);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn key(seed: u64) -> PrivateKeySigner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&(seed + 1).to_be_bytes());
    bytes[31] = 0x5c;
    PrivateKeySigner::from_bytes(&B256::from(bytes)).expect("valid key")
}

fn transfer(from: &PrivateKeySigner, nonce: u64) -> Bytes {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(SINK),
        value: U256::from(1u64),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let signature = from.sign_hash_sync(&tx.signature_hash()).expect("signs");
    TxEnvelope::from(tx.into_signed(signature)).encoded_2718().into()
}

/// The senders, their transactions by run, and the finality sender's.
struct Workload {
    senders: Vec<PrivateKeySigner>,
    batches: Vec<Vec<Bytes>>,
    finality_sender: PrivateKeySigner,
    finality_txs: Vec<Bytes>,
}

impl Workload {
    fn new() -> Self {
        let senders: Vec<_> = (0..BATCH as u64).into_par_iter().map(key).collect();
        let batches = (0..PRESIGNED_BATCHES)
            .map(|nonce| senders.par_iter().map(|k| transfer(k, nonce)).collect())
            .collect();
        let finality_sender = key(u64::MAX - 1);
        let finality_txs = (0..4_000)
            .into_par_iter()
            .map(|n| transfer(&finality_sender, n))
            .collect();
        Self {
            senders,
            batches,
            finality_sender,
            finality_txs,
        }
    }

    fn alloc(&self) -> Vec<(Address, U256)> {
        let ether = U256::from(10u64).pow(U256::from(21u64));
        self.senders
            .iter()
            .chain([&self.finality_sender])
            .map(|k| (k.address(), ether))
            .collect()
    }

    fn batch(&self, run: u64) -> Vec<Bytes> {
        match self.batches.get(run as usize) {
            Some(batch) => batch.clone(),
            None => self.senders.par_iter().map(|k| transfer(k, run)).collect(),
        }
    }

    fn finality_tx(&self, nonce: u64) -> Bytes {
        match self.finality_txs.get(nonce as usize) {
            Some(tx) => tx.clone(),
            None => transfer(&self.finality_sender, nonce),
        }
    }
}

/// Running nodes (4 validators, or the one sequencer), stopped when dropped.
struct Network {
    runtime: Arc<tokio::runtime::Runtime>,
    nodes: Vec<ChainNode>,
    clients: Vec<HttpClient>,
    _dir: tempfile::TempDir,
}

impl Network {
    fn start(runtime: Arc<tokio::runtime::Runtime>, validators: bool, alloc: &[(Address, U256)]) -> Self {
        let dir = tempfile::tempdir_in(crate::bench_dir()).expect("temp dir");
        let count = if validators { usize::from(VALIDATORS) } else { 1 };
        let rpc: Vec<u16> = (0..count).map(|_| free_port()).collect();
        let p2p: Vec<u16> = (0..count).map(|_| free_port()).collect();
        let secrets: Vec<[u8; 32]> = (1..=VALIDATORS).map(|i| [i; 32]).collect();
        let public_keys: Vec<[u8; 32]> = secrets
            .iter()
            .map(|s| {
                *zg_consensus::ValidatorKey::from_secret(*s, CHAIN_ID)
                    .public_key()
                    .as_bytes()
            })
            .collect();
        let multiaddr = |port: u16| format!("/ip4/127.0.0.1/tcp/{port}").parse().expect("multiaddr");
        let nodes = runtime.block_on(async {
            let mut nodes = Vec::new();
            for i in 0..count {
                let data_dir = dir.path().join(format!("node{i}"));
                let validator = validators.then(|| ValidatorSettings {
                    key_secret: Some(secrets[i]),
                    network_secret: zg_chain::derived_network_secret(&secrets[i]),
                    p2p_listen: multiaddr(p2p[i]),
                    p2p_peers: (0..count)
                        .filter(|j| *j != i)
                        .map(|j| multiaddr(p2p[j]))
                        .collect(),
                    validators: public_keys.clone(),
                    rpc_peers: (0..count)
                        .filter(|j| *j != i)
                        .map(|j| format!("http://127.0.0.1:{}", rpc[j]))
                        .collect(),
                    wal_dir: data_dir.join("consensus"),
                    propose_timeout: Duration::from_secs(1),
                    // The idle pace; a transaction starts the next height at once.
                    block_time: Duration::from_secs(1),
                    propose_invalid: false,
                });
                let node = ChainNode::start(ChainNodeConfig {
                    listen: format!("127.0.0.1:{}", rpc[i]).parse().expect("address"),
                    data_dir: Some(data_dir),
                    chain_id: CHAIN_ID,
                    accounts: 0,
                    extra_alloc: alloc.to_vec(),
                    validator,
                    ..ChainNodeConfig::default()
                })
                .await
                .expect("node starts");
                nodes.push(node);
            }
            nodes
        });
        let clients = nodes
            .iter()
            .map(|n| {
                HttpClientBuilder::default()
                    .build(format!("http://{}", n.local_addr()))
                    .expect("client")
            })
            .collect();
        let network = Self {
            runtime,
            nodes,
            clients,
            _dir: dir,
        };
        // The validators have decided a first block: consensus is up (the sequencer
        // makes none until a transaction comes).
        if validators {
            network
                .wait(|client| async move { client.block_number().await.is_ok_and(|b| b.to::<u64>() >= 1) });
        }
        network
    }

    // Polls `done` with node 0's client every millisecond.
    fn wait<F: std::future::Future<Output = bool>>(&self, done: impl Fn(HttpClient) -> F) {
        self.runtime.block_on(async {
            while !done(self.clients[0].clone()).await {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
    }

    // Sends a batch from `CLIENTS` clients spread over the nodes; returns when every
    // transfer is in a decided block (the sink's balance reaches `expected`).
    fn run_batch(&self, batch: Vec<Bytes>, expected: U256) {
        let batch = Arc::new(batch);
        self.runtime.block_on(async {
            let senders: Vec<_> = (0..CLIENTS)
                .map(|c| {
                    let client = self.clients[c % self.clients.len()].clone();
                    let batch = batch.clone();
                    tokio::spawn(async move {
                        for tx in batch.iter().skip(c).step_by(CLIENTS) {
                            client.send_raw_transaction(tx.clone()).await.expect("accepted");
                        }
                    })
                })
                .collect();
            for sender in senders {
                sender.await.expect("client finishes");
            }
        });
        self.wait(|client| async move { client.balance(SINK, None).await.is_ok_and(|b| b >= expected) });
    }

    // One transfer sent to node 0, until its receipt is served (decided).
    fn run_one(&self, tx: Bytes) {
        let hash = self
            .runtime
            .block_on(self.clients[0].send_raw_transaction(tx))
            .expect("accepted");
        self.wait(|client| async move { matches!(client.transaction_receipt(hash).await, Ok(Some(_))) });
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let nodes = std::mem::take(&mut self.nodes);
        self.runtime.block_on(async {
            for node in nodes {
                node.stop().await;
            }
        });
    }
}

// A side that starts its network on first use and keeps it for the pair's life.
fn lazy_network(
    runtime: Arc<tokio::runtime::Runtime>,
    validators: bool,
    workload: Arc<Workload>,
    mut run: impl FnMut(&Network, &Workload) + 'static,
) -> impl FnMut() + 'static {
    let network: Mutex<Option<Network>> = Mutex::new(None);
    move || {
        let mut network = network.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let network =
            network.get_or_insert_with(|| Network::start(runtime.clone(), validators, &workload.alloc()));
        run(network, &workload);
    }
}

fn throughput_side(
    runtime: Arc<tokio::runtime::Runtime>,
    validators: bool,
    workload: Arc<Workload>,
) -> impl FnMut() {
    let mut runs = 0u64;
    lazy_network(runtime, validators, workload, move |network, workload| {
        let batch = workload.batch(runs);
        runs += 1;
        network.run_batch(batch, U256::from(runs * BATCH as u64));
    })
}

fn finality_side(
    runtime: Arc<tokio::runtime::Runtime>,
    validators: bool,
    workload: Arc<Workload>,
) -> impl FnMut() {
    let mut nonce = 0u64;
    lazy_network(runtime, validators, workload, move |network, workload| {
        network.run_one(workload.finality_tx(nonce));
        nonce += 1;
    })
}

/// The pairs. `scale` is unused: the runs are sized in transactions.
pub fn pairs(_scale: usize) -> Vec<Pair> {
    let workload = Arc::new(Workload::new());
    let runtime = crate::runtime(Some(2));
    vec![
        Pair {
            kernel: "chain throughput",
            shape: format!("{BATCH} transfers, JSON-RPC, {CLIENTS} clients"),
            bytes: 0,
            items: BATCH as u64,
            zg: Side::new(
                "4 validators (Malachite, loopback)",
                throughput_side(runtime.clone(), true, workload.clone()),
            ),
            peer: Some(Side::new(
                "1 sequencer",
                throughput_side(runtime.clone(), false, workload.clone()),
            )),
            target: None,
        },
        Pair {
            kernel: "chain time to finality",
            shape: "1 transfer: send until receipt".into(),
            bytes: 0,
            items: 0,
            zg: Side::new(
                "4 validators (Malachite, loopback)",
                finality_side(runtime.clone(), true, workload.clone()),
            ),
            peer: Some(Side::new("1 sequencer", finality_side(runtime, false, workload))),
            target: None,
        },
    ]
}
