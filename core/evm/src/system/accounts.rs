//! The (user, provider) sub-accounts both serving contracts keep, InferenceServing
//! ([`super::serving`]) and FineTuningServing ([`super::fine_tuning`]): each at its own
//! address `c` with the same slots, so the ledger funds, refunds and debits either the
//! same way. Their services share a header too (position, signer, the owner's
//! acknowledgement, stake), which is all this module reads of a service. The events
//! and errors used here (`BalanceUpdated`, `RefundRequested`, `AccountNotExists`,
//! `ServiceNotExist`, `TooManyRefunds`) have the same signatures in both contracts' ABIs,
//! so their bytes are each contract's own.
//!
//! Slots of contract `c`:
//! - 0 service count, 1 account count, 2 refund lock (seconds), 3 owner.
//! - Service of provider `p` at `slot_of(1, [p])` + field: 0 its list position + 1 (0:
//!   none), 4 TEE signer, 5 signer acknowledged by the owner, 6 stake (the rest is the
//!   contract's own). Service list entry `i` at `slot_of(2, [i])`.
//! - Account of (`u`, `p`) at `slot_of(3, [u, p])` + field: 0 list position + 1, 1
//!   nonce, 2 balance, 3 pending refund, 4 next refund index, 5 pending refund count,
//!   6 the signer the user acknowledged (0: none), 7 generation, 8 revoked token bitmap,
//!   9 additional info (string); fields from 10 on are the contract's own. Pending refund
//!   `j` at `slot_of(4, [u, p, j])` + 0 index, 1 amount, 2 created at. List entry `i`
//!   at `slot_of(5, [i])` + 0 user, 1 provider.

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolEvent;
use revm::context_interface::JournalTr;
use zg_contracts::compute::{
    FINE_TUNING_ADDRESS, IInferenceServing, INFERENCE_ADDRESS, INFERENCE_SERVICE_NAME, MAX_PENDING_REFUNDS,
};
use zg_contracts::fine_tuning::FINE_TUNING_SERVICE_NAME;

use super::{IndexedList, LEDGER_ADDRESS, Stop, SystemCall, address_of, field, revert, slot_of, small, word};

pub(super) const SERVICE_COUNT: U256 = U256::ZERO;
pub(super) const ACCOUNT_COUNT: U256 = U256::from_limbs([1, 0, 0, 0]);
pub(super) const LOCK_TIME: U256 = U256::from_limbs([2, 0, 0, 0]);
pub(super) const OWNER: U256 = U256::from_limbs([3, 0, 0, 0]);

pub(super) const SERVICE: u8 = 1;
pub(super) const SERVICE_LIST: u8 = 2;
const ACCOUNT: u8 = 3;
const REFUND: u8 = 4;
pub(super) const ACCOUNT_LIST: u8 = 5;

// Service header fields.
pub(super) const S_POSITION: u64 = 0;
pub(super) const S_SIGNER: u64 = 4;
pub(super) const S_SIGNER_ACKNOWLEDGED: u64 = 5;
pub(super) const S_STAKE: u64 = 6;

// Account fields.
pub(super) const A_POSITION: u64 = 0;
pub(super) const A_NONCE: u64 = 1;
pub(super) const A_BALANCE: u64 = 2;
pub(super) const A_PENDING: u64 = 3;
const A_NEXT_REFUND: u64 = 4;
pub(super) const A_REFUNDS: u64 = 5;
const A_SIGNER: u64 = 6;
pub(super) const A_GENERATION: u64 = 7;
pub(super) const A_REVOKED: u64 = 8;
pub(super) const A_INFO: u64 = 9;

/// The serving contracts the ledger funds sub-accounts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Serving {
    Inference,
    FineTuning,
}

impl Serving {
    /// The contract `transferFund`'s service name picks (what `getServiceInfo` calls its
    /// `fullName`).
    pub(super) fn by_name(name: &str) -> Option<Self> {
        match name {
            INFERENCE_SERVICE_NAME => Some(Self::Inference),
            FINE_TUNING_SERVICE_NAME => Some(Self::FineTuning),
            _ => None,
        }
    }

    pub(super) fn by_address(address: Address) -> Option<Self> {
        [Self::Inference, Self::FineTuning]
            .into_iter()
            .find(|s| s.address() == address)
    }

    pub(super) fn address(self) -> Address {
        match self {
            Self::Inference => INFERENCE_ADDRESS,
            Self::FineTuning => FINE_TUNING_ADDRESS,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Inference => INFERENCE_SERVICE_NAME,
            Self::FineTuning => FINE_TUNING_SERVICE_NAME,
        }
    }
}

/// `c`'s list of services.
fn service_list(c: Address) -> IndexedList {
    IndexedList {
        contract: c,
        count: SERVICE_COUNT,
        tag: SERVICE_LIST,
        keys: Vec::new(),
        record: SERVICE,
        position: S_POSITION,
    }
}

pub(super) fn service_base(provider: Address) -> U256 {
    slot_of(SERVICE, &[word(provider)])
}

pub(super) fn account_base(user: Address, provider: Address) -> U256 {
    slot_of(ACCOUNT, &[word(user), word(provider)])
}

fn refund_base(user: Address, provider: Address, j: u64) -> U256 {
    slot_of(REFUND, &[word(user), word(provider), U256::from(j)])
}

impl<J: JournalTr> SystemCall<'_, J> {
    /// Puts `provider`'s new service at the end of `c`'s list.
    pub(super) fn list_service(&mut self, c: Address, provider: Address) -> Result<(), Stop> {
        self.list_push(&service_list(c), word(provider))
    }

    /// Takes `provider`'s service out of `c`'s list (the last one moves into its
    /// place) and clears its header; returns the stake it held (the caller pays it back).
    pub(super) fn unlist_service(&mut self, c: Address, provider: Address) -> Result<U256, Stop> {
        let base = self.existing_service(c, provider)?;
        self.list_remove(&service_list(c), word(provider))?;
        let stake = self.read(c, field(base, S_STAKE))?;
        for offset in [S_SIGNER, S_SIGNER_ACKNOWLEDGED, S_STAKE] {
            self.write(c, field(base, offset), U256::ZERO)?;
        }
        Ok(stake)
    }

    /// Records `signer` as the service's; a new or changed signer loses the owner's
    /// acknowledgement (the owner vouched for the old one, not this one).
    pub(super) fn set_service_signer(
        &mut self,
        c: Address,
        provider: Address,
        signer: Address,
        new: bool,
    ) -> Result<(), Stop> {
        let base = service_base(provider);
        let old = address_of(self.read(c, field(base, S_SIGNER))?);
        if new || old != signer {
            self.write(c, field(base, S_SIGNER), word(signer))?;
            self.write(c, field(base, S_SIGNER_ACKNOWLEDGED), U256::ZERO)?;
        }
        Ok(())
    }

    /// The sub-account's pending refunds, oldest first, as (index, amount, created at).
    pub(super) fn refunds(
        &mut self,
        c: Address,
        user: Address,
        provider: Address,
    ) -> Result<Vec<(U256, U256, U256)>, Stop> {
        let count = small(self.read(c, field(account_base(user, provider), A_REFUNDS))?)?;
        (0..count)
            .map(|j| {
                let refund = refund_base(user, provider, j);
                Ok((
                    self.read(c, refund)?,
                    self.read(c, field(refund, 1))?,
                    self.read(c, field(refund, 2))?,
                ))
            })
            .collect()
    }

    pub(super) fn service_exists(&mut self, c: Address, provider: Address) -> Result<bool, Stop> {
        Ok(!self.read(c, field(service_base(provider), S_POSITION))?.is_zero())
    }

    pub(super) fn existing_service(&mut self, c: Address, provider: Address) -> Result<U256, Stop> {
        if self.service_exists(c, provider)? {
            Ok(service_base(provider))
        } else {
            Err(revert(&IInferenceServing::ServiceNotExist { provider }))
        }
    }

    pub(super) fn account_exists(
        &mut self,
        c: Address,
        user: Address,
        provider: Address,
    ) -> Result<bool, Stop> {
        let base = account_base(user, provider);
        Ok(!self.read(c, field(base, A_POSITION))?.is_zero())
    }

    pub(super) fn existing_account(
        &mut self,
        c: Address,
        user: Address,
        provider: Address,
    ) -> Result<U256, Stop> {
        if self.account_exists(c, user, provider)? {
            Ok(account_base(user, provider))
        } else {
            Err(revert(&IInferenceServing::AccountNotExists { user, provider }))
        }
    }

    /// The signer the service settles with, if it has a service and one.
    pub(super) fn service_signer(&mut self, c: Address, provider: Address) -> Result<Option<Address>, Stop> {
        if !self.service_exists(c, provider)? {
            return Ok(None);
        }
        let signer = address_of(self.read(c, field(service_base(provider), S_SIGNER))?);
        Ok((!signer.is_zero()).then_some(signer))
    }

    /// Whether `user` acknowledged the signer `provider`'s service has now (a changed
    /// signer needs a new acknowledgement).
    pub(super) fn acknowledged(
        &mut self,
        c: Address,
        user: Address,
        provider: Address,
    ) -> Result<bool, Stop> {
        let acknowledged = address_of(self.read(c, field(account_base(user, provider), A_SIGNER))?);
        Ok(!acknowledged.is_zero() && self.service_signer(c, provider)? == Some(acknowledged))
    }

    /// Records that `user` trusts (or no longer trusts) the signer `provider`'s service
    /// has now; returns that signer (zero when withdrawn).
    pub(super) fn acknowledge(
        &mut self,
        c: Address,
        user: Address,
        provider: Address,
        acknowledged: bool,
    ) -> Result<Address, Stop> {
        let base = self.existing_account(c, user, provider)?;
        let signer = if acknowledged {
            self.existing_service(c, provider)?;
            self.service_signer(c, provider)?.ok_or_else(|| {
                revert(&IInferenceServing::InvalidTEESignature {
                    reason: "the provider's service has no TEE signer to acknowledge".into(),
                })
            })?
        } else {
            Address::ZERO
        };
        self.write(c, field(base, A_SIGNER), word(signer))?;
        Ok(signer)
    }

    pub(super) fn emit_balance(&mut self, c: Address, user: Address, provider: Address) -> Result<(), Stop> {
        let base = account_base(user, provider);
        let event = IInferenceServing::BalanceUpdated {
            user,
            provider,
            amount: self.read(c, field(base, A_BALANCE))?,
            pendingRefund: self.read(c, field(base, A_PENDING))?,
        };
        self.emit(c, event.encode_log_data())
    }

    /// Opens the (user, provider) sub-account with `amount` wei the ledger has already
    /// moved to this contract.
    pub(super) fn open_account(
        &mut self,
        c: Address,
        user: Address,
        provider: Address,
        amount: U256,
        info: &str,
    ) -> Result<(), Stop> {
        let base = account_base(user, provider);
        let count = self.read(c, ACCOUNT_COUNT)?;
        let entry = slot_of(ACCOUNT_LIST, &[count]);
        self.write(c, entry, word(user))?;
        self.write(c, field(entry, 1), word(provider))?;
        self.write(c, ACCOUNT_COUNT, count + U256::from(1))?;
        self.write(c, field(base, A_POSITION), count + U256::from(1))?;
        self.write(c, field(base, A_BALANCE), amount)?;
        self.write_string(c, field(base, A_INFO), info)?;
        self.emit_balance(c, user, provider)
    }

    /// Adds `amount` wei the ledger moved here to an existing sub-account.
    pub(super) fn fund_account(
        &mut self,
        c: Address,
        user: Address,
        provider: Address,
        amount: U256,
    ) -> Result<(), Stop> {
        let base = account_base(user, provider);
        let balance = self.read(c, field(base, A_BALANCE))?;
        self.write(c, field(base, A_BALANCE), balance + amount)?;
        self.emit_balance(c, user, provider)
    }

    /// Cancels pending refunds, newest first, worth up to `up_to` wei: that money stays
    /// in the sub-account. Returns how much was cancelled.
    pub(super) fn cancel_refunds(
        &mut self,
        c: Address,
        user: Address,
        provider: Address,
        up_to: U256,
    ) -> Result<U256, Stop> {
        let pending = self.read(c, field(account_base(user, provider), A_PENDING))?;
        let target = pending.saturating_sub(up_to);
        self.trim_refunds(c, user, provider, target)?;
        Ok(pending - target)
    }

    /// Shrinks pending refunds, newest first, until they total `target` wei at most.
    pub(super) fn trim_refunds(
        &mut self,
        c: Address,
        user: Address,
        provider: Address,
        target: U256,
    ) -> Result<(), Stop> {
        let base = account_base(user, provider);
        let mut pending = self.read(c, field(base, A_PENDING))?;
        let mut count = small(self.read(c, field(base, A_REFUNDS))?)?;
        while pending > target && count > 0 {
            let refund = refund_base(user, provider, count - 1);
            let amount = self.read(c, field(refund, 1))?;
            let cut = amount.min(pending - target);
            pending -= cut;
            if cut == amount {
                for offset in 0..3 {
                    self.write(c, field(refund, offset), U256::ZERO)?;
                }
                count -= 1;
            } else {
                self.write(c, field(refund, 1), amount - cut)?;
            }
        }
        self.write(c, field(base, A_PENDING), pending)?;
        self.write(c, field(base, A_REFUNDS), U256::from(count))
    }

    /// Pays matured refunds (older than the lock time) back to the ledger and returns
    /// their sum; the caller credits the user's main account.
    pub(super) fn process_refunds(
        &mut self,
        c: Address,
        user: Address,
        provider: Address,
    ) -> Result<U256, Stop> {
        let base = account_base(user, provider);
        let lock = self.read(c, LOCK_TIME)?;
        let count = small(self.read(c, field(base, A_REFUNDS))?)?;
        let mut kept = Vec::new();
        let mut paid = U256::ZERO;
        for j in 0..count {
            let refund = refund_base(user, provider, j);
            let entry = (
                self.read(c, refund)?,
                self.read(c, field(refund, 1))?,
                self.read(c, field(refund, 2))?,
            );
            if self.timestamp >= entry.2.saturating_add(lock) {
                paid += entry.1;
            } else {
                kept.push(entry);
            }
        }
        if paid.is_zero() {
            return Ok(paid);
        }
        for j in 0..count {
            let refund = refund_base(user, provider, j);
            let entry = kept.get(j as usize).copied().unwrap_or_default();
            self.write(c, refund, entry.0)?;
            self.write(c, field(refund, 1), entry.1)?;
            self.write(c, field(refund, 2), entry.2)?;
        }
        self.write(c, field(base, A_REFUNDS), U256::from(kept.len()))?;
        let balance = self.read(c, field(base, A_BALANCE))?;
        let pending = self.read(c, field(base, A_PENDING))?;
        self.write(c, field(base, A_BALANCE), balance - paid)?;
        self.write(c, field(base, A_PENDING), pending - paid)?;
        self.send(c, LEDGER_ADDRESS, paid)?;
        self.emit_balance(c, user, provider)?;
        Ok(paid)
    }

    /// Starts the lock on what the sub-account holds beyond its pending refunds.
    pub(super) fn request_refund_all(
        &mut self,
        c: Address,
        user: Address,
        provider: Address,
    ) -> Result<(), Stop> {
        let base = account_base(user, provider);
        let balance = self.read(c, field(base, A_BALANCE))?;
        let pending = self.read(c, field(base, A_PENDING))?;
        let amount = balance - pending;
        if amount.is_zero() {
            return Ok(());
        }
        let count = small(self.read(c, field(base, A_REFUNDS))?)?;
        if count as usize >= MAX_PENDING_REFUNDS {
            return Err(revert(&IInferenceServing::TooManyRefunds { user, provider }));
        }
        let index = self.read(c, field(base, A_NEXT_REFUND))?;
        let refund = refund_base(user, provider, count);
        self.write(c, refund, index)?;
        self.write(c, field(refund, 1), amount)?;
        self.write(c, field(refund, 2), self.timestamp)?;
        self.write(c, field(base, A_REFUNDS), U256::from(count + 1))?;
        self.write(c, field(base, A_NEXT_REFUND), index + U256::from(1))?;
        self.write(c, field(base, A_PENDING), balance)?;
        let event = IInferenceServing::RefundRequested {
            user,
            provider,
            index,
            timestamp: self.timestamp,
        };
        self.emit(c, event.encode_log_data())?;
        self.emit_balance(c, user, provider)
    }
}
