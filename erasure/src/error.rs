//! Typed errors: each names the shard, cell or count that was wrong.

/// What went wrong while encoding or decoding.
#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    /// A (k, m) pair the GF(2^16) FFT code cannot hold.
    #[error(
        "unsupported shard counts k={k}, m={m}: need 1 <= k, m and \
         min(next_pow2(k), next_pow2(m)) + max(k, m) <= 65536"
    )]
    UnsupportedCounts {
        /// Original shards.
        k: u64,
        /// Recovery shards.
        m: u64,
    },
    /// A shard length that is zero, odd or above the limit.
    #[error("invalid shard length {got}: must be even and in 2..={max}")]
    InvalidShardLen {
        /// The length given.
        got: u64,
        /// The largest allowed.
        max: u64,
    },
    /// Fewer bytes than a shard header.
    #[error("shard truncated: {got} bytes, a header alone is {needed}")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// Not a zg shard.
    #[error("not a zg shard: bad magic {got:02x?}")]
    BadMagic {
        /// The first four bytes.
        got: [u8; 4],
    },
    /// A shard format this build does not know.
    #[error("unsupported shard version {got}, this build reads version {supported}")]
    UnsupportedVersion {
        /// Version found.
        got: u8,
        /// Version this build reads.
        supported: u8,
    },
    /// Another number of recovery buffers than the code's `m`.
    #[error("{got} recovery buffers given, the code makes {expected}")]
    RecoveryBuffers {
        /// The code's `m`.
        expected: u64,
        /// Buffers given.
        got: u64,
    },
    /// A header whose fields contradict each other.
    #[error("invalid shard header: {0}")]
    InvalidHeader(&'static str),
    /// A body of another length than its header states.
    #[error("shard body is {got} bytes, its header says {expected}")]
    BodyLength {
        /// Length in the header.
        expected: u64,
        /// Bytes present.
        got: u64,
    },
    /// The checksum over header and body does not match: the shard is corrupt.
    #[error("shard {index} of stripe {stripe} is corrupt (checksum mismatch)")]
    CorruptShard {
        /// Stripe of the shard.
        stripe: u64,
        /// Index of the shard.
        index: u32,
    },
    /// The same shard twice.
    #[error("shard {index} of stripe {stripe} given twice")]
    DuplicateShard {
        /// Stripe of the shard.
        stripe: u64,
        /// Index of the shard.
        index: u32,
    },
    /// A shard of another payload or geometry than the first one accepted.
    #[error("shard {index} of stripe {stripe} is foreign: its {field} differs from the other shards'")]
    ForeignShard {
        /// Stripe of the shard.
        stripe: u64,
        /// Index of the shard.
        index: u32,
        /// The header field that differs.
        field: &'static str,
    },
    /// Not enough intact shards to rebuild a stripe.
    #[error("stripe {stripe} has {have} usable shards, needs {need}")]
    TooFewShards {
        /// The stripe short of shards.
        stripe: u64,
        /// Intact shards present.
        have: u64,
        /// Shards needed (k).
        need: u64,
    },
    /// No shard at all to learn the code's parameters from.
    #[error("no shards given")]
    NoShards,
    /// A stream that ended before its stated payload length, or ran past it.
    #[error("payload stream has {got} bytes, {expected} were announced")]
    PayloadLength {
        /// Bytes announced.
        expected: u64,
        /// Bytes read.
        got: u64,
    },
    /// The number of shard sinks or sources does not match k + m.
    #[error("{got} shard streams given, the code has k + m = {expected}")]
    StreamCount {
        /// k + m.
        expected: usize,
        /// Streams given.
        got: usize,
    },
    /// Encoding would need more memory than this process can allocate.
    #[error("cannot allocate {bytes} bytes for {what}")]
    Allocation {
        /// What the memory was for.
        what: &'static str,
        /// Bytes needed.
        bytes: u128,
    },
    /// Reading or writing a stream failed.
    #[error("shard stream I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A field-code shape that is not a power of two or does not split into cells.
    #[error("invalid field code shape: {0}")]
    InvalidShape(&'static str),
    /// Fewer than half the cells of an extended blob.
    #[error("{have} cells given, recovery needs at least {need}")]
    NotEnoughCells {
        /// Distinct cells given.
        have: usize,
        /// Cells needed.
        need: usize,
    },
    /// A cell index past the last cell.
    #[error("cell index {index} out of range: there are {count} cells")]
    CellIndexOutOfRange {
        /// The index given.
        index: u64,
        /// Cells in an extended blob.
        count: usize,
    },
    /// The same cell twice.
    #[error("cell {index} given twice")]
    DuplicateCell {
        /// The repeated index.
        index: u64,
    },
    /// A cell or blob of the wrong number of field elements.
    #[error("{what} has {got} field elements, expected {expected}")]
    WrongLength {
        /// The thing measured.
        what: &'static str,
        /// Elements expected.
        expected: usize,
        /// Elements given.
        got: usize,
    },
}

impl ErasureError {
    /// The error for a reed-solomon-simd failure after our own checks passed.
    pub(crate) fn from_rs(e: reed_solomon_simd::Error) -> Self {
        use reed_solomon_simd::Error as E;
        match e {
            E::UnsupportedShardCount {
                original_count,
                recovery_count,
            } => Self::UnsupportedCounts {
                k: original_count as u64,
                m: recovery_count as u64,
            },
            E::InvalidShardSize { shard_bytes } => Self::InvalidShardLen {
                got: shard_bytes as u64,
                max: crate::gf16::MAX_SHARD_LEN as u64,
            },
            other => Self::InvalidHeader(match other {
                E::NotEnoughShards { .. } => "not enough shards for the decoder",
                E::DuplicateOriginalShardIndex { .. } | E::DuplicateRecoveryShardIndex { .. } => {
                    "duplicate shard index in the decoder"
                }
                _ => "shard rejected by the Reed-Solomon engine",
            }),
        }
    }
}

/// `Result` with [`ErasureError`].
pub type Result<T, E = ErasureError> = std::result::Result<T, E>;
