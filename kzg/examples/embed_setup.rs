//! Regenerates `src/trusted_setup.bin` from a `trusted_setup.txt`:
//! `cargo run -p zg-kzg --example embed_setup -- kzg/tests/vectors/trusted_setup.txt kzg/src/trusted_setup.bin`

use zg_kzg::TrustedSetup;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = &args[..] else {
        eprintln!("usage: embed_setup TRUSTED_SETUP_TXT OUTPUT_BIN");
        std::process::exit(2);
    };
    let setup = match TrustedSetup::from_file(input) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let bytes = setup.to_embedded_bytes();
    if let Err(e) = std::fs::write(output, &bytes) {
        eprintln!("error: cannot write {output}: {e}");
        std::process::exit(1);
    }
    println!("wrote {} bytes to {output}", bytes.len());
}
