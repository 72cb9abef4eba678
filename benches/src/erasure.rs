//! Erasure workloads: zg's GF(2^16) code (headers and BLAKE3 checksums
//! included) beside raw reed-solomon-simd on the same shapes, and the field
//! code's extend and recover at EIP-7594 size.

use std::hint::black_box;
use std::sync::Arc;

use ark_bls12_381::Fr;
use ark_ff::PrimeField;
use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};
use zg_erasure::field::CellCode;
use zg_erasure::gf16::{self, EncodeBuffers, Gf16Code, Shard};

use crate::{Pair, Side, pool, test_bytes};

fn label(len: usize) -> String {
    if len >= 1 << 20 {
        format!("{} MiB", len >> 20)
    } else {
        format!("{} KiB", len >> 10)
    }
}

/// Raw encode of `payload` as stripes of `k` shards of `len` bytes; with
/// `checksums`, also BLAKE3 of the body and 72 header bytes of every shard,
/// as a hand-written encoder with zg's shard format would do.
fn raw_encode(enc: &mut ReedSolomonEncoder, payload: &[u8], k: usize, m: usize, len: usize, checksums: bool) {
    for stripe in payload.chunks(k * len) {
        enc.reset(k, m, len).expect("supported");
        for shard in stripe.chunks(len) {
            enc.add_original_shard(shard).expect("right size");
            if checksums {
                black_box(checksum(shard));
            }
        }
        let result = enc.encode().expect("all shards");
        if checksums {
            for shard in result.recovery_iter() {
                black_box(checksum(shard));
            }
        } else {
            black_box(result.recovery(0));
        }
    }
}

/// BLAKE3 of `body` and a 72-byte header: the checksum work of one shard.
fn checksum(body: &[u8]) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    h.update(body);
    h.update(&[7u8; 72]);
    h.finalize()
}

/// The peer's name and target: with checksums it does zg's work and the
/// issue's target applies; without, it shows what the checksums cost.
fn peer_kind(base: &str, checksums: bool, target: f64) -> (String, Option<f64>) {
    if checksums {
        (format!("{base} + BLAKE3 per shard"), Some(target))
    } else {
        (format!("{base}, no checksums"), None)
    }
}

/// Which zg encode a pair times.
#[derive(Clone, Copy, PartialEq)]
enum ZgEncode {
    /// `encode_into`: every shard an owned record (header and body in one buffer).
    Records,
    /// `encode_borrowed`: original bodies left in the payload.
    Borrowed,
}

/// zg's encode on `threads` threads beside the raw encoder on one, on the
/// same payload and shard length; `peer` is (name, target, with checksums).
fn encode_pair(
    shape: String,
    zg: ZgEncode,
    code: Gf16Code,
    payload: Arc<Vec<u8>>,
    threads: usize,
    peer: (String, Option<f64>, bool),
) -> Pair {
    let (peer_name, target, checksums) = peer;
    let (k, m) = (code.k(), code.m());
    let len = code.shard_len_for(payload.len() as u64);
    let bytes = payload.len() as u64;
    let (p1, p2) = (payload.clone(), payload);
    let pool_zg = pool(threads);
    let mut enc = ReedSolomonEncoder::new(k, m, len).expect("supported");
    let mut shards_out = Vec::new();
    let mut buffers = Some(EncodeBuffers::default());
    let zg_name = match zg {
        ZgEncode::Records => "zg Gf16Code::encode_into",
        ZgEncode::Borrowed => "zg Gf16Code::encode_borrowed",
    };
    Pair {
        kernel: "erasure gf16 encode",
        shape,
        bytes,
        zg: Side::in_pool(zg_name, pool_zg.clone(), move || match zg {
            ZgEncode::Records => {
                black_box(code.encode_into(&p1, &[0; 32], &mut shards_out).ok());
            }
            ZgEncode::Borrowed => {
                let shards = code.encode_borrowed(&p1, &[0; 32], buffers.take().unwrap_or_default());
                buffers = shards.ok().map(|s| black_box(s).into_buffers());
            }
        }),
        peer: Some(Side::in_pool(peer_name, pool_zg, move || {
            raw_encode(&mut enc, &p2, k, m, len, checksums);
        })),
        items: 0,
        target,
    }
}

/// The pairs; `scale` divides the 64 MiB multi-thread payload.
pub fn pairs(scale: usize) -> Vec<Pair> {
    let mut out = Vec::new();
    for (k, m) in [(32usize, 32usize), (128, 128), (1024, 1024)] {
        for len in [1024usize, 64 << 10] {
            let payload = Arc::new(test_bytes(k * len, (k + len) as u64));
            let code = Gf16Code::new(k, m)
                .expect("supported")
                .with_max_shard_len(len)
                .expect("even");
            // Decode with min(k, m) originals lost: the most recovery work.
            let shards = Arc::new(code.encode(&payload, &[0; 32]).expect("encodes"));
            let lose = k.min(m);
            for checksums in [true, false] {
                // Borrowed encoding carries the target; owned records (each
                // original body copied beside its header) are shown for scale.
                let variants: &[ZgEncode] = if checksums {
                    &[ZgEncode::Borrowed, ZgEncode::Records]
                } else {
                    &[ZgEncode::Borrowed]
                };
                for &zg in variants {
                    let (peer, target) = peer_kind("raw ReedSolomonEncoder", checksums, 0.9);
                    let target = target.filter(|_| zg == ZgEncode::Borrowed);
                    out.push(encode_pair(
                        format!("{k}:{m}, {} shards, 1 thread", label(len)),
                        zg,
                        code,
                        payload.clone(),
                        1,
                        (peer, target, checksums),
                    ));
                }

                let kept: Vec<Shard> = shards[lose..lose + k].to_vec();
                let raw_orig: Vec<Vec<u8>> = shards[lose..k].iter().map(|s| s.body().to_vec()).collect();
                let raw_rec: Vec<Vec<u8>> = shards[k..k + lose].iter().map(|s| s.body().to_vec()).collect();
                let pool1 = pool(1);
                let mut dec = ReedSolomonDecoder::new(k, m, len).expect("supported");
                let (peer, target) = peer_kind("raw ReedSolomonDecoder", checksums, 0.9);
                let mut decoded = Vec::new();
                out.push(Pair {
                    kernel: "erasure gf16 decode",
                    shape: format!("{k}:{m}, {} shards, {lose} lost, 1 thread", label(len)),
                    bytes: payload.len() as u64,
                    zg: Side::in_pool("zg gf16::decode_into", pool1.clone(), move || {
                        let records = kept.iter().map(|s| s.as_bytes());
                        black_box(gf16::decode_into(records, &mut decoded).ok());
                    }),
                    peer: Some(Side::in_pool(peer, pool1, move || {
                        dec.reset(k, m, len).expect("supported");
                        for (i, s) in raw_orig.iter().enumerate() {
                            if checksums {
                                black_box(checksum(s));
                            }
                            dec.add_original_shard(lose + i, s).expect("fits");
                        }
                        for (i, s) in raw_rec.iter().enumerate() {
                            if checksums {
                                black_box(checksum(s));
                            }
                            dec.add_recovery_shard(i, s).expect("fits");
                        }
                        black_box(dec.decode().expect("enough").restored_original(0));
                    })),
                    items: 0,
                    target,
                });
            }
        }
    }

    // The transform alone (no checksums), zg's GF(2^16) engine for this CPU (GFNI on
    // AVX-512 where present) beside reed-solomon-simd's best, through the same rate code.
    for (k, m, len) in [
        (32usize, 32usize, 64usize << 10),
        (128, 128, 64 << 10),
        (1024, 1024, 1024),
    ] {
        out.extend(transform_pairs(k, m, len));
    }

    // Two threads on a large payload, against raw single-threaded encoding.
    let (k, m, len) = (32usize, 32usize, 64usize << 10);
    let big = Arc::new(test_bytes((64 << 20) / scale, 3));
    let code = Gf16Code::new(k, m)
        .expect("supported")
        .with_max_shard_len(len)
        .expect("even");
    // Borrowed encoding (originals left in the payload) is the one for large
    // payloads; the records row shows what owned records cost on top.
    for (zg, threads, checksums, target) in [
        (ZgEncode::Borrowed, 1usize, true, Some(0.9)),
        (ZgEncode::Borrowed, 2, true, Some(1.7)),
        (ZgEncode::Borrowed, 2, false, None),
        (ZgEncode::Records, 2, true, None),
    ] {
        let (peer, _) = peer_kind("raw ReedSolomonEncoder (1t)", checksums, 0.0);
        out.push(encode_pair(
            format!(
                "{}:{}, 64 KiB shards, {} payload, {threads} thread(s)",
                code.k(),
                code.m(),
                label(big.len())
            ),
            zg,
            code,
            big.clone(),
            threads,
            (peer, target, checksums),
        ));
    }

    // zg's own scaling: two threads against zg on one, the same encode.
    let borrowed_on = |threads: usize, name: &'static str| {
        let (payload, pool) = (big.clone(), pool(threads));
        let mut buffers = Some(EncodeBuffers::default());
        Side::in_pool(name, pool, move || {
            let shards = code.encode_borrowed(&payload, &[0; 32], buffers.take().unwrap_or_default());
            buffers = shards.ok().map(|s| black_box(s).into_buffers());
        })
    };
    out.push(Pair {
        kernel: "erasure gf16 encode",
        shape: format!(
            "32:32, 64 KiB shards, {} payload, 2 threads vs 1",
            label(big.len())
        ),
        bytes: big.len() as u64,
        zg: borrowed_on(2, "zg Gf16Code::encode_borrowed (2t)"),
        peer: Some(borrowed_on(1, "zg Gf16Code::encode_borrowed (1t)")),
        items: 0,
        target: None,
    });

    // Field code at EIP-7594 size: times only (the KZG report compares them with c-kzg).
    let cells = Arc::new(CellCode::<Fr>::new(4096, 128).expect("valid shape"));
    let blob: Vec<Fr> = (0..4096u64)
        .map(|i| Fr::from_le_bytes_mod_order(&(i * 7 + 1).to_le_bytes()))
        .collect();
    let ext = Arc::new(cells.extend(&blob).expect("blob size"));
    for threads in [1usize, 2] {
        let (c, b) = (cells.clone(), blob.clone());
        let p = pool(threads);
        out.push(Pair {
            kernel: "erasure field extend",
            shape: format!("4096 -> 8192, {threads} thread(s)"),
            bytes: 0,
            zg: Side::in_pool("CellCode::extend", p, move || {
                black_box(c.extend(&b).ok());
            }),
            peer: None,
            items: 0,
            target: None,
        });
        let (c, e) = (cells.clone(), ext.clone());
        let p = pool(threads);
        out.push(Pair {
            kernel: "erasure field recover",
            shape: format!("64 of 128 cells, {threads} thread(s)"),
            bytes: 0,
            zg: Side::in_pool("CellCode::recover", p, move || {
                let given: Vec<(u64, &[Fr])> = (0..128)
                    .step_by(2)
                    .map(|i| (i as u64, &e[i * 64..(i + 1) * 64]))
                    .collect();
                black_box(c.recover(&given).ok());
            }),
            peer: None,
            items: 0,
            target: None,
        });
    }
    out
}

/// Encodes every stripe of `payload` (no checksums) with any reed-solomon-simd encoder.
macro_rules! encode_stripes {
    ($enc:expr, $payload:expr, $k:expr, $m:expr, $len:expr) => {
        for stripe in $payload.chunks($k * $len) {
            $enc.reset($k, $m, $len).expect("supported");
            for shard in stripe.chunks($len) {
                $enc.add_original_shard(shard).expect("right size");
            }
            black_box($enc.encode().expect("all shards").recovery(0).map(<[u8]>::len));
        }
    };
}

/// Restores the first `lose` originals (any reed-solomon-simd decoder).
macro_rules! decode_stripe {
    ($dec:expr, $orig:expr, $rec:expr, $k:expr, $m:expr, $len:expr, $lose:expr) => {{
        $dec.reset($k, $m, $len).expect("supported");
        for (i, s) in $orig.iter().enumerate() {
            $dec.add_original_shard($lose + i, s).expect("fits");
        }
        for (i, s) in $rec.iter().enumerate() {
            $dec.add_recovery_shard(i, s).expect("fits");
        }
        black_box(
            $dec.decode()
                .expect("enough")
                .restored_original(0)
                .map(<[u8]>::len),
        );
    }};
}

/// Encode and decode of one stripe, transform only: zg's engine vs reed-solomon-simd's.
fn transform_pairs(k: usize, m: usize, len: usize) -> Vec<Pair> {
    use reed_solomon_simd::rate::{DefaultRateDecoder, DefaultRateEncoder, RateDecoder, RateEncoder};
    let engine = *gf16::engine();
    let name = engine.name();
    let payload = Arc::new(test_bytes(k * len, (3 * k + len) as u64));
    let shape = format!("{k}:{m}, {} shards, transform only, 1 thread", label(len));
    let pool1 = pool(1);
    let mut out = Vec::new();
    // zg's own raw encode (no checksums): the engine, a column block at a time.
    let code = Gf16Code::new(k, m).expect("supported");
    let (p0, p3) = (payload.clone(), payload.clone());
    let mut raw = ReedSolomonEncoder::new(k, m, len).expect("supported");
    // Reused, as the peer reuses its work buffer.
    let mut recovery = vec![0u8; m * len];
    out.push(Pair {
        kernel: "erasure gf16 encode",
        shape: format!("{k}:{m}, {} shards, zg encode_raw, 1 thread", label(len)),
        bytes: payload.len() as u64,
        zg: Side::in_pool(
            format!("zg Gf16Code::encode_raw_into ({name})"),
            pool1.clone(),
            move || {
                let originals: Vec<&[u8]> = p0.chunks(len).collect();
                let mut outs: Vec<&mut [u8]> = recovery.chunks_mut(len).collect();
                code.encode_raw_into(&originals, &mut outs).expect("encodes");
                black_box(&recovery);
            },
        ),
        peer: Some(Side::in_pool(
            "ReedSolomonEncoder (its best engine)",
            pool1.clone(),
            move || {
                encode_stripes!(raw, p3, k, m, len);
            },
        )),
        items: 0,
        target: Some(1.5),
    });
    let (p1, p2) = (payload.clone(), payload.clone());
    let mut ours = DefaultRateEncoder::new(k, m, len, engine, None).expect("supported");
    let mut theirs = ReedSolomonEncoder::new(k, m, len).expect("supported");
    out.push(Pair {
        kernel: "erasure gf16 encode",
        shape,
        bytes: payload.len() as u64,
        zg: Side::in_pool(format!("zg engine ({name})"), pool1.clone(), move || {
            encode_stripes!(ours, p1, k, m, len);
        }),
        peer: Some(Side::in_pool(
            "ReedSolomonEncoder (its best engine)",
            pool1.clone(),
            move || {
                encode_stripes!(theirs, p2, k, m, len);
            },
        )),
        items: 0,
        // The engine through reed-solomon-simd's encoder; zg's encode_raw row carries the target.
        target: None,
    });

    let mut enc = ReedSolomonEncoder::new(k, m, len).expect("supported");
    for shard in payload.chunks(len) {
        enc.add_original_shard(shard).expect("right size");
    }
    let recovery: Vec<Vec<u8>> = enc
        .encode()
        .expect("all shards")
        .recovery_iter()
        .map(<[u8]>::to_vec)
        .collect();
    let lose = k.min(m);
    let orig: Arc<Vec<Vec<u8>>> = Arc::new(payload.chunks(len).skip(lose).map(<[u8]>::to_vec).collect());
    let rec = Arc::new(recovery[..lose].to_vec());
    // zg's own raw reconstruction (no checksums): the engine, a column block at a time.
    let code = Gf16Code::new(k, m).expect("supported");
    let kept: Vec<(u32, Vec<u8>)> = (lose..k)
        .map(|i| (i as u32, orig[i - lose].clone()))
        .chain(rec.iter().enumerate().map(|(j, r)| ((k + j) as u32, r.clone())))
        .collect();
    let (peer_orig, peer_rec) = (orig.clone(), rec.clone());
    let mut raw_dec = ReedSolomonDecoder::new(k, m, len).expect("supported");
    out.push(Pair {
        kernel: "erasure gf16 decode",
        shape: format!(
            "{k}:{m}, {} shards, {lose} lost, zg reconstruct_raw, 1 thread",
            label(len)
        ),
        bytes: payload.len() as u64,
        zg: Side::in_pool(
            format!("zg Gf16Code::reconstruct_raw ({name})"),
            pool1.clone(),
            move || {
                let shards: Vec<(u32, &[u8])> = kept.iter().map(|(i, b)| (*i, &b[..])).collect();
                black_box(code.reconstruct_raw(&shards).expect("enough").len());
            },
        ),
        peer: Some(Side::in_pool(
            "ReedSolomonDecoder (its best engine)",
            pool1.clone(),
            move || {
                decode_stripe!(raw_dec, peer_orig, peer_rec, k, m, len, lose);
            },
        )),
        items: 0,
        target: Some(1.5),
    });
    let (o1, r1, o2, r2) = (orig.clone(), rec.clone(), orig, rec);
    let mut ours = DefaultRateDecoder::new(k, m, len, engine, None).expect("supported");
    let mut theirs = ReedSolomonDecoder::new(k, m, len).expect("supported");
    out.push(Pair {
        kernel: "erasure gf16 decode",
        shape: format!(
            "{k}:{m}, {} shards, {lose} lost, transform only, 1 thread",
            label(len)
        ),
        bytes: payload.len() as u64,
        zg: Side::in_pool(format!("zg engine ({name})"), pool1.clone(), move || {
            decode_stripe!(ours, o1, r1, k, m, len, lose);
        }),
        peer: Some(Side::in_pool(
            "ReedSolomonDecoder (its best engine)",
            pool1,
            move || {
                decode_stripe!(theirs, o2, r2, k, m, len, lose);
            },
        )),
        items: 0,
        // The engine through reed-solomon-simd's decoder; zg's reconstruct row carries the target.
        target: None,
    });
    out
}
