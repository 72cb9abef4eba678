//! Fine-tuning on `zg devnet` with 0G's own client: the fine-tuning half of PyPI
//! `0g-inference-sdk` 0.9.1, unchanged, finds zg's FineTuningServing where it expects
//! it on chain 31337, funds a provider through the ledger, acknowledges a delivered
//! model, and sees settlements pay exactly the fee or the penalty share.

mod common;

use alloy_primitives::{Address, U256};
use common::{DEV_KEY, Devnet, python_script};

/// Hardhat dev accounts 1, 2 and 3: the user, the provider and its signer.
const USER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const PROVIDER_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const SIGNER_KEY: &str = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
const LOCK_SECS: &str = "2";

/// The script checks every balance to the wei against the chain's receipts (the
/// provider's wallet gains the full fee of the acknowledged task and 30% of the other,
/// less its stake and gas; the user's ledger loses exactly as much). Here: the two
/// settlements fit the SDK's fixed 300,000 gas with room to spare.
#[test]
fn the_fine_tuning_sdk_funds_acknowledges_and_sees_exact_settlements() {
    let devnet = Devnet::start(1, &["--refund-lock-secs", LOCK_SECS]);
    let out = python_script(
        "fine_tuning_py.py",
        &[
            &devnet.chain_url,
            USER_KEY,
            PROVIDER_KEY,
            SIGNER_KEY,
            DEV_KEY,
            LOCK_SECS,
        ],
    );
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    let address = |field: &str| report[field].as_str().unwrap().parse::<Address>().unwrap();
    assert_ne!(address("user"), address("provider"));
    let paid: U256 = report["paid"].as_str().unwrap().parse().unwrap();
    // 1.25 0G + 1 wei in full, 30% of 0.5 0G + 3 wei (rounded down).
    assert_eq!(
        paid,
        U256::from(1_250_000_000_000_000_001u128 + 150_000_000_000_000_000u128)
    );
    for gas in report["settle_gas"].as_array().unwrap() {
        assert!(gas.as_u64().unwrap() < 250_000, "{report}");
    }
    devnet.interrupt();
}
