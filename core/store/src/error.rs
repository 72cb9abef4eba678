//! Typed errors of the segment store.

use std::io;

/// What went wrong in the segment store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O call failed.
    #[error("{op} {file}: {source}")]
    Io {
        /// What the store was doing.
        op: &'static str,
        /// The file involved.
        file: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The disk ran out of space: the batch was not written (and was rolled back).
    #[error("disk full writing {file}: {source}; free space or raise the store's capacity elsewhere")]
    DiskFull {
        /// The file being written.
        file: String,
        /// The OS error (ENOSPC or EDQUOT).
        #[source]
        source: io::Error,
    },
    /// The batch would take the store over its configured capacity.
    #[error("store full: {needed} more bytes would exceed the capacity of {capacity} ({used} used)")]
    Full {
        /// Bytes the batch needs.
        needed: u64,
        /// Bytes the store's files take.
        used: u64,
        /// The configured limit.
        capacity: u64,
    },
    /// fsync failed: the batch was not acknowledged and the store refuses
    /// every later write (a failed fsync cannot be retried safely).
    #[error("fsync of {file} failed: {source}; the store is now read-only until reopened")]
    SyncFailed {
        /// The file being synced.
        file: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An earlier fsync failed; reopen the store to recover.
    #[error("store failed earlier and refuses writes: {0}; reopen it to recover")]
    Failed(String),
    /// No record under that key and index.
    #[error("{what} {index} of {key} not found")]
    NotFound {
        /// "segment" or "metadata".
        what: &'static str,
        /// The key in hex.
        key: String,
        /// The segment index.
        index: u64,
    },
    /// A payload larger than a record holds.
    #[error("payload of {len} bytes exceeds the maximum of {max}")]
    PayloadTooLarge {
        /// Bytes given.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// A stored record failed its checks (bit rot, or a damaged file).
    #[error("corrupt record in {file} at offset {offset}: {reason}")]
    Corrupt {
        /// The data file.
        file: String,
        /// Offset of the record.
        offset: u64,
        /// What check failed.
        reason: String,
    },
    /// A data file the index snapshot names is gone: data would be lost, so open refuses.
    #[error(
        "data file {0} is missing; restore it, or delete index.zgi to rebuild from the files that remain"
    )]
    MissingDataFile(String),
    /// A directory entry that looks like a data file but is not named like one.
    #[error("store directory holds {0}, which is not a store file; move it away")]
    ForeignFile(String),
    /// The store's writer thread is gone (the store was closed).
    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    pub(crate) fn io(op: &'static str, file: impl Into<String>, source: io::Error) -> Self {
        let file = file.into();
        if matches!(source.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT)) {
            return Self::DiskFull { file, source };
        }
        Self::Io { op, file, source }
    }
}

/// Results of the segment store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
