//! 0G's compute SDK (PyPI `0g-inference-sdk` 0.9.1, unchanged) against `zg devnet`:
//! the broker finds zg's LedgerManager and InferenceServing at the addresses it
//! expects on chain 31337 and runs its whole ledger and account flow, then chats with
//! the devnet's own provider (the real built-in model), as does the `openai` client;
//! and `zg compute` pays a provider and streams its answer.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use common::{DEV_KEY, Devnet, PROVIDER_KEY, SIGNER_KEY, USER_KEY, python_script};
use serde_json::Value;
use zg_compute::chain::ChainClient;
use zg_compute::{AccountKeys, ApiKey, ApiKeyError};
use zg_node::harness::binary;

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

/// The devnet's provider answers with the real built-in model (SmolLM2-135M-Instruct,
/// fetched once into the model cache): 0G's SDK finds it, acknowledges and funds it,
/// and asks with its own session headers; `openai` asks with an `app-sk-` key the SDK
/// made, whole and streamed. Greedy answers agree across the three paths, and after
/// the provider settles, the sub-account's debit and the provider's gain (net of gas)
/// both equal Σ (prompt × inputPrice + completion × outputPrice) to the wei.
#[test]
fn the_inference_sdk_and_openai_chat_with_the_devnets_model_and_pay_exactly() {
    let devnet = Devnet::start(1, &["--compute-listen", "127.0.0.1:0", "--settle-every", "1"]);
    let (_, provider) = devnet.compute.clone().expect("the devnet runs a provider");
    let out = python_script("compute_chat_py.py", &[&devnet.chain_url, USER_KEY, &provider]);
    let report: Value = serde_json::from_str(out.trim()).expect("one JSON line");
    let fees = report["fees"].as_u64().unwrap();
    assert!(fees > 0, "{report}");
    assert_eq!(report["sub_debit"].as_u64(), Some(fees), "{report}");
    assert_eq!(report["provider_gain"].as_u64(), Some(fees), "{report}");
    let texts: Vec<&str> = report["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        texts.iter().all(|t| *t == texts[0]),
        "greedy answers differ: {texts:?}"
    );
    assert!(texts[0].contains("Paris"), "{texts:?}");
    let usages = report["usages"].as_array().unwrap();
    for usage in usages {
        for field in ["prompt_tokens", "completion_tokens"] {
            assert_eq!(usage[field], usages[0][field], "{report}");
        }
        assert!(
            (1..=24).contains(&usage["completion_tokens"].as_u64().unwrap()),
            "{report}"
        );
    }
    assert!(
        report["chunks"].as_u64().unwrap() > 3,
        "the answer came in one piece: {report}"
    );
    devnet.interrupt();
}

/// `zg compute …` against the devnet's provider (a tiny random-weight model the test
/// writes): the service listed with its prices, a refusal before any funds, the ledger
/// opened and a provider funded, a streamed answer with its fee, that fee settled to
/// the wei, an API key that works in a plain HTTP client, a refund past the balance
/// refused with the contract's reason.
#[test]
fn zg_compute_funds_a_provider_streams_its_answer_and_pays_the_fee_it_prints() {
    let models = tempfile::tempdir().unwrap();
    let model = models.path().join("tiny.gguf");
    zg_compute::model::write_tiny_model(&model, 7).unwrap();
    let devnet = Devnet::start(
        1,
        &[
            "--compute-model-file",
            model.to_str().unwrap(),
            "--settle-every",
            "1",
        ],
    );
    let (url, provider) = devnet.compute.clone().expect("the devnet runs a provider");
    let zg = |args: &[&str]| -> Output {
        Command::new(binary("zg"))
            .arg("compute")
            .args(args)
            .args(["--chain", &devnet.chain_url])
            .env("ZG_KEY", USER_KEY)
            .output()
            .unwrap()
    };
    let text = |out: &Output| {
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ok = |args: &[&str]| {
        let out = zg(args);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "zg compute {args:?}: {stdout}{stderr}");
        (stdout, stderr)
    };

    let (services, _) = ok(&["services"]);
    assert!(services.contains(&provider), "{services}");
    assert!(services.contains(&format!("{url}/v1/proxy")), "{services}");
    assert!(
        services.contains("1000000000 wei per prompt token, 2000000000 wei per generated token"),
        "{services}"
    );

    let refused = zg(&["ask", &provider, "hello"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).1.contains("zg compute transfer"),
        "{:?}",
        text(&refused)
    );

    ok(&["ledger", "add", "3"]);
    let (funded, acked) = ok(&["transfer", &provider, "1"]);
    assert!(funded.contains("1 0G"), "{funded}");
    assert!(acked.contains("acknowledged"), "{acked}");

    let (answer, billed) = ok(&[
        "ask",
        &provider,
        "hello there",
        "--max-tokens",
        "8",
        "--temperature",
        "0",
    ]);
    // "P prompt + C generated tokens (reason): FEE wei"
    let words: Vec<&str> = billed.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "prompt").expect(&billed);
    let prompt: u64 = words[at - 1].parse().unwrap();
    let generated: u64 = words[at + 2].parse().unwrap();
    let fee: u64 = words[words.len() - 2].parse().unwrap();
    assert!((1..=8).contains(&generated), "{billed}");
    assert_eq!(
        fee,
        prompt * 1_000_000_000 + generated * 2_000_000_000,
        "{billed}"
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let user_key: alloy_signer_local::PrivateKeySigner = USER_KEY.parse().unwrap();
    let user = user_key.address();
    let chain = ChainClient::new(&devnet.chain_url, user_key).unwrap();
    let provider_address: Address = provider.parse().unwrap();
    let one = U256::from(10u64).pow(U256::from(18));
    let deadline = Instant::now() + Duration::from_secs(30);
    let balance = loop {
        let account = runtime
            .block_on(chain.account(user, provider_address))
            .unwrap()
            .unwrap();
        if account.account.balance != one || Instant::now() > deadline {
            break account.account.balance;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        one - balance,
        U256::from(fee),
        "the settled debit is the printed fee"
    );

    let (key, _) = ok(&["api-key", &provider, "--token-id", "2"]);
    let key = key.trim();
    let parsed = ApiKey::parse(key).unwrap();
    assert_eq!(parsed.signer().unwrap(), user);
    assert_eq!(
        (parsed.message().provider, parsed.message().token_id),
        (provider_address, 2)
    );
    let body: Value = runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{url}/v1/proxy/chat/completions"))
            .bearer_auth(key)
            .json(&serde_json::json!({"model": "SmolLM2-135M-Instruct", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 8, "temperature": 0}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    });
    // Greedy: the key's whole answer is the text `ask` streamed (and one newline).
    assert_eq!(
        body["usage"]["completion_tokens"].as_u64(),
        Some(generated),
        "{body}"
    );
    assert_eq!(
        format!("{}\n", body["choices"][0]["message"]["content"].as_str().unwrap()),
        answer
    );

    let over = zg(&["ledger", "refund", "5"]);
    assert!(!over.status.success());
    assert!(text(&over).1.contains("InsufficientBalance"), "{:?}", text(&over));
    let (ledger, _) = ok(&["ledger"]);
    assert!(ledger.contains(&format!("provider {provider}")), "{ledger}");
    devnet.interrupt();
}

/// When the built-in model cannot be fetched (here: its cache cannot be made), the
/// devnet says why and how to go on, and runs everything else without compute.
#[test]
fn the_devnet_runs_without_compute_when_the_model_cannot_be_fetched() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let mut child = common::devnet_command(&dir.path().join("data"), 1, &["--compute-listen", "127.0.0.1:0"])
        .env("ZG_MODEL_CACHE", blocker.join("models"))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    // Up to the end of the devnet's explanation (its last line names --no-compute).
    let said = std::thread::spawn(move || {
        let mut said = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            said.push_str(&line);
            said.push('\n');
            if line.contains("--no-compute") {
                break;
            }
        }
        said
    });
    let mut banner = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if line.starts_with("Ctrl-C stops it") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let said = said.join().unwrap();
    assert!(
        banner.contains("chain node") && banner.contains("storage node"),
        "{banner}"
    );
    assert!(!banner.contains("compute node"), "{banner}");
    assert!(said.contains("the model cache"), "{said}");
    assert!(said.contains("runs without a compute provider"), "{said}");
}
