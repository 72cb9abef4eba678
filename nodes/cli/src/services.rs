//! `zg services`: zg's service registry — every storage node, DA node, compute provider
//! and agent a chain lists, with its endpoint and prices; registering and retiring one.

use alloy_primitives::{B256, U256};
use clap::Subcommand;
use zg_contracts::registry::{IServiceRegistry as R, KINDS, REGISTRY_ADDRESS, ServiceParams};
use zg_node::registry::{Announced, active, announce, client, to_json};

use crate::compute::{AccountArgs, CHAIN};

#[derive(Subcommand, Debug)]
pub(crate) enum ServicesCmd {
    /// List the active services: id, kind, name, endpoint, price, owner.
    List {
        /// Only this kind: storage, da, inference, fine-tuning or agent.
        #[arg(long)]
        kind: Option<String>,
        /// Print JSON (one object per service) instead of a table.
        #[arg(long)]
        json: bool,
        /// The chain's JSON-RPC URL.
        #[arg(long, default_value = CHAIN)]
        chain: String,
    },
    /// Show one service by id, with its revisions.
    Show {
        /// The service's id (`zg services list` prints it).
        id: u64,
        /// The chain's JSON-RPC URL.
        #[arg(long, default_value = CHAIN)]
        chain: String,
    },
    /// Register a service under the key's account, or bring the account's service of
    /// that name up to date (each change is a revision).
    Register {
        #[command(flatten)]
        listing: Box<Listing>,
        #[command(flatten)]
        account: AccountArgs,
    },
    /// Retire one of the key's services: it leaves discovery; its record stays readable.
    Retire {
        /// The service's id.
        id: u64,
        #[command(flatten)]
        account: AccountArgs,
    },
}

/// What `zg services register` lists.
#[derive(clap::Args, Debug)]
pub(crate) struct Listing {
    /// storage, da, inference, fine-tuning or agent.
    #[arg(long)]
    kind: String,
    /// Unique among the account's services: a-z, 0-9, '.', '_', '-'.
    #[arg(long)]
    name: String,
    /// Where clients reach it: http(s)://host[:port][/path].
    #[arg(long, default_value = "")]
    endpoint: String,
    /// Its version (at most 32 bytes).
    #[arg(long, default_value = "")]
    version: String,
    /// What it offers (at most 1024 bytes).
    #[arg(long, default_value = "")]
    description: String,
    /// The model it serves, if any.
    #[arg(long, default_value = "")]
    model: String,
    /// What one unit of the prices buys: token, sector, blob, request…
    #[arg(long, default_value = "")]
    price_unit: String,
    /// Wei per unit (per prompt token for inference).
    #[arg(long, default_value_t = U256::ZERO)]
    input_price: U256,
    /// Wei per generated token.
    #[arg(long, default_value_t = U256::ZERO)]
    output_price: U256,
    /// An agent's manifest root in zg-storage (`zg agent deploy` sets it).
    #[arg(long, default_value_t = B256::ZERO)]
    root: B256,
}

/// A service's prices, for people.
pub(crate) fn price(p: &ServiceParams) -> String {
    let unit = if p.priceUnit.is_empty() {
        "use"
    } else {
        &p.priceUnit
    };
    match (p.inputPrice.is_zero(), p.outputPrice.is_zero()) {
        (true, true) => "free".into(),
        (_, true) => format!("{} wei/{unit}", p.inputPrice),
        _ => format!("{} in + {} out wei/{unit}", p.inputPrice, p.outputPrice),
    }
}

pub(crate) async fn run(cmd: ServicesCmd) -> anyhow::Result<()> {
    match cmd {
        ServicesCmd::List {
            kind,
            json: as_json,
            chain,
        } => {
            let kind = kind.unwrap_or_default();
            if !kind.is_empty() && !KINDS.contains(&kind.as_str()) {
                anyhow::bail!("no kind {kind:?}: use one of {}", KINDS.join(", "));
            }
            let services = active(&client(&chain, None)?, &kind).await?;
            if as_json {
                let all: Vec<_> = services.iter().map(to_json).collect();
                println!("{}", serde_json::to_string_pretty(&all)?);
                return Ok(());
            }
            if services.is_empty() {
                println!("no active services on {chain}");
                return Ok(());
            }
            println!(
                "{:>4}  {:<11}  {:<14}  {:<38}  {:<28}  OWNER",
                "ID", "KIND", "NAME", "ENDPOINT", "PRICE"
            );
            for r in &services {
                let p = &r.params;
                let endpoint = if p.endpoint.is_empty() {
                    format!("(manifest {})", short(p.root))
                } else {
                    p.endpoint.clone()
                };
                println!(
                    "{:>4}  {:<11}  {:<14}  {:<38}  {:<28}  {}",
                    r.id,
                    p.kind,
                    p.name,
                    endpoint,
                    price(p),
                    r.owner
                );
            }
        }
        ServicesCmd::Show { id, chain } => {
            let client = client(&chain, None)?;
            let id = U256::from(id);
            let r = client
                .view(REGISTRY_ADDRESS, "getService", R::getServiceCall { id })
                .await?;
            let p = &r.params;
            println!(
                "service {id}: {} {} {}{}",
                p.kind,
                p.name,
                p.version,
                if r.active { "" } else { " (retired)" }
            );
            println!("  owner        {}", r.owner);
            if !p.endpoint.is_empty() {
                println!("  endpoint     {}", p.endpoint);
            }
            if !p.model.is_empty() {
                println!("  model        {}", p.model);
            }
            println!("  price        {}", price(p));
            if !p.root.is_zero() {
                println!("  manifest     {}", p.root);
            }
            if !p.description.is_empty() {
                println!("  description  {}", p.description);
            }
            let revisions = client
                .view(
                    REGISTRY_ADDRESS,
                    "getRevisions",
                    R::getRevisionsCall {
                        id,
                        offset: U256::ZERO,
                        limit: U256::from(zg_contracts::registry::MAX_PAGE),
                    },
                )
                .await?;
            println!("  revisions    {}", revisions.total);
            for (i, rev) in revisions.revisions.iter().enumerate() {
                let root = if rev.root.is_zero() {
                    String::new()
                } else {
                    format!(" root {}", rev.root)
                };
                println!("    {i}  version {:?} at {}{root}", rev.version, rev.updatedAt);
            }
        }
        ServicesCmd::Register { listing, account } => {
            let client = client(&account.chain, Some(account.signer()?))?;
            let Listing {
                kind,
                name,
                endpoint,
                version,
                description,
                model,
                price_unit,
                input_price,
                output_price,
                root,
            } = *listing;
            let params = ServiceParams {
                kind,
                name,
                version,
                description,
                endpoint,
                model,
                priceUnit: price_unit,
                inputPrice: input_price,
                outputPrice: output_price,
                root,
            };
            match announce(&client, params).await? {
                Announced::Registered(id) => println!("registered service {id}"),
                Announced::Updated(id) => println!("updated service {id}"),
                Announced::Unchanged(id) => println!("service {id} already says that"),
            }
        }
        ServicesCmd::Retire { id, account } => {
            let client = client(&account.chain, Some(account.signer()?))?;
            let id = U256::from(id);
            client
                .transact(
                    REGISTRY_ADDRESS,
                    "retireService",
                    R::retireServiceCall { id },
                    U256::ZERO,
                )
                .await?;
            println!("retired service {id}");
        }
    }
    Ok(())
}

/// The first and last bytes of a root.
fn short(root: B256) -> String {
    let hex = root.to_string();
    format!("{}…{}", &hex[..10], &hex[hex.len() - 4..])
}
