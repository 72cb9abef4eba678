//! 0G's API keys: keys made by 0G's own Python SDK (0g-inference-sdk 0.9.1's
//! `SessionManager`, run once to write `vectors/sdk-0.9.1-keys.json`) pass every check;
//! keys signed here the same way are refused for each reason a provider has.

use alloy_primitives::{Address, U256, address, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use base64::Engine;
use zg_compute::{AccountKeys, ApiKey, ApiKeyError};

/// Dev account 1 of the `test … junk` mnemonic: the user of the SDK vectors.
const USER_KEY: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const USER: Address = address!("70997970C51812dc3A010C7d01b50e0d17dc79C8");
/// Dev account 2: the provider.
const PROVIDER: Address = address!("3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");

fn vectors() -> serde_json::Value {
    serde_json::from_str(include_str!("vectors/sdk-0.9.1-keys.json")).unwrap()
}

fn good_account() -> AccountKeys {
    AccountKeys {
        acknowledged: true,
        ..AccountKeys::default()
    }
}

/// A key as the SDK makes one: compact JSON in its field order, EIP-191 over keccak256.
fn key(signer_hex: &str, message: &str) -> String {
    let signer: PrivateKeySigner = signer_hex.parse().unwrap();
    let sig = signer
        .sign_message_sync(keccak256(message.as_bytes()).as_slice())
        .unwrap();
    let body = format!("{message}|0x{}", hex::encode(sig.as_bytes()));
    format!(
        "app-sk-{}",
        base64::engine::general_purpose::STANDARD.encode(body)
    )
}

fn message(expires_at: u64, generation: u64, token_id: u8) -> String {
    format!(
        r#"{{"address":"{USER}","provider":"{PROVIDER}","timestamp":1000,"expiresAt":{expires_at},"nonce":"00112233445566778899aabbccddeeff","generation":{generation},"tokenId":{token_id}}}"#
    )
}

#[test]
fn keys_made_by_0g_sdk_pass() {
    let v = vectors();
    let made = v["made_at_ms"].as_u64().unwrap();
    assert_eq!(v["user"].as_str().unwrap().parse::<Address>().unwrap(), USER);
    // The SDK's per-session key: an Authorization header, token id 255, 24 h of life.
    let session = ApiKey::from_header(v["ephemeral_header"].as_str()).unwrap();
    assert_eq!(session.message().token_id, 255);
    assert_eq!(session.check(PROVIDER, made + 1000, &good_account()), Ok(USER));
    assert!(matches!(
        session.check(PROVIDER, made + 25 * 3600 * 1000, &good_account()),
        Err(ApiKeyError::Expired { .. })
    ));
    // A persistent API key (token id 7, never expires).
    let persistent = ApiKey::parse(v["persistent_key"].as_str().unwrap()).unwrap();
    assert_eq!(persistent.message().token_id, 7);
    assert_eq!(persistent.message().expires_at, 0);
    assert_eq!(persistent.check(PROVIDER, u64::MAX, &good_account()), Ok(USER));
    // Revoking token 7, or all keys, refuses it; revoking another token does not.
    let revoked = |bit: usize| AccountKeys {
        revoked_bitmap: U256::from(1) << bit,
        ..good_account()
    };
    assert_eq!(
        persistent.check(PROVIDER, made, &revoked(7)),
        Err(ApiKeyError::Revoked(7))
    );
    assert_eq!(persistent.check(PROVIDER, made, &revoked(6)), Ok(USER));
    let bumped = AccountKeys {
        generation: U256::from(1),
        ..good_account()
    };
    assert!(matches!(
        persistent.check(PROVIDER, made, &bumped),
        Err(ApiKeyError::OldGeneration { key: 0, .. })
    ));
    // Another provider, or an account that never acknowledged this one's signer.
    let other = address!("90F79bf6EB2c4f870365E785982E1f101E93b906");
    assert!(matches!(
        persistent.check(other, made, &good_account()),
        Err(ApiKeyError::WrongProvider { .. })
    ));
    assert_eq!(
        persistent.check(PROVIDER, made, &AccountKeys::default()),
        Err(ApiKeyError::NotAcknowledged)
    );
}

#[test]
fn keys_are_refused_for_each_reason() {
    let ok = key(USER_KEY, &message(5000, 0, 3));
    assert_eq!(
        ApiKey::parse(&ok).unwrap().check(PROVIDER, 4999, &good_account()),
        Ok(USER)
    );
    assert!(matches!(
        ApiKey::parse(&ok).unwrap().check(PROVIDER, 5000, &good_account()),
        Err(ApiKeyError::Expired {
            expires_at: 5000,
            now: 5000
        })
    ));
    // Signed by someone else (dev account 3) in the user's name.
    let forged = key(
        "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
        &message(0, 0, 3),
    );
    assert!(matches!(
        ApiKey::parse(&forged)
            .unwrap()
            .check(PROVIDER, 1, &good_account()),
        Err(ApiKeyError::WrongSigner { claimed: USER, .. })
    ));
    // A message changed after signing.
    let body = base64::engine::general_purpose::STANDARD
        .decode(ok.strip_prefix("app-sk-").unwrap())
        .unwrap();
    let tampered = String::from_utf8(body)
        .unwrap()
        .replace(r#""tokenId":3"#, r#""tokenId":4"#);
    let tampered = format!(
        "app-sk-{}",
        base64::engine::general_purpose::STANDARD.encode(tampered)
    );
    assert!(matches!(
        ApiKey::parse(&tampered)
            .unwrap()
            .check(PROVIDER, 1, &good_account()),
        Err(ApiKeyError::WrongSigner { .. })
    ));
    // Session keys must expire within a day of being made.
    for expires in [0, 1000 + 24 * 3600 * 1000 + 1] {
        let long = key(USER_KEY, &message(expires, 0, 255));
        assert_eq!(
            ApiKey::parse(&long).unwrap().check(PROVIDER, 2, &good_account()),
            Err(ApiKeyError::SessionTooLong)
        );
    }
    // Session keys are not revocable one by one: the bitmap does not apply to them.
    let session = key(USER_KEY, &message(2000, 0, 255));
    let all_revoked = AccountKeys {
        revoked_bitmap: U256::MAX,
        ..good_account()
    };
    assert_eq!(
        ApiKey::parse(&session)
            .unwrap()
            .check(PROVIDER, 1500, &all_revoked),
        Ok(USER)
    );
}

#[test]
fn malformed_keys_are_refused_with_the_reason() {
    let ok = key(USER_KEY, &message(0, 0, 1));
    assert_eq!(ApiKey::from_header(None), Err(ApiKeyError::Missing));
    let b64 = |s: &str| format!("app-sk-{}", base64::engine::general_purpose::STANDARD.encode(s));
    for (token, why) in [
        (format!("Basic {ok}"), "not a Bearer token"),
        (format!("Bearer {}", &ok[1..]), "no app-sk- prefix"),
        ("Bearer app-sk-!!!".to_owned(), "not base64"),
        (format!("Bearer {}", b64("no separator")), "no '|'"),
        (format!("Bearer {}", b64("{}|deadbeef")), "not 0x-hex"),
        (format!("Bearer {}", b64("{}|0x1234")), "signature"),
        (format!("Bearer app-sk-{}", "A".repeat(5000)), "longer than"),
    ] {
        match ApiKey::from_header(Some(&token)) {
            Err(ApiKeyError::Malformed(m)) => assert!(m.contains(why), "{token}: {m}"),
            other => panic!("{token}: {other:?}"),
        }
    }
    // A well-signed message with an unknown field, a missing field or a short nonce.
    let zero_sig = format!("0x{}1b", "11".repeat(64));
    for msg in [
        message(0, 0, 1).replace('}', r#","extra":1}"#),
        message(0, 0, 1).replace(r#","tokenId":1"#, ""),
        message(0, 0, 1).replace("00112233445566778899aabbccddeeff", "0011"),
    ] {
        let token = b64(&format!("{msg}|{zero_sig}"));
        assert!(
            matches!(ApiKey::parse(&token), Err(ApiKeyError::Malformed(_))),
            "{msg}"
        );
    }
}
