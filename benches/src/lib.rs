//! # zg-benches
//!
//! Every hot kernel of zg beside its peer, defined once as a [`Pair`] and run
//! by both the criterion benches (`cargo bench -p zg-benches`) and the
//! `report` binary, which prints the ratios in one table.

use std::sync::Arc;
use std::time::{Duration, Instant};

// The README's Rust examples compile and run as doctests (this crate depends on every kernel).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// The compute node's built-in engine beside llama.cpp on the same GGUF; its proxy beside the upstream alone.
pub mod compute;
/// zg-chain with 4 validators under Malachite beside the single sequencer.
pub mod consensus;
/// DA submissions end to end beside the KZG kernels they run.
pub mod da;
/// Erasure codes beside raw reed-solomon-simd.
pub mod erasure;
/// EVM block execution beside raw revm; the chain node's transaction intake.
pub mod evm;
/// The C ABI's per-call overhead beside direct Rust.
pub mod ffi;
/// KZG functions beside c-kzg.
pub mod kzg;
/// Merkle roots and proofs beside raw BLAKE3 and Keccak.
pub mod merkle;
/// Storage on chain: `zg upload` paying on the Flow beside 0G's SDK; chain-gated uploads beside off-chain ones.
pub mod storage_chain;
/// The segment store and file pipeline beside std::fs, dd and pread.
pub mod store;

/// One side of a comparison: a name and the work to time.
pub struct Side {
    /// What runs, e.g. `zg Blake3Tree (2 threads)`.
    pub name: String,
    /// Runs the work the given number of times.
    pub run: Box<dyn FnMut(u32)>,
}

impl Side {
    /// A side named `name` running `run` on the calling thread.
    pub fn new(name: impl Into<String>, mut run: impl FnMut() + 'static) -> Self {
        Self {
            name: name.into(),
            run: Box::new(move |iters| {
                for _ in 0..iters {
                    run();
                }
            }),
        }
    }

    /// A side running `run` inside `pool`, entered once per timed batch:
    /// entering it per call would time two thread wake-ups (tens of
    /// microseconds on these VMs) that a caller on its own thread never pays.
    /// Give both sides of a pair the same pool so that they run on the same
    /// thread, not on two vCPUs that other tenants load differently.
    pub fn in_pool(
        name: impl Into<String>,
        pool: Arc<rayon::ThreadPool>,
        mut run: impl FnMut() + Send + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            run: Box::new(move |iters| {
                pool.install(|| {
                    for _ in 0..iters {
                        run();
                    }
                });
            }),
        }
    }
}

/// A zg kernel and, where one exists, its peer on the same input.
pub struct Pair {
    /// Kernel family, e.g. `merkle blake3 root`.
    pub kernel: &'static str,
    /// Input shape, e.g. `1 GiB, 2 threads`.
    pub shape: String,
    /// Bytes processed per iteration; 0 when only time is reported.
    pub bytes: u64,
    /// Items (transactions) per iteration, reported as a rate when `bytes` is 0.
    pub items: u64,
    /// zg's side.
    pub zg: Side,
    /// The peer's side.
    pub peer: Option<Side>,
    /// Target for the speed ratio (peer time / zg time), where the issue sets one.
    pub target: Option<f64>,
}

/// A peer in a long-lived process that says `ready`, then answers one line per line
/// asked: one of 0G's SDK scripts (`nodes/cli/tests/sdk/*.mjs`, packages from `npm ci`
/// there) under node, or llama.cpp under python.
pub struct Worker {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Worker {
    /// Starts 0G's SDK script `node SCRIPT ARGS…`, or `None` (with a note) when node or
    /// the SDK is missing.
    pub fn start_sdk(script: &str, args: &[&str]) -> Option<Self> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../nodes/cli/tests/sdk");
        if !dir.join("node_modules/@0gfoundation/0g-ts-sdk").exists() {
            eprintln!(
                "note: 0G's SDK is not installed (npm ci in {}): its rows have no peer",
                dir.display()
            );
            return None;
        }
        let script = dir.join(script);
        let mut all: Vec<&str> = vec![script.to_str()?];
        all.extend_from_slice(args);
        let worker = Self::spawn_in("node", &all, &dir);
        if worker.is_none() {
            eprintln!("note: node or the SDK script does not start: the SDK rows have no peer");
        }
        worker
    }

    /// Starts `PROGRAM ARGS…` (any worker that says `ready`, then answers one line per
    /// line), or `None` when it does not start or say `ready`.
    pub fn spawn(program: &str, args: &[&str]) -> Option<Self> {
        Self::spawn_in(program, args, std::path::Path::new("."))
    }

    fn spawn_in(program: &str, args: &[&str], dir: &std::path::Path) -> Option<Self> {
        use std::io::BufRead;
        let mut child = std::process::Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let stdin = child.stdin.take()?;
        let mut stdout = std::io::BufReader::new(child.stdout.take()?);
        let mut line = String::new();
        stdout.read_line(&mut line).ok()?;
        (line.trim() == "ready").then_some(Self { child, stdin, stdout })
    }

    /// Sends `request` and returns the answer line.
    pub fn ask(&mut self, request: &str) -> String {
        use std::io::{BufRead, Write};
        writeln!(self.stdin, "{request}").expect("the SDK worker takes a request");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("the SDK worker answers");
        line.trim().to_owned()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where benches put their files: `ZG_BENCH_DIR`, else the system's temp directory.
pub fn bench_dir() -> std::path::PathBuf {
    std::env::var_os("ZG_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into)
}

/// A tokio runtime for the loopback node benches: `workers` worker threads, or one
/// per core when `None`.
pub fn runtime(workers: Option<usize>) -> Arc<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = workers {
        builder.worker_threads(workers);
    }
    Arc::new(builder.enable_all().build().expect("a tokio runtime starts"))
}

/// A rayon pool of exactly `threads` threads, for fair single/multi-thread figures.
pub fn pool(threads: usize) -> Arc<rayon::ThreadPool> {
    Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a rayon pool starts"),
    )
}

/// Deterministic pseudo-random bytes (xorshift), fast enough for GiB inputs.
pub fn test_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Registers a pair with criterion: one group, both sides, bytes as throughput.
pub fn criterion_pair(c: &mut criterion::Criterion, mut pair: Pair, samples: usize) {
    let mut group = c.benchmark_group(format!("{} [{}]", pair.kernel, pair.shape));
    group.sample_size(samples.max(10));
    if pair.bytes > 0 {
        group.throughput(criterion::Throughput::Bytes(pair.bytes));
    } else if pair.items > 0 {
        group.throughput(criterion::Throughput::Elements(pair.items));
    }
    for side in std::iter::once(&mut pair.zg).chain(pair.peer.as_mut()) {
        let run = &mut side.run;
        group.bench_function(side.name.clone(), |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                run(u32::try_from(iters).unwrap_or(u32::MAX));
                t.elapsed()
            });
        });
    }
    group.finish();
}

/// Median time of one pair's sides, measured interleaved so drifting machine
/// load hits both alike.
pub struct Measured {
    /// Median time of zg's side.
    pub zg: Duration,
    /// Median time of the peer's side.
    pub peer: Option<Duration>,
    /// Samples taken of each side.
    pub samples: usize,
}

/// Times a pair: one warm-up each, then rounds of a few samples of zg and a
/// few of the peer (blocks, not single alternations, so one side's thread
/// pool is warm while it runs) until `budget` is spent; 6 to 48 samples a side,
/// 3 when one warm-up run alone outlasts the budget (a 31 MiB DA submission).
pub fn measure(pair: &mut Pair, budget: Duration) -> Measured {
    const BLOCK: usize = 3;
    // Fast kernels run several times per sample so that one sample is about 2 ms:
    // a timer read and a scheduler hiccup then weigh little.
    const SAMPLE: Duration = Duration::from_millis(2);
    let time = |run: &mut Box<dyn FnMut(u32)>, iters: u32| {
        let t = Instant::now();
        run(iters);
        t.elapsed() / iters
    };
    // Returns the first run's time (the warm-up) and the runs per sample.
    let iters_for = |run: &mut Box<dyn FnMut(u32)>| {
        let first = time(run, 1); // Pays for allocations and page faults.
        if first >= SAMPLE {
            return (first, 1);
        }
        let once = time(run, 1).max(Duration::from_nanos(100));
        (
            first,
            (SAMPLE.as_nanos() / once.as_nanos()).clamp(1, 10_000) as u32,
        )
    };
    let (warm_up, zg_iters) = iters_for(&mut pair.zg.run);
    let peer_iters = pair.peer.as_mut().map_or(1, |p| iters_for(&mut p.run).1);
    let min = if warm_up > budget { BLOCK } else { 2 * BLOCK };
    let (mut zg, mut peer) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while zg.len() < 300 && (zg.len() < min || start.elapsed() < budget) {
        for _ in 0..BLOCK {
            zg.push(time(&mut pair.zg.run, zg_iters));
        }
        if let Some(p) = pair.peer.as_mut() {
            for _ in 0..BLOCK {
                peer.push(time(&mut p.run, peer_iters));
            }
        }
    }
    Measured {
        zg: median(&mut zg),
        peer: (!peer.is_empty()).then(|| median(&mut peer)),
        samples: zg.len(),
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}
