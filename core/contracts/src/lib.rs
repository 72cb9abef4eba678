//! # zg-contracts
//!
//! The interfaces of zg's system contracts, shared by the chain that runs them
//! (`zg-evm`), the storage nodes that follow them and the clients that pay through
//! them: 0G's Flow and storage market ABIs (declared with alloy's `sol!`, so the
//! selectors, the `Submit` event and the custom errors are 0G's), 0G's compute
//! ledger and inference serving contracts ([`compute`]), 0G's fine-tuning serving
//! contract ([`fine_tuning`]), 0G DA's DASigners, registry and
//! entrance ([`da`]), zg's service registry ([`registry`]), and the fixed addresses they live at on a zg chain.
//!
//! ```
//! use alloy_sol_types::SolCall;
//! use zg_contracts::abi::IFlow;
//!
//! assert_eq!(IFlow::marketCall::SELECTOR, [0x80, 0xf5, 0x56, 0x05]);
//! ```

use alloy_primitives::{Address, address};

pub mod compute;
pub mod da;
pub mod fine_tuning;
pub mod registry;

/// Where the Flow contract lives (clear of 0G's precompiles at `0x…1000` on).
pub const FLOW_ADDRESS: Address = address!("0x0000000000000000000000000000000000002000");
/// Where the storage market lives.
pub const MARKET_ADDRESS: Address = address!("0x0000000000000000000000000000000000002001");
/// The code each system contract's account holds, so tools see a contract. It never
/// runs: the executor hands every call to the address to the Rust contract.
pub const SYSTEM_CODE: [u8; 5] = [0x60, 0x00, 0x60, 0x00, 0xfd];
/// The price per 256-byte sector `zg devnet` starts with: 10^9 wei (1 gwei), so a
/// 1 MiB file costs 4,096 gwei.
pub const DEFAULT_PRICE_PER_SECTOR: u64 = 1_000_000_000;

/// 0G's Flow and market interfaces (from `0G-WIRE.md` and 0G's published ABIs).
pub mod abi {
    alloy_sol_types::sol! {
        /// A power-of-two run of sectors and its Merkle root.
        #[derive(Debug, PartialEq, Eq)]
        struct SubmissionNode { bytes32 root; uint256 height; }
        /// A file as the Flow takes it: its size in bytes, tags, and its nodes, largest first.
        #[derive(Debug, PartialEq, Eq)]
        struct Submission { uint256 length; bytes tags; SubmissionNode[] nodes; }
        /// A submission with the account it is made for (the 1.2.8 SDK's shape).
        #[derive(Debug, PartialEq, Eq)]
        struct SubmissionParams { Submission data; address submitter; }
        /// The flow as 0G's mining context reports it.
        #[derive(Debug, PartialEq, Eq)]
        struct MineContext { uint256 epoch; uint256 mineStart; bytes32 flowRoot; uint256 flowLength; bytes32 blockDigest; bytes32 digest; }

        interface IFlow {
            /// 0.3.3's submit (`0xef3e12dc`).
            function submit(Submission submission) external payable returns (uint256, bytes32, uint256, uint256);
            /// 1.2.8's and the Python SDK's submit (`0xbc8c11f8`).
            function submit(SubmissionParams params) external payable returns (uint256 index, bytes32 digest, uint256 startIndex, uint256 length);
            /// 0.3.3's batch (`0x9e62a38e`).
            function batchSubmit(Submission[] submissions) external payable returns (uint256[] indexes, bytes32[] digests, uint256[] startIndexes, uint256[] lengths);
            /// 1.2.8's batch (`0x49aa3395`).
            function batchSubmit(SubmissionParams[] submissions) external payable returns (uint256[] indexes, bytes32[] digests, uint256[] startIndexes, uint256[] lengths);
            function market() external view returns (address);
            function numSubmissions() external view returns (uint256);
            function submissionIndex() external view returns (uint256);
            function epoch() external view returns (uint256);
            function getContext() external view returns (MineContext);

            event Submit(address indexed sender, bytes32 indexed identity, uint256 submissionIndex, uint256 startPos, uint256 length, Submission submission);

            error InvalidSubmission();
            error NotEnoughFee(uint256 price, uint256 amount, uint256 paid);
        }

        interface IMarket {
            function pricePerSector() external view returns (uint256);
            function flow() external view returns (address);
        }
    }
}
