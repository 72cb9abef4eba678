//! `zg agent` against a real `zg devnet` (its provider on a tiny random-weight model):
//! a manifest deployed to zg-storage and the registry answers through `zg agent run`,
//! paid from the caller's ledger; a redeploy serves the new version while the old one
//! stays runnable by its root; a manifest whose bytes do not verify against the
//! registered root (a storage node that lies), or that is another agent's, is refused.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{DEV_KEY, Devnet, USER_KEY};

/// `zg ARGS --chain URL`: (success, stdout, stderr).
fn zg(chain: &str, args: &[&str]) -> (bool, String, String) {
    let mut all = args.to_vec();
    all.extend(["--chain", chain]);
    common::zg(&all)
}

fn ok(chain: &str, args: &[&str]) -> (String, String) {
    let (ok, out, err) = zg(chain, args);
    assert!(ok, "zg {args:?}: {out}{err}");
    (out, err)
}

/// The prompt tokens `zg agent run` reports on stderr.
fn prompt_tokens(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains(" prompt + "))
        .unwrap_or_else(|| panic!("no usage line in {stderr}"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

fn manifest(dir: &Path, file: &str, body: &serde_json::Value) -> String {
    let path = dir.join(file);
    std::fs::write(&path, serde_json::to_vec_pretty(body).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn an_agent_is_deployed_run_redeployed_and_refused_when_its_manifest_lies() {
    let work = tempfile::tempdir().unwrap();
    let model = work.path().join("tiny.gguf");
    zg_compute::model::write_tiny_model(&model, 7).unwrap();
    let devnet = Devnet::start(1, &["--compute-model-file", model.to_str().unwrap()]);
    let chain = devnet.chain_url.clone();
    let node = devnet.storage_urls[0].clone();
    let (_, provider) = devnet.compute.clone().unwrap();

    // The user funds the provider from its own ledger.
    ok(&chain, &["compute", "ledger", "add", "3", "--key", USER_KEY]);
    ok(
        &chain,
        &["compute", "transfer", &provider, "1", "--key", USER_KEY],
    );

    // Version 1: a system prompt only.
    let v1 = serde_json::json!({
        "name": "helper",
        "version": "1",
        "description": "answers questions about zg",
        "provider": provider,
        "system": "Answer in one word.",
        "parameters": {"temperature": 0, "max_tokens": 4},
    });
    let path = manifest(work.path(), "v1.json", &v1);
    let (out, _) = ok(
        &chain,
        &["agent", "deploy", &path, "--node", &node, "--key", DEV_KEY],
    );
    assert!(
        out.starts_with("deployed agent helper version 1 as service "),
        "{out}"
    );
    let id = out
        .split_whitespace()
        .nth(7)
        .unwrap()
        .trim_end_matches(',')
        .to_owned();
    let (listed, _) = ok(&chain, &["agent", "list"]);
    assert!(listed.contains("helper  1"), "{listed}");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "agent",
            "run",
            "helper",
            "what is zg?",
            "--node",
            &node,
            "--key",
            USER_KEY,
        ];
        args.extend(extra);
        zg(&chain, &args)
    };
    let (ran, answer, said) = run(&[]);
    assert!(ran, "{answer}{said}");
    // The tiny model's tokens may decode to whitespace: count them instead.
    assert!(said.contains(" + 4 generated tokens"), "{answer}{said}");
    assert!(said.contains("agent helper 1"), "{said}");
    let v1_tokens = prompt_tokens(&said);

    // Version 2 reads a file from zg-storage into its context.
    let facts = work.path().join("facts.txt");
    std::fs::write(&facts, "zg is a data plane for decentralized AI. ".repeat(8)).unwrap();
    let (root, _) = ok(
        &chain,
        &[
            "upload",
            facts.to_str().unwrap(),
            "--root-kind",
            "keccak",
            "--node",
            &node,
            "--key",
            DEV_KEY,
        ],
    );
    let mut v2 = v1.clone();
    v2["version"] = "2".into();
    v2["files"] = serde_json::json!([{"name": "facts.txt", "root": root.trim()}]);
    let path2 = manifest(work.path(), "v2.json", &v2);
    let (out, _) = ok(
        &chain,
        &["agent", "deploy", &path2, "--node", &node, "--key", DEV_KEY],
    );
    assert!(
        out.starts_with(&format!("redeployed agent helper version 2 as service {id}")),
        "{out}"
    );
    let (ran, answer, said) = run(&[]);
    assert!(ran, "{answer}{said}");
    assert!(said.contains("agent helper 2"), "{said}");
    let v2_tokens = prompt_tokens(&said);
    assert!(
        v2_tokens > v1_tokens + 40,
        "the file reached the provider: {v1_tokens} then {v2_tokens}"
    );
    // The old version stays runnable by its root, exactly as it was.
    let (ran, answer, said) = run(&["--version", "1"]);
    assert!(ran, "{answer}{said}");
    assert_eq!(prompt_tokens(&said), v1_tokens);
    let (shown, _) = ok(&chain, &["services", "show", &id]);
    assert!(shown.contains("revisions    2"), "{shown}");

    // A storage node that flips a byte of what it serves: the manifest is refused.
    let mut proxy = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/tampering_proxy.py"))
        .arg(&node)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(proxy.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let liar = line.trim().strip_prefix("listening ").unwrap().to_owned();
    let (ran, answer, said) = zg(
        &chain,
        &["agent", "run", "helper", "hi", "--node", &liar, "--key", USER_KEY],
    );
    let _ = proxy.kill();
    let _ = proxy.wait();
    assert!(!ran, "a tampered manifest ran: {answer}");
    assert!(
        said.contains(
            "refusing agent helper: its manifest's bytes do not verify against the registered root"
        ),
        "{said}"
    );
    assert!(answer.is_empty(), "nothing reached the provider: {answer}");

    // A record pointing at another agent's manifest is refused too.
    let v2_root = shown
        .lines()
        .find_map(|l| l.trim().strip_prefix("manifest"))
        .unwrap()
        .trim()
        .to_owned();
    ok(
        &chain,
        &[
            "services",
            "register",
            "--kind",
            "agent",
            "--name",
            "impostor",
            "--version",
            "1",
            "--root",
            &v2_root,
            "--key",
            USER_KEY,
        ],
    );
    let (ran, _, said) = zg(
        &chain,
        &[
            "agent", "run", "impostor", "hi", "--node", &node, "--key", USER_KEY,
        ],
    );
    assert!(!ran);
    assert!(
        said.contains("is helper version 2, not impostor version 1"),
        "{said}"
    );

    // A manifest that breaks a rule is refused before anything is paid or uploaded.
    let mut bad = v1;
    bad["parameters"]["temperature"] = 5.into();
    let path = manifest(work.path(), "bad.json", &bad);
    let (deployed, _, said) = zg(
        &chain,
        &["agent", "deploy", &path, "--node", &node, "--key", DEV_KEY],
    );
    assert!(!deployed);
    assert!(said.contains("temperature is from 0 to 2"), "{said}");
}
