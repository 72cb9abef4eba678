//! System contracts: 0G's Flow and storage market ([`flow`]), 0G's compute
//! LedgerManager ([`ledger`]), InferenceServing ([`serving`]) and FineTuningServing
//! ([`fine_tuning`]), which share their sub-accounts ([`accounts`]), and 0G DA's DASigners,
//! DARegistry and DAEntrance ([`da`]), and zg's service registry ([`registry`]), as Rust code the
//! executor runs at fixed addresses. They are stateful precompiles: each call reads and
//! writes the contract's own storage, emits logs and moves value through revm's journal,
//! so a revert undoes everything, as for Solidity code. Their ABIs are 0G's (see `abi`
//! and `compute`), so 0G's SDKs, ethers, web3.py and alloy call them unchanged. Each
//! module documents its storage layout.

mod accounts;
mod da;
mod fine_tuning;
mod flow;
mod ledger;
mod registry;
mod serving;

use alloy_primitives::{Address, Bytes, Log, LogData, U256, keccak256};
use alloy_sol_types::{SolError, SolValue};
use revm::context::{Block, Cfg, Transaction};
use revm::context_interface::{ContextTr, JournalTr};
use revm::handler::{EthPrecompiles, PrecompileProvider};
use revm::interpreter::{CallInputs, Gas, InstructionResult, InterpreterResult};
use revm::primitives::AddressSet;
use revm::primitives::hardfork::SpecId;

pub use da::row_member;
pub use flow::valid_nodes;
pub use zg_contracts::abi::{self, IFlow, IMarket};
pub use zg_contracts::compute::{
    self, DEFAULT_LOCK_TIME_SECS, FINE_TUNING_ADDRESS, IInferenceServing, ILedgerManager, INFERENCE_ADDRESS,
    LEDGER_ADDRESS,
};
pub use zg_contracts::da::{self as da_abi, DA_ENTRANCE_ADDRESS, DA_REGISTRY_ADDRESS, DA_SIGNERS_ADDRESS};
pub use zg_contracts::registry::{self as registry_abi, REGISTRY_ADDRESS};
pub use zg_contracts::{DEFAULT_PRICE_PER_SECTOR, FLOW_ADDRESS, MARKET_ADDRESS, SYSTEM_CODE};

/// What a chain's system contracts start with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemConfig {
    /// Wei per 256-byte sector a submission pays.
    pub price_per_sector: U256,
    /// Seconds a compute sub-account's refund stays locked before `retrieveFund` pays it.
    pub refund_lock_secs: u64,
    /// The compute contracts' owner (acknowledges providers' signers as 0G's owner
    /// does); the zero address means none.
    pub compute_owner: Address,
    /// Wei DAEntrance charges per blob root (0G starts at 0).
    pub da_blob_price: U256,
}

impl Default for SystemConfig {
    fn default() -> Self {
        Self {
            price_per_sector: U256::from(DEFAULT_PRICE_PER_SECTOR),
            refund_lock_secs: DEFAULT_LOCK_TIME_SECS,
            compute_owner: Address::ZERO,
            da_blob_price: U256::ZERO,
        }
    }
}

/// A system contract's account at genesis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenesisAccount {
    /// Where it lives.
    pub address: Address,
    /// Its code ([`SYSTEM_CODE`]).
    pub code: Bytes,
    /// Its storage, as (slot, value).
    pub storage: Vec<(U256, U256)>,
}

/// The genesis accounts of the system contracts.
pub fn genesis_accounts(config: &SystemConfig) -> Vec<GenesisAccount> {
    let code = Bytes::from_static(&SYSTEM_CODE);
    let account = |address, storage| GenesisAccount {
        address,
        code: code.clone(),
        storage,
    };
    vec![
        account(FLOW_ADDRESS, Vec::new()),
        account(
            MARKET_ADDRESS,
            vec![(flow::MARKET_PRICE, config.price_per_sector)],
        ),
        account(LEDGER_ADDRESS, ledger::genesis_storage(config)),
        account(INFERENCE_ADDRESS, serving::genesis_storage(config)),
        account(DA_SIGNERS_ADDRESS, Vec::new()),
        account(DA_REGISTRY_ADDRESS, Vec::new()),
        account(DA_ENTRANCE_ADDRESS, da::entrance_genesis(config)),
        account(REGISTRY_ADDRESS, Vec::new()),
        account(FINE_TUNING_ADDRESS, fine_tuning::genesis_storage(config)),
    ]
}

/// The addresses that hold system contracts on a chain that has them.
pub const SYSTEM_ADDRESSES: [Address; 9] = [
    FLOW_ADDRESS,
    MARKET_ADDRESS,
    LEDGER_ADDRESS,
    INFERENCE_ADDRESS,
    DA_SIGNERS_ADDRESS,
    DA_REGISTRY_ADDRESS,
    DA_ENTRANCE_ADDRESS,
    REGISTRY_ADDRESS,
    FINE_TUNING_ADDRESS,
];

/// The nonce a genesis account must start at so that none of its own contract
/// deployments lands on a system contract: Hardhat's dev account 0 starts at 13, past 0G's deployments at nonces
/// 2, 6 and 12, so that its deploys never collide with the compute contracts.
pub fn first_free_nonce(deployer: Address) -> u64 {
    const SEARCHED: u64 = 64;
    (0..SEARCHED)
        .filter(|nonce| {
            let created = deployer.create(*nonce);
            SYSTEM_ADDRESSES.contains(&created)
        })
        .map(|nonce| nonce + 1)
        .max()
        .unwrap_or(0)
}

/// The longest string or bytes a system contract stores (every write is bounded far
/// below; a longer stored length means corrupt state).
const MAX_STORED_BYTES: usize = 1 << 20;
/// Gas a view costs (a cold storage read).
const VIEW_GAS: u64 = 2_600;
/// Gas of one storage read by the compute contracts (revm's warm-ish blend).
const READ_GAS: u64 = 800;
/// Gas of one storage write by the compute contracts.
const WRITE_GAS: u64 = 5_000;
/// Gas of a log, and per byte of its data.
const LOG_GAS: u64 = 1_500;
const LOG_BYTE_GAS: u64 = 8;
/// Gas of a value transfer out of a system contract.
const TRANSFER_GAS: u64 = 9_000;
/// Gas of recovering a signer (the ecrecover precompile's price).
const RECOVER_GAS: u64 = 3_000;

/// Ethereum's precompiles plus zg's system contracts.
#[derive(Debug, Clone)]
pub struct SystemPrecompiles {
    eth: EthPrecompiles,
}

impl SystemPrecompiles {
    /// Ethereum's precompiles of `spec`, and the system contracts.
    pub fn new(spec: SpecId) -> Self {
        Self {
            eth: EthPrecompiles::new(spec),
        }
    }
}

impl<CTX: ContextTr> PrecompileProvider<CTX> for SystemPrecompiles {
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: <CTX::Cfg as Cfg>::Spec) -> bool {
        <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.eth, spec)
    }

    fn run(&mut self, context: &mut CTX, inputs: &CallInputs) -> Result<Option<InterpreterResult>, String> {
        let contract = inputs.bytecode_address;
        if !SYSTEM_ADDRESSES.contains(&contract) {
            return self.eth.run(context, inputs);
        }
        let input = inputs.input.as_bytes(context).to_vec();
        let timestamp = context.block().timestamp();
        let block_number = context.block().number();
        let origin = context.tx().caller();
        let chain_id = context.cfg().chain_id();
        let mut call = SystemCall {
            journal: context.journal_mut(),
            inputs,
            gas: Gas::new(inputs.gas_limit),
            timestamp,
            block_number,
            origin,
            chain_id,
        };
        let outcome = match contract {
            FLOW_ADDRESS => call.flow(&input),
            MARKET_ADDRESS => call.market(&input),
            LEDGER_ADDRESS => call.ledger(&input),
            INFERENCE_ADDRESS => call.serving(&input),
            DA_SIGNERS_ADDRESS => call.da_signers(&input),
            DA_REGISTRY_ADDRESS => call.da_registry(&input),
            DA_ENTRANCE_ADDRESS => call.da_entrance(&input),
            FINE_TUNING_ADDRESS => call.fine_tuning(&input),
            _ => call.registry(&input),
        };
        call.finish(outcome).map(Some)
    }

    fn warm_addresses(&self) -> &AddressSet {
        self.eth.warm_addresses()
    }
}

/// A slot derived from a tag and keys (each padded to a 32-byte word), as Solidity
/// derives mapping slots: distinct (tag, keys) never meet.
fn slot_of(tag: u8, keys: &[U256]) -> U256 {
    let mut preimage = Vec::with_capacity(32 * (keys.len() + 1));
    preimage.extend_from_slice(&U256::from(tag).to_be_bytes::<32>());
    for key in keys {
        preimage.extend_from_slice(&key.to_be_bytes::<32>());
    }
    U256::from_be_bytes(keccak256(&preimage).0)
}

/// A field `offset` words past a record's base slot.
fn field(base: U256, offset: u64) -> U256 {
    base.wrapping_add(U256::from(offset))
}

/// A stored count or position (always small: bounded by the list it counts).
fn small(value: U256) -> Result<u64, Stop> {
    u64::try_from(value).map_err(|_| Stop::Fatal("a stored count is corrupt".into()))
}

/// The `(offset, limit)` page of `total` entries a paginated view returns, at most `max`.
fn page(offset: U256, limit: U256, total: u64, max: usize) -> std::ops::Range<u64> {
    let start = u64::try_from(offset).unwrap_or(u64::MAX).min(total);
    let limit = u64::try_from(limit).unwrap_or(u64::MAX).min(max as u64);
    start..start.saturating_add(limit).min(total)
}

/// A call's 4-byte selector; calldata shorter than one reverts, as Solidity's does.
fn selector(input: &[u8]) -> Result<[u8; 4], Stop> {
    input
        .get(..4)
        .and_then(|s| s.try_into().ok())
        .ok_or(Stop::Revert(Bytes::new()))
}

/// An address as a storage word or key.
fn word(address: Address) -> U256 {
    U256::from_be_slice(address.as_slice())
}

/// The address a storage word holds.
fn address_of(word: U256) -> Address {
    Address::from_word(word.to_be_bytes::<32>().into())
}

/// A list of members (words) in a system contract's storage in which each member
/// knows its place: the count at `count`, entry `i` at `slot_of(tag, keys ++ [i])`,
/// and a member's position + 1 (0: not listed) at `field(slot_of(record, [member]),
/// position)`, its record's field. Removing a member moves the last entry into its
/// place, so the list stays dense without shifting.
struct IndexedList {
    contract: Address,
    count: U256,
    tag: u8,
    keys: Vec<U256>,
    record: u8,
    position: u64,
}

impl IndexedList {
    fn entry(&self, i: u64) -> U256 {
        let mut keys = self.keys.clone();
        keys.push(U256::from(i));
        slot_of(self.tag, &keys)
    }

    fn position_of(&self, member: U256) -> U256 {
        field(slot_of(self.record, &[member]), self.position)
    }
}

/// Why a system call did not return normally.
enum Stop {
    /// Revert with these bytes (an ABI error, as Solidity reverts).
    Revert(Bytes),
    /// Out of gas.
    OutOfGas,
    /// The state could not be read: execution cannot go on.
    Fatal(String),
}

fn revert<E: SolError>(error: &E) -> Stop {
    Stop::Revert(error.abi_encode().into())
}

/// One call into a system contract.
struct SystemCall<'a, J> {
    journal: &'a mut J,
    inputs: &'a CallInputs,
    gas: Gas,
    /// The block's timestamp (seconds).
    timestamp: U256,
    /// The block's number.
    block_number: U256,
    /// The transaction's sender (Solidity's `tx.origin`).
    origin: Address,
    /// The chain's EIP-155 id (EIP-712 domains carry it).
    chain_id: u64,
}

impl<J: JournalTr> SystemCall<'_, J> {
    fn charge(&mut self, cost: u64) -> Result<(), Stop> {
        if self.gas.record_regular_cost(cost) {
            Ok(())
        } else {
            Err(Stop::OutOfGas)
        }
    }

    /// Loads `address` into the journal: storage is read and written only through a loaded account.
    fn load(&mut self, address: Address) -> Result<(), Stop> {
        self.journal
            .load_account(address)
            .map(|_| ())
            .map_err(|e| Stop::Fatal(format!("loading a system contract: {e:?}")))
    }

    fn sload(&mut self, address: Address, key: U256) -> Result<U256, Stop> {
        self.load(address)?;
        self.journal
            .sload(address, key)
            .map(|v| v.data)
            .map_err(|e| Stop::Fatal(format!("reading system contract storage: {e:?}")))
    }

    fn sstore(&mut self, address: Address, key: U256, value: U256) -> Result<(), Stop> {
        self.load(address)?;
        self.journal
            .sstore(address, key, value)
            .map(|_| ())
            .map_err(|e| Stop::Fatal(format!("writing system contract storage: {e:?}")))
    }

    /// A view: no value, any caller, cheap.
    fn view(&mut self, output: &impl SolValue) -> Result<Bytes, Stop> {
        self.view_bytes(output.abi_encode())
    }

    /// A view whose answer is already encoded (several return values).
    fn view_bytes(&mut self, output: Vec<u8>) -> Result<Bytes, Stop> {
        if !self.inputs.value.get().is_zero() {
            return Err(Stop::Revert(Bytes::new()));
        }
        self.charge(VIEW_GAS)?;
        Ok(output.into())
    }

    /// A metered storage read (the compute contracts pay per slot).
    fn read(&mut self, address: Address, key: U256) -> Result<U256, Stop> {
        self.charge(READ_GAS)?;
        self.sload(address, key)
    }

    /// A metered storage write.
    fn write(&mut self, address: Address, key: U256, value: U256) -> Result<(), Stop> {
        self.charge(WRITE_GAS)?;
        self.sstore(address, key, value)
    }

    /// Appends `member` to `list`.
    fn list_push(&mut self, list: &IndexedList, member: U256) -> Result<(), Stop> {
        let c = list.contract;
        let count = small(self.read(c, list.count)?)?;
        self.write(c, list.entry(count), member)?;
        self.write(c, list.count, U256::from(count + 1))?;
        self.write(c, list.position_of(member), U256::from(count + 1))
    }

    /// Removes `member` from `list`, moving the last entry into its place.
    fn list_remove(&mut self, list: &IndexedList, member: U256) -> Result<(), Stop> {
        let c = list.contract;
        let position = small(self.read(c, list.position_of(member))?)?;
        let count = small(self.read(c, list.count)?)?;
        if position == 0 || count == 0 {
            return Err(Stop::Fatal("a listed member is missing from its list".into()));
        }
        let last = count - 1;
        if position - 1 != last {
            let moved = self.read(c, list.entry(last))?;
            self.write(c, list.entry(position - 1), moved)?;
            self.write(c, list.position_of(moved), U256::from(position))?;
        }
        self.write(c, list.entry(last), U256::ZERO)?;
        self.write(c, list.count, U256::from(last))?;
        self.write(c, list.position_of(member), U256::ZERO)
    }

    /// Bytes kept at `slot`: their length there, the bytes in the words from
    /// keccak256(slot) on (Solidity's layout for long strings and bytes).
    fn read_bytes(&mut self, address: Address, slot: U256) -> Result<Vec<u8>, Stop> {
        let len = self.read(address, slot)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|len| *len <= MAX_STORED_BYTES)
            .ok_or_else(|| Stop::Fatal("a stored length is corrupt".into()))?;
        let data = U256::from_be_bytes(keccak256(slot.to_be_bytes::<32>()).0);
        let mut bytes = Vec::with_capacity(len.div_ceil(32) * 32);
        for i in 0..len.div_ceil(32) {
            let chunk = self.read(address, data.wrapping_add(U256::from(i)))?;
            bytes.extend_from_slice(&chunk.to_be_bytes::<32>());
        }
        bytes.truncate(len);
        Ok(bytes)
    }

    /// A string kept at `slot` (see [`Self::read_bytes`]).
    fn read_string(&mut self, address: Address, slot: U256) -> Result<String, Stop> {
        let bytes = self.read_bytes(address, slot)?;
        String::from_utf8(bytes).map_err(|_| Stop::Fatal("a stored string is not UTF-8".into()))
    }

    /// Stores `bytes` at `slot` (see [`Self::read_bytes`]), clearing words a longer
    /// value left behind.
    fn write_bytes(&mut self, address: Address, slot: U256, bytes: &[u8]) -> Result<(), Stop> {
        let old = self.read(address, slot)?;
        let old_words = usize::try_from(old).unwrap_or(0).div_ceil(32);
        let data = U256::from_be_bytes(keccak256(slot.to_be_bytes::<32>()).0);
        for (i, chunk) in bytes.chunks(32).enumerate() {
            let mut word = [0u8; 32];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write(
                address,
                data.wrapping_add(U256::from(i)),
                U256::from_be_bytes(word),
            )?;
        }
        for i in bytes.len().div_ceil(32)..old_words {
            self.write(address, data.wrapping_add(U256::from(i)), U256::ZERO)?;
        }
        if old != U256::from(bytes.len()) {
            self.write(address, slot, U256::from(bytes.len()))?;
        }
        Ok(())
    }

    /// Stores `text` at `slot`.
    fn write_string(&mut self, address: Address, slot: U256, text: &str) -> Result<(), Stop> {
        self.write_bytes(address, slot, text.as_bytes())
    }

    /// Emits an event from `address`.
    fn emit(&mut self, address: Address, data: LogData) -> Result<(), Stop> {
        self.charge(LOG_GAS + LOG_BYTE_GAS * data.data.len() as u64)?;
        self.journal.log(Log { address, data });
        Ok(())
    }

    /// Moves `value` wei from a system contract's account to `to`.
    fn send(&mut self, from: Address, to: Address, value: U256) -> Result<(), Stop> {
        if value.is_zero() {
            return Ok(());
        }
        self.charge(TRANSFER_GAS)?;
        self.load(to)?;
        match self.journal.transfer(from, to, value) {
            Ok(None) => Ok(()),
            Ok(Some(e)) => Err(Stop::Fatal(format!("a system contract's transfer failed: {e:?}"))),
            Err(e) => Err(Stop::Fatal(format!("a system contract's transfer failed: {e:?}"))),
        }
    }

    /// Refuses a state-changing call made statically or by delegatecall (neither can
    /// write `contract`'s own state) and, unless `payable`, one that carries value.
    fn mutating(&self, contract: Address, payable: bool) -> Result<U256, Stop> {
        let value = self.inputs.value.get();
        if self.inputs.is_static || self.inputs.target_address != contract || (!payable && !value.is_zero()) {
            return Err(Stop::Revert(Bytes::new()));
        }
        Ok(value)
    }

    fn finish(self, outcome: Result<Bytes, Stop>) -> Result<InterpreterResult, String> {
        let mut gas = self.gas;
        Ok(match outcome {
            Ok(output) => InterpreterResult::new(InstructionResult::Return, output, gas),
            Err(Stop::Revert(output)) => InterpreterResult::new(InstructionResult::Revert, output, gas),
            Err(Stop::OutOfGas) => {
                gas.spend_all();
                InterpreterResult::new(InstructionResult::PrecompileOOG, Bytes::new(), gas)
            }
            Err(Stop::Fatal(e)) => return Err(e),
        })
    }
}
