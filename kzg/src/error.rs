//! Typed errors: malformed input names what was wrong; a well-formed proof
//! that does not verify is `Ok(false)`, never an error.

/// What was wrong with the input or the setup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KzgError {
    /// An input of the wrong byte length.
    #[error("{what} is {got} bytes, expected {expected}")]
    WrongLength {
        /// The input.
        what: &'static str,
        /// Bytes expected.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// A 32-byte field element that is not below the BLS12-381 scalar modulus.
    #[error("{what} element {index} is not a canonical field element (>= the BLS modulus)")]
    NonCanonicalField {
        /// The input holding it.
        what: &'static str,
        /// Its position within that input.
        index: usize,
    },
    /// Bytes that are not a valid compressed point of the prime-order subgroup.
    #[error("{what} {index} is not a valid point: {reason}")]
    InvalidPoint {
        /// The input holding it.
        what: &'static str,
        /// Its position in a list (0 for single points).
        index: usize,
        /// Why: bad encoding, not on the curve, or not in the subgroup.
        reason: &'static str,
    },
    /// Lists that must be of equal length are not.
    #[error("{what}: {a} and {b} items do not match")]
    LengthMismatch {
        /// The lists.
        what: &'static str,
        /// First list's length.
        a: usize,
        /// Second list's length.
        b: usize,
    },
    /// A cell index of 128 or more.
    #[error("cell index {index} is out of range (there are {count} cells)")]
    CellIndexOutOfRange {
        /// The index.
        index: u64,
        /// Cells per extended blob.
        count: usize,
    },
    /// Cell indices for recovery must be strictly ascending (so also distinct).
    #[error("cell indices must be strictly ascending: {index} follows {previous}")]
    CellIndicesNotAscending {
        /// The earlier index.
        previous: u64,
        /// The index that is not greater.
        index: u64,
    },
    /// Too few or too many cells for recovery.
    #[error("recovery needs between {min} and {max} cells, got {got}")]
    CellCount {
        /// Fewest cells.
        min: usize,
        /// Most cells.
        max: usize,
        /// Cells given.
        got: usize,
    },
    /// The cells do not come from one blob (only detectable with more than half of them).
    #[error("the cells are not evaluations of one blob")]
    InconsistentCells,
    /// A trusted setup file or table that cannot be used.
    #[error("trusted setup: {0}")]
    Setup(String),
}

/// `Result` with [`KzgError`].
pub type Result<T, E = KzgError> = std::result::Result<T, E>;
