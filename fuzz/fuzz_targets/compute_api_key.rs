//! 0G's compute API keys on arbitrary input: parsing and every check end in a key
//! or a typed refusal, never a panic; a key that passes was signed by its address.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use zg_compute::{AccountKeys, ApiKey};

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    // As a header, as a bare key, and as the base64 body of a key.
    let body = format!(
        "app-sk-{}",
        base64::engine::general_purpose::STANDARD.encode(input)
    );
    for parsed in [
        ApiKey::from_header(Some(text)),
        ApiKey::parse(text),
        ApiKey::parse(&body),
    ] {
        let Ok(key) = parsed else { continue };
        let m = key.message().clone();
        let account = AccountKeys {
            acknowledged: true,
            ..AccountKeys::default()
        };
        if let Ok(user) = key.check(m.provider, m.timestamp, &account) {
            assert_eq!(user, m.address);
            assert_eq!(key.signer(), Ok(m.address));
        }
    }
});
