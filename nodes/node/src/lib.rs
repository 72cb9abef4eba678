//! # zg-node
//!
//! What every zg node shares: logging, error exit and shutdown for the binaries,
//! the node's identity key, and the libp2p network nodes replicate over.
//!
//! - `p2p` (feature `p2p`): the libp2p network nodes find each other and exchange
//!   data on.
//! - `identity` (feature `p2p`): the node key kept in each node's data directory.
//! - `http` (feature `http`): plain-text answers and `Content-Length` for handlers.
//! - [`metrics`]: the registry every node renders on `/metrics`.
//! - `harness` (feature `test-harness`): starts the real node binaries in tests, and a
//!   hostile libp2p peer.

#[cfg(feature = "chain")]
pub mod chain;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "p2p")]
pub mod identity;
pub mod metrics;
#[cfg(feature = "p2p")]
pub mod p2p;
#[cfg(feature = "chain")]
pub mod registry;

#[cfg(feature = "test-harness")]
pub mod harness;
#[cfg(feature = "test-harness")]
#[allow(missing_docs)] // libp2p's behaviour derive adds an undocumented event enum
pub mod hostile;

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
