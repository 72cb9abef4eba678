//! 0G's LedgerManager: a user's main account (`availableBalance` held here, and
//! `totalBalance` = available + what its provider sub-accounts hold), transfers into
//! InferenceServing's and FineTuningServing's sub-accounts (`transferFund`'s service
//! name picks one: `inference` or `fine-tuning`), refunds back, and the registry of
//! service contracts the SDK resolves service names with.
//!
//! Storage layout (slots of [`LEDGER_ADDRESS`]):
//! - 0 ledger count, 1 owner.
//! - Ledger of user `u` at `slot_of(1, [u])` + field: 0 list position + 1 (0: none),
//!   1 available balance, 2 total balance, 3 additional info (string). List entry `i`
//!   at `slot_of(2, [i])`.
//! - `u`'s inference providers: count at `slot_of(3, [u])`, entry `i` at
//!   `slot_of(4, [u, i])`, position + 1 of provider `p` at `slot_of(5, [u, p])`; its
//!   fine-tuning providers the same at tags 6, 7 and 8.

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::{SolCall, SolEvent};
use revm::context_interface::JournalTr;
use zg_contracts::compute::{
    IInferenceServing, ILedgerManager as L, Ledger, MAX_PAGE, MAX_PROVIDERS_PER_BATCH, MIN_LEDGER_BALANCE,
    ServiceInfo,
};

use super::accounts::Serving;
use super::serving::MAX_INFO;
use super::{
    FINE_TUNING_ADDRESS, INFERENCE_ADDRESS, IndexedList, LEDGER_ADDRESS, Stop, SystemCall, SystemConfig,
    address_of, field, page, revert, slot_of, small, word,
};

const LEDGER_COUNT: U256 = U256::ZERO;
const OWNER: U256 = U256::from_limbs([1, 0, 0, 0]);

const LEDGER: u8 = 1;
const LEDGER_LIST: u8 = 2;
/// Tags of a user's provider list (count, entries, positions) per serving contract.
fn provider_tags(serving: Serving) -> (u8, u8, u8) {
    match serving {
        Serving::Inference => (3, 4, 5),
        Serving::FineTuning => (6, 7, 8),
    }
}

const POSITION: u64 = 0;
const AVAILABLE: u64 = 1;
const TOTAL: u64 = 2;
const INFO: u64 = 3;

pub(super) fn genesis_storage(config: &SystemConfig) -> Vec<(U256, U256)> {
    vec![(OWNER, word(config.compute_owner))]
}

/// The list of every user's ledger.
fn ledger_list() -> IndexedList {
    IndexedList {
        contract: LEDGER_ADDRESS,
        count: LEDGER_COUNT,
        tag: LEDGER_LIST,
        keys: Vec::new(),
        record: LEDGER,
        position: POSITION,
    }
}

fn ledger_base(user: Address) -> U256 {
    slot_of(LEDGER, &[word(user)])
}

/// What the registry says of a serving contract.
fn service_info(serving: Serving) -> ServiceInfo {
    let (id, description) = match serving {
        Serving::Inference => (
            1,
            "zg InferenceServing: providers, sub-accounts and per-token settlement",
        ),
        Serving::FineTuning => (
            2,
            "zg FineTuningServing: training providers, sub-accounts, deliverables and per-task settlement",
        ),
    };
    ServiceInfo {
        serviceAddress: serving.address(),
        serviceContract: serving.address(),
        serviceType: serving.name().into(),
        version: "1.0".into(),
        fullName: serving.name().into(),
        description: description.into(),
        serviceId: U256::from(id),
        registeredAt: U256::ZERO,
    }
}

/// The serving contract a service name picks, or 0G's refusal.
fn check_name(name: &str) -> Result<Serving, Stop> {
    Serving::by_name(name).ok_or_else(|| {
        revert(&L::InvalidServiceType {
            serviceType: name.into(),
        })
    })
}

impl<J: JournalTr> SystemCall<'_, J> {
    pub(super) fn ledger(&mut self, input: &[u8]) -> Result<Bytes, Stop> {
        let Some(selector) = input.get(..4) else {
            return Err(Stop::Revert(Bytes::new()));
        };
        let selector: [u8; 4] = selector.try_into().unwrap_or_default();
        let bad = |_| Stop::Revert(Bytes::new());
        let c = LEDGER_ADDRESS;
        let caller = self.inputs.caller;
        match selector {
            L::addLedgerCall::SELECTOR => {
                let call = L::addLedgerCall::abi_decode(input).map_err(bad)?;
                let value = self.mutating(c, true)?;
                if self.ledger_exists(caller)? {
                    return Err(revert(&L::LedgerExists { user: caller }));
                }
                self.open_ledger(caller, value, &call.additionalInfo)?;
                Ok(Bytes::new())
            }
            L::depositFundCall::SELECTOR => {
                let value = self.mutating(c, true)?;
                self.deposit(caller, value)?;
                Ok(Bytes::new())
            }
            L::depositFundForCall::SELECTOR => {
                let call = L::depositFundForCall::abi_decode(input).map_err(bad)?;
                let value = self.mutating(c, true)?;
                self.deposit(call.recipient, value)?;
                Ok(Bytes::new())
            }
            L::refundCall::SELECTOR => {
                let call = L::refundCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                let base = self.existing_ledger(caller)?;
                let available = self.read(c, field(base, AVAILABLE))?;
                if available < call.amount {
                    return Err(revert(&L::InsufficientBalance { user: caller }));
                }
                let total = self.read(c, field(base, TOTAL))?;
                self.set_balances(caller, available - call.amount, total - call.amount)?;
                self.send(c, caller, call.amount)?;
                Ok(Bytes::new())
            }
            L::transferFundCall::SELECTOR => {
                let call = L::transferFundCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                self.transfer_fund(caller, call.provider, &call.serviceTypeStr, call.amount)?;
                Ok(Bytes::new())
            }
            L::retrieveFundCall::SELECTOR => {
                let call = L::retrieveFundCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                self.retrieve_fund(caller, &call.providers, &call.serviceType)?;
                Ok(Bytes::new())
            }
            L::deleteLedgerCall::SELECTOR => {
                self.mutating(c, false)?;
                self.delete_ledger(caller)?;
                Ok(Bytes::new())
            }
            L::getLedgerCall::SELECTOR => {
                let call = L::getLedgerCall::abi_decode(input).map_err(bad)?;
                let ledger = self.ledger_of(call.user)?;
                self.view(&ledger)
            }
            L::getAllLedgersCall::SELECTOR => {
                let call = L::getAllLedgersCall::abi_decode(input).map_err(bad)?;
                let total = small(self.read(c, LEDGER_COUNT)?)?;
                let mut ledgers = Vec::new();
                for i in page(call.offset, call.limit, total, MAX_PAGE) {
                    let user = address_of(self.read(c, slot_of(LEDGER_LIST, &[U256::from(i)]))?);
                    ledgers.push(self.ledger_of(user)?);
                }
                self.view_bytes(L::getAllLedgersCall::abi_encode_returns_tuple(&(
                    ledgers,
                    U256::from(total),
                )))
            }
            L::getLedgerProvidersCall::SELECTOR => {
                let call = L::getLedgerProvidersCall::abi_decode(input).map_err(bad)?;
                let serving = check_name(&call.serviceType)?;
                let providers = self.providers_of(call.user, serving)?;
                self.view(&providers)
            }
            L::getServiceInfoCall::SELECTOR => {
                let call = L::getServiceInfoCall::abi_decode(input).map_err(bad)?;
                let serving = Serving::by_address(call.serviceAddress).ok_or_else(|| {
                    revert(&L::ServiceNotExist {
                        provider: call.serviceAddress,
                    })
                })?;
                self.view(&service_info(serving))
            }
            L::getServiceAddressByNameCall::SELECTOR => {
                let call = L::getServiceAddressByNameCall::abi_decode(input).map_err(bad)?;
                let serving = check_name(&call.name)?;
                self.view(&serving.address())
            }
            L::MAX_PROVIDERS_PER_BATCHCall::SELECTOR => self.view(&U256::from(MAX_PROVIDERS_PER_BATCH)),
            L::inferenceAddressCall::SELECTOR => self.view(&INFERENCE_ADDRESS),
            L::fineTuningAddressCall::SELECTOR => self.view(&FINE_TUNING_ADDRESS),
            L::ownerCall::SELECTOR => {
                let owner = address_of(self.read(c, OWNER)?);
                self.view(&owner)
            }
            L::initializedCall::SELECTOR => self.view(&true),
            _ => Err(Stop::Revert(Bytes::new())),
        }
    }

    fn ledger_exists(&mut self, user: Address) -> Result<bool, Stop> {
        Ok(!self
            .read(LEDGER_ADDRESS, field(ledger_base(user), POSITION))?
            .is_zero())
    }

    fn existing_ledger(&mut self, user: Address) -> Result<U256, Stop> {
        if self.ledger_exists(user)? {
            Ok(ledger_base(user))
        } else {
            Err(revert(&L::LedgerNotExists { user }))
        }
    }

    fn ledger_of(&mut self, user: Address) -> Result<Ledger, Stop> {
        let c = LEDGER_ADDRESS;
        let base = self.existing_ledger(user)?;
        Ok(Ledger {
            user,
            availableBalance: self.read(c, field(base, AVAILABLE))?,
            totalBalance: self.read(c, field(base, TOTAL))?,
            additionalInfo: self.read_string(c, field(base, INFO))?,
        })
    }

    fn set_balances(&mut self, user: Address, available: U256, total: U256) -> Result<(), Stop> {
        let c = LEDGER_ADDRESS;
        let base = ledger_base(user);
        self.write(c, field(base, AVAILABLE), available)?;
        self.write(c, field(base, TOTAL), total)?;
        let event = L::LedgerUpdated {
            user,
            availableBalance: available,
            totalBalance: total,
        };
        self.emit(c, event.encode_log_data())
    }

    /// Opens `user`'s main account with the `value` just paid (at least 0G's minimum).
    fn open_ledger(&mut self, user: Address, value: U256, info: &str) -> Result<(), Stop> {
        let c = LEDGER_ADDRESS;
        if value < MIN_LEDGER_BALANCE {
            return Err(revert(&L::InsufficientBalance { user }));
        }
        if info.len() > MAX_INFO {
            return Err(revert(&L::InvalidInput {
                reason: format!("additionalInfo is {} bytes; the most is {MAX_INFO}", info.len()),
            }));
        }
        self.list_push(&ledger_list(), word(user))?;
        self.write_string(c, field(ledger_base(user), INFO), info)?;
        self.set_balances(user, value, value)
    }

    /// `depositFund`: adds to `user`'s main account, opening it if it has none.
    fn deposit(&mut self, user: Address, value: U256) -> Result<(), Stop> {
        if !self.ledger_exists(user)? {
            return self.open_ledger(user, value, "");
        }
        let base = ledger_base(user);
        let available = self.read(LEDGER_ADDRESS, field(base, AVAILABLE))?;
        let total = self.read(LEDGER_ADDRESS, field(base, TOTAL))?;
        self.set_balances(user, available + value, total + value)
    }

    /// Makes `amount` more wei usable in the (user, provider) sub-account: pending
    /// refunds are cancelled first (that money is already there), the rest moves from
    /// the main account.
    fn transfer_fund(
        &mut self,
        user: Address,
        provider: Address,
        name: &str,
        amount: U256,
    ) -> Result<(), Stop> {
        let c = LEDGER_ADDRESS;
        let base = self.existing_ledger(user)?;
        let serving = check_name(name)?;
        let s = serving.address();
        if !self.service_exists(s, provider)? {
            return Err(revert(&IInferenceServing::ServiceNotExist { provider }));
        }
        let exists = self.account_exists(s, user, provider)?;
        let cancelled = if exists {
            self.cancel_refunds(s, user, provider, amount)?
        } else {
            U256::ZERO
        };
        let moved = amount - cancelled;
        let available = self.read(c, field(base, AVAILABLE))?;
        if available < moved {
            return Err(revert(&L::InsufficientBalance { user }));
        }
        let total = self.read(c, field(base, TOTAL))?;
        self.set_balances(user, available - moved, total)?;
        self.send(c, s, moved)?;
        if exists {
            self.fund_account(s, user, provider, moved)?;
        } else {
            let info = self.read_string(c, field(base, INFO))?;
            self.add_provider(user, provider, serving)?;
            self.open_account(s, user, provider, moved, &info)?;
        }
        if serving == Serving::FineTuning {
            self.fine_tuning_funded(user, provider, !exists)?;
        }
        Ok(())
    }

    /// `retrieveFund`: for each provider, pays matured refunds into the main account and
    /// starts the lock on the rest of the sub-account.
    fn retrieve_fund(&mut self, user: Address, providers: &[Address], name: &str) -> Result<(), Stop> {
        let c = LEDGER_ADDRESS;
        let base = self.existing_ledger(user)?;
        let s = check_name(name)?.address();
        if providers.len() > MAX_PROVIDERS_PER_BATCH {
            return Err(revert(&L::TooManyProviders {
                requested: U256::from(providers.len()),
                maximum: U256::from(MAX_PROVIDERS_PER_BATCH),
            }));
        }
        let mut paid = U256::ZERO;
        for provider in providers {
            if !self.account_exists(s, user, *provider)? {
                return Err(revert(&IInferenceServing::AccountNotExists {
                    user,
                    provider: *provider,
                }));
            }
            paid += self.process_refunds(s, user, *provider)?;
            self.request_refund_all(s, user, *provider)?;
        }
        if !paid.is_zero() {
            let available = self.read(c, field(base, AVAILABLE))?;
            let total = self.read(c, field(base, TOTAL))?;
            self.set_balances(user, available + paid, total)?;
        }
        Ok(())
    }

    /// Deletes an empty main account (refused while it or a sub-account holds money).
    fn delete_ledger(&mut self, user: Address) -> Result<(), Stop> {
        let c = LEDGER_ADDRESS;
        let base = self.existing_ledger(user)?;
        if !self.read(c, field(base, TOTAL))?.is_zero() {
            return Err(revert(&L::InvalidInput {
                reason: "the ledger still holds funds: retrieve and refund them before deleting it".into(),
            }));
        }
        self.list_remove(&ledger_list(), word(user))?;
        self.write_string(c, field(base, INFO), "")?;
        self.set_balances(user, U256::ZERO, U256::ZERO)
    }

    fn providers_of(&mut self, user: Address, serving: Serving) -> Result<Vec<Address>, Stop> {
        let c = LEDGER_ADDRESS;
        let (count_tag, list_tag, _) = provider_tags(serving);
        let count = small(self.read(c, slot_of(count_tag, &[word(user)]))?)?;
        (0..count)
            .map(|i| {
                self.read(c, slot_of(list_tag, &[word(user), U256::from(i)]))
                    .map(address_of)
            })
            .collect()
    }

    fn add_provider(&mut self, user: Address, provider: Address, serving: Serving) -> Result<(), Stop> {
        let c = LEDGER_ADDRESS;
        let (count_tag, list_tag, position_tag) = provider_tags(serving);
        let position = slot_of(position_tag, &[word(user), word(provider)]);
        if !self.read(c, position)?.is_zero() {
            return Ok(());
        }
        let count_slot = slot_of(count_tag, &[word(user)]);
        let count = self.read(c, count_slot)?;
        self.write(c, slot_of(list_tag, &[word(user), count]), word(provider))?;
        self.write(c, count_slot, count + U256::from(1))?;
        self.write(c, position, count + U256::from(1))
    }

    /// A settlement paid `amount` out of `user`'s sub-account: the main account's total
    /// falls by as much.
    pub(super) fn spend_ledger(&mut self, user: Address, amount: U256) -> Result<(), Stop> {
        let base = ledger_base(user);
        let available = self.read(LEDGER_ADDRESS, field(base, AVAILABLE))?;
        let total = self.read(LEDGER_ADDRESS, field(base, TOTAL))?;
        let total = total
            .checked_sub(amount)
            .ok_or_else(|| Stop::Fatal("a ledger's total fell below its sub-accounts".into()))?;
        self.set_balances(user, available, total)
    }
}
