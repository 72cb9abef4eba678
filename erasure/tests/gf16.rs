//! GF(2^16) code: round trips, every loss pattern on small codes, corrupt /
//! duplicate / foreign shards, striping, streams and bad input.

use rand::{Rng, RngCore, SeedableRng, rngs::StdRng};
use zg_erasure::ErasureError;
use zg_erasure::gf16::{
    self, EncodeBuffers, Gf16Code, Gf16Decoder, HEADER_LEN, Shard, ShardHeader, decode_stream,
};

fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

fn records(shards: &[Shard]) -> Vec<&[u8]> {
    shards.iter().map(|s| s.as_bytes()).collect()
}

#[test]
fn round_trips_over_many_shapes() {
    let mut rng = StdRng::seed_from_u64(1);
    for (k, m) in [
        (1, 1),
        (1, 5),
        (5, 1),
        (2, 3),
        (3, 2),
        (10, 4),
        (17, 17),
        (32, 32),
        (100, 30),
    ] {
        let code = Gf16Code::new(k, m).unwrap();
        for len in [0usize, 1, 2, 63, 64, 65, 999, 4097, 100_003] {
            let data = payload(len, (k * 1000 + m + len) as u64);
            let shards = code.encode(&data, &[3; 32]).unwrap();
            let stripes = code.stripes_for(len as u64) as usize;
            assert_eq!(shards.len(), stripes * (k + m));
            // Systematic: the original shards hold the payload.
            if stripes == 1 && len > 0 {
                let joined: Vec<u8> = shards[..k].iter().flat_map(|s| s.body().to_vec()).collect();
                assert_eq!(&joined[..len], &data[..]);
            }
            // Drop m random shards of every stripe.
            let mut kept = Vec::new();
            for s in 0..stripes {
                let stripe = &shards[s * (k + m)..(s + 1) * (k + m)];
                let mut idx: Vec<usize> = (0..k + m).collect();
                for i in (1..idx.len()).rev() {
                    idx.swap(i, rng.random_range(0..=i));
                }
                kept.extend(idx[..k].iter().map(|&i| stripe[i].as_bytes()));
            }
            assert_eq!(gf16::decode(kept).unwrap(), data, "k={k} m={m} len={len}");
        }
    }
}

#[test]
fn every_loss_pattern_on_small_codes() {
    for (k, m) in [(1, 1), (2, 2), (3, 2), (4, 3), (2, 5), (5, 3)] {
        let code = Gf16Code::new(k, m).unwrap();
        let data = payload(1000 + k * 7, k as u64);
        let shards = code.encode(&data, &[1; 32]).unwrap();
        let n = k + m;
        for mask in 0u32..(1 << n) {
            let kept: Vec<&[u8]> = (0..n)
                .filter(|i| mask >> i & 1 == 1)
                .map(|i| shards[i].as_bytes())
                .collect();
            let got = gf16::decode(kept.iter().copied());
            if kept.len() >= k {
                assert_eq!(got.unwrap(), data, "k={k} m={m} mask={mask:b}");
            } else if kept.is_empty() {
                assert!(matches!(got, Err(ErasureError::NoShards)));
            } else {
                assert!(
                    matches!(got, Err(ErasureError::TooFewShards { stripe: 0, .. })),
                    "mask={mask:b}"
                );
            }
        }
    }
}

#[test]
fn maximum_shard_counts() {
    for (k, m) in [
        (32768, 32768),
        (61440, 4096),
        (4096, 61440),
        (1, 65535),
        (65535, 1),
    ] {
        let code = Gf16Code::new(k, m).unwrap();
        let data = payload(k * 64, 5);
        let shards = code.encode(&data, &[9; 32]).unwrap();
        assert_eq!(shards.len(), k + m);
        // Keep the last k shards: as many recovery shards as possible.
        let kept = records(&shards[m..]);
        assert_eq!(gf16::decode(kept).unwrap(), data, "k={k} m={m}");
    }
    for (k, m) in [
        (0, 1),
        (1, 0),
        (40000, 25000),
        (32769, 32768),
        (65536, 1),
        (1, 65536),
    ] {
        assert!(
            matches!(Gf16Code::new(k, m), Err(ErasureError::UnsupportedCounts { .. })),
            "k={k} m={m}"
        );
    }
}

#[test]
fn striped_payloads_decode_with_different_losses_per_stripe() {
    let code = Gf16Code::new(6, 3).unwrap().with_max_shard_len(1024).unwrap();
    let data = payload(6 * 1024 * 5 + 777, 8);
    let shards = code.encode(&data, &[2; 32]).unwrap();
    assert_eq!(code.stripes_for(data.len() as u64), 6);
    let mut kept = Vec::new();
    for s in 0..6 {
        for i in 0..9 {
            // Each stripe loses a different set of three.
            if (i + s) % 3 != 0 {
                kept.push(shards[s * 9 + i].as_bytes());
            }
        }
    }
    kept.reverse(); // any order
    assert_eq!(gf16::decode(kept).unwrap(), data);
}

#[test]
fn corrupt_shards_are_detected_anywhere() {
    let code = Gf16Code::new(3, 2).unwrap();
    let data = payload(500, 4);
    let shards = code.encode(&data, &[5; 32]).unwrap();
    let rec = shards[4].as_bytes().to_vec();
    for byte in 0..rec.len() {
        for bit in [0, 7] {
            let mut bad = rec.clone();
            bad[byte] ^= 1 << bit;
            let got = Shard::from_bytes(bad);
            assert!(got.is_err(), "flip of byte {byte} bit {bit} went unnoticed");
            if byte >= HEADER_LEN || (72..HEADER_LEN).contains(&byte) {
                assert!(matches!(
                    got,
                    Err(ErasureError::CorruptShard { stripe: 0, index: 4 })
                ));
            }
        }
    }
    // A flipped index is caught by the checksum, not decoded into the wrong slot.
    let mut bad_index = rec;
    bad_index[16] = 3; // recovery shard 4 claiming to be recovery shard 3
    assert!(matches!(
        Shard::from_bytes(bad_index),
        Err(ErasureError::CorruptShard { .. })
    ));
}

#[test]
fn decode_names_a_corrupt_record_whose_checksum_it_checks_late() {
    // decode() checks headers as records come and bodies as stripes decode;
    // a flip anywhere must still be refused, named as corruption where the
    // header parses (not as a duplicate, foreign or missing shard).
    let code = Gf16Code::new(3, 2).unwrap().with_max_shard_len(256).unwrap();
    let data = payload(1500, 8);
    let shards = code.encode(&data, &[5; 32]).unwrap();
    assert_eq!(code.stripes_for(1500), 2);
    // The first record is checked whole; later ones late, posing as others when their stripe or index flips.
    for (at, victim) in [(0usize, 1usize), (1, 1), (2, 9), (4, 3)] {
        // Stripe 0 from shards 1, 3, 4 (originals 0 and 2 restored), stripe 1 from 5, 8, 9.
        let mut set: Vec<Vec<u8>> = [1usize, 3, 4, 5, 8, 9]
            .iter()
            .map(|&i| shards[i].as_bytes().to_vec())
            .collect();
        let i = [1usize, 3, 4, 5, 8, 9].iter().position(|&i| i == victim).unwrap();
        set.swap(at, i);
        let rec = set[at].clone();
        for byte in 0..rec.len() {
            for bit in [0, 7] {
                set[at] = rec.clone();
                set[at][byte] ^= 1 << bit;
                let got = gf16::decode(set.iter().map(|r| &r[..]));
                let parsed = ShardHeader::parse(&set[at]).is_ok();
                assert!(
                    got.is_err(),
                    "flip of byte {byte} bit {bit} of shard {victim} went unnoticed"
                );
                let err = got.unwrap_err();
                if parsed {
                    assert!(
                        matches!(
                            err,
                            ErasureError::CorruptShard { .. } | ErasureError::BodyLength { .. }
                        ),
                        "flip of byte {byte} bit {bit} of shard {victim} (record {at}): {err}"
                    );
                }
                if byte >= 72 {
                    let (stripe, index) = (victim as u64 / 5, victim as u32 % 5);
                    assert!(
                        matches!(err, ErasureError::CorruptShard { stripe: s, index: i } if s == stripe && i == index),
                        "{err}"
                    );
                }
            }
        }
        set[at] = rec;
        assert_eq!(gf16::decode(set.iter().map(|r| &r[..])).unwrap(), data);
    }
}

#[test]
fn long_shards_restore_a_column_block_at_a_time() {
    // Shards longer than a restore block (32:32 at 64 KiB: 8 KiB blocks;
    // 128:128 at 8 KiB: 2 KiB), a short last stripe, and shapes on either
    // rate; every loss pattern class: originals only, mixed, all originals.
    let mut rng = StdRng::seed_from_u64(9);
    for (k, m, len) in [
        (32, 32, 64 << 10),
        (128, 128, 8 << 10),
        (100, 30, 4 << 10),
        (20, 40, 4 << 10),
    ] {
        let code = Gf16Code::new(k, m).unwrap().with_max_shard_len(len).unwrap();
        let data = payload(2 * k * len + 12_345, (k + m) as u64);
        let shards = code.encode(&data, &[4; 32]).unwrap();
        let stripes = code.stripes_for(data.len() as u64) as usize;
        assert_eq!(stripes, 3);
        for lost_originals in [1, k.min(m) / 2, k.min(m)] {
            let mut kept = Vec::new();
            for s in 0..stripes {
                let stripe = &shards[s * (k + m)..(s + 1) * (k + m)];
                let mut originals: Vec<usize> = (0..k).collect();
                let mut recovery: Vec<usize> = (k..k + m).collect();
                for v in [&mut originals, &mut recovery] {
                    for i in (1..v.len()).rev() {
                        v.swap(i, rng.random_range(0..=i));
                    }
                }
                let picked = originals[lost_originals..]
                    .iter()
                    .chain(&recovery[..lost_originals]);
                kept.extend(picked.map(|&i| stripe[i].as_bytes()));
            }
            let got = gf16::decode(kept.iter().copied()).unwrap();
            assert!(got == data, "k={k} m={m} len={len} lost {lost_originals}");
            // A flipped body byte in the middle of a block is refused, never decoded.
            let mut bad: Vec<Vec<u8>> = kept.iter().map(|r| r.to_vec()).collect();
            let victim = bad.len() - 1;
            bad[victim][HEADER_LEN + len / 2 + 1] ^= 4;
            assert!(matches!(
                gf16::decode(bad.iter().map(|r| &r[..])),
                Err(ErasureError::CorruptShard { stripe: 2, .. })
            ));
        }
    }
}

#[test]
fn duplicate_foreign_and_too_few_are_named() {
    let code = Gf16Code::new(3, 2).unwrap();
    let data = payload(777, 6);
    let shards = code.encode(&data, &[1; 32]).unwrap();
    let other = code.encode(&payload(777, 7), &[2; 32]).unwrap();
    let other_k = Gf16Code::new(2, 3).unwrap().encode(&data, &[1; 32]).unwrap();

    let mut d = Gf16Decoder::new();
    d.add(shards[0].as_bytes()).unwrap();
    assert!(matches!(
        d.add(shards[0].as_bytes()),
        Err(ErasureError::DuplicateShard { stripe: 0, index: 0 })
    ));
    assert!(matches!(
        d.add(other[1].as_bytes()),
        Err(ErasureError::ForeignShard {
            field: "payload id",
            index: 1,
            ..
        })
    ));
    assert!(matches!(
        d.add(other_k[1].as_bytes()),
        Err(ErasureError::ForeignShard { field: "k", .. })
    ));
    d.add(shards[3].as_bytes()).unwrap();
    assert!(!d.is_complete());
    // The refused shards left the decoder as it was: one more good shard completes it.
    d.add(shards[4].as_bytes()).unwrap();
    assert_eq!(d.finish().unwrap(), data);

    let two = records(&shards[..2]);
    assert!(matches!(
        gf16::decode(two),
        Err(ErasureError::TooFewShards {
            stripe: 0,
            have: 2,
            need: 3
        })
    ));
    assert!(matches!(gf16::decode([]), Err(ErasureError::NoShards)));
}

#[test]
fn streams_round_trip_and_skip_damage() {
    let code = Gf16Code::new(4, 2).unwrap().with_max_shard_len(256).unwrap();
    let data = payload(4 * 256 * 37 + 5, 11); // 38 stripes, more than one batch
    let mut sinks = vec![Vec::new(); 6];
    code.encode_stream(&data[..], data.len() as u64, &[8; 32], &mut sinks)
        .unwrap();
    // The streams hold the same records as in-memory encoding.
    let shards = code.encode(&data, &[8; 32]).unwrap();
    assert_eq!(&sinks[5][..HEADER_LEN + 256], shards[5].as_bytes());

    // Lose streams 0 and 3; corrupt one record body in stream 1 (stripe 2), so
    // stripe 2 is short: decoding must fail naming it.
    let mut damaged = sinks.clone();
    damaged[1][2 * (HEADER_LEN + 256) + HEADER_LEN + 9] ^= 0x40;
    let sources: Vec<&[u8]> = vec![&damaged[1], &damaged[2], &damaged[4], &damaged[5]];
    let mut out = Vec::new();
    let err = decode_stream(sources, &mut out).unwrap_err();
    assert!(
        matches!(
            err,
            ErasureError::TooFewShards {
                stripe: 2,
                have: 3,
                need: 4
            }
        ),
        "{err}"
    );

    // With stream 0 back, the corrupt record is skipped and reported.
    let sources: Vec<&[u8]> = vec![&damaged[0], &damaged[1], &damaged[2], &damaged[4], &damaged[5]];
    let mut out = Vec::new();
    let summary = decode_stream(sources, &mut out).unwrap();
    assert_eq!(out, data);
    assert_eq!(summary.bytes, data.len() as u64);
    assert!(matches!(
        summary.rejected[..],
        [ErasureError::CorruptShard { stripe: 2, index: 1 }]
    ));

    // A stream of another payload is dropped as foreign.
    let mut foreign = vec![Vec::new(); 6];
    code.encode_stream(
        &payload(data.len(), 12)[..],
        data.len() as u64,
        &[9; 32],
        &mut foreign,
    )
    .unwrap();
    let sources: Vec<&[u8]> = vec![&sinks[0], &sinks[1], &foreign[2], &sinks[3], &sinks[4]];
    let mut out = Vec::new();
    let summary = decode_stream(sources, &mut out).unwrap();
    assert_eq!(out, data);
    assert!(matches!(
        summary.rejected[..],
        [ErasureError::ForeignShard {
            field: "payload id",
            ..
        }]
    ));
}

#[test]
fn stream_length_and_count_errors() {
    let code = Gf16Code::new(2, 1).unwrap();
    let mut sinks = vec![Vec::new(); 3];
    assert!(matches!(
        code.encode_stream(&[1u8; 10][..], 11, &[0; 32], &mut sinks),
        Err(ErasureError::PayloadLength {
            expected: 11,
            got: 10
        })
    ));
    assert!(matches!(
        code.encode_stream(&[1u8; 12][..], 11, &[0; 32], &mut vec![Vec::new(); 3]),
        Err(ErasureError::PayloadLength { expected: 11, .. })
    ));
    assert!(matches!(
        code.encode_stream(&[1u8; 12][..], 12, &[0; 32], &mut vec![Vec::new(); 2]),
        Err(ErasureError::StreamCount { expected: 3, got: 2 })
    ));
    let empty: Vec<&[u8]> = vec![];
    assert!(matches!(
        decode_stream(empty, Vec::new()),
        Err(ErasureError::NoShards)
    ));
}

fn header_bytes(h: &ShardHeader) -> Vec<u8> {
    // Build a sealed record via encode, then patch fields for the checks below.
    let code = Gf16Code::new(h.k as usize, h.m as usize).unwrap();
    code.encode(&[0u8; 10], &h.payload_id).unwrap()[0].as_bytes()[..HEADER_LEN].to_vec()
}

#[test]
fn bad_headers_give_typed_errors_without_allocating() {
    let base = ShardHeader {
        k: 2,
        m: 1,
        index: 0,
        shard_len: 64,
        stripe: 0,
        payload_len: 10,
        payload_id: [0; 32],
        checksum: [0; 32],
    };
    let good = header_bytes(&base);
    ShardHeader::parse(&good).unwrap();
    let patch = |off: usize, bytes: &[u8]| {
        let mut h = good.clone();
        h[off..off + bytes.len()].copy_from_slice(bytes);
        ShardHeader::parse(&h)
    };
    assert!(matches!(
        ShardHeader::parse(&good[..50]),
        Err(ErasureError::Truncated { .. })
    ));
    assert!(matches!(patch(0, b"XXXX"), Err(ErasureError::BadMagic { .. })));
    assert!(matches!(
        patch(4, &[1]),
        Err(ErasureError::UnsupportedVersion { got: 1, .. })
    ));
    assert!(matches!(patch(5, &[1]), Err(ErasureError::InvalidHeader(_))));
    assert!(matches!(
        patch(8, &0u32.to_le_bytes()),
        Err(ErasureError::UnsupportedCounts { .. })
    ));
    assert!(matches!(
        patch(12, &65535u32.to_le_bytes()),
        Err(ErasureError::UnsupportedCounts { .. })
    ));
    assert!(matches!(
        patch(16, &3u32.to_le_bytes()),
        Err(ErasureError::InvalidHeader(_))
    ));
    assert!(matches!(
        patch(20, &u32::MAX.to_le_bytes()),
        Err(ErasureError::InvalidShardLen { .. })
    ));
    assert!(matches!(
        patch(20, &63u32.to_le_bytes()),
        Err(ErasureError::InvalidShardLen { .. })
    ));
    assert!(matches!(
        patch(24, &1u64.to_le_bytes()),
        Err(ErasureError::InvalidHeader(_))
    ));
    // A huge payload length parses (the stripe count is just large) but
    // decoding asks for its missing stripes instead of allocating.
    let mut huge = good.clone();
    huge[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
    let h = ShardHeader::parse(&huge).unwrap();
    let mut rec = huge.clone();
    rec.extend(vec![0u8; 64]);
    let sum = h.compute_checksum(&rec[HEADER_LEN..]);
    rec[72..HEADER_LEN].copy_from_slice(&sum);
    let mut rec1 = rec.clone();
    rec1[16] = 1;
    let h1 = ShardHeader::parse(&rec1).unwrap();
    let sum1 = h1.compute_checksum(&rec1[HEADER_LEN..]);
    rec1[72..HEADER_LEN].copy_from_slice(&sum1);
    assert!(matches!(
        gf16::decode([&rec[..], &rec1[..]]),
        Err(ErasureError::TooFewShards {
            stripe: 1,
            have: 0,
            need: 2
        })
    ));
    // Body of the wrong length.
    let mut short = rec.clone();
    short.pop();
    assert!(matches!(
        Shard::from_bytes(short),
        Err(ErasureError::BodyLength { .. })
    ));
    assert!(Gf16Code::new(2, 1).unwrap().with_max_shard_len(3).is_err());
    assert!(Gf16Code::new(2, 1).unwrap().with_max_shard_len(1 << 25).is_err());
}

#[test]
fn encode_into_reuses_buffers_and_matches_encode() {
    let code = Gf16Code::new(5, 3).unwrap().with_max_shard_len(512).unwrap();
    let mut out = Vec::new();
    for len in [10_000usize, 3, 7_000, 0, 12_345] {
        let data = payload(len, len as u64);
        code.encode_into(&data, &[4; 32], &mut out).unwrap();
        assert_eq!(out, code.encode(&data, &[4; 32]).unwrap(), "len {len}");
        assert_eq!(gf16::decode(records(&out[3..])).unwrap(), data);
    }
}

#[test]
fn raw_stripes_recover_from_every_k_subset() {
    use zg_erasure::gf16::Gf16Code;
    let (k, m, len) = (3usize, 2usize, 128usize);
    let code = Gf16Code::new(k, m).unwrap();
    let originals: Vec<Vec<u8>> = (0..k)
        .map(|i| (0..len).map(|j| (i * 7 + j * 13) as u8).collect())
        .collect();
    let refs: Vec<&[u8]> = originals.iter().map(|v| &v[..]).collect();
    let recovery = code.encode_raw(&refs).unwrap();
    assert_eq!(recovery.len(), m);
    let all: Vec<&[u8]> = refs
        .iter()
        .copied()
        .chain(recovery.iter().map(|v| &v[..]))
        .collect();
    let want: Vec<u8> = originals.concat();
    for mask in 0u32..1 << (k + m) {
        let shards: Vec<(u32, &[u8])> = (0..(k + m) as u32)
            .filter(|i| mask >> i & 1 == 1)
            .map(|i| (i, all[i as usize]))
            .collect();
        let got = code.reconstruct_raw(&shards);
        if shards.len() >= k {
            assert_eq!(got.unwrap(), want, "mask {mask:b}");
        } else {
            assert!(got.is_err());
        }
    }
    // Bad input: duplicates, out-of-range indices, odd or mismatched lengths.
    assert!(
        code.reconstruct_raw(&[(0, all[0]), (0, all[0]), (1, all[1])])
            .is_err()
    );
    assert!(
        code.reconstruct_raw(&[(0, all[0]), (1, all[1]), (9, all[2])])
            .is_err()
    );
    assert!(
        code.reconstruct_raw(&[(0, all[0]), (1, all[1]), (2, &all[2][..64])])
            .is_err()
    );
    assert!(code.encode_raw(&refs[..2]).is_err());
    assert!(code.encode_raw(&[&[1u8][..], &[2][..], &[3][..]]).is_err());

    // Into reused, dirty buffers: the same bytes; buffers of the wrong count or length refused.
    let mut dirty = vec![vec![0xEEu8; len]; m];
    let mut outs: Vec<&mut [u8]> = dirty.iter_mut().map(Vec::as_mut_slice).collect();
    code.encode_raw_into(&refs, &mut outs).unwrap();
    assert_eq!(dirty, recovery);
    let mut short = vec![vec![0u8; len]; m];
    short[1].pop();
    let mut outs: Vec<&mut [u8]> = short.iter_mut().map(Vec::as_mut_slice).collect();
    assert!(matches!(
        code.encode_raw_into(&refs, &mut outs),
        Err(zg_erasure::ErasureError::BodyLength {
            expected: 128,
            got: 127
        })
    ));
    let mut outs: Vec<&mut [u8]> = dirty.iter_mut().take(1).map(Vec::as_mut_slice).collect();
    assert!(matches!(
        code.encode_raw_into(&refs, &mut outs),
        Err(zg_erasure::ErasureError::RecoveryBuffers { expected: 2, got: 1 })
    ));
}

#[test]
fn decode_into_overwrites_a_reused_buffer_of_any_length() {
    let code = Gf16Code::new(4, 3).unwrap().with_max_shard_len(256).unwrap();
    let mut out = vec![0xAAu8; 50_000]; // Dirty, and longer than any payload below.
    for len in [3000usize, 1, 2049, 0, 4096] {
        let data = payload(len, len as u64);
        let shards = code.encode(&data, &[9; 32]).unwrap();
        // Originals 0 and 2 of every stripe lost: two restored, two placed.
        let kept: Vec<&[u8]> = shards
            .iter()
            .filter(|s| ![0, 2].contains(&s.header().index))
            .map(|s| s.as_bytes())
            .collect();
        gf16::decode_into(kept, &mut out).unwrap();
        assert_eq!(out, data, "len {len}");
    }
}

#[test]
fn column_blocked_encoding_matches_whole_shard_encoding() {
    // Shards long enough to be encoded in several column blocks, one with a
    // length that is not a multiple of 64: the recovery bodies must equal
    // those of the one-shot raw encoder, and every checksum must hold.
    for (k, m, len) in [
        (64usize, 64usize, 3 * 8192 + 1000),
        (4, 2, 300_000),
        (32, 32, 65_536),
    ] {
        let code = Gf16Code::new(k, m).unwrap().with_max_shard_len(len).unwrap();
        let data = payload(k * len - 77, (k + len) as u64);
        let shards = code.encode(&data, &[5; 32]).unwrap();
        assert_eq!(shards.len(), k + m, "one stripe");
        let originals: Vec<&[u8]> = shards[..k].iter().map(|s| s.body()).collect();
        let raw = code.encode_raw(&originals).unwrap();
        for (j, r) in raw.iter().enumerate() {
            assert_eq!(shards[k + j].body(), &r[..], "k={k} len={len} recovery {j}");
        }
        for s in &shards {
            assert_eq!(Shard::check(s.as_bytes()).unwrap(), *s.header());
        }
        let kept: Vec<&[u8]> = shards[m.min(k)..].iter().map(|s| s.as_bytes()).collect();
        assert_eq!(gf16::decode(kept).unwrap(), data);
    }
}

/// Every record of a borrowed encode, through `write_to`.
fn borrowed_records(shards: &gf16::BorrowedShards<'_>) -> Vec<Vec<u8>> {
    shards
        .iter()
        .map(|s| {
            let mut out = Vec::new();
            s.write_to(&mut out).unwrap();
            assert_eq!(out, s.to_vec());
            assert_eq!(out.len(), s.record_len());
            assert_eq!(Shard::check(&out).unwrap(), *s.header());
            out
        })
        .collect()
}

#[test]
fn borrowed_encoding_writes_the_same_records_and_reuses_its_buffers() {
    let mut buffers = EncodeBuffers::default();
    // Small and striped payloads, a partial last stripe, an empty payload,
    // column-blocked shards, a recovery output past the size where it is
    // written with non-temporal stores, and shapes encoded inside the recovery
    // bodies (m a power of two, k.next_power_of_two() == m, one column block).
    for (k, m, max, len) in [
        (5usize, 3usize, 512usize, 10_000usize),
        (5, 3, 512, 2_560),
        (1, 4, 64, 0),
        (3, 2, 1 << 16, 3),
        (64, 64, 3 * 8192 + 1000, 64 * (3 * 8192 + 1000) * 2 - 5),
        // 18 MiB of recovery: too much to encode in place; transformed in a
        // scratch buffer, then through the encoder (33 > 32), both written non-temporally.
        (32, 32, 1 << 16, 9 * 32 * 65_536 - 100),
        (33, 32, 1 << 16, 9 * 33 * 65_536 - 100),
        // In place, 3 stripes.
        (32, 32, 1 << 16, 3 * 32 * 65_536 - 100),
        (5, 3, 512, 7_000),
        // In place: k = m = 1, k < m, a short last stripe (3:4), one 256 KiB column.
        (1, 1, 64, 1_000),
        (2, 2, 128, 5_000),
        (3, 4, 1 << 16, 200_000),
        (5, 8, 4096, 100_000),
        (4, 4, 1 << 18, 4 * (1 << 18) + 7),
        // Power-of-two counts but column-blocked: encoded through the encoder.
        (32, 32, 1 << 17, 32 * (1 << 17)),
    ] {
        let code = Gf16Code::new(k, m).unwrap().with_max_shard_len(max).unwrap();
        let data = payload(len, (k + len) as u64);
        let shards = code.encode_borrowed(&data, &[6; 32], buffers).unwrap();
        let owned = code.encode(&data, &[6; 32]).unwrap();
        assert_eq!(shards.len(), owned.len());
        assert_eq!(shards.stripes() as u64, code.stripes_for(len as u64));
        let got = borrowed_records(&shards);
        for (i, (g, o)) in got.iter().zip(&owned).enumerate() {
            assert!(g[..] == *o.as_bytes(), "k={k} m={m} len={len}: shard {i} differs");
        }
        assert!(shards.get(shards.len()).is_none());
        // Original bodies of whole stripes are the payload itself, not copies.
        if len >= k * code.shard_len_for(len as u64) {
            assert_eq!(shards.get(0).unwrap().body().as_ptr(), data.as_ptr());
        }
        let kept: Vec<&[u8]> = got[m.min(k)..].iter().map(|r| &r[..]).collect();
        assert_eq!(gf16::decode(kept).unwrap(), data, "k={k} m={m} len={len}");
        buffers = shards.into_buffers();
    }
}

/// A writer that takes at most 7 bytes a call and is interrupted every third call.
struct Trickle {
    out: Vec<u8>,
    calls: usize,
}

impl std::io::Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(3) {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(7);
        self.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn shard_writes_survive_short_and_interrupted_writes() {
    let code = Gf16Code::new(3, 2).unwrap();
    let data = payload(1000, 4);
    let shards = code
        .encode_borrowed(&data, &[1; 32], EncodeBuffers::default())
        .unwrap();
    for s in shards.iter() {
        let mut w = Trickle {
            out: Vec::new(),
            calls: 0,
        };
        s.write_to(&mut w).unwrap();
        assert_eq!(w.out, s.to_vec());
    }
    // A writer that stops taking bytes is an error, not a silent short record.
    let mut full = [0u8; 50];
    let err = shards.get(0).unwrap().write_to(&mut &mut full[..]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::WriteZero);
}

#[test]
fn streams_hold_every_record_of_in_memory_encoding() {
    let code = Gf16Code::new(4, 3).unwrap().with_max_shard_len(256).unwrap();
    for len in [0usize, 1, 4 * 256, 4 * 256 * 21 + 5] {
        let data = payload(len, len as u64 + 1);
        let mut sinks = vec![Vec::new(); 7];
        code.encode_stream(&data[..], len as u64, &[2; 32], &mut sinks)
            .unwrap();
        let shards = code.encode(&data, &[2; 32]).unwrap();
        for (i, sink) in sinks.iter().enumerate() {
            let expected: Vec<u8> = shards
                .iter()
                .skip(i)
                .step_by(7)
                .flat_map(|s| s.as_bytes().to_vec())
                .collect();
            assert!(*sink == expected, "len {len}: stream {i} differs");
        }
    }
}
