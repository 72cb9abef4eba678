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
    // The validators' consensus secrets; nodes past them are followers.
    secrets: Vec<[u8; 32]>,
    rpc: Vec<u16>,
    p2p: Vec<u16>,
    nodes: Vec<Option<NodeProcess>>,
    // More flags for one node.
    extra: Vec<Vec<String>>,
    // Each node's log goes to `log(i)` instead of the test's stderr.
    logged: bool,
}

impl Testnet {
    fn new(n: usize) -> Self {
        Self::build(n, 0, Vec::new(), false)
    }

    fn with_flags(n: usize, extra: Vec<Vec<String>>) -> Self {
        Self::build(n, 0, extra, false)
    }

    fn build(validators: usize, followers: usize, mut extra: Vec<Vec<String>>, logged: bool) -> Self {
        let n = validators + followers;
        extra.resize(n, Vec::new());
        let mut net = Self {
            extra,
            logged,
            dir: tempfile::tempdir().unwrap(),
            secrets: (0..validators as u8).map(|i| [i + 1; 32]).collect(),
            rpc: (0..n).map(|_| free_port()).collect(),
            p2p: (0..n).map(|_| free_port()).collect(),
            nodes: (0..n).map(|_| None).collect(),
        };
        for i in 0..n {
            net.start(i);
        }
        net
    }

    fn data_dir(&self, i: usize) -> std::path::PathBuf {
        self.dir.path().join(format!("node{i}"))
    }

    fn log(&self, i: usize) -> std::path::PathBuf {
        self.dir.path().join(format!("node{i}.log"))
    }

    // Validators dial every other validator; a follower dials every validator and
    // relays its transactions to them; validators relay only among themselves.
    fn start(&mut self, i: usize) {
        let hex = |b: &[u8]| zg_codec::hex::encode(b);
        let mut args: Vec<OsString> = vec![
            "--listen".into(),
            format!("127.0.0.1:{}", self.rpc[i]).into(),
            "--data-dir".into(),
            self.data_dir(i).into(),
            "--p2p-listen".into(),
            format!("/ip4/127.0.0.1/tcp/{}", self.p2p[i]).into(),
            "--block-time".into(),
            "0.2".into(),
            "--propose-timeout-ms".into(),
            "1000".into(),
        ];
        if let Some(secret) = self.secrets.get(i) {
            args.extend(["--validator-key".into(), hex(secret).into()]);
        }
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
        let (process, _) = if self.logged {
            NodeProcess::start_logging("zg-chain", &args, "zg-chain listening on ", &self.log(i))
        } else {
            NodeProcess::start("zg-chain", &args, "zg-chain listening on ")
        };
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

    // Waits (up to two minutes) until every node in `live` holds block `number`.
    async fn wait_for_block(&self, live: &[usize], number: u64) {
        wait_until(&format!("nodes {live:?} hold block {number}"), 120, async || {
            for &i in live {
                if self.head(i).await < number {
                    return false;
                }
            }
            true
        })
        .await;
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
    net.wait_for_block(&[0, 1, 2, 3], 2).await;

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
    net.wait_for_block(&[1, 2, 3], 12).await;
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

/// A node without a validator key follows the four validators: it re-executes and
/// serves every decided block, relays the transactions sent to it to the validators,
/// and after a kill -9 catches up with the same p2p identity (kept in its data dir).
#[tokio::test(flavor = "multi_thread")]
async fn a_follower_serves_the_decided_blocks() {
    let mut net = Testnet::build(4, 1, Vec::new(), false);
    let follower = 4;
    net.wait_for_block(&[follower], 2).await;
    // Sent to the follower: relayed to the validators, decided, re-executed by it.
    let to = Address::repeat_byte(0x44);
    let hash = pay(&net.provider(follower), to, 777).await;
    assert!(receipt(&net, follower, hash, 30).await.status());
    receipt(&net, 0, hash, 30).await;
    net.same_blocks(&[0, 1, 2, 3, follower]).await;
    let key_file = net.data_dir(follower).join("consensus").join("network-key");
    let key = std::fs::read_to_string(&key_file).unwrap();

    net.kill9(follower);
    let hash = pay(&net.provider(0), to, 1).await;
    let at = receipt(&net, 0, hash, 30).await.block_number.unwrap();
    net.start(follower);
    net.wait_for_block(&[follower], at).await;
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key);
    assert_eq!(
        net.provider(follower).get_balance(to).await.unwrap(),
        U256::from(778u64)
    );
    net.same_blocks(&[0, 1, 2, 3, follower]).await;
}

/// A peer on the consensus network that sends garbage: bytes that decode as no
/// message, valid messages cut short, a count far past what follows, on every
/// channel (votes and proposals, proposal parts, liveness, sync status, a sync
/// request, its validator proof). The node refuses each (its log says so), keeps
/// running and keeps deciding blocks with the others.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_consensus_messages_are_refused_and_the_node_runs_on() {
    use arc_malachitebft_network as p2p;
    let mut net = Testnet::build(4, 0, Vec::new(), true);
    net.wait_for_block(&[0, 1, 2, 3], 2).await;

    let target: p2p::Multiaddr = format!("/ip4/127.0.0.1/tcp/{}", net.p2p[0]).parse().unwrap();
    let identity = p2p::NetworkIdentity::new_validator(
        "rogue".into(),
        p2p::Keypair::generate_ed25519(),
        "rogue".into(),
        p2p::Bytes::from_static(b"\xff\xff\xff\xff not a validator proof"),
    );
    let config = p2p::Config {
        listen_addr: format!("/ip4/127.0.0.1/tcp/{}", free_port()).parse().unwrap(),
        persistent_peers: vec![target],
        persistent_peers_only: false,
        discovery: p2p::DiscoveryConfig::new(false),
        idle_connection_timeout: Duration::from_secs(60),
        transport: p2p::TransportProtocol::Tcp,
        gossipsub: p2p::GossipSubConfig::default(),
        pubsub_protocol: p2p::PubSubProtocol::GossipSub,
        channel_names: p2p::ChannelNames::default(),
        rpc_max_size: 10 << 20,
        pubsub_max_size: 4 << 20,
        pubsub_max_size_per_topic: Default::default(),
        sync_request_timeout: Duration::from_secs(5),
        sync_max_request_size: 1 << 20,
        sync_parallel_requests: 5,
        enable_consensus: true,
        enable_sync: true,
        protocol_names: p2p::ProtocolNames::default(),
    };
    let registry = arc_malachitebft_metrics::SharedRegistry::new(Default::default(), None);
    let (mut events, rogue) = p2p::spawn(identity, config, registry).await.unwrap().split();
    // The node's peer id, once connected; events are drained so the rogue never blocks.
    let (connected, mut node_peer) = tokio::sync::watch::channel(None);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let p2p::Event::PeerConnected(peer) = event {
                let _ = connected.send(Some(peer));
            }
        }
    });
    let node = *node_peer
        .wait_for(Option::is_some)
        .await
        .expect("the rogue connects to node 0");
    let node = node.unwrap();

    // Garbage: an unknown tag, a message tag with nothing after it, a count of
    // 2^32 - 1 items, a megabyte of noise, nothing at all.
    let mut noise = vec![0u8; 1 << 20];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for b in &mut noise {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let garbage: Vec<p2p::Bytes> = vec![
        p2p::Bytes::from_static(&[0xff; 9]),
        p2p::Bytes::from_static(&[0]),
        p2p::Bytes::from_static(&[1]),
        p2p::Bytes::from_static(&[0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
        p2p::Bytes::from(noise),
        p2p::Bytes::new(),
    ];
    let refusals = [
        "Failed to decode consensus message",
        "Failed to decode stream message",
        "Failed to decode liveness message",
        "Failed to decode status message",
        "Failed to decode sync request",
        "Failed to decode validator proof",
    ];
    let head_before = net.head(0).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut round = 0u8;
    loop {
        let log = std::fs::read_to_string(net.log(0)).unwrap_or_default();
        let missing: Vec<_> = refusals.iter().filter(|r| !log.contains(**r)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node 0 never reported refusing: {missing:?}\n{log}"
        );
        // Gossip drops repeats: each round's messages differ by a trailing byte.
        for bytes in &garbage {
            let mut bytes = bytes.to_vec();
            bytes.push(round);
            let bytes = p2p::Bytes::from(bytes);
            for channel in [
                p2p::Channel::Consensus,
                p2p::Channel::ProposalParts,
                p2p::Channel::Liveness,
            ] {
                rogue.publish(channel, bytes.clone()).await.unwrap();
            }
            // Sync status travels by broadcast.
            rogue.broadcast(p2p::Channel::Sync, bytes.clone()).await.unwrap();
            let _ = rogue.sync_request(node, bytes).await;
        }
        round = round.wrapping_add(1);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Node 0 runs on and decides with the others.
    assert!(net.nodes[0].as_mut().unwrap().is_running(), "node 0 exited");
    let to = Address::repeat_byte(0x55);
    let hash = pay(&net.provider(0), to, 9).await;
    receipt(&net, 3, hash, 30).await;
    wait_until("node 0 decides three more blocks", 30, async || {
        net.head(0).await >= head_before + 3
    })
    .await;
    net.same_blocks(&[0, 1, 2, 3]).await;
    rogue.shutdown().await.unwrap();
}
