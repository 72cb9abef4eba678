//! zg's data plane: the segment store that nodes persist to, and the
//! pipelines that turn user bytes into verifiable pieces.
//!
//! - [`store`]: append-only, group-committed, io_uring segment store.
//! - [`file`]: files in and out of the store as verified segments.
//! - [`blob`]: payloads to EIP-4844 blobs, KZG commitments, cells and proofs, and back.
//! - [`da`]: DA submissions in the segment store, and the attestations nodes sign.
//! - [`replica`]: what storage nodes say to each other to replicate files.

pub mod blob;
pub mod da;
pub mod evm;
pub mod file;
pub mod replica;
pub mod store;
