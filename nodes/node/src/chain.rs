//! A node's JSON-RPC client of the chain's contracts: views, and transactions sent as
//! the node's account and waited for, with reverts reported by their decoded reason.

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, Bytes, LogData, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::{BlockNumberOrTag, Filter, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{Revert, SolCall, SolError};

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
    #[error("{call} reverted: {reason}")]
    Reverted {
        /// The call.
        call: &'static str,
        /// The decoded reason, or the raw data.
        reason: String,
    },
    /// The answer did not decode.
    #[error("the answer to {0} does not decode")]
    Decode(&'static str),
}

/// What a mined transaction left: its block and the logs of the contract it called.
#[derive(Clone, Debug)]
pub struct Mined {
    /// The block that holds it.
    pub block: u64,
    /// The called contract's logs, in order.
    pub logs: Vec<LogData>,
}

/// Names a revert's data when it is a custom error of the caller's contracts.
pub type RevertDecoder = fn(&[u8]) -> Option<String>;

/// A client of the chain at one URL, sending as one account.
#[derive(Clone)]
pub struct ChainClient {
    url: String,
    provider: DynProvider,
    nonces: AccountNonces,
    address: Address,
    decode: RevertDecoder,
}

/// Nonces for an account that other clients may also send from (a node's other
/// service with the same key, a payment made through another client): the next is the
/// chain's pending count or one past the last this client used, whichever is higher.
/// Alloy's cached nonces count only their own client's transactions, and its simple
/// ones give concurrent sends the same nonce.
#[derive(Clone, Debug, Default)]
pub struct AccountNonces {
    last: std::sync::Arc<tokio::sync::Mutex<std::collections::HashMap<Address, u64>>>,
}

#[async_trait::async_trait]
impl alloy_provider::fillers::NonceManager for AccountNonces {
    async fn get_next_nonce<P, N>(
        &self,
        provider: &P,
        address: Address,
    ) -> alloy_provider::transport::TransportResult<u64>
    where
        P: Provider<N>,
        N: alloy_network::Network,
    {
        let mut last = self.last.lock().await;
        let pending = provider.get_transaction_count(address).pending().await?;
        let next = match last.get(&address) {
            Some(used) => pending.max(used + 1),
            None => pending,
        };
        last.insert(address, next);
        Ok(next)
    }
}

impl AccountNonces {
    /// Forgets the nonce last used by `address` (its transaction was not taken), so the
    /// next one is the chain's count again rather than a gap.
    async fn forget(&self, address: Address) {
        self.last.lock().await.remove(&address);
    }
}

impl ChainClient {
    /// A client of the chain at `url` that sends as `key`'s account; `decode` names
    /// custom errors (Solidity's `Error(string)` is read without it).
    pub fn new(url: &str, key: PrivateKeySigner, decode: RevertDecoder) -> Result<Self, ChainError> {
        let parsed = url.parse().map_err(|e| ChainError::Unreachable {
            url: url.into(),
            error: format!("not a URL: {e}"),
        })?;
        let address = key.address();
        let nonces = AccountNonces::default();
        // Alloy's recommended fillers, but nonces that see transactions other clients
        // sent from the same account.
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_nonce_management(nonces.clone())
            .fetch_chain_id()
            .wallet(EthereumWallet::from(key))
            .connect_http(parsed)
            .erased();
        Ok(Self {
            url: url.into(),
            provider,
            nonces,
            address,
            decode,
        })
    }

    /// The same client, naming custom errors with `decode` instead.
    pub fn with_decoder(&self, decode: RevertDecoder) -> Self {
        Self {
            decode,
            ..self.clone()
        }
    }

    /// The account it sends as.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The chain's JSON-RPC URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// An error for a transport failure.
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

    /// The balance of `address`, wei.
    pub async fn balance(&self, address: Address) -> Result<U256, ChainError> {
        self.provider
            .get_balance(address)
            .await
            .map_err(|e| self.unreachable(e))
    }

    /// The newest block the chain calls final.
    pub async fn finalized_block(&self) -> Result<u64, ChainError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Finalized)
            .await
            .map_err(|e| self.unreachable(e))?;
        block
            .map(|b| b.header.number)
            .ok_or(ChainError::Decode("the finalized block"))
    }

    /// The logs `address` emitted in blocks `from..=to`.
    pub async fn logs(&self, address: Address, from: u64, to: u64) -> Result<Vec<LogData>, ChainError> {
        let filter = Filter::new().address(address).from_block(from).to_block(to);
        let logs = self
            .provider
            .get_logs(&filter)
            .await
            .map_err(|e| self.unreachable(e))?;
        Ok(logs.into_iter().map(|l| l.inner.data).collect())
    }

    fn reverted(&self, call: &'static str, data: &[u8]) -> ChainError {
        let reason = match Revert::abi_decode(data) {
            Ok(r) => r.reason,
            Err(_) => {
                (self.decode)(data).unwrap_or_else(|| format!("0x{}", alloy_primitives::hex::encode(data)))
            }
        };
        ChainError::Reverted { call, reason }
    }

    /// Calls a view of the contract at `to`.
    pub async fn view<C: SolCall>(
        &self,
        to: Address,
        name: &'static str,
        call: C,
    ) -> Result<C::Return, ChainError> {
        let request = TransactionRequest::default()
            .with_from(self.address)
            .with_to(to)
            .with_input(call.abi_encode());
        match self.provider.call(request).await {
            Ok(output) => C::abi_decode_returns(&output).map_err(|_| ChainError::Decode(name)),
            Err(e) => match e.as_error_resp().and_then(|r| r.as_revert_data()) {
                Some(data) => Err(self.reverted(name, &data)),
                None => Err(self.unreachable(e)),
            },
        }
    }

    /// Sends `call` to the contract at `to` with `value` wei and waits for its receipt;
    /// a revert is reported with its decoded reason (estimated first: a mined failure
    /// would not say why).
    pub async fn transact(
        &self,
        to: Address,
        name: &'static str,
        call: impl SolCall,
        value: U256,
    ) -> Result<Mined, ChainError> {
        let request = TransactionRequest::default()
            .with_from(self.address)
            .with_to(to)
            .with_value(value)
            .with_input(Bytes::from(call.abi_encode()));
        if let Err(e) = self.provider.estimate_gas(request.clone()).await {
            return Err(match e.as_error_resp().and_then(|r| r.as_revert_data()) {
                Some(data) => self.reverted(name, &data),
                None => self.unreachable(e),
            });
        }
        let pending = match self.provider.send_transaction(request).await {
            Ok(pending) => pending,
            Err(e) => {
                self.nonces.forget(self.address).await;
                return Err(self.unreachable(e));
            }
        };
        let receipt = pending.get_receipt().await.map_err(|e| self.unreachable(e))?;
        if !receipt.status() {
            return Err(ChainError::Reverted {
                call: name,
                reason: format!("transaction {} failed", receipt.transaction_hash),
            });
        }
        Ok(Mined {
            block: receipt.block_number.unwrap_or_default(),
            logs: receipt
                .inner
                .logs()
                .iter()
                .filter(|l| l.address() == to)
                .map(|l| l.data().clone())
                .collect(),
        })
    }
}
