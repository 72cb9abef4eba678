//! `zg-storage`: a storage node on one port (JSON-RPC `zgs_*` and HTTP file streaming).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use libp2p::Multiaddr;
use zg_node::p2p::P2pConfig;
use zg_storage::{Announce, FollowConfig, StorageConfig, StorageServer};

/// A zg storage node: uploads verified segment by segment, files streamed over HTTP,
/// files replicated between peers over libp2p.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:5678")]
    listen: SocketAddr,
    /// Where the segment store and the node key live.
    #[arg(long, default_value = ".zg/storage")]
    data_dir: PathBuf,
    /// Refuse writes past this many bytes of store files.
    #[arg(long)]
    capacity: Option<u64>,
    /// Largest file accepted, in bytes.
    #[arg(long, default_value_t = 1 << 40)]
    max_file_bytes: u64,
    /// Requests one client address may have in flight; more get 429 (retry shortly).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    max_concurrent_per_client: u32,
    /// p2p address to listen on (libp2p multiaddr).
    #[arg(long, default_value = "/ip4/127.0.0.1/tcp/1334")]
    p2p_listen: Multiaddr,
    /// A peer to replicate with, e.g. /ip4/127.0.0.1/tcp/1334/p2p/12D3Koo… (repeatable).
    #[arg(long = "peer")]
    peers: Vec<Multiaddr>,
    /// Run without the p2p network (no replication).
    #[arg(long)]
    no_p2p: bool,
    /// Follow this chain's Flow (its Ethereum JSON-RPC URL): Keccak-rooted files are
    /// taken only once paid for, and 0G's `*ByTxSeq` API serves them.
    #[arg(long)]
    chain: Option<String>,
    /// Blocks a `Submit` log must be under the chain's head before it counts (0G's
    /// nodes use 3; a dev chain that makes blocks only for transactions needs 0).
    #[arg(long, default_value_t = 0)]
    confirmations: u64,
    /// The node's account on the chain: with it the node announces itself in zg's
    /// service registry on start (pays the gas). Or set ZG_STORAGE_KEY.
    #[arg(long, requires = "chain", env = "ZG_STORAGE_KEY", hide_env_values = true)]
    key: Option<String>,
    /// The URL clients reach this node at, as announced (default: http:// and --listen).
    #[arg(long, requires = "key")]
    public_url: Option<String>,
    /// Hold one shard of the flow, ID/N (N a power of two): the segments whose flow
    /// index is ID mod N, as 0G's nodes shard; 0G's SDKs upload to and download from
    /// every shard's node. The whole flow by default.
    #[arg(long, default_value = "0/1")]
    shard: zg_file::shard::Shard,
    /// Fault injection for tests: serve peers corrupted segments.
    #[cfg(feature = "fault-injection")]
    #[arg(long, hide = true)]
    serve_bad_segments: bool,
}

fn main() -> std::process::ExitCode {
    zg_node::exit_on_error(run())
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    zg_node::init_logging();
    let args = Args::parse();
    let announce = match &args.key {
        Some(key) => Some(Announce {
            key: key
                .parse()
                .map_err(|_| anyhow::anyhow!("--key is not a private key (0x and 64 hex digits)"))?,
            public_url: args.public_url.clone(),
        }),
        None => None,
    };
    let cfg = StorageConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        capacity: args.capacity,
        max_file_bytes: args.max_file_bytes,
        max_concurrent_per_client: args.max_concurrent_per_client as usize,
        p2p: (!args.no_p2p).then_some(P2pConfig {
            listen: args.p2p_listen,
            peers: args.peers,
        }),
        chain: args.chain.map(|url| FollowConfig {
            url,
            confirmations: args.confirmations,
            poll: Duration::from_millis(250),
            announce,
        }),
        shard: args.shard,
        #[cfg(feature = "fault-injection")]
        serve_bad_segments: args.serve_bad_segments,
        ..StorageConfig::default()
    };
    let server = StorageServer::bind(cfg).await?;
    // One parseable line on stdout: scripts and tests read the bound address from it.
    println!(
        "zg-storage listening on http://{} p2p {}",
        server.local_addr()?,
        server.p2p_addr().unwrap_or_else(|| "off".into())
    );
    server.serve(zg_node::shutdown_signal()).await
}
