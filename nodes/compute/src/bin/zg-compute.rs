//! `zg-compute`: a compute provider node. It registers its service on the chain's
//! InferenceServing, answers OpenAI chat completions for users with an `app-sk-` key,
//! bills their tokens and settles the fees on chain; with --fine-tuning, it also takes
//! 0G's fine-tuning tasks and settles them on FineTuningServing.

use std::net::SocketAddr;
use std::path::PathBuf;

use alloy_primitives::U256;
use alloy_signer_local::PrivateKeySigner;
use anyhow::Context as _;
use clap::Parser;
use std::time::Duration;

use zg_compute::engine::{Builtin, Engine, Upstream};
use zg_compute::fine_tuning::{DEFAULT_ACK_TIMEOUT_SECS, DEFAULT_PRICE_PER_TOKEN, FineTuningConfig};
use zg_compute::model::LocalModel;
use zg_compute::service::{DEFAULT_INPUT_PRICE, DEFAULT_MAX_TOKENS, DEFAULT_OUTPUT_PRICE, settle_interval};
use zg_compute::{ProviderConfig, ProviderServer};

/// A zg compute provider: 0G's inference API in front of a GGUF model it runs itself
/// (--model-file) or of an OpenAI-compatible server (--upstream).
#[derive(Parser, Debug)]
#[command(version, about)]
#[command(group(clap::ArgGroup::new("engine").required(true).args(["model_file", "upstream"])))]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:3080")]
    listen: SocketAddr,
    /// The URL users reach this node at, registered on chain (default: http://LISTEN).
    #[arg(long)]
    public_url: Option<String>,
    /// The chain's JSON-RPC URL.
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    chain: String,
    /// The provider's private key (its wallet: stake, fees). Or set ZG_PROVIDER_KEY.
    #[arg(long, env = "ZG_PROVIDER_KEY", hide_env_values = true)]
    key: String,
    /// The key that signs settlements (the service's signer); defaults to --key.
    #[arg(long, env = "ZG_SIGNER_KEY", hide_env_values = true)]
    signer_key: Option<String>,
    /// The OpenAI-compatible server that answers (vLLM, llama.cpp, Ollama), e.g.
    /// http://127.0.0.1:8000.
    #[arg(long)]
    upstream: Option<String>,
    /// A llama-architecture GGUF to run on CPU (e.g. SmolLM2-135M-Instruct's).
    #[arg(long)]
    model_file: Option<PathBuf>,
    /// The model name the service offers.
    #[arg(long, default_value = "SmolLM2-135M-Instruct")]
    model: String,
    /// Wei per prompt token.
    #[arg(long, default_value_t = DEFAULT_INPUT_PRICE)]
    input_price: u64,
    /// Wei per generated token.
    #[arg(long, default_value_t = DEFAULT_OUTPUT_PRICE)]
    output_price: u64,
    /// Most tokens one answer may generate.
    #[arg(long, default_value_t = DEFAULT_MAX_TOKENS)]
    max_tokens: u64,
    /// Seconds between settlements.
    #[arg(long, default_value_t = 60.0)]
    settle_every: f64,
    /// Where the books live.
    #[arg(long, default_value = ".zg/compute")]
    data_dir: PathBuf,
    /// Also serve 0G's fine-tuning task API: LoRA on --model-file, registered on
    /// FineTuningServing (stakes 100 0G the first time).
    #[arg(long, requires_all = ["model_file", "storage"])]
    fine_tuning: bool,
    /// A storage node datasets are fetched from and trained models uploaded to
    /// (repeat for several).
    #[arg(long)]
    storage: Vec<String>,
    /// Where fine-tuning tasks, adapters and sealed models live.
    #[arg(long, default_value = ".zg/fine-tuning")]
    fine_tuning_dir: PathBuf,
    /// Wei per training token (a task's fee is its dataset's tokens × epochs × this).
    #[arg(long, default_value_t = DEFAULT_PRICE_PER_TOKEN)]
    fine_tuning_price: u64,
    /// Seconds a delivered model waits for its user's acknowledgement before the
    /// provider settles the penalty share alone.
    #[arg(long, default_value_t = DEFAULT_ACK_TIMEOUT_SECS)]
    ack_timeout: u64,
}

fn main() -> std::process::ExitCode {
    zg_node::exit_on_error(run())
}

fn key(text: &str, flag: &str) -> anyhow::Result<PrivateKeySigner> {
    text.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{flag} is not a private key (0x and 64 hex digits)"))
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    zg_node::init_logging();
    let args = Args::parse();
    let provider_key = key(&args.key, "--key")?;
    let signer = match &args.signer_key {
        Some(k) => key(k, "--signer-key")?,
        None => provider_key.clone(),
    };
    let settle_every = settle_interval(args.settle_every)
        .ok_or_else(|| anyhow::anyhow!("--settle-every must be a positive number of seconds"))?;
    let fine_tuning = match (&args.model_file, args.fine_tuning) {
        (Some(model_file), true) => Some(FineTuningConfig {
            chain_url: args.chain.clone(),
            key: provider_key.clone(),
            signer: signer.clone(),
            public_url: args.public_url.clone().unwrap_or_default(),
            model_name: args.model.clone(),
            model_file: model_file.clone(),
            price_per_token: U256::from(args.fine_tuning_price),
            storage: args.storage.clone(),
            data_dir: args.fine_tuning_dir.clone(),
            ack_timeout: Duration::from_secs(args.ack_timeout),
            settle_every,
        }),
        _ => None,
    };
    let engine = match (&args.model_file, &args.upstream) {
        (Some(path), _) => {
            let model = LocalModel::load(path).with_context(|| "loading --model-file")?;
            Engine::Builtin(Builtin::new(model, &args.model))
        }
        (None, Some(url)) => Engine::Upstream(Upstream::new(url)),
        (None, None) => anyhow::bail!("give --model-file or --upstream"),
    };
    let server = ProviderServer::bind(
        ProviderConfig {
            chain_url: args.chain,
            key: provider_key,
            signer,
            public_url: args.public_url.unwrap_or_default(),
            model: args.model,
            input_price: U256::from(args.input_price),
            output_price: U256::from(args.output_price),
            data_dir: args.data_dir,
            max_tokens: args.max_tokens,
            settle_every,
            engine,
        },
        fine_tuning,
        args.listen,
    )
    .await?;
    // One parseable line on stdout: scripts and tests read the address from it.
    println!(
        "zg-compute listening on http://{} provider {} serving {}",
        server.local_addr()?,
        server.provider().address(),
        server.provider().config().public_url
    );
    server.serve(zg_node::shutdown_signal()).await
}
