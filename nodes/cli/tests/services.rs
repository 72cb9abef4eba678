//! `zg services` against a real `zg devnet`: every storage node, DA node and the compute
//! provider announce themselves in the service registry with their endpoints and prices;
//! a retired service leaves discovery; bad registrations are refused with the
//! registry's reason; a restarted devnet leaves its records as they were.

mod common;

use common::{DEV_KEY, Devnet, zg};
use serde_json::Value;

/// `zg services ARGS --chain URL`: (success, stdout, stderr).
fn services(chain: &str, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["services"];
    all.extend(args);
    all.extend(["--chain", chain]);
    zg(&all)
}

fn listed(chain: &str, kind: Option<&str>) -> Vec<Value> {
    let mut args = vec!["list", "--json"];
    if let Some(kind) = kind {
        args.extend(["--kind", kind]);
    }
    let (ok, out, err) = services(chain, &args);
    assert!(ok, "{err}");
    serde_json::from_str::<Vec<Value>>(&out).unwrap()
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or_else(|| panic!("{name} in {v}"))
}

/// The key of the dev account at `address`.
fn key_of(address: &str) -> String {
    zg_chain::dev_accounts(zg_chain::DEV_MNEMONIC, 10)
        .unwrap()
        .into_iter()
        .find(|a| a.address.to_string().eq_ignore_ascii_case(address))
        .map(|a| a.private_key.to_string())
        .expect("a dev account")
}

#[test]
fn the_devnets_nodes_are_listed_retired_and_refused_with_reasons() {
    let models = tempfile::tempdir().unwrap();
    let model = models.path().join("tiny.gguf");
    zg_compute::model::write_tiny_model(&model, 7).unwrap();
    let model = model.to_str().unwrap().to_owned();
    let devnet = Devnet::start(2, &["--compute-model-file", &model]);
    let chain = devnet.chain_url.clone();
    let (compute_url, provider) = devnet.compute.clone().unwrap();

    let all = listed(&chain, None);
    assert_eq!(all.len(), 6, "{all:#?}");
    let storage = listed(&chain, Some("storage"));
    let mut endpoints: Vec<&str> = storage.iter().map(|s| field(s, "endpoint")).collect();
    endpoints.sort();
    let mut want = devnet.storage_urls.clone();
    want.sort();
    assert_eq!(endpoints, want);
    for s in &storage {
        assert_eq!(field(s, "inputPrice"), "1000000000");
        assert_eq!(field(s, "priceUnit"), "sector");
    }
    let da = listed(&chain, Some("da"));
    let mut endpoints: Vec<&str> = da.iter().map(|s| field(s, "endpoint")).collect();
    endpoints.sort();
    let mut want = devnet.da_urls.clone();
    want.sort();
    assert_eq!(endpoints, want);
    assert!(
        da.iter()
            .any(|s| field(s, "description").contains(&format!("http://{}", devnet.disperser))),
        "the disperser's DA node names its gRPC API: {da:#?}"
    );
    // The devnet's provider also takes fine-tuning tasks, at the same URL.
    let tuning = listed(&chain, Some("fine-tuning"));
    assert_eq!(tuning.len(), 1, "{tuning:#?}");
    assert_eq!(field(&tuning[0], "endpoint"), compute_url);
    assert!(field(&tuning[0], "owner").eq_ignore_ascii_case(&provider));
    assert_eq!(field(&tuning[0], "priceUnit"), "token");
    let inference = listed(&chain, Some("inference"));
    assert_eq!(inference.len(), 1);
    let i = &inference[0];
    assert_eq!(field(i, "endpoint"), format!("{compute_url}/v1/proxy"));
    assert!(field(i, "owner").eq_ignore_ascii_case(&provider));
    assert_eq!(
        (
            field(i, "inputPrice"),
            field(i, "outputPrice"),
            field(i, "priceUnit")
        ),
        ("1000000000", "2000000000", "token")
    );
    // Each node owns its records: five distinct accounts (the provider has two).
    let mut owners: Vec<&str> = all.iter().map(|s| field(s, "owner")).collect();
    owners.sort();
    owners.dedup();
    assert_eq!(owners.len(), 5);
    let (ok, table, _) = services(&chain, &["list"]);
    assert!(ok);
    assert!(
        table.contains("1000000000 in + 2000000000 out wei/token"),
        "{table}"
    );

    // Retiring storage node 1's record (as its owner) takes it out of discovery.
    let second = storage
        .iter()
        .find(|s| field(s, "endpoint") == devnet.storage_urls[1])
        .unwrap();
    let id = field(second, "id").to_owned();
    let (ok, _, err) = services(&chain, &["retire", &id, "--key", DEV_KEY]);
    assert!(!ok);
    assert!(err.contains(&format!("service {id} belongs to")), "{err}");
    let owner_key = key_of(field(second, "owner"));
    let (ok, out, err) = services(&chain, &["retire", &id, "--key", &owner_key]);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("retired service {id}")), "{out}");
    let storage = listed(&chain, Some("storage"));
    assert_eq!(storage.len(), 1);
    assert_eq!(field(&storage[0], "endpoint"), devnet.storage_urls[0]);
    assert_eq!(listed(&chain, None).len(), 5);
    let (ok, shown, _) = services(&chain, &["show", &id]);
    assert!(ok);
    assert!(shown.contains("(retired)"), "{shown}");

    // Refusals carry the registry's reason; nothing is registered by them.
    let register = |extra: &[&str]| {
        let mut args = vec![
            "register",
            "--kind",
            "inference",
            "--name",
            "mine",
            "--key",
            DEV_KEY,
        ];
        args.extend(extra);
        services(&chain, &args)
    };
    let long = "d".repeat(1025);
    let (ok, _, err) = register(&["--endpoint", "http://127.0.0.1:9", "--description", &long]);
    assert!(!ok);
    assert!(
        err.contains("the description is 1025 bytes; at most 1024 are taken"),
        "{err}"
    );
    for (endpoint, reason) in [
        ("127.0.0.1:9", "starts with http:// or https://"),
        ("http://host:70000", "port"),
        ("http://", "names a host"),
    ] {
        let (ok, _, err) = register(&["--endpoint", endpoint]);
        assert!(!ok);
        assert!(
            err.contains("invalid endpoint") && err.contains(reason),
            "{endpoint}: {err}"
        );
    }
    assert_eq!(listed(&chain, None).len(), 5);
    let (ok, out, err) = register(&["--endpoint", "http://127.0.0.1:9/v1", "--price-unit", "token"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("registered service 7"), "{out}");
    let (ok, out, _) = register(&["--endpoint", "http://127.0.0.1:9/v1", "--price-unit", "token"]);
    assert!(ok);
    assert!(out.contains("already says that"), "{out}");

    // A restart announces again: the records stand; the retired node comes back anew.
    let dir = devnet.interrupt();
    let devnet = Devnet::start_in(dir, 2, &["--compute-model-file", &model]);
    let chain = devnet.chain_url.clone();
    let after = listed(&chain, None);
    let mut ids: Vec<u64> = after.iter().map(|s| field(s, "id").parse().unwrap()).collect();
    ids.sort();
    let mut want: Vec<u64> = (1..=7).filter(|i| i.to_string() != id).collect();
    want.push(8);
    assert_eq!(ids, want, "{after:#?}");
}
