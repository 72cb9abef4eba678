//! 0G's InferenceServing: providers' services (staked), the (user, provider)
//! sub-accounts the ledger funds, the user's signer acknowledgement and API-key
//! revocation, refunds that mature after the lock time, and `settleFeesWithTEE`, which
//! pays a provider what its signer signed for (EIP-712), never more than the
//! sub-account holds.
//!
//! Storage layout (slots of [`INFERENCE_ADDRESS`]; sub-accounts, refunds and the
//! service header as [`super::accounts`] lays them out):
//! - Service of provider `p` at `slot_of(1, [p])` + field: 1 input price, 2 output
//!   price, 3 updated at; strings at + 8 service type, 9 url, 10 model, 11
//!   verifiability, 12 additional info.

use alloy_primitives::{Address, Bytes, Signature, U256};
use alloy_sol_types::{SolCall, SolEvent};
use revm::context_interface::JournalTr;
use zg_contracts::compute::{
    Account, IInferenceServing as I, MAX_PAGE, MAX_SETTLEMENTS, Refund, SERVICE_STAKE, Service,
    ServiceParams, SettlementStatus, TEESettlementData, settlement_digest,
};

use super::accounts::{
    A_BALANCE, A_GENERATION, A_INFO, A_NONCE, A_PENDING, A_REVOKED, ACCOUNT_COUNT, ACCOUNT_LIST, LOCK_TIME,
    OWNER, S_SIGNER, S_SIGNER_ACKNOWLEDGED, S_STAKE, SERVICE_COUNT, SERVICE_LIST, account_base, service_base,
};
use super::{
    INFERENCE_ADDRESS, LEDGER_ADDRESS, RECOVER_GAS, Stop, SystemCall, SystemConfig, address_of, field, page,
    revert, slot_of, small, word,
};

// Service fields past the shared header.
const S_INPUT_PRICE: u64 = 1;
const S_OUTPUT_PRICE: u64 = 2;
const S_UPDATED_AT: u64 = 3;
const S_TYPE: u64 = 8;
const S_URL: u64 = 9;
const S_MODEL: u64 = 10;
const S_VERIFIABILITY: u64 = 11;
const S_INFO: u64 = 12;

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
                let exists = self.service_exists(c, call.provider)?;
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
                let exists = self.account_exists(c, call.user, call.provider)?;
                self.view(&exists)
            }
            I::getPendingRefundCall::SELECTOR => {
                let call = I::getPendingRefundCall::abi_decode(input).map_err(bad)?;
                let base = self.existing_account(c, call.user, call.provider)?;
                let pending = self.read(c, field(base, A_PENDING))?;
                self.view(&pending)
            }
            I::acknowledgeTEESignerCall::SELECTOR => {
                let call = I::acknowledgeTEESignerCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                let signer = self.acknowledge(c, caller, call.provider, call.acknowledged)?;
                let event = I::TEESignerAcknowledged {
                    user: caller,
                    provider: call.provider,
                    teeSigner: signer,
                    acknowledged: call.acknowledged,
                };
                self.emit(c, event.encode_log_data())?;
                Ok(Bytes::new())
            }
            I::revokeTEESignerAcknowledgementCall::SELECTOR => {
                let call = I::revokeTEESignerAcknowledgementCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                let signer = self.acknowledge(c, caller, call.provider, false)?;
                let event = I::TEESignerAcknowledged {
                    user: caller,
                    provider: call.provider,
                    teeSigner: signer,
                    acknowledged: false,
                };
                self.emit(c, event.encode_log_data())?;
                Ok(Bytes::new())
            }
            I::acknowledgeTEESignerByOwnerCall::SELECTOR => {
                let call = I::acknowledgeTEESignerByOwnerCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                let owner = address_of(self.read(c, OWNER)?);
                if owner.is_zero() || caller != owner {
                    return Err(revert(&I::Unauthorized { caller }));
                }
                let base = self.existing_service(c, call.provider)?;
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
                let base = self.existing_account(c, caller, call.provider)?;
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
                let revoked = if self.account_exists(c, call.user, call.provider)? {
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

    fn service(&mut self, provider: Address) -> Result<Service, Stop> {
        let c = INFERENCE_ADDRESS;
        let base = self.existing_service(c, provider)?;
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

    fn account(&mut self, user: Address, provider: Address) -> Result<Account, Stop> {
        let c = INFERENCE_ADDRESS;
        let base = self.existing_account(c, user, provider)?;
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
        let count = refunds.len();
        Ok(Account {
            user,
            provider,
            nonce: self.read(c, field(base, A_NONCE))?,
            balance: self.read(c, field(base, A_BALANCE))?,
            pendingRefund: self.read(c, field(base, A_PENDING))?,
            refunds,
            additionalInfo: self.read_string(c, field(base, A_INFO))?,
            acknowledged: self.acknowledged(c, user, provider)?,
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
        let new = !self.service_exists(c, provider)?;
        if new {
            if value < SERVICE_STAKE {
                return Err(revert(&I::InsufficientStake {
                    required: SERVICE_STAKE,
                    paid: value,
                }));
            }
            self.list_service(c, provider)?;
        }
        let stake = self.read(c, field(base, S_STAKE))?.saturating_add(value);
        self.write(c, field(base, S_STAKE), stake)?;
        self.set_service_signer(c, provider, params.teeSignerAddress, new)?;
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
        let base = service_base(provider);
        let stake = self.unlist_service(c, provider)?;
        for offset in [S_INPUT_PRICE, S_OUTPUT_PRICE, S_UPDATED_AT] {
            self.write(c, field(base, offset), U256::ZERO)?;
        }
        for offset in [S_TYPE, S_URL, S_MODEL, S_VERIFIABILITY, S_INFO] {
            self.write_string(c, field(base, offset), "")?;
        }
        self.send(c, provider, stake)?;
        self.emit(c, I::ServiceRemoved { service: provider }.encode_log_data())
    }

    fn revoke_tokens(&mut self, user: Address, provider: Address, ids: &[u8]) -> Result<(), Stop> {
        let c = INFERENCE_ADDRESS;
        let base = self.existing_account(c, user, provider)?;
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
                        self.trim_refunds(c, item.user, item.provider, balance - paid)?;
                        self.spend_ledger(item.user, paid)?;
                        self.send(c, item.provider, paid)?;
                        self.emit_balance(c, item.user, item.provider)?;
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
        let c = INFERENCE_ADDRESS;
        if !self.account_exists(c, item.user, item.provider)?
            || !self.acknowledged(c, item.user, item.provider)?
        {
            return Ok(Err(SettlementStatus::NoTeeSigner));
        }
        let Some(signer) = self.service_signer(c, item.provider)? else {
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
    check_url(&params.url)
}

/// Why a service URL is refused, if it is: it must be http(s) with a host.
pub(super) fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL {
        return Err(format!("url is {} bytes; the most is {MAX_URL}", url.len()));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !rest.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(())
        }
        _ => Err(format!("url {url:?} is not an http(s) URL with a host")),
    }
}
