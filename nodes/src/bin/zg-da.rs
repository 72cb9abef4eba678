//! `zg-da`: a DA node (blobs, KZG cells and proofs, attestations) on one HTTP port.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use zg_nodes::da::{DaConfig, DaServer};

/// A zg DA node: payloads in, EIP-7594 cells with KZG proofs out, signed attestations.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:34000")]
    listen: SocketAddr,
    /// Where the store and the node key live.
    #[arg(long, default_value = ".zg/da")]
    data_dir: PathBuf,
    /// Refuse writes past this many bytes of store files.
    #[arg(long)]
    capacity: Option<u64>,
    /// Submissions waiting to be encoded before new ones are refused (503).
    #[arg(long, default_value_t = 8)]
    max_queued: usize,
}

fn main() -> std::process::ExitCode {
    zg_nodes::exit_on_error(run())
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    zg_nodes::init_logging();
    let args = Args::parse();
    let server = DaServer::bind(DaConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        capacity: args.capacity,
        max_queued: args.max_queued,
        ..DaConfig::default()
    })
    .await?;
    // One parseable line on stdout: scripts and tests read the bound address from it.
    println!(
        "zg-da listening on http://{} node 0x{}",
        server.local_addr()?,
        hex::encode(server.node_id())
    );
    server.serve(zg_nodes::shutdown_signal()).await
}
