//! `zg devnet`: the real `zg` binary starts a local network in one process.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use zg_node::harness::binary;

// Dev account 0 of the default mnemonic.
const DEV_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

/// A JSON-RPC call's result; an error answer fails the test.
async fn rpc(url: &str, method: &str, params: Value) -> Value {
    let answer: Value = reqwest::Client::new()
        .post(url)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer.get("error").is_none(), "{method}: {answer}");
    answer["result"].clone()
}

/// `zg devnet --nodes 2`: one command starts the chain, two storage and two DA nodes;
/// all answer, each pair replicates between its nodes; Ctrl-C stops them cleanly.
#[tokio::test(flavor = "multi_thread")]
async fn devnet_serves_chain_storage_and_da() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(binary("zg"))
        .args([
            "devnet",
            "--chain-listen",
            "127.0.0.1:0",
            "--storage-listen",
            "127.0.0.1:0",
            "--da-listen",
            "127.0.0.1:0",
            "--p2p-listen",
            "/ip4/127.0.0.1/tcp/0",
            "--storage-p2p-listen",
            "/ip4/127.0.0.1/tcp/0",
            "--nodes",
            "2",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("zg devnet starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut chain_url, mut storage_urls, mut da_urls) = (None, Vec::new(), Vec::new());
    let mut line = String::new();
    while chain_url.is_none() || storage_urls.len() < 2 || da_urls.len() < 2 {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "devnet exited early");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(str::to_owned);
        if line.trim_start().starts_with("chain node") {
            chain_url = url;
        } else if line.trim_start().starts_with("storage node") {
            storage_urls.extend(url);
        } else if line.trim_start().starts_with("DA node") {
            da_urls.extend(url);
        }
    }
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let chain_url = chain_url.unwrap();
    assert_eq!(rpc(&chain_url, "eth_chainId", json!([])).await, json!("0x7a69"));
    let balance = rpc(&chain_url, "eth_getBalance", json!([DEV_ADDRESS, "latest"])).await;
    assert_ne!(balance, json!("0x0"), "dev account 0 is funded");
    let status = rpc(&storage_urls[0], "zgs_getStatus", json!([])).await;
    assert!(status["version"].is_string(), "{status}");
    // Two storage nodes that found each other: a file stored on one is served by the other.
    let file: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    let stored = reqwest::Client::new()
        .put(format!("{}/files", storage_urls[0]))
        .body(file.clone())
        .send()
        .await
        .unwrap();
    assert!(stored.status().is_success());
    let root = stored.json::<serde_json::Value>().await.unwrap()["root"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = std::time::Instant::now();
    loop {
        let got = reqwest::get(format!("{}/files/{root}", storage_urls[1]))
            .await
            .unwrap();
        if got.status().is_success() {
            assert_eq!(got.bytes().await.unwrap(), file);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no storage replication"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Two DA nodes that found each other: a submission to one is replicated by the other.
    let da = zg_da::DaClient::new(&da_urls[0]).unwrap();
    let other = zg_da::DaClient::new(&da_urls[1]).unwrap();
    let start = std::time::Instant::now();
    while other.status().await.unwrap().peers < 1 {
        assert!(start.elapsed() < Duration::from_secs(30), "DA nodes never met");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (header, _) = zg_da::client::submit(std::slice::from_ref(&da), b"hello DA".to_vec(), false, 1)
        .await
        .unwrap();
    assert_eq!(da.payload(&header.id).await.unwrap(), b"hello DA");
    loop {
        let info = other.info(&header.id).await;
        if info.is_ok_and(|i| i.cells_held == vec![64] && i.attestation.is_some()) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no replication");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(other.payload(&header.id).await.unwrap(), b"hello DA");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    assert!(dir.path().join("chain").join(zg_evm::LOG_FILE).exists());
    assert!(dir.path().join("da").join(zg_node::identity::KEY_FILE).exists());
    assert!(dir.path().join("da-1").join(zg_node::identity::KEY_FILE).exists());
    assert!(
        dir.path()
            .join("storage-1")
            .join(zg_node::identity::KEY_FILE)
            .exists()
    );
}
