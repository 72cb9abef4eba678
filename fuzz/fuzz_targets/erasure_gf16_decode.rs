//! Decoding from arbitrary shard sets: a subset of genuine shards, some of
//! them damaged, duplicated or replaced by fuzzer bytes. Decoding either
//! fails with a typed error or returns exactly the payload. The borrowed
//! encode of each payload must write the same records as the owned one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zg_erasure::gf16::{self, EncodeBuffers, Gf16Code, Gf16Decoder};

fuzz_target!(|input: &[u8]| {
    if input.len() < 4 {
        return;
    }
    let k = usize::from(input[0] % 6) + 1;
    let m = usize::from(input[1] % 5) + 1;
    let len = usize::from(u16::from_le_bytes([input[2], input[3]])) % 3000;
    let payload: Vec<u8> = (0..len).map(|i| (i * 31 % 256) as u8).collect();
    let Ok(code) = Gf16Code::new(k, m).and_then(|c| c.with_max_shard_len(128)) else {
        return;
    };
    let shards = code.encode(&payload, &[1; 32]).unwrap();
    let borrowed = code
        .encode_borrowed(&payload, &[1; 32], EncodeBuffers::default())
        .unwrap();
    assert_eq!(borrowed.len(), shards.len());
    assert!(
        borrowed
            .iter()
            .zip(&shards)
            .all(|(b, s)| b.to_vec() == s.as_bytes())
    );
    let mut records: Vec<Vec<u8>> = Vec::new();
    for (i, op) in input[4..].chunks(3).enumerate() {
        let pick = usize::from(op[0]) % shards.len();
        let mut rec = shards[pick].as_bytes().to_vec();
        match op.get(1).copied().unwrap_or(0) % 4 {
            0 => {}
            1 => {
                let at = usize::from(op.get(2).copied().unwrap_or(0)) * 7 % rec.len();
                rec[at] ^= 1 << (i % 8);
            }
            2 => rec.truncate(usize::from(op.get(2).copied().unwrap_or(0))),
            _ => rec = op.to_vec(),
        }
        records.push(rec);
    }
    if let Ok(out) = gf16::decode(records.iter().map(|r| &r[..])) {
        assert_eq!(out, payload);
    }
    // The lenient path: skip refused shards, decode with the rest.
    let mut d = Gf16Decoder::new();
    for r in &records {
        let _ = d.add(r);
    }
    if let Ok(out) = d.finish() {
        assert_eq!(out, payload);
    }
});
