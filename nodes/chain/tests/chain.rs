//! The real `zg-chain` binary on loopback, driven by alloy's provider as any Ethereum
//! application would drive it.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;
use zg_node::harness::NodeProcess;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::{BlockNumberOrTag, Filter, TransactionRequest};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use zg_evm::contracts::{calldata, erc20_init, value_set_topic, value_store_init, value_store_runtime, word};

// Dev account 0 of the default mnemonic.
const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Its first nonce: past its CREATE addresses that 0G's compute contracts occupy.
const DEV_NONCE: u64 = 13;
const CHAIN_ID: u64 = 31337;

struct ChainNode {
    process: NodeProcess,
    url: String,
}

impl ChainNode {
    fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let mut args: Vec<&OsStr> = vec!["--listen".as_ref(), "127.0.0.1:0".as_ref(), "--data-dir".as_ref()];
        args.push(data_dir.as_os_str());
        args.extend(extra.iter().map(OsStr::new));
        let (process, url) = NodeProcess::start("zg-chain", &args, "zg-chain listening on ");
        Self { process, url }
    }

    fn signal(&mut self, signal: &str) {
        let exit = self.process.signal(signal);
        if signal == "-TERM" {
            assert!(exit.success(), "SIGTERM should stop the node cleanly, got {exit}");
        }
    }

    fn provider(&self) -> impl Provider + use<> {
        let signer: PrivateKeySigner = DEV_KEY.parse().unwrap();
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(self.url.parse().unwrap())
    }
}

fn u256(bytes: &[u8]) -> U256 {
    U256::from_be_slice(bytes)
}

/// Transfer, deploy, call, transact, logs, receipts, revert reasons, then SIGTERM and
/// SIGKILL restarts that keep every block.
#[tokio::test(flavor = "multi_thread")]
async fn alloy_drives_the_chain_and_state_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = ChainNode::start(dir.path(), &[]);
    let provider = node.provider();
    let me: Address = DEV_KEY.parse::<PrivateKeySigner>().unwrap().address();
    assert_eq!(provider.get_chain_id().await.unwrap(), CHAIN_ID);
    let start_balance = provider.get_balance(me).await.unwrap();
    assert_eq!(
        start_balance,
        U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18u64))
    );

    // An ETH transfer.
    let to = Address::repeat_byte(0x11);
    let receipt = provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(to)
                .with_value(U256::from(12_345u64)),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.gas_used, 21_000);
    assert_eq!(provider.get_balance(to).await.unwrap(), U256::from(12_345u64));
    let spent = start_balance - provider.get_balance(me).await.unwrap();
    assert_eq!(
        spent,
        U256::from(12_345u64) + U256::from(21_000u128 * receipt.effective_gas_price)
    );

    // Deploy from bytecode, call and transact.
    let receipt = provider
        .send_transaction(TransactionRequest::default().with_deploy_code(value_store_init(U256::from(7u64))))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let store = receipt
        .contract_address
        .expect("a deployment has a contract address");
    assert_eq!(store, me.create(DEV_NONCE + 1));
    assert_eq!(
        provider.get_code_at(store).await.unwrap(),
        Bytes::from(value_store_runtime())
    );
    let get = TransactionRequest::default()
        .with_to(store)
        .with_input(calldata("get()", &[]));
    assert_eq!(u256(&provider.call(get.clone()).await.unwrap()), U256::from(7u64));
    let set = |v: u64| {
        TransactionRequest::default()
            .with_to(store)
            .with_input(calldata("set(uint256)", &[U256::from(v)]))
    };
    let receipt = provider
        .send_transaction(set(42))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert_eq!(
        u256(&provider.call(get.clone()).await.unwrap()),
        U256::from(42u64)
    );
    assert_eq!(
        provider.get_storage_at(store, U256::ZERO).await.unwrap(),
        U256::from(42u64)
    );
    let logs = receipt.inner.logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].topics(), &[value_set_topic()]);
    assert_eq!(u256(&logs[0].data().data), U256::from(42u64));
    assert_eq!(logs[0].transaction_hash, Some(receipt.transaction_hash));

    // Logs by filter, and the block and transaction they came from.
    let filter = Filter::new()
        .address(store)
        .event_signature(value_set_topic())
        .from_block(0u64);
    let found = provider.get_logs(&filter).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].block_number, receipt.block_number);
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Number(receipt.block_number.unwrap()))
        .await
        .unwrap()
        .expect("the block exists");
    assert_eq!(block.header.hash, receipt.block_hash.unwrap());
    assert!(
        block
            .header
            .logs_bloom
            .contains_input(alloy_primitives::BloomInput::Raw(store.as_slice()))
    );
    let tx = provider
        .get_transaction_by_hash(receipt.transaction_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tx.inner.signer(), me);
    assert_eq!(tx.block_hash, receipt.block_hash);

    // Revert reasons: eth_call and eth_estimateGas report them with code 3 and the data.
    let err = provider.call(set(0)).await.unwrap_err();
    let resp = err.as_error_resp().expect("a JSON-RPC error");
    assert_eq!(resp.code, 3);
    assert_eq!(resp.message, "execution reverted: value must be non-zero");
    assert!(resp.data.as_ref().unwrap().get().contains("08c379a0"));
    let err = provider.estimate_gas(set(0)).await.unwrap_err();
    assert_eq!(err.as_error_resp().unwrap().code, 3);
    // Sent anyway (gas given, so no estimate): included, status 0.
    let receipt = provider
        .send_transaction(set(0).with_gas_limit(60_000))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(!receipt.status());

    // A token: deploy, transfer, read balances and the Transfer event.
    let receipt = provider
        .send_transaction(TransactionRequest::default().with_deploy_code(erc20_init(U256::from(1_000u64))))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let token = receipt.contract_address.unwrap();
    let transfer = calldata("transfer(address,uint256)", &[word(to), U256::from(250u64)]);
    let receipt = provider
        .send_transaction(TransactionRequest::default().with_to(token).with_input(transfer))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let balance_of = |who: Address| {
        TransactionRequest::default()
            .with_to(token)
            .with_input(calldata("balanceOf(address)", &[word(who)]))
    };
    assert_eq!(
        u256(&provider.call(balance_of(to)).await.unwrap()),
        U256::from(250u64)
    );
    assert_eq!(
        u256(&provider.call(balance_of(me)).await.unwrap()),
        U256::from(750u64)
    );

    // Restart after SIGTERM, then after SIGKILL: the same state and history.
    let head = provider.get_block_number().await.unwrap();
    let last_tx = receipt.transaction_hash;
    for signal in ["-TERM", "-KILL"] {
        node.signal(signal);
        node = ChainNode::start(dir.path(), &[]);
        let provider = node.provider();
        assert_eq!(provider.get_block_number().await.unwrap(), head, "after {signal}");
        assert_eq!(
            u256(&provider.call(get.clone()).await.unwrap()),
            U256::from(42u64)
        );
        assert_eq!(
            u256(&provider.call(balance_of(to)).await.unwrap()),
            U256::from(250u64)
        );
        assert_eq!(provider.get_balance(to).await.unwrap(), U256::from(12_345u64));
        let receipt = provider
            .get_transaction_receipt(last_tx)
            .await
            .unwrap()
            .expect("receipt kept");
        assert!(receipt.status());
        // The same receipt among its block's, by number and by hash.
        let number = receipt.block_number.unwrap();
        let block_hash = receipt.block_hash.unwrap();
        for id in [number.into(), alloy_eips::BlockId::from(block_hash)] {
            let all = provider
                .get_block_receipts(id)
                .await
                .unwrap()
                .expect("block kept");
            assert!(
                all.iter()
                    .any(|r| r.transaction_hash == last_tx && r.block_hash == Some(block_hash))
            );
        }
    }
    // And it keeps producing on top.
    let provider = node.provider();
    let receipt = provider
        .send_transaction(set(99))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert_eq!(receipt.block_number, Some(head + 1));
}

/// Interval blocks: transactions wait for the next tick; pending nonces count them.
#[tokio::test(flavor = "multi_thread")]
async fn block_time_mode_batches_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let node = ChainNode::start(dir.path(), &["--block-time", "0.3"]);
    let provider = node.provider();
    let me: Address = DEV_KEY.parse::<PrivateKeySigner>().unwrap().address();
    let mut pending = Vec::new();
    for i in 0..3u64 {
        let tx = TransactionRequest::default()
            .with_to(Address::repeat_byte(0x22))
            .with_value(U256::from(1u64))
            .with_nonce(DEV_NONCE + i);
        pending.push(provider.send_transaction(tx).await.unwrap());
    }
    assert_eq!(
        provider.get_transaction_count(me).pending().await.unwrap(),
        DEV_NONCE + 3
    );
    let mut blocks = Vec::new();
    for tx in pending {
        blocks.push(tx.get_receipt().await.unwrap().block_number.unwrap());
    }
    assert!(
        blocks.iter().all(|b| *b == blocks[0]),
        "one block holds the batch: {blocks:?}"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        provider.get_block_number().await.unwrap() > blocks[0],
        "empty blocks keep coming"
    );
}

fn signed(key: &PrivateKeySigner, chain_id: u64, nonce: u64, value: u64) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(0x33)),
        value: U256::from(value),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
}

// One raw HTTP exchange: (status line, body).
fn http_post(url: &str, body: &[u8]) -> (String, String) {
    let host = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

/// Malformed, mis-signed, foreign, underfunded and oversized input gets standard
/// JSON-RPC errors; the node keeps serving and its state does not move.
#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_standard_errors_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = ChainNode::start(dir.path(), &[]);
    let provider = node.provider();
    let dev: PrivateKeySigner = DEV_KEY.parse().unwrap();
    let good = signed(&dev, CHAIN_ID, DEV_NONCE, 1);
    provider
        .send_raw_transaction(&good)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let head = provider.get_block_number().await.unwrap();
    let balance = provider.get_balance(dev.address()).await.unwrap();

    let rpc_error = |result: Result<_, alloy_provider::transport::TransportError>| {
        let err = result.expect_err("must fail");
        let resp = err
            .as_error_resp()
            .unwrap_or_else(|| panic!("not a JSON-RPC error: {err}"));
        (resp.code, resp.message.to_string())
    };
    let send = |raw: Vec<u8>| {
        let provider = &provider;
        async move { provider.send_raw_transaction(&raw).await.map(|_| ()) }
    };
    let (code, message) = rpc_error(send(vec![0xde, 0xad, 0xbe, 0xef]).await);
    assert_eq!((code, message.starts_with("rlp")), (-32000, true), "{message}");
    let (code, message) = rpc_error(send(signed(&dev, 1, DEV_NONCE + 1, 1)).await);
    assert_eq!(code, -32000);
    assert!(message.contains("invalid chain id"), "{message}");
    let (_, message) = rpc_error(send(good.clone()).await);
    assert!(
        message.contains("already known") || message.contains("nonce too low"),
        "{message}"
    );
    let (_, message) = rpc_error(send(signed(&dev, CHAIN_ID, DEV_NONCE, 2)).await);
    assert!(message.starts_with("nonce too low"), "{message}");
    // A nonce far past the account's would wait forever: the pool stays bounded.
    let ahead = DEV_NONCE + 1 + zg_chain::MAX_NONCE_AHEAD + 1;
    let (code, message) = rpc_error(send(signed(&dev, CHAIN_ID, ahead, 1)).await);
    assert_eq!(code, -32000);
    assert!(message.contains("too far ahead"), "{message}");
    let stranger = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x77)).unwrap();
    let (_, message) = rpc_error(send(signed(&stranger, CHAIN_ID, 0, 1)).await);
    assert!(
        message.starts_with("insufficient funds for gas * price + value"),
        "{message}"
    );
    let mut bad_sig = signed(&dev, CHAIN_ID, DEV_NONCE + 1, 1);
    let at = bad_sig.len() - 40;
    bad_sig[at] ^= 0xff; // inside r
    let result = send(bad_sig).await;
    // A flipped r recovers to nobody or to a stranger without funds: refused either way.
    let (code, _) = rpc_error(result);
    assert_eq!(code, -32000);

    // Standard JSON-RPC errors for malformed requests.
    let (_, body) = http_post(
        &node.url,
        br#"{"jsonrpc":"2.0","id":1,"method":"eth_nope","params":[]}"#,
    );
    assert!(body.contains("-32601"), "{body}");
    let (_, body) = http_post(&node.url, b"{not json");
    assert!(body.contains("-32700"), "{body}");
    let (_, body) = http_post(
        &node.url,
        br#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x12"]}"#,
    );
    assert!(body.contains("-32602"), "{body}");
    let batch: Vec<String> = (0..1001)
        .map(|i| format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"eth_chainId","params":[]}}"#))
        .collect();
    let (_, body) = http_post(&node.url, format!("[{}]", batch.join(",")).as_bytes());
    assert!(
        body.contains("batch") || body.contains("-32600") || body.contains("-32010"),
        "{}",
        &body[..body.len().min(300)]
    );
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x{}"]}}"#,
        "00".repeat(3 << 20)
    );
    let (status, body) = http_post(&node.url, huge.as_bytes());
    assert!(
        status.contains("413") || body.contains("too big") || body.contains("-32007"),
        "{status} {body}"
    );

    // Still serving, nothing moved.
    assert_eq!(provider.get_block_number().await.unwrap(), head);
    assert_eq!(provider.get_balance(dev.address()).await.unwrap(), balance);
    assert_eq!(
        provider.get_transaction_count(dev.address()).await.unwrap(),
        DEV_NONCE + 1
    );
}
