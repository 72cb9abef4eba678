//! `zg-storage`: a storage node on one port (JSON-RPC `zgs_*` and HTTP file streaming).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use zg_nodes::storage::{StorageConfig, StorageServer};

/// A zg storage node: uploads verified segment by segment, files streamed over HTTP.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:5678")]
    listen: SocketAddr,
    /// Where the segment store lives.
    #[arg(long, default_value = ".zg/storage")]
    data_dir: PathBuf,
    /// Refuse writes past this many bytes of store files.
    #[arg(long)]
    capacity: Option<u64>,
    /// Largest file accepted, in bytes.
    #[arg(long, default_value_t = 1 << 40)]
    max_file_bytes: u64,
}

fn main() -> std::process::ExitCode {
    zg_nodes::exit_on_error(run())
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    zg_nodes::init_logging();
    let args = Args::parse();
    let cfg = StorageConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        capacity: args.capacity,
        max_file_bytes: args.max_file_bytes,
        ..StorageConfig::default()
    };
    let server = StorageServer::bind(cfg).await?;
    // One parseable line on stdout: scripts and tests read the bound address from it.
    println!("zg-storage listening on http://{}", server.local_addr()?);
    server.serve(zg_nodes::shutdown_signal()).await
}
