//! 0G's FineTuningServing: providers' staked training services (a quota, a price per
//! token, the models they train), the (user, provider) sub-accounts the ledger funds
//! under `fine-tuning` (acknowledging the provider's signer as 0G's does), deliverables
//! (a trained model's storage root, 20 an account, the oldest settled one evicted for a
//! new one), the user's acknowledgement, and `settleFees`: signed by the service's TEE
//! signer (EIP-712), it pays the task fee and records the key sealed to the user when
//! the user acknowledged the deliverable, and only the penalty share (30%) when not.
//! Each deliverable settles once.
//!
//! Storage layout (slots of [`FINE_TUNING_ADDRESS`]; sub-accounts, refunds and the
//! service header as [`super::accounts`] lays them out):
//! - 4 penalty percentage.
//! - Service of provider `p` at `slot_of(1, [p])` + field: 1 price per token, 2
//!   occupied, 3 updated at, 7 CPU count, 8 node memory, 9 GPU count, 10 node storage,
//!   11 model count; strings at + 12 url, 13 GPU type. Model `j` at `slot_of(6, [p, j])`.
//! - Account fields past the shared ones: 10 deliverables head, 11 deliverables count.
//!   Accounts by provider: count at `slot_of(7, [p])`, user `i` at `slot_of(8, [p, i])`;
//!   by user: count at `slot_of(9, [u])`, provider `i` at `slot_of(10, [u, i])`.
//! - Deliverable ids, a ring of 20: `slot_of(11, [u, p, i])`. Deliverable `id` at
//!   `slot_of(12, [u, p, keccak256(id)])` + 0 exists, 1 timestamp, 2 acknowledged, 3
//!   settled; + 4 id (string), 5 model root, 6 sealed secret (bytes).

use alloy_primitives::aliases::U248;
use alloy_primitives::{Address, Bytes, Signature, U256, keccak256};
use alloy_sol_types::{Revert, SolCall, SolEvent};
use revm::context_interface::JournalTr;
use zg_contracts::compute::{MAX_PAGE, SERVICE_STAKE};
use zg_contracts::fine_tuning::{
    AccountDetails, AccountSummary, DEFAULT_PENALTY_PERCENTAGE, Deliverable, IFineTuningServing as F,
    MAX_BATCH_USERS, MAX_DELIVERABLE_BYTES, MAX_DELIVERABLE_ID, MAX_DELIVERABLES, MAX_GPU_TYPE,
    MAX_LOCK_TIME_SECS, MAX_MODEL_NAME, MAX_MODELS, MIN_LOCK_TIME_SECS, Quota, Refund, Service,
    VerifierInput, empty_summary, settled_fee, verifier_digest,
};

use super::accounts::{
    A_BALANCE, A_INFO, A_NONCE, A_PENDING, ACCOUNT_COUNT, ACCOUNT_LIST, LOCK_TIME, OWNER, S_SIGNER,
    S_SIGNER_ACKNOWLEDGED, S_STAKE, SERVICE_COUNT, SERVICE_LIST, account_base, service_base,
};
use super::serving::check_url;
use super::{
    FINE_TUNING_ADDRESS, LEDGER_ADDRESS, RECOVER_GAS, Stop, SystemCall, SystemConfig, address_of, field,
    page, revert, selector, slot_of, small, word,
};

const PENALTY: U256 = U256::from_limbs([4, 0, 0, 0]);

const MODEL: u8 = 6;
const BY_PROVIDER_COUNT: u8 = 7;
const BY_PROVIDER: u8 = 8;
const BY_USER_COUNT: u8 = 9;
const BY_USER: u8 = 10;
const RING: u8 = 11;
const DELIVERABLE: u8 = 12;

// Service fields past the shared header.
const S_PRICE: u64 = 1;
const S_OCCUPIED: u64 = 2;
const S_UPDATED_AT: u64 = 3;
const S_CPU: u64 = 7;
const S_MEMORY: u64 = 8;
const S_GPU_COUNT: u64 = 9;
const S_STORAGE: u64 = 10;
const S_MODEL_COUNT: u64 = 11;
const S_URL: u64 = 12;
const S_GPU_TYPE: u64 = 13;

// Account fields past the shared ones.
const A_HEAD: u64 = 10;
const A_DELIVERABLES: u64 = 11;

// Deliverable fields.
const D_EXISTS: u64 = 0;
const D_TIMESTAMP: u64 = 1;
const D_ACKNOWLEDGED: u64 = 2;
const D_SETTLED: u64 = 3;
const D_ID: u64 = 4;
const D_ROOT: u64 = 5;
const D_SECRET: u64 = 6;

/// ERC-165's own interface id, the one `supportsInterface` answers true for.
const ERC165_ID: [u8; 4] = [0x01, 0xff, 0xc9, 0xa7];

pub(super) fn genesis_storage(config: &SystemConfig) -> Vec<(U256, U256)> {
    vec![
        (LOCK_TIME, U256::from(config.refund_lock_secs)),
        (OWNER, word(config.compute_owner)),
        (PENALTY, U256::from(DEFAULT_PENALTY_PERCENTAGE)),
    ]
}

fn model_slot(provider: Address, j: u64) -> U256 {
    slot_of(MODEL, &[word(provider), U256::from(j)])
}

fn ring_slot(user: Address, provider: Address, i: u64) -> U256 {
    slot_of(RING, &[word(user), word(provider), U256::from(i)])
}

fn deliverable_base(user: Address, provider: Address, id: &str) -> U256 {
    let key = U256::from_be_bytes(keccak256(id.as_bytes()).0);
    slot_of(DELIVERABLE, &[word(user), word(provider), key])
}

fn invalid_input(reason: impl Into<String>) -> Stop {
    revert(&F::InvalidVerifierInput {
        reason: reason.into(),
    })
}

/// The ring position of the `i`-th deliverable, oldest first.
fn ring_position(head: u64, count: u64, i: u64) -> u64 {
    if count < MAX_DELIVERABLES as u64 {
        i
    } else {
        (head + i) % MAX_DELIVERABLES as u64
    }
}

impl<J: JournalTr> SystemCall<'_, J> {
    pub(super) fn fine_tuning(&mut self, input: &[u8]) -> Result<Bytes, Stop> {
        let c = FINE_TUNING_ADDRESS;
        if input.is_empty() {
            return Err(revert(&F::DirectDepositsDisabled {}));
        }
        let selector = selector(input)?;
        let bad = |_| Stop::Revert(Bytes::new());
        let caller = self.inputs.caller;
        match selector {
            F::addOrUpdateServiceCall::SELECTOR => {
                let call = F::addOrUpdateServiceCall::abi_decode(input).map_err(bad)?;
                let value = self.mutating(c, true)?;
                self.ft_add_or_update_service(caller, &call, value)?;
                Ok(Bytes::new())
            }
            F::removeServiceCall::SELECTOR => {
                self.mutating(c, false)?;
                self.ft_remove_service(caller)?;
                Ok(Bytes::new())
            }
            F::getServiceCall::SELECTOR => {
                let call = F::getServiceCall::abi_decode(input).map_err(bad)?;
                let service = self.ft_service(call.provider)?;
                self.view(&service)
            }
            F::getAllServicesCall::SELECTOR => {
                let total = small(self.read(c, SERVICE_COUNT)?)?;
                let mut services = Vec::new();
                for i in 0..total {
                    let provider = address_of(self.read(c, slot_of(SERVICE_LIST, &[U256::from(i)]))?);
                    services.push(self.ft_service(provider)?);
                }
                self.view(&services)
            }
            F::getAccountCall::SELECTOR => {
                let call = F::getAccountCall::abi_decode(input).map_err(bad)?;
                let account = self.ft_account(call.user, call.provider)?;
                self.view(&account)
            }
            F::getAllAccountsCall::SELECTOR => {
                let call = F::getAllAccountsCall::abi_decode(input).map_err(bad)?;
                let total = small(self.read(c, ACCOUNT_COUNT)?)?;
                let mut accounts = Vec::new();
                for i in page(call.offset, list_limit(call.limit)?, total, MAX_PAGE) {
                    let entry = slot_of(ACCOUNT_LIST, &[U256::from(i)]);
                    let user = address_of(self.read(c, entry)?);
                    let provider = address_of(self.read(c, field(entry, 1))?);
                    accounts.push(self.ft_summary(user, provider)?);
                }
                self.view_bytes(F::getAllAccountsCall::abi_encode_returns_tuple(&(
                    accounts,
                    U256::from(total),
                )))
            }
            F::getAccountsByProviderCall::SELECTOR => {
                let call = F::getAccountsByProviderCall::abi_decode(input).map_err(bad)?;
                let p = word(call.provider);
                let total = small(self.read(c, slot_of(BY_PROVIDER_COUNT, &[p]))?)?;
                let mut accounts = Vec::new();
                for i in page(call.offset, list_limit(call.limit)?, total, MAX_PAGE) {
                    let user = address_of(self.read(c, slot_of(BY_PROVIDER, &[p, U256::from(i)]))?);
                    accounts.push(self.ft_summary(user, call.provider)?);
                }
                self.view_bytes(F::getAccountsByProviderCall::abi_encode_returns_tuple(&(
                    accounts,
                    U256::from(total),
                )))
            }
            F::getAccountsByUserCall::SELECTOR => {
                let call = F::getAccountsByUserCall::abi_decode(input).map_err(bad)?;
                let u = word(call.user);
                let total = small(self.read(c, slot_of(BY_USER_COUNT, &[u]))?)?;
                let mut accounts = Vec::new();
                for i in page(call.offset, list_limit(call.limit)?, total, MAX_PAGE) {
                    let provider = address_of(self.read(c, slot_of(BY_USER, &[u, U256::from(i)]))?);
                    accounts.push(self.ft_summary(call.user, provider)?);
                }
                self.view_bytes(F::getAccountsByUserCall::abi_encode_returns_tuple(&(
                    accounts,
                    U256::from(total),
                )))
            }
            F::getBatchAccountsByUsersCall::SELECTOR => {
                let call = F::getBatchAccountsByUsersCall::abi_decode(input).map_err(bad)?;
                if call.users.len() > MAX_BATCH_USERS {
                    return Err(revert(&F::BatchSizeTooLarge {
                        size: U256::from(call.users.len()),
                        maxSize: U256::from(MAX_BATCH_USERS),
                    }));
                }
                // As 0G's: the caller is the provider whose accounts are read.
                let mut accounts = Vec::with_capacity(call.users.len());
                for user in call.users {
                    accounts.push(if self.account_exists(c, user, caller)? {
                        self.ft_summary(user, caller)?
                    } else {
                        empty_summary()
                    });
                }
                self.view(&accounts)
            }
            F::accountExistsCall::SELECTOR => {
                let call = F::accountExistsCall::abi_decode(input).map_err(bad)?;
                let exists = self.account_exists(c, call.user, call.provider)?;
                self.view(&exists)
            }
            F::getPendingRefundCall::SELECTOR => {
                let call = F::getPendingRefundCall::abi_decode(input).map_err(bad)?;
                let base = self.existing_account(c, call.user, call.provider)?;
                let pending = self.read(c, field(base, A_PENDING))?;
                self.view(&pending)
            }
            F::getDeliverableCall::SELECTOR => {
                let call = F::getDeliverableCall::abi_decode(input).map_err(bad)?;
                self.existing_account(c, call.user, call.provider)?;
                let deliverable = self.deliverable(call.user, call.provider, &call.id)?;
                self.view(&deliverable)
            }
            F::getDeliverablesCall::SELECTOR => {
                let call = F::getDeliverablesCall::abi_decode(input).map_err(bad)?;
                self.existing_account(c, call.user, call.provider)?;
                let deliverables = self.deliverables(call.user, call.provider)?;
                self.view(&deliverables)
            }
            F::addDeliverableCall::SELECTOR => {
                let call = F::addDeliverableCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                self.add_deliverable(call.user, caller, &call.id, &call.modelRootHash)?;
                Ok(Bytes::new())
            }
            F::acknowledgeDeliverableCall::SELECTOR => {
                let call = F::acknowledgeDeliverableCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                self.acknowledge_deliverable(caller, call.provider, &call.id)?;
                Ok(Bytes::new())
            }
            F::settleFeesCall::SELECTOR => {
                let call = F::settleFeesCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                self.settle_fees(caller, &call.verifierInput)?;
                Ok(Bytes::new())
            }
            F::acknowledgeTEESignerCall::SELECTOR => {
                let call = F::acknowledgeTEESignerCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                self.acknowledge(c, caller, call.provider, call.acknowledged)?;
                Ok(Bytes::new())
            }
            F::acknowledgeTEESignerByOwnerCall::SELECTOR => {
                let call = F::acknowledgeTEESignerByOwnerCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                self.owner_acknowledges(call.provider, true)?;
                Ok(Bytes::new())
            }
            F::revokeTEESignerAcknowledgementCall::SELECTOR => {
                let call = F::revokeTEESignerAcknowledgementCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                self.owner_acknowledges(call.provider, false)?;
                Ok(Bytes::new())
            }
            F::updateLockTimeCall::SELECTOR => {
                let call = F::updateLockTimeCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                self.only_owner()?;
                let range = U256::from(MIN_LOCK_TIME_SECS)..=U256::from(MAX_LOCK_TIME_SECS);
                if !range.contains(&call._locktime) {
                    return Err(revert(&F::LockTimeOutOfRange {
                        lockTime: call._locktime,
                    }));
                }
                let old = self.read(c, LOCK_TIME)?;
                if old != call._locktime {
                    self.write(c, LOCK_TIME, call._locktime)?;
                    let event = F::LockTimeUpdated {
                        oldLockTime: old,
                        newLockTime: call._locktime,
                    };
                    self.emit(c, event.encode_log_data())?;
                }
                Ok(Bytes::new())
            }
            F::updatePenaltyPercentageCall::SELECTOR => {
                let call = F::updatePenaltyPercentageCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                self.only_owner()?;
                if call._penaltyPercentage > U256::from(100) {
                    return Err(revert(&F::PenaltyPercentageTooHigh {
                        percentage: call._penaltyPercentage,
                    }));
                }
                self.write(c, PENALTY, call._penaltyPercentage)?;
                Ok(Bytes::new())
            }
            F::transferOwnershipCall::SELECTOR => {
                let call = F::transferOwnershipCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                let old = self.only_owner()?;
                if call.newOwner.is_zero() {
                    return Err(revert(&Revert::from("Ownable: new owner is the zero address")));
                }
                self.set_owner(old, call.newOwner)?;
                Ok(Bytes::new())
            }
            F::renounceOwnershipCall::SELECTOR => {
                self.mutating(c, false)?;
                let old = self.only_owner()?;
                self.set_owner(old, Address::ZERO)?;
                Ok(Bytes::new())
            }
            F::lockTimeCall::SELECTOR => {
                let lock = self.read(c, LOCK_TIME)?;
                self.view(&lock)
            }
            F::penaltyPercentageCall::SELECTOR => {
                let penalty = self.read(c, PENALTY)?;
                self.view(&penalty)
            }
            F::ownerCall::SELECTOR => {
                let owner = address_of(self.read(c, OWNER)?);
                self.view(&owner)
            }
            F::ledgerAddressCall::SELECTOR => self.view(&LEDGER_ADDRESS),
            F::MIN_LOCKTIMECall::SELECTOR => self.view(&U256::from(MIN_LOCK_TIME_SECS)),
            F::MAX_LOCKTIMECall::SELECTOR => self.view(&U256::from(MAX_LOCK_TIME_SECS)),
            F::MIN_PROVIDER_STAKECall::SELECTOR => self.view(&SERVICE_STAKE),
            F::initializedCall::SELECTOR => self.view(&true),
            F::initializeCall::SELECTOR => Err(revert(&F::AlreadyInitialized {})),
            F::supportsInterfaceCall::SELECTOR => {
                let call = F::supportsInterfaceCall::abi_decode(input).map_err(bad)?;
                self.view(&(call.interfaceId.0 == ERC165_ID))
            }
            // Ledger-only in 0G's contract; zg's ledger moves funds inside the chain, so
            // these refuse every caller.
            F::addAccountCall::SELECTOR
            | F::depositFundCall::SELECTOR
            | F::requestRefundAllCall::SELECTOR
            | F::processRefundCall::SELECTOR
            | F::deleteAccountCall::SELECTOR => Err(revert(&F::CallerNotLedger {})),
            _ => Err(Stop::Revert(Bytes::new())),
        }
    }

    /// The ledger opened or funded a sub-account: a new one joins the provider's and
    /// the user's lists, and either trusts the provider's signer from now on (0G's
    /// contract acknowledges it on every transfer).
    pub(super) fn fine_tuning_funded(
        &mut self,
        user: Address,
        provider: Address,
        opened: bool,
    ) -> Result<(), Stop> {
        let c = FINE_TUNING_ADDRESS;
        if opened {
            for (count_tag, list_tag, key, value) in [
                (BY_PROVIDER_COUNT, BY_PROVIDER, provider, user),
                (BY_USER_COUNT, BY_USER, user, provider),
            ] {
                let count_slot = slot_of(count_tag, &[word(key)]);
                let count = self.read(c, count_slot)?;
                self.write(c, slot_of(list_tag, &[word(key), count]), word(value))?;
                self.write(c, count_slot, count + U256::from(1))?;
            }
        }
        if !self.acknowledged(c, user, provider)? {
            self.acknowledge(c, user, provider, true)?;
        }
        Ok(())
    }

    /// The owner's address, or the revert a caller who is not the owner gets (0G's
    /// Ownable message).
    fn only_owner(&mut self) -> Result<Address, Stop> {
        let owner = address_of(self.read(FINE_TUNING_ADDRESS, OWNER)?);
        if owner.is_zero() || owner != self.inputs.caller {
            return Err(revert(&Revert::from("Ownable: caller is not the owner")));
        }
        Ok(owner)
    }

    fn set_owner(&mut self, old: Address, new: Address) -> Result<(), Stop> {
        self.write(FINE_TUNING_ADDRESS, OWNER, word(new))?;
        let event = F::OwnershipTransferred {
            previousOwner: old,
            newOwner: new,
        };
        self.emit(FINE_TUNING_ADDRESS, event.encode_log_data())
    }

    fn owner_acknowledges(&mut self, provider: Address, acknowledged: bool) -> Result<(), Stop> {
        let c = FINE_TUNING_ADDRESS;
        self.only_owner()?;
        let base = self.existing_service(c, provider)?;
        let signer = address_of(self.read(c, field(base, S_SIGNER))?);
        self.write(c, field(base, S_SIGNER_ACKNOWLEDGED), U256::from(acknowledged))?;
        let event = F::ProviderTEESignerAcknowledged {
            provider,
            teeSignerAddress: signer,
            acknowledged,
        };
        self.emit(c, event.encode_log_data())
    }

    fn ft_service(&mut self, provider: Address) -> Result<Service, Stop> {
        let c = FINE_TUNING_ADDRESS;
        let base = self.existing_service(c, provider)?;
        let model_count = small(self.read(c, field(base, S_MODEL_COUNT))?)?;
        let mut models = Vec::new();
        for j in 0..model_count {
            models.push(self.read_string(c, model_slot(provider, j))?);
        }
        Ok(Service {
            provider,
            url: self.read_string(c, field(base, S_URL))?,
            quota: Quota {
                cpuCount: self.read(c, field(base, S_CPU))?,
                nodeMemory: self.read(c, field(base, S_MEMORY))?,
                gpuCount: self.read(c, field(base, S_GPU_COUNT))?,
                nodeStorage: self.read(c, field(base, S_STORAGE))?,
                gpuType: self.read_string(c, field(base, S_GPU_TYPE))?,
            },
            pricePerToken: self.read(c, field(base, S_PRICE))?,
            occupied: !self.read(c, field(base, S_OCCUPIED))?.is_zero(),
            models,
            teeSignerAddress: address_of(self.read(c, field(base, S_SIGNER))?),
            teeSignerAcknowledged: !self.read(c, field(base, S_SIGNER_ACKNOWLEDGED))?.is_zero(),
        })
    }

    fn ft_add_or_update_service(
        &mut self,
        provider: Address,
        call: &F::addOrUpdateServiceCall,
        value: U256,
    ) -> Result<(), Stop> {
        let c = FINE_TUNING_ADDRESS;
        check_service(call).map_err(|reason| revert(&F::InvalidServiceParams { reason }))?;
        let base = service_base(provider);
        let new = !self.service_exists(c, provider)?;
        if new {
            if value < SERVICE_STAKE {
                return Err(revert(&F::InsufficientStake {
                    provided: value,
                    required: SERVICE_STAKE,
                }));
            }
            self.list_service(c, provider)?;
            self.write(c, field(base, S_STAKE), value)?;
            let event = F::ProviderStaked {
                provider,
                amount: value,
            };
            self.emit(c, event.encode_log_data())?;
        } else if !value.is_zero() {
            return Err(revert(&F::CannotAddStakeWhenUpdating {}));
        }
        self.set_service_signer(c, provider, call.teeSignerAddress, new)?;
        self.write(c, field(base, S_PRICE), call.pricePerToken)?;
        self.write(c, field(base, S_OCCUPIED), U256::from(call.occupied))?;
        self.write(c, field(base, S_UPDATED_AT), self.timestamp)?;
        self.write(c, field(base, S_CPU), call.quota.cpuCount)?;
        self.write(c, field(base, S_MEMORY), call.quota.nodeMemory)?;
        self.write(c, field(base, S_GPU_COUNT), call.quota.gpuCount)?;
        self.write(c, field(base, S_STORAGE), call.quota.nodeStorage)?;
        self.write_string(c, field(base, S_URL), &call.url)?;
        self.write_string(c, field(base, S_GPU_TYPE), &call.quota.gpuType)?;
        self.write_models(provider, &call.models)?;
        let event = F::ServiceUpdated {
            user: provider,
            url: call.url.clone(),
            quota: call.quota.clone(),
            pricePerToken: call.pricePerToken,
            teeSignerAddress: call.teeSignerAddress,
            occupied: call.occupied,
        };
        self.emit(c, event.encode_log_data())
    }

    /// Replaces the service's model list, clearing names a longer old list left.
    fn write_models(&mut self, provider: Address, models: &[String]) -> Result<(), Stop> {
        let c = FINE_TUNING_ADDRESS;
        let count_slot = field(service_base(provider), S_MODEL_COUNT);
        let old = small(self.read(c, count_slot)?)?;
        for (j, model) in models.iter().enumerate() {
            self.write_string(c, model_slot(provider, j as u64), model)?;
        }
        for j in models.len() as u64..old {
            self.write_string(c, model_slot(provider, j), "")?;
        }
        self.write(c, count_slot, U256::from(models.len()))
    }

    /// Removes the caller's service and returns its stake; sub-accounts stay, so users
    /// can still retrieve their funds.
    fn ft_remove_service(&mut self, provider: Address) -> Result<(), Stop> {
        let c = FINE_TUNING_ADDRESS;
        let base = service_base(provider);
        let stake = self.unlist_service(c, provider)?;
        self.write_models(provider, &[])?;
        for offset in [
            S_PRICE,
            S_OCCUPIED,
            S_UPDATED_AT,
            S_CPU,
            S_MEMORY,
            S_GPU_COUNT,
            S_STORAGE,
        ] {
            self.write(c, field(base, offset), U256::ZERO)?;
        }
        for offset in [S_URL, S_GPU_TYPE] {
            self.write_string(c, field(base, offset), "")?;
        }
        let returned = F::ProviderStakeReturned {
            provider,
            amount: stake,
        };
        self.emit(c, returned.encode_log_data())?;
        self.emit(c, F::ServiceRemoved { user: provider }.encode_log_data())?;
        self.send(c, provider, stake)
    }

    fn ft_summary(&mut self, user: Address, provider: Address) -> Result<AccountSummary, Stop> {
        let c = FINE_TUNING_ADDRESS;
        let base = self.existing_account(c, user, provider)?;
        let refunds = self.refunds(c, user, provider)?.len();
        Ok(AccountSummary {
            user,
            provider,
            nonce: self.read(c, field(base, A_NONCE))?,
            balance: self.read(c, field(base, A_BALANCE))?,
            pendingRefund: self.read(c, field(base, A_PENDING))?,
            additionalInfo: self.read_string(c, field(base, A_INFO))?,
            validRefundsLength: U256::from(refunds),
            deliverablesCount: self.read(c, field(base, A_DELIVERABLES))?,
            acknowledged: self.acknowledged(c, user, provider)?,
        })
    }

    fn ft_account(&mut self, user: Address, provider: Address) -> Result<AccountDetails, Stop> {
        let c = FINE_TUNING_ADDRESS;
        let summary = self.ft_summary(user, provider)?;
        let refunds: Vec<Refund> = self
            .refunds(c, user, provider)?
            .into_iter()
            .map(|(index, amount, created_at)| Refund {
                index,
                amount,
                createdAt: created_at,
                processed: false,
            })
            .collect();
        let base = account_base(user, provider);
        Ok(AccountDetails {
            user,
            provider,
            nonce: summary.nonce,
            balance: summary.balance,
            pendingRefund: summary.pendingRefund,
            refunds,
            additionalInfo: summary.additionalInfo,
            deliverables: self.deliverables(user, provider)?,
            validRefundsLength: summary.validRefundsLength,
            deliverablesHead: self.read(c, field(base, A_HEAD))?,
            deliverablesCount: summary.deliverablesCount,
            acknowledged: summary.acknowledged,
        })
    }

    /// The ring's (head, count) of an account.
    fn ring(&mut self, user: Address, provider: Address) -> Result<(u64, u64), Stop> {
        let base = account_base(user, provider);
        Ok((
            small(self.read(FINE_TUNING_ADDRESS, field(base, A_HEAD))?)?,
            small(self.read(FINE_TUNING_ADDRESS, field(base, A_DELIVERABLES))?)?,
        ))
    }

    fn deliverables(&mut self, user: Address, provider: Address) -> Result<Vec<Deliverable>, Stop> {
        let (head, count) = self.ring(user, provider)?;
        let mut deliverables = Vec::with_capacity(count as usize);
        for i in 0..count {
            let slot = ring_slot(user, provider, ring_position(head, count, i));
            let id = self.read_string(FINE_TUNING_ADDRESS, slot)?;
            deliverables.push(self.deliverable(user, provider, &id)?);
        }
        Ok(deliverables)
    }

    /// The deliverable `id` of an existing account, or `DeliverableNotExists`.
    fn deliverable(&mut self, user: Address, provider: Address, id: &str) -> Result<Deliverable, Stop> {
        let c = FINE_TUNING_ADDRESS;
        let base = deliverable_base(user, provider, id);
        if self.read(c, field(base, D_EXISTS))?.is_zero() {
            return Err(revert(&F::DeliverableNotExists { id: id.into() }));
        }
        Ok(Deliverable {
            id: self.read_string(c, field(base, D_ID))?,
            modelRootHash: self.read_bytes(c, field(base, D_ROOT))?.into(),
            encryptedSecret: self.read_bytes(c, field(base, D_SECRET))?.into(),
            acknowledged: !self.read(c, field(base, D_ACKNOWLEDGED))?.is_zero(),
            timestamp: U248::from(small(self.read(c, field(base, D_TIMESTAMP))?)?),
            settled: !self.read(c, field(base, D_SETTLED))?.is_zero(),
        })
    }

    fn add_deliverable(
        &mut self,
        user: Address,
        provider: Address,
        id: &str,
        root: &[u8],
    ) -> Result<(), Stop> {
        let c = FINE_TUNING_ADDRESS;
        let account = self.existing_account(c, user, provider)?;
        check_id(id)?;
        if root.len() > MAX_DELIVERABLE_BYTES {
            return Err(invalid_input(format!(
                "modelRootHash is {} bytes; the most is {MAX_DELIVERABLE_BYTES}",
                root.len()
            )));
        }
        let base = deliverable_base(user, provider, id);
        if !self.read(c, field(base, D_EXISTS))?.is_zero() {
            return Err(revert(&F::DeliverableAlreadyExists { id: id.into() }));
        }
        let (head, count) = self.ring(user, provider)?;
        if count > 0 {
            // One task at a time: the newest deliverable must be acknowledged or settled first.
            let newest = self.read_string(
                c,
                ring_slot(user, provider, ring_position(head, count, count - 1)),
            )?;
            let previous = self.deliverable(user, provider, &newest)?;
            if !previous.acknowledged && !previous.settled {
                return Err(revert(&F::PreviousDeliverableNotAcknowledged { id: newest }));
            }
        }
        if count < MAX_DELIVERABLES as u64 {
            self.write_string(c, ring_slot(user, provider, count), id)?;
            self.write(c, field(account, A_DELIVERABLES), U256::from(count + 1))?;
        } else {
            let oldest = self.read_string(c, ring_slot(user, provider, head))?;
            if !self.deliverable(user, provider, &oldest)?.settled {
                return Err(revert(&F::CannotEvictUnsettledDeliverable { id: oldest }));
            }
            self.clear_deliverable(user, provider, &oldest)?;
            self.write_string(c, ring_slot(user, provider, head), id)?;
            self.write(
                c,
                field(account, A_HEAD),
                U256::from((head + 1) % MAX_DELIVERABLES as u64),
            )?;
            let event = F::DeliverableEvicted {
                provider,
                user,
                evictedDeliverableId: oldest,
                newDeliverableId: id.into(),
                timestamp: self.timestamp,
            };
            self.emit(c, event.encode_log_data())?;
        }
        self.write(c, field(base, D_EXISTS), U256::from(1))?;
        self.write(c, field(base, D_TIMESTAMP), self.timestamp)?;
        self.write_string(c, field(base, D_ID), id)?;
        self.write_bytes(c, field(base, D_ROOT), root)?;
        let event = F::DeliverableAdded {
            user,
            provider,
            deliverableId: id.into(),
            modelRootHash: root.to_vec().into(),
            timestamp: self.timestamp,
        };
        self.emit(c, event.encode_log_data())
    }

    fn clear_deliverable(&mut self, user: Address, provider: Address, id: &str) -> Result<(), Stop> {
        let c = FINE_TUNING_ADDRESS;
        let base = deliverable_base(user, provider, id);
        for offset in [D_EXISTS, D_TIMESTAMP, D_ACKNOWLEDGED, D_SETTLED] {
            self.write(c, field(base, offset), U256::ZERO)?;
        }
        for offset in [D_ID, D_ROOT, D_SECRET] {
            self.write_bytes(c, field(base, offset), &[])?;
        }
        Ok(())
    }

    fn acknowledge_deliverable(&mut self, user: Address, provider: Address, id: &str) -> Result<(), Stop> {
        let c = FINE_TUNING_ADDRESS;
        self.existing_account(c, user, provider)?;
        let deliverable = self.deliverable(user, provider, id)?;
        if deliverable.settled {
            return Err(revert(&F::CannotAcknowledgeSettledDeliverable { id: id.into() }));
        }
        if deliverable.acknowledged {
            return Ok(());
        }
        let base = deliverable_base(user, provider, id);
        self.write(c, field(base, D_ACKNOWLEDGED), U256::from(1))?;
        let event = F::DeliverableAcknowledged {
            user,
            provider,
            deliverableId: id.into(),
            timestamp: self.timestamp,
        };
        self.emit(c, event.encode_log_data())
    }

    /// Checks one settlement as 0G's contract does, then pays the provider the task fee
    /// (acknowledged, recording the sealed key) or the penalty share (not), from the
    /// sub-account and the user's ledger.
    fn settle_fees(&mut self, provider: Address, input: &VerifierInput) -> Result<(), Stop> {
        let c = FINE_TUNING_ADDRESS;
        let user = input.user;
        let account = self.existing_account(c, user, provider)?;
        let service = self.existing_service(c, provider)?;
        let signer = address_of(self.read(c, field(service, S_SIGNER))?);
        let owner_acknowledged = !self.read(c, field(service, S_SIGNER_ACKNOWLEDGED))?.is_zero();
        if !self.acknowledged(c, user, provider)? || !owner_acknowledged || signer.is_zero() {
            return Err(invalid_input("TEE signer not acknowledged"));
        }
        // The deliverable first: a second settlement is refused as such, whatever else.
        check_id(&input.id)?;
        let deliverable = self.deliverable(user, provider, &input.id)?;
        if deliverable.settled {
            return Err(revert(&F::DeliverableAlreadySettled { id: input.id.clone() }));
        }
        if deliverable.modelRootHash != input.modelRootHash {
            return Err(invalid_input("model root hash mismatch"));
        }
        let nonce = self.read(c, field(account, A_NONCE))?;
        if input.nonce <= nonce {
            return Err(invalid_input(format!(
                "nonce {} is not above the account's last settled nonce {nonce}",
                input.nonce
            )));
        }
        let balance = self.read(c, field(account, A_BALANCE))?;
        if balance < input.taskFee {
            return Err(invalid_input(format!(
                "the task fee {} is above the account's balance {balance}",
                input.taskFee
            )));
        }
        if input.encryptedSecret.len() > MAX_DELIVERABLE_BYTES {
            return Err(invalid_input(format!(
                "encryptedSecret is {} bytes; the most is {MAX_DELIVERABLE_BYTES}",
                input.encryptedSecret.len()
            )));
        }
        self.charge(RECOVER_GAS)?;
        let digest = verifier_digest(self.chain_id, input);
        let recovered = Signature::from_raw(&input.signature)
            .ok()
            .and_then(|sig| sig.recover_address_from_prehash(&digest).ok());
        if recovered != Some(signer) {
            return Err(invalid_input("TEE settlement validation failed"));
        }
        let base = deliverable_base(user, provider, &input.id);
        if deliverable.acknowledged {
            if input.encryptedSecret.is_empty() {
                return Err(revert(&F::SecretShouldNotBeEmpty {}));
            }
            self.write_bytes(c, field(base, D_SECRET), &input.encryptedSecret)?;
        } else if !input.encryptedSecret.is_empty() {
            return Err(revert(&F::SecretShouldBeEmpty {}));
        }
        let penalty = self.read(c, PENALTY)?;
        let fee = settled_fee(input.taskFee, deliverable.acknowledged, penalty);
        self.write(c, field(account, A_NONCE), input.nonce)?;
        self.write(c, field(base, D_SETTLED), U256::from(1))?;
        // Refunds pending beyond what stays after the fee are cancelled, newest first.
        let left = balance - fee;
        self.trim_refunds(c, user, provider, left)?;
        self.write(c, field(account, A_BALANCE), left)?;
        self.spend_ledger(user, fee)?;
        self.send(c, provider, fee)?;
        self.emit_balance(c, user, provider)?;
        let event = F::FeesSettled {
            user,
            provider,
            deliverableId: input.id.clone(),
            fee,
            acknowledged: deliverable.acknowledged,
            nonce: input.nonce,
        };
        self.emit(c, event.encode_log_data())
    }
}

/// A page limit as 0G's views take it: 0 means the most, more than the most is refused.
fn list_limit(limit: U256) -> Result<U256, Stop> {
    if limit > U256::from(MAX_PAGE) {
        return Err(revert(&F::LimitTooLarge { limit }));
    }
    Ok(if limit.is_zero() {
        U256::from(MAX_PAGE)
    } else {
        limit
    })
}

fn check_id(id: &str) -> Result<(), Stop> {
    if id.is_empty() || id.len() > MAX_DELIVERABLE_ID {
        return Err(revert(&F::DeliverableIdInvalidLength {
            length: U256::from(id.len()),
        }));
    }
    Ok(())
}

/// Why a service registration is refused, if it is.
fn check_service(call: &F::addOrUpdateServiceCall) -> Result<(), String> {
    check_url(&call.url)?;
    if call.teeSignerAddress.is_zero() {
        return Err("a fine-tuning service needs a TEE signer address to settle with".into());
    }
    if call.quota.gpuType.len() > MAX_GPU_TYPE {
        return Err(format!(
            "gpuType is {} bytes; the most is {MAX_GPU_TYPE}",
            call.quota.gpuType.len()
        ));
    }
    if call.models.is_empty() || call.models.len() > MAX_MODELS {
        return Err(format!(
            "a service lists 1 to {MAX_MODELS} models, not {}",
            call.models.len()
        ));
    }
    if let Some(model) = call
        .models
        .iter()
        .find(|m| m.is_empty() || m.len() > MAX_MODEL_NAME)
    {
        return Err(format!(
            "model names are 1 to {MAX_MODEL_NAME} bytes; {model:?} is {}",
            model.len()
        ));
    }
    Ok(())
}
