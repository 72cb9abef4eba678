//! 0G's InferenceServing: providers' services (staked), the (user, provider)
//! sub-accounts the ledger funds, the user's signer acknowledgement and API-key
//! revocation, refunds that mature after the lock time, and `settleFeesWithTEE`, which
//! pays a provider what its signer signed for (EIP-712), never more than the
//! sub-account holds.
//!
//! Storage layout (slots of [`INFERENCE_ADDRESS`]):
//! - 0 service count, 1 account count, 2 refund lock (seconds), 3 owner.
//! - Service of provider `p` at `slot_of(1, [p])` + field: 0 its list position + 1
//!   (0: none), 1 input price, 2 output price, 3 updated at, 4 TEE signer, 5 signer
//!   acknowledged by the owner, 6 stake; strings at + 8 service type, 9 url, 10 model,
//!   11 verifiability, 12 additional info. List entry `i` at `slot_of(2, [i])`.
//! - Account of (`u`, `p`) at `slot_of(3, [u, p])` + field: 0 list position + 1, 1
//!   nonce, 2 balance, 3 pending refund, 4 next refund index, 5 pending refund count,
//!   6 the signer the user acknowledged (0: none), 7 generation, 8 revoked token bitmap,
//!   9 additional info (string). Pending refund `j` at `slot_of(4, [u, p, j])` + 0
//!   index, 1 amount, 2 created at. List entry `i` at `slot_of(5, [i])` + 0 user, 1
//!   provider.

use alloy_primitives::{Address, Bytes, Signature, U256};
use alloy_sol_types::{SolCall, SolEvent};
use revm::context_interface::JournalTr;
use zg_contracts::compute::{
    Account, IInferenceServing as I, MAX_PAGE, MAX_PENDING_REFUNDS, MAX_SETTLEMENTS, Refund, SERVICE_STAKE,
    Service, ServiceParams, SettlementStatus, TEESettlementData, settlement_digest,
};

use super::{
    INFERENCE_ADDRESS, LEDGER_ADDRESS, RECOVER_GAS, Stop, SystemCall, SystemConfig, address_of, field, page,
    revert, slot_of, small, word,
};

const SERVICE_COUNT: U256 = U256::ZERO;
const ACCOUNT_COUNT: U256 = U256::from_limbs([1, 0, 0, 0]);
const LOCK_TIME: U256 = U256::from_limbs([2, 0, 0, 0]);
const OWNER: U256 = U256::from_limbs([3, 0, 0, 0]);

const SERVICE: u8 = 1;
const SERVICE_LIST: u8 = 2;
const ACCOUNT: u8 = 3;
const REFUND: u8 = 4;
const ACCOUNT_LIST: u8 = 5;

// Service fields.
const S_POSITION: u64 = 0;
const S_INPUT_PRICE: u64 = 1;
const S_OUTPUT_PRICE: u64 = 2;
const S_UPDATED_AT: u64 = 3;
const S_SIGNER: u64 = 4;
const S_SIGNER_ACKNOWLEDGED: u64 = 5;
const S_STAKE: u64 = 6;
const S_TYPE: u64 = 8;
const S_URL: u64 = 9;
const S_MODEL: u64 = 10;
const S_VERIFIABILITY: u64 = 11;
const S_INFO: u64 = 12;

// Account fields.
const A_POSITION: u64 = 0;
const A_NONCE: u64 = 1;
const A_BALANCE: u64 = 2;
const A_PENDING: u64 = 3;
const A_NEXT_REFUND: u64 = 4;
const A_REFUNDS: u64 = 5;
const A_SIGNER: u64 = 6;
const A_GENERATION: u64 = 7;
const A_REVOKED: u64 = 8;
const A_INFO: u64 = 9;

/// Longest strings a service may register, bytes.
const MAX_SERVICE_TYPE: usize = 64;
const MAX_URL: usize = 512;
const MAX_MODEL: usize = 256;
const MAX_VERIFIABILITY: usize = 64;
/// Longest additional info a service or account keeps, bytes.
pub(super) const MAX_INFO: usize = 4096;
/// Most token ids one `revokeTokens` takes (a uint8 has 256).
const MAX_REVOKED_IDS: usize = 256;

pub(super) fn genesis_storage(config: &SystemConfig) -> Vec<(U256, U256)> {
    vec![
        (LOCK_TIME, U256::from(config.refund_lock_secs)),
        (OWNER, word(config.compute_owner)),
    ]
}

fn service_base(provider: Address) -> U256 {
    slot_of(SERVICE, &[word(provider)])
}

fn account_base(user: Address, provider: Address) -> U256 {
    slot_of(ACCOUNT, &[word(user), word(provider)])
}

fn refund_base(user: Address, provider: Address, j: u64) -> U256 {
    slot_of(REFUND, &[word(user), word(provider), U256::from(j)])
}

impl<J: JournalTr> SystemCall<'_, J> {
    pub(super) fn serving(&mut self, input: &[u8]) -> Result<Bytes, Stop> {
        let Some(selector) = input.get(..4) else {
            return Err(Stop::Revert(Bytes::new()));
        };
        let selector: [u8; 4] = selector.try_into().unwrap_or_default();
        let bad = |_| Stop::Revert(Bytes::new());
        let c = INFERENCE_ADDRESS;
        let caller = self.inputs.caller;
        match selector {
            I::addOrUpdateServiceCall::SELECTOR => {
                let call = I::addOrUpdateServiceCall::abi_decode(input).map_err(bad)?;
                let value = self.mutating(c, true)?;
                self.add_or_update_service(caller, &call.params, value)?;
                Ok(Bytes::new())
            }
            I::removeServiceCall::SELECTOR => {
                self.mutating(c, false)?;
                self.remove_service(caller)?;
                Ok(Bytes::new())
            }
            I::getServiceCall::SELECTOR => {
                let call = I::getServiceCall::abi_decode(input).map_err(bad)?;
                let service = self.service(call.provider)?;
                self.view(&service)
            }
            I::getAllServicesCall::SELECTOR => {
                let call = I::getAllServicesCall::abi_decode(input).map_err(bad)?;
                let total = small(self.read(c, SERVICE_COUNT)?)?;
                let mut services = Vec::new();
                for i in page(call.offset, call.limit, total, MAX_PAGE) {
                    let provider = address_of(self.read(c, slot_of(SERVICE_LIST, &[U256::from(i)]))?);
                    services.push(self.service(provider)?);
                }
                self.view_bytes(I::getAllServicesCall::abi_encode_returns_tuple(&(
                    services,
                    U256::from(total),
                )))
            }
            I::serviceExistsCall::SELECTOR => {
                let call = I::serviceExistsCall::abi_decode(input).map_err(bad)?;
                let exists = self.service_exists(call.provider)?;
                self.view(&exists)
            }
            I::getAccountCall::SELECTOR => {
                let call = I::getAccountCall::abi_decode(input).map_err(bad)?;
                let account = self.account(call.user, call.provider)?;
                self.view(&account)
            }
            I::getAllAccountsCall::SELECTOR => {
                let call = I::getAllAccountsCall::abi_decode(input).map_err(bad)?;
                let total = small(self.read(c, ACCOUNT_COUNT)?)?;
                let mut accounts = Vec::new();
                for i in page(call.offset, call.limit, total, MAX_PAGE) {
                    let entry = slot_of(ACCOUNT_LIST, &[U256::from(i)]);
                    let user = address_of(self.read(c, entry)?);
                    let provider = address_of(self.read(c, field(entry, 1))?);
                    accounts.push(self.account(user, provider)?);
                }
                self.view_bytes(I::getAllAccountsCall::abi_encode_returns_tuple(&(
                    accounts,
                    U256::from(total),
                )))
            }
            I::accountExistsCall::SELECTOR => {
                let call = I::accountExistsCall::abi_decode(input).map_err(bad)?;
                let exists = self.account_exists(call.user, call.provider)?;
                self.view(&exists)
            }
            I::getPendingRefundCall::SELECTOR => {
                let call = I::getPendingRefundCall::abi_decode(input).map_err(bad)?;
                let base = self.existing_account(call.user, call.provider)?;
                let pending = self.read(c, field(base, A_PENDING))?;
                self.view(&pending)
            }
            I::acknowledgeTEESignerCall::SELECTOR => {
                let call = I::acknowledgeTEESignerCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                self.acknowledge(caller, call.provider, call.acknowledged)?;
                Ok(Bytes::new())
            }
            I::revokeTEESignerAcknowledgementCall::SELECTOR => {
                let call = I::revokeTEESignerAcknowledgementCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                self.acknowledge(caller, call.provider, false)?;
                Ok(Bytes::new())
            }
            I::acknowledgeTEESignerByOwnerCall::SELECTOR => {
                let call = I::acknowledgeTEESignerByOwnerCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                let owner = address_of(self.read(c, OWNER)?);
                if owner.is_zero() || caller != owner {
                    return Err(revert(&I::Unauthorized { caller }));
                }
                let base = self.existing_service(call.provider)?;
                let signer = address_of(self.read(c, field(base, S_SIGNER))?);
                self.write(c, field(base, S_SIGNER_ACKNOWLEDGED), U256::from(1))?;
                let event = I::ProviderTEESignerAcknowledged {
                    provider: call.provider,
                    teeSigner: signer,
                    acknowledged: true,
                };
                self.emit(c, event.encode_log_data())?;
                Ok(Bytes::new())
            }
            I::revokeTokenCall::SELECTOR => {
                let call = I::revokeTokenCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                self.revoke_tokens(caller, call.provider, &[call.tokenId])?;
                Ok(Bytes::new())
            }
            I::revokeTokensCall::SELECTOR => {
                let call = I::revokeTokensCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                if call.tokenIds.len() > MAX_REVOKED_IDS {
                    return Err(revert(&I::InvalidProofInputs {
                        reason: format!("at most {MAX_REVOKED_IDS} token ids per call"),
                    }));
                }
                self.revoke_tokens(caller, call.provider, &call.tokenIds)?;
                Ok(Bytes::new())
            }
            I::revokeAllTokensCall::SELECTOR => {
                let call = I::revokeAllTokensCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                let base = self.existing_account(caller, call.provider)?;
                let generation = self
                    .read(c, field(base, A_GENERATION))?
                    .saturating_add(U256::from(1));
                self.write(c, field(base, A_GENERATION), generation)?;
                self.write(c, field(base, A_REVOKED), U256::ZERO)?;
                let event = I::AllTokensRevoked {
                    user: caller,
                    provider: call.provider,
                    newGeneration: generation,
                };
                self.emit(c, event.encode_log_data())?;
                Ok(Bytes::new())
            }
            I::isTokenRevokedCall::SELECTOR => {
                let call = I::isTokenRevokedCall::abi_decode(input).map_err(bad)?;
                let revoked = if self.account_exists(call.user, call.provider)? {
                    let bitmap = self.read(c, field(account_base(call.user, call.provider), A_REVOKED))?;
                    bitmap.bit(usize::from(call.tokenId))
                } else {
                    false
                };
                self.view(&revoked)
            }
            I::settleFeesWithTEECall::SELECTOR => {
                let call = I::settleFeesWithTEECall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                let statuses = self.settle(caller, &call.settlements, true)?;
                Ok(I::settleFeesWithTEECall::abi_encode_returns(&statuses).into())
            }
            I::previewSettlementResultsCall::SELECTOR => {
                let call = I::previewSettlementResultsCall::abi_decode(input).map_err(bad)?;
                let statuses = self.settle(caller, &call.settlements, false)?;
                // As uint8[] (a Vec<u8> alone would encode as bytes).
                self.view_bytes(I::previewSettlementResultsCall::abi_encode_returns(&statuses))
            }
            I::lockTimeCall::SELECTOR => {
                let lock = self.read(c, LOCK_TIME)?;
                self.view(&lock)
            }
            I::ledgerAddressCall::SELECTOR => self.view(&LEDGER_ADDRESS),
            I::ownerCall::SELECTOR => {
                let owner = address_of(self.read(c, OWNER)?);
                self.view(&owner)
            }
            I::addAccountCall::SELECTOR
            | I::depositFundCall::SELECTOR
            | I::requestRefundAllCall::SELECTOR
            | I::processRefundCall::SELECTOR
            | I::deleteAccountCall::SELECTOR => Err(revert(&I::Unauthorized { caller })),
            _ => Err(Stop::Revert(Bytes::new())),
        }
    }

    pub(super) fn service_exists(&mut self, provider: Address) -> Result<bool, Stop> {
        Ok(!self
            .read(INFERENCE_ADDRESS, field(service_base(provider), S_POSITION))?
            .is_zero())
    }

    fn existing_service(&mut self, provider: Address) -> Result<U256, Stop> {
        if self.service_exists(provider)? {
            Ok(service_base(provider))
        } else {
            Err(revert(&I::ServiceNotExist { provider }))
        }
    }

    pub(super) fn account_exists(&mut self, user: Address, provider: Address) -> Result<bool, Stop> {
        let base = account_base(user, provider);
        Ok(!self.read(INFERENCE_ADDRESS, field(base, A_POSITION))?.is_zero())
    }

    fn existing_account(&mut self, user: Address, provider: Address) -> Result<U256, Stop> {
        if self.account_exists(user, provider)? {
            Ok(account_base(user, provider))
        } else {
            Err(revert(&I::AccountNotExists { user, provider }))
        }
    }

    fn service(&mut self, provider: Address) -> Result<Service, Stop> {
        let c = INFERENCE_ADDRESS;
        let base = self.existing_service(provider)?;
        Ok(Service {
            provider,
            serviceType: self.read_string(c, field(base, S_TYPE))?,
            url: self.read_string(c, field(base, S_URL))?,
            inputPrice: self.read(c, field(base, S_INPUT_PRICE))?,
            outputPrice: self.read(c, field(base, S_OUTPUT_PRICE))?,
            updatedAt: self.read(c, field(base, S_UPDATED_AT))?,
            model: self.read_string(c, field(base, S_MODEL))?,
            verifiability: self.read_string(c, field(base, S_VERIFIABILITY))?,
            additionalInfo: self.read_string(c, field(base, S_INFO))?,
            teeSignerAddress: address_of(self.read(c, field(base, S_SIGNER))?),
            teeSignerAcknowledged: !self.read(c, field(base, S_SIGNER_ACKNOWLEDGED))?.is_zero(),
        })
    }

    /// The signer the service settles with, if it has a service and one.
    fn service_signer(&mut self, provider: Address) -> Result<Option<Address>, Stop> {
        if !self.service_exists(provider)? {
            return Ok(None);
        }
        let signer = address_of(self.read(INFERENCE_ADDRESS, field(service_base(provider), S_SIGNER))?);
        Ok((!signer.is_zero()).then_some(signer))
    }

    /// Whether `user` acknowledged the signer `provider`'s service has now (a changed
    /// signer needs a new acknowledgement).
    fn acknowledged(&mut self, user: Address, provider: Address) -> Result<bool, Stop> {
        let acknowledged =
            address_of(self.read(INFERENCE_ADDRESS, field(account_base(user, provider), A_SIGNER))?);
        Ok(!acknowledged.is_zero() && self.service_signer(provider)? == Some(acknowledged))
    }

    fn account(&mut self, user: Address, provider: Address) -> Result<Account, Stop> {
        let c = INFERENCE_ADDRESS;
        let base = self.existing_account(user, provider)?;
        let count = small(self.read(c, field(base, A_REFUNDS))?)?;
        let mut refunds = Vec::new();
        for j in 0..count {
            let refund = refund_base(user, provider, j);
            refunds.push(Refund {
                index: self.read(c, refund)?,
                amount: self.read(c, field(refund, 1))?,
                createdAt: self.read(c, field(refund, 2))?,
                processed: false,
            });
        }
        Ok(Account {
            user,
            provider,
            nonce: self.read(c, field(base, A_NONCE))?,
            balance: self.read(c, field(base, A_BALANCE))?,
            pendingRefund: self.read(c, field(base, A_PENDING))?,
            refunds,
            additionalInfo: self.read_string(c, field(base, A_INFO))?,
            acknowledged: self.acknowledged(user, provider)?,
            validRefundsLength: U256::from(count),
            generation: self.read(c, field(base, A_GENERATION))?,
            revokedBitmap: self.read(c, field(base, A_REVOKED))?,
        })
    }

    fn add_or_update_service(
        &mut self,
        provider: Address,
        params: &ServiceParams,
        value: U256,
    ) -> Result<(), Stop> {
        let c = INFERENCE_ADDRESS;
        check_service(params).map_err(|reason| revert(&I::InvalidServiceParams { reason }))?;
        let base = service_base(provider);
        let new = !self.service_exists(provider)?;
        if new {
            if value < SERVICE_STAKE {
                return Err(revert(&I::InsufficientStake {
                    required: SERVICE_STAKE,
                    paid: value,
                }));
            }
            let count = self.read(c, SERVICE_COUNT)?;
            self.write(c, slot_of(SERVICE_LIST, &[count]), word(provider))?;
            self.write(c, SERVICE_COUNT, count + U256::from(1))?;
            self.write(c, field(base, S_POSITION), count + U256::from(1))?;
        }
        let stake = self.read(c, field(base, S_STAKE))?.saturating_add(value);
        self.write(c, field(base, S_STAKE), stake)?;
        let old_signer = address_of(self.read(c, field(base, S_SIGNER))?);
        if new || old_signer != params.teeSignerAddress {
            // The owner vouched for the old signer, not this one.
            self.write(c, field(base, S_SIGNER), word(params.teeSignerAddress))?;
            self.write(c, field(base, S_SIGNER_ACKNOWLEDGED), U256::ZERO)?;
        }
        self.write(c, field(base, S_INPUT_PRICE), params.inputPrice)?;
        self.write(c, field(base, S_OUTPUT_PRICE), params.outputPrice)?;
        self.write(c, field(base, S_UPDATED_AT), self.timestamp)?;
        self.write_string(c, field(base, S_TYPE), &params.serviceType)?;
        self.write_string(c, field(base, S_URL), &params.url)?;
        self.write_string(c, field(base, S_MODEL), &params.model)?;
        self.write_string(c, field(base, S_VERIFIABILITY), &params.verifiability)?;
        self.write_string(c, field(base, S_INFO), &params.additionalInfo)?;
        let event = I::ServiceUpdated {
            service: provider,
            serviceType: params.serviceType.clone(),
            url: params.url.clone(),
            inputPrice: params.inputPrice,
            outputPrice: params.outputPrice,
            updatedAt: self.timestamp,
            model: params.model.clone(),
            verifiability: params.verifiability.clone(),
        };
        self.emit(c, event.encode_log_data())
    }

    /// Removes the caller's service and returns its stake; sub-accounts stay, so users
    /// can still retrieve their funds.
    fn remove_service(&mut self, provider: Address) -> Result<(), Stop> {
        let c = INFERENCE_ADDRESS;
        let base = self.existing_service(provider)?;
        let position = small(self.read(c, field(base, S_POSITION))?)?;
        let last = small(self.read(c, SERVICE_COUNT)?)? - 1;
        if position - 1 != last {
            let moved = self.read(c, slot_of(SERVICE_LIST, &[U256::from(last)]))?;
            self.write(c, slot_of(SERVICE_LIST, &[U256::from(position - 1)]), moved)?;
            self.write(
                c,
                field(service_base(address_of(moved)), S_POSITION),
                U256::from(position),
            )?;
        }
        self.write(c, slot_of(SERVICE_LIST, &[U256::from(last)]), U256::ZERO)?;
        self.write(c, SERVICE_COUNT, U256::from(last))?;
        let stake = self.read(c, field(base, S_STAKE))?;
        for offset in [
            S_POSITION,
            S_INPUT_PRICE,
            S_OUTPUT_PRICE,
            S_UPDATED_AT,
            S_SIGNER,
            S_SIGNER_ACKNOWLEDGED,
            S_STAKE,
        ] {
            self.write(c, field(base, offset), U256::ZERO)?;
        }
        for offset in [S_TYPE, S_URL, S_MODEL, S_VERIFIABILITY, S_INFO] {
            self.write_string(c, field(base, offset), "")?;
        }
        self.send(c, provider, stake)?;
        self.emit(c, I::ServiceRemoved { service: provider }.encode_log_data())
    }

    fn acknowledge(&mut self, user: Address, provider: Address, acknowledged: bool) -> Result<(), Stop> {
        let c = INFERENCE_ADDRESS;
        let base = self.existing_account(user, provider)?;
        let signer = if acknowledged {
            self.existing_service(provider)?;
            self.service_signer(provider)?.ok_or_else(|| {
                revert(&I::InvalidTEESignature {
                    reason: "the provider's service has no TEE signer to acknowledge".into(),
                })
            })?
        } else {
            Address::ZERO
        };
        self.write(c, field(base, A_SIGNER), word(signer))?;
        let event = I::TEESignerAcknowledged {
            user,
            provider,
            teeSigner: signer,
            acknowledged,
        };
        self.emit(c, event.encode_log_data())
    }

    fn revoke_tokens(&mut self, user: Address, provider: Address, ids: &[u8]) -> Result<(), Stop> {
        let c = INFERENCE_ADDRESS;
        let base = self.existing_account(user, provider)?;
        let mut bitmap = self.read(c, field(base, A_REVOKED))?;
        for id in ids {
            bitmap.set_bit(usize::from(*id), true);
            let event = I::TokenRevoked {
                user,
                provider,
                tokenId: *id,
            };
            self.emit(c, event.encode_log_data())?;
        }
        self.write(c, field(base, A_REVOKED), bitmap)
    }

    fn emit_balance(&mut self, user: Address, provider: Address) -> Result<(), Stop> {
        let base = account_base(user, provider);
        let event = I::BalanceUpdated {
            user,
            provider,
            amount: self.read(INFERENCE_ADDRESS, field(base, A_BALANCE))?,
            pendingRefund: self.read(INFERENCE_ADDRESS, field(base, A_PENDING))?,
        };
        self.emit(INFERENCE_ADDRESS, event.encode_log_data())
    }

    /// Opens the (user, provider) sub-account with `amount` wei the ledger has already
    /// moved to this contract.
    pub(super) fn open_account(
        &mut self,
        user: Address,
        provider: Address,
        amount: U256,
        info: &str,
    ) -> Result<(), Stop> {
        let c = INFERENCE_ADDRESS;
        let base = account_base(user, provider);
        let count = self.read(c, ACCOUNT_COUNT)?;
        let entry = slot_of(ACCOUNT_LIST, &[count]);
        self.write(c, entry, word(user))?;
        self.write(c, field(entry, 1), word(provider))?;
        self.write(c, ACCOUNT_COUNT, count + U256::from(1))?;
        self.write(c, field(base, A_POSITION), count + U256::from(1))?;
        self.write(c, field(base, A_BALANCE), amount)?;
        self.write_string(c, field(base, A_INFO), info)?;
        self.emit_balance(user, provider)
    }

    /// Adds `amount` wei the ledger moved here to an existing sub-account.
    pub(super) fn fund_account(
        &mut self,
        user: Address,
        provider: Address,
        amount: U256,
    ) -> Result<(), Stop> {
        let c = INFERENCE_ADDRESS;
        let base = account_base(user, provider);
        let balance = self.read(c, field(base, A_BALANCE))?;
        self.write(c, field(base, A_BALANCE), balance + amount)?;
        self.emit_balance(user, provider)
    }

    /// Cancels pending refunds, newest first, worth up to `up_to` wei: that money stays
    /// in the sub-account. Returns how much was cancelled.
    pub(super) fn cancel_refunds(
        &mut self,
        user: Address,
        provider: Address,
        up_to: U256,
    ) -> Result<U256, Stop> {
        let pending = self.read(INFERENCE_ADDRESS, field(account_base(user, provider), A_PENDING))?;
        let target = pending.saturating_sub(up_to);
        self.trim_refunds(user, provider, target)?;
        Ok(pending - target)
    }

    /// Shrinks pending refunds, newest first, until they total `target` wei at most.
    fn trim_refunds(&mut self, user: Address, provider: Address, target: U256) -> Result<(), Stop> {
        let c = INFERENCE_ADDRESS;
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
    pub(super) fn process_refunds(&mut self, user: Address, provider: Address) -> Result<U256, Stop> {
        let c = INFERENCE_ADDRESS;
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
        self.emit_balance(user, provider)?;
        Ok(paid)
    }

    /// Starts the lock on what the sub-account holds beyond its pending refunds.
    pub(super) fn request_refund_all(&mut self, user: Address, provider: Address) -> Result<(), Stop> {
        let c = INFERENCE_ADDRESS;
        let base = account_base(user, provider);
        let balance = self.read(c, field(base, A_BALANCE))?;
        let pending = self.read(c, field(base, A_PENDING))?;
        let amount = balance - pending;
        if amount.is_zero() {
            return Ok(());
        }
        let count = small(self.read(c, field(base, A_REFUNDS))?)?;
        if count as usize >= MAX_PENDING_REFUNDS {
            return Err(revert(&I::TooManyRefunds { user, provider }));
        }
        let index = self.read(c, field(base, A_NEXT_REFUND))?;
        let refund = refund_base(user, provider, count);
        self.write(c, refund, index)?;
        self.write(c, field(refund, 1), amount)?;
        self.write(c, field(refund, 2), self.timestamp)?;
        self.write(c, field(base, A_REFUNDS), U256::from(count + 1))?;
        self.write(c, field(base, A_NEXT_REFUND), index + U256::from(1))?;
        self.write(c, field(base, A_PENDING), balance)?;
        let event = I::RefundRequested {
            user,
            provider,
            index,
            timestamp: self.timestamp,
        };
        self.emit(c, event.encode_log_data())?;
        self.emit_balance(user, provider)
    }

    /// Checks each settlement and, when `commit`, pays it: `min(totalFee, balance)` to
    /// the provider, debited from the sub-account and the user's ledger, the nonce
    /// advanced. Returns 0G's status per item.
    fn settle(
        &mut self,
        sender: Address,
        items: &[TEESettlementData],
        commit: bool,
    ) -> Result<Vec<u8>, Stop> {
        let c = INFERENCE_ADDRESS;
        if items.len() > MAX_SETTLEMENTS {
            return Err(revert(&I::TooManySettlements {
                requested: U256::from(items.len()),
                maximum: U256::from(MAX_SETTLEMENTS),
            }));
        }
        let mut statuses = Vec::with_capacity(items.len());
        for item in items {
            let (status, unsettled) = match self.check_settlement(sender, item)? {
                Err(status) => (status, item.totalFee),
                Ok(()) => {
                    let base = account_base(item.user, item.provider);
                    let balance = self.read(c, field(base, A_BALANCE))?;
                    let paid = item.totalFee.min(balance);
                    if commit {
                        self.write(c, field(base, A_NONCE), item.nonce)?;
                        self.write(c, field(base, A_BALANCE), balance - paid)?;
                        self.trim_refunds(item.user, item.provider, balance - paid)?;
                        self.spend_ledger(item.user, paid)?;
                        self.send(c, item.provider, paid)?;
                        self.emit_balance(item.user, item.provider)?;
                    }
                    let status = if paid == item.totalFee {
                        SettlementStatus::Success
                    } else {
                        SettlementStatus::Partial
                    };
                    (status, item.totalFee - paid)
                }
            };
            if commit {
                let event = I::TEESettlementResult {
                    user: item.user,
                    status: status as u8,
                    unsettledAmount: unsettled,
                };
                self.emit(c, event.encode_log_data())?;
            }
            statuses.push(status as u8);
        }
        Ok(statuses)
    }

    /// Why one settlement cannot be paid, if it cannot.
    fn check_settlement(
        &mut self,
        sender: Address,
        item: &TEESettlementData,
    ) -> Result<Result<(), SettlementStatus>, Stop> {
        if item.provider != sender {
            return Ok(Err(SettlementStatus::ProviderMismatch));
        }
        if !self.account_exists(item.user, item.provider)? || !self.acknowledged(item.user, item.provider)? {
            return Ok(Err(SettlementStatus::NoTeeSigner));
        }
        let Some(signer) = self.service_signer(item.provider)? else {
            return Ok(Err(SettlementStatus::NoTeeSigner));
        };
        let nonce = self.read(
            INFERENCE_ADDRESS,
            field(account_base(item.user, item.provider), A_NONCE),
        )?;
        if item.nonce <= nonce {
            return Ok(Err(SettlementStatus::InvalidNonce));
        }
        self.charge(RECOVER_GAS)?;
        let digest = settlement_digest(self.chain_id, item);
        let recovered = Signature::from_raw(&item.signature)
            .ok()
            .and_then(|sig| sig.recover_address_from_prehash(&digest).ok());
        if recovered != Some(signer) {
            return Ok(Err(SettlementStatus::InvalidSignature));
        }
        Ok(Ok(()))
    }
}

/// Why a service registration is refused, if it is.
fn check_service(params: &ServiceParams) -> Result<(), String> {
    let limits = [
        ("serviceType", &params.serviceType, MAX_SERVICE_TYPE),
        ("url", &params.url, MAX_URL),
        ("model", &params.model, MAX_MODEL),
        ("verifiability", &params.verifiability, MAX_VERIFIABILITY),
        ("additionalInfo", &params.additionalInfo, MAX_INFO),
    ];
    for (name, value, max) in limits {
        if value.len() > max {
            return Err(format!("{name} is {} bytes; the most is {max}", value.len()));
        }
    }
    if params.serviceType.is_empty() || params.model.is_empty() {
        return Err("serviceType and model must not be empty".into());
    }
    let rest = params
        .url
        .strip_prefix("https://")
        .or_else(|| params.url.strip_prefix("http://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !rest.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(())
        }
        _ => Err(format!("url {:?} is not an http(s) URL with a host", params.url)),
    }
}
