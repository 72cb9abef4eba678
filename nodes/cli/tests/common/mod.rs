//! A `zg devnet` started by its real binary on free loopback ports, and the npm
//! packages 0G's users run (installed once from the lockfile in `tests/sdk`).

#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use zg_node::harness::binary;

/// Dev account 0 of the default mnemonic, and its key (printed by `zg devnet`).
pub(crate) const DEV_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
pub(crate) const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Hardhat dev accounts 1, 2 and 3: the compute tests' user, provider and its signer.
#[allow(dead_code)] // each test file uses its own share
pub(crate) const USER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
#[allow(dead_code)]
pub(crate) const PROVIDER_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
#[allow(dead_code)]
pub(crate) const SIGNER_KEY: &str = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";

/// A running devnet and where its nodes answer; killed on drop.
pub(crate) struct Devnet {
    pub(crate) child: Child,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) chain_url: String,
    pub(crate) storage_urls: Vec<String>,
    pub(crate) da_urls: Vec<String>,
    /// The compute provider's URL and address, when the devnet runs one.
    pub(crate) compute: Option<(String, String)>,
    /// Where the first DA node serves 0G's disperser API (host:port).
    pub(crate) disperser: String,
    /// The web console's URL.
    pub(crate) console: String,
    /// Every validator's JSON-RPC URL, when the chain runs under consensus.
    pub(crate) validator_urls: Vec<String>,
    /// The `zg-chain …` command the devnet prints to follow its validators.
    pub(crate) follow: Option<String>,
}

/// `zg ARGS…` with no key in the environment: whether it succeeded, its stdout
/// (trimmed) and its stderr.
pub(crate) fn zg(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(zg_node::harness::binary("zg"))
        .args(args)
        .env_remove("ZG_KEY")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `zg devnet --nodes N ARGS…` with every node on a free loopback port, data in `dir`.
pub(crate) fn devnet_command(dir: &Path, nodes: usize, extra: &[&str]) -> Command {
    let mut command = Command::new(binary("zg"));
    command.arg("devnet");
    for flag in [
        "--chain-listen",
        "--storage-listen",
        "--da-listen",
        "--disperser-listen",
        "--da-server-listen",
        "--console-listen",
    ] {
        command.args([flag, "127.0.0.1:0"]);
    }
    for flag in ["--p2p-listen", "--storage-p2p-listen"] {
        command.args([flag, "/ip4/127.0.0.1/tcp/0"]);
    }
    command
        .args(["--nodes", &nodes.to_string(), "--data-dir"])
        .arg(dir)
        .args(extra);
    command
}

impl Devnet {
    /// `zg devnet --nodes N` on free ports, in a fresh directory; returns once every
    /// node has printed its address.
    pub(crate) fn start(nodes: usize, extra: &[&str]) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), nodes, extra)
    }

    /// `zg devnet --nodes N` on free ports over the data in `dir` (a restart). No
    /// compute provider unless `extra` names one (`--compute-model-file F`, or
    /// `--compute-listen ADDR` for the built-in model).
    pub(crate) fn start_in(dir: tempfile::TempDir, nodes: usize, extra: &[&str]) -> Self {
        let compute = extra.iter().any(|a| a.starts_with("--compute-"));
        let validators = extra.contains(&"--validators");
        let mut child = devnet_command(dir.path(), nodes, extra)
            .args(if compute { None } else { Some("--no-compute") })
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("zg devnet starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (mut chain_url, mut storage_urls, mut da_urls) = (None, Vec::new(), Vec::new());
        let (mut compute_url, mut provider, mut disperser, mut console) = (None, None, None, None);
        let mut validator_urls = Vec::new();
        let mut follow = None;
        let mut line = String::new();
        while chain_url.is_none()
            || storage_urls.len() < nodes
            || da_urls.len() < nodes
            || disperser.is_none()
            || console.is_none()
            || (compute && provider.is_none())
            || (validators && (validator_urls.is_empty() || follow.is_none()))
        {
            line.clear();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "devnet exited early");
            let url = line
                .split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(str::to_owned);
            if line.trim_start().starts_with("chain node") {
                chain_url = url;
            } else if line.trim_start().starts_with("storage node") {
                storage_urls.extend(url);
            } else if line.trim_start().starts_with("DA node") {
                da_urls.extend(url);
            } else if line.trim_start().starts_with("disperser") {
                disperser = url.map(|u| u.trim_start_matches("http://").to_owned());
            } else if line.trim_start().starts_with("compute node") {
                compute_url = url;
            } else if line.trim_start().starts_with("console") {
                console = url;
            } else if line.trim_start().starts_with("validators") {
                validator_urls = line
                    .split_whitespace()
                    .filter(|w| w.starts_with("http://"))
                    .map(str::to_owned)
                    .collect();
            } else if let Some(command) = line.trim_start().strip_prefix("follow") {
                follow = Some(command.trim().to_owned());
            } else if line.trim_start().starts_with("provider") {
                provider = line.split_whitespace().nth(1).map(str::to_owned);
            }
        }
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Self {
            child,
            dir,
            chain_url: chain_url.unwrap(),
            storage_urls,
            da_urls,
            compute: compute_url.zip(provider),
            disperser: disperser.unwrap(),
            console: console.unwrap(),
            validator_urls,
            follow,
        }
    }

    /// kill -9: the process dies mid-whatever; its data directory is handed back.
    pub(crate) fn kill9(mut self) -> tempfile::TempDir {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    /// A JSON-RPC call to `url`; the answer's `result` (an error fails the test).
    pub(crate) fn rpc(url: &str, method: &str, params: &serde_json::Value) -> serde_json::Value {
        let answer = Self::answer(url, method, params).expect("a JSON answer");
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// The whole JSON answer to a call, or why there was none (a node busy with an
    /// SDK's requests may refuse more from the same address with a plain 429).
    pub(crate) fn answer(
        url: &str,
        method: &str,
        params: &serde_json::Value,
    ) -> Result<serde_json::Value, reqwest::Error> {
        let request = reqwest::Client::new()
            .post(url)
            .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async { request.send().await?.json().await })
    }

    /// Ctrl-C: every node stops cleanly.
    pub(crate) fn interrupt(mut self) -> tempfile::TempDir {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(self.child.wait().unwrap().success());
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tests/sdk`, with its npm packages installed from the lockfile (once per test run;
/// `npm ci` needs the registry, or a cache that holds them).
pub(crate) fn sdk_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
        let lock = dir.join("package-lock.json");
        let stamp = dir.join("node_modules/.package-lock.json");
        let fresh = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
        if fresh(&stamp).is_none() || fresh(&stamp) < fresh(&lock) {
            let status = Command::new("npm")
                .args([
                    "ci",
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    "--loglevel=error",
                ])
                .current_dir(&dir)
                .status()
                .expect("npm runs (node 20 and npm are needed for the SDK tests)");
            assert!(status.success(), "npm ci in {} failed", dir.display());
        }
        dir
    })
}

/// The Python in `tests/sdk/.venv`, with `requirements.txt` installed (once per test
/// run; pip needs the index, or a cache that holds the wheels).
pub(crate) fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
        let venv = dir.join(".venv");
        let python = venv.join("bin/python");
        let stamp = venv.join("installed.txt");
        let requirements = dir.join("requirements.txt");
        let fresh = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
        if fresh(&stamp).is_none() || fresh(&stamp) < fresh(&requirements) {
            let run = |cmd: &mut Command| {
                let status = cmd
                    .status()
                    .expect("python3 runs (it is needed for the Python SDK tests)");
                assert!(status.success(), "{cmd:?} failed");
            };
            run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
            run(Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements));
            std::fs::copy(&requirements, &stamp).expect("stamp the venv");
        }
        python
    })
}

/// Runs `python tests/sdk/<script> args…` in the venv; its stdout, or the test fails.
pub(crate) fn python_script(script: &str, args: &[&str]) -> String {
    run_script(python(), script, args)
}

/// Runs `node tests/sdk/<script> args…`; its stdout, or the test fails with its output.
pub(crate) fn node_script(script: &str, args: &[&str]) -> String {
    run_script(Path::new("node"), script, args)
}

/// Runs `program tests/sdk/<script> args…` in `tests/sdk`; its stdout, or the test
/// fails with its stdout and stderr.
fn run_script(program: &Path, script: &str, args: &[&str]) -> String {
    let dir = sdk_dir();
    let out = Command::new(program)
        .arg(dir.join(script))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{} cannot run: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} {script} failed:\n{stdout}\n{}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
