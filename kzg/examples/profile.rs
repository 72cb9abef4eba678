//! Runs one KZG function in a loop on one thread, for `perf record`:
//! `cargo run --profile profiling -p zg-kzg --example profile -- cells 20`;
//! two more numbers set the table shape (bits, stride) of the function's MSMs
//! (FK20's for `cells`, the commitment's otherwise) instead of the default's;
//! `THREADS=N` runs it on a pool of N threads; with `CHECK=1` set, the output
//! is first compared with the table-free path's.
//! `da N` instead encodes N blobs on two threads as the DA node does, one at
//! a time and in lockstep groups, and prints each way's median per blob.
//! `alt N` times cells with proofs as the report's "2t vs zg's own 1t" row
//! does (N rounds of three calls on two threads, then three on one); with
//! `ONLY2=1` set, the two-thread calls alone.

use zg_kzg::{BYTES_PER_BLOB, BlockShape, KzgContext, Precompute};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map_or("cells", String::as_str);
    let iters: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let blob: Vec<u8> = (0..BYTES_PER_BLOB)
        .map(|i| if i % 32 == 0 { 0 } else { (i * 131 % 251) as u8 })
        .collect();
    let t0 = std::time::Instant::now();
    let shape = match (args.get(3), args.get(4)) {
        (Some(bits), Some(stride)) => Some(
            BlockShape::new(bits.parse().expect("bits"), stride.parse().expect("stride"))
                .expect("bits in 1..=16, stride in 1..=255"),
        ),
        _ => None,
    };
    let ctx: &KzgContext = match shape {
        Some(shape) if what == "cells" => Box::leak(Box::new(KzgContext::ethereum_with(Precompute {
            cell_blocks: Some(shape),
            ..Precompute::DEFAULT
        }))),
        Some(shape) => Box::leak(Box::new(KzgContext::ethereum_with(Precompute {
            blob_blocks: Some(shape),
            ..Precompute::DEFAULT
        }))),
        None => KzgContext::ethereum(),
    };
    eprintln!("context built in {:.2} s", t0.elapsed().as_secs_f64());
    let t0 = std::time::Instant::now();
    ctx.build_tables();
    eprintln!(
        "tables built in {:.2} s ({} MiB)",
        t0.elapsed().as_secs_f64(),
        ctx.precompute_bytes() >> 20
    );
    let c = ctx.blob_to_kzg_commitment(&blob).expect("valid blob");
    let (cells, proofs) = ctx.compute_cells_and_kzg_proofs(&blob).expect("valid blob");
    if std::env::var("CHECK").is_ok() {
        let plain = KzgContext::ethereum_with(Precompute::NONE);
        assert_eq!(
            plain.compute_cells_and_kzg_proofs(&blob).expect("valid blob").1,
            proofs
        );
        assert_eq!(plain.blob_to_kzg_commitment(&blob).expect("valid blob"), c);
        eprintln!("output matches the table-free path");
    }
    if what == "da" {
        // Blobs side by side on two threads, as the DA node encodes them: one
        // at a time, then in lockstep groups (commitments alone or batched too).
        let pool = pool_of(2);
        let blobs = vec![blob; iters];
        let run = |group: usize, batch_commit: bool| {
            let t = std::time::Instant::now();
            pool.install(|| {
                use rayon::prelude::*;
                blobs.par_chunks(group).for_each(|g| {
                    let (c, p) = rayon::join(
                        || {
                            if batch_commit {
                                ctx.blob_to_kzg_commitments(g).expect("valid")
                            } else {
                                g.iter()
                                    .map(|b| ctx.blob_to_kzg_commitment(b).expect("valid"))
                                    .collect()
                            }
                        },
                        || {
                            if group == 1 {
                                vec![ctx.compute_cells_and_kzg_proofs(&g[0]).expect("valid")]
                            } else {
                                ctx.compute_cells_and_kzg_proofs_many(g).expect("valid")
                            }
                        },
                    );
                    drop((c, p));
                });
            });
            t.elapsed().as_secs_f64() * 1e3 / iters as f64
        };
        let variants = [(1, false), (4, false), (4, true), (8, true)];
        let mut times = vec![Vec::new(); variants.len()];
        for _ in 0..5 {
            for (v, &(group, batch)) in variants.iter().enumerate() {
                times[v].push(run(group, batch));
            }
        }
        for ((group, batch), mut t) in variants.into_iter().zip(times) {
            t.sort_by(f64::total_cmp);
            println!(
                "da group {group} batched commitments {batch}: median {:.2} ms a blob, min {:.2}",
                t[2], t[0]
            );
        }
        return;
    }
    if what == "alt" {
        // The report's "2t vs zg's own 1t" row: blocks of three calls on a pool of
        // two, then three on a pool of one, each call timed; medians of each side.
        let (two, one) = (pool_of(2), pool_of(1));
        let (mut t2, mut t1) = (Vec::new(), Vec::new());
        let only2 = std::env::var("ONLY2").is_ok();
        for _ in 0..iters {
            let sides = if only2 { 1 } else { 2 };
            for (pool, times) in [(&two, &mut t2), (&one, &mut t1)].into_iter().take(sides) {
                for _ in 0..3 {
                    let t = std::time::Instant::now();
                    pool.install(|| drop(ctx.compute_cells_and_kzg_proofs(&blob)));
                    times.push(t.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
        for (name, mut t) in [("2t", t2), ("1t", t1)] {
            t.sort_by(f64::total_cmp);
            if let Some(m) = t.get(t.len() / 2) {
                println!("{name}: median {m:.2} ms of {} calls", t.len());
            }
        }
        return;
    }
    // THREADS=2 runs the loop on a pool of two (the 2-thread report rows).
    let threads = std::env::var("THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let pool = pool_of(threads);
    let t = std::time::Instant::now();
    pool.install(|| {
        for _ in 0..iters {
            match what {
                "commit" => drop(ctx.blob_to_kzg_commitment(&blob)),
                "cells" => drop(ctx.compute_cells_and_kzg_proofs(&blob)),
                "verify" => drop(ctx.verify_blob_kzg_proof(&blob, &c, &proofs[0])),
                "verify-cells" => {
                    let idx: Vec<u64> = (0..128).collect();
                    drop(ctx.verify_cell_kzg_proof_batch(&vec![c; 128], &idx, &cells, &proofs));
                }
                other => panic!("unknown {other}"),
            }
        }
    });
    println!(
        "{what}: {:.2} ms per call",
        t.elapsed().as_secs_f64() * 1e3 / iters as f64
    );
}

fn pool_of(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
}
