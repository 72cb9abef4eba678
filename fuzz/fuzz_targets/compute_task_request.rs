//! A fine-tuning task request and a signed download from arbitrary bytes, as a provider
//! reads them off HTTP: a request either checks (its signer is its user, its root,
//! nonce and parameters parse and are in range) or is refused with a typed reason; a
//! download signature either checks or is refused — never a panic. A request the
//! fuzzer cannot sign never checks.
#![no_main]

use alloy_primitives::Address;
use libfuzzer_sys::fuzz_target;
use zg_compute::fine_tuning::{TaskRefusal, TaskRequest};
use zg_compute::tasks::check_download;

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let user = Address::repeat_byte(mode);
    if mode & 1 == 0 {
        let Ok(request) = serde_json::from_slice::<TaskRequest>(rest) else {
            return;
        };
        match request.check(user) {
            Ok(checked) => panic!("an unsigned request checked: {checked:?}"),
            Err(TaskRefusal::BadRequest(_) | TaskRefusal::Signature(_)) => {}
            Err(other) => panic!("a request gave {other}"),
        }
    } else if rest.len() >= 16 {
        let (times, rest) = rest.split_at(16);
        let timestamp = u64::from_le_bytes(times[..8].try_into().unwrap());
        let now = u64::from_le_bytes(times[8..].try_into().unwrap());
        let (id, signature) = rest.split_at(rest.len().min(36));
        let id = String::from_utf8_lossy(id);
        assert!(check_download(user, &id, timestamp, now, 300, signature).is_err());
    }
});
