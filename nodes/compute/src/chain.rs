//! What the provider asks of the chain: its service's registration, a user's
//! sub-account (balance, keys' generation and revocations, acknowledgement, nonce), and
//! settlement transactions, through InferenceServing's ABI over JSON-RPC.

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, Bytes, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent, SolInterface};
use zg_contracts::compute::{
    Account, IInferenceServing as I, INFERENCE_ADDRESS, SERVICE_STAKE, Service, ServiceParams,
    TEESettlementData,
};

/// Why a chain call failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The chain did not answer.
    #[error("the chain at {url} did not answer: {error}")]
    Unreachable {
        /// Its JSON-RPC URL.
        url: String,
        /// The transport's error.
        error: String,
    },
    /// The contract reverted.
    #[error("InferenceServing reverted {call}: {reason}")]
    Reverted {
        /// The call.
        call: &'static str,
        /// The decoded error, or the raw data.
        reason: String,
    },
    /// The answer did not decode.
    #[error("InferenceServing's answer to {0} does not decode")]
    Decode(&'static str),
}

/// A user's sub-account as the provider checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubAccount {
    /// The on-chain record.
    pub account: Account,
}

impl SubAccount {
    /// What the user can still spend: balance less pending refunds.
    pub fn spendable(&self) -> U256 {
        self.account.balance.saturating_sub(self.account.pendingRefund)
    }
}

/// A JSON-RPC client of InferenceServing, signing as the provider.
#[derive(Clone)]
pub struct ChainClient {
    url: String,
    provider: DynProvider,
    address: Address,
}

impl ChainClient {
    /// A client of the chain at `url` that sends transactions as `key`'s account.
    pub fn new(url: &str, key: PrivateKeySigner) -> Result<Self, ChainError> {
        let parsed = url.parse().map_err(|e| ChainError::Unreachable {
            url: url.into(),
            error: format!("not a URL: {e}"),
        })?;
        let address = key.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(key))
            .connect_http(parsed)
            .erased();
        Ok(Self {
            url: url.into(),
            provider,
            address,
        })
    }

    /// The provider's address (its wallet).
    pub fn address(&self) -> Address {
        self.address
    }

    fn unreachable(&self, error: impl std::fmt::Display) -> ChainError {
        ChainError::Unreachable {
            url: self.url.clone(),
            error: error.to_string(),
        }
    }

    /// The chain's id.
    pub async fn chain_id(&self) -> Result<u64, ChainError> {
        self.provider
            .get_chain_id()
            .await
            .map_err(|e| self.unreachable(e))
    }

    async fn view<C: SolCall>(&self, name: &'static str, call: C) -> Result<C::Return, ChainError> {
        let request = TransactionRequest::default()
            .with_from(self.address)
            .with_to(INFERENCE_ADDRESS)
            .with_input(call.abi_encode());
        match self.provider.call(request).await {
            Ok(output) => C::abi_decode_returns(&output).map_err(|_| ChainError::Decode(name)),
            Err(e) => match e.as_error_resp().and_then(|r| r.as_revert_data()) {
                Some(data) => Err(ChainError::Reverted {
                    call: name,
                    reason: revert_reason(&data),
                }),
                None => Err(self.unreachable(e)),
            },
        }
    }

    /// The provider's registered service, if any.
    pub async fn service(&self) -> Result<Option<Service>, ChainError> {
        let exists = self
            .view(
                "serviceExists",
                I::serviceExistsCall {
                    provider: self.address,
                },
            )
            .await?;
        if !exists {
            return Ok(None);
        }
        Ok(Some(
            self.view(
                "getService",
                I::getServiceCall {
                    provider: self.address,
                },
            )
            .await?,
        ))
    }

    /// `user`'s sub-account with this provider, if it has one.
    pub async fn account(&self, user: Address) -> Result<Option<SubAccount>, ChainError> {
        let exists = self
            .view(
                "accountExists",
                I::accountExistsCall {
                    user,
                    provider: self.address,
                },
            )
            .await?;
        if !exists {
            return Ok(None);
        }
        let account = self
            .view(
                "getAccount",
                I::getAccountCall {
                    user,
                    provider: self.address,
                },
            )
            .await?;
        Ok(Some(SubAccount { account }))
    }

    /// Registers the service (staking 0G's 100 0G the first time) or updates it.
    pub async fn register(&self, params: ServiceParams, first: bool) -> Result<(), ChainError> {
        let value = if first { SERVICE_STAKE } else { U256::ZERO };
        self.transact("addOrUpdateService", I::addOrUpdateServiceCall { params }, value)
            .await
            .map(|_| ())
    }

    /// Sends `items` to `settleFeesWithTEE` and returns each one's status from the
    /// contract's `TEESettlementResult` events.
    pub async fn settle(&self, items: Vec<TEESettlementData>) -> Result<Vec<u8>, ChainError> {
        let count = items.len();
        let logs = self
            .transact(
                "settleFeesWithTEE",
                I::settleFeesWithTEECall { settlements: items },
                U256::ZERO,
            )
            .await?;
        let statuses: Vec<u8> = logs
            .iter()
            .filter_map(|data| I::TEESettlementResult::decode_log_data(data).ok())
            .map(|e| e.status)
            .collect();
        if statuses.len() != count {
            return Err(ChainError::Decode("settleFeesWithTEE's events"));
        }
        Ok(statuses)
    }

    /// Sends a transaction to InferenceServing, waits for its receipt and returns the
    /// contract's logs; a revert is reported with its decoded reason.
    async fn transact(
        &self,
        name: &'static str,
        call: impl SolCall,
        value: U256,
    ) -> Result<Vec<alloy_primitives::LogData>, ChainError> {
        let request = TransactionRequest::default()
            .with_from(self.address)
            .with_to(INFERENCE_ADDRESS)
            .with_value(value)
            .with_input(Bytes::from(call.abi_encode()));
        // Estimating first names the revert (the transaction would only say it failed).
        if let Err(e) = self.provider.estimate_gas(request.clone()).await {
            return Err(match e.as_error_resp().and_then(|r| r.as_revert_data()) {
                Some(data) => ChainError::Reverted {
                    call: name,
                    reason: revert_reason(&data),
                },
                None => self.unreachable(e),
            });
        }
        let receipt = self
            .provider
            .send_transaction(request)
            .await
            .map_err(|e| self.unreachable(e))?
            .get_receipt()
            .await
            .map_err(|e| self.unreachable(e))?;
        if !receipt.status() {
            return Err(ChainError::Reverted {
                call: name,
                reason: format!("transaction {} failed", receipt.transaction_hash),
            });
        }
        Ok(receipt
            .inner
            .logs()
            .iter()
            .filter(|l| l.address() == INFERENCE_ADDRESS)
            .map(|l| l.data().clone())
            .collect())
    }
}

/// A revert's custom error by name when it is InferenceServing's, else its bytes.
fn revert_reason(data: &[u8]) -> String {
    match I::IInferenceServingErrors::abi_decode(data) {
        Ok(error) => format!("{error:?}"),
        Err(_) => format!("0x{}", hex::encode(data)),
    }
}
