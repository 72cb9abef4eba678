//! 0G's FineTuningServing as `0g-inference-sdk` 0.9.1 calls it
//! (`zerog_py_sdk/fine_tuning/contract/abi.py`): providers' staked services with a
//! quota and a price per token, the (user, provider) sub-accounts the ledger funds
//! under the service name `fine-tuning`, deliverables (a trained model's storage root),
//! the user's acknowledgement, and `settleFees`, which pays the task fee when the user
//! acknowledged the deliverable (recording the key sealed to the user) and only the
//! penalty share when not. The settlement's EIP-712 type and domain are 0G's.

// sol!'s generated event constructors take one argument per field.
#![allow(clippy::too_many_arguments)]

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::{Eip712Domain, SolStruct};

pub use crate::compute::FINE_TUNING_ADDRESS;

/// The service name `transferFund` and `retrieveFund` take for FineTuningServing (what
/// `getServiceInfo(FINE_TUNING_ADDRESS).fullName` returns).
pub const FINE_TUNING_SERVICE_NAME: &str = "fine-tuning";
/// The share of a task's fee a provider takes when the user never acknowledged the
/// deliverable, in percent (0G's default).
pub const DEFAULT_PENALTY_PERCENTAGE: u64 = 30;
/// The shortest refund lock `updateLockTime` accepts (0G's 1 hour).
pub const MIN_LOCK_TIME_SECS: u64 = 3_600;
/// The longest refund lock `updateLockTime` accepts (0G's 7 days).
pub const MAX_LOCK_TIME_SECS: u64 = 7 * 86_400;
/// Deliverables an account keeps; the oldest, once settled, makes room for a new one.
pub const MAX_DELIVERABLES: usize = 20;
/// Longest deliverable id, bytes (0G's bound).
pub const MAX_DELIVERABLE_ID: usize = 256;
/// Longest model root and sealed secret a deliverable keeps, bytes.
pub const MAX_DELIVERABLE_BYTES: usize = 1_024;
/// Most users one `getBatchAccountsByUsers` takes.
pub const MAX_BATCH_USERS: usize = 500;
/// Most models one service lists.
pub const MAX_MODELS: usize = 16;
/// Longest model name a service lists, bytes.
pub const MAX_MODEL_NAME: usize = 256;
/// Longest GPU type a quota names, bytes.
pub const MAX_GPU_TYPE: usize = 64;

/// The EIP-712 domain a provider's TEE signer signs settlements in.
pub fn verifier_domain(chain_id: u64) -> Eip712Domain {
    Eip712Domain {
        name: Some("0G Fine-Tuning Serving".into()),
        version: Some("1".into()),
        chain_id: Some(U256::from(chain_id)),
        verifying_contract: Some(FINE_TUNING_ADDRESS),
        salt: None,
    }
}

/// The digest the TEE signer signs for one settlement.
pub fn verifier_digest(chain_id: u64, input: &VerifierInput) -> B256 {
    VerifierMessage {
        id: input.id.clone(),
        encryptedSecret: input.encryptedSecret.clone(),
        modelRootHash: input.modelRootHash.clone(),
        nonce: input.nonce,
        taskFee: input.taskFee,
        user: input.user,
    }
    .eip712_signing_hash(&verifier_domain(chain_id))
}

/// The fee a settlement pays: all of `task_fee` when the user acknowledged, else the
/// penalty share (rounded down, as Solidity divides).
pub fn settled_fee(task_fee: U256, acknowledged: bool, penalty_percentage: U256) -> U256 {
    if acknowledged {
        task_fee
    } else {
        task_fee.saturating_mul(penalty_percentage) / U256::from(100)
    }
}

/// A zeroed summary, what `getBatchAccountsByUsers` answers for a user without an account.
pub fn empty_summary() -> AccountSummary {
    AccountSummary {
        user: Address::ZERO,
        provider: Address::ZERO,
        nonce: U256::ZERO,
        balance: U256::ZERO,
        pendingRefund: U256::ZERO,
        additionalInfo: String::new(),
        validRefundsLength: U256::ZERO,
        deliverablesCount: U256::ZERO,
        acknowledged: false,
    }
}

alloy_sol_types::sol! {
    /// What a provider offers to train on.
    #[derive(Debug, PartialEq, Eq)]
    struct Quota { uint256 cpuCount; uint256 nodeMemory; uint256 gpuCount; uint256 nodeStorage; string gpuType; }

    /// A provider's registered fine-tuning service.
    #[derive(Debug, PartialEq, Eq)]
    struct Service {
        address provider; string url; Quota quota; uint256 pricePerToken; bool occupied;
        string[] models; address teeSignerAddress; bool teeSignerAcknowledged;
    }

    /// One pending refund of a sub-account.
    #[derive(Debug, PartialEq, Eq)]
    struct Refund { uint256 index; uint256 amount; uint256 createdAt; bool processed; }

    /// A trained model a provider delivered: its storage root and, once settled after
    /// the user's acknowledgement, its key sealed to the user.
    #[derive(Debug, PartialEq, Eq)]
    struct Deliverable {
        string id; bytes modelRootHash; bytes encryptedSecret; bool acknowledged; uint248 timestamp; bool settled;
    }

    /// A (user, provider) sub-account with its deliverables, oldest first.
    #[derive(Debug, PartialEq, Eq)]
    struct AccountDetails {
        address user; address provider; uint256 nonce; uint256 balance; uint256 pendingRefund;
        Refund[] refunds; string additionalInfo; Deliverable[] deliverables; uint256 validRefundsLength;
        uint256 deliverablesHead; uint256 deliverablesCount; bool acknowledged;
    }

    /// A sub-account without its refunds and deliverables (the list views).
    #[derive(Debug, PartialEq, Eq)]
    struct AccountSummary {
        address user; address provider; uint256 nonce; uint256 balance; uint256 pendingRefund;
        string additionalInfo; uint256 validRefundsLength; uint256 deliverablesCount; bool acknowledged;
    }

    /// What a provider settles one task with.
    #[derive(Debug, PartialEq, Eq)]
    struct VerifierInput {
        string id; bytes encryptedSecret; bytes modelRootHash; uint256 nonce; bytes signature; uint256 taskFee; address user;
    }

    /// The EIP-712 type the TEE signer signs (domain `0G Fine-Tuning Serving`, version `1`).
    #[derive(Debug, PartialEq, Eq)]
    struct VerifierMessage { string id; bytes encryptedSecret; bytes modelRootHash; uint256 nonce; uint256 taskFee; address user; }

    #[sol(extra_derives(Debug, PartialEq, Eq))]
    interface IFineTuningServing {
        function MAX_LOCKTIME() external view returns (uint256);
        function MIN_LOCKTIME() external view returns (uint256);
        function MIN_PROVIDER_STAKE() external view returns (uint256);
        function accountExists(address user, address provider) external view returns (bool);
        function acknowledgeDeliverable(address provider, string id) external;
        function acknowledgeTEESigner(address provider, bool acknowledged) external;
        function acknowledgeTEESignerByOwner(address provider) external;
        function addAccount(address user, address provider, string additionalInfo) external payable;
        function addDeliverable(address user, string id, bytes modelRootHash) external;
        function addOrUpdateService(string url, Quota quota, uint256 pricePerToken, bool occupied, string[] models, address teeSignerAddress) external payable;
        function deleteAccount(address user, address provider) external;
        function depositFund(address user, address provider, uint256 cancelRetrievingAmount) external payable;
        function getAccount(address user, address provider) external view returns (AccountDetails);
        function getAccountsByProvider(address provider, uint256 offset, uint256 limit) external view returns (AccountSummary[] accounts, uint256 total);
        function getAccountsByUser(address user, uint256 offset, uint256 limit) external view returns (AccountSummary[] accounts, uint256 total);
        function getAllAccounts(uint256 offset, uint256 limit) external view returns (AccountSummary[] accounts, uint256 total);
        function getAllServices() external view returns (Service[] services);
        function getBatchAccountsByUsers(address[] users) external view returns (AccountSummary[] accounts);
        function getDeliverable(address user, address provider, string id) external view returns (Deliverable);
        function getDeliverables(address user, address provider) external view returns (Deliverable[]);
        function getPendingRefund(address user, address provider) external view returns (uint256);
        function getService(address provider) external view returns (Service service);
        function initialize(uint256 _locktime, address _ledgerAddress, address owner, uint256 _penaltyPercentage) external;
        function initialized() external view returns (bool);
        function ledgerAddress() external view returns (address);
        function lockTime() external view returns (uint256);
        function owner() external view returns (address);
        function penaltyPercentage() external view returns (uint256);
        function processRefund(address user, address provider) external returns (uint256 totalAmount, uint256 balance, uint256 pendingRefund);
        function removeService() external;
        function renounceOwnership() external;
        function requestRefundAll(address user, address provider) external;
        function revokeTEESignerAcknowledgement(address provider) external;
        function settleFees(VerifierInput verifierInput) external;
        function supportsInterface(bytes4 interfaceId) external view returns (bool);
        function transferOwnership(address newOwner) external;
        function updateLockTime(uint256 _locktime) external;
        function updatePenaltyPercentage(uint256 _penaltyPercentage) external;

        event AccountDeleted(address indexed user, address indexed provider, uint256 refundedAmount);
        event BalanceUpdated(address indexed user, address indexed provider, uint256 amount, uint256 pendingRefund);
        event DeliverableAcknowledged(address indexed user, address indexed provider, string deliverableId, uint256 timestamp);
        event DeliverableAdded(address indexed user, address indexed provider, string deliverableId, bytes modelRootHash, uint256 timestamp);
        event DeliverableEvicted(address indexed provider, address indexed user, string evictedDeliverableId, string newDeliverableId, uint256 timestamp);
        event FeesSettled(address indexed user, address indexed provider, string deliverableId, uint256 fee, bool acknowledged, uint256 nonce);
        event Initialized(uint8 version);
        event LockTimeUpdated(uint256 oldLockTime, uint256 newLockTime);
        event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
        event ProviderStakeReturned(address indexed provider, uint256 amount);
        event ProviderStaked(address indexed provider, uint256 amount);
        event ProviderTEESignerAcknowledged(address indexed provider, address indexed teeSignerAddress, bool acknowledged);
        event RefundRequested(address indexed user, address indexed provider, uint256 indexed index, uint256 timestamp);
        event ServiceRemoved(address indexed user);
        event ServiceUpdated(address indexed user, string url, Quota quota, uint256 pricePerToken, address teeSignerAddress, bool occupied);

        error AccountExists(address user, address provider);
        error AccountNotExists(address user, address provider);
        error AdditionalInfoTooLong();
        error AlreadyInitialized();
        error BatchSizeTooLarge(uint256 size, uint256 maxSize);
        error CallerNotLedger();
        error CannotAcknowledgeSettledDeliverable(string id);
        error CannotAddStakeWhenUpdating();
        error CannotEvictUnsettledDeliverable(string id);
        error CannotRevokeWithNonZeroBalance(address user, address provider, uint256 balance);
        error DeliverableAlreadyExists(string id);
        error DeliverableAlreadySettled(string id);
        error DeliverableIdInvalidLength(uint256 length);
        error DeliverableNotExists(string id);
        error DirectDepositsDisabled();
        error ETHTransferFailed();
        error InsufficientStake(uint256 provided, uint256 required);
        error InvalidLedgerAddress();
        error InvalidVerifierInput(string reason);
        error LimitTooLarge(uint256 limit);
        error LockTimeOutOfRange(uint256 lockTime);
        error PenaltyPercentageTooHigh(uint256 percentage);
        error PreviousDeliverableNotAcknowledged(string id);
        error SecretShouldBeEmpty();
        error SecretShouldNotBeEmpty();
        error ServiceNotExist(address provider);
        error TooManyRefunds(address user, address provider);
        error TransferToLedgerFailed();
        // Not in the SDK's ABI: zg's own refusals of a malformed service and a
        // caller that is not the owner (0G's Ownable reverts with a string).
        error InvalidServiceParams(string reason);
        error Unauthorized(address caller);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every function, error and event of the SDK's ABI has the same selector or
    /// topic here (the vector file is computed by web3.py from the SDK's `abi.py`).
    #[test]
    fn every_selector_matches_the_sdk() {
        use IFineTuningServing::{
            IFineTuningServingCalls, IFineTuningServingErrors, IFineTuningServingEvents,
        };
        let vectors = include_str!("../tests/vectors/fine_tuning_sdk_abi.txt");
        let mut seen = [0usize; 3];
        for line in vectors.lines().filter(|l| !l.starts_with('#')) {
            let fields: Vec<&str> = line.split(' ').collect();
            let (kind, name, hash) = (fields[0], fields[1], fields[3]);
            let found = match kind {
                "function" => {
                    seen[0] += 1;
                    IFineTuningServingCalls::SELECTORS.iter().any(|s| hex(s) == hash)
                }
                "error" => {
                    seen[1] += 1;
                    IFineTuningServingErrors::SELECTORS.iter().any(|s| hex(s) == hash)
                }
                _ => {
                    seen[2] += 1;
                    IFineTuningServingEvents::SELECTORS.iter().any(|s| hex(s) == hash)
                }
            };
            assert!(found, "{kind} {name} ({hash}) differs from the SDK's");
        }
        assert_eq!(seen, [38, 28, 15]);
        assert_eq!(IFineTuningServingCalls::SELECTORS.len(), 38);
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn penalty_share_rounds_down() {
        let fee = U256::from(1_000_000_000_000_000_001u128);
        assert_eq!(settled_fee(fee, true, U256::from(30)), fee);
        assert_eq!(
            settled_fee(fee, false, U256::from(30)),
            U256::from(300_000_000_000_000_000u128)
        );
        assert_eq!(settled_fee(fee, false, U256::ZERO), U256::ZERO);
    }
}
