//! An upstream's SSE bytes, split into chunks at arbitrary points: the splitter never
//! panics, gives the same events however the bytes are chunked, and every event it
//! gives is a `data:` payload of the input; usage parsing of each event never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zg_compute::engine::{SseSplitter, Usage};

fuzz_target!(|input: &[u8]| {
    let Some((&cut, bytes)) = input.split_first() else {
        return;
    };
    let mut whole = SseSplitter::default();
    let Some(expected) = whole.feed(bytes) else { return };
    let mut chunked = SseSplitter::default();
    let mut got = Vec::new();
    for chunk in bytes.chunks(usize::from(cut).max(1)) {
        let Some(events) = chunked.feed(chunk) else { return };
        got.extend(events);
    }
    assert_eq!(got, expected);
    for event in &got {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(event) {
            let _ = Usage::from_json(&value);
        }
    }
});
