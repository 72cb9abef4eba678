//! 0G's compute contracts (LedgerManager, InferenceServing, FineTuningServing) on
//! arbitrary calldata and on arbitrary sequences of ledger, transfer, refund,
//! deliverable, settlement and clock moves by two users and a provider: every call ends
//! in a result (never a panic), and after each transaction the money adds up to the
//! wei — the ledger contract holds exactly the users' available balances, each serving
//! contract exactly its sub-account balances plus the stake, each user's total is
//! available + sub-accounts, and no pending refund exceeds its sub-account.
#![no_main]

use alloy_consensus::transaction::Recovered;
use alloy_consensus::{TxEnvelope, TxLegacy};
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use libfuzzer_sys::fuzz_target;
use zg_contracts::compute::{
    IInferenceServing as I, ILedgerManager as L, ONE_0G, SERVICE_STAKE, ServiceParams, TEESettlementData,
    settlement_digest,
};
use zg_contracts::fine_tuning::{IFineTuningServing as F, Quota, VerifierInput, verifier_digest};
use zg_evm::system::{FINE_TUNING_ADDRESS, INFERENCE_ADDRESS, LEDGER_ADDRESS, SystemConfig};
use zg_evm::{BlockLog, CallRequest, Chain, ChainConfig, TxOutcome};

const CHAIN_ID: u64 = 31337;
const GAS_PRICE: u128 = 2_000_000_000;

fn user(i: usize) -> Address {
    Address::repeat_byte(0x10 + i as u8)
}

const PROVIDER: Address = Address::repeat_byte(0x20);
const OWNER: Address = Address::repeat_byte(0x30);

fn tee() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(7)).expect("a valid key")
}

fn new_chain() -> Chain {
    let funded = [user(0), user(1), PROVIDER, OWNER];
    let config = ChainConfig {
        chain_id: CHAIN_ID,
        gas_limit: 30_000_000,
        coinbase: Address::ZERO,
        genesis_timestamp: 1_000,
        alloc: funded
            .iter()
            .map(|a| (*a, ONE_0G * U256::from(1_000_000)))
            .collect(),
        system: Some(SystemConfig {
            refund_lock_secs: 50,
            compute_owner: OWNER,
            ..SystemConfig::default()
        }),
    };
    Chain::open(config, BlockLog::in_memory()).expect("chain opens")
}

/// Runs one transaction in a block of its own; the chain trusts the sender it is given,
/// so the fuzzer skips signing.
fn send(chain: &mut Chain, now: u64, from: Address, to: Address, value: U256, data: Vec<u8>) {
    let nonce = chain.state().account(&from).map_or(0, |a| a.nonce);
    let tx = TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce,
        gas_price: GAS_PRICE,
        gas_limit: 3_000_000,
        to: TxKind::Call(to),
        value,
        input: data.into(),
    };
    let signed = TxEnvelope::Legacy(alloy_consensus::Signed::new_unchecked(
        tx,
        Signature::new(U256::from(1), U256::from(1), false),
        B256::ZERO,
    ));
    chain
        .produce_block(vec![Recovered::new_unchecked(signed, from)], now)
        .expect("a block is made");
}

fn view<C: SolCall>(chain: &Chain, to: Address, call: &C) -> Option<C::Return> {
    let request = CallRequest {
        to: Some(to),
        data: call.abi_encode().into(),
        ..CallRequest::default()
    };
    match chain.call(&request, 0).expect("a view runs").outcome {
        TxOutcome::Success { output, .. } => Some(C::abi_decode_returns(&output).expect("decodes")),
        _ => None,
    }
}

fn balance(chain: &Chain, address: Address) -> U256 {
    chain.state().account(&address).map_or(U256::ZERO, |a| a.balance)
}

/// The money invariants after every transaction.
fn check(chain: &Chain) {
    let mut available = U256::ZERO;
    let mut held = U256::ZERO;
    let mut held_ft = U256::ZERO;
    for u in [user(0), user(1)] {
        let sub = view(
            chain,
            INFERENCE_ADDRESS,
            &I::getAccountCall {
                user: u,
                provider: PROVIDER,
            },
        );
        if let Some(account) = &sub {
            assert!(account.pendingRefund <= account.balance, "{account:?}");
            let pending: U256 = account.refunds.iter().map(|r| r.amount).sum();
            assert_eq!(pending, account.pendingRefund);
            assert!(account.refunds.len() <= 5);
            held += account.balance;
        }
        let ft = view(
            chain,
            FINE_TUNING_ADDRESS,
            &F::getAccountCall {
                user: u,
                provider: PROVIDER,
            },
        );
        if let Some(account) = &ft {
            assert!(account.pendingRefund <= account.balance, "{account:?}");
            let pending: U256 = account.refunds.iter().map(|r| r.amount).sum();
            assert_eq!(pending, account.pendingRefund);
            assert!(account.refunds.len() <= 5 && account.deliverables.len() <= 20);
            held_ft += account.balance;
        }
        if let Some(ledger) = view(chain, LEDGER_ADDRESS, &L::getLedgerCall { user: u }) {
            let sub_balance = sub.map_or(U256::ZERO, |a| a.balance) + ft.map_or(U256::ZERO, |a| a.balance);
            assert_eq!(ledger.totalBalance, ledger.availableBalance + sub_balance);
            available += ledger.availableBalance;
        }
    }
    assert_eq!(balance(chain, LEDGER_ADDRESS), available);
    let stake = if view(
        chain,
        INFERENCE_ADDRESS,
        &I::serviceExistsCall { provider: PROVIDER },
    ) == Some(true)
    {
        SERVICE_STAKE
    } else {
        U256::ZERO
    };
    assert_eq!(balance(chain, INFERENCE_ADDRESS), held + stake);
    let ft_stake = if view(
        chain,
        FINE_TUNING_ADDRESS,
        &F::getServiceCall { provider: PROVIDER },
    )
    .is_some()
    {
        SERVICE_STAKE
    } else {
        U256::ZERO
    };
    assert_eq!(balance(chain, FINE_TUNING_ADDRESS), held_ft + ft_stake);
}

/// A settlement of deliverable `id` signed by the TEE signer.
fn verifier_input(u: Address, id: &str, secret: bool, fee: U256, nonce: u64) -> VerifierInput {
    let mut input = VerifierInput {
        id: id.into(),
        encryptedSecret: if secret {
            Bytes::from_static(b"sealed")
        } else {
            Bytes::new()
        },
        modelRootHash: Bytes::from_static(&[7; 32]),
        nonce: U256::from(nonce),
        signature: Bytes::new(),
        taskFee: fee,
        user: u,
    };
    let sig = tee()
        .sign_hash_sync(&verifier_digest(CHAIN_ID, &input))
        .expect("signs");
    input.signature = sig.as_bytes().to_vec().into();
    input
}

/// Sequences of fine-tuning moves: funding, deliverables, acknowledgements, settlements
/// with and without the key, refunds and the clock.
fn fine_tuning_ops(chain: &mut Chain, ops: &[u8]) {
    let mut now = 1_001;
    let register = F::addOrUpdateServiceCall {
        url: "http://127.0.0.1:3090".into(),
        quota: Quota {
            cpuCount: U256::from(2),
            nodeMemory: U256::from(24),
            gpuCount: U256::ZERO,
            nodeStorage: U256::ZERO,
            gpuType: String::new(),
        },
        pricePerToken: U256::from(1),
        occupied: false,
        models: vec!["m".into()],
        teeSignerAddress: tee().address(),
    };
    send(
        chain,
        now,
        PROVIDER,
        FINE_TUNING_ADDRESS,
        SERVICE_STAKE,
        register.abi_encode(),
    );
    let vouch = F::acknowledgeTEESignerByOwnerCall { provider: PROVIDER };
    send(
        chain,
        now + 1,
        OWNER,
        FINE_TUNING_ADDRESS,
        U256::ZERO,
        vouch.abi_encode(),
    );
    now += 1;
    // Ops of 6 bytes: kind, user and a small id, then an amount in milli-0G (u32).
    for op in ops.chunks_exact(6).take(32) {
        now += 1;
        let u = user(usize::from(op[1] & 1));
        let id = format!("t{}", (op[1] >> 1) % 4);
        let milli = u32::from_le_bytes(op[2..6].try_into().expect("4 bytes"));
        let amount = ONE_0G / U256::from(1000) * U256::from(milli);
        let (from, to, value, data) = match op[0] % 8 {
            0 => (
                u,
                LEDGER_ADDRESS,
                amount,
                L::addLedgerCall {
                    additionalInfo: String::new(),
                }
                .abi_encode(),
            ),
            1 => {
                let call = L::transferFundCall {
                    provider: PROVIDER,
                    serviceTypeStr: "fine-tuning".into(),
                    amount,
                };
                (u, LEDGER_ADDRESS, U256::ZERO, call.abi_encode())
            }
            2 => {
                let call = L::retrieveFundCall {
                    providers: vec![PROVIDER],
                    serviceType: "fine-tuning".into(),
                };
                (u, LEDGER_ADDRESS, U256::ZERO, call.abi_encode())
            }
            3 => {
                let call = F::addDeliverableCall {
                    user: u,
                    id,
                    modelRootHash: Bytes::from_static(&[7; 32]),
                };
                (PROVIDER, FINE_TUNING_ADDRESS, U256::ZERO, call.abi_encode())
            }
            4 => (
                u,
                FINE_TUNING_ADDRESS,
                U256::ZERO,
                F::acknowledgeDeliverableCall {
                    provider: PROVIDER,
                    id,
                }
                .abi_encode(),
            ),
            5 => {
                let input = verifier_input(u, &id, milli & 1 == 1, amount, u64::from(milli % 16));
                (
                    PROVIDER,
                    FINE_TUNING_ADDRESS,
                    U256::ZERO,
                    F::settleFeesCall { verifierInput: input }.abi_encode(),
                )
            }
            6 => {
                now += u64::from(milli % 120);
                continue;
            }
            _ => (
                u,
                LEDGER_ADDRESS,
                U256::ZERO,
                L::refundCall { amount }.abi_encode(),
            ),
        };
        send(chain, now, from, to, value, data);
        check(chain);
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let mut chain = new_chain();
    match mode % 5 {
        0 => {
            let request = CallRequest {
                from: Some(user(0)),
                to: Some(LEDGER_ADDRESS),
                data: rest.to_vec().into(),
                ..CallRequest::default()
            };
            chain.call(&request, 1).expect("a call runs");
        }
        1 => {
            let request = CallRequest {
                from: Some(PROVIDER),
                to: Some(INFERENCE_ADDRESS),
                data: rest.to_vec().into(),
                ..CallRequest::default()
            };
            chain.call(&request, 1).expect("a call runs");
        }
        3 => {
            let request = CallRequest {
                from: Some(PROVIDER),
                to: Some(FINE_TUNING_ADDRESS),
                data: rest.to_vec().into(),
                ..CallRequest::default()
            };
            chain.call(&request, 1).expect("a call runs");
        }
        4 => fine_tuning_ops(&mut chain, rest),
        _ => {
            let mut now = 1_001;
            let params = ServiceParams {
                serviceType: "chatbot".into(),
                url: "http://127.0.0.1:3080".into(),
                model: "m".into(),
                verifiability: String::new(),
                inputPrice: U256::from(1),
                outputPrice: U256::from(2),
                additionalInfo: String::new(),
                teeSignerAddress: tee().address(),
            };
            let register = I::addOrUpdateServiceCall { params }.abi_encode();
            send(
                &mut chain,
                now,
                PROVIDER,
                INFERENCE_ADDRESS,
                SERVICE_STAKE,
                register,
            );
            // Ops of 6 bytes: kind, user, then an amount in milli-0G (u32).
            for op in rest.chunks_exact(6).take(24) {
                now += 1;
                let u = user(usize::from(op[1] & 1));
                let milli = u32::from_le_bytes(op[2..6].try_into().expect("4 bytes"));
                let amount = ONE_0G / U256::from(1000) * U256::from(milli);
                let (from, to, value, data) = match op[0] % 9 {
                    0 => (
                        u,
                        LEDGER_ADDRESS,
                        amount,
                        L::addLedgerCall {
                            additionalInfo: String::new(),
                        }
                        .abi_encode(),
                    ),
                    1 => (u, LEDGER_ADDRESS, amount, L::depositFundCall {}.abi_encode()),
                    2 => {
                        let call = L::transferFundCall {
                            provider: PROVIDER,
                            serviceTypeStr: "inference".into(),
                            amount,
                        };
                        (u, LEDGER_ADDRESS, U256::ZERO, call.abi_encode())
                    }
                    3 => {
                        let call = L::retrieveFundCall {
                            providers: vec![PROVIDER],
                            serviceType: "inference".into(),
                        };
                        (u, LEDGER_ADDRESS, U256::ZERO, call.abi_encode())
                    }
                    4 => (
                        u,
                        LEDGER_ADDRESS,
                        U256::ZERO,
                        L::refundCall { amount }.abi_encode(),
                    ),
                    5 => {
                        let call = I::acknowledgeTEESignerCall {
                            provider: PROVIDER,
                            acknowledged: milli % 4 != 0,
                        };
                        (u, INFERENCE_ADDRESS, U256::ZERO, call.abi_encode())
                    }
                    6 => {
                        let mut item = TEESettlementData {
                            user: u,
                            provider: PROVIDER,
                            totalFee: amount,
                            requestsHash: B256::repeat_byte(op[1]),
                            nonce: U256::from(milli % 8),
                            signature: Bytes::new(),
                        };
                        let sig = tee()
                            .sign_hash_sync(&settlement_digest(CHAIN_ID, &item))
                            .expect("signs");
                        item.signature = sig.as_bytes().to_vec().into();
                        let call = I::settleFeesWithTEECall {
                            settlements: vec![item],
                        };
                        (PROVIDER, INFERENCE_ADDRESS, U256::ZERO, call.abi_encode())
                    }
                    7 => {
                        now += u64::from(milli % 120);
                        continue;
                    }
                    _ => (u, LEDGER_ADDRESS, U256::ZERO, L::deleteLedgerCall {}.abi_encode()),
                };
                send(&mut chain, now, from, to, value, data);
                check(&chain);
            }
        }
    }
});
