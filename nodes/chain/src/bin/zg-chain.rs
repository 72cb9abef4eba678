//! `zg-chain`: an EVM chain node speaking standard Ethereum JSON-RPC, in dev mode.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use zg_chain::{ChainNode, ChainNodeConfig, DEV_MNEMONIC};

/// A zg chain node: revm execution behind Ethereum JSON-RPC with dev accounts; one
/// sequencer, or one of many validators under Malachite consensus (--validator-key),
/// or a follower of them (--validator without --validator-key).
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
    /// Seconds between blocks; without it a block is made as soon as transactions arrive
    /// (as a validator: how often an idle chain makes an empty block, default 1; a
    /// transaction starts the next block at once).
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
    /// Run as a validator under consensus with this ed25519 secret (hex, 32 bytes)
    /// instead of as the single sequencer; needs --data-dir, --validator and --p2p-listen.
    #[arg(long, value_name = "HEX")]
    validator_key: Option<String>,
    /// ed25519 secret (hex) of the consensus p2p identity (default: derived from
    /// --validator-key; a follower makes one and keeps it in DATA_DIR/consensus/network-key).
    #[arg(long, value_name = "HEX")]
    network_key: Option<String>,
    /// A genesis validator's ed25519 public key (hex); repeat for each, this node's
    /// included. Given without --validator-key, the node follows the validators:
    /// it re-executes every decided block and serves JSON-RPC, but does not vote.
    #[arg(long = "validator", value_name = "HEX")]
    validators: Vec<String>,
    /// Consensus p2p address, e.g. /ip4/127.0.0.1/tcp/26656.
    #[arg(long)]
    p2p_listen: Option<String>,
    /// Another consensus node's p2p address; repeat for each.
    #[arg(long = "p2p-peer")]
    p2p_peers: Vec<String>,
    /// A validator's JSON-RPC URL, to relay transactions to; repeat for each.
    #[arg(long = "rpc-peer")]
    rpc_peers: Vec<String>,
    /// Milliseconds a round waits for its proposal before moving on.
    #[arg(long, default_value_t = 3000)]
    propose_timeout_ms: u64,
    /// Test only: propose blocks with a false state root, to show honest validators
    /// outvote them.
    #[arg(long, hide = true)]
    test_propose_invalid: bool,
}

// The consensus settings the flags describe, if --validator-key or --validator is given.
fn validator_settings(args: &Args) -> anyhow::Result<Option<zg_chain::ValidatorSettings>> {
    use anyhow::Context as _;
    if args.validator_key.is_none() && args.validators.is_empty() {
        return Ok(None);
    }
    let secret = |hex: &str, what: &str| {
        zg_codec::hex::parse::<32>(hex).with_context(|| format!("{what} must be 32 bytes of hex"))
    };
    let key_secret = args
        .validator_key
        .as_deref()
        .map(|key| secret(key, "--validator-key"))
        .transpose()?;
    let data_dir = args.data_dir.clone().context(
        "a validator or follower needs --data-dir (its block log and consensus WAL must survive restarts)",
    )?;
    anyhow::ensure!(
        !args.validators.is_empty(),
        "a validator needs the genesis validators: --validator HEX for each"
    );
    let validators = args
        .validators
        .iter()
        .map(|v| secret(v, "--validator"))
        .collect::<anyhow::Result<_>>()?;
    let multiaddr = |s: &String| {
        s.parse()
            .with_context(|| format!("{s} is not a multiaddr like /ip4/127.0.0.1/tcp/26656"))
    };
    let p2p_listen = multiaddr(
        args.p2p_listen
            .as_ref()
            .context("a validator or follower needs --p2p-listen")?,
    )?;
    let p2p_peers: Vec<_> = args
        .p2p_peers
        .iter()
        .map(multiaddr)
        .collect::<anyhow::Result<_>>()?;
    if key_secret.is_none() {
        anyhow::ensure!(
            !p2p_peers.is_empty(),
            "a follower (no --validator-key) needs a validator to follow: --p2p-peer ADDRESS"
        );
        if args.rpc_peers.is_empty() {
            tracing::warn!("no --rpc-peer: transactions sent to this follower reach no validator");
        }
    }
    // Made last: a follower's key file is written only once every flag is good.
    let network_secret = match (&args.network_key, &key_secret) {
        (Some(hex), _) => secret(hex, "--network-key")?,
        (None, Some(key)) => zg_chain::derived_network_secret(key),
        (None, None) => {
            let path = data_dir.join("consensus").join("network-key");
            zg_chain::persistent_network_secret(&path)
                .with_context(|| format!("the follower's p2p key at {}", path.display()))?
        }
    };
    Ok(Some(zg_chain::ValidatorSettings {
        key_secret,
        network_secret,
        p2p_listen,
        p2p_peers,
        validators,
        rpc_peers: args.rpc_peers.clone(),
        wal_dir: data_dir.join("consensus"),
        propose_timeout: std::time::Duration::from_millis(args.propose_timeout_ms),
        // Under consensus --block-time paces empty blocks only (default 1 s).
        block_time: std::time::Duration::from_secs_f64(args.block_time.unwrap_or(1.0)),
        propose_invalid: args.test_propose_invalid,
    }))
}

fn main() -> std::process::ExitCode {
    zg_node::exit_on_error(run())
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    zg_node::init_logging();
    let args = Args::parse();
    let block_time = zg_chain::block_time(args.block_time)?;
    let validator = validator_settings(&args)?;
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
        validator,
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
