//! The real `zg-da` binary on loopback: payloads submitted, sampled and fetched back,
//! dispersal to several nodes, restarts and bad input; 0G's disperser API; 0G DA
//! certificates on a zg chain.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use zg_node::harness::{NodeProcess, binary};

use zg_blob::da::{SubmissionHeader, encode_blob_record};
use zg_blob::{self as blob, CellWithProof};
use zg_da::DaClient;
use zg_da::api::{HeaderJson, Id, SubmissionInfo};
use zg_da::client as da_client;
use zg_kzg::KzgContext;

struct DaProcess {
    process: NodeProcess,
    url: String,
    key: String,
    p2p: String,
    /// The disperser API's address, or "off".
    grpc: String,
}

impl DaProcess {
    fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[])
    }

    fn start_with(data_dir: &Path, extra: &[&str]) -> Self {
        let mut args: Vec<&OsStr> = [
            "--listen",
            "127.0.0.1:0",
            "--p2p-listen",
            "/ip4/127.0.0.1/tcp/0",
            "--data-dir",
        ]
        .iter()
        .map(OsStr::new)
        .collect();
        args.push(data_dir.as_os_str());
        args.extend(extra.iter().map(OsStr::new));
        let (process, rest) = NodeProcess::start("zg-da", &args, "zg-da listening on ");
        let (url, rest) = rest.split_once(" node ").expect("url and key");
        let (key, rest) = rest.split_once(" p2p ").expect("key and p2p address");
        let (p2p, rest) = rest.split_once(" grpc ").expect("p2p and grpc addresses");
        let (grpc, _signer) = rest.split_once(" signer ").expect("grpc address and signer");
        Self {
            process,
            url: url.to_owned(),
            key: key.to_owned(),
            p2p: p2p.to_owned(),
            grpc: grpc.to_owned(),
        }
    }

    fn client(&self) -> DaClient {
        DaClient::new(&self.url).unwrap()
    }

    fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_owned()
    }

    fn kill(&mut self) {
        self.process.kill9();
    }
}

fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The status of a GET of `url`.
async fn get_status(http: &reqwest::Client, url: &str) -> u16 {
    http.get(url).send().await.unwrap().status().as_u16()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn zg(args: &[&str]) -> String {
    let out = Command::new(binary("zg"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("zg runs");
    assert!(
        out.status.success(),
        "zg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Sends raw HTTP and returns the status code (for requests a client library would not send).
fn raw_status(addr: &str, request: &[u8], body_chunks: usize) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request).unwrap();
    let chunk = vec![7u8; 1 << 20];
    for _ in 0..body_chunks {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if s.write_all(&framed).is_err() {
            break; // the node stopped reading: it has answered
        }
    }
    let mut response = Vec::new();
    let _ = s.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"))
}

#[test]
fn submit_sample_fetch_restart_and_cli() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut node = DaProcess::start(dir.path());
    let client = node.client();
    let ctx = KzgContext::ethereum();

    // Two blobs, the node encodes and holds every cell.
    let data = payload(blob::BLOB_CAPACITY + 777, 1);
    let header = rt
        .block_on(da_client::submit(
            std::slice::from_ref(&client),
            data.clone(),
            false,
        ))
        .unwrap();
    assert_eq!(header.blob_count(), 2);
    let key: [u8; 32] = hex::decode(node.key.trim_start_matches("0x"))
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        rt.block_on(da_client::sample(&client, &header.id, 24)).unwrap(),
        24
    );
    let fetched = rt.block_on(client.payload(&header.id)).unwrap();
    assert_eq!(fetched, data);
    da_client::check_payload(ctx, &header.id, &fetched).unwrap();

    // An empty payload is one blob.
    let empty = rt
        .block_on(da_client::submit(
            std::slice::from_ref(&client),
            Vec::new(),
            false,
        ))
        .unwrap();
    assert_eq!(empty.blob_count(), 1);
    assert!(rt.block_on(client.payload(&empty.id)).unwrap().is_empty());

    // kill -9, restart: same key, same submissions, every cell still held.
    node.kill();
    let node = DaProcess::start(dir.path());
    let client = node.client();
    assert_eq!(rt.block_on(client.node_id()).unwrap(), key);
    assert_eq!(rt.block_on(client.payload(&header.id)).unwrap(), data);
    let info = rt.block_on(client.info(&header.id)).unwrap();
    assert_eq!(info.cells_held, vec![128, 128]);
    assert!(info.custody_held);

    // The CLI samples it.
    let id = Id::from(header.id).to_string();
    assert!(zg(&["da", "sample", &id, "--node", &node.url, "--samples", "8"]).starts_with("8 of 8"));
}

#[test]
fn dispersal_to_three_nodes_and_bad_input() {
    let rt = runtime();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let nodes: Vec<DaProcess> = dirs.iter().map(|d| DaProcess::start(d.path())).collect();
    let clients: Vec<DaClient> = nodes.iter().map(DaProcess::client).collect();
    let ctx = KzgContext::ethereum();

    // Encoded once here, dispersed to all three; each checks every cell and holds it.
    let data = payload(50_000, 3);
    let header = rt
        .block_on(da_client::submit(&clients, data.clone(), true))
        .unwrap();
    for c in &clients {
        let info = rt.block_on(c.info(&header.id)).unwrap();
        assert!(info.custody_held && info.cells_held == vec![128]);
        assert_eq!(rt.block_on(c.payload(&header.id)).unwrap(), data);
    }

    // Bad input to node 0, over plain HTTP.
    let http = reqwest::Client::new();
    let url = &nodes[0].url;
    let sub = blob::encode(ctx, &payload(9_000, 4)).unwrap();
    let h = SubmissionHeader::of(&sub);
    let id = Id::from(h.id).to_string();
    let put = |path: String, body: Vec<u8>| {
        rt.block_on(async {
            http.put(format!("{url}{path}"))
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    let get = |path: String| rt.block_on(get_status(&http, &format!("{url}{path}")));
    // Cells before their header: unknown submission.
    let cells: Vec<CellWithProof> = (0..128)
        .map(|i| CellWithProof {
            index: i as u64,
            cell: sub.blobs[0].cells[i],
            proof: sub.blobs[0].proofs[i],
        })
        .collect();
    assert_eq!(
        put(format!("/submissions/{id}/blobs/0"), encode_blob_record(&cells)),
        404
    );
    // A header whose commitments name another id.
    let wrong = serde_json::to_vec(&HeaderJson::of(&header)).unwrap();
    let status = rt.block_on(async {
        http.put(format!("{url}/submissions/{id}"))
            .header("content-type", "application/json")
            .body(wrong)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 400);
    let good = serde_json::to_vec(&HeaderJson::of(&h)).unwrap();
    let status = rt.block_on(async {
        http.put(format!("{url}/submissions/{id}"))
            .header("content-type", "application/json")
            .body(good)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 200);
    // One flipped bit in one cell: the whole batch is refused, nothing stored.
    let mut tampered = cells.clone();
    tampered[77].cell[5] ^= 0x10;
    assert_eq!(
        put(
            format!("/submissions/{id}/blobs/0"),
            encode_blob_record(&tampered)
        ),
        422
    );
    // Truncated record, blob out of range.
    let record = encode_blob_record(&cells);
    assert_eq!(
        put(
            format!("/submissions/{id}/blobs/0"),
            record[..record.len() - 3].to_vec()
        ),
        400
    );
    assert_eq!(put(format!("/submissions/{id}/blobs/1"), record.clone()), 400);
    let info: SubmissionInfo = rt.block_on(async {
        http.get(format!("{url}/submissions/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(info.cells_held, vec![0]);
    assert!(!info.custody_held);
    let metrics = rt.block_on(async {
        http.get(format!("{url}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert!(metrics.contains("zg_da_proof_failures_total 1"), "{metrics}");
    // The honest cells are then taken.
    assert_eq!(put(format!("/submissions/{id}/blobs/0"), record), 200);
    assert_eq!(get(format!("/submissions/{id}/blobs/0/cells/127")), 200);
    // Reads: unknown id, bad hex, cell out of range.
    assert_eq!(get(format!("/submissions/0x{}/payload", "ab".repeat(32))), 404);
    assert_eq!(get("/submissions/0xnothex/payload".into()), 400);
    assert_eq!(get(format!("/submissions/{id}/blobs/0/cells/128")), 404);
    assert_eq!(get(format!("/submissions/{id}/blobs/5/cells/0")), 400);

    // Oversized payloads: refused on the declared length, and mid-stream when chunked.
    let addr = nodes[0].addr();
    let declared = format!("POST /submissions HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 40000000\r\n\r\n");
    assert_eq!(raw_status(&addr, declared.as_bytes(), 0), 413);
    let chunked = format!("POST /submissions HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(raw_status(&addr, chunked.as_bytes(), 40), 413);
    // Still serving.
    assert_eq!(get("/status".into()), 200);
    assert_eq!(rt.block_on(clients[0].payload(&header.id)).unwrap(), data);
}

fn metric(rt: &tokio::runtime::Runtime, url: &str, name: &str) -> u64 {
    let text = rt.block_on(async {
        reqwest::get(format!("{url}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Four networked nodes (custody 48 of 128 cells each): a payload posted to one is
/// announced, each other node fetches and checks its custody cells, every
/// node answers samples; with two nodes killed, a survivor rebuilds the payload from
/// its cells and its peer's. A peer serving corrupted cells is refused and banned.
#[test]
fn four_networked_nodes_replicate_and_survive_two_losses() {
    let rt = runtime();
    let dirs: Vec<_> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let custody = ["--custody-columns", "48"];
    let mut nodes: Vec<DaProcess> = Vec::new();
    for dir in &dirs[..4] {
        let mut args: Vec<String> = custody.iter().map(|s| s.to_string()).collect();
        for earlier in &nodes {
            args.extend(["--peer".to_owned(), earlier.p2p.clone()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        nodes.push(DaProcess::start_with(dir.path(), &args));
    }
    let clients: Vec<DaClient> = nodes.iter().map(DaProcess::client).collect();
    for c in &clients {
        wait_for("a full mesh", || rt.block_on(c.status()).unwrap().peers == 3);
    }

    let data = payload(blob::BLOB_CAPACITY + 5_000, 7);
    let info = rt.block_on(clients[0].submit(data.clone())).unwrap();
    let header = HeaderJson::of_info(&info).unwrap();
    for c in &clients[1..] {
        wait_for("custody replication", || {
            let info = rt.block_on(c.info(&header.id));
            info.is_ok_and(|i| i.cells_held == vec![48, 48] && i.custody_held)
        });
    }
    for c in &clients {
        assert_eq!(rt.block_on(da_client::sample(c, &header.id, 12)).unwrap(), 12);
    }
    for n in &nodes[1..] {
        assert!(metric(&rt, &n.url, "zg_da_samples_verified_total") > 0);
    }

    // Two nodes die, one of them the only holder of every cell.
    nodes[0].kill();
    nodes[1].kill();
    assert_eq!(rt.block_on(clients[2].payload(&header.id)).unwrap(), data);
    assert!(metric(&rt, &nodes[2].url, "zg_da_cells_from_peers_total") > 0);

    // A fifth node serves corrupted cells: both survivors refuse them, store nothing of
    // that submission, ban it, and keep serving.
    let bad = DaProcess::start_with(
        dirs[4].path(),
        &[
            "--custody-columns",
            "48",
            "--serve-bad-cells",
            "--peer",
            &nodes[2].p2p,
            "--peer",
            &nodes[3].p2p,
        ],
    );
    let bad_client = bad.client();
    wait_for("the bad peer to join", || {
        rt.block_on(bad_client.status()).unwrap().peers == 2
    });
    let info = rt.block_on(bad_client.submit(payload(3_000, 8))).unwrap();
    let bad_header = HeaderJson::of_info(&info).unwrap();
    for n in &nodes[2..] {
        wait_for("the bad cells to be refused", || {
            metric(&rt, &n.url, "zg_da_peer_proof_failures_total") >= 1
        });
        let held = rt.block_on(n.client().info(&bad_header.id)).unwrap();
        assert_eq!(held.cells_held, vec![0]);
        assert!(!held.custody_held);
        assert_eq!(rt.block_on(n.client().payload(&header.id)).unwrap(), data);
    }
}

use zg_da::wire::DaProtocol;
use zg_node::hostile;
use zg_node::p2p::P2pService;

/// Garbage gossip, oversized and malformed frames and a flood of requests from a peer
/// are refused (and counted); the node keeps serving its honest clients.
#[test]
fn hostile_peer_is_refused_and_the_node_keeps_serving() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let node = DaProcess::start(dir.path());
    let client = node.client();
    let data = payload(20_000, 11);
    let header = rt
        .block_on(da_client::submit(
            std::slice::from_ref(&client),
            data.clone(),
            false,
        ))
        .unwrap();

    let (answered, refused, failed) = rt.block_on(async {
        let (mut swarm, peer) = hostile::joined(&node.p2p, DaProtocol::TOPIC, DaProtocol::PROTOCOL).await;
        // Garbage gossip, a frame claiming 1 GiB, a malformed request, then a flood of valid ones.
        swarm
            .behaviour_mut()
            .gossipsub
            .publish(
                libp2p::gossipsub::IdentTopic::new(DaProtocol::TOPIC),
                b"not a header".to_vec(),
            )
            .unwrap();
        let mut header_request = vec![0u8];
        header_request.extend_from_slice(&header.id);
        let raw = &mut swarm.behaviour_mut().raw;
        raw.send_request(&peer, hostile::claims_one_gib());
        raw.send_request(&peer, hostile::frame(&[9u8; 33]));
        let flood = 2 * zg_node::p2p::REQUESTS_PER_WINDOW as usize;
        hostile::flood(&mut swarm, peer, &hostile::frame(&header_request), flood, 2, 0).await
    });
    // The two bad frames fail; of the flood, one window's worth is answered, the rest refused.
    assert_eq!(failed, 2, "answered {answered}, refused {refused}");
    assert!(
        answered <= zg_node::p2p::REQUESTS_PER_WINDOW as usize,
        "{answered} answered"
    );
    assert!(
        refused >= zg_node::p2p::REQUESTS_PER_WINDOW as usize,
        "{refused} refused"
    );
    assert!(
        metric(&rt, &node.url, "zg_p2p_requests_refused_total")
            >= u64::from(zg_node::p2p::REQUESTS_PER_WINDOW)
    );
    assert!(metric(&rt, &node.url, "zg_p2p_bad_frames_total") == 2);
    wait_for("the garbage gossip to be rejected", || {
        metric(&rt, &node.url, "zg_p2p_gossip_rejected_total") == 1
    });
    // Honest clients are still served.
    assert_eq!(rt.block_on(client.payload(&header.id)).unwrap(), data);
}

// ---- 0G's disperser API (gRPC), through a client built from the same proto ------------

use zg_da::grpc::proto::disperser_client::DisperserClient;
use zg_da::grpc::proto::{BlobStatus, BlobStatusRequest, DisperseBlobRequest, RetrieveBlobRequest};

type Disperser = DisperserClient<tonic::transport::Channel>;

async fn disperser(addr: &str) -> Disperser {
    DisperserClient::connect(format!("http://{addr}"))
        .await
        .expect("the disperser API answers")
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

/// Polls a request until FINALIZED, checking that its status never goes back, that the
/// blob's header is there from CONFIRMED on and that the blob is retrievable then (as
/// Nitro reads it); returns the header's (root, epoch, quorum).
async fn until_finalized(client: &mut Disperser, id: &[u8], data: &[u8]) -> (Vec<u8>, u64, u64) {
    let mut last = BlobStatus::Processing;
    let mut retrieved_at_confirmed = false;
    // Generous: a 31 MiB blob on two cores shared with other tests takes minutes.
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    while std::time::Instant::now() < deadline {
        let reply = client
            .get_blob_status(BlobStatusRequest {
                request_id: id.to_vec(),
            })
            .await
            .expect("a known id never answers an error")
            .into_inner();
        let status = BlobStatus::try_from(reply.status).unwrap();
        assert_ne!(status, BlobStatus::Failed, "the dispersal failed");
        assert!(
            status_rank(status) >= status_rank(last),
            "status went from {last:?} to {status:?}"
        );
        last = status;
        let info = reply.info.expect("0G sends info always");
        match status {
            BlobStatus::Processing => assert!(info.blob_header.is_none()),
            _ => {
                let h = info.blob_header.expect("a header from CONFIRMED on");
                if status == BlobStatus::Confirmed && !retrieved_at_confirmed {
                    let got = retrieve(client, &h.storage_root, h.epoch, h.quorum_id)
                        .await
                        .unwrap();
                    assert!(got == data, "RetrieveBlob at CONFIRMED is not byte-exact");
                    retrieved_at_confirmed = true;
                }
                if status == BlobStatus::Finalized {
                    return (h.storage_root, h.epoch, h.quorum_id);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not FINALIZED in 600 s (last {last:?})");
}

/// Where a status stands on the only path a dispersal may take.
fn status_rank(s: BlobStatus) -> u8 {
    match s {
        BlobStatus::Processing => 1,
        BlobStatus::Confirmed => 2,
        BlobStatus::Finalized => 3,
        other => panic!("{other:?} is not a status of a dispersal that succeeds"),
    }
}

async fn retrieve(
    client: &mut Disperser,
    root: &[u8],
    epoch: u64,
    quorum_id: u64,
) -> Result<Vec<u8>, tonic::Status> {
    let request = RetrieveBlobRequest {
        storage_root: root.to_vec(),
        epoch,
        quorum_id,
    };
    Ok(client.retrieve_blob(request).await?.into_inner().data)
}

async fn disperse(client: &mut Disperser, data: &[u8]) -> Result<Vec<u8>, tonic::Status> {
    let reply = client
        .disperse_blob(DisperseBlobRequest { data: data.to_vec() })
        .await?
        .into_inner();
    assert_eq!(reply.result, BlobStatus::Processing as i32);
    let id = String::from_utf8(reply.request_id.clone()).expect("an ASCII id");
    assert!(
        id.is_ascii() && id.split('-').count() == 2 && id.len() == 169,
        "{id}"
    );
    Ok(reply.request_id)
}

fn refused_with(result: Result<impl std::fmt::Debug, tonic::Status>, code: tonic::Code, text: &str) {
    let status = result.expect_err("refused");
    assert_eq!((status.code(), status.message()), (code, text), "{status:?}");
}

/// 0G's disperser API on `zg-da --grpc-listen`: 1 B and 1 MiB + 3 B dispersed, polled
/// to FINALIZED (never backwards, retrievable from CONFIRMED) and retrieved byte-exact
/// under 0G's storage root; sizes, ids and roots refused with 0G's texts; health SERVING.
#[test]
fn the_disperser_api_takes_blobs_and_gives_them_back_under_0gs_root() {
    let dir = tempfile::tempdir().unwrap();
    let node = DaProcess::start_with(dir.path(), &["--grpc-listen", "127.0.0.1:0"]);
    runtime().block_on(async {
        let mut client = disperser(&node.grpc).await;
        for data in [payload(1, 1), payload((1 << 20) + 3, 2)] {
            let id = disperse(&mut client, &data).await.unwrap();
            let (root, epoch, quorum) = until_finalized(&mut client, &id, &data).await;
            assert_eq!(root, zg_blob::zerog::storage_root(&data).unwrap().to_vec());
            let got = retrieve(&mut client, &root, epoch, quorum).await.unwrap();
            assert!(got == data, "RetrieveBlob is not byte-exact");
            // The same bytes again: another id, the same root.
            let again = disperse(&mut client, &data).await.unwrap();
            assert_ne!(again, id);
            assert_eq!(until_finalized(&mut client, &again, &data).await.0, root);
        }
        let unknown = tonic::Code::Unknown;
        refused_with(
            disperse(&mut client, &[]).await,
            unknown,
            "blob size must be greater than 0",
        );
        let over = vec![0u8; zg_blob::zerog::MAX_DATA + 1];
        refused_with(
            disperse(&mut client, &over).await,
            unknown,
            "blob size cannot exceed 31744 KiB",
        );
        let status = |id: &[u8]| {
            let mut c = client.clone();
            let request = BlobStatusRequest {
                request_id: id.to_vec(),
            };
            async move { c.get_blob_status(request).await.map(|r| r.into_inner().status) }
        };
        refused_with(
            status(b"").await,
            unknown,
            "invalid request: request_id must not be empty",
        );
        refused_with(status(b"nodash").await, unknown, "invalid metadata key: nodash");
        refused_with(status(b"a-b-c").await, unknown, "invalid metadata key: a-b-c");
        let stranger = zg_da::dispersal::request_id(b"never sent", 1);
        refused_with(
            status(stranger.as_bytes()).await,
            unknown,
            "failed to retrieve blob status: disperse failed or request may not exist",
        );
        refused_with(
            retrieve(&mut client, &[1; 31], 0, 0).await,
            unknown,
            "parameter StorageRoot len is not accepted",
        );
        let missing = retrieve(&mut client, &[1; 32], 0, 0).await.unwrap_err();
        assert_eq!(missing.code(), tonic::Code::NotFound, "{missing:?}");

        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", node.grpc))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let health = tonic_health::pb::health_client::HealthClient::new(channel)
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            health.status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );
    });
}

/// kill -9 right after DisperseBlob answered: after a restart on the same data the
/// request still reaches FINALIZED and the blob comes back byte-exact. Then the largest
/// blob 0G takes (32,505,852 bytes) goes through.
#[test]
fn dispersals_survive_kill_9_and_the_largest_blob_goes_through() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = DaProcess::start_with(dir.path(), &["--grpc-listen", "127.0.0.1:0"]);
    let data = payload(4 << 20, 3);
    let id = runtime().block_on(async {
        let mut client = disperser(&node.grpc).await;
        disperse(&mut client, &data).await.unwrap()
    });
    node.kill();
    let node = DaProcess::start_with(dir.path(), &["--grpc-listen", "127.0.0.1:0"]);
    runtime().block_on(async {
        let mut client = disperser(&node.grpc).await;
        let (root, epoch, quorum) = until_finalized(&mut client, &id, &data).await;
        assert!(retrieve(&mut client, &root, epoch, quorum).await.unwrap() == data);

        let largest = payload(zg_blob::zerog::MAX_DATA, 4);
        let id = disperse(&mut client, &largest).await.unwrap();
        let (root, epoch, quorum) = until_finalized(&mut client, &id, &largest).await;
        assert!(retrieve(&mut client, &root, epoch, quorum).await.unwrap() == largest);
    });
}

/// `zg da-server`, the OP-stack DA server, in front of a node's disperser API: a batch
/// PUT (at `/put/` and `/put`) answers the 50-byte commitment `01 47 epoch quorum root`
/// once FINALIZED, and GET `/get/0x<commitment>` gives the bytes back; an unknown
/// commitment is 500 (op-node retries it), malformed ones 400, an empty batch 500.
#[test]
fn the_op_da_server_puts_and_gets_batches_by_commitment() {
    let dir = tempfile::tempdir().unwrap();
    let node = DaProcess::start_with(dir.path(), &["--grpc-listen", "127.0.0.1:0"]);
    let disperser = format!("http://{}", node.grpc);
    let words = ["da-server", "--listen", "127.0.0.1:0", "--disperser", &disperser];
    let args: Vec<&OsStr> = words.iter().map(OsStr::new).collect();
    let (_server, rest) = NodeProcess::start("zg", &args, "zg da-server listening on ");
    let url = rest.split_whitespace().next().unwrap().to_owned();
    runtime().block_on(async {
        let http = reqwest::Client::new();
        for (path, batch) in [("/put/", payload(100_000, 5)), ("/put", payload(77, 6))] {
            let response = http
                .post(format!("{url}{path}"))
                .body(batch.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let commitment = response.bytes().await.unwrap();
            assert_eq!(commitment.len(), 50);
            assert_eq!(&commitment[..2], &[0x01, 0x47]);
            let root = zg_blob::zerog::storage_root(&batch).unwrap();
            assert_eq!(&commitment[18..], &root);
            let got = http
                .get(format!("{url}/get/0x{}", hex::encode(&commitment)))
                .send()
                .await
                .unwrap();
            assert_eq!(got.status(), 200);
            assert!(got.bytes().await.unwrap() == batch, "GET is not byte-exact");
        }
        let status = |path: String| {
            let (http, url) = (http.clone(), url.clone());
            async move { get_status(&http, &format!("{url}{path}")).await }
        };
        let unknown = zg_da::op_server::commitment(&[7; 32], 0, 0);
        assert_eq!(status(format!("/get/0x{}", hex::encode(unknown))).await, 500);
        assert_eq!(status(format!("/get/{}", hex::encode(unknown))).await, 400);
        assert_eq!(status("/get/0xnothex".into()).await, 400);
        assert_eq!(status("/get/0x0102".into()).await, 400);
        assert_eq!(status("/get/0x01/more".into()).await, 400);
        let empty = http.post(format!("{url}/put/")).send().await.unwrap();
        assert_eq!(empty.status(), 500);
        assert!(
            empty
                .text()
                .await
                .unwrap()
                .contains("blob size must be greater than 0")
        );
    });
}

// ---- 0G DA on chain: three signers, quorum certificates, DAEntrance --------------------

use alloy_primitives::{B256, U256};
use alloy_sol_types::SolEvent;
use zg_contracts::da::{DA_ENTRANCE_ADDRESS, IDAEntrance as E};
use zg_node::chain::ChainClient;

/// Hardhat's dev accounts 6, 7 and 8 (the chain funds them): one per DA node.
const SIGNER_KEYS: [&str; 3] = [
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
];

/// A chain and three DA nodes registered as its 0G DA signers; node 0 serves the
/// disperser API.
struct DaNet {
    _chain: NodeProcess,
    chain_url: String,
    nodes: Vec<Option<DaProcess>>,
    dirs: Vec<tempfile::TempDir>,
}

impl DaNet {
    fn start() -> Self {
        let chain_dir = tempfile::tempdir().unwrap();
        let words = ["--listen", "127.0.0.1:0", "--data-dir"];
        let mut args: Vec<&OsStr> = words.iter().map(OsStr::new).collect();
        args.push(chain_dir.path().as_os_str());
        let (chain, rest) = NodeProcess::start("zg-chain", &args, "zg-chain listening on ");
        let chain_url = rest.split_whitespace().next().unwrap().to_owned();
        let mut net = Self {
            _chain: chain,
            chain_url,
            nodes: Vec::new(),
            dirs: vec![chain_dir],
        };
        for i in 0..3 {
            net.dirs.push(tempfile::tempdir().unwrap());
            let node = net.start_node(i);
            net.nodes.push(Some(node));
        }
        net
    }

    fn start_node(&self, i: usize) -> DaProcess {
        let mut extra = vec!["--chain", &self.chain_url, "--key", SIGNER_KEYS[i]];
        if i == 0 {
            extra.extend(["--grpc-listen", "127.0.0.1:0"]);
        }
        let first = self.nodes.first().and_then(|n| n.as_ref()).map(|n| n.p2p.clone());
        if let Some(p2p) = &first {
            extra.extend(["--peer", p2p.as_str()]);
        }
        DaProcess::start_with(self.dirs[i + 1].path(), &extra)
    }

    fn node(&self, i: usize) -> &DaProcess {
        self.nodes[i].as_ref().expect("a running node")
    }

    fn chain(&self) -> ChainClient {
        ChainClient::new(&self.chain_url, SIGNER_KEYS[0].parse().unwrap(), |_| None).unwrap()
    }

    /// The DAEntrance events of `root` in (epoch, quorum), and whether its commitment exists.
    async fn on_chain(&self, root: &[u8], epoch: u64, quorum: u64) -> (usize, usize, bool) {
        let chain = self.chain();
        let head = chain.finalized_block().await.unwrap();
        let logs = chain.logs(DA_ENTRANCE_ADDRESS, 0, head).await.unwrap();
        let ours = |r: B256, e: U256, q: U256| {
            r.as_slice() == root && e == U256::from(epoch) && q == U256::from(quorum)
        };
        let uploads = logs
            .iter()
            .filter_map(|l| E::DataUpload::decode_log_data(l).ok())
            .filter(|u| ours(u.dataRoot, u.epoch, u.quorumId))
            .count();
        let verified = logs
            .iter()
            .filter_map(|l| E::ErasureCommitmentVerified::decode_log_data(l).ok())
            .filter(|v| ours(v.dataRoot, v.epoch, v.quorumId))
            .count();
        let call = E::commitmentExistsCall {
            _dataRoot: B256::from_slice(root),
            _epoch: U256::from(epoch),
            _quorumId: U256::from(quorum),
        };
        let exists = chain
            .view(DA_ENTRANCE_ADDRESS, "commitmentExists", call)
            .await
            .unwrap();
        (uploads, verified, exists)
    }
}

/// Three DA nodes register as 0G DA signers on a zg chain. A dispersal uploads its
/// root to DAEntrance, gathers the quorum's BLS signatures and lands a certificate:
/// the chain holds `DataUpload` and `ErasureCommitmentVerified` for that root, epoch
/// and quorum, and `commitmentExists` is true. A node refuses to sign rows it does not
/// hold. With one node killed (-9) the other two (2048 of 3072 rows) still certify;
/// with two killed the dispersal FAILS, saying how many rows signed.
#[test]
fn three_signers_certify_on_chain_and_one_loss_is_survived() {
    let mut net = DaNet::start();
    let rt = runtime();
    let grpc = net.node(0).grpc.clone();
    rt.block_on(async {
        let mut client = disperser(&grpc).await;
        for data in [payload(1, 11), payload((1 << 20) + 3, 12)] {
            let id = disperse(&mut client, &data).await.unwrap();
            let (root, epoch, quorum) = until_finalized(&mut client, &id, &data).await;
            assert_eq!(root, zg_blob::zerog::storage_root(&data).unwrap().to_vec());
            assert!(epoch >= 1, "blobs sit in an epoch with signers");
            assert_eq!(net.on_chain(&root, epoch, quorum).await, (1, 1, true));
        }
    });
    // Node 2 holds only its custody of a submission sent over zg's own API (64 of 128
    // columns), while its rows stand for all 128: it refuses to sign.
    let info = rt
        .block_on(net.node(0).client().submit(payload(5000, 13)))
        .unwrap();
    let two = net.node(2).client();
    wait_for("node 2 to hold its custody", || {
        rt.block_on(two.info(&info.id.0))
            .is_ok_and(|i| i.cells_held.iter().all(|c| *c > 0 && *c < 128))
    });
    rt.block_on(async {
        let req = zg_da::api::SignRequest {
            submission: info.id,
            storage_root: zg_da::api::HexBytes([0; 32]),
            epoch: 1,
            quorum_id: 0,
            block: 1,
        };
        let refused = two.sign(&req).await.unwrap_err().to_string();
        assert!(
            refused.contains("409") && refused.contains("which it does not hold"),
            "{refused}"
        );
        let unknown = zg_da::api::SignRequest {
            submission: zg_da::api::HexBytes([7; 32]),
            ..req
        };
        let refused = two.sign(&unknown).await.unwrap_err().to_string();
        assert!(
            refused.contains("404") && refused.contains("is not held here"),
            "{refused}"
        );
    });
    // One signer down: two thirds remain.
    net.nodes[2].as_mut().unwrap().kill();
    net.nodes[2] = None;
    rt.block_on(async {
        let mut client = disperser(&grpc).await;
        let data = payload(100_000, 14);
        let id = disperse(&mut client, &data).await.unwrap();
        let (root, epoch, quorum) = until_finalized(&mut client, &id, &data).await;
        assert_eq!(net.on_chain(&root, epoch, quorum).await, (1, 1, true));
    });
    // Two down: a third of the rows is not enough.
    net.nodes[1].as_mut().unwrap().kill();
    net.nodes[1] = None;
    rt.block_on(async {
        let mut client = disperser(&grpc).await;
        let data = payload(3000, 15);
        let id = disperse(&mut client, &data).await.unwrap();
        for _ in 0..600 {
            let response = client
                .get_blob_status(BlobStatusRequest {
                    request_id: id.clone(),
                })
                .await
                .unwrap();
            let why = response
                .metadata()
                .get(zg_da::grpc::FAILURE_REASON)
                .map(|v| v.to_str().unwrap().to_owned());
            let reply = response.into_inner();
            match BlobStatus::try_from(reply.status).unwrap() {
                BlobStatus::Failed => {
                    let why = why.expect("a FAILED request says why");
                    assert!(
                        why.contains("the quorum signed 1024 of 3072 rows, 2048 are needed"),
                        "{why}"
                    );
                    return;
                }
                BlobStatus::Processing => {
                    assert!(
                        reply.info.unwrap().blob_header.is_none(),
                        "a header before CONFIRMED"
                    );
                }
                other => panic!("a third of the quorum got the blob to {other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the dispersal did not fail in 60 s");
    });
}

/// kill -9 of the disperser right after DisperseBlob answered, on a chain: after the
/// restart the request is certified and FINALIZED, and the root was uploaded once.
#[test]
fn a_dispersal_certifies_after_the_disperser_is_killed() {
    let mut net = DaNet::start();
    let rt = runtime();
    let data = payload(4 << 20, 16);
    let id = rt.block_on(async {
        let mut client = disperser(&net.node(0).grpc).await;
        disperse(&mut client, &data).await.unwrap()
    });
    net.nodes[0].as_mut().unwrap().kill();
    net.nodes[0] = Some(net.start_node(0));
    rt.block_on(async {
        let mut client = disperser(&net.node(0).grpc).await;
        let (root, epoch, quorum) = until_finalized(&mut client, &id, &data).await;
        assert!(retrieve(&mut client, &root, epoch, quorum).await.unwrap() == data);
        assert_eq!(net.on_chain(&root, epoch, quorum).await, (1, 1, true));
    });
}
