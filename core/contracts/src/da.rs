//! 0G DA's contracts as 0G's disperser and DA nodes call them: the DASigners
//! precompile (signers with BN254 keys, epochs, quorums of 3072 rows, aggregate keys),
//! the DARegistry that signers register through, and DAEntrance (blob fees,
//! `DataUpload`, quorum certificates checked by pairing, `ErasureCommitmentVerified`).
//! Shapes, selectors, events and revert texts are 0G's, from `0G-DA-WIRE.md` §2.5.

use alloy_primitives::{Address, U256, address};

/// Where DASigners lives (0G's precompile address).
pub const DA_SIGNERS_ADDRESS: Address = address!("0x0000000000000000000000000000000000001000");
/// The only contract 0G lets into DASigners' `register*` (0G's deterministic address).
pub const DA_REGISTRY_ADDRESS: Address = address!("0x20f30b2584f3096ea0d6c18c3b5cacc0585e12fc");
/// Where DAEntrance lives: the address 0G's docs give for its testnet entrance, so a
/// client configured from them finds it on zg.
pub const DA_ENTRANCE_ADDRESS: Address = address!("0x857C0A28A8634614BB2C96039Cf4a20AFF709Aa9");

/// Rows of every quorum (0G's `encodedSlices`: 3 cosets of 1024 rows).
pub const ENCODED_SLICES: usize = 3072;
/// Blocks an epoch lasts at most (0G's `epochBlocks`).
pub const EPOCH_BLOCKS: u64 = 5760;
/// Quorums an epoch may hold (0G's `maxQuorums`).
pub const MAX_QUORUMS: u64 = 10;
/// Votes one signer may hold (0G's `maxVotesPerSigner`).
pub const MAX_VOTES_PER_SIGNER: u64 = 1024;
/// 0G's deprecated `tokensPerVote`.
pub const TOKENS_PER_VOTE: u64 = 10;
/// Longest socket a signer may register (0G's registry: 96 bytes).
pub const MAX_SOCKET: usize = 96;
/// Signed rows must reach this share of a quorum: `2·total ≤ 3·hit`.
pub const SLICE_NUMERATOR: u64 = 2;
/// See [`SLICE_NUMERATOR`].
pub const SLICE_DENOMINATOR: u64 = 3;

/// DAEntrance's revert texts (Solidity `Error(string)`), 0G's words.
pub mod reason {
    /// `submitOriginalData` paid less than `n · blobPrice`.
    pub const NOT_ENOUGH_FEE: &str = "Not enough da blob fee";
    /// `submitOriginalData` with no quorum in the current epoch.
    pub const NO_SIGNERS: &str = "DAEntrance: No DA Signers";
    /// A certificate whose rows are under two thirds of the quorum.
    pub const INSUFFICIENT_SLICES: &str = "DARegistry: insufficient signed slices";
    /// A certificate whose aggregate signature does not verify.
    pub const BAD_SIGNATURE: &str = "DARegistry: signature is invalid";
}

/// A word of the quorum bitmap: rows `8i..8i+8` in byte `i`, least significant bit first.
pub fn bitmap_has(bitmap: &[u8], row: usize) -> bool {
    bitmap.get(row / 8).is_some_and(|b| b >> (row % 8) & 1 == 1)
}

/// The blob fee of `n` roots at `price` wei each, or `None` when it overflows.
pub fn blob_fee(n: usize, price: U256) -> Option<U256> {
    price.checked_mul(U256::from(n))
}

// sol!'s generated event constructors take one argument per field.
#[allow(clippy::too_many_arguments)]
mod sol {
    alloy_sol_types::sol! {
        /// A point of BN254's G1, affine; (0, 0) is the identity.
        #[derive(Debug, Default, PartialEq, Eq)]
        struct G1Point { uint256 X; uint256 Y; }
        /// A point of G2 as two Fq2 coordinates; which half comes first differs by
        /// field (see `CommitRootSubmission` and `SignerDetail`).
        #[derive(Debug, Default, PartialEq, Eq)]
        struct G2Point { uint256[2] X; uint256[2] Y; }
        /// A registered signer; `pkG2` holds `[c0, c1]` per coordinate, as 0G's nodes store it.
        #[derive(Debug, Default, PartialEq, Eq)]
        struct SignerDetail { address signer; string socket; G1Point pkG1; G2Point pkG2; }
        /// DASigners' parameters.
        #[derive(Debug, PartialEq, Eq)]
        struct Params { uint256 tokensPerVote; uint256 maxVotesPerSigner; uint256 maxQuorums; uint256 epochBlocks; uint256 encodedSlices; }
        /// A quorum certificate for one blob; `aggPkG2` in EIP-197 order (`[c1, c0]`).
        #[derive(Debug, Default, PartialEq, Eq)]
        struct CommitRootSubmission { bytes32 dataRoot; uint256 epoch; uint256 quorumId; G1Point erasureCommitment; bytes quorumBitmap; G2Point aggPkG2; G1Point signature; }

        interface IDASigners {
            function params() external view returns (Params memory);
            function epochNumber() external view returns (uint256);
            function quorumCount(uint256 _epoch) external view returns (uint256);
            function isSigner(address _account) external view returns (bool);
            function getSigner(address[] memory _account) external view returns (SignerDetail[] memory);
            function getQuorum(uint256 _epoch, uint256 _quorumId) external view returns (address[] memory);
            function getQuorumRow(uint256 _epoch, uint256 _quorumId, uint32 _rowIndex) external view returns (address);
            function registeredEpoch(address _account, uint256 _epoch) external view returns (bool);
            function getAggPkG1(uint256 _epoch, uint256 _quorumId, bytes memory _quorumBitmap) external view returns (G1Point memory aggPkG1, uint256 total, uint256 hit);
            /// From the registry (0G's geth fork) or from the signer itself (0G's Cosmos precompile).
            function registerSigner(SignerDetail memory _signer, G1Point memory _signature) external;
            /// From the registry only.
            function registerNextEpoch(address _account, G1Point memory _signature, uint256 _votes) external;
            /// From the signer (0G's Cosmos precompile's shape).
            function registerNextEpoch(G1Point memory _signature) external;
            function updateSocket(string memory _socket) external;
            function makeEpoch() external;

            event NewSigner(address indexed signer, G1Point pkG1, G2Point pkG2);
            event SocketUpdated(address indexed signer, string socket);
        }

        interface IDARegistry {
            function registerSigner(SignerDetail memory _signer, G1Point memory _signature) external;
            function registerNextEpoch(G1Point memory _signature) external;
        }

        interface IDAEntrance {
            function submitOriginalData(bytes32[] memory _dataRoots) external payable;
            function submitVerifiedCommitRoots(CommitRootSubmission[] memory _submissions) external;
            function verifiedErasureCommitment(bytes32 _dataRoot, uint256 _epoch, uint256 _quorumId) external view returns (G1Point memory);
            function commitmentExists(bytes32 _dataRoot, uint256 _epoch, uint256 _quorumId) external view returns (bool);
            function blobPrice() external view returns (uint256);
            function setBlobPrice(uint256 _blobPrice) external;
            function currentEpoch() external view returns (uint256);
            function sync() external;
            function syncFixedTimes(uint256 _times) external;
            function DA_SIGNERS() external view returns (address);
            function SLICE_NUMERATOR() external view returns (uint256);
            function SLICE_DENOMINATOR() external view returns (uint256);

            event DataUpload(address sender, bytes32 dataRoot, uint256 epoch, uint256 quorumId, uint256 blobPrice);
            event ErasureCommitmentVerified(bytes32 dataRoot, uint256 epoch, uint256 quorumId);
        }
    }
}

pub use sol::*;

/// A 32-byte big-endian word.
type Word = [u8; 32];

impl G1Point {
    /// A point from its big-endian coordinate words (as `zg_blob::zerog_bls::g1_words`
    /// gives them).
    pub fn from_words((x, y): (Word, Word)) -> Self {
        Self {
            X: U256::from_be_bytes(x),
            Y: U256::from_be_bytes(y),
        }
    }

    /// Its coordinate words.
    pub fn words(&self) -> (Word, Word) {
        (self.X.to_be_bytes(), self.Y.to_be_bytes())
    }
}

impl G2Point {
    /// A G2 point from `[x.c0, x.c1, y.c0, y.c1]` as a signer registers it: `[c0, c1]`
    /// per coordinate.
    pub fn signer_order([x0, x1, y0, y1]: [Word; 4]) -> Self {
        let w = U256::from_be_bytes;
        Self {
            X: [w(x0), w(x1)],
            Y: [w(y0), w(y1)],
        }
    }

    /// A G2 point from `[x.c0, x.c1, y.c0, y.c1]` as a certificate carries it:
    /// EIP-197's `[c1, c0]` per coordinate.
    pub fn eip197_order([x0, x1, y0, y1]: [Word; 4]) -> Self {
        Self::signer_order([x1, x0, y1, y0])
    }

    /// `[x.c0, x.c1, y.c0, y.c1]` of a point in signer order.
    pub fn signer_words(&self) -> [Word; 4] {
        let w = |v: U256| v.to_be_bytes::<32>();
        [w(self.X[0]), w(self.X[1]), w(self.Y[0]), w(self.Y[1])]
    }

    /// `[x.c0, x.c1, y.c0, y.c1]` of a point in EIP-197 order.
    pub fn eip197_words(&self) -> [Word; 4] {
        let [x1, x0, y1, y0] = self.signer_words();
        [x0, x1, y0, y1]
    }
}

#[cfg(test)]
mod tests {
    use alloy_sol_types::{SolCall, SolEvent};

    use super::*;

    fn hex4(s: [u8; 4]) -> String {
        s.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn selectors_and_topics_are_0gs() {
        // 0G-DA-WIRE.md §2.5's tables.
        let calls = [
            (IDASigners::paramsCall::SELECTOR, "cff0ab96"),
            (IDASigners::epochNumberCall::SELECTOR, "f4145a83"),
            (IDASigners::quorumCountCall::SELECTOR, "5ecba503"),
            (IDASigners::isSignerCall::SELECTOR, "7df73e27"),
            (IDASigners::getSignerCall::SELECTOR, "d1f5e5f8"),
            (IDASigners::getQuorumCall::SELECTOR, "6ab6f654"),
            (IDASigners::getQuorumRowCall::SELECTOR, "fa6fcba6"),
            (IDASigners::registeredEpochCall::SELECTOR, "6c9e560c"),
            (IDASigners::getAggPkG1Call::SELECTOR, "50b73739"),
            (IDASigners::registerSignerCall::SELECTOR, "7ca4dd5e"),
            (IDASigners::registerNextEpoch_0Call::SELECTOR, "0f62bda5"),
            (IDASigners::registerNextEpoch_1Call::SELECTOR, "56a32372"),
            (IDASigners::updateSocketCall::SELECTOR, "0cf4b767"),
            (IDASigners::makeEpochCall::SELECTOR, "5a889f0c"),
            (IDARegistry::registerSignerCall::SELECTOR, "7ca4dd5e"),
            (IDARegistry::registerNextEpochCall::SELECTOR, "56a32372"),
            (IDAEntrance::submitOriginalDataCall::SELECTOR, "d4ae59c9"),
            (IDAEntrance::submitVerifiedCommitRootsCall::SELECTOR, "eafed6ce"),
            (IDAEntrance::verifiedErasureCommitmentCall::SELECTOR, "9da3a69b"),
            (IDAEntrance::commitmentExistsCall::SELECTOR, "6a53525d"),
            (IDAEntrance::blobPriceCall::SELECTOR, "3d00448a"),
            (IDAEntrance::currentEpochCall::SELECTOR, "76671808"),
            (IDAEntrance::syncCall::SELECTOR, "fff6cae9"),
            (IDAEntrance::syncFixedTimesCall::SELECTOR, "e051d1ea"),
            (IDAEntrance::DA_SIGNERSCall::SELECTOR, "807f063a"),
            (IDAEntrance::SLICE_NUMERATORCall::SELECTOR, "5626a47b"),
            (IDAEntrance::SLICE_DENOMINATORCall::SELECTOR, "602b245a"),
            (IDAEntrance::setBlobPriceCall::SELECTOR, "23dd60a6"),
        ];
        for (selector, want) in calls {
            assert_eq!(hex4(selector), want);
        }
        let topics = [
            (
                IDAEntrance::DataUpload::SIGNATURE_HASH,
                "57b8b1a6583dc6ce934dfba3d66f2a8e1591b6e171bb2e0921cc64640277087b",
            ),
            (
                IDAEntrance::ErasureCommitmentVerified::SIGNATURE_HASH,
                "0f1b20d87bebd11dddaaab51f01cf2726880cb3f8073b636dbafa2aa8cacd256",
            ),
            (
                IDASigners::NewSigner::SIGNATURE_HASH,
                "679917c2006df1daaa987a56bf1d66e99764d5ad317892d9e83a6eb4e3f051e7",
            ),
            (
                IDASigners::SocketUpdated::SIGNATURE_HASH,
                "09617a966176a40f8f1410768b118506db0096484acd5811064fcc12038798de",
            ),
        ];
        for (topic, want) in topics {
            assert_eq!(alloy_primitives::hex::encode(topic), want);
        }
    }

    #[test]
    fn g2_points_keep_each_order() {
        let words = [[1u8; 32], [2; 32], [3; 32], [4; 32]];
        let signer = G2Point::signer_order(words);
        assert_eq!(signer.X[0], U256::from_be_bytes([1u8; 32]));
        let eip197 = G2Point::eip197_order(words);
        assert_eq!(eip197.X, [signer.X[1], signer.X[0]]);
        assert_eq!(eip197.Y, [signer.Y[1], signer.Y[0]]);
        assert_eq!(signer.signer_words(), words);
        assert_eq!(eip197.eip197_words(), words);
        let g1 = G1Point::from_words(([5; 32], [6; 32]));
        assert_eq!(g1.words(), ([5; 32], [6; 32]));
    }

    #[test]
    fn bitmap_rows_are_lsb_first() {
        let bitmap = [0b0000_0101u8, 0x80];
        let rows: Vec<usize> = (0..16).filter(|r| bitmap_has(&bitmap, *r)).collect();
        assert_eq!(rows, [0, 2, 15]);
        assert!(!bitmap_has(&bitmap, 16));
    }
}
