//! An agent manifest as `zg agent run` reads it from storage: any bytes end in a
//! manifest or a typed refusal (never a panic), and an accepted manifest survives its
//! own JSON unchanged and still passes its checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zg_compute::agent::Manifest;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(manifest) = Manifest::parse(bytes) {
        let again = serde_json::to_vec(&manifest).expect("a manifest serializes");
        assert_eq!(Manifest::parse(&again).expect("its own JSON parses"), manifest);
        let request = manifest.request("m", &[], "hi");
        assert!(request["messages"].as_array().is_some_and(|m| !m.is_empty()));
    }
});
