//! `zg devnet`: the real `zg` binary starts a local network in one process.

mod common;

use std::time::Duration;

use common::{DEV_ADDRESS, Devnet, zg};
use serde_json::{Value, json};

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
    let devnet = Devnet::start(2, &[]);
    let (storage_urls, da_urls) = (devnet.storage_urls.clone(), devnet.da_urls.clone());
    let chain_url = devnet.chain_url.clone();
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
    let header = zg_da::client::submit(std::slice::from_ref(&da), b"hello DA".to_vec(), false)
        .await
        .unwrap();
    assert_eq!(da.payload(&header.id).await.unwrap(), b"hello DA");
    loop {
        let info = other.info(&header.id).await;
        if info.is_ok_and(|i| i.cells_held == vec![64] && i.custody_held) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no replication");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(other.payload(&header.id).await.unwrap(), b"hello DA");
    let dir = devnet.interrupt();
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

/// `zg devnet --validators 4`: the chain runs as four validators under consensus;
/// a transfer through the devnet's chain URL lands, every validator serves the same
/// blocks, and the storage node follows the chain as before.
#[tokio::test(flavor = "multi_thread")]
async fn devnet_runs_the_chain_as_validators() {
    let devnet = Devnet::start(
        1,
        &[
            "--validators",
            "4",
            "--validator-p2p-port",
            "0",
            "--block-time",
            "0.3",
        ],
    );
    assert_eq!(devnet.validator_urls.len(), 4);
    assert_eq!(devnet.validator_urls[0], devnet.chain_url);
    let to = "0x00000000000000000000000000000000000000aa";
    let signer: alloy_signer_local::PrivateKeySigner = common::DEV_KEY.parse().unwrap();
    let nonce = rpc(
        &devnet.chain_url,
        "eth_getTransactionCount",
        json!([DEV_ADDRESS, "pending"]),
    )
    .await;
    let nonce = u64::from_str_radix(nonce.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let tx = alloy_consensus::TxEip1559 {
        chain_id: 31337,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: alloy_primitives::TxKind::Call(to.parse().unwrap()),
        value: alloy_primitives::U256::from(777u64),
        access_list: Default::default(),
        input: Default::default(),
    };
    use alloy_consensus::SignableTransaction;
    use alloy_eips::eip2718::Encodable2718;
    use alloy_signer::SignerSync;
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    let raw = alloy_consensus::TxEnvelope::from(tx.into_signed(signature)).encoded_2718();
    // Sent to the last validator: relayed to whichever proposes.
    let hash = rpc(
        &devnet.validator_urls[3],
        "eth_sendRawTransaction",
        json!([format!("0x{}", alloy_primitives::hex::encode(&raw))]),
    )
    .await;
    let start = std::time::Instant::now();
    let receipt = loop {
        let receipt = rpc(&devnet.chain_url, "eth_getTransactionReceipt", json!([hash])).await;
        if !receipt.is_null() {
            break receipt;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the transfer never landed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(receipt["status"], json!("0x1"));
    let block = receipt["blockNumber"].clone();

    // The follow command the devnet prints, run as printed (DIR filled in): a
    // zg-chain that follows the validators, checked below beside them.
    let follow = devnet.follow.clone().expect("the devnet prints a follow command");
    let follower_dir = tempfile::tempdir().unwrap();
    let words: Vec<String> = follow
        .split_whitespace()
        .map(|w| {
            if w == "DIR" {
                follower_dir.path().display().to_string()
            } else {
                w.to_owned()
            }
        })
        .collect();
    assert_eq!(words[0], "zg-chain", "{follow}");
    let args: Vec<&std::ffi::OsStr> = words[1..].iter().map(std::ffi::OsStr::new).collect();
    let (_follower, follower_url) =
        zg_node::harness::NodeProcess::start("zg-chain", &args, "zg-chain listening on ");

    // Every validator, and the follower (which starts and catches up), holds the
    // block and the balance.
    let nodes = devnet
        .validator_urls
        .iter()
        .map(|url| (url, 30))
        .chain([(&follower_url, 60)]);
    for (url, seconds) in nodes {
        let start = std::time::Instant::now();
        let mine = loop {
            let b = rpc(url, "eth_getBlockByNumber", json!([block, false])).await;
            if !b.is_null() {
                break b;
            }
            assert!(
                start.elapsed() < Duration::from_secs(seconds),
                "{url} never had block {block}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(mine["hash"], receipt["blockHash"], "{url}");
        assert_eq!(
            rpc(url, "eth_getBalance", json!([to, "latest"])).await,
            json!("0x309")
        );
    }
    let status = rpc(&devnet.storage_urls[0], "zgs_getStatus", json!([])).await;
    assert!(status["version"].is_string(), "{status}");
    let dir = devnet.interrupt();
    assert!(dir.path().join("chain-3").join("consensus").exists());
}

/// `zg upload --root-kind keccak` against a devnet node (which follows the devnet's
/// Flow): without a key it says what to pass; with a dev key it pays once, uploads,
/// and the file downloads by root; a second upload pays nothing more.
#[test]
fn zg_upload_pays_for_a_keccak_file_on_the_flow() {
    use common::DEV_KEY;
    let devnet = Devnet::start(1, &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    let bytes: Vec<u8> = (0..700_017u32).map(|i| (i * 13 % 251) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    let node = devnet.storage_urls[0].as_str();
    let chain = devnet.chain_url.as_str();
    let path = file.to_str().unwrap();
    let upload = |extra: &[&str]| {
        let base = [
            "upload",
            path,
            "--root-kind",
            "keccak",
            "--node",
            node,
            "--chain",
            chain,
        ];
        zg(&[&base[..], extra].concat())
    };
    let (ok, _, err) = upload(&[]);
    assert!(!ok);
    assert!(err.contains("--key") && err.contains("ZG_KEY"), "{err}");

    let (ok, root, err) = upload(&["--key", DEV_KEY]);
    assert!(ok, "{err}");
    assert!(err.contains("tx seq 0"), "{err}");
    let (ok, _, err) = upload(&["--key", DEV_KEY]);
    assert!(ok);
    assert!(err.contains("paid for already"));

    let out = dir.path().join("copy");
    let (ok, _, err) = zg(&["download", &root, "-o", out.to_str().unwrap(), "--node", node]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    let count = Devnet::rpc(
        chain,
        "eth_call",
        &json!([{"to": zg_contracts::FLOW_ADDRESS.to_string(), "data": "0x77e19824"}, "latest"]),
    );
    assert_eq!(count, json!(format!("0x{:064x}", 1)), "one submission, not two");
    devnet.interrupt();
}

/// `zg upload` and `zg download` against `zg devnet --nodes 2 --shards 2`, given both
/// nodes: a Keccak file (paid on the Flow, 21 segments) and a BLAKE3 one (off the
/// flow) are each spread over the two shards, neither node holds either whole, and
/// both come back byte-exact by tx seq and by root; one shard's node alone cannot
/// serve them and says why.
#[test]
fn zg_upload_and_download_spread_files_over_two_shards() {
    use common::DEV_KEY;
    let devnet = Devnet::start(2, &["--shards", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    let bytes: Vec<u8> = (0..(5 << 20) + 17u32).map(|i| (i * 29 % 253) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    let [a, b] = [devnet.storage_urls[0].as_str(), devnet.storage_urls[1].as_str()];
    let both = ["--node", a, "--node", b];
    let path = file.to_str().unwrap();
    let out = dir.path().join("copy");
    let out = out.to_str().unwrap();
    for kind in ["keccak", "blake3"] {
        let upload = [
            &[
                "upload",
                path,
                "--root-kind",
                kind,
                "--chain",
                &devnet.chain_url,
                "--key",
                DEV_KEY,
            ][..],
            &both,
        ]
        .concat();
        let (ok, root, err) = zg(&upload);
        assert!(ok, "{kind}: {err}");
        let held: Vec<u64> = devnet
            .storage_urls
            .iter()
            .map(|url| {
                let info = Devnet::rpc(url, "zgs_getFileInfo", &json!([root, true]));
                assert_eq!(info["finalized"], true, "{kind} on {url}: {info}");
                info["uploadedSegNum"].as_u64().unwrap()
            })
            .collect();
        assert_eq!(held.iter().sum::<u64>(), 21, "{kind}: {held:?}");
        assert!(held.iter().all(|n| *n == 10 || *n == 11), "{kind}: {held:?}");

        let by = if kind == "keccak" {
            vec!["--tx-seq", "0"]
        } else {
            vec![root.as_str()]
        };
        let (ok, _, err) = zg(&[&["download"][..], &by, &["-o", out], &both].concat());
        assert!(ok, "{kind}: {err}");
        assert_eq!(std::fs::read(out).unwrap(), bytes, "{kind}");
        std::fs::remove_file(out).unwrap();

        let (ok, _, err) = zg(&["download", &root, "-o", out, "--node", a]);
        assert!(!ok, "{kind}: one shard alone served the whole file");
        assert!(err.contains("shard"), "{kind}: {err}");
        assert!(
            !std::path::Path::new(out).exists(),
            "{kind}: nothing is left at the output"
        );
    }
    devnet.interrupt();
}

/// Replication keeps each shard's copies: on `zg devnet --nodes 4 --shards 2` (nodes 0
/// and 2 hold shard 0/2, nodes 1 and 3 shard 1/2), a paid Keccak file uploaded to
/// nodes 0 and 1 reaches nodes 2 and 3 over libp2p, each fetching only its own shard
/// from the peer that holds it, and downloads byte-exact from nodes 2 and 3 alone.
#[test]
fn shard_nodes_replicate_their_shard_from_peers() {
    use common::DEV_KEY;
    let devnet = Devnet::start(4, &["--shards", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    let bytes: Vec<u8> = (0..(3 << 20) + 5u32).map(|i| (i * 17 % 251) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    let urls = &devnet.storage_urls;
    let zg_ok = |args: &[&str]| {
        let (ok, out, err) = zg(args);
        assert!(ok, "{err}");
        out
    };
    let path = file.to_str().unwrap();
    let root = zg_ok(&[
        "upload",
        path,
        "--root-kind",
        "keccak",
        "--chain",
        &devnet.chain_url,
        "--key",
        DEV_KEY,
        "--node",
        &urls[0],
        "--node",
        &urls[1],
    ]);
    // Nodes 2 and 3 got nothing from the client: they replicate from their shard's peer.
    let started = std::time::Instant::now();
    for url in &urls[2..] {
        loop {
            let info = Devnet::rpc(url, "zgs_getFileInfo", &json!([root, true]));
            if info["finalized"] == true {
                break;
            }
            assert!(
                started.elapsed().as_secs() < 120,
                "{url} never replicated its shard: {info}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    let held: Vec<u64> = urls
        .iter()
        .map(|url| {
            Devnet::rpc(url, "zgs_getFileInfo", &json!([root, true]))["uploadedSegNum"]
                .as_u64()
                .unwrap()
        })
        .collect();
    // 13 segments: 7 in one shard, 6 in the other, each held twice.
    assert_eq!(held[0], held[2], "{held:?}");
    assert_eq!(held[1], held[3], "{held:?}");
    assert_eq!(held[0] + held[1], 13, "{held:?}");
    let out = dir.path().join("copy");
    zg_ok(&[
        "download",
        &root,
        "-o",
        out.to_str().unwrap(),
        "--node",
        &urls[2],
        "--node",
        &urls[3],
    ]);
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    devnet.interrupt();
}

/// `zg da root` prints the storage root 0G's DA encoder gives the same bytes (a vector
/// of `core/blob/tests/data/zerog_roots.json`: 1,000 bytes of gen("b")), and refuses
/// an empty file with 0G's text.
#[test]
fn zg_da_root_prints_0gs_storage_root() {
    use sha2::Digest as _;
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    for i in 0.. {
        if bytes.len() >= 1000 {
            break;
        }
        bytes.extend_from_slice(&sha2::Sha256::digest(format!("zg-da-vector-b-{i}").as_bytes()));
    }
    bytes.truncate(1000);
    let file = dir.path().join("blob");
    std::fs::write(&file, &bytes).unwrap();
    let (ok, root, err) = zg(&["da", "root", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(
        root,
        "0xc76d2854be5c3ec05082e23990fdbed4978b07003c347ea92923056ae8916fe7"
    );
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let (ok, _, err) = zg(&["da", "root", empty.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("blob size must be greater than 0"), "{err}");
}

/// Whether DAEntrance holds a certificate for (root, epoch, quorum).
fn certified(chain: &str, root: [u8; 32], epoch: u64, quorum: u64) -> bool {
    use alloy_sol_types::SolCall;
    use zg_contracts::da::{DA_ENTRANCE_ADDRESS, IDAEntrance as E};
    let call = E::commitmentExistsCall {
        _dataRoot: root.into(),
        _epoch: alloy_primitives::U256::from(epoch),
        _quorumId: alloy_primitives::U256::from(quorum),
    };
    let params = json!([{"to": DA_ENTRANCE_ADDRESS.to_string(), "data": format!("0x{}", hex::encode(call.abi_encode()))}, "latest"]);
    let answer = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(rpc(chain, "eth_call", params));
    let bytes = hex::decode(answer.as_str().unwrap().trim_start_matches("0x")).unwrap();
    E::commitmentExistsCall::abi_decode_returns(&bytes).unwrap()
}

/// A 0G DA client in Python (stubs generated by grpcio-tools from the disperser's
/// proto) against the devnet's disperser: 1 B and 1 MiB + 3 B to FINALIZED and back
/// byte-exact, under 0G's storage root, certified on chain, and 0G's refusals.
#[test]
fn a_grpcio_da_client_disperses_and_retrieves_through_the_devnet() {
    let devnet = Devnet::start(1, &[]);
    let proto = concat!(env!("CARGO_MANIFEST_DIR"), "/../da/proto");
    let out = common::python_script("da_grpc_py.py", &[proto, &devnet.disperser]);
    let results: Value = serde_json::from_str(out.trim()).expect("one JSON line");
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        assert_eq!(
            r["statuses"].as_array().unwrap().last().unwrap(),
            "FINALIZED",
            "{r}"
        );
        // The devnet's DA node is the quorum of epoch 1, and its certificate is on chain.
        assert_eq!((r["epoch"].as_u64(), r["quorum_id"].as_u64()), (Some(1), Some(0)));
        let root: [u8; 32] = hex::decode(r["root"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        assert!(certified(&devnet.chain_url, root, 1, 0), "{r}");
    }
    let one = hex::decode(results[0]["data"].as_str().unwrap()).unwrap();
    let root = zg_blob::zerog::storage_root(&one).unwrap();
    assert_eq!(results[0]["root"].as_str().unwrap(), hex::encode(root));

    // The same API from zg's CLI: disperse, status, retrieve checked against the root.
    let disperser = format!("http://{}", devnet.disperser);
    let file = devnet.dir.path().join("blob.bin");
    let bytes: Vec<u8> = (0..300_001u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    let (ok, out, err) = zg(&["da", "submit", file.to_str().unwrap(), "--disperser", &disperser]);
    assert!(ok, "{err}");
    assert!(err.contains("PROCESSING") && err.contains("FINALIZED"), "{err}");
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    let root = format!("0x{}", hex::encode(zg_blob::zerog::storage_root(&bytes).unwrap()));
    assert_eq!(field(&out, "storage root"), root);
    let commitment = field(&out, "commitment");
    let (ok, status, err) = zg(&[
        "da",
        "status",
        &field(&err, "request id"),
        "--disperser",
        &disperser,
    ]);
    assert!(ok, "{err}");
    assert_eq!(field(&status, "status"), "FINALIZED");
    let copy = devnet.dir.path().join("copy.bin");
    let (ok, _, err) = zg(&[
        "da",
        "get",
        &commitment,
        "-o",
        copy.to_str().unwrap(),
        "--disperser",
        &disperser,
    ]);
    assert!(ok, "{err}");
    assert!(std::fs::read(&copy).unwrap() == bytes);
    // Another root: the last hex digit changed.
    let mut other = commitment.clone();
    let last = if commitment.ends_with('0') { "1" } else { "0" };
    other.replace_range(commitment.len() - 1.., last);
    let (ok, _, err) = zg(&[
        "da",
        "get",
        &other,
        "-o",
        copy.to_str().unwrap(),
        "--disperser",
        &disperser,
    ]);
    assert!(!ok && err.contains("RetrieveBlob"), "{err}");
    devnet.interrupt();
}
