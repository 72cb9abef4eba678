//! Regenerates `src/trusted_setup.bin` and `src/fk20_rows.bin` from a `trusted_setup.txt`:
//! `cargo run --release -p zg-kzg --example embed_setup -- kzg/tests/vectors/trusted_setup.txt kzg/src`

use zg_kzg::TrustedSetup;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, out_dir] = &args[..] else {
        eprintln!("usage: embed_setup TRUSTED_SETUP_TXT OUTPUT_DIR");
        std::process::exit(2);
    };
    let setup = match TrustedSetup::from_file(input) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    for (name, bytes) in [
        ("trusted_setup.bin", setup.to_embedded_bytes()),
        ("fk20_rows.bin", setup.fk20_rows_bytes()),
    ] {
        let path = std::path::Path::new(out_dir).join(name);
        if let Err(e) = std::fs::write(&path, &bytes) {
            eprintln!("error: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
        println!("wrote {} bytes to {}", bytes.len(), path.display());
    }
}
