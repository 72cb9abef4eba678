//! The provider's service, apart from its HTTP transport: it registers (or updates) its
//! service on chain, checks a request's API key against the user's sub-account,
//! admits it against what the sub-account can still pay, bills the engine's token
//! counts in the crash-safe books, and settles the books on chain in signed batches.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use serde_json::Value;
use zg_contracts::compute::{
    MAX_SETTLEMENTS, ServiceParams, SettlementStatus, TEESettlementData, settlement_digest,
};

use crate::api_key::{AccountKeys, ApiKey, ApiKeyError};
use crate::billing::{ABANDONED, Billing, BillingError, Served};
use crate::chain::{ChainClient, ChainError};
use crate::engine::{Engine, Usage};

/// How a provider runs.
#[derive(Clone)]
pub struct ProviderConfig {
    /// The chain's JSON-RPC URL.
    pub chain_url: String,
    /// The provider's wallet: it registers the service and receives the fees.
    pub key: PrivateKeySigner,
    /// The key that signs settlements (the service's `teeSignerAddress`).
    pub signer: PrivateKeySigner,
    /// The URL users reach the provider at (registered on chain; empty: the bound address).
    pub public_url: String,
    /// The model the service offers.
    pub model: String,
    /// Wei per prompt token.
    pub input_price: U256,
    /// Wei per generated token.
    pub output_price: U256,
    /// Where the books live.
    pub data_dir: PathBuf,
    /// Most tokens one answer may generate (a request asking more is capped).
    pub max_tokens: u64,
    /// How often the books are settled.
    pub settle_every: Duration,
    /// What answers.
    pub engine: Engine,
}

/// Why a request is refused: an HTTP status and an OpenAI-style error.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No valid API key (401).
    #[error(transparent)]
    Key(#[from] ApiKeyError),
    /// The user has no sub-account with this provider (401).
    #[error(
        "no account of {0} with this provider: transfer funds to it first (0G's SDK: ledger.transfer_fund)"
    )]
    NoAccount(Address),
    /// The sub-account cannot pay for the request (402).
    #[error(
        "insufficient_balance: the sub-account can spend {spendable} wei; {owed} wei is owed and this request may cost {estimate} wei"
    )]
    Balance {
        /// Balance less pending refunds.
        spendable: U256,
        /// Unsettled and reserved fees.
        owed: U256,
        /// The request's most cost.
        estimate: U256,
    },
    /// The request is not a chat completion this provider serves (400).
    #[error("{0}")]
    BadRequest(String),
    /// The chain could not be asked (503).
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl Refusal {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::Key(_) | Self::NoAccount(_) => 401,
            Self::Balance { .. } => 402,
            Self::BadRequest(_) => 400,
            Self::Chain(_) => 503,
        }
    }

    /// OpenAI's error `code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Key(_) | Self::NoAccount(_) => "invalid_api_key",
            Self::Balance { .. } => "insufficient_balance",
            Self::BadRequest(_) => "invalid_request_error",
            Self::Chain(_) => "chain_unavailable",
        }
    }
}

/// A request that passed its checks: who pays and what was reserved for it.
#[derive(Debug)]
pub struct Admitted {
    /// The user.
    pub user: Address,
    /// Wei reserved until the request ends.
    pub reserved: U256,
    /// The request to send to the engine (its `max_tokens` capped).
    pub request: Value,
}

/// What one settlement round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SettleReport {
    /// (user, status) per settlement sent.
    pub sent: Vec<(Address, u8)>,
}

/// A running provider's service.
pub struct Provider {
    config: ProviderConfig,
    chain: ChainClient,
    chain_id: u64,
    billing: Billing,
    engine: Engine,
}

/// Wei per prompt token a provider charges unless told otherwise.
pub const DEFAULT_INPUT_PRICE: u64 = 1_000_000_000;
/// Wei per generated token a provider charges unless told otherwise.
pub const DEFAULT_OUTPUT_PRICE: u64 = 2_000_000_000;
/// Most tokens one answer may generate unless told otherwise.
pub const DEFAULT_MAX_TOKENS: u64 = 1024;

/// The time between settlements from seconds; `None` for zero, negative, NaN or
/// infinite (and for intervals that round to zero, which a timer cannot tick at).
pub fn settle_interval(secs: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(secs).ok().filter(|d| !d.is_zero())
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Provider {
    /// Opens the books, registers (or updates) the service and resolves settlements a
    /// crash left unknown.
    pub async fn start(config: ProviderConfig) -> anyhow::Result<Arc<Self>> {
        use anyhow::Context as _;
        let billing = Billing::open(&config.data_dir)
            .with_context(|| format!("opening the books in {}", config.data_dir.display()))?;
        let chain = ChainClient::new(&config.chain_url, config.key.clone())?;
        let chain_id = chain.chain_id().await?;
        let provider = Arc::new(Self {
            engine: config.engine.clone(),
            config,
            chain,
            chain_id,
            billing,
        });
        provider.register().await?;
        provider.resolve_pending().await?;
        Ok(provider)
    }

    /// The provider's address.
    pub fn address(&self) -> Address {
        self.chain.address()
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The books.
    pub fn billing(&self) -> &Billing {
        &self.billing
    }

    async fn register(&self) -> anyhow::Result<()> {
        let c = &self.config;
        let params = ServiceParams {
            serviceType: "chatbot".into(),
            url: c.public_url.clone(),
            model: c.model.clone(),
            // No TEE backs zg's providers: the empty string says "not verifiable".
            verifiability: String::new(),
            inputPrice: c.input_price,
            outputPrice: c.output_price,
            additionalInfo: "{\"engine\":\"zg-compute\"}".into(),
            teeSignerAddress: c.signer.address(),
        };
        let current = self.chain.service(self.chain.address()).await?;
        let same = current.as_ref().is_some_and(|s| {
            s.url == params.url
                && s.model == params.model
                && s.inputPrice == params.inputPrice
                && s.outputPrice == params.outputPrice
                && s.teeSignerAddress == params.teeSignerAddress
        });
        if !same {
            self.chain.register(params, current.is_none()).await?;
            tracing::info!(url = %c.public_url, model = %c.model, "service registered on chain");
        }
        let listing = zg_contracts::registry::ServiceParams {
            kind: zg_contracts::registry::KIND_INFERENCE.into(),
            name: "zg-compute".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: format!(
                "OpenAI-compatible chat completions serving {}: 0G's provider API (app-sk keys, \
                 per-token billing settled on InferenceServing)",
                c.model
            ),
            endpoint: format!("{}/v1/proxy", c.public_url.trim_end_matches('/')),
            model: c.model.clone(),
            priceUnit: "token".into(),
            inputPrice: c.input_price,
            outputPrice: c.output_price,
            root: Default::default(),
        };
        let done = self.chain.announce(listing).await?;
        tracing::info!(id = %done.id(), outcome = ?done, "announced in the service registry");
        Ok(())
    }

    /// Settlements recorded as sent before a crash: applied if the sub-account's
    /// on-chain nonce reached theirs, else abandoned (their requests stay unsettled).
    async fn resolve_pending(&self) -> anyhow::Result<()> {
        for s in self.billing.pending() {
            let nonce = self
                .chain
                .account(s.user, self.chain.address())
                .await?
                .map(|a| a.account.nonce);
            let outcome = if nonce.is_some_and(|n| n >= s.nonce) {
                SettlementStatus::Success as u8
            } else {
                ABANDONED
            };
            tracing::info!(user = %s.user, nonce = %s.nonce, outcome, "resolved a settlement a restart left open");
            self.billing.finish(&s, outcome)?;
        }
        Ok(())
    }

    /// Checks the `Authorization` header and the user's sub-account; returns the user
    /// and the sub-account.
    pub async fn authorize(
        &self,
        header: Option<&str>,
    ) -> Result<(Address, crate::chain::SubAccount), Refusal> {
        let key = ApiKey::from_header(header)?;
        // The signature and the provider first: no chain call for a forged or foreign key.
        let claimed = key.message().address;
        let recovered = key.signer()?;
        if recovered != claimed {
            return Err(ApiKeyError::WrongSigner { claimed, recovered }.into());
        }
        if key.message().provider != self.address() {
            return Err(ApiKeyError::WrongProvider {
                expected: self.address(),
                got: key.message().provider,
            }
            .into());
        }
        let account = self
            .chain
            .account(claimed, self.chain.address())
            .await?
            .ok_or(Refusal::NoAccount(claimed))?;
        let keys = AccountKeys {
            generation: account.account.generation,
            revoked_bitmap: account.account.revokedBitmap,
            acknowledged: account.account.acknowledged,
        };
        let user = key.check(self.address(), now_ms(), &keys)?;
        Ok((user, account))
    }

    /// Admits `request` (an OpenAI chat completion body) for `user` if the sub-account
    /// can pay its most cost on top of what is owed, reserving that much.
    pub fn admit(
        &self,
        user: Address,
        account: &crate::chain::SubAccount,
        mut request: Value,
    ) -> Result<Admitted, Refusal> {
        let prompt_bytes = check_request(&request)?;
        let asked = ["max_completion_tokens", "max_tokens"]
            .iter()
            .find_map(|k| request.get(*k).and_then(Value::as_u64));
        let max_tokens = asked
            .unwrap_or(self.config.max_tokens)
            .min(self.config.max_tokens);
        request["max_tokens"] = Value::from(max_tokens);
        if let Some(obj) = request.as_object_mut() {
            obj.remove("max_completion_tokens");
        }
        // A token is at least one byte of the prompt, plus a few per message for roles.
        let estimate = U256::from(prompt_bytes) * self.config.input_price
            + U256::from(max_tokens) * self.config.output_price;
        let spendable = account.spendable();
        if !self.billing.reserve(user, estimate, spendable) {
            return Err(Refusal::Balance {
                spendable,
                owed: self.billing.owed(user),
                estimate,
            });
        }
        Ok(Admitted {
            user,
            reserved: estimate,
            request,
        })
    }

    /// The fee of `usage` at the service's prices.
    pub fn fee(&self, usage: Usage) -> U256 {
        U256::from(usage.prompt_tokens) * self.config.input_price
            + U256::from(usage.completion_tokens) * self.config.output_price
    }

    /// Bills a completed answer durably and releases its reservation.
    pub fn bill(&self, admitted: &Admitted, id: &str, usage: Usage) -> Result<Served, BillingError> {
        let fee = self.fee(usage);
        let served = self.billing.record(
            admitted.user,
            id.to_owned(),
            usage.prompt_tokens,
            usage.completion_tokens,
            fee,
            now_ms(),
        );
        self.billing.release(admitted.user, admitted.reserved);
        served
    }

    /// Releases an admitted request that was not answered (nothing is billed).
    pub fn abandon(&self, admitted: &Admitted) {
        self.billing.release(admitted.user, admitted.reserved);
    }

    /// Settles every user's unsettled requests: one signed item per user (nonce above
    /// the sub-account's), batches of at most 50, each recorded before it is sent and
    /// again with its status. A user whose item is refused keeps its requests for the
    /// next round.
    pub async fn settle_round(&self) -> anyhow::Result<SettleReport> {
        let mut report = SettleReport::default();
        let owing = self.billing.owing();
        for batch in owing.chunks(MAX_SETTLEMENTS) {
            let mut planned = Vec::new();
            let mut items = Vec::new();
            for (user, _) in batch {
                let Some(account) = self.chain.account(*user, self.chain.address()).await? else {
                    continue;
                };
                let Some(settlement) = self.billing.begin(*user, account.account.nonce + U256::from(1))?
                else {
                    continue;
                };
                let mut item = TEESettlementData {
                    user: *user,
                    provider: self.address(),
                    totalFee: settlement.fee,
                    requestsHash: settlement.requests_hash,
                    nonce: settlement.nonce,
                    signature: Default::default(),
                };
                let signature = self
                    .config
                    .signer
                    .sign_hash_sync(&settlement_digest(self.chain_id, &item))?;
                item.signature = signature.as_bytes().to_vec().into();
                items.push(item);
                planned.push(settlement);
            }
            if items.is_empty() {
                continue;
            }
            match self.chain.settle(items).await {
                Ok(statuses) => {
                    for (settlement, status) in planned.iter().zip(statuses) {
                        if status > SettlementStatus::Partial as u8 {
                            tracing::warn!(user = %settlement.user, status, "settlement refused; kept for the next round");
                        }
                        self.billing.finish(settlement, status)?;
                        report.sent.push((settlement.user, status));
                    }
                }
                Err(e) => {
                    // Whether it reached the chain is unknown: the next start (or round)
                    // resolves it against the on-chain nonce.
                    tracing::warn!(error = %e, "settlement transaction failed; retried");
                    self.resolve_pending().await?;
                }
            }
        }
        Ok(report)
    }
}

/// Checks a chat completion body's shape and returns a bound on its prompt's tokens.
fn check_request(request: &Value) -> Result<u64, Refusal> {
    let bad = |why: &str| Err(Refusal::BadRequest(why.to_owned()));
    let Some(messages) = request.get("messages").and_then(Value::as_array) else {
        return bad("the body must be a JSON object with a `messages` array");
    };
    if messages.is_empty() {
        return bad("`messages` is empty");
    }
    let mut bytes = 0u64;
    for message in messages {
        if message.get("role").and_then(Value::as_str).is_none() {
            return bad("every message needs a string `role`");
        }
        match message.get("content") {
            Some(Value::String(text)) => bytes += text.len() as u64,
            Some(Value::Array(parts)) => {
                for part in parts {
                    bytes += part
                        .get("text")
                        .and_then(Value::as_str)
                        .map_or(0, |t| t.len() as u64);
                }
            }
            Some(Value::Null) | None => {}
            Some(_) => return bad("a message's `content` must be a string or an array of parts"),
        }
        // Role and template tokens around each message.
        bytes += 16;
    }
    Ok(bytes + 16)
}
