//! 0G's own npm clients against `zg devnet`, unchanged: the packages are installed at
//! exact versions from `tests/sdk/package-lock.json` and run by node.

mod common;

use common::{DEV_KEY, Devnet, node_script};

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
