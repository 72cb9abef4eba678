//! Prints one table of zg's kernels beside their peers: throughput or time,
//! and the speed ratio (peer time / zg time; above 1 means zg is faster).
//!
//! `cargo run --release -p zg-benches --bin report [-- --json] [--filter TEXT]`

use std::time::Duration;

use clap::Parser;
use zg_benches::{Pair, measure};

#[derive(Parser)]
#[command(about = "zg kernels beside their peers, as ratios")]
struct Args {
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
    /// Run only these families (merkle, erasure, kzg, store, storage-chain, ffi, evm, consensus, da, compute); all when not given.
    #[arg(long, value_delimiter = ',')]
    family: Vec<String>,
    /// Run only pairs whose kernel or shape contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// Seconds of sampling per pair.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Divide the big inputs by this factor (1 = the sizes the issues set).
    #[arg(long, default_value_t = 1)]
    scale: usize,
}

/// Builds a family's pairs for a size divisor.
type Family = fn(usize) -> Vec<Pair>;

fn rate(kernel: &str, bytes: u64, items: u64, t: Duration) -> String {
    if bytes == 0 && items > 0 {
        // The compute rows count tokens; the others, transactions.
        let unit = if kernel.starts_with("compute") {
            "tok/s"
        } else {
            "tx/s"
        };
        return format!("{:.0} {unit}", items as f64 / t.as_secs_f64());
    }
    if bytes == 0 {
        return fmt_time(t);
    }
    let mbs = bytes as f64 / t.as_secs_f64() / 1e6;
    if mbs >= 1000.0 {
        format!("{:.2} GB/s", mbs / 1000.0)
    } else {
        format!("{mbs:.1} MB/s")
    }
}

fn fmt_time(t: Duration) -> String {
    let s = t.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.2} µs", s * 1e6)
    }
}

fn main() {
    // The nodes benched in process log only when RUST_LOG asks (e.g. RUST_LOG=zg_storage=debug).
    if std::env::var_os("RUST_LOG").is_some() {
        zg_node::init_logging();
    }
    let args = Args::parse();
    let budget = Duration::from_secs_f64(args.seconds);
    let families: [(&str, Family); 10] = [
        ("merkle", zg_benches::merkle::pairs),
        ("erasure", zg_benches::erasure::pairs),
        ("kzg", zg_benches::kzg::pairs),
        ("store", zg_benches::store::pairs),
        ("storage-chain", zg_benches::storage_chain::pairs),
        ("ffi", zg_benches::ffi::pairs),
        ("evm", zg_benches::evm::pairs),
        ("consensus", zg_benches::consensus::pairs),
        ("da", zg_benches::da::pairs),
        ("compute", zg_benches::compute::pairs),
    ];
    if !args.json {
        println!(
            "{:<28} {:<36} {:>12} {:<30} {:>12} {:>7} {:>7}",
            "kernel", "shape", "zg", "peer", "peer fig.", "ratio", "target"
        );
    }
    for (name, family) in families {
        // Families build their inputs up front (a GiB for merkle): skip unwanted ones whole.
        if !args.family.is_empty() && !args.family.iter().any(|f| f == name) {
            continue;
        }
        for mut pair in family(args.scale.max(1)) {
            if let Some(f) = &args.filter
                && !pair.kernel.contains(f.as_str())
                && !pair.shape.contains(f.as_str())
            {
                continue;
            }
            let m = measure(&mut pair, budget);
            let ratio = m.peer.map(|p| p.as_secs_f64() / m.zg.as_secs_f64());
            if args.json {
                let v = serde_json::json!({
                    "kernel": pair.kernel,
                    "shape": pair.shape,
                    "bytes": pair.bytes,
                    "items": pair.items,
                    "zg": pair.zg.name,
                    "zg_median_s": m.zg.as_secs_f64(),
                    "peer": pair.peer.as_ref().map(|p| p.name.clone()),
                    "peer_median_s": m.peer.map(|p| p.as_secs_f64()),
                    "speed_ratio": ratio,
                    "target": pair.target,
                    "samples": m.samples,
                });
                println!("{v}");
            } else {
                println!(
                    "{:<28} {:<36} {:>12} {:<30} {:>12} {:>7} {:>7}",
                    pair.kernel,
                    pair.shape,
                    rate(pair.kernel, pair.bytes, pair.items, m.zg),
                    pair.peer.as_ref().map_or("-", |p| p.name.as_str()),
                    m.peer
                        .map_or("-".into(), |p| rate(pair.kernel, pair.bytes, pair.items, p)),
                    ratio.map_or("-".into(), |r| format!("{r:.2}x")),
                    pair.target.map_or("-".into(), |t| format!(">={t:.2}x")),
                );
            }
        }
    }
}
