//! 0G's compute SDK (PyPI `0g-inference-sdk` 0.9.1, unchanged) against `zg devnet`:
//! the broker finds zg's LedgerManager and InferenceServing at the addresses it
//! expects on chain 31337 and runs its whole ledger and account flow.

mod common;

use alloy_primitives::{Address, U256};
use common::{DEV_KEY, Devnet, python_script};
use zg_compute::{AccountKeys, ApiKey, ApiKeyError};

/// Hardhat dev accounts 1, 2 and 3: the user, the provider and its signer.
const USER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const PROVIDER_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const SIGNER_KEY: &str = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
const LOCK_SECS: &str = "2";

/// The SDK's ledger, service listing, signer checks (the user's and the owner's),
/// transfers, API keys and their revocation, refunds after the lock and back to the
/// wallet: the script checks every balance to the wei against the chain's receipts.
/// Here: the keys it made are the user's, for this provider, and after
/// `revoke_all_tokens` a provider refuses the key it made before (the old generation).
#[test]
fn the_inference_sdk_runs_its_ledger_and_account_flow_on_zg_devnet() {
    let devnet = Devnet::start(1, &["--refund-lock-secs", LOCK_SECS]);
    let out = python_script(
        "compute_py.py",
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
    let (user, provider) = (address("user"), address("provider"));
    assert!(report["gas"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["generation"], 1, "{report}");

    let on_chain = AccountKeys {
        generation: U256::from(1),
        revoked_bitmap: U256::ZERO,
        acknowledged: true,
    };
    let key3 = ApiKey::parse(report["key3"].as_str().unwrap()).unwrap();
    assert_eq!(key3.signer().unwrap(), user);
    assert_eq!(key3.message().provider, provider);
    assert_eq!(key3.message().token_id, 3);
    let now = key3.message().timestamp + 1;
    assert!(matches!(
        key3.check(provider, now, &on_chain),
        Err(ApiKeyError::OldGeneration { key: 0, .. })
    ));
    // The SDK reads getAccount's field 10 (revokedBitmap) as the generation, so a key it
    // makes after revoking is of "generation" 0 too, and refused: 0G-WIRE.md's quirk.
    let after = ApiKey::parse(report["key_after"].as_str().unwrap()).unwrap();
    assert_eq!(after.signer().unwrap(), user);
    assert_eq!(after.message().generation, 0);
    assert!(matches!(
        after.check(provider, now, &on_chain),
        Err(ApiKeyError::OldGeneration { .. })
    ));
    devnet.interrupt();
}
