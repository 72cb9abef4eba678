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

/// 0G's three storage SDKs, unchanged, against one node of `zg devnet`: each pays for,
/// uploads and downloads 1 B, 300,000 B and 5 MiB + 17 B, byte-exact (the scripts
/// compare), and the node's tx seqs follow the chain's.
#[test]
fn every_storage_sdk_uploads_and_downloads_through_one_node() {
    let devnet = Devnet::start(1, &[]);
    let node = &devnet.storage_urls[0];
    let mut seqs = Vec::new();
    for (seed, pkg) in [(1, "@0gfoundation/0g-ts-sdk"), (2, "@0glabs/0g-ts-sdk")] {
        let out = node_script(
            "storage_ts.mjs",
            &[pkg, &devnet.chain_url, DEV_KEY, node, SIZES, &seed.to_string()],
        );
        let files = files(&out);
        assert_eq!(files.len(), 3, "{pkg}: {out}");
        seqs.extend(files.iter().filter_map(|f| f["txSeq"].as_u64()));
    }
    let out = python_script("storage_py.py", &[&devnet.chain_url, DEV_KEY, node, SIZES, "3"]);
    assert_eq!(files(&out).len(), 3, "python: {out}");
    // 1.2.8 reports its tx seqs: the first three submissions of the chain.
    assert_eq!(seqs, vec![0, 1, 2]);
    let request = reqwest::Client::new()
        .post(node)
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "zgs_getStatus"}));
    let status: serde_json::Value = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { request.send().await?.json().await })
        .expect("status");
    assert_eq!(status["result"]["nextTxSeq"], 9, "{status}");
    devnet.interrupt();
}
