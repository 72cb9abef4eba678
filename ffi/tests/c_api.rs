//! Builds the C tests in `ffi/tests/c/` with `cc -std=c11 -Wall -Wextra
//! -Werror` against the static library, runs them, and checks the values
//! they print against the Rust API's; runs the Python ctypes example.

use std::path::{Path, PathBuf};
use std::process::Command;

use zg_kzg::{BYTES_PER_BLOB, KzgContext};
use zg_merkle::{FileTree, RootKind, SEGMENT_SIZE};

/// `target/<profile>/deps`, where `cargo test` builds libzg.a and libzg.so
/// beside this test (it does not copy them up to `target/<profile>`).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    exe.parent().expect("deps dir").to_path_buf()
}

fn blob() -> Vec<u8> {
    let mut b = vec![0u8; BYTES_PER_BLOB];
    for i in 0..4096usize {
        let v = (i * 7 + 1) as u32;
        b[i * 32 + 28..i * 32 + 32].copy_from_slice(&v.to_be_bytes());
    }
    b
}

fn field(out: &str, label: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(label).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("no {label} in C output:\n{out}"))
}

#[test]
fn c_tests_pass_and_agree_with_rust() {
    let dir = lib_dir();
    let lib = dir.join("libzg.a");
    assert!(lib.exists(), "{} missing", lib.display());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let exe = tmp.path().join("test_zg");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-I"])
        .arg(root.join("include"))
        .arg(root.join("tests/c/test_zg.c"))
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .status()
        .expect("a C compiler runs");
    assert!(status.success(), "C tests failed to compile");
    let out = Command::new(&exe).arg(tmp.path().join("store")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "C tests failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all C checks passed"));

    // The values the C side computed equal the Rust API's.
    let ctx = KzgContext::ethereum();
    let b = blob();
    let c = ctx.blob_to_kzg_commitment(&b).unwrap();
    assert_eq!(field(&stdout, "commitment"), hex::encode(c));
    assert_eq!(
        field(&stdout, "blob_proof"),
        hex::encode(ctx.compute_blob_kzg_proof(&b, &c).unwrap())
    );
    let mut z = [0u8; 32];
    z[31] = 5;
    assert_eq!(
        field(&stdout, "y_at_5"),
        hex::encode(ctx.compute_kzg_proof(&b, &z).unwrap().1)
    );
    let (_, proofs) = ctx.compute_cells_and_kzg_proofs(&b).unwrap();
    assert_eq!(field(&stdout, "cell_proof_127"), hex::encode(proofs[127]));
    let len = 3 * SEGMENT_SIZE + 17;
    let data: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
    assert_eq!(
        field(&stdout, "blake3_root"),
        hex::encode(blake3::hash(&data).as_bytes())
    );
    assert_eq!(
        field(&stdout, "zg_root"),
        hex::encode(FileTree::from_data(RootKind::Keccak, &data).root())
    );
}

#[test]
fn python_ctypes_example_runs() {
    let so = lib_dir().join("libzg.so");
    assert!(so.exists(), "{} missing", so.display());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kzg_ctypes.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&so)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("verified True"), "{stdout}");
    assert!(stdout.contains("short blob -> 1"), "{stdout}");
}
