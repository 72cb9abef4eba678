//! # zg-kzg
//!
//! EIP-4844 and EIP-7594 KZG commitments on BLS12-381, built on arkworks,
//! byte-for-byte compatible with the consensus specs and c-kzg.
//!
//! One [`KzgContext`] holds the trusted setup (the Ethereum mainnet
//! ceremony output is embedded: [`KzgContext::ethereum`] needs no file),
//! precomputed fixed-base tables ([`Precompute`]) and the FFT domains. Its
//! methods are named after the spec functions and take and return bytes:
//! 32-byte big-endian field elements (values >= the modulus are rejected,
//! never reduced), 48-byte compressed G1 points (checked for the subgroup),
//! blobs of 131072 bytes and cells of 2048 bytes.
//!
//! Verifiers return `Ok(false)` for a well-formed proof that does not verify
//! and a [`KzgError`] for malformed input. Work runs on rayon's current
//! pool; install a one-thread pool to stay on one thread.
//!
//! ```
//! use zg_kzg::{BYTES_PER_BLOB, KzgContext};
//!
//! let ctx = KzgContext::ethereum();
//! let blob = vec![0u8; BYTES_PER_BLOB];
//! let commitment = ctx.blob_to_kzg_commitment(&blob).unwrap();
//! let proof = ctx.compute_blob_kzg_proof(&blob, &commitment).unwrap();
//! assert!(ctx.verify_blob_kzg_proof(&blob, &commitment, &proof).unwrap());
//! ```

mod batch_affine;
mod block_tables;
mod blst_ops;
mod comb;
mod context;
mod eip4844;
mod eip7594;
mod encoding;
mod error;
mod fk20;
mod g1fft;
#[cfg(feature = "bench-legacy")]
mod legacy;
/// The trusted setup: embedded mainnet points or a setup file.
pub mod setup;
mod subgroup;
mod var_msm;

/// Runs a one-time initializer (behind a `OnceLock`) on a thread and pool of its own.
/// The caller may be a worker of rayon's global pool: waiting there on the initializer's
/// parallel work, it would steal other jobs, and one that waits on the same lock would
/// deadlock it (as would every worker blocked on the lock with the work queued behind
/// them). A plain thread's join steals nothing, and the private pool depends on no one.
pub(crate) fn init_off_global_pool<T: Send>(init: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
            match rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("zg-kzg-init-{i}"))
                .build()
            {
                Ok(pool) => pool.install(init),
                // No threads to be had: build on this one, serially.
                Err(_) => init(),
            }
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

pub use block_tables::BlockShape;
pub use context::{KzgContext, Precompute};
pub use eip4844::compute_challenge;
pub use eip7594::compute_verify_cell_kzg_proof_batch_challenge;
pub use error::{KzgError, Result};
#[cfg(feature = "bench-legacy")]
pub use legacy::set_bench_legacy;
pub use setup::TrustedSetup;

/// Field elements in a blob.
pub const FIELD_ELEMENTS_PER_BLOB: usize = 4096;
/// Bytes in a field element.
pub const BYTES_PER_FIELD_ELEMENT: usize = 32;
/// Bytes in a blob.
pub const BYTES_PER_BLOB: usize = FIELD_ELEMENTS_PER_BLOB * BYTES_PER_FIELD_ELEMENT;
/// Bytes in a compressed G1 commitment.
pub const BYTES_PER_COMMITMENT: usize = 48;
/// Bytes in a compressed G1 proof.
pub const BYTES_PER_PROOF: usize = 48;
/// Field elements in a cell.
pub const FIELD_ELEMENTS_PER_CELL: usize = 64;
/// Bytes in a cell.
pub const BYTES_PER_CELL: usize = FIELD_ELEMENTS_PER_CELL * BYTES_PER_FIELD_ELEMENT;
/// Cells in an extended blob.
pub const CELLS_PER_EXT_BLOB: usize = 2 * FIELD_ELEMENTS_PER_BLOB / FIELD_ELEMENTS_PER_CELL;

/// A field element, a challenge or an evaluation.
pub type Bytes32 = [u8; 32];
/// A compressed G1 point: commitment or proof.
pub type Bytes48 = [u8; 48];
/// One cell of an extended blob.
pub type Cell = [u8; BYTES_PER_CELL];
