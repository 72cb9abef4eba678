//! A chain's block log on arbitrary bytes: the log file parser (torn tail vs
//! corruption), and block records replayed after a valid genesis. A typed error or
//! a chain that keeps producing blocks, never a panic.
#![no_main]

use std::sync::{Arc, Mutex, OnceLock};

use alloy_primitives::{Address, U256};
use libfuzzer_sys::fuzz_target;
use zg_core::evm::{BlockStore, Chain, ChainConfig, FileBlockStore, LOG_FILE, LogError};

fn config() -> ChainConfig {
    ChainConfig {
        chain_id: 16601,
        gas_limit: 30_000_000,
        coinbase: Address::ZERO,
        genesis_timestamp: 0,
        alloc: vec![(Address::repeat_byte(1), U256::from(10u64).pow(U256::from(20u64)))],
    }
}

// Records in memory, shared so the genesis a chain writes can be read back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<Vec<u8>>>>);

impl BlockStore for Shared {
    fn records(&mut self) -> Result<Vec<Vec<u8>>, LogError> {
        Ok(self.0.lock().unwrap().clone())
    }
    fn append(&mut self, record: &[u8]) -> Result<(), LogError> {
        self.0.lock().unwrap().push(record.to_vec());
        Ok(())
    }
}

fn genesis() -> &'static Vec<u8> {
    static GENESIS: OnceLock<Vec<u8>> = OnceLock::new();
    GENESIS.get_or_init(|| {
        let store = Shared::default();
        Chain::open(config(), Box::new(store.clone())).expect("genesis");
        store.0.lock().unwrap()[0].clone()
    })
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else { return };
    if mode & 1 == 0 {
        // The whole input is a log file.
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(LOG_FILE), rest).expect("writes");
        let Ok(store) = FileBlockStore::open(dir.path()) else { return };
        if let Ok(mut chain) = Chain::open(config(), Box::new(store)) {
            chain.produce_block(Vec::new(), 1).expect("an empty block on a replayed chain");
        }
    } else {
        // The input is block 1's record, after a valid genesis.
        let store = Shared(Arc::new(Mutex::new(vec![genesis().clone(), rest.to_vec()])));
        if let Ok(mut chain) = Chain::open(config(), Box::new(store)) {
            assert_eq!(chain.head().header.number, 1);
            chain.produce_block(Vec::new(), 1).expect("an empty block on a replayed chain");
        }
    }
});
