//! Compiles 0G's disperser API (`proto/disperser.proto`) with the protoc that the
//! `protoc-bin-vendored` crate ships, so a build needs no system protobuf compiler.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: a build script runs on one thread, so nothing reads the environment while
    // it changes; prost-build reads PROTOC.
    unsafe { std::env::set_var("PROTOC", protoc) };
    tonic_prost_build::configure().compile_protos(&["proto/disperser.proto"], &["proto"])?;
    println!("cargo:rerun-if-changed=proto/disperser.proto");
    Ok(())
}
