//! The compute contracts over JSON-RPC, for both sides. The provider: its service's
//! registration, a user's sub-account (balance, keys' generation and revocations,
//! acknowledgement, nonce) and settlement transactions; for fine-tuning, deliverables
//! and their settlement. The user: the services on
//! offer, the main account on the LedgerManager (add, deposit, refund, transfer to a
//! provider) and the signer acknowledgement.

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent, SolInterface};
use zg_contracts::compute::{
    Account, IInferenceServing as I, ILedgerManager as L, INFERENCE_ADDRESS, INFERENCE_SERVICE_NAME,
    LEDGER_ADDRESS, Ledger, MAX_PAGE, SERVICE_STAKE, Service, ServiceParams, TEESettlementData,
};
use zg_contracts::fine_tuning::{self as ft, FINE_TUNING_ADDRESS, IFineTuningServing as F};

pub use zg_node::chain::ChainError;

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

/// A JSON-RPC client of the LedgerManager and InferenceServing, signing as one account.
#[derive(Clone)]
pub struct ChainClient {
    inner: zg_node::chain::ChainClient,
}

impl ChainClient {
    /// A client of the chain at `url` that sends transactions as `key`'s account.
    pub fn new(url: &str, key: PrivateKeySigner) -> Result<Self, ChainError> {
        Ok(Self {
            inner: zg_node::chain::ChainClient::new(url, key, revert_reason)?,
        })
    }

    /// The account it signs as.
    pub fn address(&self) -> Address {
        self.inner.address()
    }

    /// The chain's id.
    pub async fn chain_id(&self) -> Result<u64, ChainError> {
        self.inner.chain_id().await
    }

    async fn view<C: SolCall>(
        &self,
        to: Address,
        name: &'static str,
        call: C,
    ) -> Result<C::Return, ChainError> {
        self.inner.view(to, name, call).await
    }

    /// `provider`'s registered service, if any.
    pub async fn service(&self, provider: Address) -> Result<Option<Service>, ChainError> {
        let on = INFERENCE_ADDRESS;
        if !self
            .view(on, "serviceExists", I::serviceExistsCall { provider })
            .await?
        {
            return Ok(None);
        }
        Ok(Some(
            self.view(on, "getService", I::getServiceCall { provider })
                .await?,
        ))
    }

    /// Every registered service, page by page.
    pub async fn services(&self) -> Result<Vec<Service>, ChainError> {
        let mut all = Vec::new();
        loop {
            let page = self
                .view(
                    INFERENCE_ADDRESS,
                    "getAllServices",
                    I::getAllServicesCall {
                        offset: U256::from(all.len()),
                        limit: U256::from(MAX_PAGE),
                    },
                )
                .await?;
            let got = page.services.len();
            all.extend(page.services);
            if got == 0 || U256::from(all.len()) >= page.total {
                return Ok(all);
            }
        }
    }

    /// `user`'s sub-account with `provider`, if it has one.
    pub async fn account(&self, user: Address, provider: Address) -> Result<Option<SubAccount>, ChainError> {
        let on = INFERENCE_ADDRESS;
        if !self
            .view(on, "accountExists", I::accountExistsCall { user, provider })
            .await?
        {
            return Ok(None);
        }
        let account = self
            .view(on, "getAccount", I::getAccountCall { user, provider })
            .await?;
        Ok(Some(SubAccount { account }))
    }

    /// This account's main account on the ledger, if it has one.
    pub async fn ledger(&self) -> Result<Option<Ledger>, ChainError> {
        let user = self.address();
        match self
            .view(LEDGER_ADDRESS, "getLedger", L::getLedgerCall { user })
            .await
        {
            Ok(ledger) => Ok(Some(ledger)),
            Err(ChainError::Reverted { reason, .. }) if reason.starts_with("LedgerNotExists") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens this account's main account with `amount` wei.
    pub async fn add_ledger(&self, amount: U256) -> Result<(), ChainError> {
        let call = L::addLedgerCall {
            additionalInfo: String::new(),
        };
        self.send(LEDGER_ADDRESS, "addLedger", call, amount).await
    }

    /// Adds `amount` wei to the main account.
    pub async fn deposit(&self, amount: U256) -> Result<(), ChainError> {
        self.send(LEDGER_ADDRESS, "depositFund", L::depositFundCall {}, amount)
            .await
    }

    /// Takes `amount` wei of the main account's available balance back to the wallet.
    pub async fn refund(&self, amount: U256) -> Result<(), ChainError> {
        self.send(LEDGER_ADDRESS, "refund", L::refundCall { amount }, U256::ZERO)
            .await
    }

    /// Moves `amount` wei from the main account into the sub-account with `provider`'s
    /// inference service (opening it the first time).
    pub async fn transfer(&self, provider: Address, amount: U256) -> Result<(), ChainError> {
        self.transfer_to(provider, INFERENCE_SERVICE_NAME, amount).await
    }

    /// Moves `amount` wei from the main account into the sub-account with `provider`'s
    /// service named `service` (`inference` or `fine-tuning`).
    pub async fn transfer_to(
        &self,
        provider: Address,
        service: &str,
        amount: U256,
    ) -> Result<(), ChainError> {
        let call = L::transferFundCall {
            provider,
            serviceTypeStr: service.into(),
            amount,
        };
        self.send(LEDGER_ADDRESS, "transferFund", call, U256::ZERO).await
    }

    /// Asks for the sub-accounts' balances back: each one's earlier requests past the
    /// lock time are paid to the main account, the rest is locked as a new request.
    pub async fn retrieve(&self, providers: Vec<Address>) -> Result<(), ChainError> {
        self.retrieve_from(providers, INFERENCE_SERVICE_NAME).await
    }

    /// [`Self::retrieve`] for the service named `service`.
    pub async fn retrieve_from(&self, providers: Vec<Address>, service: &str) -> Result<(), ChainError> {
        let call = L::retrieveFundCall {
            providers,
            serviceType: service.into(),
        };
        self.send(LEDGER_ADDRESS, "retrieveFund", call, U256::ZERO).await
    }

    /// Acknowledges `provider`'s signer for this account's sub-account.
    pub async fn acknowledge(&self, provider: Address) -> Result<(), ChainError> {
        let call = I::acknowledgeTEESignerCall {
            provider,
            acknowledged: true,
        };
        self.send(INFERENCE_ADDRESS, "acknowledgeTEESigner", call, U256::ZERO)
            .await
    }

    /// As the contracts' owner, vouches for `provider`'s signer (0G's owner does this
    /// once it has checked the signer's TEE attestation).
    pub async fn acknowledge_by_owner(&self, provider: Address) -> Result<(), ChainError> {
        let call = I::acknowledgeTEESignerByOwnerCall { provider };
        self.send(INFERENCE_ADDRESS, "acknowledgeTEESignerByOwner", call, U256::ZERO)
            .await
    }

    /// The providers this account has inference sub-accounts with.
    pub async fn ledger_providers(&self) -> Result<Vec<Address>, ChainError> {
        let call = L::getLedgerProvidersCall {
            user: self.address(),
            serviceType: INFERENCE_SERVICE_NAME.into(),
        };
        self.view(LEDGER_ADDRESS, "getLedgerProviders", call).await
    }

    async fn send(
        &self,
        to: Address,
        name: &'static str,
        call: impl SolCall,
        value: U256,
    ) -> Result<(), ChainError> {
        self.transact(to, name, call, value).await.map(|_| ())
    }

    /// Makes zg's service registry list this provider as `params` says.
    pub async fn announce(
        &self,
        params: zg_contracts::registry::ServiceParams,
    ) -> Result<zg_node::registry::Announced, ChainError> {
        zg_node::registry::announce(&self.inner, params).await
    }

    /// Registers the service (staking 0G's 100 0G the first time) or updates it.
    pub async fn register(&self, params: ServiceParams, first: bool) -> Result<(), ChainError> {
        let value = if first { SERVICE_STAKE } else { U256::ZERO };
        let call = I::addOrUpdateServiceCall { params };
        self.send(INFERENCE_ADDRESS, "addOrUpdateService", call, value)
            .await
    }

    /// Sends `items` to `settleFeesWithTEE` and returns each one's status from the
    /// contract's `TEESettlementResult` events.
    pub async fn settle(&self, items: Vec<TEESettlementData>) -> Result<Vec<u8>, ChainError> {
        let count = items.len();
        let logs = self
            .transact(
                INFERENCE_ADDRESS,
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

    /// `provider`'s fine-tuning service, if any.
    pub async fn ft_service(&self, provider: Address) -> Result<Option<ft::Service>, ChainError> {
        match self
            .view(FINE_TUNING_ADDRESS, "getService", F::getServiceCall { provider })
            .await
        {
            Ok(service) => Ok(Some(service)),
            Err(ChainError::Reverted { reason, .. }) if reason.starts_with("ServiceNotExist") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every fine-tuning service.
    pub async fn ft_services(&self) -> Result<Vec<ft::Service>, ChainError> {
        self.view(FINE_TUNING_ADDRESS, "getAllServices", F::getAllServicesCall {})
            .await
    }

    /// Registers the fine-tuning service (staking 0G's 100 0G the first time) or
    /// updates it.
    pub async fn ft_register(&self, call: F::addOrUpdateServiceCall, first: bool) -> Result<(), ChainError> {
        let value = if first { SERVICE_STAKE } else { U256::ZERO };
        self.send(FINE_TUNING_ADDRESS, "addOrUpdateService", call, value)
            .await
    }

    /// `user`'s fine-tuning sub-account with `provider`, if it has one.
    pub async fn ft_account(
        &self,
        user: Address,
        provider: Address,
    ) -> Result<Option<ft::AccountDetails>, ChainError> {
        let on = FINE_TUNING_ADDRESS;
        if !self
            .view(on, "accountExists", F::accountExistsCall { user, provider })
            .await?
        {
            return Ok(None);
        }
        Ok(Some(
            self.view(on, "getAccount", F::getAccountCall { user, provider })
                .await?,
        ))
    }

    /// The deliverable `id` of `user`'s sub-account with `provider`, if recorded.
    pub async fn deliverable(
        &self,
        user: Address,
        provider: Address,
        id: &str,
    ) -> Result<Option<ft::Deliverable>, ChainError> {
        let call = F::getDeliverableCall {
            user,
            provider,
            id: id.into(),
        };
        match self.view(FINE_TUNING_ADDRESS, "getDeliverable", call).await {
            Ok(d) => Ok(Some(d)),
            Err(ChainError::Reverted { reason, .. })
                if reason.starts_with("DeliverableNotExists") || reason.starts_with("AccountNotExists") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Records a trained model's storage root as `user`'s deliverable `id`.
    pub async fn add_deliverable(&self, user: Address, id: &str, root: Vec<u8>) -> Result<(), ChainError> {
        let call = F::addDeliverableCall {
            user,
            id: id.into(),
            modelRootHash: root.into(),
        };
        self.send(FINE_TUNING_ADDRESS, "addDeliverable", call, U256::ZERO)
            .await
    }

    /// Acknowledges this account's deliverable `id` from `provider` (its user downloaded it).
    pub async fn acknowledge_deliverable(&self, provider: Address, id: &str) -> Result<(), ChainError> {
        let call = F::acknowledgeDeliverableCall {
            provider,
            id: id.into(),
        };
        self.send(FINE_TUNING_ADDRESS, "acknowledgeDeliverable", call, U256::ZERO)
            .await
    }

    /// Acknowledges `provider`'s fine-tuning signer for this account's sub-account.
    pub async fn ft_acknowledge(&self, provider: Address) -> Result<(), ChainError> {
        let call = F::acknowledgeTEESignerCall {
            provider,
            acknowledged: true,
        };
        self.send(FINE_TUNING_ADDRESS, "acknowledgeTEESigner", call, U256::ZERO)
            .await
    }

    /// As the contracts' owner, vouches for `provider`'s fine-tuning signer.
    pub async fn ft_acknowledge_by_owner(&self, provider: Address) -> Result<(), ChainError> {
        let call = F::acknowledgeTEESignerByOwnerCall { provider };
        self.send(
            FINE_TUNING_ADDRESS,
            "acknowledgeTEESignerByOwner",
            call,
            U256::ZERO,
        )
        .await
    }

    /// The share of a task's fee a provider takes when its user never acknowledges.
    pub async fn penalty_percentage(&self) -> Result<U256, ChainError> {
        self.view(
            FINE_TUNING_ADDRESS,
            "penaltyPercentage",
            F::penaltyPercentageCall {},
        )
        .await
    }

    /// Settles one deliverable's fee (see FineTuningServing's `settleFees`).
    pub async fn settle_fees(&self, input: ft::VerifierInput) -> Result<(), ChainError> {
        let call = F::settleFeesCall { verifierInput: input };
        self.send(FINE_TUNING_ADDRESS, "settleFees", call, U256::ZERO)
            .await
    }

    /// Sends a transaction to the contract at `to`, waits for its receipt and returns
    /// the contract's logs; a revert is reported with its decoded reason.
    async fn transact(
        &self,
        to: Address,
        name: &'static str,
        call: impl SolCall,
        value: U256,
    ) -> Result<Vec<alloy_primitives::LogData>, ChainError> {
        Ok(self.inner.transact(to, name, call, value).await?.logs)
    }
}

/// A revert's custom error by name when it is a compute contract's.
fn revert_reason(data: &[u8]) -> Option<String> {
    let debug = if let Ok(error) = I::IInferenceServingErrors::abi_decode(data) {
        format!("{error:?}")
    } else if let Ok(error) = L::ILedgerManagerErrors::abi_decode(data) {
        format!("{error:?}")
    } else if let Ok(error) = F::IFineTuningServingErrors::abi_decode(data) {
        format!("{error:?}")
    } else {
        return None;
    };
    // `Name(Name { field: … })` reads better as `Name { field: … }`.
    Some(match debug.split_once('(') {
        Some((name, inner)) if inner.starts_with(name) => inner.strip_suffix(')').unwrap_or(inner).to_owned(),
        _ => debug,
    })
}
