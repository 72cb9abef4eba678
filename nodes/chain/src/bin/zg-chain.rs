//! `zg-chain`: an EVM chain node speaking standard Ethereum JSON-RPC, in dev mode.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use zg_chain::{ChainNode, ChainNodeConfig, DEV_MNEMONIC};

/// A zg chain node: revm execution behind Ethereum JSON-RPC, one sequencer, dev accounts.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// JSON-RPC address (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8545")]
    listen: SocketAddr,
    /// Where the block log lives; without it the chain lives in memory only.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// EIP-155 chain id.
    #[arg(long, default_value_t = 31337)]
    chain_id: u64,
    /// Seconds between blocks; without it a block is made as soon as transactions arrive.
    #[arg(long)]
    block_time: Option<f64>,
    /// Mnemonic of the prefunded dev accounts.
    #[arg(long, default_value = DEV_MNEMONIC)]
    mnemonic: String,
    /// Number of prefunded dev accounts.
    #[arg(long, default_value_t = 10)]
    accounts: u32,
    /// Balance of each dev account, in ether.
    #[arg(long, default_value_t = 10_000)]
    balance: u64,
    /// Gas limit of every block.
    #[arg(long, default_value_t = 30_000_000)]
    gas_limit: u64,
    /// Wei per 256-byte sector that 0G's Flow charges a submission.
    #[arg(long, default_value_t = zg_contracts::DEFAULT_PRICE_PER_SECTOR)]
    price_per_sector: u64,
    /// Seconds a compute refund stays locked before `retrieveFund` pays it (0G: 1 day).
    #[arg(long, default_value_t = zg_contracts::compute::DEFAULT_LOCK_TIME_SECS)]
    refund_lock_secs: u64,
}

fn main() -> std::process::ExitCode {
    zg_node::exit_on_error(run())
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    zg_node::init_logging();
    let args = Args::parse();
    let block_time = zg_chain::block_time(args.block_time)?;
    let node = ChainNode::start(ChainNodeConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        chain_id: args.chain_id,
        block_time,
        mnemonic: args.mnemonic.clone(),
        accounts: args.accounts,
        balance_ether: args.balance,
        gas_limit: args.gas_limit,
        price_per_sector: alloy_primitives::U256::from(args.price_per_sector),
        refund_lock_secs: args.refund_lock_secs,
        ..ChainNodeConfig::default()
    })
    .await?;
    // First line on stdout is parseable: scripts and tests read the address from it.
    println!("zg-chain listening on http://{}", node.local_addr());
    zg_chain::print_accounts(&node, &args.mnemonic, args.balance);
    zg_node::shutdown_signal().await;
    node.stop().await;
    Ok(())
}
