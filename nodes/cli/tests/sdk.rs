//! 0G's own npm clients against `zg devnet`, unchanged: the packages are installed at
//! exact versions from `tests/sdk/package-lock.json` and run by node.

mod common;

use common::{DEV_KEY, Devnet, node_script, python_script};

/// Through @0gfoundation/0g-ts-sdk 1.2.8 and ethers: the SDK finds the market from
/// the Flow, builds submissions of 1 B, 300,000 B and 5 MiB + 17 B, each underpaid
/// submit reverts with `NotEnoughFee` named by ethers, and each paid one costs the
/// sender exactly Σ 2^height × pricePerSector plus gas, all of it held by the market.
#[test]
fn the_ts_sdk_pays_through_0gs_flow() {
    let devnet = Devnet::start(1, &[]);
    let flow = zg_contracts::FLOW_ADDRESS.to_string();
    let out = node_script("flow.mjs", &[&devnet.chain_url, DEV_KEY, &flow]);
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "{report}");
    // tx seqs 0, 1, 2, and each file after the one before it in the flow.
    for (i, f) in files.iter().enumerate() {
        assert_eq!(f["txSeq"], i, "{report}");
    }
    assert!(files[1]["startPos"].as_u64() > files[0]["startPos"].as_u64());
    assert!(files[2]["startPos"].as_u64() > files[1]["startPos"].as_u64());
    devnet.interrupt();
}

/// The sizes every SDK uploads: one byte, a file that is not a whole number of
/// segments, and one over 5 MiB whose last segment is short.
const SIZES: &str = "1,300000,5242897";

/// Each SDK's result line: the files it uploaded and downloaded back byte-exact.
fn files(out: &str) -> Vec<serde_json::Value> {
    let line = out.lines().last().expect("a result line");
    let report: serde_json::Value = serde_json::from_str(line).expect("one JSON line");
    report["files"].as_array().expect("files").clone()
}

/// Each of 0G's three storage SDKs, unchanged, pays for, uploads and downloads
/// [`SIZES`] through `nodes` (comma-separated URLs), byte-exact (the scripts compare);
/// returns every file's report, in the order uploaded, and checks the tx seqs 1.2.8 reports.
fn every_sdk_round_trips(devnet: &Devnet, nodes: &str, sizes: &str) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    for (seed, pkg) in [(1, "@0gfoundation/0g-ts-sdk"), (2, "@0glabs/0g-ts-sdk")] {
        let out = node_script(
            "storage_ts.mjs",
            &[pkg, &devnet.chain_url, DEV_KEY, nodes, sizes, &seed.to_string()],
        );
        let files = files(&out);
        assert_eq!(files.len(), 3, "{pkg}: {out}");
        all.extend(files);
    }
    let out = python_script("storage_py.py", &[&devnet.chain_url, DEV_KEY, nodes, sizes, "3"]);
    let files = files(&out);
    assert_eq!(files.len(), 3, "python: {out}");
    all.extend(files);
    // 1.2.8 reports its tx seqs: the first three submissions of the chain.
    let seqs: Vec<u64> = all[..3].iter().filter_map(|f| f["txSeq"].as_u64()).collect();
    assert_eq!(seqs, vec![0, 1, 2]);
    all
}

/// 0G's three storage SDKs, unchanged, against one node of `zg devnet`: each pays for,
/// uploads and downloads 1 B, 300,000 B and 5 MiB + 17 B, byte-exact, and the node's
/// tx seqs follow the chain's.
#[test]
fn every_storage_sdk_uploads_and_downloads_through_one_node() {
    let devnet = Devnet::start(1, &[]);
    let node = &devnet.storage_urls[0];
    every_sdk_round_trips(&devnet, node, SIZES);
    let status = Devnet::rpc(node, "zgs_getStatus", &serde_json::json!([]));
    assert_eq!(status["nextTxSeq"], 9, "{status}");
    devnet.interrupt();
}

/// What the SDKs upload to two shards: 1 B, 300,000 B, and 22 segments (5,505,041 B)
/// with a short last one. Not 5 MiB + 17 B (21 segments): every one of the three SDKs
/// drops the last upload task of the shard with more segments (`splitTasks` sorts the
/// per-node task lists shortest first and interleaves only as many rounds as the
/// shortest has), so with 21 segments on two shards segment 20 is never sent to any
/// node, and no node that keeps its whole shard (0G's or zg's) can finalize the file.
const SHARDED_SIZES: &str = "1,300000,5505041";

/// The same against `zg devnet --nodes 2 --shards 2`: node 0 holds shard 0/2 of the
/// flow and node 1 shard 1/2; each SDK spreads every file over both and gathers it
/// back. Neither node holds a file whole: the 22 segments of the largest are split
/// between them.
#[test]
fn every_storage_sdk_uploads_and_downloads_through_two_shards() {
    let devnet = Devnet::start(2, &["--shards", "2"]);
    let urls = &devnet.storage_urls;
    for (i, url) in urls.iter().enumerate() {
        let config = Devnet::rpc(url, "zgs_getShardConfig", &serde_json::json!([]));
        assert_eq!(config, serde_json::json!({"shardId": i, "numShard": 2}));
    }
    let files = every_sdk_round_trips(&devnet, &urls.join(","), SHARDED_SIZES);
    for f in files.iter().filter(|f| f["size"] == 5_505_041) {
        let held: Vec<u64> = urls
            .iter()
            .map(|url| {
                let info = Devnet::rpc(url, "zgs_getFileInfo", &serde_json::json!([f["root"], true]));
                assert_eq!(info["finalized"], true, "{url}: {info}");
                info["uploadedSegNum"].as_u64().unwrap()
            })
            .collect();
        assert_eq!(held, vec![11, 11], "{f}");
    }
    for url in urls {
        let status = Devnet::rpc(url, "zgs_getStatus", &serde_json::json!([]));
        assert_eq!(status["nextTxSeq"], 9, "{status}");
    }
    devnet.interrupt();
}

/// kill -9 of the devnet (chain and storage node together) in the middle of an SDK
/// upload: after a restart on the same data, a re-run of the SDK completes the file,
/// it downloads byte-exact, and the node's tx seqs match the chain's Flow.
#[test]
fn a_killed_node_finishes_an_sdk_upload_after_restart() {
    const SIZE: &str = "25165841"; // 24 MiB + 17 B: 97 segments
    let devnet = Devnet::start(1, &[]);
    let node = devnet.storage_urls[0].clone();
    let mut upload = std::process::Command::new("node")
        .arg(common::sdk_dir().join("storage_ts.mjs"))
        .args([
            "@0gfoundation/0g-ts-sdk",
            &devnet.chain_url,
            DEV_KEY,
            &node,
            SIZE,
            "4",
        ])
        .current_dir(common::sdk_dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("node runs");
    // Kill once some segments are durable and the file is not yet whole.
    let started = std::time::Instant::now();
    loop {
        // The node may turn this poll away while the SDK's requests fill its per-client limit.
        let answer = Devnet::answer(&node, "zgs_getFileInfoByTxSeq", &serde_json::json!([0]));
        let info = answer.map(|a| a["result"].clone()).unwrap_or_default();
        let uploaded = info["uploadedSegNum"].as_u64().unwrap_or(0);
        if uploaded > 0 {
            assert_eq!(
                info["finalized"], false,
                "the upload finished before the kill: {info}"
            );
            break;
        }
        assert!(started.elapsed().as_secs() < 120, "the upload never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let dir = devnet.kill9();
    let _ = upload.kill();
    let _ = upload.wait();

    let devnet = Devnet::start_in(dir, 1, &[]);
    let node = &devnet.storage_urls[0];
    let out = node_script(
        "storage_ts.mjs",
        &[
            "@0gfoundation/0g-ts-sdk",
            &devnet.chain_url,
            DEV_KEY,
            node,
            SIZE,
            "4",
        ],
    );
    assert_eq!(files(&out).len(), 1, "{out}");
    // numSubmissions() on the Flow against the node's next tx seq.
    let call =
        serde_json::json!([{"to": zg_contracts::FLOW_ADDRESS.to_string(), "data": "0x77e19824"}, "latest"]);
    let on_chain = Devnet::rpc(&devnet.chain_url, "eth_call", &call);
    let on_chain = u64::from_str_radix(on_chain.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let status = Devnet::rpc(node, "zgs_getStatus", &serde_json::json!([]));
    assert_eq!(status["nextTxSeq"], on_chain, "{status}");
    devnet.interrupt();
}
