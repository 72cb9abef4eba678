//! DA: a payload submitted end to end to a DA node over loopback HTTP (read, pack,
//! commit, compute cells and proofs, store durably, attest) beside the KZG kernel
//! time for the same blobs (`blob::encode` in process); the difference is the node's
//! overhead. And 0G DA's storage root of a full blob (coset FFTs over BN254 and 0G's
//! Keccak file tree of the 96 MiB it encodes to) beside a flat Keccak-256 of 96 MiB:
//! the tree's hashing alone, the root's floor.

use std::sync::Arc;

use zg_blob::{self as blob, MAX_PAYLOAD};
use zg_da::{DaConfig, DaServer};
use zg_kzg::KzgContext;

use crate::{Pair, Side, test_bytes};

/// The DA family: a maximal submission (256 blobs, ~31 MiB) divided by `scale`.
pub fn pairs(scale: usize) -> Vec<Pair> {
    let len = (MAX_PAYLOAD / scale).max(1);
    let blobs = blob::blob_count(len);
    let dir = tempfile::tempdir_in(crate::bench_dir()).expect("bench directory");
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime"),
    );
    let server = rt
        .block_on(DaServer::bind(DaConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: dir.path().join("da"),
            ..DaConfig::default()
        }))
        .expect("DA node binds");
    let url = format!("http://{}/submissions", server.local_addr().expect("address"));
    rt.spawn(server.serve(std::future::pending()));
    let ctx = KzgContext::ethereum();
    ctx.build_tables();

    let mut payload = test_bytes(len, 31);
    let kernel_payload = payload.clone();
    let http = reqwest::Client::new();
    let mut round = 0u8;
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
    let submit = Pair {
        kernel: "da submit",
        shape: format!("{} MiB, {blobs} blobs, 2 threads", len >> 20),
        bytes: len as u64,
        zg: Side::new("zg-da POST /submissions", move || {
            // The node's directory lives as long as the bench.
            let _ = &dir;
            // A new payload each round: a new submission, never one already held.
            round = round.wrapping_add(1);
            payload[0] = round;
            let body = payload.clone();
            let status = rt.block_on(async {
                http.post(&url)
                    .body(body)
                    .send()
                    .await
                    .expect("node answers")
                    .status()
            });
            assert_eq!(status.as_u16(), 201);
        }),
        peer: Some(Side::new("blob::encode (KZG kernels)", move || {
            std::hint::black_box(blob::encode(ctx, &kernel_payload).expect("encodes"));
        })),
        items: 0,
        target: None,
    };
    vec![submit, zerog_root]
}
