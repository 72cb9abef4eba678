//! Storage workloads: the segment store's durable ingest beside a plain
//! `std::fs` write + `sync_data` loop and beside `dd oflag=direct`; random
//! segment reads at queue depth 1 and 32 beside `pread`; the file pipeline
//! end to end beside the sum of its stages.
//!
//! Files go under `$ZG_BENCH_DIR` (default: the system temp dir), so pick
//! the disk you mean to measure.

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use zg_file::{self as file, FileMeta, IngestOptions};
use zg_merkle::{FileTree, RootKind, SEGMENT_SIZE};
use zg_store::{FsDir, IoMode, Put, Store, StoreOptions};

use crate::{Pair, Side, test_bytes};

/// Segments per group commit in the ingest benches (16 MiB, like the file pipeline's batches).
const BATCH: usize = 64;

fn fresh_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("zg-bench-{tag}-"))
        .tempdir_in(crate::bench_dir())
        .expect("bench dir writable")
}

/// Durable ingest of `data` through the store: batches of 64 segments,
/// three in flight, each acknowledged after its fsync.
fn store_ingest(data: &Bytes) {
    let dir = fresh_dir("ingest");
    let (store, _) = Store::open_path(dir.path(), StoreOptions::default()).expect("store opens");
    let key = [1u8; 32];
    let mut pending = std::collections::VecDeque::new();
    for (b, chunk) in (0..data.len()).step_by(BATCH * SEGMENT_SIZE).enumerate() {
        let end = (chunk + BATCH * SEGMENT_SIZE).min(data.len());
        let puts = (chunk..end)
            .step_by(SEGMENT_SIZE)
            .enumerate()
            .map(|(i, o)| {
                Put::segment(
                    key,
                    (b * BATCH + i) as u64,
                    data.slice(o..(o + SEGMENT_SIZE).min(end)),
                )
            })
            .collect();
        pending.push_back(store.put_batch_async(puts).expect("queued"));
        if pending.len() > 2
            && let Some(p) = pending.pop_front()
        {
            p.wait().expect("durable");
        }
    }
    for p in pending {
        p.wait().expect("durable");
    }
    drop(store);
}

/// The peer: `write_all` per segment, `sync_data` every 64 segments.
fn std_ingest(data: &[u8]) {
    let dir = fresh_dir("std");
    let mut f = File::create(dir.path().join("data")).expect("create");
    for batch in data.chunks(BATCH * SEGMENT_SIZE) {
        for seg in batch.chunks(SEGMENT_SIZE) {
            std::io::Write::write_all(&mut f, seg).expect("write");
        }
        f.sync_data().expect("sync");
    }
}

/// The device limit: `dd` with O_DIRECT, 256 KiB blocks, one fdatasync at the end.
fn dd_ingest(bytes: usize) {
    let dir = fresh_dir("dd");
    let out = dir.path().join("data");
    let status = Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", out.display()))
        .arg("bs=256K")
        .arg(format!("count={}", bytes / SEGMENT_SIZE))
        .arg("oflag=direct")
        .arg("conv=fdatasync")
        .arg("status=none")
        .status()
        .expect("dd runs");
    assert!(status.success(), "dd failed");
}

/// Random segment indices, fixed per seed.
fn random_indices(n: u64, count: usize, seed: u64) -> Vec<u64> {
    let mut s = seed | 1;
    (0..count)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s % n
        })
        .collect()
}

/// The pairs; `scale` divides the 1 GiB ingest and the 256 MiB read set.
pub fn pairs(scale: usize) -> Vec<Pair> {
    let mut out = Vec::new();
    let ingest_len = ((1usize << 30) / scale).max(BATCH * SEGMENT_SIZE);
    let data = Bytes::from(test_bytes(ingest_len, 11));
    let label = format!("{} MiB durable", ingest_len >> 20);
    let (d1, d2) = (data.clone(), data.clone());
    out.push(Pair {
        kernel: "store ingest",
        shape: label.clone(),
        bytes: ingest_len as u64,
        zg: Side::new("zg Store::put_batch", move || store_ingest(&d1)),
        peer: Some(Side::new("std::fs write+sync_data", move || std_ingest(&d2))),
        items: 0,
        target: Some(0.9),
    });
    let d3 = data;
    out.push(Pair {
        kernel: "store ingest",
        shape: label,
        bytes: ingest_len as u64,
        zg: Side::new("zg Store::put_batch", move || store_ingest(&d3)),
        peer: Some(Side::new("dd oflag=direct bs=256K", move || {
            dd_ingest(ingest_len);
        })),
        items: 0,
        target: Some(0.9),
    });

    // Random reads: the same segments in the store and in a plain file, both read with O_DIRECT.
    let read_len = ((256usize << 20) / scale).max(BATCH * SEGMENT_SIZE);
    let n = (read_len / SEGMENT_SIZE) as u64;
    let dir = Arc::new(fresh_dir("reads"));
    let fsdir = FsDir::open(dir.path().join("store"), IoMode::Auto)
        .expect("dir")
        .direct_reads(true);
    let (store, _) = Store::open(Arc::new(fsdir), StoreOptions::default()).expect("store");
    let seg_data = Bytes::from(test_bytes(read_len, 12));
    let key = [2u8; 32];
    for (b, chunk) in (0..n).collect::<Vec<_>>().chunks(BATCH).enumerate() {
        let puts = chunk
            .iter()
            .map(|i| {
                let o = *i as usize * SEGMENT_SIZE;
                Put::segment(key, *i, seg_data.slice(o..o + SEGMENT_SIZE))
            })
            .collect();
        store.put_batch(puts).unwrap_or_else(|e| panic!("batch {b}: {e}"));
    }
    let plain_path = dir.path().join("plain");
    std::fs::write(&plain_path, &seg_data).expect("plain file");
    let plain = Arc::new(
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(&plain_path)
            .or_else(|_| File::open(&plain_path))
            .expect("open plain"),
    );
    let store = Arc::new(store);
    let reads = 256usize;
    for depth in [1usize, 32] {
        let idx = random_indices(n, reads, 99 + depth as u64);
        let (s, p, i1, i2) = (store.clone(), plain.clone(), idx.clone(), idx);
        let keep = dir.clone();
        out.push(Pair {
            kernel: "store random read",
            shape: format!("256 KiB segments, depth {depth}, O_DIRECT"),
            bytes: (reads * SEGMENT_SIZE) as u64,
            zg: Side::new(
                if depth == 1 {
                    "zg Store::get (checked)"
                } else {
                    "zg Store::get_many (checked)"
                },
                move || {
                    let _ = &keep;
                    if depth == 1 {
                        for i in &i1 {
                            black_box(s.get(&key, *i).expect("read"));
                        }
                    } else {
                        let wanted: Vec<_> = i1.iter().map(|i| (key, *i)).collect();
                        for chunk in wanted.chunks(depth) {
                            for r in s.get_many(chunk) {
                                black_box(r.expect("read"));
                            }
                        }
                    }
                },
            ),
            peer: Some(pread_loop(p, i2)),
            items: 0,
            target: (depth == 32).then_some(1.5),
        });
    }
    // What the device gives at depth 32 at all: the same reads of the plain file through
    // a bare io_uring loop, beside the pread loop (the ceiling of the row above).
    let idx = random_indices(n, reads, 99 + 32);
    let (p1, p2, i1, i2) = (plain.clone(), plain, idx.clone(), idx);
    let mut bufs = AlignedBufs::new(32 * SEGMENT_SIZE);
    let mut ring = io_uring::IoUring::new(32).expect("io_uring");
    let keep = dir;
    out.push(Pair {
        kernel: "store random read",
        shape: "256 KiB segments, depth 32, O_DIRECT, device ceiling".into(),
        bytes: (reads * SEGMENT_SIZE) as u64,
        zg: Side::new("bare io_uring loop, depth 32 (no store)", move || {
            let _ = &keep;
            for chunk in i1.chunks(32) {
                uring_reads(&mut ring, &p1, chunk, bufs.get());
            }
        }),
        peer: Some(pread_loop(p2, i2)),
        items: 0,
        target: None,
    });

    // The file pipeline end to end beside its stages run one after another.
    let pipe_len = ((256usize << 20) / scale).max(BATCH * SEGMENT_SIZE);
    let pipe = Bytes::from(test_bytes(pipe_len, 13));
    let (q1, q2) = (pipe.clone(), pipe);
    out.push(Pair {
        kernel: "file pipeline ingest",
        shape: format!("{} MiB, blake3 root, durable", pipe_len >> 20),
        bytes: pipe_len as u64,
        zg: Side::new("zg file::ingest (overlapped)", move || {
            let dir = fresh_dir("pipe");
            let (store, _) = Store::open_path(dir.path(), StoreOptions::default()).expect("store");
            black_box(file::ingest_bytes(&store, &q1, &IngestOptions::default()).expect("ingest"));
        }),
        peer: Some(Side::new("hash, then store (sum of stages)", move || {
            black_box(FileTree::from_data(RootKind::Blake3, &q2));
            store_ingest(&q2);
        })),
        items: 0,
        target: Some(1.0),
    });
    out.extend(node_pairs(scale));
    out.extend(replication_pairs(scale));
    out
}

/// A raw HTTP/1.1 exchange over loopback: sends `body` (if any) and drains the response body.
/// Returns the response's first 4 KiB and its total length: the body is
/// drained through one buffer, as a client streaming to disk would.
fn http_exchange(addr: std::net::SocketAddr, head: &str, body: Option<&[u8]>) -> (Vec<u8>, usize) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.write_all(head.as_bytes()).expect("send head");
    if let Some(b) = body {
        for chunk in b.chunks(1 << 20) {
            s.write_all(chunk).expect("send body");
        }
    }
    let mut first = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = s.read(&mut buf).expect("read");
        if n == 0 {
            return (first, total);
        }
        if first.len() < 4096 {
            first.extend_from_slice(&buf[..n.min(4096 - first.len())]);
        }
        total += n;
    }
}

/// Sends the GET request `head` to `addr` and reads the whole response, which
/// must be longer than the `len` bytes of body it carries.
fn download_all(addr: std::net::SocketAddr, head: &str, len: usize) {
    let (_, total) = http_exchange(addr, head, None);
    assert!(total > len, "short response");
}

/// The request the rows that read from [`bare_sender`] send.
const BARE_GET: &str = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";

/// A loopback listener that answers every connection with `data` behind a minimal
/// HTTP response head, 1 MiB per write, then closes it.
fn bare_sender(data: Bytes) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut head = [0u8; 4096];
            let _ = s.read(&mut head);
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", data.len());
            for chunk in data.chunks(1 << 20) {
                if s.write_all(chunk).is_err() {
                    break;
                }
            }
        }
    });
    addr
}

/// The storage node over loopback beside the raw store it runs on.
fn node_pairs(scale: usize) -> Vec<Pair> {
    use zg_storage::{StorageConfig, StorageServer};
    let len = ((1usize << 30) / scale).max(BATCH * SEGMENT_SIZE);
    let data = Bytes::from(test_bytes(len, 21));
    let dir = Arc::new(fresh_dir("node"));
    let rt = crate::runtime(None);
    let cfg = StorageConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: dir.path().join("node"),
        ..StorageConfig::default()
    };
    let server = rt.block_on(StorageServer::bind(cfg)).expect("node binds");
    let addr = server.local_addr().expect("addr");
    rt.spawn(server.serve(std::future::pending()));
    let url = format!("http://{addr}");
    let label = format!("{} MiB over loopback", len >> 20);
    let mut out = Vec::new();

    // Upload: a streamed PUT, then the CLI's resumable segment upload (hashing included).
    let put_files = |byte: usize| {
        let (keep, mut d, mut round) = (dir.clone(), data.to_vec(), 0u8);
        move || {
            // The node's directory lives as long as the benches that use it.
            let _ = &keep;
            // A different byte each round: a new file, never a dedup hit.
            round = round.wrapping_add(1);
            d[byte] = round;
            let head = format!(
                "PUT /files HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
            );
            let (resp, _) = http_exchange(addr, &head, Some(&d));
            assert!(
                resp.starts_with(b"HTTP/1.1 200"),
                "{}",
                String::from_utf8_lossy(&resp)
            );
        }
    };
    let d2 = data.clone();
    out.push(Pair {
        kernel: "node upload",
        shape: format!("{label}, PUT /files"),
        bytes: len as u64,
        zg: Side::new("zg-storage PUT /files", put_files(0)),
        peer: Some(Side::new("raw Store::put_batch", move || store_ingest(&d2))),
        items: 0,
        target: Some(0.7),
    });
    let file_path = dir.path().join("upload.bin");
    std::fs::write(&file_path, &data).expect("write upload file");
    let (rt1, url1, path1) = (rt.clone(), url.clone(), file_path.clone());
    let keep2 = dir.clone();
    let mut round = 0u8;
    out.push(Pair {
        kernel: "node upload",
        shape: format!("{label}, zg upload (segments + proofs)"),
        bytes: len as u64,
        zg: Side::new("zg client::Node::upload", move || {
            let _ = &keep2;
            round = round.wrapping_add(1);
            let f = OpenOptions::new().write(true).open(&path1).expect("open");
            // Byte 1, not 0 or 2: never the same file as a PUT round.
            f.write_all_at(&[round], 1).expect("new byte");
            let node = zg_storage::StorageClient::new(&url1).expect("client");
            rt1.block_on(node.upload(&path1, RootKind::Blake3))
                .expect("upload");
        }),
        // The same bytes streamed in one PUT: the CLI also hashes the file first and
        // sends each segment with its proof, so a broken upload resumes.
        peer: Some(Side::new("zg-storage PUT /files", put_files(2))),
        items: 0,
        target: Some(0.7),
    });

    // Download: the same file from the node, and from a raw store holding it.
    let root = {
        let node = zg_storage::StorageClient::new(&url).expect("client");
        std::fs::write(&file_path, &data).expect("reset file");
        rt.block_on(node.upload(&file_path, RootKind::Blake3))
            .expect("upload")
    };
    let raw_dir = dir.path().join("raw");
    let (raw, _) = Store::open_path(&raw_dir, StoreOptions::default()).expect("raw store");
    let meta = file::ingest_bytes(&raw, &data, &IngestOptions::default()).expect("raw ingest");
    let raw = Arc::new(raw);
    let root_hex = zg_storage::api::Root::from(root).to_string();
    let meta = Arc::new(meta);
    let raw_read = {
        let (raw, meta) = (raw.clone(), meta.clone());
        move || {
            read_whole_file(&raw, &meta, |s| {
                black_box(s);
            });
        }
    };
    // The CLI's job on the raw store: read every segment and leave the file durable on disk.
    let raw_save = {
        let path = dir.path().join("raw-download.bin");
        move || {
            let mut f = File::create(&path).expect("create");
            read_whole_file(&raw, &meta, |s| {
                std::io::Write::write_all(&mut f, s).expect("write");
            });
            f.sync_all().expect("fsync");
        }
    };
    let h1 = root_hex;
    let keep3 = dir.clone();
    out.push(Pair {
        kernel: "node download",
        shape: format!("{label}, GET /files/{{root}}"),
        bytes: len as u64,
        zg: Side::new("zg-storage GET /files", move || {
            let _ = &keep3;
            let head = format!("GET /files/{h1} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
            download_all(addr, &head, len);
        }),
        peer: Some(Side::new("raw Store::get_many", raw_read.clone())),
        items: 0,
        target: Some(0.9),
    });
    // The most any server can give that client here: the same bytes from memory through
    // a bare loopback socket (no store, no checks), beside the same raw reads.
    let bare = bare_sender(data.clone());
    out.push(Pair {
        kernel: "node download",
        shape: format!("{label}, bare loopback TCP, the ceiling"),
        bytes: len as u64,
        zg: Side::new("bytes in memory, write_all to a socket", move || {
            download_all(bare, BARE_GET, len);
        }),
        peer: Some(Side::new("raw Store::get_many", raw_read.clone())),
        items: 0,
        target: None,
    });
    // The work no verified server can skip, on the client's cores: BLAKE3 over every
    // byte (on every core, as the store checks them) while the client receives every
    // byte. No store read, no HTTP: a GET on this machine is at most this fast.
    let hashed = data.clone();
    out.push(Pair {
        kernel: "node download",
        shape: format!("{label}, hash every byte + loopback client, GET's ceiling"),
        bytes: len as u64,
        zg: Side::new("BLAKE3 of each segment beside a bare loopback send", move || {
            // The client on its own thread, as in the GET row; the hashes on rayon's.
            std::thread::scope(|s| {
                let client = s.spawn(|| download_all(bare, BARE_GET, len));
                use rayon::prelude::*;
                let hashes = hashed
                    .par_chunks(SEGMENT_SIZE)
                    .map(|s| u64::from(blake3::hash(s).as_bytes()[0]))
                    .sum::<u64>();
                black_box(hashes);
                client.join().expect("client thread");
            });
        }),
        peer: Some(Side::new("raw Store::get_many", raw_read.clone())),
        items: 0,
        target: None,
    });
    let out_path = dir.path().join("download.bin");
    // The CLI saves the file durably: beside the raw read (the HTTP rows' peer) and
    // beside the same job done on the raw store, where its target is.
    for same_job in [false, true] {
        let (url, rt, out_path, dir) = (url.clone(), rt.clone(), out_path.clone(), dir.clone());
        let peer = if same_job {
            Side::new("raw get_many + write + fsync", raw_save.clone())
        } else {
            Side::new("raw Store::get_many", raw_read.clone())
        };
        out.push(Pair {
            kernel: "node download",
            shape: format!("{label}, zg download (verified, fsynced)"),
            bytes: len as u64,
            zg: Side::new("zg client::Node::download", move || {
                let _ = &dir;
                let node = zg_storage::StorageClient::new(&url).expect("client");
                rt.block_on(node.download(&root, &out_path)).expect("download");
            }),
            peer: Some(peer),
            items: 0,
            target: same_job.then_some(0.85),
        });
    }
    out
}

/// A 4096-aligned buffer (O_DIRECT's rule) of a fixed length.
struct AlignedBufs {
    raw: Vec<u8>,
    len: usize,
}

impl AlignedBufs {
    fn new(len: usize) -> Self {
        Self {
            raw: vec![0; len + 4096],
            len,
        }
    }

    fn get(&mut self) -> &mut [u8] {
        let off = self.raw.as_ptr().align_offset(4096);
        &mut self.raw[off..off + self.len]
    }
}

/// The peer of the random-read rows: segments `idx` of `file`, one `pread` at a time,
/// into one aligned buffer.
fn pread_loop(file: Arc<File>, idx: Vec<u64>) -> Side {
    let mut buf = AlignedBufs::new(SEGMENT_SIZE);
    Side::new("pread loop (O_DIRECT)", move || {
        let b = buf.get();
        for i in &idx {
            file.read_exact_at(b, i * SEGMENT_SIZE as u64).expect("pread");
            black_box(&b[0]);
        }
    })
}

/// Reads segments `idx` of `file` into `bufs` (one segment each) at once through `ring`.
fn uring_reads(ring: &mut io_uring::IoUring, file: &File, idx: &[u64], bufs: &mut [u8]) {
    use std::os::fd::AsRawFd;
    let fd = io_uring::types::Fd(file.as_raw_fd());
    for (j, (i, b)) in idx.iter().zip(bufs.chunks_mut(SEGMENT_SIZE)).enumerate() {
        let read = io_uring::opcode::Read::new(fd, b.as_mut_ptr(), SEGMENT_SIZE as u32)
            .offset(i * SEGMENT_SIZE as u64)
            .build()
            .user_data(j as u64);
        // SAFETY: each buffer is a distinct 256 KiB piece of `bufs`, which outlives the
        // reads: this function waits for every completion before it returns.
        unsafe { ring.submission().push(&read) }.expect("the ring holds 32 entries");
    }
    // With reads in flight, unwinding would free buffers the kernel still writes into.
    let enter = |ring: &mut io_uring::IoUring, n: usize| {
        if let Err(e) = ring.submit_and_wait(n) {
            eprintln!("fatal: io_uring_enter failed with reads in flight: {e}");
            std::process::abort();
        }
    };
    enter(ring, idx.len());
    let (mut done, mut short) = (0, 0);
    while done < idx.len() {
        for c in ring.completion() {
            short += usize::from(c.result() != SEGMENT_SIZE as i32);
            done += 1;
        }
        if done < idx.len() {
            enter(ring, 1);
        }
    }
    assert_eq!(short, 0, "every read a whole segment");
}

/// Reads every segment of the file `meta` from `raw`, 64 at a time, in order.
fn read_whole_file(raw: &Store, meta: &FileMeta, mut each: impl FnMut(&[u8])) {
    let n = meta.segment_count();
    let mut i = 0;
    while i < n {
        let wanted: Vec<_> = (i..(i + 64).min(n)).map(|j| (meta.data_key, j)).collect();
        for r in raw.get_many(&wanted) {
            each(&r.expect("read"));
        }
        i += 64;
    }
}

/// A fresh storage node joining one that holds a file, until it holds the file too
/// (libp2p, every segment verified on arrival), beside an HTTP download of the file.
fn replication_pairs(scale: usize) -> Vec<Pair> {
    use zg_node::p2p::{Multiaddr, P2pConfig};
    use zg_storage::{StorageConfig, StorageServer};
    let len = ((1usize << 30) / scale).max(BATCH * SEGMENT_SIZE);
    let data = test_bytes(len, 22);
    let dir = Arc::new(fresh_dir("replication"));
    let rt = crate::runtime(None);
    let networked = move |data_dir: std::path::PathBuf, peers: Vec<Multiaddr>| StorageConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir,
        p2p: Some(P2pConfig {
            listen: "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"),
            peers,
        }),
        ..StorageConfig::default()
    };
    let source = rt
        .block_on(StorageServer::bind(networked(
            dir.path().join("source"),
            Vec::new(),
        )))
        .expect("source binds");
    let addr = source.local_addr().expect("addr");
    let source_p2p: Multiaddr = source.p2p_addr().expect("p2p").parse().expect("multiaddr");
    rt.spawn(source.serve(std::future::pending()));
    let head =
        format!("PUT /files HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n");
    let (resp, _) = http_exchange(addr, &head, Some(&data));
    assert!(
        resp.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    let root = zg_storage::api::Root::from(*blake3::hash(&data).as_bytes()).to_string();
    // A fresh node (new identity, empty directory) joins the source and fetches the file.
    let replicate = |tag: &'static str| {
        let (keep, rt, source_p2p) = (dir.clone(), rt.clone(), source_p2p.clone());
        let mut round = 0u32;
        Side::new("zg-storage replication (p2p)", move || {
            // The previous replica's files go now: its store finishes closing after serve returns.
            let _ = std::fs::remove_dir_all(keep.path().join(format!("{tag}-{round}")));
            round += 1;
            let server = rt
                .block_on(StorageServer::bind(networked(
                    keep.path().join(format!("{tag}-{round}")),
                    vec![source_p2p.clone()],
                )))
                .expect("replica binds");
            let replica = server.local_addr().expect("addr");
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let serving = rt.spawn(server.serve(async move {
                let _ = stopped.await;
            }));
            let status = br#"{"jsonrpc":"2.0","id":1,"method":"zgs_getStatus"}"#;
            let head = format!(
                "POST / HTTP/1.1\r\nHost: {replica}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                status.len()
            );
            loop {
                let (body, _) = http_exchange(replica, &head, Some(status));
                if String::from_utf8_lossy(&body).contains("\"files\":1,") {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            let _ = stop.send(());
            rt.block_on(serving).expect("joins").expect("stops");
        })
    };
    let shape = format!("{} MiB, new node joins over libp2p", len >> 20);
    let keep = dir.clone();
    let bytes = Bytes::from(data);
    vec![
        Pair {
            kernel: "node replication",
            shape: shape.clone(),
            bytes: len as u64,
            zg: replicate("replica"),
            peer: Some(Side::new("zg-storage GET /files (HTTP)", move || {
                let _ = &keep;
                let head = format!("GET /files/{root} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
                download_all(addr, &head, len);
            })),
            items: 0,
            target: None,
        },
        // The ceiling: a replica must write every byte durably, a download only reads.
        Pair {
            kernel: "node replication",
            shape,
            bytes: len as u64,
            zg: replicate("ceiling"),
            peer: Some(Side::new("raw Store::put_batch", move || store_ingest(&bytes))),
            items: 0,
            target: Some(0.6),
        },
    ]
}
