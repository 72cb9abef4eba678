//! Fine-tuning on `zg devnet` with 0G's own client: the fine-tuning half of PyPI
//! `0g-inference-sdk` 0.9.1, unchanged, finds zg's FineTuningServing where it expects
//! it on chain 31337, funds a provider through the ledger, acknowledges a delivered
//! model, sees settlements pay exactly the fee or the penalty share, and opens the
//! model zg sealed for it with the key the settlement handed over.

mod common;

use alloy_primitives::{Address, U256, hex};
use alloy_signer_local::PrivateKeySigner;
use common::{DEV_KEY, Devnet, PROVIDER_KEY, SIGNER_KEY, USER_KEY, python_script};
use sha2::{Digest, Sha256};
use zg_compute::seal;

const LOCK_SECS: &str = "2";

/// The script checks every balance to the wei against the chain's receipts (the
/// provider's wallet gains the full fee of the acknowledged task and 30% of the other,
/// less its stake and gas; the user's ledger loses exactly as much). Here: the two
/// settlements fit the SDK's fixed 300,000 gas with room to spare; the model zg
/// encrypted (1 MiB + 3 bytes) comes out of the SDK's `decrypt_model` byte for byte;
/// the seal refuses another key; and a key eciespy sealed to the user opens in zg.
#[test]
fn the_fine_tuning_sdk_funds_acknowledges_settles_and_decrypts() {
    let devnet = Devnet::start(1, &["--refund-lock-secs", LOCK_SECS]);
    let dir = tempfile::tempdir().unwrap();
    let user_key = k256::SecretKey::from_slice(&hex::decode(USER_KEY).unwrap()).unwrap();
    let signer: PrivateKeySigner = SIGNER_KEY.parse().unwrap();
    let model: Vec<u8> = (0..(1u32 << 20) + 3)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let key = seal::new_key();
    let sealed = seal::seal_key(&user_key.public_key(), &key);
    let encrypted = dir.path().join("model.enc");
    std::fs::write(&encrypted, seal::encrypt_model(&key, &model, &signer)).unwrap();
    let decrypted = dir.path().join("model.out");
    let out = python_script(
        "fine_tuning_py.py",
        &[
            &devnet.chain_url,
            USER_KEY,
            PROVIDER_KEY,
            SIGNER_KEY,
            DEV_KEY,
            LOCK_SECS,
            &hex::encode(&sealed),
            encrypted.to_str().unwrap(),
            decrypted.to_str().unwrap(),
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
    assert_eq!(
        report["model_sha256"],
        hex::encode(Sha256::digest(&model)),
        "{report}"
    );
    assert_eq!(std::fs::read(&decrypted).unwrap(), model);
    assert_eq!(report["other_user_refused"], true, "{report}");
    let py_sealed = hex::decode(report["py_sealed"].as_str().unwrap()).unwrap();
    let probe = hex::decode(report["py_probe"].as_str().unwrap()).unwrap();
    assert_eq!(seal::open_key(&user_key, &py_sealed).unwrap()[..], probe[..]);
    devnet.interrupt();
}
