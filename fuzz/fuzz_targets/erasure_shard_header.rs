//! Shard header and record parsing on arbitrary bytes: a typed error or a
//! shard whose checksum holds, never a panic or a large allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zg_erasure::gf16::{HEADER_LEN, Shard, ShardHeader};

fuzz_target!(|input: &[u8]| {
    if let Ok(h) = ShardHeader::parse(input) {
        assert!(h.index < h.k + h.m);
        assert!(h.shard_len >= 2 && h.shard_len % 2 == 0);
    }
    if let Ok(shard) = Shard::from_bytes(input.to_vec()) {
        assert_eq!(shard.body().len(), input.len() - HEADER_LEN);
        assert_eq!(
            shard.header().compute_checksum(shard.body()),
            shard.header().checksum
        );
    }
});
