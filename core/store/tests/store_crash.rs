//! Crash tests with real processes: a child writes batches of segments and
//! is killed with SIGKILL at a random moment; on reopen every acknowledged
//! batch reads back byte-exact and every batch is there whole or not at all.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use zg_store::{Put, Store, StoreOptions};

const DIR_VAR: &str = "ZG_CRASH_CHILD_DIR";
const START_VAR: &str = "ZG_CRASH_CHILD_START";

/// Batch `b` holds `1 + b % 7` segments of key `b`, each of a length that varies.
fn batch(b: u64) -> Vec<(u64, Vec<u8>)> {
    (0..1 + b % 7)
        .map(|i| {
            let len = 1 + ((b * 7919 + i * 104_729) % 300_000) as usize;
            let mut out = vec![0u8; len];
            let mut h = blake3::Hasher::new();
            h.update(&b.to_le_bytes());
            h.update(&i.to_le_bytes());
            h.finalize_xof().fill(&mut out);
            (i, out)
        })
        .collect()
}

fn key(b: u64) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..8].copy_from_slice(&b.to_le_bytes());
    k
}

fn opts() -> StoreOptions {
    StoreOptions {
        // Small files and frequent snapshots so kills land in rolls and snapshot writes too.
        max_file_size: 4 << 20,
        snapshot_every: 2 << 20,
        ..StoreOptions::default()
    }
}

/// The child: writes batches forever, printing each acknowledged one.
#[test]
#[ignore = "run by crash_with_sigkill_loses_nothing_acknowledged as a child process"]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return;
    };
    let start: u64 = std::env::var(START_VAR).unwrap().parse().unwrap();
    let (store, _) = Store::open_path(&dir, opts()).unwrap();
    let mut out = std::io::stdout().lock();
    for b in start.. {
        let puts = batch(b)
            .into_iter()
            .map(|(i, p)| Put::segment(key(b), i, p))
            .collect();
        store.put_batch(puts).unwrap();
        writeln!(out, "ACK {b}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn crash_with_sigkill_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let mut acked: Vec<u64> = Vec::new();
    let mut next_start = 0u64;
    let iterations = 20;
    for round in 0..iterations {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child_writer",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_VAR, dir.path())
            .env(START_VAR, next_start.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("ACK ").and_then(|n| n.parse::<u64>().ok()))
                .collect::<Vec<u64>>()
        });
        std::thread::sleep(Duration::from_millis(rng.random_range(30..400)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let got = reader.join().unwrap();
        acked.extend(&got);
        // Batches the child may have started but not acknowledged.
        let tried_up_to = got.last().map_or(next_start, |b| b + 2);
        next_start = tried_up_to + 1;

        let (store, report) = Store::open_path(dir.path(), opts()).unwrap();
        assert!(report.corrupt.is_empty(), "round {round}: {report:?}");
        for &b in &acked {
            for (i, p) in batch(b) {
                let seg = store
                    .get(&key(b), i)
                    .unwrap_or_else(|e| panic!("round {round}: batch {b} segment {i}: {e}"));
                assert_eq!(&seg[..], &p[..], "round {round}: batch {b} segment {i}");
            }
        }
        // Unacknowledged batches: whole and exact, or absent.
        for b in 0..next_start {
            let present = store.segment_indices(&key(b));
            if present.is_empty() {
                continue;
            }
            let want = batch(b);
            assert_eq!(present.len(), want.len(), "round {round}: batch {b} half visible");
            for (i, p) in want {
                assert_eq!(&store.get(&key(b), i).unwrap()[..], &p[..]);
            }
        }
        assert!(store.fsck().unwrap().is_clean(), "round {round}");
    }
    assert!(
        acked.len() > iterations,
        "the child acknowledged too little to test: {}",
        acked.len()
    );
}
