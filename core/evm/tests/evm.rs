//! The EVM executor and chain against raw revm, by hand-computed roots, and through
//! crashes of the block log.

use alloy_consensus::transaction::Recovered;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_rlp::Encodable;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use revm::database::{CacheDB, EmptyDB};
use revm::state::AccountInfo;
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};
use zg_evm::contracts::{calldata, erc20_init, value_set_topic, value_store_init, word};
use zg_evm::{
    BlockLog, CallRequest, Chain, ChainConfig, ChainError, LOG_FILE, LogError, State, TxError, TxOutcome,
    decode_transaction, tx_env,
};
use zg_store::{CrashMode, MemoryDir};

const CHAIN_ID: u64 = 16601;
const GWEI: u128 = 1_000_000_000;

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

fn signer(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(i + 1)).unwrap()
}

fn config(funded: &[Address]) -> ChainConfig {
    ChainConfig {
        chain_id: CHAIN_ID,
        gas_limit: 30_000_000,
        coinbase: Address::repeat_byte(0xcb),
        genesis_timestamp: 1_700_000_000,
        alloc: funded.iter().map(|a| (*a, ether(1000))).collect(),
        system: None,
    }
}

fn sign(signer: &PrivateKeySigner, tx: TxEip1559) -> Recovered<TxEnvelope> {
    let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    Recovered::new_unchecked(TxEnvelope::from(tx.into_signed(sig)), signer.address())
}

fn eip1559(nonce: u64, to: TxKind, value: U256, input: Bytes, gas: u64) -> TxEip1559 {
    TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 20 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to,
        value,
        access_list: Default::default(),
        input,
    }
}

fn raw(tx: &Recovered<TxEnvelope>) -> Vec<u8> {
    tx.inner().encoded_2718()
}

/// The same transactions through zg's chain and through a raw revm loop end in the same
/// state and the same gas, for ETH transfers, a deployment and ERC-20 transfers.
#[test]
fn chain_matches_raw_revm() {
    let alice = signer(0);
    let bob = signer(1);
    let chain_config = config(&[alice.address(), bob.address()]);
    let mut chain = Chain::open(chain_config.clone(), BlockLog::in_memory()).unwrap();

    let token = alice.address().create(0);
    let mut txs = vec![sign(
        &alice,
        eip1559(
            0,
            TxKind::Create,
            U256::ZERO,
            erc20_init(U256::from(1_000_000u64)),
            1_000_000,
        ),
    )];
    let mut alice_nonce = 1;
    for i in 0..20u64 {
        let to = Address::repeat_byte(0x10 + i as u8);
        txs.push(sign(
            &alice,
            eip1559(
                alice_nonce,
                TxKind::Call(to),
                U256::from(1000 + i),
                Bytes::new(),
                21_000,
            ),
        ));
        alice_nonce += 1;
        let input = calldata("transfer(address,uint256)", &[word(to), U256::from(7 + i)]);
        txs.push(sign(
            &alice,
            eip1559(alice_nonce, TxKind::Call(token), U256::ZERO, input, 100_000),
        ));
        alice_nonce += 1;
        txs.push(sign(
            &bob,
            eip1559(
                i,
                TxKind::Call(alice.address()),
                U256::from(5u64),
                Bytes::new(),
                21_000,
            ),
        ));
    }
    let context = chain.next_block_context(1_700_000_012);
    let produced = chain.produce_block(txs.clone(), 1_700_000_012).unwrap();
    assert_eq!(
        produced.included.len(),
        txs.len(),
        "rejected: {:?}",
        produced.rejected
    );
    assert!(
        produced
            .included
            .iter()
            .all(|(_, o)| matches!(o, TxOutcome::Success { .. })),
        "{:?}",
        &produced.included[..3]
    );

    // The peer: revm alone, one transact_commit per transaction.
    let mut db = CacheDB::new(EmptyDB::default());
    for (address, balance) in &chain_config.alloc {
        db.insert_account_info(
            *address,
            AccountInfo {
                balance: *balance,
                ..Default::default()
            },
        );
    }
    let mut evm = Context::mainnet()
        .with_db(db)
        .modify_cfg_chained(|cfg| {
            cfg.chain_id = CHAIN_ID;
            cfg.spec = revm::primitives::hardfork::SpecId::PRAGUE;
        })
        .with_block(context.block_env())
        .build_mainnet();
    let mut peer_gas = 0;
    for tx in &txs {
        let result = evm.transact_commit(tx_env(tx)).unwrap();
        assert!(result.is_success());
        peer_gas += result.tx_gas_used();
    }
    assert_eq!(chain.head().header.gas_used, peer_gas);
    let db = &evm.ctx.journaled_state.database;
    let state = chain.state();
    for (address, account) in &db.cache.accounts {
        let ours = state.account(address);
        if account.info.is_empty() {
            assert!(ours.is_none(), "{address} should not exist");
            continue;
        }
        let ours = ours.unwrap_or_else(|| panic!("{address} missing"));
        assert_eq!(ours.balance, account.info.balance, "balance of {address}");
        assert_eq!(ours.nonce, account.info.nonce, "nonce of {address}");
        assert_eq!(ours.code_hash, account.info.code_hash, "code of {address}");
        for (slot, value) in &account.storage {
            assert_eq!(state.storage(address, *slot), *value, "slot {slot} of {address}");
        }
    }
    // The token really moved: balanceOf through eth_call semantics.
    let call = |data| {
        chain
            .call(
                &CallRequest {
                    to: Some(token),
                    data,
                    ..Default::default()
                },
                0,
            )
            .unwrap()
    };
    let balance = call(calldata(
        "balanceOf(address)",
        &[word(Address::repeat_byte(0x12))],
    ));
    assert_eq!(
        balance.outcome,
        TxOutcome::Success {
            output: U256::from(9u64).to_be_bytes::<32>().into(),
            created: None
        }
    );
    let receipt = &chain.head().receipts[2];
    assert_eq!(receipt.logs().len(), 1);
    assert_eq!(
        receipt.logs()[0].topics()[0],
        keccak256("Transfer(address,address,uint256)")
    );
    assert!(
        receipt
            .logs_bloom()
            .contains_input(alloy_primitives::BloomInput::Raw(token.as_slice()))
    );
    // Every receipt's bloom and each header's bloom against alloy's definition.
    for number in 0..=chain.head().header.number {
        let block = chain.block(number).unwrap();
        let mut union = alloy_primitives::Bloom::ZERO;
        for receipt in &block.receipts {
            assert_eq!(
                *receipt.logs_bloom(),
                alloy_primitives::logs_bloom(receipt.logs())
            );
            union.accrue_bloom(receipt.logs_bloom());
        }
        assert_eq!(block.header.logs_bloom, union, "block {number}");
    }
}

/// Sealing a big block (several rayon chunks, each with its own hash cache) gives the
/// same receipts and blooms as alloy's per-receipt definition, in order.
#[test]
fn sealed_receipts_match_alloy_blooms() {
    use alloy_consensus::{Eip658Value, Receipt, TxType};
    use alloy_primitives::{Log, LogData};
    let receipts: Vec<(TxType, Receipt)> = (0..5000u64)
        .map(|i| {
            let logs = (0..i % 4)
                .map(|j| {
                    // Addresses and events repeat (cached); indexed args mostly do not.
                    let address = Address::with_last_byte((i % 7) as u8);
                    let topics =
                        (0..=j).map(|t| keccak256((i * 10 + t + u64::from(t == 0) * j).to_be_bytes()));
                    Log {
                        address,
                        data: LogData::new_unchecked(
                            topics.collect(),
                            Bytes::from(vec![j as u8; j as usize]),
                        ),
                    }
                })
                .collect();
            let tx_type = [TxType::Legacy, TxType::Eip2930, TxType::Eip1559][(i % 3) as usize];
            let receipt = Receipt {
                status: Eip658Value::Eip658(i % 5 != 0),
                cumulative_gas_used: 21_000 * (i + 1),
                logs,
            };
            (tx_type, receipt)
        })
        .collect();
    let (sealed, block_bloom) = zg_evm::seal_receipts(receipts.clone());
    assert_eq!(sealed.len(), receipts.len());
    let mut union = alloy_primitives::Bloom::ZERO;
    for ((tx_type, receipt), envelope) in receipts.iter().zip(&sealed) {
        assert_eq!(envelope.tx_type(), *tx_type);
        assert_eq!(envelope.status(), receipt.status.coerce_status());
        assert_eq!(envelope.cumulative_gas_used(), receipt.cumulative_gas_used);
        assert_eq!(envelope.logs(), &receipt.logs[..]);
        assert_eq!(
            *envelope.logs_bloom(),
            alloy_primitives::logs_bloom(&receipt.logs)
        );
        union.accrue_bloom(envelope.logs_bloom());
    }
    assert_eq!(block_bloom, union);
    assert_ne!(block_bloom, alloy_primitives::Bloom::ZERO);
}

/// The state root of one account equals the root computed by hand from the MPT
/// definition (a single leaf: hex-prefix path ‖ RLP account, hashed).
#[test]
fn state_root_by_hand() {
    let address = Address::repeat_byte(0x42);
    let mut state = State::new();
    assert_eq!(state.root(), alloy_trie::EMPTY_ROOT_HASH);
    let chain = Chain::open(
        ChainConfig {
            alloc: vec![(address, U256::from(12345u64))],
            ..config(&[])
        },
        BlockLog::in_memory(),
    )
    .unwrap();

    let mut account = Vec::new();
    alloy_rlp::encode_list::<_, dyn Encodable>(
        &[
            &0u64 as &dyn Encodable,
            &U256::from(12345u64),
            &alloy_trie::EMPTY_ROOT_HASH,
            &alloy_primitives::KECCAK256_EMPTY,
        ],
        &mut account,
    );
    let mut path = vec![0x20];
    path.extend_from_slice(keccak256(address).as_slice());
    let mut leaf = Vec::new();
    alloy_rlp::encode_list::<_, dyn Encodable>(
        &[&Bytes::from(path) as &dyn Encodable, &Bytes::from(account)],
        &mut leaf,
    );
    assert_eq!(chain.head().header.state_root, keccak256(&leaf));
    state = chain.state().clone();
    assert_eq!(state.root(), keccak256(&leaf));
}

/// Transactions that break a rule get the typed error geth would name, and leave the
/// state untouched.
#[test]
fn invalid_transactions_are_rejected() {
    let alice = signer(0);
    let poor = signer(9);
    let mut chain = Chain::open(config(&[alice.address()]), BlockLog::in_memory()).unwrap();
    let to = TxKind::Call(Address::repeat_byte(7));
    let ok = sign(&alice, eip1559(0, to, U256::from(1u64), Bytes::new(), 21_000));
    chain.produce_block(vec![ok.clone()], 0).unwrap();
    let root = chain.head().header.state_root;

    let again = chain.produce_block(vec![ok.clone()], 0).unwrap();
    assert!(
        matches!(again.rejected[0].1, TxError::NonceTooLow { tx: 0, state: 1, .. }),
        "{:?}",
        again.rejected
    );
    let broke = chain
        .produce_block(
            vec![sign(
                &poor,
                eip1559(0, to, U256::from(1u64), Bytes::new(), 21_000),
            )],
            0,
        )
        .unwrap();
    assert!(matches!(broke.rejected[0].1, TxError::InsufficientFunds { .. }));
    let starved = chain
        .produce_block(
            vec![sign(&alice, eip1559(1, to, U256::ZERO, Bytes::new(), 20_000))],
            0,
        )
        .unwrap();
    assert!(matches!(
        starved.rejected[0].1,
        TxError::IntrinsicGas {
            have: 20_000,
            want: 21_000
        }
    ));
    let huge = chain
        .produce_block(
            vec![sign(&alice, eip1559(1, to, U256::ZERO, Bytes::new(), 40_000_000))],
            0,
        )
        .unwrap();
    assert_eq!(huge.rejected[0].1, TxError::GasLimit);
    let gap = chain
        .produce_block(
            vec![sign(&alice, eip1559(5, to, U256::ZERO, Bytes::new(), 21_000))],
            0,
        )
        .unwrap();
    assert!(matches!(
        gap.rejected[0].1,
        TxError::NonceTooHigh { tx: 5, state: 1, .. }
    ));
    let mut cheap = eip1559(1, to, U256::ZERO, Bytes::new(), 21_000);
    cheap.max_fee_per_gas = 1;
    cheap.max_priority_fee_per_gas = 0;
    let cheap = chain.produce_block(vec![sign(&alice, cheap)], 0).unwrap();
    assert_eq!(cheap.rejected[0].1, TxError::FeeCapTooLow);
    assert_eq!(chain.state().account(&alice.address()).unwrap().nonce, 1);
    assert_eq!(
        chain.head().header.state_root,
        root,
        "rejected transactions changed the state"
    );

    // Stateless checks at decoding.
    assert!(matches!(
        decode_transaction(&[0xc0], CHAIN_ID),
        Err(TxError::Decode(_))
    ));
    assert!(matches!(
        decode_transaction(&[], CHAIN_ID),
        Err(TxError::Decode(_))
    ));
    let mut trailing = raw(&ok);
    trailing.push(0);
    assert!(matches!(
        decode_transaction(&trailing, CHAIN_ID),
        Err(TxError::Decode(_))
    ));
    assert!(matches!(
        decode_transaction(&raw(&ok), CHAIN_ID + 1),
        Err(TxError::WrongChainId { got: CHAIN_ID, expected }) if expected == CHAIN_ID + 1
    ));
    assert!(matches!(
        decode_transaction(&vec![0u8; 200_000], CHAIN_ID),
        Err(TxError::TooLarge { .. })
    ));
    let mut tip = eip1559(1, to, U256::ZERO, Bytes::new(), 21_000);
    tip.max_priority_fee_per_gas = tip.max_fee_per_gas + 1;
    assert_eq!(
        decode_transaction(&raw(&sign(&alice, tip)), CHAIN_ID).unwrap_err(),
        TxError::TipAboveFeeCap
    );
    // A signature that recovers to nobody: r = 0.
    let unsigned = eip1559(1, to, U256::ZERO, Bytes::new(), 21_000);
    let bad = unsigned.into_signed(alloy_primitives::Signature::new(
        U256::ZERO,
        U256::from(1u64),
        false,
    ));
    let bad: Vec<u8> = TxEnvelope::from(bad).encoded_2718();
    assert!(matches!(
        decode_transaction(&bad, CHAIN_ID),
        Err(TxError::BadSignature(_))
    ));
    // Every byte of a valid transaction flipped: never a panic, and never the same sender
    // with the same hash.
    let good = raw(&ok);
    for i in 0..good.len() {
        let mut bytes = good.clone();
        bytes[i] ^= 0x55;
        if let Ok(tx) = decode_transaction(&bytes, CHAIN_ID) {
            assert!(tx.inner().tx_hash() != ok.inner().tx_hash());
        }
    }
}

/// Legacy (EIP-155) and EIP-2930 transactions execute too.
#[test]
fn legacy_and_access_list_transactions() {
    let alice = signer(0);
    let mut chain = Chain::open(config(&[alice.address()]), BlockLog::in_memory()).unwrap();
    let to = Address::repeat_byte(9);
    let legacy = TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce: 0,
        gas_price: 2 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(to),
        value: U256::from(100u64),
        input: Bytes::new(),
    };
    let sig = alice.sign_hash_sync(&legacy.signature_hash()).unwrap();
    let legacy = TxEnvelope::from(legacy.into_signed(sig));
    let access = TxEip2930 {
        chain_id: CHAIN_ID,
        nonce: 1,
        gas_price: 2 * GWEI,
        gas_limit: 30_000,
        to: TxKind::Call(to),
        value: U256::from(1u64),
        access_list: alloy_eips::eip2930::AccessList(vec![alloy_eips::eip2930::AccessListItem {
            address: to,
            storage_keys: vec![B256::ZERO],
        }]),
        input: Bytes::new(),
    };
    let sig = alice.sign_hash_sync(&access.signature_hash()).unwrap();
    let access = TxEnvelope::from(access.into_signed(sig));
    let txs = [legacy, access]
        .iter()
        .map(|tx| decode_transaction(&tx.encoded_2718(), CHAIN_ID).unwrap())
        .collect();
    let produced = chain.produce_block(txs, 0).unwrap();
    assert_eq!(produced.included.len(), 2, "{:?}", produced.rejected);
    assert_eq!(chain.state().account(&to).unwrap().balance, U256::from(101u64));
    // Access list: 21000 + 2400 per address + 1900 per key.
    assert_eq!(chain.head().gas_used_by(1), 21_000 + 2_400 + 1_900);
}

/// A reverting call carries its reason; the transaction is included with status 0.
#[test]
fn reverts_and_deferred_transactions() {
    let alice = signer(0);
    let mut chain = Chain::open(
        ChainConfig {
            gas_limit: 150_000,
            ..config(&[alice.address()])
        },
        BlockLog::in_memory(),
    )
    .unwrap();
    let store = alice.address().create(0);
    let deploy = sign(
        &alice,
        eip1559(
            0,
            TxKind::Create,
            U256::ZERO,
            value_store_init(U256::from(5u64)),
            140_000,
        ),
    );
    let produced = chain.produce_block(vec![deploy], 0).unwrap();
    assert!(
        matches!(produced.included[0].1, TxOutcome::Success { created: Some(a), .. } if a == store),
        "{:?}",
        produced.included
    );

    let set = |nonce, value: u64| {
        sign(
            &alice,
            eip1559(
                nonce,
                TxKind::Call(store),
                U256::ZERO,
                calldata("set(uint256)", &[U256::from(value)]),
                120_000,
            ),
        )
    };
    // Each asks 120,000 of a 150,000 block; after two (~50,000 used) the third must wait.
    let produced = chain
        .produce_block(vec![set(1, 0), set(2, 9), set(3, 11)], 0)
        .unwrap();
    assert_eq!(produced.included.len(), 2);
    assert_eq!(produced.deferred.len(), 1);
    let TxOutcome::Revert { output } = &produced.included[0].1 else {
        panic!("{:?}", produced.included[0])
    };
    assert_eq!(alloy_sol_types_reason(output), "value must be non-zero");
    assert!(!chain.head().receipts[0].status());
    assert!(chain.head().receipts[1].status());
    assert_eq!(chain.head().receipts[1].logs()[0].topics(), &[value_set_topic()]);
    chain.produce_block(produced.deferred, 0).unwrap();
    assert_eq!(chain.state().storage(&store, U256::ZERO), U256::from(11u64));
    let reverting = chain
        .call(
            &CallRequest {
                to: Some(store),
                data: calldata("set(uint256)", &[U256::ZERO]),
                ..Default::default()
            },
            0,
        )
        .unwrap();
    assert!(matches!(reverting.outcome, TxOutcome::Revert { .. }));
    // Estimate: enough for the SSTORE, and the call with that gas succeeds.
    let request = CallRequest {
        from: Some(alice.address()),
        to: Some(store),
        data: calldata("set(uint256)", &[U256::from(3u64)]),
        ..Default::default()
    };
    let gas = chain.estimate_gas(&request, 0).unwrap();
    assert!(gas > 21_000 && gas < 60_000, "{gas}");
    let at = |gas| {
        chain
            .call(
                &CallRequest {
                    gas: Some(gas),
                    ..request.clone()
                },
                0,
            )
            .unwrap()
            .outcome
    };
    assert!(matches!(at(gas), TxOutcome::Success { .. }));
    assert!(!matches!(at(gas - 1), TxOutcome::Success { .. }));
}

// Error(string) → string, by the ABI layout.
fn alloy_sol_types_reason(output: &[u8]) -> String {
    assert_eq!(&output[..4], &zg_evm::contracts::selector("Error(string)"));
    let len = U256::from_be_slice(&output[36..68]).to::<usize>();
    String::from_utf8(output[68..68 + len].to_vec()).unwrap()
}

/// Blocks survive a reopen, a torn last append is cut off, damage in the middle and a
/// foreign genesis are refused.
#[test]
fn block_log_survives_reopen_and_refuses_damage() {
    let dir = tempfile::tempdir().unwrap();
    let alice = signer(0);
    let cfg = config(&[alice.address()]);
    let to = TxKind::Call(Address::repeat_byte(7));
    let (head, root) = {
        let mut chain = Chain::open(cfg.clone(), BlockLog::open_path(dir.path()).unwrap()).unwrap();
        for nonce in 0..5 {
            chain
                .produce_block(
                    vec![sign(
                        &alice,
                        eip1559(nonce, to, U256::from(1u64), Bytes::new(), 21_000),
                    )],
                    0,
                )
                .unwrap();
        }
        (chain.head().hash, chain.head().header.state_root)
    };
    let reopened = Chain::open(cfg.clone(), BlockLog::open_path(dir.path()).unwrap()).unwrap();
    assert_eq!(reopened.head().hash, head);
    assert_eq!(reopened.head().header.number, 5);
    assert_eq!(reopened.head().header.state_root, root);
    assert_eq!(reopened.state().account(&alice.address()).unwrap().nonce, 5);
    let tx_hash = *reopened.head().transactions[0].inner().tx_hash();
    assert_eq!(reopened.transaction(&tx_hash).unwrap().0.header.number, 5);
    drop(reopened);

    // A crash mid-append: the last record is cut short.
    let path = dir.path().join(LOG_FILE);
    let full = std::fs::read(&path).unwrap();
    std::fs::write(&path, &full[..full.len() - 10]).unwrap();
    let torn = Chain::open(cfg.clone(), BlockLog::open_path(dir.path()).unwrap()).unwrap();
    assert_eq!(
        torn.head().header.number,
        4,
        "the torn block is dropped, the ones before kept"
    );
    drop(torn);

    // A flipped byte in an early record, with records after it: corruption, refused.
    let mut damaged = std::fs::read(&path).unwrap();
    damaged[60] ^= 1;
    std::fs::write(&path, &damaged).unwrap();
    let err = Chain::open(cfg.clone(), BlockLog::open_path(dir.path()).unwrap()).unwrap_err();
    assert!(
        matches!(err, ChainError::Log(zg_evm::LogError::Corrupt { .. })),
        "{err}"
    );

    // Another chain's configuration over this log.
    let other = tempfile::tempdir().unwrap();
    drop(Chain::open(cfg.clone(), BlockLog::open_path(other.path()).unwrap()).unwrap());
    let err = Chain::open(
        ChainConfig { chain_id: 1, ..cfg },
        BlockLog::open_path(other.path()).unwrap(),
    )
    .unwrap_err();
    assert!(matches!(err, ChainError::GenesisMismatch { .. }), "{err}");
}

/// The block log on the fault-injecting directory: after a power loss at any point,
/// every block whose `produce_block` returned is there, the chain reopens at one of the
/// blocks it acknowledged, and it keeps producing; a failed sync or a full disk fails the
/// block, which is never acknowledged, and the chain refuses more until it is reopened.
#[test]
fn block_log_keeps_every_acknowledged_block_through_crashes() {
    let alice = signer(0);
    let cfg = config(&[alice.address()]);
    let to = TxKind::Call(Address::repeat_byte(7));
    let transfer = |nonce| sign(&alice, eip1559(nonce, to, U256::from(1u64), Bytes::new(), 21_000));
    let log = |dir: &MemoryDir| BlockLog::open(dir).unwrap();
    let modes = [
        CrashMode::DropUnsynced,
        CrashMode::TearLast,
        CrashMode::KeepAll,
        CrashMode::Random(1),
        CrashMode::Random(2),
        CrashMode::Random(3),
    ];
    for mode in modes {
        let dir = MemoryDir::faulty();
        let mut chain = Chain::open(cfg.clone(), log(&dir)).unwrap();
        let mut acked = vec![chain.head().hash];
        for nonce in 0..4 {
            chain.produce_block(vec![transfer(nonce)], 0).unwrap();
            acked.push(chain.head().hash);
        }
        // The crash lands during an append: the write happened, its sync did not.
        dir.fail_syncs_after(0);
        let err = chain.produce_block(vec![transfer(4)], 0).unwrap_err();
        assert!(
            matches!(err, ChainError::Log(LogError::Io { .. })),
            "{mode:?}: {err}"
        );
        let err = chain.produce_block(vec![transfer(4)], 0).unwrap_err();
        assert!(
            matches!(err, ChainError::Failed | ChainError::Log(LogError::Failed)),
            "{mode:?}: {err}"
        );
        drop(chain);

        let after = dir.crash(mode);
        let mut reopened = Chain::open(cfg.clone(), log(&after)).unwrap();
        let head = reopened.head().header.number;
        assert!(head >= 4, "{mode:?}: acknowledged blocks lost (head {head})");
        assert!(head <= 5, "{mode:?}: head {head}");
        if head == 4 {
            assert_eq!(reopened.head().hash, acked[4], "{mode:?}");
        }
        assert_eq!(reopened.state().account(&alice.address()).unwrap().nonce, head);
        reopened.produce_block(vec![transfer(head)], 0).unwrap();
        assert_eq!(reopened.head().header.number, head + 1);
        drop(reopened);
        let again = Chain::open(cfg.clone(), log(&after)).unwrap();
        assert_eq!(again.head().header.number, head + 1, "{mode:?}");
    }

    // A full disk: the block is refused, the log stays usable after a reopen.
    let dir = MemoryDir::faulty();
    let mut chain = Chain::open(cfg.clone(), log(&dir)).unwrap();
    chain.produce_block(vec![transfer(0)], 0).unwrap();
    dir.set_space_left(Some(10));
    assert!(chain.produce_block(vec![transfer(1)], 0).is_err());
    drop(chain);
    dir.set_space_left(None);
    let mut reopened = Chain::open(cfg, log(&dir.crash(CrashMode::DropUnsynced))).unwrap();
    assert_eq!(reopened.head().header.number, 1);
    reopened.produce_block(vec![transfer(1)], 0).unwrap();
}

/// The incremental trie gives alloy-trie's from-scratch root after every round of
/// random inserts, updates and removals (including removals that collapse branches).
#[test]
fn incremental_trie_matches_alloy_trie() {
    use alloy_trie::{HashBuilder, Nibbles};
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for keyspace in [1u32, 3, 40, 2000] {
        let mut trie = zg_evm::Trie::new();
        let mut model: BTreeMap<B256, Vec<u8>> = BTreeMap::new();
        for _round in 0..30 {
            for _ in 0..rng.random_range(1..50) {
                // Few distinct keys with shared prefixes as well as spread-out ones.
                let n: u32 = rng.random_range(0..keyspace);
                let key = if rng.random_bool(0.5) {
                    keccak256(n.to_be_bytes())
                } else {
                    let mut k = B256::ZERO;
                    k.0[31] = n as u8;
                    k.0[30] = (n >> 8) as u8;
                    k
                };
                if rng.random_bool(0.3) {
                    trie.remove(&key);
                    model.remove(&key);
                } else {
                    let len = rng.random_range(1..70);
                    let value: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                    trie.insert(&key, value.clone());
                    model.insert(key, value);
                }
            }
            let mut builder = HashBuilder::default();
            for (key, value) in &model {
                builder.add_leaf(Nibbles::unpack(key), value);
            }
            assert_eq!(trie.root(), builder.root(), "keyspace {keyspace}");
            assert_eq!(trie.len(), model.len());
        }
    }
}

/// The state root, maintained across many blocks, equals alloy-trie's root of the
/// same accounts and storage computed from scratch.
#[test]
fn state_root_matches_from_scratch() {
    use alloy_trie::TrieAccount;
    let alice = signer(0);
    let mut chain = Chain::open(config(&[alice.address()]), BlockLog::in_memory()).unwrap();
    let token = alice.address().create(0);
    let deploy = sign(
        &alice,
        eip1559(
            0,
            TxKind::Create,
            U256::ZERO,
            erc20_init(U256::from(1_000_000u64)),
            1_000_000,
        ),
    );
    chain.produce_block(vec![deploy], 0).unwrap();
    let mut nonce = 1;
    for block in 0..20u64 {
        let mut txs = Vec::new();
        for i in 0..10u64 {
            let to = Address::repeat_byte((block * 10 + i) as u8);
            let input = calldata("transfer(address,uint256)", &[word(to), U256::from(block + i)]);
            txs.push(sign(
                &alice,
                eip1559(nonce, TxKind::Call(token), U256::ZERO, input, 100_000),
            ));
            nonce += 1;
            txs.push(sign(
                &alice,
                eip1559(nonce, TxKind::Call(to), U256::from(i), Bytes::new(), 21_000),
            ));
            nonce += 1;
        }
        chain.produce_block(txs, 0).unwrap();
        let scratch =
            alloy_trie::root::state_root_unhashed(chain.state().accounts().map(|(address, account)| {
                let storage_root = alloy_trie::root::storage_root_unhashed(
                    account.storage.iter().map(|(k, v)| (B256::from(*k), *v)),
                );
                (
                    *address,
                    TrieAccount {
                        nonce: account.nonce,
                        balance: account.balance,
                        storage_root,
                        code_hash: account.code_hash,
                    },
                )
            }));
        assert_eq!(chain.head().header.state_root, scratch, "block {}", block + 2);
    }
}

/// Two validators from one genesis: the proposer builds a block (a deploy, transfers, a
/// revert, a rejected and a deferred transaction) without changing its chain; the other
/// re-executes the proposal and gets the same block; both commit it with a certificate,
/// which survives reopening the log.
#[test]
fn built_blocks_validate_on_a_peer_and_commit_with_their_certificate() {
    let alice = signer(0);
    let bob = signer(1);
    let cfg = ChainConfig {
        gas_limit: 400_000,
        ..config(&[alice.address(), bob.address()])
    };
    let dir = tempfile::tempdir().unwrap();
    let mut proposer = Chain::open(cfg.clone(), BlockLog::open_path(dir.path()).unwrap()).unwrap();
    let mut validator = Chain::open(cfg.clone(), BlockLog::in_memory()).unwrap();
    let store = alice.address().create(0);
    let txs = vec![
        sign(
            &alice,
            eip1559(
                0,
                TxKind::Create,
                U256::ZERO,
                value_store_init(U256::from(5u64)),
                140_000,
            ),
        ),
        sign(
            &alice,
            eip1559(
                1,
                TxKind::Call(store),
                U256::ZERO,
                calldata("set(uint256)", &[U256::ZERO]),
                60_000,
            ),
        ),
        sign(
            &bob,
            eip1559(0, TxKind::Call(alice.address()), ether(3), Bytes::new(), 21_000),
        ),
        // Nonce 5 does not follow: rejected.
        sign(
            &bob,
            eip1559(5, TxKind::Call(alice.address()), ether(1), Bytes::new(), 21_000),
        ),
        // Over what is left of the block's gas: deferred.
        sign(
            &alice,
            eip1559(2, TxKind::Call(bob.address()), ether(1), Bytes::new(), 300_000),
        ),
    ];
    let coinbase = Address::repeat_byte(0xc0);
    let (head_before, root_before) = (proposer.head().hash, proposer.state().clone().root());
    // What a validator's pool knows: each transaction's sender, recovered on arrival.
    let pooled: std::collections::HashMap<B256, Address> = txs
        .iter()
        .map(|tx| (*tx.inner().tx_hash(), tx.signer()))
        .collect();
    let built = proposer.build_block(txs, 1_700_000_100, coinbase).unwrap();
    assert_eq!(
        (built.included.len(), built.rejected.len(), built.deferred.len()),
        (3, 1, 1)
    );
    assert!(
        matches!(built.rejected[0].1, TxError::NonceTooHigh { .. }),
        "{:?}",
        built.rejected
    );
    // Nothing changed yet: the head, the state, and what calls see.
    assert_eq!(proposer.head().hash, head_before);
    assert_eq!(proposer.state().clone().root(), root_before);
    assert!(proposer.state().account(&store).is_none());
    assert_eq!(
        proposer.state().account(&bob.address()).unwrap().balance,
        ether(1000)
    );

    let proposal = zg_evm::Proposal::from_bytes(&built.block.proposal().to_bytes()).unwrap();
    assert_eq!(proposal.hash(), built.block.hash());
    let validated = validator.validate_block(&proposal, 1_700_000_100).unwrap();
    assert_eq!(validated.hash(), built.block.hash());
    // With the pool's senders instead of recovering them: the same block.
    let hinted = validator
        .validate_block_with_senders(&proposal, 1_700_000_100, &|hash| pooled.get(hash).copied())
        .unwrap();
    assert_eq!(hinted.hash(), built.block.hash());
    // A wrong sender executes differently, so it cannot pass as the proposer's block.
    let lying = validator.validate_block_with_senders(&proposal, 1_700_000_100, &|_| Some(bob.address()));
    assert!(lying.is_err(), "{lying:?}");
    assert_eq!(validated.header().beneficiary, coinbase);
    assert_eq!(validator.head().header.number, 0, "validating commits nothing");
    assert!(validator.state().account(&store).is_none());

    let certificate = Bytes::from_static(b"four signatures");
    proposer.commit_block(built.block, certificate.clone()).unwrap();
    validator.commit_block(validated, certificate.clone()).unwrap();
    assert_eq!(proposer.head().hash, validator.head().hash);
    assert_eq!(
        proposer.head().header.state_root,
        validator.head().header.state_root
    );
    assert_eq!(validator.state().storage(&store, U256::ZERO), U256::from(5u64));
    assert!(!validator.head().receipts[1].status(), "set(0) reverts");
    assert!(
        validator
            .state()
            .account(&coinbase)
            .is_some_and(|a| a.balance > U256::ZERO)
    );
    assert_eq!(proposer.head().certificate.as_ref(), Some(&certificate));
    let head = proposer.head().hash;
    drop(proposer);
    let reopened = Chain::open(cfg, BlockLog::open_path(dir.path()).unwrap()).unwrap();
    assert_eq!(reopened.head().hash, head);
    assert_eq!(reopened.head().certificate.as_ref(), Some(&certificate));
    assert_eq!(reopened.block(0).unwrap().certificate, None);
}

/// A proposal that differs from its re-execution in any way is refused with the field
/// or transaction at fault, and the refusing chain is left as it was.
#[test]
fn validators_refuse_tampered_proposals() {
    let alice = signer(0);
    let bob = signer(1);
    let cfg = config(&[alice.address(), bob.address()]);
    let mut proposer = Chain::open(cfg.clone(), BlockLog::in_memory()).unwrap();
    let mut validator = Chain::open(cfg, BlockLog::in_memory()).unwrap();
    let pay = |nonce, value| {
        sign(
            &alice,
            eip1559(
                nonce,
                TxKind::Call(bob.address()),
                ether(value),
                Bytes::new(),
                21_000,
            ),
        )
    };
    let now = 1_700_000_100;
    let built = proposer
        .build_block(vec![pay(0, 1), pay(1, 2)], now, Address::ZERO)
        .unwrap();
    let good = built.block.proposal();
    let root = validator.state().clone().root();

    let tamper = |change: &dyn Fn(&mut zg_evm::Proposal)| {
        let mut proposal = good.clone();
        change(&mut proposal);
        proposal
    };
    let field = |field: &'static str| move |e: &zg_evm::InvalidBlock| matches!(e, zg_evm::InvalidBlock::Mismatch { field: f, .. } if *f == field);
    type Expected = Box<dyn Fn(&zg_evm::InvalidBlock) -> bool>;
    let cases: Vec<(&str, zg_evm::Proposal, Expected)> = vec![
        (
            "state root",
            tamper(&|p| p.header.state_root = B256::repeat_byte(1)),
            Box::new(field("state_root")),
        ),
        (
            "receipts root",
            tamper(&|p| p.header.receipts_root = B256::repeat_byte(2)),
            Box::new(field("receipts_root")),
        ),
        (
            "gas used",
            tamper(&|p| p.header.gas_used += 1),
            Box::new(field("gas_used")),
        ),
        (
            "base fee",
            tamper(&|p| p.header.base_fee_per_gas = Some(7)),
            Box::new(field("base_fee_per_gas")),
        ),
        (
            "gas limit",
            tamper(&|p| p.header.gas_limit *= 2),
            Box::new(field("gas_limit")),
        ),
        (
            "extra data",
            tamper(&|p| p.header.extra_data = Bytes::from_static(b"x")),
            Box::new(field("extra_data")),
        ),
        (
            "a dropped transaction",
            tamper(&|p| {
                p.transactions.pop();
            }),
            Box::new(field("state_root")),
        ),
        (
            "swapped transactions",
            tamper(&|p| p.transactions.swap(0, 1)),
            Box::new(|e| {
                matches!(
                    e,
                    zg_evm::InvalidBlock::Transaction {
                        index: 0,
                        error: TxError::NonceTooHigh { .. }
                    }
                )
            }),
        ),
        (
            "a replayed transaction",
            tamper(&|p| p.transactions.push(p.transactions[0].clone())),
            Box::new(|e| {
                matches!(
                    e,
                    zg_evm::InvalidBlock::Transaction {
                        index: 0 | 2,
                        error: TxError::NonceTooLow { .. }
                    }
                )
            }),
        ),
        (
            "a broken signature",
            tamper(&|p| {
                let mut raw = p.transactions[1].to_vec();
                let at = raw.len() - 5;
                raw[at] ^= 1;
                p.transactions[1] = raw.into();
            }),
            Box::new(|e| matches!(e, zg_evm::InvalidBlock::Transaction { index: 1, .. })),
        ),
        (
            "the next height",
            tamper(&|p| p.header.number = 2),
            Box::new(|e| matches!(e, zg_evm::InvalidBlock::NotNext { number: 2, head: 0 })),
        ),
        (
            "another parent",
            tamper(&|p| p.header.parent_hash = B256::repeat_byte(3)),
            Box::new(|e| matches!(e, zg_evm::InvalidBlock::Parent { .. })),
        ),
        (
            "a timestamp from the future",
            tamper(&|p| p.header.timestamp = now + zg_evm::MAX_CLOCK_DRIFT + 1),
            Box::new(|e| matches!(e, zg_evm::InvalidBlock::Timestamp { .. })),
        ),
        (
            "a timestamp before the parent's",
            tamper(&|p| p.header.timestamp = 1),
            Box::new(|e| matches!(e, zg_evm::InvalidBlock::Timestamp { .. })),
        ),
    ];
    for (what, proposal, expected) in cases {
        let error = validator.validate_block(&proposal, now).unwrap_err();
        assert!(expected(&error), "{what}: {error}");
        assert_eq!(
            validator.state().clone().root(),
            root,
            "{what} left the state changed"
        );
        assert_eq!(validator.head().header.number, 0);
    }
    assert!(zg_evm::Proposal::from_bytes(&[0xc0, 0x01]).is_err());
    let mut trailing = good.to_bytes();
    trailing.push(0);
    assert!(matches!(
        zg_evm::Proposal::from_bytes(&trailing),
        Err(zg_evm::InvalidBlock::Decode(_))
    ));
    // The untouched proposal still validates after all the refusals, and commits.
    let block = validator.validate_block(&good, now).unwrap();
    validator.commit_block(block, Bytes::new()).unwrap();
    assert_eq!(
        validator.state().account(&bob.address()).unwrap().balance,
        ether(1003)
    );
}

/// Rounds that fail leave nothing behind: a block built in one round and another
/// proposal validated in the next, then a third decided; committing a block built on
/// an older head is refused.
#[test]
fn only_the_decided_block_changes_the_chain() {
    const T: u64 = 1_700_000_000;
    let alice = signer(0);
    let bob = signer(1);
    let cfg = config(&[alice.address(), bob.address()]);
    let mut chain = Chain::open(cfg.clone(), BlockLog::in_memory()).unwrap();
    let mut peer = Chain::open(cfg, BlockLog::in_memory()).unwrap();
    let pay = |from: &PrivateKeySigner, to: Address, value| {
        sign(
            from,
            eip1559(0, TxKind::Call(to), ether(value), Bytes::new(), 21_000),
        )
    };
    let round0 = chain
        .build_block(vec![pay(&alice, bob.address(), 5)], T + 10, Address::ZERO)
        .unwrap();
    let round1 = peer
        .build_block(vec![pay(&bob, alice.address(), 7)], T + 10, Address::ZERO)
        .unwrap();
    chain.validate_block(&round1.block.proposal(), T + 10).unwrap();
    let decided = peer
        .build_block(
            vec![pay(&alice, Address::repeat_byte(9), 1)],
            T + 11,
            Address::ZERO,
        )
        .unwrap();
    let block = chain.validate_block(&decided.block.proposal(), T + 11).unwrap();
    chain.commit_block(block, Bytes::new()).unwrap();
    assert_eq!(
        chain.state().account(&bob.address()).unwrap().balance,
        ether(1000)
    );
    assert_eq!(
        chain.state().account(&Address::repeat_byte(9)).unwrap().balance,
        ether(1)
    );
    assert_eq!(chain.state().account(&alice.address()).unwrap().nonce, 1);
    let stale = chain.commit_block(round0.block, Bytes::new()).unwrap_err();
    assert!(
        matches!(stale, ChainError::NotOnHead { number: 1, head: 1 }),
        "{stale}"
    );
    // The chain still goes on.
    chain
        .produce_block(vec![pay(&bob, alice.address(), 2)], T + 12)
        .unwrap();
    assert_eq!(chain.head().header.number, 2);
}
