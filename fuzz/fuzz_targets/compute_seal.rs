//! A sealed key and a sealed model from arbitrary bytes: opening either never panics
//! and never succeeds for bytes that were not sealed for this key; a model sealed from
//! the input opens to the same bytes, and any one byte flipped in its file is refused.
#![no_main]

use alloy_primitives::B256;
use alloy_signer_local::PrivateKeySigner;
use libfuzzer_sys::fuzz_target;
use zg_compute::seal::{self, SealError};

fuzz_target!(|input: &[u8]| {
    let user = k256::SecretKey::from_slice(&[7u8; 32]).expect("a valid key");
    let signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(3)).expect("a valid key");
    let key = [9u8; 32];
    // Arbitrary bytes: typed refusals only.
    assert!(seal::open_key(&user, input).is_err());
    assert!(seal::decrypt_model(&key, input, signer.address()).is_err());

    // A real seal of the input, then one byte flipped where the input says.
    let file = seal::encrypt_model(&key, input, &signer);
    assert_eq!(
        seal::decrypt_model(&key, &file, signer.address()).expect("opens"),
        input
    );
    let at = input.first().map_or(0, |b| usize::from(*b) * 7919) % file.len();
    let mut altered = file;
    altered[at] ^= 0x01;
    let refused = seal::decrypt_model(&key, &altered, signer.address());
    assert!(
        matches!(
            refused,
            Err(SealError::Altered | SealError::BadSignature | SealError::WrongSigner { .. })
        ),
        "{refused:?}"
    );
});
