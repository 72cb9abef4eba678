//! EVM: blocks of 10,000 ETH transfers and of 10,000 ERC-20 transfers through zg's
//! executor beside a raw revm loop over the same transactions; sealing (roots) and
//! sender recovery on their own; and `eth_sendRawTransaction` into a running chain
//! node from a loopback client, beside the same blocks produced in process.

use std::sync::Arc;

use alloy_consensus::transaction::{Recovered, SignerRecoverable};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use jsonrpsee::http_client::HttpClientBuilder;
use rayon::prelude::*;
use revm::bytecode::Bytecode;
use revm::context::TxEnv;
use revm::database::{CacheDB, EmptyDB};
use revm::primitives::hardfork::SpecId;
use revm::state::AccountInfo;
use revm::{Context, Database, DatabaseCommit, ExecuteCommitEvm, MainBuilder, MainContext};
use zg_chain::api::EthApiClient;
use zg_chain::{ChainNode, ChainNodeConfig};
use zg_evm::contracts::{calldata, erc20_runtime, word};
use zg_evm::{
    AccountChange, BlockContext, BlockLog, Chain, ChainConfig, ExecConfig, SlotChange, State, StateChanges,
    decode_transaction, execute_block, recover_senders, seal_receipts, tx_env,
};

use crate::{Pair, Side};

const TXS: usize = 10_000;
const CHAIN_ID: u64 = 16601;
const GWEI: u128 = 1_000_000_000;
// The token's address in the benches' genesis.
const TOKEN: Address = Address::repeat_byte(0x70);

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// One block's worth of signed transactions and the state they run on, for zg and
/// for revm alone.
struct Workload {
    state: State,
    peer_db: CacheDB<EmptyDB>,
    txs: Vec<Recovered<TxEnvelope>>,
    envs: Vec<TxEnv>,
    context: BlockContext,
}

fn keys(n: usize) -> Vec<PrivateKeySigner> {
    (0..n)
        .into_par_iter()
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            seed[31] = 1;
            PrivateKeySigner::from_bytes(&B256::from(seed)).expect("valid key")
        })
        .collect()
}

fn sign(key: &PrivateKeySigner, to: Address, value: U256, input: Bytes, gas: u64) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce: 0,
        gas_limit: gas,
        max_fee_per_gas: 2 * GWEI,
        max_priority_fee_per_gas: GWEI / 10,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input,
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).expect("signs");
    TxEnvelope::from(tx.into_signed(sig))
}

fn recipient(i: usize) -> Address {
    Address::from_slice(&keccak256((i as u64).to_be_bytes())[12..])
}

// Solidity's slot of `balances[holder]` with the mapping at slot 0.
fn balance_slot(holder: Address) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[12..32].copy_from_slice(holder.as_slice());
    U256::from_be_bytes(keccak256(preimage).0)
}

fn workload(keys: &[PrivateKeySigner], erc20: bool) -> Workload {
    let txs: Vec<TxEnvelope> = keys
        .par_iter()
        .enumerate()
        .map(|(i, key)| {
            if erc20 {
                let input = calldata(
                    "transfer(address,uint256)",
                    &[word(recipient(i)), U256::from(1u64)],
                );
                sign(key, TOKEN, U256::ZERO, input, 100_000)
            } else {
                sign(key, recipient(i), U256::from(GWEI), Bytes::new(), 21_000)
            }
        })
        .collect();
    let txs: Vec<Recovered<TxEnvelope>> = recover_senders(txs)
        .into_iter()
        .map(|r| r.expect("valid signature"))
        .collect();
    let envs = txs.iter().map(tx_env).collect();

    let mut accounts: Vec<AccountChange> = keys
        .iter()
        .map(|key| AccountChange {
            address: key.address(),
            destroyed: false,
            storage_cleared: false,
            nonce: 0,
            balance: ether(100),
            code_hash: KECCAK256_EMPTY,
            storage: Vec::new(),
        })
        .collect();
    let mut peer_db = CacheDB::new(EmptyDB::default());
    for key in keys {
        peer_db.insert_account_info(
            key.address(),
            AccountInfo {
                balance: ether(100),
                ..Default::default()
            },
        );
    }
    let mut codes = Vec::new();
    if erc20 {
        let runtime = Bytes::from(erc20_runtime());
        let code = Bytecode::new_raw(runtime.clone());
        let storage: Vec<SlotChange> = keys
            .iter()
            .map(|key| SlotChange {
                key: balance_slot(key.address()),
                value: U256::from(1000u64),
            })
            .collect();
        peer_db.insert_account_info(
            TOKEN,
            AccountInfo {
                code_hash: code.hash_slow(),
                code: Some(code),
                nonce: 1,
                ..Default::default()
            },
        );
        for slot in &storage {
            peer_db
                .insert_account_storage(TOKEN, slot.key, slot.value)
                .expect("in memory");
        }
        accounts.push(AccountChange {
            address: TOKEN,
            destroyed: false,
            storage_cleared: false,
            nonce: 1,
            balance: U256::ZERO,
            code_hash: keccak256(&runtime),
            storage,
        });
        codes.push(runtime);
    }
    accounts.sort_unstable_by_key(|a| a.address);
    let mut state = State::new();
    state.apply(&StateChanges { accounts, codes });
    let context = BlockContext {
        number: 1,
        timestamp: 1_700_000_000,
        gas_limit: 2_000_000_000,
        base_fee: GWEI as u64,
        coinbase: Address::repeat_byte(0xcb),
        prevrandao: B256::ZERO,
    };
    Workload {
        state,
        peer_db,
        txs,
        envs,
        context,
    }
}

fn no_hashes(_: u64) -> B256 {
    B256::ZERO
}

// The peer: revm alone over `db`, one transact_commit per transaction of `w`.
fn raw_revm_block<DB: Database + DatabaseCommit>(db: DB, w: &Workload)
where
    DB::Error: std::fmt::Debug,
{
    let mut evm = Context::mainnet()
        .with_db(db)
        .modify_cfg_chained(|cfg| {
            cfg.chain_id = CHAIN_ID;
            cfg.spec = SpecId::PRAGUE;
        })
        .with_block(w.context.block_env())
        .build_mainnet();
    for env in &w.envs {
        assert!(evm.transact_commit(env.clone()).expect("valid").is_success());
    }
}

fn execution_pair(kernel: &'static str, w: Arc<Workload>) -> Pair {
    let (ours, peer) = (w.clone(), w);
    let config = ExecConfig::new(CHAIN_ID);
    Pair {
        kernel,
        shape: format!("{TXS} txs, one block, 1 thread"),
        bytes: 0,
        items: TXS as u64,
        zg: Side::new("zg execute_block (receipts w/o bloom, diff)", move || {
            let block =
                execute_block(&ours.state, &no_hashes, &config, &ours.context, &ours.txs).expect("executes");
            assert_eq!(block.included.len(), TXS, "{:?}", block.rejected.first());
        }),
        peer: Some(Side::new("raw revm transact_commit loop", move || {
            raw_revm_block(CacheDB::new(&peer.peer_db), &peer);
        })),
        target: Some(0.8),
    }
}

fn sealing_pair(w: Arc<Workload>) -> Pair {
    let (ours, peer) = (w.clone(), w);
    let config = ExecConfig::new(CHAIN_ID);
    Pair {
        kernel: "evm block + roots",
        shape: format!("{TXS} ERC-20 txs, state cloned per run, zg sealing on 2 threads"),
        bytes: 0,
        items: TXS as u64,
        zg: Side::new("zg execute + apply + MPT roots", move || {
            // The clone stands in for the chain's own state (produce_block works in place).
            let mut state = ours.state.clone();
            let block =
                execute_block(&state, &no_hashes, &config, &ours.context, &ours.txs).expect("executes");
            let txs: Vec<&TxEnvelope> = block.included.iter().map(|t| ours.txs[t.index].inner()).collect();
            // As Chain::produce_block seals: state root beside receipts and list roots.
            let (root, (receipts, _bloom)) = rayon::join(
                || {
                    state.apply(&block.changes);
                    state.root()
                },
                || seal_receipts(block.included.into_iter().map(|t| (t.tx_type, t.receipt))),
            );
            std::hint::black_box(root);
            std::hint::black_box(alloy_consensus::proofs::calculate_transaction_root(&txs));
            std::hint::black_box(alloy_consensus::proofs::calculate_receipt_root(&receipts));
        }),
        peer: Some(Side::new("raw revm loop on a cloned CacheDB", move || {
            raw_revm_block(peer.peer_db.clone(), &peer);
        })),
        target: None,
    }
}

fn recovery_pair(w: &Workload) -> Pair {
    let envelopes: Vec<TxEnvelope> = w.txs.iter().map(|t| t.inner().clone()).collect();
    let (ours, peer) = (envelopes.clone(), envelopes);
    let pool = crate::pool(2);
    Pair {
        kernel: "evm sender recovery",
        shape: format!("{TXS} EIP-1559 signatures (k256)"),
        bytes: 0,
        items: TXS as u64,
        zg: Side::in_pool("zg recover_senders (2 threads)", pool, move || {
            let recovered = recover_senders(ours.clone());
            assert!(recovered.iter().all(Result::is_ok));
        }),
        peer: Some(Side::new("alloy recover_signer loop (1 thread)", move || {
            for tx in &peer {
                std::hint::black_box(tx.recover_signer().expect("valid"));
            }
        })),
        target: None,
    }
}

fn intake_pair(keys: &[PrivateKeySigner], runtime: Arc<tokio::runtime::Runtime>) -> Pair {
    let raw: Vec<Vec<u8>> = keys
        .par_iter()
        .enumerate()
        .map(|(i, key)| sign(key, recipient(i), U256::from(GWEI), Bytes::new(), 21_000).encoded_2718())
        .collect();
    let alloc: Vec<(Address, U256)> = keys.iter().map(|k| (k.address(), ether(100))).collect();
    let hex_txs: Arc<Vec<Bytes>> = Arc::new(raw.iter().map(|r| Bytes::copy_from_slice(r)).collect());
    let base = std::env::var_os("ZG_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let (node_alloc, peer_alloc, peer_raw) = (alloc.clone(), alloc, raw);
    let node_base = base.clone();
    Pair {
        kernel: "chain tx intake",
        shape: format!("{TXS} transfers, durable blocks, 8 clients"),
        bytes: 0,
        items: TXS as u64,
        zg: Side::new("zg-chain eth_sendRawTransaction", move || {
            let dir = tempfile::tempdir_in(&node_base).expect("temp dir");
            let txs = hex_txs.clone();
            let alloc = node_alloc.clone();
            runtime.block_on(async move {
                let node = ChainNode::start(ChainNodeConfig {
                    listen: "127.0.0.1:0".parse().expect("address"),
                    data_dir: Some(dir.path().to_path_buf()),
                    chain_id: CHAIN_ID,
                    accounts: 0,
                    extra_alloc: alloc,
                    ..ChainNodeConfig::default()
                })
                .await
                .expect("node starts");
                let url = format!("http://{}", node.local_addr());
                let clients: Vec<_> = (0..8)
                    .map(|c| {
                        let txs = txs.clone();
                        let client = HttpClientBuilder::default().build(&url).expect("client");
                        tokio::spawn(async move {
                            for tx in txs.iter().skip(c).step_by(8) {
                                client.send_raw_transaction(tx.clone()).await.expect("accepted");
                            }
                        })
                    })
                    .collect();
                for client in clients {
                    client.await.expect("client finishes");
                }
                node.stop().await;
            });
        }),
        peer: Some(Side::new("in-process decode + produce_block", move || {
            let dir = tempfile::tempdir_in(&base).expect("temp dir");
            let config = ChainConfig {
                chain_id: CHAIN_ID,
                gas_limit: 30_000_000,
                coinbase: Address::ZERO,
                genesis_timestamp: 0,
                alloc: peer_alloc.clone(),
                // As zg-chain starts its chain: with the system contracts.
                system: Some(zg_evm::system::SystemConfig::default()),
            };
            let store = BlockLog::open_path(dir.path()).expect("log opens");
            let mut chain = Chain::open(config, store).expect("chain opens");
            let mut txs: Vec<_> = peer_raw
                .iter()
                .map(|r| decode_transaction(r, CHAIN_ID).expect("valid"))
                .collect();
            while !txs.is_empty() {
                txs = chain.produce_block(txs, 0).expect("block").deferred;
            }
        })),
        target: None,
    }
}

/// The pairs. `scale` is unused: the issue fixes the block at 10,000 transactions.
pub fn pairs(_scale: usize) -> Vec<Pair> {
    let keys = keys(TXS);
    let transfers = Arc::new(workload(&keys, false));
    let tokens = Arc::new(workload(&keys, true));
    let runtime = crate::runtime(Some(2));
    vec![
        execution_pair("evm block: ETH transfers", transfers.clone()),
        execution_pair("evm block: ERC-20 transfers", tokens.clone()),
        sealing_pair(tokens),
        recovery_pair(&transfers),
        intake_pair(&keys, runtime),
    ]
}
