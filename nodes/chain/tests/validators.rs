//! Four real `zg-chain` validators on loopback under Malachite consensus, driven by
//! alloy through any of them: the same blocks and state everywhere; with one killed
//! (kill -9) blocks go on; with two killed they stop and no height ever has two
//! blocks; restarted, the chain resumes and the restarted nodes catch up.

use std::ffi::OsString;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, TxKind, U256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::{BlockNumberOrTag, Filter, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use zg_consensus::ValidatorKey;
use zg_evm::contracts::{calldata, value_set_topic, value_store_init};
use zg_node::harness::NodeProcess;

// Dev account 0 of the default mnemonic.
const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const CHAIN_ID: u64 = 31337;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Testnet {
    dir: tempfile::TempDir,
    secrets: Vec<[u8; 32]>,
    rpc: Vec<u16>,
    p2p: Vec<u16>,
    nodes: Vec<Option<NodeProcess>>,
    // More flags for one node.
    extra: Vec<Vec<String>>,
}

impl Testnet {
    fn new(n: usize) -> Self {
        Self::with_flags(n, Vec::new())
    }

    fn with_flags(n: usize, mut extra: Vec<Vec<String>>) -> Self {
        extra.resize(n, Vec::new());
        let mut net = Self {
            extra,
            dir: tempfile::tempdir().unwrap(),
            secrets: (0..n as u8).map(|i| [i + 1; 32]).collect(),
            rpc: (0..n).map(|_| free_port()).collect(),
            p2p: (0..n).map(|_| free_port()).collect(),
            nodes: (0..n).map(|_| None).collect(),
        };
        for i in 0..n {
            net.start(i);
        }
        net
    }

    fn start(&mut self, i: usize) {
        let hex = |b: &[u8]| zg_codec::hex::encode(b);
        let data = self.dir.path().join(format!("node{i}"));
        let mut args: Vec<OsString> = vec![
            "--listen".into(),
            format!("127.0.0.1:{}", self.rpc[i]).into(),
            "--data-dir".into(),
            data.into(),
            "--validator-key".into(),
            hex(&self.secrets[i]).into(),
            "--p2p-listen".into(),
            format!("/ip4/127.0.0.1/tcp/{}", self.p2p[i]).into(),
            "--block-time".into(),
            "0.2".into(),
            "--propose-timeout-ms".into(),
            "1000".into(),
        ];
        for (j, secret) in self.secrets.iter().enumerate() {
            let key = ValidatorKey::from_secret(*secret, CHAIN_ID);
            args.extend(["--validator".into(), hex(key.public_key().as_bytes()).into()]);
            if j != i {
                args.extend([
                    "--p2p-peer".into(),
                    format!("/ip4/127.0.0.1/tcp/{}", self.p2p[j]).into(),
                ]);
                args.extend([
                    "--rpc-peer".into(),
                    format!("http://127.0.0.1:{}", self.rpc[j]).into(),
                ]);
            }
        }
        args.extend(self.extra[i].iter().map(OsString::from));
        let args: Vec<&std::ffi::OsStr> = args.iter().map(OsString::as_os_str).collect();
        let (process, _) = NodeProcess::start("zg-chain", &args, "zg-chain listening on ");
        self.nodes[i] = Some(process);
    }

    fn kill9(&mut self, i: usize) {
        self.nodes[i].take().expect("running").kill9();
    }

    fn url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.rpc[i])
    }

    fn provider(&self, i: usize) -> impl Provider + use<> {
        let signer: PrivateKeySigner = DEV_KEY.parse().unwrap();
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(self.url(i).parse().unwrap())
    }

    async fn head(&self, i: usize) -> u64 {
        self.provider(i).get_block_number().await.unwrap()
    }

    // Block `number`'s hash and state root on node `i`.
    async fn block(&self, i: usize, number: u64) -> Option<(B256, B256)> {
        let block = self
            .provider(i)
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .unwrap()?;
        Some((block.header.hash, block.header.state_root))
    }

    // Every height up to the lowest head among `live` nodes holds one block, everywhere.
    async fn same_blocks(&self, live: &[usize]) -> u64 {
        let mut lowest = u64::MAX;
        for &i in live {
            lowest = lowest.min(self.head(i).await);
        }
        for number in 1..=lowest {
            let first = self.block(live[0], number).await.unwrap();
            for &i in &live[1..] {
                assert_eq!(
                    self.block(i, number).await.unwrap(),
                    first,
                    "node {i} differs at block {number}"
                );
            }
        }
        lowest
    }
}

async fn wait_until(what: &str, seconds: u64, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {seconds} s waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn pay(provider: &impl Provider, to: Address, wei: u64) -> B256 {
    let pending = provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(to)
                .with_value(U256::from(wei)),
        )
        .await
        .unwrap();
    *pending.tx_hash()
}

async fn receipt(
    net: &Testnet,
    node: usize,
    hash: B256,
    seconds: u64,
) -> alloy_rpc_types_eth::TransactionReceipt {
    let provider = net.provider(node);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(receipt) = provider.get_transaction_receipt(hash).await.unwrap() {
            return receipt;
        }
        assert!(
            Instant::now() < deadline,
            "transaction {hash} not in a block on node {node} after {seconds} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn four_validators_agree_and_survive_crashes() {
    let mut net = Testnet::new(4);
    wait_until("every node has decided block 2", 60, async || {
        for i in 0..4 {
            if net.head(i).await < 2 {
                return false;
            }
        }
        true
    })
    .await;

    // An alloy session through node 1: a transfer, a deploy, a call with a log.
    let provider = net.provider(1);
    assert_eq!(provider.get_chain_id().await.unwrap(), CHAIN_ID);
    let to = Address::repeat_byte(0x22);
    let paid = pay(&provider, to, 12_345).await;
    let deploy = provider
        .send_transaction(
            TransactionRequest::default()
                .with_kind(TxKind::Create)
                .with_input(value_store_init(U256::from(5u64))),
        )
        .await
        .unwrap();
    let deploy = receipt(&net, 1, *deploy.tx_hash(), 30).await;
    assert!(deploy.status());
    let store = deploy.contract_address.unwrap();
    let set = provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(store)
                .with_input(calldata("set(uint256)", &[U256::from(42u64)])),
        )
        .await
        .unwrap();
    let set = receipt(&net, 1, *set.tx_hash(), 30).await;
    assert!(set.status());
    assert!(receipt(&net, 1, paid, 30).await.status());
    // Every node serves the same results: balance, logs, blocks.
    let logs_at = set.block_number.unwrap();
    for i in 0..4 {
        let _ = receipt(&net, i, set.transaction_hash, 30).await;
        let p = net.provider(i);
        assert_eq!(
            p.get_balance(to).await.unwrap(),
            U256::from(12_345u64),
            "node {i}"
        );
        let logs = p
            .get_logs(&Filter::new().address(store).from_block(logs_at).to_block(logs_at))
            .await
            .unwrap();
        assert_eq!(logs.len(), 1, "node {i}");
        assert_eq!(logs[0].topics()[0], value_set_topic());
    }
    net.same_blocks(&[0, 1, 2, 3]).await;

    // One validator down: three of four still decide.
    net.kill9(3);
    let hash = pay(&net.provider(0), to, 1).await;
    receipt(&net, 0, hash, 30).await;
    let with_three = net.same_blocks(&[0, 1, 2]).await;

    // Two down: no quorum, no block; nothing decided twice.
    net.kill9(2);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stalled = net.head(0).await;
    let stuck = pay(&net.provider(0), to, 2).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(net.head(0).await, stalled, "blocks were decided without a quorum");
    assert_eq!(net.head(1).await, stalled);
    assert!(
        net.provider(0)
            .get_transaction_receipt(stuck)
            .await
            .unwrap()
            .is_none()
    );
    assert!(net.same_blocks(&[0, 1]).await >= with_three);

    // Both back: the chain resumes, the waiting transaction lands, and the restarted
    // nodes hold the blocks decided while they were down.
    net.start(2);
    net.start(3);
    let landed = receipt(&net, 0, stuck, 60).await;
    let at = landed.block_number.unwrap();
    wait_until("the restarted nodes caught up", 60, async || {
        net.head(2).await >= at && net.head(3).await >= at
    })
    .await;
    let agreed = net.same_blocks(&[0, 1, 2, 3]).await;
    assert!(agreed >= at);
    assert_eq!(
        net.provider(3).get_balance(to).await.unwrap(),
        U256::from(12_348u64)
    );
}

/// A validator that proposes blocks with a false state root (a test-only switch) is
/// outvoted every time it proposes: the chain goes on through the other proposers,
/// transfers land, and no node ever holds one of its blocks.
#[tokio::test(flavor = "multi_thread")]
async fn a_lying_proposer_is_outvoted() {
    let net = Testnet::with_flags(4, vec![vec!["--test-propose-invalid".to_owned()]]);
    // Twelve heights: the liar is the first proposer of three of them.
    wait_until("twelve blocks on every honest node", 120, async || {
        for i in 1..4 {
            if net.head(i).await < 12 {
                return false;
            }
        }
        true
    })
    .await;
    let to = Address::repeat_byte(0x33);
    let hash = pay(&net.provider(0), to, 5).await;
    receipt(&net, 2, hash, 60).await;
    let agreed = net.same_blocks(&[0, 1, 2, 3]).await;
    for number in 1..=agreed {
        let block = net
            .provider(1)
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .unwrap()
            .unwrap();
        assert_ne!(
            block.header.extra_data.as_ref(),
            zg_consensus::INVALID_MARK,
            "block {number} is the liar's"
        );
    }
}
