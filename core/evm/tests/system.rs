//! The system contracts (0G's Flow and storage market) through the chain: 0G's
//! selectors and event topic, fees exact to the wei, 0G's reverts, and flow positions
//! and roots against zg-merkle's full flow tree.

use alloy_consensus::transaction::Recovered;
use alloy_consensus::{SignableTransaction, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, B256, Bytes, Log, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolError, SolEvent, SolValue};
use zg_evm::system::abi::{MineContext, Submission, SubmissionNode, SubmissionParams};
use zg_evm::system::{FLOW_ADDRESS, IFlow, IMarket, MARKET_ADDRESS, SYSTEM_CODE, SystemConfig};
use zg_evm::{BlockLog, CallRequest, Chain, ChainConfig, TxOutcome};
use zg_merkle::flow::FlowTree;
use zg_merkle::keccak_tree::KeccakTree;

const CHAIN_ID: u64 = 31337;
const GAS_PRICE: u128 = 2_000_000_000;
const PRICE: u64 = 1_000_000_000;

fn signer(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(i + 1)).unwrap()
}

fn chain(funded: &[Address]) -> Chain {
    let config = ChainConfig {
        chain_id: CHAIN_ID,
        gas_limit: 30_000_000,
        coinbase: Address::repeat_byte(0xcb),
        genesis_timestamp: 1_700_000_000,
        alloc: funded
            .iter()
            .map(|a| (*a, U256::from(10u64).pow(U256::from(21u64))))
            .collect(),
        system: Some(SystemConfig {
            price_per_sector: U256::from(PRICE),
            ..SystemConfig::default()
        }),
    };
    Chain::open(config, BlockLog::in_memory()).unwrap()
}

/// A legacy transaction (the Python SDK's kind) from `from` to the Flow.
fn to_flow(from: &PrivateKeySigner, nonce: u64, value: U256, input: Vec<u8>) -> Recovered<TxEnvelope> {
    let tx = TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce,
        gas_price: GAS_PRICE,
        gas_limit: 500_000,
        to: TxKind::Call(FLOW_ADDRESS),
        value,
        input: input.into(),
    };
    let sig = from.sign_hash_sync(&tx.signature_hash()).unwrap();
    Recovered::new_unchecked(TxEnvelope::from(tx.into_signed(sig)), from.address())
}

/// A file of `len` bytes as the SDKs submit it.
fn submission(len: usize, seed: u8) -> (Submission, KeccakTree) {
    let data: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    let tree = KeccakTree::from_data(&data);
    let nodes = tree
        .submission_nodes()
        .iter()
        .map(|n| SubmissionNode {
            root: B256::from(n.root),
            height: U256::from(n.height),
        })
        .collect();
    let s = Submission {
        length: U256::from(len),
        tags: Bytes::new(),
        nodes,
    };
    (s, tree)
}

fn sectors(s: &Submission) -> u64 {
    s.nodes.iter().map(|n| 1u64 << n.height.to::<u32>()).sum()
}

fn view(chain: &Chain, to: Address, data: Vec<u8>) -> Bytes {
    let request = CallRequest {
        to: Some(to),
        data: data.into(),
        ..CallRequest::default()
    };
    match chain.call(&request, 1_700_000_100).unwrap().outcome {
        TxOutcome::Success { output, .. } => output,
        other => panic!("view failed: {other:?}"),
    }
}

/// Function selectors and the `Submit` topic are 0G's, as the SDKs encode them.
#[test]
fn selectors_and_topic_are_0gs() {
    assert_eq!(IFlow::submit_0Call::SELECTOR, [0xef, 0x3e, 0x12, 0xdc]);
    assert_eq!(IFlow::submit_1Call::SELECTOR, [0xbc, 0x8c, 0x11, 0xf8]);
    assert_eq!(IFlow::batchSubmit_0Call::SELECTOR, [0x9e, 0x62, 0xa3, 0x8e]);
    assert_eq!(IFlow::batchSubmit_1Call::SELECTOR, [0x49, 0xaa, 0x33, 0x95]);
    assert_eq!(IFlow::marketCall::SELECTOR, [0x80, 0xf5, 0x56, 0x05]);
    assert_eq!(IMarket::pricePerSectorCall::SELECTOR, [0x61, 0xec, 0x50, 0x82]);
    assert_eq!(IFlow::numSubmissionsCall::SELECTOR, [0x77, 0xe1, 0x98, 0x24]);
    assert_eq!(IFlow::getContextCall::SELECTOR, [0x12, 0x7f, 0x0f, 0x07]);
    assert_eq!(
        IFlow::Submit::SIGNATURE_HASH.to_string(),
        "0x167ce04d2aa1981994d3a31695da0d785373335b1078cec239a1a3a2c7675555"
    );
    assert_eq!(IFlow::InvalidSubmission::SELECTOR, [0xf9, 0x56, 0xce, 0xe4]);
    assert_eq!(IFlow::NotEnoughFee::SELECTOR, [0xf8, 0x5c, 0x64, 0x82]);
}

/// Submissions through both `submit`s and a batch: each pays exactly Σ 2^height ×
/// price (the sender's balance falls by that plus gas, the market holds it), gets
/// the next tx seq, lands where zg-merkle's flow puts it, and logs `Submit` as 0G does.
#[test]
fn submissions_pay_exactly_and_land_where_0gs_flow_puts_them() {
    let alice = signer(0);
    let mut chain = chain(&[alice.address()]);
    assert_eq!(&chain.state().code_of(&FLOW_ADDRESS)[..], &SYSTEM_CODE);
    assert_eq!(&chain.state().code_of(&MARKET_ADDRESS)[..], &SYSTEM_CODE);
    let market = view(&chain, FLOW_ADDRESS, IFlow::marketCall {}.abi_encode());
    assert_eq!(Address::abi_decode(&market).unwrap(), MARKET_ADDRESS);
    let price = view(
        &chain,
        MARKET_ADDRESS,
        IMarket::pricePerSectorCall {}.abi_encode(),
    );
    assert_eq!(U256::abi_decode(&price).unwrap(), U256::from(PRICE));

    let mut reference = FlowTree::with_identifier([0; 32]);
    let files = [
        submission(1, 1),
        submission(300_000, 2),
        submission(5 * 1024 * 1024 + 17, 3),
        submission(4096, 4),
    ];
    let mut paid_total = U256::ZERO;
    let mut nonce = 0;
    let mut txs = Vec::new();
    let mut expect = Vec::new();
    for (i, (s, tree)) in files.iter().take(3).enumerate() {
        let fee = U256::from(sectors(s) * PRICE);
        paid_total += fee;
        let input = if i % 2 == 0 {
            IFlow::submit_1Call {
                params: SubmissionParams {
                    data: s.clone(),
                    submitter: alice.address(),
                },
            }
            .abi_encode()
        } else {
            IFlow::submit_0Call {
                submission: s.clone(),
            }
            .abi_encode()
        };
        txs.push(to_flow(&alice, nonce, fee, input));
        nonce += 1;
        expect.push(reference.append_submission(tree.submission_nodes()).unwrap());
    }
    // The fourth goes in a batch, with 1.2.8's shape.
    let (s, tree) = &files[3];
    let fee = U256::from(sectors(s) * PRICE);
    paid_total += fee;
    let batch = IFlow::batchSubmit_1Call {
        submissions: vec![SubmissionParams {
            data: s.clone(),
            submitter: alice.address(),
        }],
    };
    txs.push(to_flow(&alice, nonce, fee, batch.abi_encode()));
    expect.push(reference.append_submission(tree.submission_nodes()).unwrap());

    let before = chain.state().account(&alice.address()).unwrap().balance;
    let produced = chain.produce_block(txs, 1_700_000_012).unwrap();
    assert!(produced.rejected.is_empty() && produced.deferred.is_empty());
    let block = chain.head().clone();
    let mut gas = U256::ZERO;
    for (i, (file, record)) in files.iter().zip(&expect).enumerate() {
        let (_, outcome) = &produced.included[i];
        assert!(matches!(outcome, TxOutcome::Success { .. }), "{outcome:?}");
        gas += U256::from(block.gas_used_by(i)) * U256::from(GAS_PRICE);
        let logs = block.receipts[i].logs();
        assert_eq!(logs.len(), 1);
        let log: &Log = &logs[0];
        assert_eq!(log.address, FLOW_ADDRESS);
        let event = IFlow::Submit::decode_log_data(&log.data).unwrap();
        assert_eq!(event.sender, alice.address());
        assert_eq!(event.submissionIndex, U256::from(i));
        assert_eq!(event.startPos, U256::from(record.start), "file {i}");
        assert_eq!(event.length, U256::from(sectors(&file.0)));
        assert_eq!(event.submission, file.0);
        assert_eq!(
            event.identity,
            keccak256((file.0.nodes.clone(),).abi_encode_params())
        );
    }
    let after = chain.state().account(&alice.address()).unwrap().balance;
    assert_eq!(before - after, paid_total + gas, "exact to the wei");
    assert_eq!(
        chain.state().account(&MARKET_ADDRESS).unwrap().balance,
        paid_total
    );
    assert_eq!(
        chain
            .state()
            .account(&FLOW_ADDRESS)
            .map_or(U256::ZERO, |a| a.balance),
        U256::ZERO
    );

    let count = view(&chain, FLOW_ADDRESS, IFlow::numSubmissionsCall {}.abi_encode());
    assert_eq!(U256::abi_decode(&count).unwrap(), U256::from(4));
    let context = view(&chain, FLOW_ADDRESS, IFlow::getContextCall {}.abi_encode());
    let context = MineContext::abi_decode(&context).unwrap();
    assert_eq!(context.flowLength, U256::from(reference.len()));
    assert_eq!(context.flowRoot, B256::from(reference.root()));
}

/// Too little value: `NotEnoughFee(price, sectors, paid)` with 0G's selector; a
/// submission whose length does not need its nodes: `InvalidSubmission()`; a view
/// with value, a call without a selector, a delegate-style static call: plain
/// reverts. Nothing changes, and estimating gas reports the same revert.
#[test]
fn bad_submissions_revert_with_0gs_errors_and_change_nothing() {
    let alice = signer(0);
    let mut chain = chain(&[alice.address()]);
    let (s, _) = submission(300_000, 5);
    let fee = U256::from(sectors(&s) * PRICE);
    let underpaid = fee - U256::from(1);
    let mut bad = s.clone();
    bad.length = U256::from(10); // 300,000 bytes of nodes for a 10-byte file
    let txs = vec![
        to_flow(
            &alice,
            0,
            underpaid,
            IFlow::submit_0Call {
                submission: s.clone(),
            }
            .abi_encode(),
        ),
        to_flow(
            &alice,
            1,
            fee,
            IFlow::submit_0Call { submission: bad }.abi_encode(),
        ),
        to_flow(&alice, 2, U256::from(1), IFlow::marketCall {}.abi_encode()),
        to_flow(&alice, 3, U256::ZERO, vec![0xef]),
    ];
    let produced = chain.produce_block(txs, 1_700_000_012).unwrap();
    let outputs: Vec<Bytes> = produced
        .included
        .iter()
        .map(|(_, o)| match o {
            TxOutcome::Revert { output } => output.clone(),
            other => panic!("expected a revert, got {other:?}"),
        })
        .collect();
    let e = IFlow::NotEnoughFee::abi_decode(&outputs[0]).unwrap();
    assert_eq!(
        (e.price, e.amount, e.paid),
        (U256::from(PRICE), U256::from(sectors(&s)), underpaid)
    );
    IFlow::InvalidSubmission::abi_decode(&outputs[1]).unwrap();
    assert!(outputs[2].is_empty() && outputs[3].is_empty());
    assert!(chain.head().receipts.iter().all(|r| r.logs().is_empty()));
    let count = view(&chain, FLOW_ADDRESS, IFlow::numSubmissionsCall {}.abi_encode());
    assert_eq!(U256::abi_decode(&count).unwrap(), U256::ZERO);
    assert_eq!(
        chain.state().account(&MARKET_ADDRESS).unwrap().balance,
        U256::ZERO
    );

    // eth_estimateGas and eth_call see the same revert bytes.
    let request = CallRequest {
        from: Some(alice.address()),
        to: Some(FLOW_ADDRESS),
        value: Some(underpaid),
        data: IFlow::submit_0Call { submission: s }.abi_encode().into(),
        ..CallRequest::default()
    };
    match chain.estimate_gas(&request, 1_700_000_100) {
        Err(zg_evm::EstimateError::Failed(TxOutcome::Revert { output })) => {
            IFlow::NotEnoughFee::abi_decode(&output).unwrap();
        }
        other => panic!("{other:?}"),
    }
    let paid = CallRequest {
        value: Some(fee),
        ..request
    };
    let gas = chain.estimate_gas(&paid, 1_700_000_100).unwrap();
    assert!(gas > 21_000 && gas < 500_000, "{gas}");
}

/// `eth_call` of a submit or a batch runs it without committing: it returns the tx
/// seqs it would get, and the flow is unchanged after.
#[test]
fn a_submit_through_eth_call_commits_nothing() {
    let alice = signer(0);
    let chain = chain(&[alice.address()]);
    let (s, _) = submission(1000, 6);
    let (t, _) = submission(70_000, 7);
    let fee = U256::from((sectors(&s) + sectors(&t)) * PRICE);
    let run = |data: Vec<u8>| {
        let request = CallRequest {
            from: Some(alice.address()),
            to: Some(FLOW_ADDRESS),
            value: Some(fee),
            data: data.into(),
            ..CallRequest::default()
        };
        match chain.call(&request, 1_700_000_100).unwrap().outcome {
            TxOutcome::Success { output, .. } => output,
            other => panic!("{other:?}"),
        }
    };
    let out = run(IFlow::submit_0Call {
        submission: s.clone(),
    }
    .abi_encode());
    let ret = IFlow::submit_0Call::abi_decode_returns(&out).unwrap();
    assert_eq!(ret._0, U256::ZERO);
    // Both batch shapes return the tx seqs and lengths of every submission in it.
    let params = |x: &Submission| SubmissionParams {
        data: x.clone(),
        submitter: alice.address(),
    };
    let out = run(IFlow::batchSubmit_1Call {
        submissions: vec![params(&s), params(&t)],
    }
    .abi_encode());
    let ret = IFlow::batchSubmit_1Call::abi_decode_returns(&out).unwrap();
    assert_eq!(ret.indexes, vec![U256::ZERO, U256::from(1)]);
    assert_eq!(
        ret.lengths,
        vec![U256::from(sectors(&s)), U256::from(sectors(&t))]
    );
    let out = run(IFlow::batchSubmit_0Call {
        submissions: vec![s, t],
    }
    .abi_encode());
    let ret = IFlow::batchSubmit_0Call::abi_decode_returns(&out).unwrap();
    assert_eq!(ret.indexes, vec![U256::ZERO, U256::from(1)]);
    assert!(ret.startIndexes[1] > ret.startIndexes[0]);
    let count = view(&chain, FLOW_ADDRESS, IFlow::numSubmissionsCall {}.abi_encode());
    assert_eq!(U256::abi_decode(&count).unwrap(), U256::ZERO);
}
