//! `zg`: the command line client, and `zg devnet`, a local network in one process.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use zg_merkle::RootKind;
use zg_nodes::api::root_hex;
use zg_nodes::chain::{ChainNode, ChainNodeConfig, DEV_MNEMONIC, print_accounts};
use zg_nodes::client::{self, Node};
use zg_nodes::storage::{StorageConfig, StorageServer};

/// zg: verifiable storage for decentralized AI — client and local devnet.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Upload a file to a storage node (resumes a partial upload); prints its root.
    Upload {
        /// The file.
        file: PathBuf,
        /// Storage node URL.
        #[arg(long, default_value = "http://127.0.0.1:5678")]
        node: String,
        /// Which tree names the file: blake3 (its BLAKE3 hash) or zg (0G's Keccak tree).
        #[arg(long, default_value = "blake3")]
        root_kind: RootKind,
    },
    /// Download a file by root, verifying every segment and the final root.
    Download {
        /// The file root (hex).
        root: String,
        /// Where to write it.
        #[arg(short, long)]
        output: PathBuf,
        /// Storage node URL.
        #[arg(long, default_value = "http://127.0.0.1:5678")]
        node: String,
    },
    /// Print both roots of a local file (offline).
    Root {
        /// The file.
        file: PathBuf,
    },
    /// Fetch one segment's proof from a node and verify it.
    Proof {
        /// The file root (hex).
        root: String,
        /// Segment index.
        segment: u64,
        /// Storage node URL.
        #[arg(long, default_value = "http://127.0.0.1:5678")]
        node: String,
    },
    /// Run a local network in this process until Ctrl-C: a chain node and a storage node
    /// on embedded defaults.
    Devnet {
        /// Where nodes keep their data.
        #[arg(long, default_value = ".zg")]
        data_dir: PathBuf,
        /// Storage node address.
        #[arg(long, default_value = "127.0.0.1:5678")]
        storage_listen: SocketAddr,
        /// Chain node (Ethereum JSON-RPC) address.
        #[arg(long, default_value = "127.0.0.1:8545")]
        chain_listen: SocketAddr,
        /// Chain id of the dev chain.
        #[arg(long, default_value_t = 31337)]
        chain_id: u64,
        /// Seconds between blocks; without it a block is made as soon as transactions arrive.
        #[arg(long)]
        block_time: Option<f64>,
    },
}

fn main() -> std::process::ExitCode {
    zg_nodes::exit_on_error(run())
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    zg_nodes::init_logging();
    match Cli::parse().cmd {
        Cmd::Upload {
            file,
            node,
            root_kind,
        } => {
            let root = Node::new(&node)?.upload(&file, root_kind).await?;
            println!("{}", root_hex(&root));
        }
        Cmd::Download { root, output, node } => {
            let root = client::root_arg(&root)?;
            let n = Node::new(&node)?.download(&root, &output).await?;
            eprintln!(
                "{} bytes verified against {} and written to {}",
                n,
                root_hex(&root),
                output.display()
            );
        }
        Cmd::Root { file } => {
            let (b3, zg) = client::file_roots(&file)?;
            println!("blake3 {}", root_hex(&b3.root()));
            println!("zg     {}", root_hex(&zg.root()));
            println!("bytes  {}", b3.file_len());
            println!("segments {}", b3.segment_count());
        }
        Cmd::Proof { root, segment, node } => {
            let root = client::root_arg(&root)?;
            let (seg, ok) = Node::new(&node)?.proof(&root, segment).await?;
            println!("root     {}", seg.root);
            println!("segment  {} of a {}-byte file", seg.index, seg.file_size);
            println!("proof    {}", seg.proof);
            println!("verified {ok}");
            if !ok {
                anyhow::bail!("the node's proof does not verify");
            }
        }
        Cmd::Devnet {
            data_dir,
            storage_listen,
            chain_listen,
            chain_id,
            block_time,
        } => {
            let block_time = zg_nodes::chain::block_time(block_time)?;
            let chain = ChainNode::start(ChainNodeConfig {
                listen: chain_listen,
                data_dir: Some(data_dir.join("chain")),
                chain_id,
                block_time,
                ..ChainNodeConfig::default()
            })
            .await
            .context("starting the chain node")?;
            let storage = StorageServer::bind(StorageConfig {
                listen: storage_listen,
                data_dir: data_dir.join("storage"),
                ..StorageConfig::default()
            })
            .await
            .context("starting the storage node")?;
            let addr = storage.local_addr()?;
            println!("zg devnet is up (data in {})", data_dir.display());
            println!(
                "  chain node    http://{}   Ethereum JSON-RPC (eth_*, net_*, web3_*)",
                chain.local_addr()
            );
            println!(
                "  storage node  http://{addr}   JSON-RPC zgs_* · PUT /files · GET /files/{{root}} · /metrics"
            );
            println!("  try:          zg upload FILE --node http://{addr}");
            print_accounts(&chain, DEV_MNEMONIC, ChainNodeConfig::default().balance_ether);
            println!(
                "Ctrl-C stops it; data stays in {} for the next start.",
                data_dir.display()
            );
            storage.serve(zg_nodes::shutdown_signal()).await?;
            chain.stop().await;
        }
    }
    Ok(())
}
