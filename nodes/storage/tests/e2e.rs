//! End to end: the real `zg-storage` and `zg` binaries on loopback.

use base64::Engine;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use zg_node::harness::{NodeProcess, binary, wait_for};

use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use zg_merkle::{FileTree, RootKind, SEGMENT_SIZE};
use zg_storage::api::{FileInfo, Root, SegmentWithProof};

struct StorageNode {
    process: NodeProcess,
    url: String,
    /// The p2p address peers dial, when networked.
    p2p: Option<String>,
}

impl StorageNode {
    /// A standalone node.
    fn start(data_dir: &Path) -> Self {
        Self::spawn(data_dir, &["--no-p2p"])
    }

    /// A networked node on a free p2p port, joined to `peers`.
    fn networked(data_dir: &Path, peers: &[&StorageNode], extra: &[&str]) -> Self {
        let mut args = vec!["--p2p-listen", "/ip4/127.0.0.1/tcp/0"];
        for p in peers {
            args.extend(["--peer", p.p2p.as_deref().expect("networked peer")]);
        }
        args.extend(extra);
        Self::spawn(data_dir, &args)
    }

    fn spawn(data_dir: &Path, extra: &[&str]) -> Self {
        Self::spawn_at(data_dir, "127.0.0.1:0", extra)
    }

    /// A node whose HTTP API listens on `listen`.
    fn spawn_at(data_dir: &Path, listen: &str, extra: &[&str]) -> Self {
        let mut args: Vec<&OsStr> = vec!["--listen".as_ref(), listen.as_ref(), "--data-dir".as_ref()];
        args.push(data_dir.as_os_str());
        args.extend(extra.iter().map(OsStr::new));
        let (process, rest) = NodeProcess::start("zg-storage", &args, "zg-storage listening on ");
        let mut words = rest.split_whitespace();
        let url = words.next().expect("url").to_owned();
        let p2p = match (words.next(), words.next()) {
            (Some("p2p"), Some("off")) => None,
            (Some("p2p"), Some(addr)) => Some(addr.to_owned()),
            other => panic!("unexpected listen line {rest:?} ({other:?})"),
        };
        Self { process, url, p2p }
    }

    fn kill9(&mut self) {
        self.process.kill9();
    }

    fn host(&self) -> String {
        self.url.trim_start_matches("http://").to_owned()
    }

    /// A counter or gauge from `/metrics`.
    fn metric(&self, name: &str) -> u64 {
        let (status, _, body) = http(&self.host(), "GET", "/metrics", &[], b"");
        assert_eq!(status, 200);
        String::from_utf8_lossy(&body)
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no metric {name}"))
    }

    /// The whole file `root`, once the node has it.
    fn file(&self, root: &str) -> Option<Vec<u8>> {
        let (status, _, body) = http(&self.host(), "GET", &format!("/files/{root}"), &[], b"");
        (status == 200).then_some(body)
    }
}

fn zg(args: &[&str]) -> Output {
    Command::new(binary("zg"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("zg runs")
}

/// `zg download ROOT -o OUT --node URL`.
fn zg_download(root: &str, out: &Path, url: &str) -> Output {
    zg(&["download", root, "-o", out.to_str().unwrap(), "--node", url])
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(&[seed])
        .finalize_xof()
        .fill(&mut out);
    out
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "zg failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// A minimal HTTP/1.1 request; returns (status, headers, body).
fn http(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(host).expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send");
    // A server refusing an oversized body may close before reading it all.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    (status, head, raw[split + 4..].to_vec())
}

#[test]
fn upload_and_download_every_size_and_both_kinds() {
    let tmp = tempfile::tempdir().unwrap();
    let node = StorageNode::start(&tmp.path().join("node"));
    let sizes = [
        0usize,
        1,
        SEGMENT_SIZE - 1,
        SEGMENT_SIZE,
        SEGMENT_SIZE + 1,
        100 << 20,
    ];
    let mut stored = Vec::new();
    for (n, &len) in sizes.iter().enumerate() {
        let bytes = data(len, n as u8);
        let path = write_file(tmp.path(), &format!("in-{len}"), &bytes);
        let p = path.to_str().unwrap();
        for kind in [RootKind::Blake3, RootKind::Keccak] {
            let root = stdout(&zg(&[
                "upload",
                p,
                "--node",
                &node.url,
                "--root-kind",
                kind.as_str(),
            ]));
            let expected = FileTree::from_data(kind, &bytes).root();
            assert_eq!(root, Root::from(expected).to_string(), "{kind} {len}");
            stored.push((root.clone(), len, kind));
            if kind == RootKind::Blake3 {
                assert_eq!(root, Root::from(*blake3::hash(&bytes).as_bytes()).to_string());
            }
            let out = tmp.path().join(format!("out-{len}-{kind}"));
            stdout(&zg_download(&root, &out, &node.url));
            assert!(std::fs::read(&out).unwrap() == bytes, "{kind} {len}");
            // The HTTP streaming endpoint serves the same bytes, and ranges of them.
            let (status, _, body) = http(&node.host(), "GET", &format!("/files/{root}"), &[], &[]);
            assert_eq!(status, 200);
            assert!(body == bytes);
            if len > 10 {
                let (status, head, body) = http(
                    &node.host(),
                    "GET",
                    &format!("/files/{root}"),
                    &[("Range", "bytes=3-9")],
                    &[],
                );
                assert_eq!(status, 206, "{head}");
                assert_eq!(body, bytes[3..10]);
            }
        }
    }
    // `zg root` prints both roots offline.
    let p = tmp.path().join(format!("in-{}", SEGMENT_SIZE + 1));
    let roots = stdout(&zg(&["root", p.to_str().unwrap()]));
    let bytes = std::fs::read(&p).unwrap();
    assert!(roots.contains(&Root::from(*blake3::hash(&bytes).as_bytes()).to_string()));
    assert!(roots.contains(&Root::from(FileTree::from_data(RootKind::Keccak, &bytes).root()).to_string()));
    // `zg proof` fetches and verifies a segment's proof.
    let root = Root::from(*blake3::hash(&bytes).as_bytes()).to_string();
    let proof = stdout(&zg(&["proof", &root, "1", "--node", &node.url]));
    assert!(proof.contains("verified true"), "{proof}");
    // Streaming upload over HTTP.
    let (status, _, body) = http(&node.host(), "PUT", "/files?kind=zg", &[], &bytes);
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["root"],
        Root::from(FileTree::from_data(RootKind::Keccak, &bytes).root()).to_string()
    );
    // `GET /files` lists what the node holds, in the order it stored it, a page at a time.
    let list = |query: &str| -> serde_json::Value {
        let (status, _, body) = http(&node.host(), "GET", &format!("/files{query}"), &[], &[]);
        assert_eq!(status, 200);
        serde_json::from_slice(&body).unwrap()
    };
    let all = list("");
    assert_eq!(all["total"], stored.len());
    let listed: Vec<(String, u64, String)> = all["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["root"].as_str().unwrap().to_owned(),
                f["fileSize"].as_u64().unwrap(),
                f["rootKind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, u64, String)> = stored
        .iter()
        .map(|(r, len, kind)| (r.clone(), *len as u64, kind.to_string()))
        .collect();
    assert_eq!(listed, want);
    assert!(
        all["files"][0]["txSeq"].is_null(),
        "an off-chain node pays for nothing"
    );
    let page = list("?offset=10&limit=5");
    assert_eq!(page["offset"], 10);
    assert_eq!(page["files"].as_array().unwrap().len(), stored.len() - 10);
    assert_eq!(page["files"][0]["root"], want[10].0.as_str());
    assert_eq!(list("?offset=99")["files"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_segments_and_requests_are_refused_and_the_node_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let node = StorageNode::start(&tmp.path().join("node"));
    let rpc = HttpClientBuilder::default().build(&node.url).unwrap();
    let bytes = data(3 * SEGMENT_SIZE + 5, 9);
    let tree = FileTree::from_data(RootKind::Blake3, &bytes);
    let seg = |i: u64, d: &[u8]| {
        SegmentWithProof::new(
            &tree.root(),
            i,
            d,
            &tree.prove_segment(i).unwrap(),
            bytes.len() as u64,
        )
    };
    let good = |i: u64| {
        let lo = i as usize * SEGMENT_SIZE;
        seg(i, &bytes[lo..(lo + SEGMENT_SIZE).min(bytes.len())])
    };
    // A corrupted segment: refused, nothing stored.
    let mut bad = bytes[..SEGMENT_SIZE].to_vec();
    bad[77] ^= 1;
    let e = rpc
        .request::<(), _>("zgs_uploadSegment", rpc_params![seg(0, &bad)])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("fails its proof"), "{e}");
    // Wrong length, bad base64, bad proof bytes, out-of-range index.
    let mut short = good(1);
    short.data = "AAAA".into();
    assert!(
        rpc.request::<(), _>("zgs_uploadSegment", rpc_params![short])
            .await
            .is_err()
    );
    let mut junk = good(1);
    junk.data = "!!!".into();
    assert!(
        rpc.request::<(), _>("zgs_uploadSegment", rpc_params![junk])
            .await
            .is_err()
    );
    let mut noproof = serde_json::to_value(good(1)).unwrap();
    noproof["proof"] = "zz".into();
    let e = rpc
        .request::<(), _>("zgs_uploadSegment", rpc_params![noproof])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not hex"), "{e}");
    // A root that is not 32 bytes: invalid params, naming the length.
    let e = rpc
        .request::<Option<FileInfo>, _>("zgs_getFileInfo", rpc_params!["0x1234"])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("has 2 bytes, expected 32"), "{e}");
    let mut far = good(1);
    far.index = 99;
    assert!(
        rpc.request::<(), _>("zgs_uploadSegment", rpc_params![far])
            .await
            .is_err()
    );
    // The good ones are accepted and finalize the file.
    let all: Vec<_> = (0..4).map(good).collect();
    rpc.request::<(), _>("zgs_uploadSegments", rpc_params![all])
        .await
        .unwrap();
    let info: Option<FileInfo> = rpc
        .request(
            "zgs_getFileInfo",
            rpc_params![Root::from(tree.root()).to_string()],
        )
        .await
        .unwrap();
    assert!(info.unwrap().finalized);
    // Unknown methods, garbage, oversized bodies and batches: standard errors.
    let (_, _, body) = http(
        &node.host(),
        "POST",
        "/",
        &[("Content-Type", "application/json")],
        br#"{"jsonrpc":"2.0","id":1,"method":"nope"}"#,
    );
    assert!(String::from_utf8_lossy(&body).contains("-32601"));
    let (_, _, body) = http(
        &node.host(),
        "POST",
        "/",
        &[("Content-Type", "application/json")],
        b"{not json",
    );
    assert!(String::from_utf8_lossy(&body).contains("-32700"));
    let (status, _, _) = http(
        &node.host(),
        "POST",
        "/",
        &[("Content-Type", "application/json")],
        &vec![b' '; 30 << 20],
    );
    assert_eq!(status, 413);
    let batch = format!(
        "[{}]",
        vec![r#"{"jsonrpc":"2.0","id":1,"method":"zgs_getStatus"}"#; 65].join(",")
    );
    let (_, _, body) = http(
        &node.host(),
        "POST",
        "/",
        &[("Content-Type", "application/json")],
        batch.as_bytes(),
    );
    assert!(String::from_utf8_lossy(&body).contains("too large"));
    let (status, _, _) = http(&node.host(), "GET", "/files/0x1234", &[], &[]);
    assert_eq!(status, 400);
    let (status, _, _) = http(
        &node.host(),
        "GET",
        &format!("/files/{}", Root::from([7; 32])),
        &[],
        &[],
    );
    assert_eq!(status, 404);
    // Still serving; the rejection is counted.
    let (_, _, m) = http(&node.host(), "GET", "/metrics", &[], &[]);
    assert!(String::from_utf8_lossy(&m).contains("zg_storage_proof_failures_total 1"));
    let status: serde_json::Value = rpc.request("zgs_getStatus", rpc_params![]).await.unwrap();
    assert_eq!(status["files"], 1);
}

/// `POST /segments` body of segments `range` of `bytes` (the data of segment `bad`, if
/// any, with one byte flipped).
fn frames_body(bytes: &[u8], tree: &FileTree, range: std::ops::Range<u64>, bad: Option<u64>) -> Vec<u8> {
    use zg_storage::frames;
    let mut body = frames::new_body(0);
    for i in range {
        let lo = i as usize * SEGMENT_SIZE;
        let mut seg = bytes[lo..(lo + SEGMENT_SIZE).min(bytes.len())].to_vec();
        if bad == Some(i) {
            let mid = seg.len() / 2;
            seg[mid] ^= 1;
        }
        let proof = tree.prove_segment(i).unwrap().to_bytes();
        frames::push_header(&mut body, &tree.root(), bytes.len() as u64, i, &proof, seg.len());
        body.extend_from_slice(&seg);
    }
    body
}

/// The binary segment upload checks every segment as the JSON one does, and the
/// faster paths (finalize from segments checked on arrival, the binary upload, peers'
/// bulk reads) never let a segment that rots on disk be served as good: not over
/// HTTP, not to peers, not over JSON-RPC, not to `zg download`.
#[tokio::test(flavor = "multi_thread")]
async fn binary_uploads_are_checked_and_a_flipped_segment_is_never_served() {
    let tmp = tempfile::tempdir().unwrap();
    let node = StorageNode::start(&tmp.path().join("node"));
    let rpc = HttpClientBuilder::default().build(&node.url).unwrap();
    let ct = [("Content-Type", zg_storage::frames::CONTENT_TYPE)];
    // An empty body asks whether the node speaks the format.
    let (status, _, _) = http(&node.host(), "POST", "/segments", &ct, zg_storage::frames::MAGIC);
    assert_eq!(status, 204);
    for (kind, seed) in [(RootKind::Keccak, 31u8), (RootKind::Blake3, 32)] {
        // 0G's tree: a last segment of several small submission nodes.
        let bytes = data(5 * SEGMENT_SIZE + 37 * 256 + 3, seed);
        let tree = FileTree::from_data(kind, &bytes);
        let root = Root::from(tree.root()).to_string();
        // A flipped byte fails its proof: 422, and the node holds nothing of it.
        let (status, _, why) = http(
            &node.host(),
            "POST",
            "/segments",
            &ct,
            &frames_body(&bytes, &tree, 0..6, Some(3)),
        );
        assert_eq!(status, 422, "{}", String::from_utf8_lossy(&why));
        assert!(String::from_utf8_lossy(&why).contains("fails its proof"));
        let (status, _, _) = http(&node.host(), "GET", &format!("/files/{root}"), &[], b"");
        assert_eq!(status, 404);
        // Malformed bodies: 400 with the reason.
        let good = frames_body(&bytes, &tree, 0..2, None);
        for (body, expect) in [
            (&good[..good.len() - 1], "segment frames: needs"),
            (&b"ZGS9"[..], "must start with"),
        ] {
            let (status, _, why) = http(&node.host(), "POST", "/segments", &ct, body);
            let why = String::from_utf8_lossy(&why).to_string();
            assert_eq!(status, 400, "{why}");
            assert!(why.contains(expect), "{why}");
        }
        // Out of order, in two requests: the file finalizes and reads back whole.
        for range in [3..6, 0..3] {
            let (status, _, why) = http(
                &node.host(),
                "POST",
                "/segments",
                &ct,
                &frames_body(&bytes, &tree, range, None),
            );
            assert_eq!(status, 204, "{}", String::from_utf8_lossy(&why));
        }
        let finalized: Option<bool> = rpc
            .request("zgs_checkFileFinalized", rpc_params![root.clone()])
            .await
            .unwrap();
        assert_eq!(finalized, Some(true));
        assert!(node.file(&root).unwrap() == bytes, "{kind}");
        // Peers' bulk reads: frames of the asked segments, each proof good against the root.
        let (status, _, body) = http(
            &node.host(),
            "GET",
            &format!("/segments/{root}?first=1&count=5"),
            &[],
            b"",
        );
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let frames = zg_storage::frames::decode(&body, 5).unwrap();
        assert_eq!(frames.len(), 5);
        for (i, f) in (1u64..).zip(&frames) {
            assert_eq!(
                (f.root, f.file_size, f.index),
                (tree.root(), bytes.len() as u64, i)
            );
            let lo = i as usize * SEGMENT_SIZE;
            assert!(f.data == &bytes[lo..(lo + SEGMENT_SIZE).min(bytes.len())]);
            let proof = zg_merkle::SegmentProof::from_bytes(f.proof).unwrap();
            assert!(proof.verify(&tree.root(), bytes.len() as u64, i, f.data).unwrap());
        }
        // Asking for none, too many, past the end, or an unknown file.
        for (query, expect) in [
            (format!("{root}?first=0&count=0"), 400),
            (format!("{root}?first=0&count=65"), 400),
            (format!("{root}?first=5&count=2"), 400),
            (format!("{root}?first=0"), 400),
            (format!("{}?first=0&count=1", Root::from([7u8; 32])), 404),
        ] {
            let (status, _, why) = http(&node.host(), "GET", &format!("/segments/{query}"), &[], b"");
            assert_eq!(status, expect, "{query}: {}", String::from_utf8_lossy(&why));
        }

        // Segment 2 rots on disk (no peer to repair it from).
        let needle = &bytes[2 * SEGMENT_SIZE + 500..2 * SEGMENT_SIZE + 564];
        let mut damaged = false;
        for entry in std::fs::read_dir(tmp.path().join("node").join("store")).unwrap() {
            let path = entry.unwrap().path();
            let disk = std::fs::read(&path).unwrap();
            if let Some(at) = disk.windows(needle.len()).position(|w| w == needle) {
                let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                f.write_all_at(&[disk[at] ^ 0x40], at as u64).unwrap();
                damaged = true;
            }
        }
        assert!(damaged, "segment 2 not found on disk");
        // HTTP: the first segments are read before the status, so the error is the answer.
        let (status, _, why) = http(&node.host(), "GET", &format!("/files/{root}"), &[], b"");
        let why = String::from_utf8_lossy(&why).to_string();
        assert_eq!(status, 500, "{kind}: {why}");
        assert!(why.contains("segment 2"), "{kind}: {why}");
        // A range that starts in it: an error status with the reason, no bytes.
        let (status, _, why) = http(
            &node.host(),
            "GET",
            &format!("/files/{root}"),
            &[(
                "Range",
                &format!("bytes={}-{}", 2 * SEGMENT_SIZE, 2 * SEGMENT_SIZE + 9),
            )],
            b"",
        );
        assert_eq!(status, 500, "{kind}: {}", String::from_utf8_lossy(&why));
        // Peers' bulk reads: an error status, never the rotten segment with its proof.
        let (status, _, why) = http(
            &node.host(),
            "GET",
            &format!("/segments/{root}?first=1&count=3"),
            &[],
            b"",
        );
        assert_eq!(status, 500, "{kind}: {}", String::from_utf8_lossy(&why));
        assert!(String::from_utf8_lossy(&why).contains("segment 2"), "{kind}");
        // JSON-RPC: errors, with or without the proof.
        assert!(
            rpc.request::<String, _>("zgs_downloadSegment", rpc_params![root.clone(), 2, 3])
                .await
                .is_err()
        );
        assert!(
            rpc.request::<SegmentWithProof, _>("zgs_downloadSegmentWithProof", rpc_params![root.clone(), 2])
                .await
                .is_err()
        );
        // The CLI fails and leaves nothing behind.
        let out = tmp.path().join(format!("out-{kind}"));
        let o = zg_download(&root, &out, &node.url);
        assert!(
            !o.status.success(),
            "{kind}: a download of a rotten file succeeded"
        );
        assert!(!out.exists());
        // The other segments are still served.
        let one: String = rpc
            .request("zgs_downloadSegment", rpc_params![root.clone(), 4, 5])
            .await
            .unwrap();
        assert_eq!(
            zg_storage::api::B64.decode(one).unwrap(),
            &bytes[4 * SEGMENT_SIZE..5 * SEGMENT_SIZE]
        );
    }
}

#[test]
fn kill_9_mid_upload_then_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let bytes = data(100 << 20, 42);
    let path = write_file(tmp.path(), "big", &bytes);
    let mut node = StorageNode::start(&dir);
    let mut upload = Command::new(binary("zg"))
        .args(["upload", path.to_str().unwrap(), "--node", &node.url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until part of the file is on the node, then kill it hard.
    let root = Root::from(*blake3::hash(&bytes).as_bytes()).to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rpc = HttpClientBuilder::default().build(&node.url).unwrap();
    let start = Instant::now();
    loop {
        let info: Option<FileInfo> = rt
            .block_on(rpc.request("zgs_getFileInfo", rpc_params![root.clone()]))
            .unwrap_or(None);
        if info.as_ref().is_some_and(|i| i.uploaded_seg_num >= 40) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "upload never progressed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    node.kill9();
    assert!(
        !upload.wait().unwrap().success(),
        "the client notices the node died"
    );
    // Restart on the same data: the upload resumes where it stopped.
    let node = StorageNode::start(&dir);
    let o = zg(&["upload", path.to_str().unwrap(), "--node", &node.url]);
    assert_eq!(stdout(&o), root);
    let err = String::from_utf8_lossy(&o.stderr);
    let resumed: u64 = err
        .split("resuming: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no resume line in {err:?}"));
    assert!(resumed >= 40, "{err}");
    let out = tmp.path().join("back");
    stdout(&zg_download(&root, &out, &node.url));
    assert!(std::fs::read(&out).unwrap() == bytes);
}

/// Three storage nodes over libp2p: files uploaded to one (streamed and segment by
/// segment, both root kinds) are served byte-exact by the others; a node killed and
/// replaced by one with an empty disk refills itself from its peers; a peer serving
/// segments that fail their proofs is refused and banned, and nothing of it is stored.
#[test]
fn three_nodes_replicate_and_a_replacement_refills_from_peers() {
    let tmp = tempfile::tempdir().unwrap();
    let a = StorageNode::networked(&tmp.path().join("a"), &[], &[]);
    let b = StorageNode::networked(&tmp.path().join("b"), &[&a], &[]);
    let mut c = StorageNode::networked(&tmp.path().join("c"), &[&a, &b], &[]);
    wait_for("three nodes meet", || {
        [&a, &b, &c].iter().all(|n| n.metric("zg_p2p_peers") == 2)
    });

    // One file streamed to A (BLAKE3 root, 13 segments, the last partial) and one
    // uploaded to B segment by segment with the CLI (zg root).
    let big = data(3 * SEGMENT_SIZE * 4 + 1, 7);
    let (status, _, body) = http(&a.host(), "PUT", "/files", &[], &big);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let big_root = Root::from(*blake3::hash(&big).as_bytes()).to_string();
    assert!(String::from_utf8_lossy(&body).contains(&big_root));
    let small = data(SEGMENT_SIZE + 5, 8);
    let small_path = write_file(tmp.path(), "small", &small);
    let small_root = stdout(&zg(&[
        "upload",
        small_path.to_str().unwrap(),
        "--root-kind",
        "zg",
        "--node",
        &b.url,
    ]));
    for node in [&a, &b, &c] {
        wait_for("replication", || {
            node.file(&big_root).is_some() && node.file(&small_root).is_some()
        });
        assert!(node.file(&big_root).unwrap() == big);
        assert!(node.file(&small_root).unwrap() == small);
    }
    // The CLI downloads from C and checks every segment and the root.
    let out = tmp.path().join("small-from-c");
    stdout(&zg_download(&small_root, &out, &c.url));
    assert!(std::fs::read(&out).unwrap() == small);
    assert_eq!(c.metric("zg_storage_replicated_files_total"), 2);
    assert_eq!(c.metric("zg_storage_catalog_files"), 2);
    // In bulk over the peers' HTTP, every byte of both files.
    assert_eq!(
        c.metric("zg_storage_replicated_http_bytes_total"),
        (big.len() + small.len()) as u64
    );

    // B's copy of a segment rots on disk: B notices on read, fetches that segment from
    // a peer (checked against the root), rewrites it, and serves the file whole.
    let store_dir = tmp.path().join("b").join("store");
    let needle = &big[5 * SEGMENT_SIZE + 1000..5 * SEGMENT_SIZE + 1064];
    let mut damaged = false;
    for entry in std::fs::read_dir(&store_dir).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        if let Some(at) = bytes.windows(needle.len()).position(|w| w == needle) {
            bytes[at] ^= 0xff;
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .write_all_at(&bytes[at..at + 1], at as u64)
                .unwrap();
            damaged = true;
        }
    }
    assert!(damaged, "segment 5 of the big file not found in B's store");
    assert!(b.file(&big_root).unwrap() == big);
    assert_eq!(b.metric("zg_storage_segments_repaired_total"), 1);
    assert!(b.file(&big_root).unwrap() == big);
    assert_eq!(
        b.metric("zg_storage_segments_repaired_total"),
        1,
        "repaired once, then read from disk"
    );

    // C dies with its disk; a replacement (new identity, empty directory) joins A and B.
    c.kill9();
    std::fs::remove_dir_all(tmp.path().join("c")).unwrap();
    let c2 = StorageNode::networked(&tmp.path().join("c2"), &[&a, &b], &[]);
    wait_for("the replacement refills", || {
        c2.file(&big_root).is_some() && c2.file(&small_root).is_some()
    });
    assert!(c2.file(&big_root).unwrap() == big);
    assert!(c2.file(&small_root).unwrap() == small);
    assert_eq!(c2.metric("zg_storage_replicated_files_total"), 2);

    // A peer serving corrupted segments: its file is refused, the peer banned.
    let bad = StorageNode::networked(&tmp.path().join("bad"), &[&a], &["--serve-bad-segments"]);
    let poisoned = data(2 * SEGMENT_SIZE, 9);
    let (status, _, _) = http(&bad.host(), "PUT", "/files", &[], &poisoned);
    assert_eq!(status, 200);
    let poisoned_root = Root::from(*blake3::hash(&poisoned).as_bytes()).to_string();
    wait_for("the bad peer is refused", || {
        a.metric("zg_storage_peer_bad_segments_total") >= 1
    });
    assert!(a.file(&poisoned_root).is_none());
    assert_eq!(a.metric("zg_storage_catalog_files"), 2);
    // A still serves what it holds.
    assert!(a.file(&small_root).unwrap() == small);
}

/// A peer whose HTTP API cannot be reached where its libp2p connection comes from
/// (it listens on another address) is replicated from over libp2p instead.
#[test]
fn a_peer_with_unreachable_http_is_replicated_from_over_libp2p() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let a = StorageNode::spawn_at(&dir, "127.0.0.2:0", &["--p2p-listen", "/ip4/127.0.0.1/tcp/0"]);
    let bytes = data(5 * SEGMENT_SIZE + 77, 11);
    let (status, _, body) = http(&a.host(), "PUT", "/files", &[], &bytes);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let root = Root::from(*blake3::hash(&bytes).as_bytes()).to_string();
    let b = StorageNode::networked(&tmp.path().join("b"), &[&a], &[]);
    wait_for("replication over libp2p", || b.file(&root).is_some());
    assert!(b.file(&root).unwrap() == bytes);
    assert_eq!(b.metric("zg_storage_replicated_bytes_total"), bytes.len() as u64);
    assert_eq!(b.metric("zg_storage_replicated_http_bytes_total"), 0);
}

/// A busy peer (its per-client limit reached) answers some bulk fetches with 429:
/// those chunks come over libp2p, and its HTTP API stays in use for the rest.
#[test]
fn a_busy_peers_refusals_go_over_libp2p_and_its_http_stays_in_use() {
    let tmp = tempfile::tempdir().unwrap();
    let a = StorageNode::networked(&tmp.path().join("a"), &[], &["--max-concurrent-per-client", "1"]);
    // 40 chunks of 16 segments: the replica keeps 8 in flight against a limit of 1.
    let bytes = data(640 * SEGMENT_SIZE - 5, 12);
    let (status, _, body) = http(&a.host(), "PUT", "/files", &[], &bytes);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let root = Root::from(*blake3::hash(&bytes).as_bytes()).to_string();
    let b = StorageNode::networked(&tmp.path().join("b"), &[&a], &[]);
    wait_for("replication from a busy peer", || b.file(&root).is_some());
    assert!(b.file(&root).unwrap() == bytes);
    let (total, over_http) = (
        b.metric("zg_storage_replicated_bytes_total"),
        b.metric("zg_storage_replicated_http_bytes_total"),
    );
    assert_eq!(total, bytes.len() as u64);
    assert!(a.metric("zg_storage_rejected_total") > 0, "the limit never bit");
    // Some chunks were refused and came over libp2p; yet far more than the first
    // wave's one chunk came over HTTP (40-50% in runs here): a refusal did not drop it.
    assert!(over_http < total, "{over_http} of {total} bytes over HTTP");
    assert!(over_http > total / 8, "{over_http} of {total} bytes over HTTP");
}

use zg_node::hostile;

/// A hostile peer of a storage node: garbage gossip, a frame claiming 1 GiB, requests
/// asking for no segments or too many, and a flood of inventory requests are refused
/// and counted; the node keeps serving its clients.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_storage_peer_is_refused_and_the_node_keeps_serving() {
    use zg_node::p2p::{P2pService, REQUESTS_PER_WINDOW};
    use zg_storage::wire::FileProtocol;
    const FILES_TOPIC: &str = FileProtocol::TOPIC;
    const FILES_PROTOCOL: &str = FileProtocol::PROTOCOL;

    let tmp = tempfile::tempdir().unwrap();
    let node = StorageNode::networked(&tmp.path().join("node"), &[], &[]);
    let file = data(SEGMENT_SIZE + 1, 3);
    let host = node.host();
    let (status, _, _) = tokio::task::block_in_place(|| http(&host, "PUT", "/files", &[], &file));
    assert_eq!(status, 200);

    let (mut swarm, peer) = hostile::joined(node.p2p.as_deref().unwrap(), FILES_TOPIC, FILES_PROTOCOL).await;
    swarm
        .behaviour_mut()
        .gossipsub
        .publish(
            libp2p::gossipsub::IdentTopic::new(FILES_TOPIC),
            b"ZGFA not a file".to_vec(),
        )
        .unwrap();
    let segments = |count: u16| {
        let mut r = vec![0u8];
        r.extend_from_slice(&[0u8; 32]);
        r.extend_from_slice(&0u64.to_le_bytes());
        r.extend_from_slice(&count.to_le_bytes());
        hostile::frame(&r)
    };
    let raw = &mut swarm.behaviour_mut().raw;
    raw.send_request(&peer, hostile::claims_one_gib());
    raw.send_request(&peer, segments(0));
    raw.send_request(&peer, segments(zg_file::replica::MAX_SEGMENTS_PER_REQUEST + 1));
    let inventory = hostile::frame(&[&[1u8][..], &0u64.to_le_bytes()].concat());
    let flood = 2 * REQUESTS_PER_WINDOW as usize;
    let (answered, refused, failed) = hostile::flood(&mut swarm, peer, &inventory, flood, 3, 1).await;
    assert_eq!(failed, 3, "answered {answered}, refused {refused}");
    assert!(answered <= REQUESTS_PER_WINDOW as usize, "{answered} answered");
    assert!(refused >= REQUESTS_PER_WINDOW as usize, "{refused} refused");
    tokio::task::block_in_place(|| {
        assert_eq!(node.metric("zg_p2p_bad_frames_total"), 3);
        assert!(node.metric("zg_p2p_requests_refused_total") >= u64::from(REQUESTS_PER_WINDOW));
        wait_for("the garbage gossip to be rejected", || {
            node.metric("zg_p2p_gossip_rejected_total") == 1
        });
        // Clients are still served.
        assert!(
            node.file(&Root::from(*blake3::hash(&file).as_bytes()).to_string())
                .unwrap()
                == file
        );
    });
}

/// Over its per-client limit a node answers 429; a JSON-RPC call gets a JSON-RPC error
/// object (-32005) a client can parse, not plain text.
#[tokio::test(flavor = "multi_thread")]
async fn over_the_per_client_limit_json_rpc_gets_a_json_rpc_error() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = zg_storage::StorageConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: tmp.path().join("node"),
        max_concurrent_per_client: 1,
        ..zg_storage::StorageConfig::default()
    };
    let server = zg_storage::StorageServer::bind(cfg).await.unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(server.serve(std::future::pending()));
    // A PUT whose body never finishes holds this client's one slot.
    let mut held = TcpStream::connect(addr).unwrap();
    write!(
        held,
        "PUT /files HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 1000000\r\n\r\nabc"
    )
    .unwrap();
    // The node is still reading that body: no answer yet.
    held.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 512];
    let early = held.read(&mut buf).unwrap_or(0);
    assert_eq!(early, 0, "{}", String::from_utf8_lossy(&buf[..early]));
    let answer = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        loop {
            let mut s = TcpStream::connect(addr).unwrap();
            let body = r#"{"jsonrpc":"2.0","id":1,"method":"zgs_getStatus"}"#;
            write!(
                s,
                "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            // The held PUT may not have reached the limiter yet: ask again.
            if out.starts_with("HTTP/1.1 429") || started.elapsed() > Duration::from_secs(10) {
                return out;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    let json = answer.split("\r\n\r\n").nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["error"]["code"], -32005, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("limit 1"), "{v}");
    drop(held);
}
