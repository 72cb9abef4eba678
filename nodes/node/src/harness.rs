//! Starting the real node binaries in tests: each test runs `zg-storage`, `zg-da`,
//! `zg-chain` or `zg` as a process on loopback ports, as a user would.
//!
//! Test code: it panics with a message instead of returning errors.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The path of the workspace binary `name`, in the profile the test itself was built
/// in. `cargo test --workspace` builds every binary first; a test run of one crate alone
/// needs the others built (`cargo build --bins`), and says so.
pub fn binary(name: &str) -> PathBuf {
    // Test executables live in target/<profile>/deps, binaries in target/<profile>.
    let exe = std::env::current_exe().expect("the test executable's path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lies in target/<profile>/deps")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --bins` (or `cargo test --workspace`, which builds it)",
        path.display()
    );
    path
}

/// A running node process, killed when dropped.
#[derive(Debug)]
pub struct NodeProcess {
    child: Child,
}

impl NodeProcess {
    /// Starts binary `name` with `args` (`RUST_LOG=warn`, stderr inherited) and waits
    /// for its first stdout line, which must start with `prefix`; returns the process
    /// and the rest of that line. Later output is drained so the node never blocks on
    /// a full pipe.
    pub fn start(name: &str, args: &[&std::ffi::OsStr], prefix: &str) -> (Self, String) {
        Self::start_with_stderr(name, args, prefix, Stdio::inherit())
    }

    /// As [`NodeProcess::start`], with the node's log (stderr) appended to `log`, for
    /// tests that read what the node reported.
    pub fn start_logging(name: &str, args: &[&std::ffi::OsStr], prefix: &str, log: &Path) -> (Self, String) {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        Self::start_with_stderr(name, args, prefix, Stdio::from(file))
    }

    fn start_with_stderr(
        name: &str,
        args: &[&std::ffi::OsStr],
        prefix: &str,
        stderr: Stdio,
    ) -> (Self, String) {
        let mut child = Command::new(binary(name))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("reads the first line");
        let rest = line
            .trim()
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{name}: unexpected first line {line:?}"))
            .to_owned();
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        (Self { child }, rest)
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running (not exited, not killed).
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("process status").is_none()
    }

    /// SIGKILL, then reaps it.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// Sends `signal` (as `kill` takes it, e.g. `-TERM`) and waits for the exit.
    pub fn signal(&mut self, signal: &str) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} failed");
        self.child.wait().expect("reaped")
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `done` every 100 ms until it holds; panics after a minute.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
