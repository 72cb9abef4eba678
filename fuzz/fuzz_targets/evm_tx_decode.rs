//! `eth_sendRawTransaction`'s decoder on arbitrary bytes: a typed error, or a
//! transaction that re-encodes to bytes decoding to the same transaction and sender.
#![no_main]

use alloy_eips::eip2718::Encodable2718;
use libfuzzer_sys::fuzz_target;
use zg_evm::decode_transaction;

const CHAIN_ID: u64 = 16601;

fuzz_target!(|raw: &[u8]| {
    if let Ok(tx) = decode_transaction(raw, CHAIN_ID) {
        let again = decode_transaction(&tx.inner().encoded_2718(), CHAIN_ID).expect("re-decodes");
        assert_eq!(again.inner().tx_hash(), tx.inner().tx_hash());
        assert_eq!(again.signer(), tx.signer());
        // Executable: the conversion to revm's view never panics either.
        let _ = zg_evm::tx_env(&tx);
    }
});
