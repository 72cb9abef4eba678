//! 0G's compute contracts as `0g-inference-sdk` 0.9.1 calls them: the LedgerManager (a
//! user's main account and the registry of service contracts) and InferenceServing
//! (providers, per-provider sub-accounts, API-key revocation, settlement). Function and
//! struct shapes follow the SDK's ABIs (`zerog_py_sdk/contracts/abis.py`) and
//! `0G-WIRE.md`; the settlement call, its statuses and its EIP-712 type are 0G's.

// sol!'s generated event constructors take one argument per field.
#![allow(clippy::too_many_arguments)]

use alloy_primitives::{Address, B256, U256, address};
use alloy_sol_types::{Eip712Domain, SolStruct};

/// Where the LedgerManager lives: the address the SDK picks for chain id 31337 (the
/// CREATE address of Hardhat's dev account 0 at nonce 2, as 0G's local deploy puts it).
pub const LEDGER_ADDRESS: Address = address!("0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0");
/// Where InferenceServing lives (dev account 0's CREATE address at nonce 6).
pub const INFERENCE_ADDRESS: Address = address!("0x0165878A594ca255338adfa4d48449f69242Eb8F");
/// Where the SDK looks for FineTuningServing on 31337 (dev account 0 at nonce 12). zg
/// keeps the address free of deployments until it runs fine-tuning there.
pub const FINE_TUNING_ADDRESS: Address = address!("0xA51c1fc2f0D1a1b8494Ed1FE312d7C3a78Ed91C0");

/// The service name `transferFund` and `retrieveFund` take for InferenceServing (what
/// `getServiceInfo(INFERENCE_ADDRESS).fullName` returns; the SDK passes it through).
pub const INFERENCE_SERVICE_NAME: &str = "inference";
/// One wei-denominated 0G.
pub const ONE_0G: U256 = U256::from_limbs([1_000_000_000_000_000_000, 0, 0, 0]);
/// The smallest main account `addLedger` and a first `depositFund` open (0G's 3 0G).
pub const MIN_LEDGER_BALANCE: U256 = U256::from_limbs([3_000_000_000_000_000_000, 0, 0, 0]);
/// The stake a provider's first `addOrUpdateService` locks (0G's 100 0G).
pub const SERVICE_STAKE: U256 = U256::from_limbs([0x6bc7_5e2d_6310_0000, 0x5, 0, 0]);
/// Providers one `retrieveFund` may name (0G's `MAX_PROVIDERS_PER_BATCH`).
pub const MAX_PROVIDERS_PER_BATCH: usize = 20;
/// Settlements one `settleFeesWithTEE` may carry.
pub const MAX_SETTLEMENTS: usize = 50;
/// Pending refunds one sub-account may hold.
pub const MAX_PENDING_REFUNDS: usize = 5;
/// Most entries one paginated view returns.
pub const MAX_PAGE: usize = 50;
/// The refund lock a chain starts with when its genesis names none (0G's default, 1 day).
pub const DEFAULT_LOCK_TIME_SECS: u64 = 86_400;

/// `settleFeesWithTEE`'s per-item outcomes (0G's numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SettlementStatus {
    /// Paid in full.
    Success = 0,
    /// Paid what the sub-account held; the rest stays unsettled.
    Partial = 1,
    /// The item names another provider than the sender.
    ProviderMismatch = 2,
    /// No sub-account, no service signer, or the user has not acknowledged it.
    NoTeeSigner = 3,
    /// The nonce is not above the sub-account's last settled one.
    InvalidNonce = 4,
    /// The EIP-712 signature is not the service signer's.
    InvalidSignature = 5,
}

impl SettlementStatus {
    /// The status a `uint8` names, if any.
    pub fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0 => Self::Success,
            1 => Self::Partial,
            2 => Self::ProviderMismatch,
            3 => Self::NoTeeSigner,
            4 => Self::InvalidNonce,
            5 => Self::InvalidSignature,
            _ => return None,
        })
    }
}

/// The EIP-712 domain settlements are signed in (0G's name and version).
pub fn settlement_domain(chain_id: u64) -> Eip712Domain {
    Eip712Domain {
        name: Some("0G Inference Serving".into()),
        version: Some("1".into()),
        chain_id: Some(U256::from(chain_id)),
        verifying_contract: Some(INFERENCE_ADDRESS),
        salt: None,
    }
}

/// The digest a provider's signer signs for one settlement.
pub fn settlement_digest(chain_id: u64, item: &TEESettlementData) -> B256 {
    TEESettlement {
        requestsHash: item.requestsHash,
        nonce: item.nonce,
        provider: item.provider,
        user: item.user,
        totalFee: item.totalFee,
    }
    .eip712_signing_hash(&settlement_domain(chain_id))
}

alloy_sol_types::sol! {
    /// A user's main account.
    #[derive(Debug, PartialEq, Eq)]
    struct Ledger { address user; uint256 availableBalance; uint256 totalBalance; string additionalInfo; }

    /// A service contract registered with the ledger.
    #[derive(Debug, PartialEq, Eq)]
    struct ServiceInfo {
        address serviceAddress; address serviceContract; string serviceType; string version;
        string fullName; string description; uint256 serviceId; uint256 registeredAt;
    }

    #[sol(extra_derives(Debug))]
    interface ILedgerManager {
        function MAX_PROVIDERS_PER_BATCH() external view returns (uint256);
        function addLedger(string additionalInfo) external payable;
        function deleteLedger() external;
        function depositFund() external payable;
        function depositFundFor(address recipient) external payable;
        function refund(uint256 amount) external;
        function transferFund(address provider, string serviceTypeStr, uint256 amount) external;
        function retrieveFund(address[] providers, string serviceType) external;
        function getLedger(address user) external view returns (Ledger);
        function getAllLedgers(uint256 offset, uint256 limit) external view returns (Ledger[] ledgers, uint256 total);
        function getLedgerProviders(address user, string serviceType) external view returns (address[]);
        function getServiceInfo(address serviceAddress) external view returns (ServiceInfo);
        function getServiceAddressByName(string name) external view returns (address);
        function inferenceAddress() external view returns (address);
        function fineTuningAddress() external view returns (address);
        function owner() external view returns (address);
        function initialized() external view returns (bool);

        event LedgerUpdated(address indexed user, uint256 availableBalance, uint256 totalBalance);

        error LedgerNotExists(address user);
        error LedgerExists(address user);
        error InsufficientBalance(address user);
        error InvalidServiceType(string serviceType);
        error TooManyProviders(uint256 requested, uint256 maximum);
        error ServiceNotExist(address provider);
        error InvalidInput(string reason);
    }

    /// One pending refund of a sub-account.
    #[derive(Debug, PartialEq, Eq)]
    struct Refund { uint256 index; uint256 amount; uint256 createdAt; bool processed; }

    /// A (user, provider) sub-account.
    #[derive(Debug, PartialEq, Eq)]
    struct Account {
        address user; address provider; uint256 nonce; uint256 balance; uint256 pendingRefund;
        Refund[] refunds; string additionalInfo; bool acknowledged; uint256 validRefundsLength;
        uint256 generation; uint256 revokedBitmap;
    }

    /// A provider's registered service.
    #[derive(Debug, PartialEq, Eq)]
    struct Service {
        address provider; string serviceType; string url; uint256 inputPrice; uint256 outputPrice;
        uint256 updatedAt; string model; string verifiability; string additionalInfo;
        address teeSignerAddress; bool teeSignerAcknowledged;
    }

    /// What a provider registers.
    #[derive(Debug, PartialEq, Eq)]
    struct ServiceParams {
        string serviceType; string url; string model; string verifiability;
        uint256 inputPrice; uint256 outputPrice; string additionalInfo; address teeSignerAddress;
    }

    /// One settlement a provider submits: the fee of a batch of requests, signed by the
    /// service's signer.
    #[derive(Debug, PartialEq, Eq)]
    struct TEESettlementData { address user; address provider; uint256 totalFee; bytes32 requestsHash; uint256 nonce; bytes signature; }

    /// The EIP-712 type the signer signs (domain `0G Inference Serving`, version `1`).
    #[derive(Debug, PartialEq, Eq)]
    struct TEESettlement { bytes32 requestsHash; uint256 nonce; address provider; address user; uint256 totalFee; }

    #[sol(extra_derives(Debug))]
    interface IInferenceServing {
        function addOrUpdateService(ServiceParams params) external payable;
        function removeService() external;
        function getService(address provider) external view returns (Service service);
        function getAllServices(uint256 offset, uint256 limit) external view returns (Service[] services, uint256 total);
        function serviceExists(address provider) external view returns (bool);
        function getAccount(address user, address provider) external view returns (Account);
        function getAllAccounts(uint256 offset, uint256 limit) external view returns (Account[] accounts, uint256 total);
        function accountExists(address user, address provider) external view returns (bool);
        function getPendingRefund(address user, address provider) external view returns (uint256);
        function acknowledgeTEESigner(address provider, bool acknowledged) external;
        function revokeTEESignerAcknowledgement(address provider) external;
        function acknowledgeTEESignerByOwner(address provider) external;
        function revokeToken(address provider, uint8 tokenId) external;
        function revokeTokens(address provider, uint8[] tokenIds) external;
        function revokeAllTokens(address provider) external;
        function isTokenRevoked(address user, address provider, uint8 tokenId) external view returns (bool);
        function settleFeesWithTEE(TEESettlementData[] settlements) external returns (uint8[] statuses);
        function previewSettlementResults(TEESettlementData[] settlements) external view returns (uint8[] statuses);
        function lockTime() external view returns (uint256);
        function ledgerAddress() external view returns (address);
        function owner() external view returns (address);
        // Ledger-only in 0G's contract; zg's ledger moves funds inside the chain, so
        // these refuse every caller.
        function addAccount(address user, address provider, string additionalInfo) external payable;
        function depositFund(address user, address provider, uint256 cancelRetrievingAmount) external payable;
        function requestRefundAll(address user, address provider) external;
        function processRefund(address user, address provider) external;
        function deleteAccount(address user, address provider) external;

        event ServiceUpdated(address indexed service, string serviceType, string url, uint256 inputPrice, uint256 outputPrice, uint256 updatedAt, string model, string verifiability);
        event ServiceRemoved(address indexed service);
        event BalanceUpdated(address indexed user, address indexed provider, uint256 amount, uint256 pendingRefund);
        event RefundRequested(address indexed user, address indexed provider, uint256 indexed index, uint256 timestamp);
        event TEESettlementResult(address indexed user, uint8 status, uint256 unsettledAmount);
        event TEESignerAcknowledged(address indexed user, address indexed provider, address teeSigner, bool acknowledged);
        event ProviderTEESignerAcknowledged(address indexed provider, address indexed teeSigner, bool acknowledged);
        event TokenRevoked(address indexed user, address indexed provider, uint8 tokenId);
        event AllTokensRevoked(address indexed user, address indexed provider, uint256 newGeneration);

        error AccountExists(address user, address provider);
        error AccountNotExists(address user, address provider);
        error InvalidProofInputs(string reason);
        error InvalidTEESignature(string reason);
        error ServiceNotExist(address provider);
        error TooManyRefunds(address user, address provider);
        error InvalidServiceParams(string reason);
        error InsufficientStake(uint256 required, uint256 paid);
        error TooManySettlements(uint256 requested, uint256 maximum);
        error Unauthorized(address caller);
    }
}
