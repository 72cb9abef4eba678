//! Storage on chain, 64 MiB: `zg upload` paying on the Flow beside 0G's own TypeScript
//! SDK doing the same against the same devnet nodes, and the chain-gated node path
//! (segments of a paid file to a node that follows the chain) beside the off-chain one
//! (the same segments to a node that follows nothing).

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zg_chain::{ChainNode, ChainNodeConfig};
use zg_merkle::keccak_tree::KeccakTree;
use zg_merkle::{FileTree, RootKind, SEGMENT_SIZE};
use zg_storage::{FollowConfig, StorageClient, StorageConfig, StorageServer, pay};

use crate::{Pair, Side, Worker, test_bytes};

/// Paid files made ready before timing: more than the samples one row takes.
const PREPAID: u8 = 24;

/// A storage node on a free loopback port, following `chain` when given.
fn storage_node(rt: &tokio::runtime::Runtime, dir: &Path, chain: Option<String>) -> String {
    let cfg = StorageConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: dir.to_owned(),
        chain: chain.map(|url| FollowConfig {
            url,
            confirmations: 0,
            poll: Duration::from_millis(20),
            announce: None,
        }),
        ..StorageConfig::default()
    };
    let server = rt.block_on(StorageServer::bind(cfg)).expect("storage node binds");
    let url = format!("http://{}", server.local_addr().expect("addr"));
    rt.spawn(server.serve(std::future::pending()));
    url
}

/// Writes `v` at byte `at` of the file: the variant a round uploads.
fn set_variant(path: &Path, at: u64, v: &[u8]) {
    let f = std::fs::OpenOptions::new().write(true).open(path).expect("open");
    f.write_all_at(v, at).expect("variant byte");
}

/// Pays for the file at `path` as it is now on the Flow, waiting until `node` follows it.
fn hash_and_pay(
    rt: &tokio::runtime::Runtime,
    chain: &str,
    key: &str,
    path: &Path,
    node: &StorageClient,
) -> FileTree {
    let tree = rt
        .block_on(zg_storage::client::hash_file(path, RootKind::Keccak))
        .expect("hash");
    let FileTree::Keccak(keccak) = &tree else {
        unreachable!("a Keccak hash is a Keccak tree")
    };
    rt.block_on(pay_for(chain, key, keccak, node));
    tree
}

async fn pay_for(chain: &str, key: &str, tree: &KeccakTree, node: &StorageClient) {
    let flow = zg_contracts::FLOW_ADDRESS;
    pay::pay(chain, key, flow, tree, std::slice::from_ref(node))
        .await
        .expect("pay on the Flow");
}

/// The rows; `scale` divides the 64 MiB file.
pub fn pairs(scale: usize) -> Vec<Pair> {
    let len = ((64usize << 20) / scale).max(SEGMENT_SIZE);
    let dir = tempfile::Builder::new()
        .prefix("zg-bench-chain")
        .tempdir_in(crate::bench_dir())
        .expect("bench dir");
    let rt = crate::runtime(None);
    let chain = rt
        .block_on(ChainNode::start(ChainNodeConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: Some(dir.path().join("chain")),
            ..ChainNodeConfig::default()
        }))
        .expect("chain node starts");
    let chain_url = format!("http://{}", chain.local_addr());
    let key = chain.accounts()[0].private_key.to_string();
    let sdk_key = chain.accounts()[1].private_key.to_string();
    let gated_url = storage_node(&rt, &dir.path().join("gated"), Some(chain_url.clone()));
    let open_url = storage_node(&rt, &dir.path().join("open"), None);
    let gated = Arc::new(StorageClient::new(&gated_url).expect("client"));
    let open = Arc::new(StorageClient::new(&open_url).expect("client"));
    let path = dir.path().join("upload.bin");
    std::fs::write(&path, test_bytes(len, 31)).expect("write the file");

    // Paid variants (bytes 1 and 2) for the gated node; the open node takes the same ones.
    let mut trees = Vec::new();
    for v in 0..PREPAID {
        set_variant(&path, 1, &[v, 0]);
        trees.push(hash_and_pay(&rt, &chain_url, &key, &path, &gated));
    }
    let trees = Arc::new(Mutex::new(trees));
    let dir = Arc::new(dir);
    let label = format!("{} MiB over loopback", len >> 20);
    let mut out = Vec::new();

    // One side of the node-path row: variant after variant to `node`.
    let node_side = |name: &str, node: Arc<StorageClient>| {
        let (rt, trees, path, chain_url, key, gated, dir) = (
            rt.clone(),
            trees.clone(),
            path.clone(),
            chain_url.clone(),
            key.clone(),
            gated.clone(),
            dir.clone(),
        );
        let mut round = 0usize;
        Side::new(name, move || {
            let _ = &dir;
            let mut trees = trees.lock().expect("trees");
            set_variant(&path, 1, &[round as u8, (round >> 8) as u8]);
            if round >= trees.len() {
                // Past the prepaid pool: pay for one more (this sample is slower).
                trees.push(hash_and_pay(&rt, &chain_url, &key, &path, &gated));
            }
            rt.block_on(node.upload_tree(&path, &trees[round]))
                .expect("upload");
            round += 1;
        })
    };
    out.push(Pair {
        kernel: "node upload on chain",
        shape: format!("{label}, paid segments vs off-chain"),
        bytes: len as u64,
        zg: node_side("chain-gated node (followed Flow)", gated.clone()),
        peer: Some(node_side("off-chain node", open)),
        items: 0,
        target: Some(0.9),
    });

    // Whole uploads as users run them: hash, pay, upload, finalized on the node.
    let args = [
        chain_url.as_str(),
        sdk_key.as_str(),
        gated_url.as_str(),
        path.to_str().expect("utf-8 path"),
    ];
    let sdk = Worker::start_sdk("bench_worker.mjs", &args);
    let (rt2, path2, chain2, key2, gated2, dir2) =
        (rt.clone(), path.clone(), chain_url, key, gated, dir.clone());
    let chain_node = Arc::new(chain);
    let mut round = 0u32;
    out.push(Pair {
        kernel: "node upload on chain",
        shape: format!("{label}, hash + pay + upload"),
        bytes: len as u64,
        zg: Side::new("zg upload (client + pay)", move || {
            // The chain node and the directory live as long as the rows.
            let _ = (&dir2, &chain_node);
            round += 1;
            // Bytes 5 and 6: never a variant of another row or of the SDK's.
            set_variant(&path2, 5, &round.to_le_bytes()[..2]);
            let tree = hash_and_pay(&rt2, &chain2, &key2, &path2, &gated2);
            rt2.block_on(gated2.upload_tree(&path2, &tree)).expect("upload");
        }),
        peer: sdk.map(|mut w| {
            let mut round = 0u32;
            Side::new("0G TS SDK 1.2.8 uploadFile", move || {
                round += 1;
                assert_eq!(w.ask(&round.to_string()), "ok", "0G's SDK failed an upload");
            })
        }),
        items: 0,
        target: None,
    });
    out
}
