//! Four validators and a follower in one process, each with its own chain, over real
//! libp2p on loopback: the validators decide blocks with the transactions given to
//! them, the follower (no key, no vote) re-executes and commits the same blocks, and
//! every node ends with the same blocks and the same state.

use std::net::TcpListener;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use alloy_consensus::transaction::Recovered;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use arc_malachitebft_app_channel::app::types::core::LinearTimeouts;
use zg_consensus::{Host, Validator, ValidatorConfig, ValidatorKey, ValidatorSet};
use zg_evm::{BlockLog, Chain, ChainConfig};

const CHAIN_ID: u64 = 31337;

struct TestHost {
    chain: RwLock<Chain>,
    pool: Mutex<Vec<Recovered<TxEnvelope>>>,
    arrivals: tokio::sync::Notify,
}

impl Host for TestHost {
    fn chain(&self) -> &RwLock<Chain> {
        &self.chain
    }

    fn pending(&self, max: usize) -> Vec<Recovered<TxEnvelope>> {
        self.pool.lock().unwrap().iter().take(max).cloned().collect()
    }

    fn committed(&self, number: u64) {
        let chain = self.chain.read().unwrap();
        let block = chain.block(number).unwrap();
        let included: Vec<B256> = block
            .transactions
            .iter()
            .map(|tx| *tx.inner().tx_hash())
            .collect();
        self.pool
            .lock()
            .unwrap()
            .retain(|tx| !included.contains(tx.inner().tx_hash()));
    }

    fn arrivals(&self) -> &tokio::sync::Notify {
        &self.arrivals
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn transfer(from: &PrivateKeySigner, nonce: u64, to: Address) -> Recovered<TxEnvelope> {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value: U256::from(1_000 + nonce),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let signature = from.sign_hash_sync(&tx.signature_hash()).unwrap();
    Recovered::new_unchecked(TxEnvelope::from(tx.into_signed(signature)), from.address())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_validators_decide_the_same_blocks_and_a_follower_follows() {
    let alice = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x11)).unwrap();
    let chain_config = ChainConfig {
        chain_id: CHAIN_ID,
        gas_limit: 30_000_000,
        coinbase: Address::ZERO,
        genesis_timestamp: 1_700_000_000,
        alloc: vec![(alice.address(), U256::from(10u64).pow(U256::from(21u64)))],
        system: None,
    };
    let keys: Vec<ValidatorKey> = (0..4u8)
        .map(|i| ValidatorKey::from_secret([i + 1; 32], CHAIN_ID))
        .collect();
    let validators =
        ValidatorSet::new(keys.iter().map(|k| Validator::new(k.public_key(), 1)).collect()).unwrap();
    // Four validators, then the follower.
    let ports: Vec<u16> = (0..5).map(|_| free_port()).collect();
    let address = |port: u16| format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
    let wal = tempfile::tempdir().unwrap();
    let timeouts = LinearTimeouts {
        propose: Duration::from_millis(1500),
        ..LinearTimeouts::default()
    };
    let mut hosts = Vec::new();
    let mut running = Vec::new();
    let roles = keys.iter().cloned().map(Some).chain([None]);
    for (i, key) in roles.enumerate() {
        let host = Arc::new(TestHost {
            chain: RwLock::new(Chain::open(chain_config.clone(), BlockLog::in_memory()).unwrap()),
            pool: Mutex::new(Vec::new()),
            arrivals: tokio::sync::Notify::new(),
        });
        let config = ValidatorConfig {
            moniker: format!("validator-{i}"),
            chain_id: CHAIN_ID,
            key,
            network_secret: [0x40 + i as u8; 32],
            wal_dir: wal.path().join(format!("v{i}")),
            listen: address(ports[i]),
            peers: ports
                .iter()
                .filter(|p| **p != ports[i])
                .map(|p| address(*p))
                .collect(),
            validators: validators.clone(),
            timeouts,
            block_time: Duration::from_millis(100),
            propose_invalid: false,
            coinbase: Address::repeat_byte(0xc0 + i as u8),
        };
        running.push(zg_consensus::start(config, host.clone()).await.unwrap());
        hosts.push(host);
    }
    // Every node's pool gets the transfers (what mempool gossip will do).
    let bob = Address::repeat_byte(0xb0);
    let txs: Vec<_> = (0..12).map(|nonce| transfer(&alice, nonce, bob)).collect();
    for host in &hosts[..4] {
        host.pool.lock().unwrap().extend(txs.iter().cloned());
        host.arrivals.notify_one();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = hosts.iter().all(|h| {
            let chain = h.chain.read().unwrap();
            chain.head().header.number >= 5
                && chain
                    .state()
                    .account(&alice.address())
                    .is_some_and(|a| a.nonce == 12)
        });
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "validators did not decide 5 blocks with the 12 transfers in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let height = hosts
        .iter()
        .map(|h| h.chain.read().unwrap().head().header.number)
        .min()
        .unwrap();
    for number in 1..=height {
        let blocks: Vec<(B256, B256)> = hosts
            .iter()
            .map(|h| {
                let chain = h.chain.read().unwrap();
                let block = chain.block(number).unwrap();
                assert!(
                    block.certificate.is_some(),
                    "block {number} without its certificate"
                );
                (block.hash, block.header.state_root)
            })
            .collect();
        assert!(
            blocks.windows(2).all(|w| w[0] == w[1]),
            "block {number} differs: {blocks:?}"
        );
    }
    // Proposers rotate: more than one fee recipient among the first blocks.
    let chain = hosts[0].chain.read().unwrap();
    let mut proposers: Vec<Address> = (1..=height)
        .map(|n| chain.block(n).unwrap().header.beneficiary)
        .collect();
    proposers.sort();
    proposers.dedup();
    assert!(proposers.len() > 1, "{proposers:?}");
    assert_eq!(
        chain.state().account(&bob).unwrap().balance,
        U256::from((0..12u64).map(|n| 1_000 + n).sum::<u64>())
    );
}
