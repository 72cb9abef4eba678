//! The GFNI/AVX-512 GF(2^16) engine against reed-solomon-simd's portable one on
//! arbitrary input: the same FFT and IFFT bytes (truncated tails included) for any
//! size, truncation and skew, and the same recovery shards for any small code; and zg's
//! own raw encoder (column blocks, in the caller's buffers) against reed-solomon-simd's
//! encoder for codes of either rate and any even shard length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reed_solomon_simd::engine::{Engine, NoSimd, ShardsRefMut};
use reed_solomon_simd::rate::{DefaultRateEncoder, RateEncoder};
use zg_erasure::gfni::Gfni;

fuzz_target!(|data: &[u8]| {
    let Some(gfni) = Gfni::new() else { return };
    let [a, b, c, d, rest @ ..] = data else { return };
    let plain = NoSimd::new();

    // One transform: size 2^(a % 9), a truncation and a skew from the input.
    let size = 1usize << (a % 9);
    let truncated = 1 + usize::from(*b) % size;
    let skew_delta = size + usize::from(u16::from_le_bytes([*c, *d])) % (65535 - 3 * size);
    let chunks: Vec<[u8; 64]> = (0..size * 2)
        .map(|i| {
            std::array::from_fn(|j| {
                rest.get((i * 64 + j) % rest.len().max(1)).copied().unwrap_or(0) ^ (i as u8)
            })
        })
        .collect();
    let (mut x, mut y) = (chunks.clone(), chunks);
    {
        let mut dx = ShardsRefMut::new(size, 2, &mut x);
        let mut dy = ShardsRefMut::new(size, 2, &mut y);
        if a & 0x80 == 0 {
            gfni.fft(&mut dx, 0, size, truncated, skew_delta);
            plain.fft(&mut dy, 0, size, truncated, skew_delta);
        } else {
            gfni.ifft(&mut dx, 0, size, truncated, skew_delta);
            plain.ifft(&mut dy, 0, size, truncated, skew_delta);
        }
    }
    assert_eq!(
        x, y,
        "transform of size {size}, truncated {truncated}, skew {skew_delta}"
    );

    // One small code over the rest of the input.
    let (k, m) = (1 + usize::from(*b % 16), 1 + usize::from(*c % 16));
    let len = 64 * (1 + usize::from(*d % 4));
    let originals: Vec<Vec<u8>> = (0..k)
        .map(|i| {
            (0..len)
                .map(|j| rest.get((i * len + j) % rest.len().max(1)).copied().unwrap_or(0))
                .collect()
        })
        .collect();
    let mut ours = DefaultRateEncoder::new(k, m, len, gfni, None).expect("small codes are supported");
    let mut theirs =
        DefaultRateEncoder::new(k, m, len, NoSimd::new(), None).expect("small codes are supported");
    for o in &originals {
        ours.add_original_shard(o).expect("right size");
        theirs.add_original_shard(o).expect("right size");
    }
    let (r1, r2) = (ours.encode().expect("encodes"), theirs.encode().expect("encodes"));
    assert!(r1.recovery_iter().eq(r2.recovery_iter()), "{k}:{m} at {len}");
    drop((r1, r2));

    // zg's raw encoder: up to 96:96 (several chunks of either rate), shards up to 16 KiB
    // (several 4 KiB column blocks once the work has 64 shards or more, a short last chunk).
    let (k, m) = (1 + usize::from(*a % 96), 1 + usize::from(*c % 96));
    let len = 2 * (1 + (usize::from(*b) << 5 | usize::from(*d % 32)) % 8192);
    let originals: Vec<Vec<u8>> = (0..k)
        .map(|i| {
            (0..len)
                .map(|j| rest.get((i * 31 + j) % rest.len().max(1)).copied().unwrap_or(0) ^ (j as u8))
                .collect()
        })
        .collect();
    let refs: Vec<&[u8]> = originals.iter().map(Vec::as_slice).collect();
    let ours = zg_erasure::gf16::Gf16Code::new(k, m)
        .expect("small codes are supported")
        .encode_raw(&refs)
        .expect("encodes");
    let mut theirs =
        reed_solomon_simd::ReedSolomonEncoder::new(k, m, len).expect("small codes are supported");
    for o in &refs {
        theirs.add_original_shard(o).expect("right size");
    }
    let theirs = theirs.encode().expect("encodes");
    assert!(
        theirs.recovery_iter().eq(ours.iter().map(Vec::as_slice)),
        "raw {k}:{m} at {len}"
    );
});
