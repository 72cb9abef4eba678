//! Every fuzz target runs every input of its corpus once (libFuzzer's mode
//! for single inputs), as part of `cargo test --workspace`: the targets are
//! built beside the tests on the same dependencies. Fuzzing itself is
//! `cargo fuzz run TARGET` (address sanitizer and coverage).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The fuzz targets, by name, from `fuzz_targets/*.rs`.
fn targets(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("fuzz_targets"))
        .expect("fuzz_targets is readable")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().expect("a file name").to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Runs `target` on each file of its corpus; the reason when it fails.
fn replay(bins: &Path, root: &Path, target: &str) -> Result<usize, String> {
    let corpus = root.join("corpus").join(target);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .map_err(|e| format!("{target} has no corpus at {}: {e}", corpus.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    if inputs.is_empty() {
        return Err(format!("{target}'s corpus {} is empty", corpus.display()));
    }
    inputs.sort();
    let out = Command::new(bins.join(target))
        .args(&inputs)
        .output()
        .map_err(|e| format!("{target} does not start: {e}"))?;
    let log = String::from_utf8_lossy(&out.stderr);
    let ran = log.lines().filter(|l| l.starts_with("Executed ")).count();
    if !out.status.success() || ran != inputs.len() {
        let lines: Vec<&str> = log.lines().collect();
        return Err(format!(
            "{target} failed on its corpus ({}; {ran} of {} inputs ran):\n{}",
            out.status,
            inputs.len(),
            lines[lines.len().saturating_sub(40)..].join("\n")
        ));
    }
    Ok(ran)
}

#[test]
fn every_target_runs_its_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Cargo builds the package's binaries for its integration tests, side by side.
    let bins = Path::new(env!("CARGO_BIN_EXE_kzg_verify"))
        .parent()
        .expect("the binaries' directory");
    let targets = targets(root);
    assert!(targets.len() >= 32, "fuzz targets found: {targets:?}");
    let next = Mutex::new(targets.iter());
    let failures = Mutex::new(Vec::new());
    // Two at a time: most inputs take milliseconds, a few targets take seconds.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let Some(target) = next.lock().unwrap_or_else(|p| p.into_inner()).next() else {
                        break;
                    };
                    match replay(bins, root, target) {
                        Ok(ran) => eprintln!("fuzz {target}: {ran} inputs ran"),
                        Err(why) => failures.lock().unwrap_or_else(|p| p.into_inner()).push(why),
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
