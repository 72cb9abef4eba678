//! `zg-da`: a DA node (blobs, KZG cells and proofs, attestations) on one HTTP port,
//! and 0G's disperser API over gRPC on another when asked.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use libp2p::Multiaddr;
use zg_da::chain::ChainConfig;
use zg_da::{DaConfig, DaServer};
use zg_node::p2p::P2pConfig;

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
    /// p2p address to listen on (libp2p multiaddr).
    #[arg(long, default_value = "/ip4/127.0.0.1/tcp/1234")]
    p2p_listen: Multiaddr,
    /// A peer to join, e.g. /ip4/127.0.0.1/tcp/1234/p2p/12D3Koo… (repeatable).
    #[arg(long = "peer")]
    peers: Vec<Multiaddr>,
    /// Run without the p2p network (keeps every cell).
    #[arg(long)]
    no_p2p: bool,
    /// Serve 0G's disperser API (gRPC `disperser.Disperser`) here, e.g. 127.0.0.1:51001.
    #[arg(long)]
    grpc_listen: Option<SocketAddr>,
    /// Cells of each blob this node keeps (of 128), chosen from its peer id.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u8).range(1..=128))]
    custody_columns: u8,
    /// Follow this chain's 0G DA contracts (e.g. http://127.0.0.1:8545): register as a
    /// signer, sign quorum rows, and certify what the disperser API takes.
    #[arg(long, requires = "key")]
    chain: Option<String>,
    /// The node's account on the chain (pays gas and blob fees). Or set ZG_DA_KEY.
    #[arg(long, env = "ZG_DA_KEY", hide_env_values = true)]
    key: Option<String>,
    /// The URL other nodes reach this node's HTTP API at, registered on chain
    /// (default: http://LISTEN).
    #[arg(long)]
    public_url: Option<String>,
    /// Fault injection for tests: serve peers corrupted cells.
    #[arg(long, hide = true)]
    #[cfg(feature = "fault-injection")]
    serve_bad_cells: bool,
}

fn main() -> std::process::ExitCode {
    zg_node::exit_on_error(run())
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    zg_node::init_logging();
    let args = Args::parse();
    let chain = match (&args.chain, &args.key) {
        (Some(url), Some(key)) => Some(ChainConfig {
            url: url.clone(),
            key: key
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("--key is not a private key (0x and 64 hex digits)"))?,
            public_url: args.public_url.clone(),
        }),
        _ => None,
    };
    let server = DaServer::bind(DaConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        capacity: args.capacity,
        max_queued: args.max_queued,
        p2p: (!args.no_p2p).then_some(P2pConfig {
            listen: args.p2p_listen,
            peers: args.peers,
        }),
        custody_columns: usize::from(args.custody_columns),
        grpc: args.grpc_listen,
        chain,
        #[cfg(feature = "fault-injection")]
        serve_bad_cells: args.serve_bad_cells,
        ..DaConfig::default()
    })
    .await?;
    // One parseable line on stdout: scripts and tests read the bound address from it.
    println!(
        "zg-da listening on http://{} node 0x{} p2p {} grpc {} signer {}",
        server.local_addr()?,
        hex::encode(server.node_id()),
        server.p2p_addr().unwrap_or_else(|| "off".into()),
        server.grpc_addr().map_or_else(|| "off".into(), |a| a.to_string()),
        server.signer().map_or_else(|| "off".into(), |a| a.to_string())
    );
    server.serve(zg_node::shutdown_signal()).await
}
