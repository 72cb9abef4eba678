//! A validator's check of a peer's proposed block on arbitrary bytes: raw bytes, or a
//! valid proposal with the input XORed over it (so the fuzzer reaches re-execution).
//! Never a panic; the chain's state never changes; what validates is the proposal.
#![no_main]

use std::sync::{Mutex, OnceLock};

use alloy_consensus::transaction::Recovered;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use libfuzzer_sys::fuzz_target;
use zg_evm::{BlockLog, Chain, ChainConfig, Proposal};

const NOW: u64 = 1_700_000_100;

struct Fixture {
    chain: Mutex<Chain>,
    valid: Vec<u8>,
    root: B256,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let alice = PrivateKeySigner::from_bytes(&B256::repeat_byte(1)).unwrap();
        let config = ChainConfig {
            chain_id: 16601,
            gas_limit: 30_000_000,
            coinbase: Address::ZERO,
            genesis_timestamp: 1_700_000_000,
            alloc: vec![(alice.address(), U256::from(10u64).pow(U256::from(21u64)))],
            system: None,
        };
        let mut chain = Chain::open(config, BlockLog::in_memory()).unwrap();
        let txs = (0..2)
            .map(|nonce| {
                let tx = TxEip1559 {
                    chain_id: 16601,
                    nonce,
                    gas_limit: 21_000,
                    max_fee_per_gas: 20_000_000_000,
                    max_priority_fee_per_gas: 1_000_000_000,
                    to: TxKind::Call(Address::repeat_byte(7)),
                    value: U256::from(nonce + 1),
                    access_list: Default::default(),
                    input: Bytes::new(),
                };
                let sig = alice.sign_hash_sync(&tx.signature_hash()).unwrap();
                Recovered::new_unchecked(TxEnvelope::from(tx.into_signed(sig)), alice.address())
            })
            .collect();
        let built = chain.build_block(txs, NOW, Address::repeat_byte(0xc0)).unwrap();
        let valid = built.block.proposal().to_bytes();
        let root = chain.state().clone().root();
        Fixture {
            chain: Mutex::new(chain),
            valid,
            root,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let bytes = match data.split_first() {
        Some((mode, rest)) if mode & 1 == 1 => {
            let mut bytes = fixture.valid.clone();
            for (b, x) in bytes.iter_mut().zip(rest) {
                *b ^= x;
            }
            bytes
        }
        _ => data.to_vec(),
    };
    let Ok(proposal) = Proposal::from_bytes(&bytes) else {
        return;
    };
    assert_eq!(Proposal::from_bytes(&proposal.to_bytes()).unwrap(), proposal);
    let mut chain = fixture.chain.lock().unwrap();
    if let Ok(block) = chain.validate_block(&proposal, NOW) {
        assert_eq!(block.hash(), proposal.hash());
        assert_eq!(block.proposal(), proposal);
    }
    assert_eq!(
        chain.state().clone().root(),
        fixture.root,
        "validation changed the state"
    );
    assert_eq!(chain.head().header.number, 0);
});
