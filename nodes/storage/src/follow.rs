//! Following a chain's Flow: the node polls the chain's JSON-RPC for `Submit` logs up
//! to the head less a confirmation depth and adds each paid submission to its flow
//! log, durably, before it accepts segments for it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use alloy_primitives::{B256, Bytes, U64};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolEvent;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde::Deserialize;
use zg_contracts::abi::{IFlow, IMarket};
use zg_contracts::{FLOW_ADDRESS, MARKET_ADDRESS};
use zg_merkle::keccak_tree::SubmissionNode;
use zg_node::chain::ChainClient;
use zg_node::registry::Announced;

use crate::flow::FlowEntry;
use crate::service::StorageService;

/// Most blocks one `eth_getLogs` spans (zg-chain and public nodes cap ranges).
const MAX_RANGE: u64 = 1000;

/// Which chain a node follows, and how closely.
#[derive(Clone, Debug)]
pub struct FollowConfig {
    /// The chain's Ethereum JSON-RPC URL.
    pub url: String,
    /// Blocks a `Submit` log must be under the head before the node acts on it (0G's
    /// nodes use 3; 0 suits a dev chain that makes blocks only for transactions).
    pub confirmations: u64,
    /// Time between polls once caught up.
    pub poll: Duration,
    /// How the node announces itself in zg's service registry; `None`: it follows
    /// without announcing.
    pub announce: Option<Announce>,
}

/// The account a node's registry record belongs to, and the URL it announces.
#[derive(Clone, Debug)]
pub struct Announce {
    /// Owns the record and pays the gas.
    pub key: PrivateKeySigner,
    /// The URL clients reach the node at; `None`: `http://` and the listen address.
    pub public_url: Option<String>,
}

/// Announces the node in zg's service registry: a storage node at its URL holding
/// `shard`, priced at the Flow's price per sector.
pub(crate) async fn announce(
    chain: &FollowConfig,
    announce: &Announce,
    listen: std::net::SocketAddr,
    shard: zg_file::shard::Shard,
) -> anyhow::Result<Announced> {
    use zg_contracts::registry::{KIND_STORAGE, ServiceParams, describe};
    let client = ChainClient::new(&chain.url, announce.key.clone(), describe)?;
    let price = client
        .view(MARKET_ADDRESS, "pricePerSector", IMarket::pricePerSectorCall {})
        .await?;
    let endpoint = announce
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{listen}"));
    let params = ServiceParams {
        kind: KIND_STORAGE.into(),
        name: "zg-storage".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        description: format!(
            "zg storage node holding shard {shard} of the Flow: 0G's zgs_* JSON-RPC at /, \
             PUT /files, GET /files/{{root}}; files paid on the Flow at the price per 256-byte sector"
        ),
        endpoint,
        priceUnit: "sector".into(),
        inputPrice: price,
        ..ServiceParams::default()
    };
    Ok(zg_node::registry::announce(&client, params).await?)
}

/// Why one poll of the chain failed (the follower logs it and tries again).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FollowError {
    /// The chain did not answer, or answered with an error.
    #[error("chain {url}: {error}")]
    Rpc {
        /// The chain's URL.
        url: String,
        /// What went wrong.
        error: jsonrpsee::core::ClientError,
    },
    /// A log that is not a well-formed `Submit` of the Flow.
    #[error("a Submit log in block {block} does not decode: {reason}")]
    BadLog {
        /// Its block.
        block: u64,
        /// What is wrong.
        reason: String,
    },
    /// The flow log refused the entries.
    #[error(transparent)]
    Flow(#[from] crate::flow::FlowError),
    /// The blocking writer could not run.
    #[error("the flow log writer stopped: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// One log as `eth_getLogs` returns it (the fields a follower reads).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RpcLog {
    topics: Vec<B256>,
    data: Bytes,
    block_number: U64,
    #[serde(default)]
    removed: bool,
}

/// Follows the chain until the task is dropped: logs what it cannot reach, never exits.
pub(crate) async fn follow(node: Arc<StorageService>, cfg: FollowConfig) {
    let client = match HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(30))
        .build(&cfg.url)
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(url = %cfg.url, error = %e, "bad chain URL: not following the Flow");
            return;
        }
    };
    let mut failing = false;
    loop {
        match poll(&node, &client, &cfg).await {
            Ok(caught_up) => {
                if failing {
                    tracing::info!(url = %cfg.url, "following the Flow again");
                    failing = false;
                }
                if caught_up {
                    tokio::time::sleep(cfg.poll).await;
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "cannot follow the Flow; retrying");
                    failing = true;
                }
                tokio::time::sleep(cfg.poll * 5).await;
            }
        }
    }
}

/// Reads the next range of confirmed blocks; `Ok(true)` once caught up with the head.
async fn poll(
    node: &Arc<StorageService>,
    client: &HttpClient,
    cfg: &FollowConfig,
) -> Result<bool, FollowError> {
    let rpc = |error| FollowError::Rpc {
        url: cfg.url.clone(),
        error,
    };
    if node.chain_id.load(Ordering::Relaxed) == 0 {
        let id: U64 = client.request("eth_chainId", rpc_params![]).await.map_err(rpc)?;
        node.chain_id.store(id.to(), Ordering::Relaxed);
    }
    let head: U64 = client
        .request("eth_blockNumber", rpc_params![])
        .await
        .map_err(rpc)?;
    let confirmed = head.to::<u64>().checked_sub(cfg.confirmations);
    let from = node.flow_log().next_block();
    let Some(confirmed) = confirmed.filter(|c| *c >= from) else {
        return Ok(true);
    };
    let to = confirmed.min(from + MAX_RANGE - 1);
    let filter = serde_json::json!({
        "fromBlock": format!("{from:#x}"),
        "toBlock": format!("{to:#x}"),
        "address": FLOW_ADDRESS,
        "topics": [IFlow::Submit::SIGNATURE_HASH],
    });
    let logs: Vec<RpcLog> = client
        .request("eth_getLogs", rpc_params![filter])
        .await
        .map_err(rpc)?;
    let mut entries = Vec::with_capacity(logs.len());
    for log in logs.into_iter().filter(|l| !l.removed) {
        entries.push(entry_of(&log)?);
    }
    let count = entries.len();
    let n = node.clone();
    tokio::task::spawn_blocking(move || {
        let mut flow = n.flow_log();
        flow.append(&n.store, entries, to + 1)
    })
    .await??;
    if count > 0 {
        tracing::info!(submissions = count, to_block = to, "followed the Flow");
    }
    Ok(to == confirmed)
}

/// The flow entry a `Submit` log records.
fn entry_of(log: &RpcLog) -> Result<FlowEntry, FollowError> {
    let block = log.block_number.to::<u64>();
    let bad = |reason: String| FollowError::BadLog { block, reason };
    let event = IFlow::Submit::decode_raw_log(log.topics.iter().copied(), &log.data)
        .map_err(|e| bad(e.to_string()))?;
    let small = |v: alloy_primitives::U256, what: &str| {
        u64::try_from(v).map_err(|_| bad(format!("{what} over 2^64")))
    };
    let nodes = event
        .submission
        .nodes
        .iter()
        .map(|n| {
            Ok(SubmissionNode {
                root: n.root.0,
                height: u32::try_from(n.height)
                    .ok()
                    .filter(|h| *h < 64)
                    .ok_or_else(|| bad(format!("node height {} over 63", n.height)))?,
            })
        })
        .collect::<Result<Vec<_>, FollowError>>()?;
    FlowEntry::new(
        small(event.submissionIndex, "submission index")?,
        small(event.submission.length, "length")?,
        small(event.startPos, "start position")?,
        nodes,
        block,
    )
    .ok_or_else(|| bad("no submission nodes, or more than four".into()))
}
