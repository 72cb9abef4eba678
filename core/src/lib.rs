//! zg's data plane: the segment store that nodes persist to, and the
//! pipelines that turn user bytes into verifiable pieces.
//!
//! - [`store`]: append-only, group-committed, io_uring segment store.

pub mod store;
