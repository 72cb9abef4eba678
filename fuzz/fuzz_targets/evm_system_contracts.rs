//! The system contracts (Flow, market, 0G DA's, the service registry) on arbitrary
//! calldata and on arbitrary submissions: every call ends in a result (never a panic), a
//! submit that succeeds on a fresh chain lands where zg-merkle's full flow tree puts it
//! and charges Σ 2^height × price, and a registration succeeds exactly when
//! `registry::check` passes it.
#![no_main]

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;
use libfuzzer_sys::fuzz_target;
use zg_evm::system::abi::{Submission, SubmissionNode};
use zg_evm::system::registry_abi::{IServiceRegistry, ServiceParams, check};
use zg_evm::system::{
    DA_ENTRANCE_ADDRESS, DA_REGISTRY_ADDRESS, DA_SIGNERS_ADDRESS, FLOW_ADDRESS, IFlow, MARKET_ADDRESS,
    REGISTRY_ADDRESS, SystemConfig,
};
use zg_evm::{BlockLog, CallRequest, Chain, ChainConfig, TxOutcome};
use zg_merkle::flow::FlowTree;

const PRICE: u64 = 3;

thread_local! {
    static CHAIN: Chain = Chain::open(
        ChainConfig {
            chain_id: 31337,
            gas_limit: 30_000_000,
            coinbase: Address::ZERO,
            genesis_timestamp: 0,
            alloc: vec![(Address::repeat_byte(1), U256::MAX >> 8)],
            system: Some(SystemConfig { price_per_sector: U256::from(PRICE), ..SystemConfig::default() }),
        },
        BlockLog::in_memory(),
    )
    .expect("chain opens");
}

fn call(to: Address, value: U256, data: Vec<u8>) -> TxOutcome {
    let request = CallRequest {
        from: Some(Address::repeat_byte(1)),
        to: Some(to),
        value: Some(value),
        data: data.into(),
        ..CallRequest::default()
    };
    CHAIN.with(|chain| {
        chain
            .call(&request, 1)
            .expect("a call of a funded account runs")
            .outcome
    })
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    // 0G DA's contracts (DASigners, DARegistry, DAEntrance) on arbitrary calldata.
    if mode >= 240 {
        let to = [DA_SIGNERS_ADDRESS, DA_REGISTRY_ADDRESS, DA_ENTRANCE_ADDRESS][usize::from(mode % 3)];
        call(to, U256::from(mode & 1), rest.to_vec());
        return;
    }
    // The registry: arbitrary calldata, or a registration of `|`-separated fields.
    if (224..240).contains(&mode) {
        if mode & 1 == 0 {
            call(REGISTRY_ADDRESS, U256::ZERO, rest.to_vec());
            return;
        }
        let text = String::from_utf8_lossy(rest);
        let mut parts = text.split('|');
        let mut next = || parts.next().unwrap_or_default().to_owned();
        let params = ServiceParams {
            kind: next(),
            name: next(),
            version: next(),
            description: next(),
            endpoint: next(),
            model: next(),
            priceUnit: next(),
            inputPrice: U256::from(mode),
            outputPrice: U256::ZERO,
            root: if next().is_empty() {
                B256::ZERO
            } else {
                B256::repeat_byte(7)
            },
        };
        let data = IServiceRegistry::registerServiceCall {
            params: params.clone(),
        }
        .abi_encode();
        let registered = matches!(
            call(REGISTRY_ADDRESS, U256::ZERO, data),
            TxOutcome::Success { .. }
        );
        assert_eq!(registered, check(&params).is_ok(), "{params:?}");
        return;
    }
    match mode % 3 {
        0 => {
            call(FLOW_ADDRESS, U256::ZERO, rest.to_vec());
        }
        1 => {
            call(MARKET_ADDRESS, U256::ZERO, rest.to_vec());
        }
        _ => {
            // length (8 bytes), value (8 bytes), then per node: height (1 byte), root (32).
            if rest.len() < 16 {
                return;
            }
            let length = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes"));
            let value = u64::from_le_bytes(rest[8..16].try_into().expect("8 bytes"));
            let nodes: Vec<SubmissionNode> = rest[16..]
                .chunks_exact(33)
                .take(6)
                .map(|c| SubmissionNode {
                    height: U256::from(c[0] % 72),
                    root: B256::from_slice(&c[1..]),
                })
                .collect();
            let submission = Submission {
                length: U256::from(length),
                tags: Bytes::new(),
                nodes: nodes.clone(),
            };
            let data = IFlow::submit_0Call { submission }.abi_encode();
            if let TxOutcome::Success { output, .. } = call(FLOW_ADDRESS, U256::from(value), data) {
                let ret = IFlow::submit_0Call::abi_decode_returns(&output).expect("decodes");
                let nodes: Vec<_> = nodes
                    .iter()
                    .map(|n| zg_merkle::keccak_tree::SubmissionNode {
                        root: n.root.0,
                        height: n.height.to(),
                    })
                    .collect();
                let sectors: u64 = nodes.iter().map(|n| 1u64 << n.height).sum();
                assert!(U256::from(sectors) * U256::from(PRICE) <= U256::from(value));
                let record = FlowTree::with_identifier([0; 32])
                    .append_submission(&nodes)
                    .expect("valid");
                assert_eq!(ret._2, U256::from(record.start));
                assert_eq!(ret._3, U256::from(sectors));
            }
        }
    }
});
