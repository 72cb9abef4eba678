//! 0G's compute contracts (LedgerManager and InferenceServing) through the chain: the
//! SDK's selectors, money that moves exactly to the wei between wallets, main accounts,
//! sub-accounts, providers and refunds; EIP-712 settlements with every status; 0G's
//! custom-error reverts; and every call within the gas the SDK sends.

mod common;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolError};
use common::{Net, Sent, signer};
use zg_contracts::compute::{
    IInferenceServing as I, ILedgerManager as L, MIN_LEDGER_BALANCE, ONE_0G, SERVICE_STAKE, ServiceParams,
    SettlementStatus, TEESettlementData, settlement_digest,
};
use zg_evm::system::{
    FINE_TUNING_ADDRESS, INFERENCE_ADDRESS, LEDGER_ADDRESS, SYSTEM_CODE, SystemConfig, first_free_nonce,
};
use zg_evm::{ChainConfig, TxOutcome};

const CHAIN_ID: u64 = 31337;
const GAS_PRICE: u128 = 2_000_000_000;
const LOCK: u64 = 100;
const START: u64 = 1_700_000_000;
/// The gas 0g-inference-sdk 0.9.1 sends with its lighter calls (deposit, refund,
/// retrieve, revoke); its others send 300,000.
const SDK_LIGHT_GAS: u64 = 200_000;
const SDK_GAS: u64 = 300_000;

fn og(n: u64) -> U256 {
    ONE_0G * U256::from(n)
}

impl Net {
    /// A chain with the compute contracts, `funded` holding 1,000 0G each.
    fn new(funded: &[Address]) -> Self {
        let config = ChainConfig {
            chain_id: CHAIN_ID,
            gas_limit: 30_000_000,
            coinbase: Address::repeat_byte(0xcb),
            genesis_timestamp: START,
            alloc: funded.iter().map(|a| (*a, og(1_000))).collect(),
            system: Some(SystemConfig {
                refund_lock_secs: LOCK,
                compute_owner: signer(9).address(),
                ..SystemConfig::default()
            }),
        };
        Self::open(config, GAS_PRICE)
    }

    fn send(&mut self, from: &PrivateKeySigner, to: Address, value: U256, call: &impl SolCall) -> Sent {
        self.send_gas(from, to, value, call, SDK_GAS)
    }

    fn ledger(&self, user: Address) -> (U256, U256) {
        let l = self.view(LEDGER_ADDRESS, &L::getLedgerCall { user }).unwrap();
        (l.availableBalance, l.totalBalance)
    }

    fn account(&self, user: Address, provider: Address) -> zg_contracts::compute::Account {
        self.view(INFERENCE_ADDRESS, &I::getAccountCall { user, provider })
            .unwrap()
    }

    /// Registers `provider`'s service at `url` with its stake, `tee` signing settlements.
    fn register(&mut self, provider: &PrivateKeySigner, url: &str, tee: Address) {
        let call = I::addOrUpdateServiceCall {
            params: service(url, tee),
        };
        self.send(provider, INFERENCE_ADDRESS, SERVICE_STAKE, &call).ok();
    }

    /// Opens `user`'s ledger with `deposit` and moves `amount` into its sub-account with
    /// `provider`.
    fn open_account(&mut self, user: &PrivateKeySigner, provider: Address, deposit: U256, amount: U256) {
        let add = L::addLedgerCall {
            additionalInfo: String::new(),
        };
        self.send(user, LEDGER_ADDRESS, deposit, &add).ok();
        let transfer = L::transferFundCall {
            provider,
            serviceTypeStr: "inference".into(),
            amount,
        };
        self.send(user, LEDGER_ADDRESS, U256::ZERO, &transfer).ok();
    }
}

fn service(url: &str, signer: Address) -> ServiceParams {
    ServiceParams {
        serviceType: "chatbot".into(),
        url: url.into(),
        model: "SmolLM2-135M-Instruct".into(),
        verifiability: String::new(),
        inputPrice: U256::from(1_000_000_000u64),
        outputPrice: U256::from(2_000_000_000u64),
        additionalInfo: "{}".into(),
        teeSignerAddress: signer,
    }
}

/// A settlement signed by `key` over 0G's EIP-712 type.
fn settlement(
    key: &PrivateKeySigner,
    user: Address,
    provider: Address,
    fee: U256,
    nonce: u64,
) -> TEESettlementData {
    let mut item = TEESettlementData {
        user,
        provider,
        totalFee: fee,
        requestsHash: B256::repeat_byte(nonce as u8),
        nonce: U256::from(nonce),
        signature: Bytes::new(),
    };
    let sig = key.sign_hash_sync(&settlement_digest(CHAIN_ID, &item)).unwrap();
    item.signature = sig.as_bytes().to_vec().into();
    item
}

/// The selectors 0G's SDK encodes (from `0G-WIRE.md`).
#[test]
fn selectors_are_the_sdks() {
    assert_eq!(L::addLedgerCall::SELECTOR, [0xc5, 0xe5, 0x3f, 0x7e]);
    assert_eq!(L::transferFundCall::SELECTOR, [0x2b, 0xa4, 0x3b, 0x82]);
    assert_eq!(L::getLedgerCall::SELECTOR, [0xf7, 0xcd, 0x6a, 0xf9]);
    assert_eq!(L::getServiceInfoCall::SELECTOR, [0xe0, 0x32, 0xf7, 0x32]);
    assert_eq!(I::addOrUpdateServiceCall::SELECTOR, [0x39, 0x8c, 0x8e, 0x4e]);
    assert_eq!(I::getAllServicesCall::SELECTOR, [0xa0, 0x9c, 0xfc, 0xa9]);
    assert_eq!(I::getServiceCall::SELECTOR, [0x15, 0xa5, 0x23, 0x02]);
    assert_eq!(I::getAccountCall::SELECTOR, [0xfd, 0x59, 0x08, 0x47]);
    assert_eq!(I::acknowledgeTEESignerCall::SELECTOR, [0x7f, 0xf6, 0xfc, 0x1c]);
}

/// Hardhat's dev account 0 (0G's deployer) starts past the nonces whose CREATE
/// addresses are the compute contracts; other accounts start at 0; the contracts'
/// accounts hold the system code.
#[test]
fn the_deployer_of_0gs_addresses_never_collides_with_them() {
    let dev0: Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".parse().unwrap();
    assert_eq!(dev0.create(2), LEDGER_ADDRESS);
    assert_eq!(dev0.create(6), INFERENCE_ADDRESS);
    assert_eq!(dev0.create(12), FINE_TUNING_ADDRESS);
    assert_eq!(first_free_nonce(dev0), 13);
    assert_eq!(first_free_nonce(signer(0).address()), 0);
    let net = Net::new(&[dev0, signer(0).address()]);
    assert_eq!(net.chain.state().account(&dev0).unwrap().nonce, 13);
    assert_eq!(net.chain.state().account(&signer(0).address()).unwrap().nonce, 0);
    for address in [LEDGER_ADDRESS, INFERENCE_ADDRESS, FINE_TUNING_ADDRESS] {
        assert_eq!(&net.chain.state().code_of(&address)[..], &SYSTEM_CODE);
    }
    let lock = net.view(INFERENCE_ADDRESS, &I::lockTimeCall {}).unwrap();
    assert_eq!(lock, U256::from(LOCK));
    let info = net
        .view(
            LEDGER_ADDRESS,
            &L::getServiceInfoCall {
                serviceAddress: INFERENCE_ADDRESS,
            },
        )
        .unwrap();
    assert_eq!(
        (info.serviceContract, info.fullName.as_str()),
        (INFERENCE_ADDRESS, "inference")
    );
}

/// A user's whole round: a main account, a provider's staked service, a transfer into
/// the sub-account, acknowledgement, two settlements (full, then partial), refunds
/// locked and then paid, and the ledger's balance back to the wallet. Every wallet and
/// contract balance is checked to the wei, and every SDK call fits the SDK's gas.
#[test]
fn money_moves_exactly_from_ledger_to_provider_and_back() {
    let (user, provider, tee) = (signer(0), signer(1), signer(2));
    let mut net = Net::new(&[user.address(), provider.address()]);
    let (u, p) = (user.address(), provider.address());
    let wallet_u = net.balance(u);
    let wallet_p = net.balance(p);
    let mut gas_u = U256::ZERO;
    let mut gas_p = U256::ZERO;

    let sent = net.send(
        &provider,
        INFERENCE_ADDRESS,
        SERVICE_STAKE,
        &I::addOrUpdateServiceCall {
            params: service("http://127.0.0.1:3080", tee.address()),
        },
    );
    gas_p += sent.ok().fee();
    let sent = net.send(
        &user,
        LEDGER_ADDRESS,
        og(10),
        &L::addLedgerCall {
            additionalInfo: "zg".into(),
        },
    );
    assert!(sent.gas_used <= SDK_GAS);
    gas_u += sent.ok().fee();
    assert_eq!(net.ledger(u), (og(10), og(10)));

    let sent = net.send(
        &user,
        LEDGER_ADDRESS,
        U256::ZERO,
        &L::transferFundCall {
            provider: p,
            serviceTypeStr: "inference".into(),
            amount: og(2),
        },
    );
    assert!(sent.gas_used <= SDK_GAS, "transferFund used {}", sent.gas_used);
    let balance = sent.events::<I::BalanceUpdated>();
    assert_eq!((balance[0].user, balance[0].amount), (u, og(2)));
    gas_u += sent.ok().fee();
    assert_eq!(net.ledger(u), (og(8), og(10)));
    let providers = net
        .view(
            LEDGER_ADDRESS,
            &L::getLedgerProvidersCall {
                user: u,
                serviceType: "inference".into(),
            },
        )
        .unwrap();
    assert_eq!(providers, vec![p]);
    assert!(!net.account(u, p).acknowledged);

    let sent = net.send(
        &user,
        INFERENCE_ADDRESS,
        U256::ZERO,
        &I::acknowledgeTEESignerCall {
            provider: p,
            acknowledged: true,
        },
    );
    gas_u += sent.ok().fee();
    let account = net.account(u, p);
    assert!(account.acknowledged);
    assert_eq!((account.balance, account.nonce), (og(2), U256::ZERO));

    // 0.3 0G in full, then 5 0G of which the sub-account holds 1.7.
    let fee1 = ONE_0G * U256::from(3) / U256::from(10);
    let sent = net.send(
        &provider,
        INFERENCE_ADDRESS,
        U256::ZERO,
        &I::settleFeesWithTEECall {
            settlements: vec![settlement(&tee, u, p, fee1, 1)],
        },
    );
    let result = sent.events::<I::TEESettlementResult>();
    assert_eq!(
        (result[0].status, result[0].unsettledAmount),
        (SettlementStatus::Success as u8, U256::ZERO)
    );
    gas_p += sent.ok().fee();
    assert_eq!(net.ledger(u), (og(8), og(10) - fee1));
    let preview = |from| {
        net.view_from(
            from,
            INFERENCE_ADDRESS,
            &I::previewSettlementResultsCall {
                settlements: vec![settlement(&tee, u, p, og(5), 2)],
            },
        )
        .unwrap()
    };
    assert_eq!(preview(p), vec![SettlementStatus::Partial as u8]);
    assert_eq!(preview(u), vec![SettlementStatus::ProviderMismatch as u8]);
    let sent = net.send(
        &provider,
        INFERENCE_ADDRESS,
        U256::ZERO,
        &I::settleFeesWithTEECall {
            settlements: vec![settlement(&tee, u, p, og(5), 2)],
        },
    );
    let held = og(2) - fee1;
    let result = sent.events::<I::TEESettlementResult>();
    assert_eq!(
        (result[0].status, result[0].unsettledAmount),
        (SettlementStatus::Partial as u8, og(5) - held)
    );
    gas_p += sent.ok().fee();
    let account = net.account(u, p);
    assert_eq!((account.balance, account.nonce), (U256::ZERO, U256::from(2)));
    assert_eq!(net.ledger(u), (og(8), og(8)));
    assert_eq!(net.balance(p), wallet_p - SERVICE_STAKE - gas_p + og(2));

    // Top up 3 0G, ask for it back: locked for LOCK seconds, then paid to the ledger.
    let sent = net.send(
        &user,
        LEDGER_ADDRESS,
        U256::ZERO,
        &L::transferFundCall {
            provider: p,
            serviceTypeStr: "inference".into(),
            amount: og(3),
        },
    );
    gas_u += sent.ok().fee();
    let retrieve = L::retrieveFundCall {
        providers: vec![p],
        serviceType: "inference".into(),
    };
    let sent = net.send_gas(&user, LEDGER_ADDRESS, U256::ZERO, &retrieve, SDK_LIGHT_GAS);
    let requested = sent.events::<I::RefundRequested>();
    assert_eq!((requested.len(), requested[0].index), (1, U256::ZERO));
    gas_u += sent.ok().fee();
    let account = net.account(u, p);
    assert_eq!(
        (account.balance, account.pendingRefund, account.refunds.len()),
        (og(3), og(3), 1)
    );
    assert_eq!(net.ledger(u), (og(5), og(8)));
    // Too early: nothing is paid and no second refund is started (nothing is left to lock).
    net.now += LOCK / 2;
    gas_u += net
        .send_gas(&user, LEDGER_ADDRESS, U256::ZERO, &retrieve, SDK_LIGHT_GAS)
        .ok()
        .fee();
    assert_eq!(net.ledger(u), (og(5), og(8)));
    assert_eq!(net.account(u, p).refunds.len(), 1);
    net.now += LOCK;
    let sent = net.send_gas(&user, LEDGER_ADDRESS, U256::ZERO, &retrieve, SDK_LIGHT_GAS);
    assert!(sent.gas_used <= SDK_LIGHT_GAS);
    gas_u += sent.ok().fee();
    assert_eq!(net.ledger(u), (og(8), og(8)));
    let account = net.account(u, p);
    assert_eq!(
        (account.balance, account.pendingRefund, account.refunds.len()),
        (U256::ZERO, U256::ZERO, 0)
    );

    // Out of the ledger into the wallet: every wei accounted for.
    let sent = net.send_gas(
        &user,
        LEDGER_ADDRESS,
        U256::ZERO,
        &L::refundCall { amount: og(8) },
        SDK_LIGHT_GAS,
    );
    gas_u += sent.ok().fee();
    assert_eq!(net.ledger(u), (U256::ZERO, U256::ZERO));
    assert_eq!(net.balance(u), wallet_u - gas_u - og(2));
    assert_eq!(net.balance(LEDGER_ADDRESS), U256::ZERO);
    assert_eq!(net.balance(INFERENCE_ADDRESS), SERVICE_STAKE);
    let sent = net.send_gas(
        &user,
        LEDGER_ADDRESS,
        U256::ZERO,
        &L::deleteLedgerCall {},
        SDK_LIGHT_GAS,
    );
    sent.ok();
    assert!(net.view(LEDGER_ADDRESS, &L::getLedgerCall { user: u }).is_err());

    // The provider leaves: its stake comes back.
    let before = net.balance(p);
    let sent = net.send(&provider, INFERENCE_ADDRESS, U256::ZERO, &I::removeServiceCall {});
    let fee = sent.ok().fee();
    assert_eq!(net.balance(p), before - fee + SERVICE_STAKE);
    assert_eq!(net.balance(INFERENCE_ADDRESS), U256::ZERO);
}

/// A transfer while a refund is pending cancels that refund first: the money was
/// already in the sub-account, so only the rest leaves the main account.
#[test]
fn a_transfer_cancels_pending_refunds_before_moving_money() {
    let (user, provider, tee) = (signer(0), signer(1), signer(2));
    let mut net = Net::new(&[user.address(), provider.address()]);
    let (u, p) = (user.address(), provider.address());
    net.register(&provider, "https://provider.example/", tee.address());
    net.send(
        &user,
        LEDGER_ADDRESS,
        og(10),
        &L::addLedgerCall {
            additionalInfo: String::new(),
        },
    )
    .ok();
    let transfer = |amount| L::transferFundCall {
        provider: p,
        serviceTypeStr: "inference".into(),
        amount,
    };
    net.send(&user, LEDGER_ADDRESS, U256::ZERO, &transfer(og(4))).ok();
    let retrieve = L::retrieveFundCall {
        providers: vec![p],
        serviceType: "inference".into(),
    };
    net.send(&user, LEDGER_ADDRESS, U256::ZERO, &retrieve).ok();
    assert_eq!(net.account(u, p).pendingRefund, og(4));
    // 3 0G: all of it from the pending refund.
    net.send(&user, LEDGER_ADDRESS, U256::ZERO, &transfer(og(3))).ok();
    let account = net.account(u, p);
    assert_eq!((account.balance, account.pendingRefund), (og(4), og(1)));
    assert_eq!(net.ledger(u), (og(6), og(10)));
    // 2 0G: 1 from the refund, 1 from the ledger.
    net.send(&user, LEDGER_ADDRESS, U256::ZERO, &transfer(og(2))).ok();
    let account = net.account(u, p);
    assert_eq!(
        (account.balance, account.pendingRefund, account.refunds.len()),
        (og(5), U256::ZERO, 0)
    );
    assert_eq!(net.ledger(u), (og(5), og(10)));
    assert_eq!(
        net.balance(LEDGER_ADDRESS) + net.balance(INFERENCE_ADDRESS),
        og(10) + SERVICE_STAKE
    );
}

/// Every settlement status, and nothing paid for the refused ones: another provider's
/// item, an unacknowledged sub-account, an old nonce, another key's signature, a
/// malformed signature, and a signer changed after the user acknowledged the old one.
#[test]
fn settlements_are_refused_with_0gs_statuses_and_pay_nothing() {
    let (user, provider, tee, other) = (signer(0), signer(1), signer(2), signer(3));
    let mut net = Net::new(&[user.address(), provider.address(), other.address()]);
    let (u, p) = (user.address(), provider.address());
    net.register(&provider, "http://127.0.0.1:3080", tee.address());
    net.open_account(&user, p, og(10), og(5));
    let settle = |items| I::settleFeesWithTEECall { settlements: items };
    // Not acknowledged yet.
    let sent = net.send(
        &provider,
        INFERENCE_ADDRESS,
        U256::ZERO,
        &settle(vec![settlement(&tee, u, p, og(1), 1)]),
    );
    assert_eq!(
        sent.events::<I::TEESettlementResult>()[0].status,
        SettlementStatus::NoTeeSigner as u8
    );
    net.send(
        &user,
        INFERENCE_ADDRESS,
        U256::ZERO,
        &I::acknowledgeTEESignerCall {
            provider: p,
            acknowledged: true,
        },
    )
    .ok();
    let mut bad_sig = settlement(&tee, u, p, og(1), 1);
    bad_sig.signature = Bytes::from(vec![7u8; 12]);
    let mut tampered = settlement(&tee, u, p, og(1), 1);
    tampered.totalFee = og(2);
    let items = vec![
        settlement(&tee, u, other.address(), og(1), 1),
        settlement(&other, u, p, og(1), 1),
        bad_sig,
        tampered,
        settlement(&tee, u, p, og(1), 1),
        settlement(&tee, u, p, og(1), 1),
    ];
    let sent = net.send(&provider, INFERENCE_ADDRESS, U256::ZERO, &settle(items));
    let statuses: Vec<u8> = sent
        .events::<I::TEESettlementResult>()
        .iter()
        .map(|r| r.status)
        .collect();
    use SettlementStatus::*;
    let expected = [
        ProviderMismatch,
        InvalidSignature,
        InvalidSignature,
        InvalidSignature,
        Success,
        InvalidNonce,
    ];
    assert_eq!(statuses, expected.map(|s| s as u8).to_vec());
    sent.ok();
    assert_eq!(net.account(u, p).balance, og(4), "only the one good item paid");

    // The provider swaps its signer: the user's acknowledgement no longer covers it.
    net.send(
        &provider,
        INFERENCE_ADDRESS,
        U256::ZERO,
        &I::addOrUpdateServiceCall {
            params: service("http://127.0.0.1:3080", other.address()),
        },
    )
    .ok();
    assert!(!net.account(u, p).acknowledged);
    let sent = net.send(
        &provider,
        INFERENCE_ADDRESS,
        U256::ZERO,
        &settle(vec![settlement(&other, u, p, og(1), 2)]),
    );
    assert_eq!(
        sent.events::<I::TEESettlementResult>()[0].status,
        NoTeeSigner as u8
    );
    assert_eq!(net.account(u, p).balance, og(4));

    let too_many = vec![settlement(&tee, u, p, U256::from(1), 3); 51];
    let error: I::TooManySettlements = net
        .send_gas(
            &provider,
            INFERENCE_ADDRESS,
            U256::ZERO,
            &settle(too_many),
            3_000_000,
        )
        .reverted();
    assert_eq!(error.maximum, U256::from(50));
}

/// Token revocation as the SDK's keys read it: one id sets its bit, revoking all bumps
/// the generation and clears the bitmap.
#[test]
fn tokens_are_revoked_one_by_one_or_all_at_once() {
    let (user, provider, tee) = (signer(0), signer(1), signer(2));
    let mut net = Net::new(&[user.address(), provider.address()]);
    let (u, p) = (user.address(), provider.address());
    net.register(&provider, "http://127.0.0.1:3080", tee.address());
    let error: I::AccountNotExists = net
        .send(
            &user,
            INFERENCE_ADDRESS,
            U256::ZERO,
            &I::revokeTokenCall {
                provider: p,
                tokenId: 3,
            },
        )
        .reverted();
    assert_eq!((error.user, error.provider), (u, p));
    net.open_account(&user, p, og(3), U256::ZERO);
    let sent = net.send_gas(
        &user,
        INFERENCE_ADDRESS,
        U256::ZERO,
        &I::revokeTokenCall {
            provider: p,
            tokenId: 3,
        },
        SDK_LIGHT_GAS,
    );
    assert_eq!(sent.events::<I::TokenRevoked>()[0].tokenId, 3);
    sent.ok();
    net.send_gas(
        &user,
        INFERENCE_ADDRESS,
        U256::ZERO,
        &I::revokeTokensCall {
            provider: p,
            tokenIds: vec![0, 255],
        },
        SDK_LIGHT_GAS,
    )
    .ok();
    let revoked = |net: &Net, id| {
        net.view(
            INFERENCE_ADDRESS,
            &I::isTokenRevokedCall {
                user: u,
                provider: p,
                tokenId: id,
            },
        )
        .unwrap()
    };
    assert!(revoked(&net, 3) && revoked(&net, 0) && revoked(&net, 255) && !revoked(&net, 4));
    let account = net.account(u, p);
    assert_eq!(account.revokedBitmap, (U256::from(1) << 255) | U256::from(0b1001));
    let sent = net.send_gas(
        &user,
        INFERENCE_ADDRESS,
        U256::ZERO,
        &I::revokeAllTokensCall { provider: p },
        SDK_LIGHT_GAS,
    );
    assert_eq!(
        sent.events::<I::AllTokensRevoked>()[0].newGeneration,
        U256::from(1)
    );
    sent.ok();
    let account = net.account(u, p);
    assert_eq!(
        (account.generation, account.revokedBitmap),
        (U256::from(1), U256::ZERO)
    );
    assert!(!revoked(&net, 3));
}

/// Bad calls revert with 0G's custom errors (the SDK decodes them by name) and change
/// nothing: missing and duplicate ledgers, too little to open one, unknown service
/// names and providers, too much to transfer, malformed services, too little stake,
/// ledger-only entry points, the owner's acknowledgement by someone else, and more
/// providers than a batch allows.
#[test]
fn bad_calls_revert_with_0gs_errors() {
    let (user, provider, tee, owner) = (signer(0), signer(1), signer(2), signer(9));
    let mut net = Net::new(&[user.address(), provider.address(), owner.address()]);
    let (u, p) = (user.address(), provider.address());
    let missing = net
        .view(LEDGER_ADDRESS, &L::getLedgerCall { user: u })
        .unwrap_err();
    assert_eq!(L::LedgerNotExists::abi_decode(&missing).unwrap().user, u);
    let error: L::InsufficientBalance = net
        .send(
            &user,
            LEDGER_ADDRESS,
            MIN_LEDGER_BALANCE - U256::from(1),
            &L::addLedgerCall {
                additionalInfo: String::new(),
            },
        )
        .reverted();
    assert_eq!(error.user, u);
    net.send(
        &user,
        LEDGER_ADDRESS,
        og(5),
        &L::addLedgerCall {
            additionalInfo: String::new(),
        },
    )
    .ok();
    let _: L::LedgerExists = net
        .send(
            &user,
            LEDGER_ADDRESS,
            og(5),
            &L::addLedgerCall {
                additionalInfo: String::new(),
            },
        )
        .reverted();

    let transfer = |name: &str, amount| L::transferFundCall {
        provider: p,
        serviceTypeStr: name.into(),
        amount,
    };
    let error: L::InvalidServiceType = net
        .send(&user, LEDGER_ADDRESS, U256::ZERO, &transfer("training", og(1)))
        .reverted();
    assert_eq!(error.serviceType, "training");
    // FineTuningServing is a service contract too, but p offers no training there.
    let error: L::ServiceNotExist = net
        .send(&user, LEDGER_ADDRESS, U256::ZERO, &transfer("fine-tuning", og(1)))
        .reverted();
    assert_eq!(error.provider, p);
    let error: L::ServiceNotExist = net
        .send(&user, LEDGER_ADDRESS, U256::ZERO, &transfer("inference", og(1)))
        .reverted();
    assert_eq!(error.provider, p);

    let mut bad = service("ftp://host", tee.address());
    let error: I::InvalidServiceParams = net
        .send(
            &provider,
            INFERENCE_ADDRESS,
            SERVICE_STAKE,
            &I::addOrUpdateServiceCall { params: bad.clone() },
        )
        .reverted();
    assert!(error.reason.contains("url"), "{}", error.reason);
    bad.url = "http://host".into();
    bad.additionalInfo = "x".repeat(4097);
    let error: I::InvalidServiceParams = net
        .send_gas(
            &provider,
            INFERENCE_ADDRESS,
            SERVICE_STAKE,
            &I::addOrUpdateServiceCall { params: bad },
            3_000_000,
        )
        .reverted();
    assert!(
        error.reason.contains("additionalInfo is 4097 bytes"),
        "{}",
        error.reason
    );
    let error: I::InsufficientStake = net
        .send(
            &provider,
            INFERENCE_ADDRESS,
            og(1),
            &I::addOrUpdateServiceCall {
                params: service("http://127.0.0.1:3080", tee.address()),
            },
        )
        .reverted();
    assert_eq!((error.required, error.paid), (SERVICE_STAKE, og(1)));
    let sent = net.send(
        &provider,
        INFERENCE_ADDRESS,
        SERVICE_STAKE,
        &I::addOrUpdateServiceCall {
            params: service("http://127.0.0.1:3080", tee.address()),
        },
    );
    assert!(
        sent.gas_used <= SDK_GAS,
        "addOrUpdateService used {}",
        sent.gas_used
    );
    sent.ok();
    let error: L::InsufficientBalance = net
        .send(&user, LEDGER_ADDRESS, U256::ZERO, &transfer("inference", og(6)))
        .reverted();
    assert_eq!(error.user, u);
    assert_eq!(net.ledger(u), (og(5), og(5)));

    let error: I::Unauthorized = net
        .send(
            &user,
            INFERENCE_ADDRESS,
            og(1),
            &I::addAccountCall {
                user: u,
                provider: p,
                additionalInfo: String::new(),
            },
        )
        .reverted();
    assert_eq!(error.caller, u);
    let _: I::Unauthorized = net
        .send(
            &user,
            INFERENCE_ADDRESS,
            U256::ZERO,
            &I::acknowledgeTEESignerByOwnerCall { provider: p },
        )
        .reverted();
    net.send(
        &owner,
        INFERENCE_ADDRESS,
        U256::ZERO,
        &I::acknowledgeTEESignerByOwnerCall { provider: p },
    )
    .ok();
    assert!(
        net.view(INFERENCE_ADDRESS, &I::getServiceCall { provider: p })
            .unwrap()
            .teeSignerAcknowledged
    );

    let error: L::TooManyProviders = net
        .send(
            &user,
            LEDGER_ADDRESS,
            U256::ZERO,
            &L::retrieveFundCall {
                providers: vec![p; 21],
                serviceType: "inference".into(),
            },
        )
        .reverted();
    assert_eq!((error.requested, error.maximum), (U256::from(21), U256::from(20)));
    let error: I::AccountNotExists = net
        .send(
            &user,
            LEDGER_ADDRESS,
            U256::ZERO,
            &L::retrieveFundCall {
                providers: vec![p],
                serviceType: "inference".into(),
            },
        )
        .reverted();
    assert_eq!(error.provider, p);
    // Value sent to a function that takes none: a plain revert, the value stays.
    let before = net.balance(u);
    let sent = net.send(
        &user,
        LEDGER_ADDRESS,
        og(1),
        &L::refundCall { amount: U256::ZERO },
    );
    assert!(matches!(sent.outcome, TxOutcome::Revert { .. }));
    assert_eq!(net.balance(u), before - sent.fee());
    assert_eq!(net.ledger(u), (og(5), og(5)));
}

/// Paginated views: `getAllServices`, `getAllLedgers` and `getAllAccounts` page through
/// every entry with the total, capped at 50 per page; removing a service keeps the
/// others listed.
#[test]
fn listings_page_through_every_entry() {
    let providers: Vec<PrivateKeySigner> = (10..13).map(signer).collect();
    let user = signer(0);
    let mut funded: Vec<Address> = providers.iter().map(|s| s.address()).collect();
    funded.push(user.address());
    let mut net = Net::new(&funded);
    for (i, provider) in providers.iter().enumerate() {
        net.send(
            &provider.clone(),
            INFERENCE_ADDRESS,
            SERVICE_STAKE,
            &I::addOrUpdateServiceCall {
                params: service(&format!("http://127.0.0.1:{}", 3080 + i), signer(2).address()),
            },
        )
        .ok();
        net.send(
            &user,
            LEDGER_ADDRESS,
            if i == 0 { og(10) } else { U256::ZERO },
            &L::depositFundCall {},
        )
        .ok();
        net.send(
            &user,
            LEDGER_ADDRESS,
            U256::ZERO,
            &L::transferFundCall {
                provider: provider.address(),
                serviceTypeStr: "inference".into(),
                amount: og(1),
            },
        )
        .ok();
    }
    let all = net
        .view(
            INFERENCE_ADDRESS,
            &I::getAllServicesCall {
                offset: U256::ZERO,
                limit: U256::from(1000),
            },
        )
        .unwrap();
    assert_eq!(all.total, U256::from(3));
    assert_eq!(
        all.services.iter().map(|s| s.url.as_str()).collect::<Vec<_>>(),
        [
            "http://127.0.0.1:3080",
            "http://127.0.0.1:3081",
            "http://127.0.0.1:3082"
        ]
    );
    let page = net
        .view(
            INFERENCE_ADDRESS,
            &I::getAllServicesCall {
                offset: U256::from(2),
                limit: U256::from(5),
            },
        )
        .unwrap();
    assert_eq!(page.services.len(), 1);
    let accounts = net
        .view(
            INFERENCE_ADDRESS,
            &I::getAllAccountsCall {
                offset: U256::ZERO,
                limit: U256::from(50),
            },
        )
        .unwrap();
    assert_eq!(accounts.total, U256::from(3));
    assert!(
        accounts
            .accounts
            .iter()
            .all(|a| a.user == user.address() && a.balance == og(1))
    );
    let ledgers = net
        .view(
            LEDGER_ADDRESS,
            &L::getAllLedgersCall {
                offset: U256::ZERO,
                limit: U256::from(50),
            },
        )
        .unwrap();
    assert_eq!(
        (ledgers.total, ledgers.ledgers[0].totalBalance),
        (U256::from(1), og(10))
    );

    net.send(
        &providers[0].clone(),
        INFERENCE_ADDRESS,
        U256::ZERO,
        &I::removeServiceCall {},
    )
    .ok();
    let all = net
        .view(
            INFERENCE_ADDRESS,
            &I::getAllServicesCall {
                offset: U256::ZERO,
                limit: U256::from(50),
            },
        )
        .unwrap();
    let mut urls: Vec<&str> = all.services.iter().map(|s| s.url.as_str()).collect();
    urls.sort();
    assert_eq!(urls, ["http://127.0.0.1:3081", "http://127.0.0.1:3082"]);
    let missing = net
        .view(
            INFERENCE_ADDRESS,
            &I::getServiceCall {
                provider: providers[0].address(),
            },
        )
        .unwrap_err();
    assert_eq!(
        I::ServiceNotExist::abi_decode(&missing).unwrap().provider,
        providers[0].address()
    );
    // Its sub-account stays, so the user can still get the money back.
    assert_eq!(net.account(user.address(), providers[0].address()).balance, og(1));
}
