//! 0G's FineTuningServing through the chain: a provider's staked service, sub-accounts
//! the ledger funds under `fine-tuning`, deliverables and their acknowledgement, and
//! `settleFees` with every money path exact to the wei (the full fee after an
//! acknowledgement, the penalty share without one, refunds cancelled to cover a fee),
//! every refusal decoded by its 0G error, and every call within the SDK's 300,000 gas.

mod common;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolError};
use common::{Net, Sent, signer};
use zg_contracts::compute::{ILedgerManager as L, ONE_0G, SERVICE_STAKE};
use zg_contracts::fine_tuning::{
    AccountDetails, DEFAULT_PENALTY_PERCENTAGE, Deliverable, IFineTuningServing as F, MAX_DELIVERABLES,
    Quota, VerifierInput, verifier_digest,
};
use zg_evm::ChainConfig;
use zg_evm::system::{FINE_TUNING_ADDRESS, LEDGER_ADDRESS, SystemConfig};

const CHAIN_ID: u64 = 31337;
const GAS_PRICE: u128 = 2_000_000_000;
const LOCK: u64 = 100;
const START: u64 = 1_700_000_000;
/// The gas `zerog_py_sdk.fine_tuning` sends with every transaction.
const SDK_GAS: u64 = 300_000;

fn og(n: u64) -> U256 {
    ONE_0G * U256::from(n)
}

/// `n` tenths of a 0G.
fn tenths(n: u64) -> U256 {
    ONE_0G * U256::from(n) / U256::from(10)
}

/// A user, a provider, its TEE signer and the contracts' owner, on a chain where the
/// provider's service is registered and its signer vouched for by the owner.
struct Setup {
    net: Net,
    user: PrivateKeySigner,
    provider: PrivateKeySigner,
    tee: PrivateKeySigner,
    owner: PrivateKeySigner,
}

impl Setup {
    fn new() -> Self {
        let (user, provider, tee, owner) = (signer(0), signer(1), signer(2), signer(9));
        let funded = [user.address(), provider.address(), owner.address()];
        let config = ChainConfig {
            chain_id: CHAIN_ID,
            gas_limit: 30_000_000,
            coinbase: Address::repeat_byte(0xcb),
            genesis_timestamp: START,
            alloc: funded.iter().map(|a| (*a, og(1_000))).collect(),
            system: Some(SystemConfig {
                refund_lock_secs: LOCK,
                compute_owner: owner.address(),
                ..SystemConfig::default()
            }),
        };
        let mut setup = Self {
            net: Net::open(config, GAS_PRICE),
            user,
            provider,
            tee,
            owner,
        };
        let register = service_call("http://127.0.0.1:3090", setup.tee.address());
        let provider = setup.provider.clone();
        setup.send(&provider, SERVICE_STAKE, &register).ok();
        let owner = setup.owner.clone();
        let vouch = F::acknowledgeTEESignerByOwnerCall {
            provider: provider.address(),
        };
        setup.send(&owner, U256::ZERO, &vouch).ok();
        setup
    }

    fn u(&self) -> Address {
        self.user.address()
    }

    fn p(&self) -> Address {
        self.provider.address()
    }

    /// Sends `call` to FineTuningServing with the SDK's gas, checking it fits.
    fn send(&mut self, from: &PrivateKeySigner, value: U256, call: &impl SolCall) -> Sent {
        let sent = self.net.send_gas(from, FINE_TUNING_ADDRESS, value, call, SDK_GAS);
        assert!(sent.gas_used < SDK_GAS, "used {} gas", sent.gas_used);
        sent
    }

    fn ledger_call(&mut self, value: U256, call: &impl SolCall) -> Sent {
        let user = self.user.clone();
        let sent = self.net.send_gas(&user, LEDGER_ADDRESS, value, call, SDK_GAS);
        assert!(sent.gas_used < SDK_GAS, "used {} gas", sent.gas_used);
        sent
    }

    /// The user's ledger with `deposit`, then `amount` moved to the provider for fine-tuning.
    fn fund(&mut self, deposit: U256, amount: U256) {
        let add = L::addLedgerCall {
            additionalInfo: String::new(),
        };
        self.ledger_call(deposit, &add).ok();
        self.transfer(amount).ok();
    }

    fn transfer(&mut self, amount: U256) -> Sent {
        let transfer = L::transferFundCall {
            provider: self.p(),
            serviceTypeStr: "fine-tuning".into(),
            amount,
        };
        self.ledger_call(U256::ZERO, &transfer)
    }

    fn ledger(&self) -> (U256, U256) {
        let l = self
            .net
            .view(LEDGER_ADDRESS, &L::getLedgerCall { user: self.u() })
            .unwrap();
        (l.availableBalance, l.totalBalance)
    }

    fn account(&self) -> AccountDetails {
        let call = F::getAccountCall {
            user: self.u(),
            provider: self.p(),
        };
        self.net.view(FINE_TUNING_ADDRESS, &call).unwrap()
    }

    fn deliverable(&self, id: &str) -> Deliverable {
        let call = F::getDeliverableCall {
            user: self.u(),
            provider: self.p(),
            id: id.into(),
        };
        self.net.view(FINE_TUNING_ADDRESS, &call).unwrap()
    }

    fn add_deliverable(&mut self, id: &str, root: &[u8]) -> Sent {
        let call = F::addDeliverableCall {
            user: self.u(),
            id: id.into(),
            modelRootHash: root.to_vec().into(),
        };
        let provider = self.provider.clone();
        self.send(&provider, U256::ZERO, &call)
    }

    fn acknowledge(&mut self, id: &str) -> Sent {
        let call = F::acknowledgeDeliverableCall {
            provider: self.p(),
            id: id.into(),
        };
        let user = self.user.clone();
        self.send(&user, U256::ZERO, &call)
    }

    /// A settlement of `id` signed by the TEE signer.
    fn input(&self, id: &str, root: &[u8], secret: &[u8], fee: U256, nonce: u64) -> VerifierInput {
        signed(&self.tee, self.u(), id, root, secret, fee, nonce)
    }

    fn settle(&mut self, input: VerifierInput) -> Sent {
        let provider = self.provider.clone();
        self.send(&provider, U256::ZERO, &F::settleFeesCall { verifierInput: input })
    }
}

fn service_call(url: &str, tee: Address) -> F::addOrUpdateServiceCall {
    F::addOrUpdateServiceCall {
        url: url.into(),
        quota: Quota {
            cpuCount: U256::from(2),
            nodeMemory: U256::from(24),
            gpuCount: U256::ZERO,
            nodeStorage: U256::from(64),
            gpuType: "cpu".into(),
        },
        pricePerToken: U256::from(1_000_000_000u64),
        occupied: false,
        models: vec!["SmolLM2-135M-Instruct".into()],
        teeSignerAddress: tee,
    }
}

fn signed(
    key: &PrivateKeySigner,
    user: Address,
    id: &str,
    root: &[u8],
    secret: &[u8],
    fee: U256,
    nonce: u64,
) -> VerifierInput {
    let mut input = VerifierInput {
        id: id.into(),
        encryptedSecret: secret.to_vec().into(),
        modelRootHash: root.to_vec().into(),
        nonce: U256::from(nonce),
        signature: Bytes::new(),
        taskFee: fee,
        user,
    };
    let sig = key.sign_hash_sync(&verifier_digest(CHAIN_ID, &input)).unwrap();
    input.signature = sig.as_bytes().to_vec().into();
    input
}

fn root(n: u8) -> Vec<u8> {
    B256::repeat_byte(n).to_vec()
}

/// The user funds a provider, which delivers a model; the user acknowledges it and the
/// provider settles the full fee with the sealed key; a second settlement of it is
/// refused; the next task goes unacknowledged and the provider takes only 30% of its
/// fee. The provider's wallet, the user's ledger and the sub-account move by exactly
/// the fees.
#[test]
fn full_fee_after_acknowledgement_and_the_penalty_share_without() {
    let mut s = Setup::new();
    let (u, p) = (s.u(), s.p());
    s.fund(og(10), og(4));
    assert_eq!(s.ledger(), (og(6), og(10)));
    let account = s.account();
    assert_eq!((account.balance, account.nonce), (og(4), U256::ZERO));
    // 0G's contract trusts the provider's signer once the user funds it.
    assert!(account.acknowledged);
    let providers = s
        .net
        .view(
            LEDGER_ADDRESS,
            &L::getLedgerProvidersCall {
                user: u,
                serviceType: "fine-tuning".into(),
            },
        )
        .unwrap();
    assert_eq!(providers, vec![p]);
    let inference = L::getLedgerProvidersCall {
        user: u,
        serviceType: "inference".into(),
    };
    assert!(s.net.view(LEDGER_ADDRESS, &inference).unwrap().is_empty());
    let by_provider = F::getAccountsByProviderCall {
        provider: p,
        offset: U256::ZERO,
        limit: U256::ZERO,
    };
    let (accounts, total) = s.net.view(FINE_TUNING_ADDRESS, &by_provider).unwrap().into();
    assert_eq!(
        (accounts[0].user, accounts[0].balance, total),
        (u, og(4), U256::from(1))
    );

    let wallet_p = s.net.balance(p);
    let sent = s.add_deliverable("task-1", &root(1));
    let added = sent.events::<F::DeliverableAdded>();
    assert_eq!(
        (added[0].deliverableId.as_str(), &added[0].modelRootHash[..]),
        ("task-1", &root(1)[..])
    );
    let mut gas_p = sent.ok().fee();
    assert_eq!(
        s.acknowledge("task-1")
            .ok()
            .events::<F::DeliverableAcknowledged>()
            .len(),
        1
    );

    let fee = tenths(15);
    let secret = b"ecies-sealed key".to_vec();
    let sent = s.settle(s.input("task-1", &root(1), &secret, fee, 1));
    let settled = sent.events::<F::FeesSettled>();
    assert_eq!((settled[0].fee, settled[0].acknowledged), (fee, true));
    gas_p += sent.ok().fee();
    assert_eq!(s.net.balance(p), wallet_p - gas_p + fee);
    assert_eq!(s.ledger(), (og(6), og(10) - fee));
    let account = s.account();
    assert_eq!((account.balance, account.nonce), (og(4) - fee, U256::from(1)));
    let delivered = s.deliverable("task-1");
    assert!(delivered.settled && delivered.acknowledged);
    assert_eq!(&delivered.encryptedSecret[..], &secret[..]);

    // The same deliverable again, even with a fresh nonce: refused, nothing moves.
    let again = s.settle(s.input("task-1", &root(1), &secret, fee, 2));
    // A refused settlement's gas is the provider's too.
    gas_p += again.fee();
    let error: F::DeliverableAlreadySettled = again.reverted();
    assert_eq!(error.id, "task-1");
    assert_eq!(s.account().balance, og(4) - fee);
    let error: F::CannotAcknowledgeSettledDeliverable = s.acknowledge("task-1").reverted();
    assert_eq!(error.id, "task-1");

    // Task 2 is never acknowledged: no key may be handed over, and 30% is paid.
    gas_p += s.add_deliverable("task-2", &root(2)).ok().fee();
    let refused = s.settle(s.input("task-2", &root(2), &secret, og(2), 2));
    gas_p += refused.fee();
    assert_eq!(
        refused.reverted::<F::SecretShouldBeEmpty>(),
        F::SecretShouldBeEmpty {}
    );
    let sent = s.settle(s.input("task-2", &root(2), &[], og(2), 2));
    let penalty = og(2) * U256::from(DEFAULT_PENALTY_PERCENTAGE) / U256::from(100);
    assert_eq!(penalty, tenths(6));
    let settled = sent.events::<F::FeesSettled>();
    assert_eq!((settled[0].fee, settled[0].acknowledged), (penalty, false));
    gas_p += sent.ok().fee();
    assert_eq!(s.net.balance(p), wallet_p - gas_p + fee + penalty);
    assert_eq!(s.ledger(), (og(6), og(10) - fee - penalty));
    assert_eq!(s.account().balance, og(4) - fee - penalty);
    let late: F::CannotAcknowledgeSettledDeliverable = s.acknowledge("task-2").reverted();
    assert_eq!(late.id, "task-2");
    assert!(s.deliverable("task-2").encryptedSecret.is_empty());
}

/// Every check `settleFees` makes, each refused with nothing paid.
#[test]
fn settlements_that_do_not_check_out_are_refused() {
    let mut s = Setup::new();
    let u = s.u();
    s.fund(og(5), og(2));
    s.add_deliverable("task-1", &root(1)).ok();
    s.acknowledge("task-1").ok();
    let secret = b"sealed".to_vec();
    let reason = |sent: Sent| sent.reverted::<F::InvalidVerifierInput>().reason;

    let stranger = signer(5);
    let forged = signed(&stranger, u, "task-1", &root(1), &secret, ONE_0G, 1);
    assert_eq!(reason(s.settle(forged)), "TEE settlement validation failed");
    let mut raised = s.input("task-1", &root(1), &secret, ONE_0G, 1);
    raised.taskFee = og(2);
    assert_eq!(reason(s.settle(raised)), "TEE settlement validation failed");
    let mut swapped = s.input("task-1", &root(1), &secret, ONE_0G, 1);
    swapped.encryptedSecret = b"another key".to_vec().into();
    assert_eq!(reason(s.settle(swapped)), "TEE settlement validation failed");
    assert_eq!(
        reason(s.settle(s.input("task-1", &root(9), &secret, ONE_0G, 1))),
        "model root hash mismatch"
    );
    assert!(
        reason(s.settle(s.input("task-1", &root(1), &secret, og(3), 1)))
            .contains("above the account's balance")
    );
    assert!(
        reason(s.settle(s.input("task-1", &root(1), &secret, ONE_0G, 0))).contains("nonce 0 is not above")
    );
    let error: F::DeliverableNotExists = s
        .settle(s.input("task-9", &root(1), &secret, ONE_0G, 1))
        .reverted();
    assert_eq!(error.id, "task-9");
    let error: F::DeliverableIdInvalidLength = s.settle(s.input("", &root(1), &secret, ONE_0G, 1)).reverted();
    assert_eq!(error.length, U256::ZERO);
    let error: F::SecretShouldNotBeEmpty = s.settle(s.input("task-1", &root(1), &[], ONE_0G, 1)).reverted();
    assert_eq!(error, F::SecretShouldNotBeEmpty {});
    // Someone else "settling" the user's account as a provider has no account with them.
    let other = s.owner.clone();
    let call = F::settleFeesCall {
        verifierInput: s.input("task-1", &root(1), &secret, ONE_0G, 1),
    };
    let sent = s
        .net
        .send_gas(&other, FINE_TUNING_ADDRESS, U256::ZERO, &call, SDK_GAS);
    let error: F::AccountNotExists = sent.reverted();
    assert_eq!((error.user, error.provider), (u, other.address()));

    // The owner withdraws its word for the signer: nothing settles until it is back.
    let owner = s.owner.clone();
    let revoke = F::revokeTEESignerAcknowledgementCall { provider: s.p() };
    s.send(&owner, U256::ZERO, &revoke).ok();
    assert_eq!(
        reason(s.settle(s.input("task-1", &root(1), &secret, ONE_0G, 1))),
        "TEE signer not acknowledged"
    );
    let vouch = F::acknowledgeTEESignerByOwnerCall { provider: s.p() };
    s.send(&owner, U256::ZERO, &vouch).ok();
    // The user withdraws its trust: the same.
    let user = s.user.clone();
    let distrust = F::acknowledgeTEESignerCall {
        provider: s.p(),
        acknowledged: false,
    };
    s.send(&user, U256::ZERO, &distrust).ok();
    assert!(!s.account().acknowledged);
    assert_eq!(
        reason(s.settle(s.input("task-1", &root(1), &secret, ONE_0G, 1))),
        "TEE signer not acknowledged"
    );
    // A transfer trusts it again (0G's rule), and the settlement goes through.
    s.transfer(U256::ZERO).ok();
    assert!(s.account().acknowledged);
    assert_eq!(s.account().balance, og(2));
    s.settle(s.input("task-1", &root(1), &secret, ONE_0G, 1)).ok();
    assert_eq!(s.account().balance, ONE_0G);
}

/// A fee larger than what is not being refunded cancels pending refunds, newest first;
/// what stays pending is paid back after the lock.
#[test]
fn a_fee_cancels_pending_refunds_and_the_rest_comes_back() {
    let mut s = Setup::new();
    s.fund(og(10), og(3));
    let retrieve = L::retrieveFundCall {
        providers: vec![s.p()],
        serviceType: "fine-tuning".into(),
    };
    let requested = s
        .ledger_call(U256::ZERO, &retrieve)
        .ok()
        .events::<F::RefundRequested>();
    assert_eq!(requested.len(), 1);
    let account = s.account();
    assert_eq!((account.balance, account.pendingRefund), (og(3), og(3)));
    assert_eq!(s.ledger(), (og(7), og(10)));

    s.add_deliverable("task-1", &root(1)).ok();
    s.acknowledge("task-1").ok();
    let fee = tenths(12);
    s.settle(s.input("task-1", &root(1), b"k", fee, 1)).ok();
    let account = s.account();
    assert_eq!(
        (account.balance, account.pendingRefund),
        (og(3) - fee, og(3) - fee)
    );
    assert_eq!(account.refunds[0].amount, og(3) - fee);
    assert_eq!(s.ledger(), (og(7), og(10) - fee));

    s.net.now += LOCK;
    s.ledger_call(U256::ZERO, &retrieve).ok();
    let account = s.account();
    assert_eq!((account.balance, account.pendingRefund), (U256::ZERO, U256::ZERO));
    assert_eq!(s.ledger(), (og(10) - fee, og(10) - fee));
}

/// One task at a time: a new deliverable waits for the last one's acknowledgement or
/// settlement. An account keeps 20; the oldest makes room only once settled.
#[test]
fn deliverables_wait_their_turn_and_only_settled_ones_are_evicted() {
    let mut s = Setup::new();
    s.fund(og(5), og(2));
    let error: F::AccountNotExists = {
        let call = F::addDeliverableCall {
            user: signer(7).address(),
            id: "x".into(),
            modelRootHash: root(1).into(),
        };
        let provider = s.provider.clone();
        s.send(&provider, U256::ZERO, &call).reverted()
    };
    assert_eq!(error.user, signer(7).address());
    let error: F::DeliverableIdInvalidLength = s.add_deliverable(&"x".repeat(257), &root(1)).reverted();
    assert_eq!(error.length, U256::from(257));
    assert!(
        s.add_deliverable("big", &[0u8; 1025])
            .reverted::<F::InvalidVerifierInput>()
            .reason
            .contains("1025 bytes")
    );

    s.add_deliverable("d0", &root(0)).ok();
    let error: F::DeliverableAlreadyExists = s.add_deliverable("d0", &root(0)).reverted();
    assert_eq!(error.id, "d0");
    let error: F::PreviousDeliverableNotAcknowledged = s.add_deliverable("d1", &root(1)).reverted();
    assert_eq!(error.id, "d0");
    s.acknowledge("d0").ok();
    for i in 1..MAX_DELIVERABLES {
        s.add_deliverable(&format!("d{i}"), &root(i as u8)).ok();
        s.acknowledge(&format!("d{i}")).ok();
    }
    assert_eq!(s.account().deliverablesCount, U256::from(MAX_DELIVERABLES));
    let error: F::CannotEvictUnsettledDeliverable = s.add_deliverable("d20", &root(20)).reverted();
    assert_eq!(error.id, "d0");
    s.settle(s.input("d0", &root(0), b"k", tenths(1), 1)).ok();
    let sent = s.add_deliverable("d20", &root(20));
    let evicted = sent.events::<F::DeliverableEvicted>();
    assert_eq!(
        (
            evicted[0].evictedDeliverableId.as_str(),
            evicted[0].newDeliverableId.as_str()
        ),
        ("d0", "d20")
    );
    sent.ok();
    let account = s.account();
    let ids: Vec<&str> = account.deliverables.iter().map(|d| d.id.as_str()).collect();
    let expected: Vec<String> = (1..=MAX_DELIVERABLES).map(|i| format!("d{i}")).collect();
    assert_eq!(ids, expected.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        (account.deliverablesHead, account.deliverablesCount),
        (U256::from(1), U256::from(20))
    );
    let gone = s.net.view(
        FINE_TUNING_ADDRESS,
        &F::getDeliverableCall {
            user: s.u(),
            provider: s.p(),
            id: "d0".into(),
        },
    );
    assert_eq!(
        F::DeliverableNotExists::abi_decode(&gone.unwrap_err())
            .unwrap()
            .id,
        "d0"
    );
    // Settling d1 after the eviction still pays from the same account, exactly.
    let before = s.account().balance;
    s.settle(s.input("d1", &root(1), b"k", tenths(2), 2)).ok();
    assert_eq!(s.account().balance, before - tenths(2));
}

/// The service's stake, the owner's settings and the refusals that guard them.
#[test]
fn services_stake_and_the_owners_settings() {
    let mut s = Setup::new();
    let p = s.p();
    let provider = s.provider.clone();
    let service = s
        .net
        .view(FINE_TUNING_ADDRESS, &F::getServiceCall { provider: p })
        .unwrap();
    assert_eq!(
        (
            service.url.as_str(),
            service.models.len(),
            service.teeSignerAcknowledged
        ),
        ("http://127.0.0.1:3090", 1, true)
    );
    assert_eq!(service.quota.gpuType, "cpu");
    let all = s
        .net
        .view(FINE_TUNING_ADDRESS, &F::getAllServicesCall {})
        .unwrap();
    assert_eq!(all.len(), 1);

    // Updating adds no stake; a new signer needs the owner's word again.
    let mut update = service_call("https://ft.example:8443/v1", signer(3).address());
    update.models = vec!["a".into(), "b".into()];
    let error: F::CannotAddStakeWhenUpdating = s.send(&provider, ONE_0G, &update).reverted();
    assert_eq!(error, F::CannotAddStakeWhenUpdating {});
    s.send(&provider, U256::ZERO, &update).ok();
    let service = s
        .net
        .view(FINE_TUNING_ADDRESS, &F::getServiceCall { provider: p })
        .unwrap();
    assert_eq!((service.models.len(), service.teeSignerAcknowledged), (2, false));
    for (bad, why) in [
        (service_call("ftp://x", signer(2).address()), "http(s)"),
        (service_call("http://x", Address::ZERO), "TEE signer"),
        (
            F::addOrUpdateServiceCall {
                models: vec![],
                ..service_call("http://x", signer(2).address())
            },
            "1 to 16 models",
        ),
    ] {
        let error: F::InvalidServiceParams = s.send(&provider, U256::ZERO, &bad).reverted();
        assert!(error.reason.contains(why), "{}", error.reason);
    }
    let owner = s.owner.clone();
    let error: F::InsufficientStake = s
        .send(&owner, ONE_0G, &service_call("http://y", signer(2).address()))
        .reverted();
    assert_eq!((error.provided, error.required), (ONE_0G, SERVICE_STAKE));

    // Removing the service returns its stake, exactly.
    let wallet = s.net.balance(p);
    let sent = s.send(&provider, U256::ZERO, &F::removeServiceCall {});
    assert_eq!(sent.events::<F::ProviderStakeReturned>()[0].amount, SERVICE_STAKE);
    let gas = sent.ok().fee();
    assert_eq!(s.net.balance(p), wallet - gas + SERVICE_STAKE);
    let gone = s
        .net
        .view(FINE_TUNING_ADDRESS, &F::getServiceCall { provider: p });
    assert_eq!(
        F::ServiceNotExist::abi_decode(&gone.unwrap_err())
            .unwrap()
            .provider,
        p
    );
    assert_eq!(s.net.balance(FINE_TUNING_ADDRESS), U256::ZERO);

    // The owner's settings: only the owner, only in range.
    let user = s.user.clone();
    let lock = F::updateLockTimeCall {
        _locktime: U256::from(7_200),
    };
    assert_eq!(
        s.send(&user, U256::ZERO, &lock).reason(),
        "Ownable: caller is not the owner"
    );
    s.send(&owner, U256::ZERO, &lock).ok();
    assert_eq!(
        s.net.view(FINE_TUNING_ADDRESS, &F::lockTimeCall {}).unwrap(),
        U256::from(7_200)
    );
    let short = F::updateLockTimeCall {
        _locktime: U256::from(60),
    };
    let error: F::LockTimeOutOfRange = s.send(&owner, U256::ZERO, &short).reverted();
    assert_eq!(error.lockTime, U256::from(60));
    let penalty = F::updatePenaltyPercentageCall {
        _penaltyPercentage: U256::from(101),
    };
    let error: F::PenaltyPercentageTooHigh = s.send(&owner, U256::ZERO, &penalty).reverted();
    assert_eq!(error.percentage, U256::from(101));

    // What only the ledger may call, and money sent without a call.
    let add = F::addAccountCall {
        user: user.address(),
        provider: p,
        additionalInfo: String::new(),
    };
    assert_eq!(
        s.send(&user, ONE_0G, &add).reverted::<F::CallerNotLedger>(),
        F::CallerNotLedger {}
    );
    let initialize = F::initializeCall {
        _locktime: U256::from(3_600),
        _ledgerAddress: LEDGER_ADDRESS,
        owner: user.address(),
        _penaltyPercentage: U256::ZERO,
    };
    assert_eq!(
        s.send(&user, U256::ZERO, &initialize)
            .reverted::<F::AlreadyInitialized>(),
        F::AlreadyInitialized {}
    );
    let views = (
        s.net
            .view(FINE_TUNING_ADDRESS, &F::penaltyPercentageCall {})
            .unwrap(),
        s.net.view(FINE_TUNING_ADDRESS, &F::ledgerAddressCall {}).unwrap(),
        s.net
            .view(FINE_TUNING_ADDRESS, &F::MIN_PROVIDER_STAKECall {})
            .unwrap(),
        s.net.view(FINE_TUNING_ADDRESS, &F::ownerCall {}).unwrap(),
    );
    assert_eq!(
        views,
        (
            U256::from(DEFAULT_PENALTY_PERCENTAGE),
            LEDGER_ADDRESS,
            SERVICE_STAKE,
            owner.address()
        )
    );
}

/// A plain transfer to the contract is refused (0G's `receive` reverts).
#[test]
fn direct_deposits_are_refused() {
    let mut s = Setup::new();
    let user = s.user.clone();
    let sent = s
        .net
        .send_raw(&user, FINE_TUNING_ADDRESS, ONE_0G, Bytes::new(), 100_000);
    assert_eq!(
        sent.reverted::<F::DirectDepositsDisabled>(),
        F::DirectDepositsDisabled {}
    );
}
