//! Streamed decoding from shard streams written by `encode_stream`: some streams
//! dropped, some damaged (a flipped byte, cut short, bytes spliced in, or replaced by
//! fuzzer bytes). Decoding either fails with a typed error or writes exactly the
//! payload; never a panic or an allocation past the streams' sizes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zg_erasure::gf16::{self, Gf16Code};

fuzz_target!(|input: &[u8]| {
    if input.len() < 4 {
        return;
    }
    let k = usize::from(input[0] % 5) + 1;
    let m = usize::from(input[1] % 4) + 1;
    let len = usize::from(u16::from_le_bytes([input[2], input[3]])) % 2000;
    let payload: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
    // Small shards: several stripes per stream.
    let Ok(code) = Gf16Code::new(k, m).and_then(|c| c.with_max_shard_len(64)) else {
        return;
    };
    let mut streams = vec![Vec::new(); k + m];
    code.encode_stream(&payload[..], len as u64, &[2; 32], &mut streams)
        .expect("encoding a payload in memory");
    // Each 3-byte op names a stream and what happens to it.
    for op in input[4..].chunks(3) {
        let s = usize::from(op[0]) % streams.len();
        let arg = usize::from(op.get(2).copied().unwrap_or(0));
        let stream = &mut streams[s];
        match op.get(1).copied().unwrap_or(0) % 5 {
            0 => stream.clear(),
            1 if !stream.is_empty() => {
                let at = arg * 13 % stream.len();
                stream[at] ^= 1 << (arg % 8);
            }
            2 => stream.truncate(arg * 5),
            3 => {
                let at = (arg * 11).min(stream.len());
                stream.splice(at..at, op.iter().copied());
            }
            _ => *stream = op.to_vec(),
        }
    }
    let mut out = Vec::new();
    if gf16::decode_stream(streams.iter().map(|s| &s[..]).collect(), &mut out).is_ok() {
        assert_eq!(out, payload);
    }
});
