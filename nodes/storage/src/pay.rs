//! Paying for a file on the chain's Flow before its segments go up: what `zg upload
//! --root-kind keccak` does when the storage nodes follow a chain, as 0G's SDKs do.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::{StorageClient, client};
use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, Bytes, U256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent, SolValue};
use anyhow::{Context, anyhow, bail, ensure};
use zg_contracts::abi::{IFlow, IMarket, Submission, SubmissionNode};
use zg_merkle::keccak_tree::KeccakTree;
use zg_merkle::{FileTree, Hash, RootKind};

/// A paid submission.
#[derive(Debug)]
pub struct Paid {
    /// Its tx sequence number.
    pub seq: u64,
    /// Wei paid to the market.
    pub fee: U256,
}

/// Submits `tree`'s file to the Flow at `flow` on the chain at `chain_url`, paying
/// `Σ 2^height × pricePerSector` from `key`'s account, and waits until every node has
/// followed the `Submit` log.
pub async fn pay(
    chain_url: &str,
    key: &str,
    flow: Address,
    tree: &KeccakTree,
    storage: &[StorageClient],
) -> anyhow::Result<Paid> {
    let signer: PrivateKeySigner = key
        .trim()
        .parse()
        .map_err(|_| anyhow!("the key is not a private key (0x and 64 hex digits)"))?;
    let from = signer.address();
    let url = chain_url
        .parse()
        .with_context(|| format!("bad chain URL {chain_url:?}"))?;
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url);
    let call = |to: Address, data: Vec<u8>| TransactionRequest::default().with_to(to).with_input(data);
    let unreachable =
        |e| anyhow!("cannot reach the chain at {chain_url}: {e}\n  is it running? pass --chain URL");
    let market = provider
        .call(call(flow, IFlow::marketCall {}.abi_encode()))
        .await
        .map_err(unreachable)?;
    let market = Address::abi_decode(&market).context("the Flow's market() answer")?;
    let price = provider
        .call(call(market, IMarket::pricePerSectorCall {}.abi_encode()))
        .await
        .map_err(unreachable)?;
    let price = U256::abi_decode(&price).context("the market's pricePerSector() answer")?;
    let nodes: Vec<SubmissionNode> = tree
        .submission_nodes()
        .iter()
        .map(|n| SubmissionNode {
            root: n.root.into(),
            height: U256::from(n.height),
        })
        .collect();
    let sectors: u64 = tree.submission_nodes().iter().map(|n| 1u64 << n.height).sum();
    let fee = price * U256::from(sectors);
    let submission = Submission {
        length: U256::from(tree.file_len()),
        tags: Bytes::new(),
        nodes,
    };
    let receipt = provider
        .send_transaction(call(flow, IFlow::submit_0Call { submission }.abi_encode()).with_value(fee))
        .await
        .map_err(|e| anyhow!("submitting to the Flow from {from} (fee {fee} wei): {e}"))?
        .get_receipt()
        .await
        .context("waiting for the submission's receipt")?;
    ensure!(
        receipt.status(),
        "the Flow reverted the submission (tx {})",
        receipt.transaction_hash
    );
    let seq = receipt
        .inner
        .logs()
        .iter()
        .filter(|l| l.address() == flow)
        .find_map(|l| IFlow::Submit::decode_log_data(l.data()).ok())
        .map(|e| e.submissionIndex)
        .ok_or_else(|| anyhow!("the submission's receipt has no Submit log"))?;
    let seq = u64::try_from(seq).map_err(|_| anyhow!("tx seq over 2^64"))?;
    // Each node takes segments once it has followed the log.
    let started = Instant::now();
    for node in storage {
        while node.file_info_by_tx_seq(seq).await?.is_none() {
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "the storage node {} has not seen tx seq {seq} after 60 s; does it follow this chain (--chain)?",
                    node.url()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(Paid { seq, fee })
}

/// How an upload's file was paid for.
#[derive(Debug)]
pub enum Payment {
    /// The nodes follow no chain: nothing to pay.
    OffChain,
    /// Paid before (its tx seq): not paid again.
    AlreadyPaid(u64),
    /// Paid now.
    Paid(Paid),
}

/// Uploads `file` to every node in `nodes`; a Keccak file is paid for on the Flow the
/// nodes follow first (as `key`, once: a file already paid for is not paid again).
/// Returns its root and how it was paid for.
pub async fn upload_paid(
    nodes: &[StorageClient],
    file: &Path,
    root_kind: RootKind,
    chain: &str,
    key: Option<&str>,
) -> anyhow::Result<(Hash, Payment)> {
    let tree = client::hash_file(file, root_kind).await?;
    let payment = match &tree {
        FileTree::Keccak(keccak) => pay_if_needed(nodes, keccak, chain, key).await?,
        _ => Payment::OffChain,
    };
    for c in nodes {
        c.upload_tree(file, &tree).await?;
    }
    Ok((tree.root(), payment))
}

/// Pays for the Keccak file `tree` on the Flow the nodes follow (unless it is paid for
/// already or they follow no chain), then waits until every node has followed it.
async fn pay_if_needed(
    nodes: &[StorageClient],
    tree: &KeccakTree,
    chain: &str,
    key: Option<&str>,
) -> anyhow::Result<Payment> {
    let Some(client) = nodes.first() else {
        bail!("no storage node given: pass --node URL");
    };
    let Some(identity) = client.status().await?.network_identity else {
        return Ok(Payment::OffChain);
    };
    if let Some(tx) = client.file_info(&tree.root()).await?.and_then(|i| i.tx) {
        return Ok(Payment::AlreadyPaid(tx.seq));
    }
    let key = key.ok_or_else(|| {
        anyhow!(
            "the node follows chain {} and takes a Keccak file only once it is paid for on the Flow: \
             pass --key 0x… (or set ZG_KEY) with an account that can pay; `zg devnet` prints dev keys",
            identity.chain_id,
        )
    })?;
    let flow = identity
        .flow_address
        .parse()
        .with_context(|| format!("the node's Flow address {:?}", identity.flow_address))?;
    Ok(Payment::Paid(pay(chain, key, flow, tree, nodes).await?))
}
