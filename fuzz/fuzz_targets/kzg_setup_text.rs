//! The trusted-setup text parser on arbitrary text, and on the real setup's text with
//! one token replaced: a typed error or a setup equal to the real one (a changed
//! point must never be accepted), never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zg_kzg::TrustedSetup;

// The mainnet setup in the `trusted_setup.txt` format (the spec vectors' copy), as tokens.
fn real_tokens() -> &'static Vec<&'static str> {
    static TOKENS: OnceLock<Vec<&'static str>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        include_str!("../../kzg/tests/vectors/trusted_setup.txt")
            .split_whitespace()
            .collect()
    })
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        if let Ok(text) = std::str::from_utf8(rest) {
            let _ = TrustedSetup::from_text(text);
        }
        return;
    }
    // Replace one of the first 40 tokens of the real file (the counts and the first
    // points: a bad one fails before the 8,000 points after it are checked).
    let [a, ..] = rest else { return };
    let Ok(replacement) = std::str::from_utf8(&rest[1..]) else {
        return;
    };
    let tokens = real_tokens();
    let at = usize::from(*a) % 40;
    let mut text = String::new();
    for (i, t) in tokens.iter().enumerate() {
        text.push_str(if i == at { replacement } else { t });
        text.push('\n');
    }
    static REAL: OnceLock<TrustedSetup> = OnceLock::new();
    if let Ok(setup) = TrustedSetup::from_text(&text) {
        assert!(
            setup == *REAL.get_or_init(TrustedSetup::ethereum),
            "a changed setup file parsed to a different setup"
        );
    }
});
