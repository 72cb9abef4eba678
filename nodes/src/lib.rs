//! # zg-nodes
//!
//! zg's node shells over zg-core — thin: configuration, API and lifecycle —
//! and the `zg` command line client.
//!
//! - [`storage`]: the storage node (`zg-storage`, port 5678).
//! - [`chain`]: the EVM chain node (`zg-chain`, Ethereum JSON-RPC on port 8545).
//! - [`client`]: upload, download and proofs against a storage node.
//! - [`da`]: the DA node (`zg-da`, port 34000): blobs, cells, proofs, attestations.
//! - [`da_client`]: submit, disperse, sample and fetch against DA nodes.
//! - [`p2p`]: the libp2p network nodes find each other and exchange data on.

pub mod api;
pub mod chain;
pub mod client;
pub mod da;
pub mod da_client;
pub mod p2p;
pub mod storage;

/// Logs to stderr through `tracing`, filtered by `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs a binary's body; an error is printed as one actionable message
/// (with its causes, without a backtrace) and exits with status 1.
pub fn exit_on_error(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
