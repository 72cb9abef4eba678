//! Typed errors for malformed trees, proofs and arguments.

/// What went wrong with a proof, an outboard or an argument.
///
/// A proof that is well formed but does not match the root is not an error:
/// verifiers return `Ok(false)` for it. These variants are for input that
/// cannot even be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// The encoding ended before a field it announced.
    #[error("{what} truncated: needed {needed} bytes, got {got}")]
    Truncated {
        /// The encoded thing being read.
        what: &'static str,
        /// Bytes the next field needs.
        needed: usize,
        /// Bytes left.
        got: usize,
    },
    /// Bytes left over after a complete encoding.
    #[error("{what} has {extra} trailing bytes")]
    TrailingBytes {
        /// The encoded thing being read.
        what: &'static str,
        /// How many bytes were left.
        extra: usize,
    },
    /// The encoding does not start with the expected tag.
    #[error("{what}: unknown tag {got:#04x}, expected {expected:#04x}")]
    BadTag {
        /// The encoded thing being read.
        what: &'static str,
        /// The tag found.
        got: u8,
        /// The tag expected.
        expected: u8,
    },
    /// A count in the encoding exceeds what any valid value can hold.
    #[error("{what}: count {got} exceeds the maximum {max}")]
    CountTooLarge {
        /// The counted thing.
        what: &'static str,
        /// The count found.
        got: u64,
        /// The largest valid count.
        max: u64,
    },
    /// The proof holds a different number of hashes than its position needs.
    #[error("{what}: {got} hashes where the tree shape needs {expected}")]
    WrongNodeCount {
        /// The proof kind.
        what: &'static str,
        /// Hashes in the proof.
        got: usize,
        /// Hashes the shape needs.
        expected: usize,
    },
    /// A path flag byte other than 0 or 1.
    #[error("proof path flag {index} is {value}, expected 0 or 1")]
    BadPathFlag {
        /// Position of the flag.
        index: usize,
        /// The byte found.
        value: u8,
    },
    /// A segment or leaf index past the end of the tree.
    #[error("index {index} out of range: the tree has {count}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// How many there are.
        count: u64,
    },
    /// An empty or reversed range of segments.
    #[error("invalid segment range {start}..{end}")]
    InvalidRange {
        /// First segment.
        start: u64,
        /// One past the last segment.
        end: u64,
    },
    /// A proof for other segments than the caller asked to verify.
    #[error("proof covers segments {got_start}..{got_end}, expected {start}..{end}")]
    RangeMismatch {
        /// Range asked for.
        start: u64,
        /// End of the range asked for.
        end: u64,
        /// Range in the proof.
        got_start: u64,
        /// End of the range in the proof.
        got_end: u64,
    },
    /// Data of the wrong length for the segments it claims to be.
    #[error("data length {got} does not match the {expected} bytes of the proven segments")]
    DataLength {
        /// Bytes the segments hold.
        expected: u64,
        /// Bytes given.
        got: u64,
    },
    /// A leaf list that cannot form a tree.
    #[error("a tree needs at least one leaf")]
    NoLeaves,
    /// A flow insertion that the flow cannot take.
    #[error("flow: {0}")]
    Flow(&'static str),
    /// A segment or submission proof of the wrong kind.
    #[error("proof kind {got} does not match tree kind {expected}")]
    KindMismatch {
        /// The kind expected.
        expected: &'static str,
        /// The kind given.
        got: &'static str,
    },
    /// An outboard whose stored root disagrees with its nodes.
    #[error("outboard is corrupt: its nodes do not hash to its stored root")]
    CorruptOutboard,
}

/// `Result` with [`MerkleError`].
pub type Result<T, E = MerkleError> = std::result::Result<T, E>;

impl From<zg_codec::CodecError> for MerkleError {
    fn from(e: zg_codec::CodecError) -> Self {
        use zg_codec::CodecError as C;
        match e {
            C::Truncated { what, needed, got } => Self::Truncated { what, needed, got },
            C::TrailingBytes { what, extra } => Self::TrailingBytes { what, extra },
            C::BadTag { what, got, expected } => Self::BadTag { what, got, expected },
            C::CountTooLarge { what, got, max } => Self::CountTooLarge { what, got, max },
        }
    }
}
