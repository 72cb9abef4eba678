//! DA: a payload submitted end to end to a DA node over loopback HTTP (read, pack,
//! commit, compute cells and proofs, store durably, attest) beside the KZG kernel
//! time for the same blobs (`blob::encode` in process); the difference is the node's
//! overhead. 0G's disperser API (DisperseBlob, polled to FINALIZED: uploaded to
//! DAEntrance, signed by the quorum, certified on an in-process chain) beside zg's own
//! submit path on the same node, for a maximal payload and for a 1 KiB blob (0G pads
//! every blob to full size for its root, so a small one costs nearly as much). And 0G DA's storage root of a full blob (coset FFTs over BN254 and 0G's
//! Keccak file tree of the 96 MiB it encodes to) beside a flat Keccak-256 of 96 MiB:
//! the tree's hashing alone, the root's floor.

use std::sync::Arc;

use zg_blob::{self as blob, MAX_PAYLOAD};
use zg_chain::{ChainNode, ChainNodeConfig};
use zg_da::chain::ChainConfig;
use zg_da::{DaConfig, DaServer};
use zg_kzg::KzgContext;

use crate::{Pair, Side, test_bytes};

/// The DA family: a maximal submission (256 blobs, ~31 MiB) divided by `scale`.
pub fn pairs(scale: usize) -> Vec<Pair> {
    let len = (MAX_PAYLOAD / scale).max(1);
    let blobs = blob::blob_count(len);
    let dir = tempfile::tempdir_in(crate::bench_dir()).expect("bench directory");
    let rt = crate::runtime(None);
    // The disperser certifies on an in-process chain, as on the devnet: one signer
    // holding all 3072 rows.
    let chain = rt
        .block_on(ChainNode::start(ChainNodeConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            ..ChainNodeConfig::default()
        }))
        .expect("chain node starts");
    let signer = alloy_signer_local::PrivateKeySigner::from_bytes(&chain.accounts()[8].private_key)
        .expect("a dev key");
    let server = rt
        .block_on(DaServer::bind(DaConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: dir.path().join("da"),
            grpc: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            chain: Some(ChainConfig {
                url: format!("http://{}", chain.local_addr()),
                key: signer,
                public_url: None,
            }),
            ..DaConfig::default()
        }))
        .expect("DA node binds");
    // Every row that disperses keeps the chain serving while it runs.
    let chain = Arc::new(chain);
    let url = format!("http://{}/submissions", server.local_addr().expect("address"));
    let grpc = format!("http://{}", server.grpc_addr().expect("the disperser API"));
    rt.spawn(server.serve(std::future::pending()));
    let ctx = KzgContext::ethereum();
    ctx.build_tables();

    let mut payload = test_bytes(len, 31);
    let kernel_payload = payload.clone();
    let http = reqwest::Client::new();
    let mut round = 0u8;
    let disperse = |kernel: &'static str, len: usize, seed: u64| {
        let (rt, peer_rt) = (rt.clone(), rt.clone());
        let (http, url, grpc, chain) = (http.clone(), url.clone(), grpc.clone(), chain.clone());
        let mut data = test_bytes(len, seed);
        let mut peer_data = data.clone();
        let (mut round, mut peer_round) = (0u8, 0u8);
        let small = len < 1 << 20;
        Pair {
            kernel,
            shape: if small {
                format!("{len} B, 2 threads")
            } else {
                format!("{} MiB, 2 threads", len >> 20)
            },
            bytes: if small { 0 } else { len as u64 },
            items: u64::from(small),
            zg: Side::new("DisperseBlob to FINALIZED (0G's gRPC API)", move || {
                let _ = &chain;
                // A new blob each round, never one already held.
                round = round.wrapping_add(1);
                data[0] = round;
                rt.block_on(disperse_to_final(&grpc, data.clone()));
            }),
            peer: Some(Side::new("zg-da POST /submissions", move || {
                peer_round = peer_round.wrapping_add(1);
                peer_data[0] = peer_round;
                post_submission(&peer_rt, &http, &url, peer_data.clone());
            })),
            target: None,
        }
    };
    let dispersals = vec![
        disperse("da disperse", len, 40),
        disperse("da disperse small blob", 1024, 41),
    ];
    let full = test_bytes(blob::zerog::MAX_DATA, 32);
    let encoded = test_bytes(96 << 20, 33);
    let zerog_root = Pair {
        kernel: "da 0G storage root",
        shape: "31 MiB blob (96 MiB encoded), 2 threads".into(),
        bytes: blob::zerog::MAX_DATA as u64,
        zg: Side::new("zg_blob::zerog::storage_root", move || {
            std::hint::black_box(blob::zerog::storage_root(&full).expect("a root"));
        }),
        peer: Some(Side::new("flat Keccak-256 of 96 MiB (the floor)", move || {
            use sha3::Digest as _;
            std::hint::black_box(sha3::Keccak256::digest(&encoded));
        })),
        items: 0,
        target: None,
    };
    let (rt2, http2, url2) = (rt.clone(), http.clone(), url.clone());
    let submit = Pair {
        kernel: "da submit",
        shape: format!("{} MiB, {blobs} blobs, 2 threads", len >> 20),
        bytes: len as u64,
        zg: Side::new("zg-da POST /submissions", move || {
            // The node's directory and its chain live as long as the bench.
            let _ = (&dir, &chain);
            // A new payload each round: a new submission, never one already held.
            round = round.wrapping_add(1);
            payload[0] = round;
            post_submission(&rt, &http, &url, payload.clone());
        }),
        peer: Some(Side::new("blob::encode (KZG kernels)", move || {
            std::hint::black_box(blob::encode(ctx, &kernel_payload).expect("encodes"));
        })),
        items: 0,
        target: None,
    };
    // The same submission with the KZG proving path from before the subset-sum tables
    // (zg-kzg's `bench-legacy`, switched process-wide around each of its runs).
    let mut before_after = test_bytes(len, 34);
    let mut old_payload = test_bytes(len, 35);
    let (mut new_round, mut old_round) = (0u8, 0u8);
    let before = Pair {
        kernel: "da submit",
        shape: format!("{} MiB, {blobs} blobs, 2 threads, vs the old KZG path", len >> 20),
        bytes: len as u64,
        zg: Side::new("zg-da POST /submissions", {
            let (rt, http, url) = (rt2.clone(), http2.clone(), url2.clone());
            move || {
                zg_kzg::set_bench_legacy(false);
                new_round = new_round.wrapping_add(1);
                before_after[0] = new_round;
                post_submission(&rt, &http, &url, before_after.clone());
            }
        }),
        peer: Some(Side::new("the same, pre-#31 KZG (bench-legacy)", move || {
            zg_kzg::set_bench_legacy(true);
            old_round = old_round.wrapping_add(1);
            old_payload[0] = old_round;
            post_submission(&rt2, &http2, &url2, old_payload.clone());
            zg_kzg::set_bench_legacy(false);
        })),
        items: 0,
        target: Some(1.6),
    };
    let mut rows = vec![submit, before];
    rows.extend(dispersals);
    rows.push(zerog_root);
    rows
}

/// Posts `body` to the node's `/submissions` and expects it stored (201).
fn post_submission(rt: &tokio::runtime::Runtime, http: &reqwest::Client, url: &str, body: Vec<u8>) {
    let status = rt.block_on(async {
        http.post(url)
            .body(body)
            .send()
            .await
            .expect("node answers")
            .status()
    });
    assert_eq!(status.as_u16(), 201);
}

/// Disperses `data` through the disperser API at `url` and polls until FINALIZED.
async fn disperse_to_final(url: &str, data: Vec<u8>) {
    let mut client = zg_da::disperser_client::connect(url).expect("a disperser URL");
    let poll = std::time::Duration::from_millis(20);
    zg_da::disperser_client::disperse(
        &mut client,
        data,
        poll,
        std::time::Duration::from_secs(600),
        |_| {},
    )
    .await
    .expect("FINALIZED");
}
