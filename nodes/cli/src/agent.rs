//! `zg agent`: agents whose manifests live in zg-storage (paid for on the Flow) and
//! whose records live in the service registry; `run` fetches a manifest by its
//! registered root, refuses bytes that do not verify against it, and asks the agent's
//! provider with the caller's ledger, streaming the answer.

use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256, U256};
use anyhow::Context as _;
use clap::Subcommand;
use zg_compute::agent::{MAX_FILE, Manifest};
use zg_contracts::registry::{
    IServiceRegistry as R, KIND_AGENT, REGISTRY_ADDRESS, ServiceParams, ServiceRecord,
};
use zg_merkle::RootKind;
use zg_node::chain::ChainClient;
use zg_node::registry::{Announced, active, announce, client};
use zg_storage::api::Root;
use zg_storage::client::{self, FileId};

use crate::compute::AccountArgs;

/// The devnet's first storage node.
const NODE: &str = "http://127.0.0.1:5678";

#[derive(Subcommand, Debug)]
pub(crate) enum AgentCmd {
    /// Upload a manifest (JSON: name, version, provider, system, parameters, files) to
    /// zg-storage, paying for it on the Flow, and point the account's agent of that name
    /// at it: a first deploy registers the agent, a redeploy adds a revision (the old
    /// manifest stays readable by its root).
    Deploy {
        /// The manifest.
        manifest: PathBuf,
        /// Storage node URL (repeat it with each shard's node).
        #[arg(long = "node", default_value = NODE)]
        nodes: Vec<String>,
        #[command(flatten)]
        account: AccountArgs,
    },
    /// List the agents on chain: name, version, owner, manifest root.
    List {
        /// The chain's JSON-RPC URL.
        #[arg(long, default_value = crate::compute::CHAIN)]
        chain: String,
    },
    /// Run an agent on a prompt: its manifest fetched and verified by root, the answer
    /// streamed from its provider and paid from the caller's sub-account there.
    Run {
        /// The agent's name.
        name: String,
        /// What to ask it.
        prompt: String,
        /// Whose agent, when several owners have one of that name.
        #[arg(long)]
        owner: Option<Address>,
        /// Run this earlier version (a revision on record) instead of the newest.
        #[arg(long = "version")]
        at_version: Option<String>,
        /// Storage node URL (repeat it with each shard's node).
        #[arg(long = "node", default_value = NODE)]
        nodes: Vec<String>,
        #[command(flatten)]
        account: AccountArgs,
    },
}

/// Downloads `root` from `nodes` (every segment checked against it, then the whole
/// file) and returns its bytes, refusing more than `max`.
async fn fetch(nodes: &[String], root: B256, max: u64) -> anyhow::Result<Vec<u8>> {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("file");
    let (_, len) = client::download_from(&crate::clients(nodes)?, FileId::Root(root.0), &out).await?;
    if len > max {
        anyhow::bail!("{} is {len} bytes; at most {max} are read", Root::from(root.0));
    }
    Ok(std::fs::read(&out)?)
}

/// The active agent called `name` (of `owner`, when given).
async fn find(chain: &ChainClient, name: &str, owner: Option<Address>) -> anyhow::Result<ServiceRecord> {
    let mut found: Vec<ServiceRecord> = active(chain, KIND_AGENT)
        .await?
        .into_iter()
        .filter(|r| r.params.name == name && owner.is_none_or(|o| o == r.owner))
        .collect();
    match found.len() {
        0 => anyhow::bail!(
            "no agent named {name:?} on {} (`zg agent list` shows them)",
            chain.url()
        ),
        1 => Ok(found.remove(0)),
        _ => {
            let owners: Vec<String> = found.iter().map(|r| r.owner.to_string()).collect();
            anyhow::bail!(
                "{} owners have an agent named {name:?}: pass --owner (one of {})",
                owners.len(),
                owners.join(", ")
            )
        }
    }
}

fn read_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Manifest::parse(&bytes).with_context(|| format!("{} is refused", path.display()))
}

pub(crate) async fn run(cmd: AgentCmd) -> anyhow::Result<()> {
    match cmd {
        AgentCmd::Deploy {
            manifest: path,
            nodes,
            account,
        } => {
            let manifest = read_manifest(&path)?;
            let signer = account.signer()?;
            let chain = client(&account.chain, Some(signer.clone()))?;
            let compute = zg_compute::chain::ChainClient::new(&account.chain, signer)?;
            let service = compute.service(manifest.provider).await?.ok_or_else(|| {
                anyhow::anyhow!(
                    "{} offers no inference service on this chain: name a provider `zg compute services` lists",
                    manifest.provider
                )
            })?;
            if !manifest.model.is_empty() && manifest.model != service.model {
                anyhow::bail!(
                    "the manifest expects model {:?}; {} serves {:?}",
                    manifest.model,
                    manifest.provider,
                    service.model
                );
            }
            let storage = crate::clients(&nodes)?;
            let first = storage
                .first()
                .context("no storage node given: pass --node URL")?;
            for file in &manifest.files {
                let info = first.file_info(&file.root.0).await?.ok_or_else(|| {
                    anyhow::anyhow!(
                        "the manifest's file {} ({}) is not on {}: upload it first (zg upload FILE --root-kind keccak)",
                        file.name,
                        file.root,
                        first.url()
                    )
                })?;
                if info.file_size > MAX_FILE {
                    anyhow::bail!(
                        "the manifest's file {} is {} bytes; at most {MAX_FILE} are read",
                        file.name,
                        info.file_size
                    );
                }
            }
            let key = Some(account.signer()?.to_bytes().to_string());
            let root = crate::upload_file(&nodes, &path, RootKind::Keccak, &account.chain, key).await?;
            let params = ServiceParams {
                kind: KIND_AGENT.into(),
                name: manifest.name.clone(),
                version: manifest.version.clone(),
                description: manifest.description.clone(),
                endpoint: String::new(),
                model: service.model,
                priceUnit: "token".into(),
                inputPrice: service.inputPrice,
                outputPrice: service.outputPrice,
                root: B256::from(root),
            };
            let (verb, id) = match announce(&chain, params).await? {
                Announced::Registered(id) => ("deployed", id),
                Announced::Updated(id) => ("redeployed", id),
                Announced::Unchanged(id) => ("already deployed", id),
            };
            println!(
                "{verb} agent {} version {} as service {id}, manifest {}",
                manifest.name,
                manifest.version,
                Root::from(root)
            );
        }
        AgentCmd::List { chain } => {
            let agents = active(&client(&chain, None)?, KIND_AGENT).await?;
            if agents.is_empty() {
                println!("no agents on {chain}");
            }
            for r in agents {
                let p = &r.params;
                let plural = if r.revisions == U256::from(1) { "" } else { "s" };
                println!(
                    "{}  {} (service {}, {} revision{plural})",
                    p.name, p.version, r.id, r.revisions
                );
                println!("  owner     {}", r.owner);
                println!("  model     {}  at {}", p.model, crate::services::price(p));
                println!("  manifest  {}", p.root);
                if !p.description.is_empty() {
                    println!("  {}", p.description);
                }
            }
        }
        AgentCmd::Run {
            name,
            prompt,
            owner,
            at_version,
            nodes,
            account,
        } => {
            let chain = client(&account.chain, None)?;
            let record = find(&chain, &name, owner).await?;
            let (version, root) = match at_version {
                None => (record.params.version.clone(), record.params.root),
                Some(v) => {
                    let revisions = chain
                        .view(
                            REGISTRY_ADDRESS,
                            "getRevisions",
                            R::getRevisionsCall {
                                id: record.id,
                                offset: U256::ZERO,
                                limit: U256::from(zg_contracts::registry::MAX_PAGE),
                            },
                        )
                        .await?;
                    let found = revisions.revisions.into_iter().rev().find(|r| r.version == v);
                    let r = found
                        .ok_or_else(|| anyhow::anyhow!("agent {name} has no version {v:?} on record"))?;
                    (r.version, r.root)
                }
            };
            let bytes = fetch(&nodes, root, zg_compute::agent::MAX_MANIFEST as u64)
                .await
                .with_context(|| {
                    format!(
                        "refusing agent {name}: its manifest's bytes do not verify against the registered root {root}"
                    )
                })?;
            let manifest = Manifest::parse(&bytes)
                .with_context(|| format!("refusing agent {name}: the manifest at {root} is not valid"))?;
            if manifest.name != name || manifest.version != version {
                anyhow::bail!(
                    "refusing agent {name}: the manifest at {root} is {} version {}, not {name} version {version}",
                    manifest.name,
                    manifest.version
                );
            }
            let mut files = Vec::new();
            for file in &manifest.files {
                let bytes = fetch(&nodes, file.root, MAX_FILE)
                    .await
                    .with_context(|| format!("agent {name}'s file {} ({})", file.name, file.root))?;
                files.push(
                    String::from_utf8(bytes).map_err(|_| {
                        anyhow::anyhow!("agent {name}'s file {} is not UTF-8 text", file.name)
                    })?,
                );
            }
            eprintln!(
                "agent {name} {version} (manifest {root}) on {}",
                manifest.provider
            );
            if !manifest.model.is_empty() {
                let compute = zg_compute::chain::ChainClient::new(&account.chain, account.signer()?)?;
                let serves = compute.service(manifest.provider).await?.map(|s| s.model);
                if serves.as_deref() != Some(manifest.model.as_str()) {
                    anyhow::bail!(
                        "agent {name} expects model {:?}; its provider {} serves {}",
                        manifest.model,
                        manifest.provider,
                        serves.map_or("nothing".to_owned(), |m| format!("{m:?}"))
                    );
                }
            }
            let request = manifest.request("", &files, &prompt);
            crate::compute::ask(&account, manifest.provider, request).await?;
        }
    }
    Ok(())
}
