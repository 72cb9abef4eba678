//! The devnet's web console in a real headless browser (Chromium driven by
//! puppeteer-core): every page loads without a console error or a failed request, a
//! file uploaded from the page downloads byte-exact, a DA blob submitted from the page
//! is listed with the cells held and a blob dispersed through 0G's API shows certified on
//! chain, the chat box streams a provider's answer and bills
//! it, the ledger page shows the account it funded. Screenshots of each page are kept
//! in `target/tmp/console-screenshots/` (CI keeps them as artifacts).

mod common;

use std::path::{Path, PathBuf};

use common::{Devnet, node_script};

/// Debian's `chromium` (CI installs it), or the browser `$CHROMIUM` names.
fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.exists(),
        "no Chromium at {}: install Debian's chromium (apt-get install chromium) or set CHROMIUM",
        path.display()
    );
    path
}

#[test]
fn the_console_works_in_a_headless_browser() {
    let work = tempfile::tempdir().unwrap();
    let model = work.path().join("tiny.gguf");
    zg_compute::model::write_tiny_model(&model, 7).unwrap();
    let devnet = Devnet::start(1, &["--compute-model-file", model.to_str().unwrap()]);
    // A blob through 0G's disperser API, certified on chain, for the DA page to show.
    let blob = work.path().join("blob.bin");
    std::fs::write(&blob, b"certified by the devnet's quorum").unwrap();
    let out = std::process::Command::new(zg_node::harness::binary("zg"))
        .args(["da", "submit", blob.to_str().unwrap(), "--disperser"])
        .arg(format!("http://{}", devnet.disperser))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let out = node_script(
        "console_browser.mjs",
        &[
            &devnet.console,
            shots.to_str().unwrap(),
            chromium().to_str().unwrap(),
        ],
    );
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(report["problems"], serde_json::json!([]), "{report:#}");
    assert!(report["blocks"].as_u64().unwrap() >= 1, "{report:#}");
    assert!(
        report["events"].as_u64().unwrap() >= 3,
        "the nodes' registrations: {report:#}"
    );
    assert!(
        report["account"].as_str().unwrap().contains("nonce"),
        "{report:#}"
    );
    let upload = &report["upload"];
    assert_eq!(upload["len"], upload["sent"], "{report:#}");
    assert_eq!(report["progress"], 1, "{report:#}");
    assert!(
        report["nodeFiles"].as_array().unwrap().contains(&upload["root"]),
        "the node lists the uploaded file: {report:#}"
    );
    let da = report["da"].as_array().unwrap();
    assert_eq!(da[1], "102400", "{report:#}");
    assert_eq!(da[4], "held", "{report:#}");
    let certified = report["daChain"].as_array().unwrap();
    assert_eq!(certified.len(), 1, "{report:#}");
    assert!(
        certified[0][4].as_str().unwrap().starts_with("certified"),
        "{report:#}"
    );
    let kinds: Vec<&str> = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    for kind in ["storage", "da", "inference"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(
        report["chat"]["usage"]
            .as_str()
            .unwrap()
            .contains("generated tokens"),
        "{report:#}"
    );
    let ledgers = report["ledgers"].as_array().unwrap();
    assert_eq!(ledgers.len(), 10);
    assert_ne!(
        ledgers[1][2], "—",
        "the chat funded dev account 1's ledger: {report:#}"
    );
    for page in ["chain", "storage", "da", "market", "ledgers"] {
        let shot = shots.join(format!("{page}.png"));
        assert!(
            shot.metadata().is_ok_and(|m| m.len() > 1000),
            "{}",
            shot.display()
        );
    }
}
