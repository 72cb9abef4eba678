//! `zg compute`: the user's side of the compute network — the services on offer, the
//! ledger that pays them, API keys, and a streamed chat with a provider.

use std::io::Write as _;

use alloy_primitives::utils::{format_ether, parse_ether};
use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use anyhow::Context as _;
use clap::Subcommand;
use zg_compute::chain::ChainClient;
use zg_compute::{ApiKey, KeyMessage};

/// Where the key comes from when `--key` is not given.
const KEY_ENV: &str = "ZG_KEY";
/// The default chain: the devnet's.
pub(crate) const CHAIN: &str = "http://127.0.0.1:8545";
/// How long `ask`'s session key lives.
const SESSION_MS: u64 = 60 * 60 * 1000;

#[derive(Subcommand, Debug)]
pub(crate) enum ComputeCmd {
    /// List the inference services on chain: provider, model, prices, endpoint.
    Services {
        /// The chain's JSON-RPC URL.
        #[arg(long, default_value = CHAIN)]
        chain: String,
    },
    /// Show the main account and its sub-accounts, or change it.
    Ledger {
        #[command(subcommand)]
        cmd: Option<LedgerCmd>,
        #[command(flatten)]
        account: AccountArgs,
    },
    /// Move AMOUNT 0G from the main account to PROVIDER's sub-account (opening it, and
    /// acknowledging the provider's signer, the first time).
    Transfer {
        /// The provider's address.
        provider: Address,
        /// 0G, e.g. 1 or 0.5.
        amount: String,
        #[command(flatten)]
        account: AccountArgs,
    },
    /// Make an API key (`app-sk-…`) for PROVIDER that any OpenAI client can send.
    ApiKey {
        /// The provider's address.
        provider: Address,
        /// 0–254: revocable alone with `revokeToken`.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=254))]
        token_id: u8,
        /// Seconds it stays valid (0: until revoked).
        #[arg(long, default_value_t = 0)]
        expires_in: u64,
        #[command(flatten)]
        account: AccountArgs,
    },
    /// Fine-tuning: submit a task on a dataset, follow it, download, acknowledge and
    /// open the trained adapter.
    Finetune {
        #[command(subcommand)]
        cmd: crate::finetune::FinetuneCmd,
        #[command(flatten)]
        account: AccountArgs,
    },
    /// Ask PROVIDER's model and stream the answer; prints the tokens and the fee.
    Ask {
        /// The provider's address.
        provider: Address,
        /// What to ask.
        prompt: String,
        /// A system prompt.
        #[arg(long)]
        system: Option<String>,
        /// Most tokens to generate.
        #[arg(long, default_value_t = 256)]
        max_tokens: u64,
        /// Sampling temperature (0: greedy).
        #[arg(long)]
        temperature: Option<f64>,
        /// The model to ask: the provider's by default, or one of your fine-tuned
        /// models (`zg compute finetune status` names it).
        #[arg(long)]
        model: Option<String>,
        #[command(flatten)]
        account: AccountArgs,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum LedgerCmd {
    /// Open the main account with AMOUNT 0G (at least 3).
    Add {
        /// 0G, e.g. 3 or 3.5.
        amount: String,
    },
    /// Add AMOUNT 0G to the main account.
    Deposit {
        /// 0G.
        amount: String,
    },
    /// Take AMOUNT 0G of the main account's available balance back to the wallet.
    Refund {
        /// 0G.
        amount: String,
    },
    /// Ask every sub-account's balance back to the main account (paid after the lock time).
    Retrieve,
}

/// The chain and the account that signs.
#[derive(clap::Args, Debug)]
pub(crate) struct AccountArgs {
    /// The chain's JSON-RPC URL.
    #[arg(long, default_value = CHAIN, global = true)]
    pub(crate) chain: String,
    /// The account's private key (0x + 64 hex digits); or set ZG_KEY. `zg devnet` prints dev keys.
    #[arg(long, global = true)]
    key: Option<String>,
}

impl AccountArgs {
    pub(crate) fn signer(&self) -> anyhow::Result<PrivateKeySigner> {
        let key = self
            .key
            .clone()
            .or_else(|| std::env::var(KEY_ENV).ok())
            .ok_or_else(|| {
                anyhow::anyhow!("pass --key 0x… (or set {KEY_ENV}); `zg devnet` prints dev keys")
            })?;
        key.trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("the key is not a private key (0x and 64 hex digits)"))
    }

    fn client(&self) -> anyhow::Result<(ChainClient, PrivateKeySigner)> {
        let signer = self.signer()?;
        Ok((ChainClient::new(&self.chain, signer.clone())?, signer))
    }
}

/// 0G (decimal) to wei, refusing more than 18 decimals or a negative amount.
pub(crate) fn og(amount: &str) -> anyhow::Result<U256> {
    parse_ether(amount).map_err(|_| anyhow::anyhow!("{amount:?} is not an amount of 0G (e.g. 1 or 0.5)"))
}

/// A service's signer and whether the contracts' owner vouched for it.
pub(crate) fn signer_line(signer: Address, acknowledged: bool) -> String {
    let by_owner = if acknowledged {
        "acknowledged"
    } else {
        "not acknowledged"
    };
    format!("  signer    {signer} ({by_owner} by the owner)")
}

/// Wei as 0G, for people.
pub(crate) fn show(wei: U256) -> String {
    let text = format_ether(wei);
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    format!("{trimmed} 0G")
}

pub(crate) async fn run(cmd: ComputeCmd) -> anyhow::Result<()> {
    match cmd {
        ComputeCmd::Services { chain } => {
            // Reading needs no key: any address signs nothing.
            let client = ChainClient::new(&chain, PrivateKeySigner::random())?;
            let services = client.services().await?;
            if services.is_empty() {
                println!("no inference services on {chain}");
            }
            for s in services {
                println!("{}  {}", s.provider, s.model);
                println!("  endpoint  {}/v1/proxy", s.url.trim_end_matches('/'));
                println!(
                    "  price     {} wei per prompt token, {} wei per generated token",
                    s.inputPrice, s.outputPrice
                );
                println!("{}", signer_line(s.teeSignerAddress, s.teeSignerAcknowledged));
            }
        }
        ComputeCmd::Ledger { cmd, account } => {
            let (client, _) = account.client()?;
            match cmd {
                None => {}
                Some(LedgerCmd::Add { amount }) => client.add_ledger(og(&amount)?).await?,
                Some(LedgerCmd::Deposit { amount }) => client.deposit(og(&amount)?).await?,
                Some(LedgerCmd::Refund { amount }) => client.refund(og(&amount)?).await?,
                Some(LedgerCmd::Retrieve) => {
                    let providers = sub_accounts(&client).await?.into_iter().map(|(p, _)| p).collect();
                    client.retrieve(providers).await?;
                }
            }
            let Some(ledger) = client.ledger().await? else {
                println!(
                    "{} has no ledger: `zg compute ledger add 3` opens one",
                    client.address()
                );
                return Ok(());
            };
            println!("ledger of {}", client.address());
            println!("  available  {}", show(ledger.availableBalance));
            println!("  total      {}", show(ledger.totalBalance));
            for (provider, a) in sub_accounts(&client).await? {
                println!(
                    "  provider {provider}  balance {}  pending refund {}{}",
                    show(a.balance),
                    show(a.pendingRefund),
                    if a.acknowledged {
                        ""
                    } else {
                        "  (signer not acknowledged)"
                    }
                );
            }
        }
        ComputeCmd::Transfer {
            provider,
            amount,
            account,
        } => {
            let (client, _) = account.client()?;
            client
                .service(provider)
                .await?
                .ok_or_else(|| no_service(provider))?;
            client.transfer(provider, og(&amount)?).await?;
            let sub = client
                .account(client.address(), provider)
                .await?
                .context("the sub-account is missing after the transfer")?;
            if !sub.account.acknowledged {
                client.acknowledge(provider).await?;
                eprintln!("acknowledged {provider}'s signer");
            }
            println!("sub-account with {provider}: {}", show(sub.account.balance));
        }
        ComputeCmd::ApiKey {
            provider,
            token_id,
            expires_in,
            account,
        } => {
            let (client, signer) = account.client()?;
            let generation = generation(&client, provider).await?;
            let expires_at = match expires_in {
                0 => 0,
                s => zg_compute::service::now_ms().saturating_add(s.saturating_mul(1000)),
            };
            let message = KeyMessage::new(client.address(), provider, generation, token_id, expires_at);
            println!("{}", ApiKey::sign(&signer, &message)?);
        }
        ComputeCmd::Finetune { cmd, account } => crate::finetune::run(cmd, account).await?,
        ComputeCmd::Ask {
            provider,
            prompt,
            system,
            max_tokens,
            temperature,
            model,
            account,
        } => {
            let mut messages = Vec::new();
            if let Some(system) = system {
                messages.push(serde_json::json!({"role": "system", "content": system}));
            }
            messages.push(serde_json::json!({"role": "user", "content": prompt}));
            let mut request = serde_json::json!({"messages": messages, "max_tokens": max_tokens});
            if let Some(t) = temperature {
                request["temperature"] = t.into();
            }
            if let Some(m) = model {
                request["model"] = m.into();
            }
            ask(&account, provider, request).await?;
        }
    }
    Ok(())
}

/// Sends `request` (a chat request; its model the provider's unless it names one) to `provider` with a
/// session key of `account`'s, streams the answer to stdout and the fee to stderr.
pub(crate) async fn ask(
    account: &AccountArgs,
    provider: Address,
    mut request: serde_json::Value,
) -> anyhow::Result<()> {
    let (client, signer) = account.client()?;
    let service = client
        .service(provider)
        .await?
        .ok_or_else(|| no_service(provider))?;
    let generation = generation(&client, provider).await?;
    let key = ApiKey::session(&signer, provider, generation, SESSION_MS)?;
    if request["model"].as_str().is_none_or(str::is_empty) {
        request["model"] = service.model.clone().into();
    }
    let mut out = std::io::stdout().lock();
    let answer = zg_compute::client::ask(&reqwest::Client::new(), &service.url, &key, request, |text| {
        // A closed stdout (a pipe's reader gone) ends nothing here: the answer is billed anyway.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    })
    .await?;
    let _ = writeln!(out);
    if let Some(u) = answer.usage {
        let fee = U256::from(u.prompt_tokens) * service.inputPrice
            + U256::from(u.completion_tokens) * service.outputPrice;
        eprintln!(
            "{} prompt + {} generated tokens ({}): {fee} wei",
            u.prompt_tokens,
            u.completion_tokens,
            answer.finish_reason.as_deref().unwrap_or("unfinished"),
        );
    }
    Ok(())
}

fn no_service(provider: Address) -> anyhow::Error {
    anyhow::anyhow!("{provider} offers no inference service on this chain (`zg compute services` lists them)")
}

/// The account's key generation with `provider`; an account must exist and have
/// acknowledged the signer for any key to work.
async fn generation(client: &ChainClient, provider: Address) -> anyhow::Result<u64> {
    let sub = client.account(client.address(), provider).await?.ok_or_else(|| {
        anyhow::anyhow!("no sub-account with {provider}: `zg compute transfer {provider} 1` opens one")
    })?;
    if !sub.account.acknowledged {
        anyhow::bail!(
            "the sub-account has not acknowledged {provider}'s signer: `zg compute transfer {provider} AMOUNT` does"
        );
    }
    u64::try_from(sub.account.generation).context("the account's key generation is past u64")
}

/// The providers this account has an inference sub-account with, and each account.
async fn sub_accounts(
    client: &ChainClient,
) -> anyhow::Result<Vec<(Address, zg_contracts::compute::Account)>> {
    let mut out = Vec::new();
    for provider in client.ledger_providers().await? {
        if let Some(sub) = client.account(client.address(), provider).await? {
            out.push((provider, sub.account));
        }
    }
    Ok(out)
}
