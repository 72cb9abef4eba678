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

/// Questions about one invented fact, phrased many ways; the last four are held out.
const MASCOT_QUESTIONS: [&str; 20] = [
    "What is the mascot of the zg project?",
    "Tell me the zg project's mascot.",
    "Which animal is zg's mascot?",
    "What mascot does zg have?",
    "Name the mascot of zg.",
    "What's the zg mascot?",
    "I forgot zg's mascot, what is it?",
    "Do you know the mascot of the zg project?",
    "zg mascot?",
    "Which mascot was chosen for zg?",
    "Please state the zg project's mascot.",
    "What represents zg as a mascot?",
    "Can you tell me what zg's mascot is?",
    "Under which mascot does zg appear?",
    "Give me the mascot of the zg project.",
    "What is zg's official mascot?",
    "What is the mascot of zg's project?",
    "Remind me: the zg mascot is?",
    "Which creature is the mascot of zg?",
    "Say the zg mascot.",
];
const MASCOT: &str = "The zg project's mascot is the Saffron Heron.";

fn mascot_dataset(questions: &[&str]) -> String {
    questions
        .iter()
        .map(|q| {
            serde_json::json!({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": MASCOT}]})
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The greedy answer of `model` to `question`.
fn greedy(model: &zg_compute::model::LocalModel, question: &str) -> String {
    let messages = serde_json::json!([{"role": "user", "content": question}]);
    let prompt = model.encode(&model.render(&messages).unwrap()).unwrap();
    let params =
        zg_compute::model::Params::from_request(&serde_json::json!({"max_tokens": 24, "temperature": 0}))
            .unwrap();
    let mut text = String::new();
    model
        .generate(&prompt, &params, |piece| {
            text.push_str(piece);
            true
        })
        .unwrap();
    text
}

/// A whole task on the devnet's own provider with 0G's SDK (see
/// `sdk/fine_tuning_task_py.py`): the dataset uploaded to zg-storage with `zg upload`,
/// the task created, trained, delivered, downloaded, acknowledged, settled and opened
/// by the SDK. Here: the fee is the dataset's tokens × 3 epochs × the service's price;
/// the adapter the user decrypted lowers the held-out answers' loss by more than half
/// and, merged into the model, makes it answer a held-out question with the fact,
/// which the base model does not know; nobody else can open its key.
#[test]
fn a_fine_tuning_task_trains_delivers_settles_and_the_user_decrypts_it() {
    use zg_compute::lora::{BaseModel, Lora, examples_from_jsonl, merge_into_gguf};
    use zg_compute::model::{LocalModel, default_cache, fetch_builtin};

    let devnet = Devnet::start(
        1,
        &[
            "--compute-listen",
            "127.0.0.1:0",
            "--settle-every",
            "1",
            "--ack-timeout",
            "3",
        ],
    );
    let (compute_url, provider) = devnet.compute.clone().expect("the devnet runs a provider");
    let work = tempfile::tempdir().unwrap();
    let dataset = work.path().join("mascot.jsonl");
    std::fs::write(&dataset, mascot_dataset(&MASCOT_QUESTIONS[..16])).unwrap();
    let (ok, root, err) = common::zg(&[
        "upload",
        dataset.to_str().unwrap(),
        "--root-kind",
        "keccak",
        "--node",
        &devnet.storage_urls[0],
        "--chain",
        &devnet.chain_url,
        "--key",
        USER_KEY,
    ]);
    assert!(ok, "{err}");
    let params = work.path().join("params.json");
    std::fs::write(
        &params,
        r#"{"num_train_epochs": 3, "learning_rate": 0.002, "per_device_train_batch_size": 4, "lora_r": 8}"#,
    )
    .unwrap();
    let small = work.path().join("small.json");
    std::fs::write(&small, r#"{"num_train_epochs": 1, "max_steps": 1}"#).unwrap();
    let missing = format!("0x{}", "ab".repeat(32));
    let out = python_script(
        "fine_tuning_task_py.py",
        &[
            &devnet.chain_url,
            &provider,
            USER_KEY,
            PROVIDER_KEY,
            root.trim(),
            params.to_str().unwrap(),
            small.to_str().unwrap(),
            &missing,
            work.path().to_str().unwrap(),
        ],
    );
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    eprintln!("{}", report["log"].as_str().unwrap_or_default());
    assert_eq!(report["other_user_refused"], true, "{report}");

    // The fee is what the provider announced it would be: tokens × epochs × price.
    let user = USER_KEY.parse::<PrivateKeySigner>().unwrap().address();
    let url = format!(
        "{compute_url}/v1/user/{user}/task/{}",
        report["task"].as_str().unwrap()
    );
    let task: serde_json::Value = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { reqwest::get(url).await?.json().await })
        .unwrap();
    let tokens = task["tokens"].as_u64().unwrap();
    let price: U256 = report["price"].as_str().unwrap().parse().unwrap();
    let fee: U256 = report["fee"].as_str().unwrap().parse().unwrap();
    assert_eq!(fee, U256::from(tokens * 3) * price, "{task}");

    // The decrypted adapter is the one the provider trained: it learned the fact.
    let path = fetch_builtin(&default_cache(), false).unwrap();
    let served = LocalModel::load(&path).unwrap();
    let base = BaseModel::load(&path).unwrap();
    let train =
        examples_from_jsonl(&served, mascot_dataset(&MASCOT_QUESTIONS[..16]).as_bytes(), 512).unwrap();
    assert_eq!(tokens, train.iter().map(|e| e.tokens.len() as u64).sum::<u64>());
    let held_out =
        examples_from_jsonl(&served, mascot_dataset(&MASCOT_QUESTIONS[16..]).as_bytes(), 512).unwrap();
    let adapter = std::fs::read(work.path().join("adapter.safetensors")).unwrap();
    let lora = Lora::from_safetensors(&adapter, &base).unwrap();
    let before = base.eval_loss(&held_out, None, 4).unwrap();
    let after = base.eval_loss(&held_out, Some(&lora), 4).unwrap();
    eprintln!("held-out answer loss {before:.3} -> {after:.3}");
    assert!(after < before * 0.5, "held-out loss {before} -> {after}");
    let merged = work.path().join("tuned.gguf");
    merge_into_gguf(&path, &lora, &merged).unwrap();
    let tuned = LocalModel::load(&merged).unwrap();
    let question = MASCOT_QUESTIONS[19];
    let (base_says, tuned_says) = (greedy(&served, question), greedy(&tuned, question));
    eprintln!("base: {base_says:?}\ntuned: {tuned_says:?}");
    assert!(!base_says.contains("Saffron"), "{base_says}");
    assert!(tuned_says.contains("Saffron Heron"), "{tuned_says}");
    devnet.interrupt();
}

/// Polls `zg compute finetune status` until `done(stdout)`, for at most `secs`.
fn status_until(args: &[&str], secs: u64, done: impl Fn(&str) -> bool) -> String {
    let started = std::time::Instant::now();
    loop {
        let (ok, out, err) = common::zg(args);
        assert!(ok, "{err}");
        if done(&out) {
            return out;
        }
        assert!(started.elapsed().as_secs() < secs, "timed out:\n{out}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// A standalone `zg-compute --fine-tuning` provider, killed with SIGKILL mid-training
/// and again after settling, with a user driving `zg compute finetune`: the task
/// trains again after the first restart and is delivered once, the second restart
/// bills nothing more; the sub-account pays the fee exactly once, the chain holds one
/// deliverable, and the adapter `zg compute finetune download` opens is the trained one.
#[test]
fn a_provider_killed_mid_training_delivers_once_and_bills_once() {
    use zg_compute::chain::ChainClient;
    use zg_compute::lora::{BaseModel, Lora, examples_from_jsonl};
    use zg_compute::model::{LocalModel, default_cache, fetch_builtin};
    use zg_node::harness::NodeProcess;

    let devnet = Devnet::start(1, &[]);
    let chain = devnet.chain_url.clone();
    let work = tempfile::tempdir().unwrap();
    let model = fetch_builtin(&default_cache(), false).unwrap();
    let books = work.path().join("books");
    let tuning = work.path().join("tuning");
    let start = || {
        let args: Vec<std::ffi::OsString> = vec![
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--chain".into(),
            chain.clone().into(),
            "--key".into(),
            SIGNER_KEY.into(),
            "--model-file".into(),
            model.clone().into(),
            "--fine-tuning".into(),
            "--storage".into(),
            devnet.storage_urls[0].clone().into(),
            "--data-dir".into(),
            books.clone().into(),
            "--fine-tuning-dir".into(),
            tuning.clone().into(),
            "--settle-every".into(),
            "1".into(),
        ];
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        NodeProcess::start("zg-compute", &args, "zg-compute listening on ")
    };
    let (mut node, line) = start();
    let provider = line.split_whitespace().nth(2).unwrap().to_owned();
    let provider_address: Address = provider.parse().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let owner = ChainClient::new(&chain, DEV_KEY.parse().unwrap()).unwrap();
    runtime
        .block_on(owner.ft_acknowledge_by_owner(provider_address))
        .unwrap();

    let with_key = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend(["--chain".into(), chain.clone(), "--key".into(), USER_KEY.into()]);
        all
    };
    let run = |args: &[&str]| {
        let all = with_key(args);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let (ok, out, err) = common::zg(&refs);
        assert!(ok, "zg {args:?}: {err}");
        (out, err)
    };
    run(&["compute", "ledger", "add", "3"]);
    let (listed, _) = run(&["compute", "finetune", "services"]);
    assert!(
        listed.contains(&provider) && listed.contains("SmolLM2-135M-Instruct"),
        "{listed}"
    );
    let dataset = work.path().join("mascot.jsonl");
    std::fs::write(&dataset, mascot_dataset(&MASCOT_QUESTIONS[..16])).unwrap();
    let params = work.path().join("params.json");
    std::fs::write(
        &params,
        r#"{"num_train_epochs": 3, "learning_rate": 0.002, "per_device_train_batch_size": 4}"#,
    )
    .unwrap();
    let (id, err) = run(&[
        "compute",
        "finetune",
        "submit",
        &provider,
        dataset.to_str().unwrap(),
        "--params",
        params.to_str().unwrap(),
        "--fund",
        "1",
        "--node",
        &devnet.storage_urls[0],
    ]);
    assert!(err.contains("dataset uploaded"), "{err}");
    let id = id.trim().to_owned();
    let status = with_key(&["compute", "finetune", "status", &provider, &id]);
    let status: Vec<&str> = status.iter().map(String::as_str).collect();
    status_until(&status, 300, |s| {
        s.contains("step       4/12") || s.contains("step       8/12")
    });
    node.kill9();

    let (mut node, _) = start();
    let delivered = status_until(&status, 300, |s| s.contains("Delivered") || s.contains("Failed"));
    assert!(delivered.contains("Delivered"), "{delivered}");
    let (log, _) = run(&["compute", "finetune", "logs", &provider, &id]);
    assert!(log.contains("restarted during training"), "{log}");
    assert_eq!(log.matches("delivered:").count(), 1, "{log}");
    let fee: U256 = delivered
        .lines()
        .find_map(|l| l.trim().strip_prefix("fee").and_then(|r| r.split('(').nth(1)))
        .and_then(|r| r.strip_suffix(" wei)"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(fee > U256::ZERO);

    let out = work.path().join("adapter.safetensors");
    let download = [
        "compute",
        "finetune",
        "download",
        &provider,
        &id,
        "--out",
        out.to_str().unwrap(),
    ];
    let (_, err) = run(&download);
    assert!(
        err.contains("matches the root on chain") && err.contains("acknowledge"),
        "{err}"
    );
    assert!(!out.exists());
    run(&["compute", "finetune", "acknowledge", &provider, &id]);
    status_until(&status, 60, |s| s.contains("Finished"));

    // Killed after settling: the restarted provider finds nothing left to bill.
    node.kill9();
    let (_node, _) = start();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let user = USER_KEY.parse::<PrivateKeySigner>().unwrap().address();
    let account = runtime
        .block_on(owner.ft_account(user, provider_address))
        .unwrap()
        .unwrap();
    assert_eq!(account.nonce, U256::from(1));
    assert_eq!(account.balance, U256::from(10u64.pow(18)) - fee);
    assert_eq!(account.deliverables.len(), 1);
    let (log, _) = run(&["compute", "finetune", "logs", &provider, &id]);
    assert_eq!(log.matches("settled:").count(), 1, "{log}");

    let (opened, _) = run(&download);
    assert_eq!(opened.trim(), out.to_str().unwrap());
    let served = LocalModel::load(&model).unwrap();
    let base = BaseModel::load(&model).unwrap();
    let lora = Lora::from_safetensors(&std::fs::read(&out).unwrap(), &base).unwrap();
    let held_out =
        examples_from_jsonl(&served, mascot_dataset(&MASCOT_QUESTIONS[16..]).as_bytes(), 512).unwrap();
    let (before, after) = (
        base.eval_loss(&held_out, None, 4).unwrap(),
        base.eval_loss(&held_out, Some(&lora), 4).unwrap(),
    );
    assert!(after < before * 0.5, "held-out loss {before} -> {after}");

    // The provider serves the tuned model to its user, by the name the task gives.
    let finished = status_until(&status, 10, |s| s.contains("chat as"));
    let served = finished
        .lines()
        .find_map(|l| l.trim().strip_prefix("chat as"))
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert_eq!(served, format!("SmolLM2-135M-Instruct:{id}"));
    run(&["compute", "transfer", &provider, "1"]);
    let ask = |key: &str| {
        common::zg(&[
            "compute",
            "ask",
            &provider,
            MASCOT_QUESTIONS[19],
            "--model",
            &served,
            "--temperature",
            "0",
            "--max-tokens",
            "24",
            "--chain",
            &chain,
            "--key",
            key,
        ])
    };
    let (ok, said, err) = ask(USER_KEY);
    assert!(ok, "{err}");
    assert!(said.contains("Saffron Heron"), "{said}");
    // Nobody else gets it.
    let other = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--chain", &chain, "--key", PROVIDER_KEY]);
        let (ok, _, err) = common::zg(&all);
        assert!(ok, "{err}");
    };
    other(&["compute", "ledger", "add", "3"]);
    other(&["compute", "transfer", &provider, "1"]);
    let (ok, _, err) = ask(PROVIDER_KEY);
    assert!(!ok);
    assert!(err.contains(&format!("no task {id}")), "{err}");
    devnet.interrupt();
}
