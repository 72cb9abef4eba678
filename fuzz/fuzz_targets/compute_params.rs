//! A chat completion body's sampling fields from arbitrary JSON: parsing ends in
//! parameters inside OpenAI's ranges or a typed refusal, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zg_compute::model::{MAX_STOP, ModelError, Params};

fuzz_target!(|input: &[u8]| {
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(input) else {
        return;
    };
    match Params::from_request(&request) {
        Ok(p) => {
            assert!((0.0..=2.0).contains(&p.temperature));
            assert!(p.top_p > 0.0 && p.top_p <= 1.0);
            assert!(p.max_tokens >= 1);
            assert!(p.stop.len() <= MAX_STOP && p.stop.iter().all(|s| !s.is_empty()));
        }
        Err(ModelError::BadRequest(_)) => {}
        Err(other) => panic!("a request's fields gave {other:?}"),
    }
});
