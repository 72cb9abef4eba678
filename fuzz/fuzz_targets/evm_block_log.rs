//! A chain's block log on arbitrary bytes: the log file parser (torn tail vs
//! corruption), and block records replayed after a valid genesis. A typed error or
//! a chain that keeps producing blocks, never a panic.
#![no_main]

use std::sync::OnceLock;

use alloy_primitives::{Address, U256};
use libfuzzer_sys::fuzz_target;
use zg_evm::{BlockLog, Chain, ChainConfig, LOG_FILE};
use zg_store::MemoryDir;

fn config() -> ChainConfig {
    ChainConfig {
        chain_id: 16601,
        gas_limit: 30_000_000,
        coinbase: Address::ZERO,
        genesis_timestamp: 0,
        alloc: vec![(Address::repeat_byte(1), U256::from(10u64).pow(U256::from(20u64)))],
        // The genesis the corpus was grown against: no system contracts.
        system: None,
    }
}

// The genesis record a chain of `config()` writes first.
fn genesis() -> &'static Vec<u8> {
    static GENESIS: OnceLock<Vec<u8>> = OnceLock::new();
    GENESIS.get_or_init(|| {
        let dir = MemoryDir::new();
        let log = BlockLog::open(&dir).expect("log opens");
        Chain::open(config(), log).expect("genesis");
        let mut log = BlockLog::open(&dir).expect("log reopens");
        log.records().expect("records")[0].clone()
    })
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let dir = MemoryDir::faulty();
    if mode & 1 == 0 {
        // The whole input is a log file.
        dir.put_file(LOG_FILE, rest.to_vec());
    } else {
        // The input is block 1's record, after a valid genesis.
        let mut log = BlockLog::open(&dir).expect("log opens");
        log.append(genesis()).expect("genesis appends");
        let Ok(()) = log.append(rest) else { return };
    }
    let Ok(log) = BlockLog::open(&dir) else { return };
    if let Ok(mut chain) = Chain::open(config(), log) {
        if mode & 1 == 1 {
            assert_eq!(chain.head().header.number, 1);
        }
        chain
            .produce_block(Vec::new(), 1)
            .expect("an empty block on a replayed chain");
    }
});
