//! System contracts: 0G's Flow and storage market as Rust code the executor runs at
//! fixed addresses. They are stateful precompiles: each call reads and writes the
//! contract's own storage, emits logs and moves value through revm's journal, so a
//! revert undoes everything, as for Solidity code. Their ABIs are 0G's (see `abi`),
//! so 0G's SDKs, ethers, web3.py and alloy call them unchanged.
//!
//! Storage layout (slots of each contract's account):
//! - Flow: 0 submission count (the next tx seq), 1 flow length in sectors (0 until the
//!   first submit: the flow then starts as 0G's, one identifier sector), `0x100 + h`
//!   the flow frontier's node of height `h`.
//! - Market: 0 price per sector (wei, set at genesis), 1 fees received (wei).

use alloy_primitives::{Address, B256, Bytes, Log, U256, keccak256};
use alloy_sol_types::{SolCall, SolError, SolEvent, SolValue};
use revm::context::Cfg;
use revm::context_interface::{ContextTr, JournalTr};
use revm::handler::{EthPrecompiles, PrecompileProvider};
use revm::interpreter::{CallInputs, Gas, InstructionResult, InterpreterResult};
use revm::primitives::AddressSet;
use revm::primitives::hardfork::SpecId;
use zg_merkle::flow::FlowFrontier;
use zg_merkle::keccak_tree::SubmissionNode;

pub use zg_contracts::abi::{self, IFlow, IMarket};
pub use zg_contracts::{DEFAULT_PRICE_PER_SECTOR, FLOW_ADDRESS, MARKET_ADDRESS, SYSTEM_CODE};

/// What a chain's system contracts start with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemConfig {
    /// Wei per 256-byte sector a submission pays.
    pub price_per_sector: U256,
}

impl Default for SystemConfig {
    fn default() -> Self {
        Self {
            price_per_sector: U256::from(DEFAULT_PRICE_PER_SECTOR),
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
    vec![
        GenesisAccount {
            address: FLOW_ADDRESS,
            code: code.clone(),
            storage: Vec::new(),
        },
        GenesisAccount {
            address: MARKET_ADDRESS,
            code,
            storage: vec![(MARKET_PRICE, config.price_per_sector)],
        },
    ]
}

const FLOW_COUNT: U256 = U256::ZERO;
const FLOW_LENGTH: U256 = U256::from_limbs([1, 0, 0, 0]);
const FLOW_FRONTIER: u64 = 0x100;
const MARKET_PRICE: U256 = U256::ZERO;
const MARKET_FEES: U256 = U256::from_limbs([1, 0, 0, 0]);

/// Gas a view costs (a cold storage read).
const VIEW_GAS: u64 = 2_600;
/// Gas of a submission before its nodes: count, length and fee writes, the transfer,
/// and the `Submit` log.
const SUBMIT_GAS: u64 = 60_000;
/// Gas per submission node (a frontier write and its hashing).
const NODE_GAS: u64 = 22_000;

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
        match inputs.bytecode_address {
            FLOW_ADDRESS | MARKET_ADDRESS => {
                let input = inputs.input.as_bytes(context).to_vec();
                let mut call = SystemCall {
                    journal: context.journal_mut(),
                    inputs,
                    gas: Gas::new(inputs.gas_limit),
                };
                let outcome = if inputs.bytecode_address == FLOW_ADDRESS {
                    call.flow(&input)
                } else {
                    call.market(&input)
                };
                call.finish(outcome).map(Some)
            }
            _ => self.eth.run(context, inputs),
        }
    }

    fn warm_addresses(&self) -> &AddressSet {
        self.eth.warm_addresses()
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
        if !self.inputs.value.get().is_zero() {
            return Err(Stop::Revert(Bytes::new()));
        }
        self.charge(VIEW_GAS)?;
        Ok(output.abi_encode().into())
    }

    fn flow(&mut self, input: &[u8]) -> Result<Bytes, Stop> {
        let Some(selector) = input.get(..4) else {
            return Err(Stop::Revert(Bytes::new()));
        };
        let selector: [u8; 4] = selector.try_into().unwrap_or_default();
        let bad = |_| Stop::Revert(Bytes::new());
        match selector {
            IFlow::submit_0Call::SELECTOR => {
                let call = IFlow::submit_0Call::abi_decode(input).map_err(bad)?;
                let out = &self.submit_all([&call.submission])?[0];
                Ok(IFlow::submit_0Call::abi_encode_returns(&IFlow::submit_0Return {
                    _0: out.index,
                    _1: out.digest,
                    _2: out.start,
                    _3: out.length,
                })
                .into())
            }
            IFlow::submit_1Call::SELECTOR => {
                let call = IFlow::submit_1Call::abi_decode(input).map_err(bad)?;
                let out = &self.submit_all([&call.params.data])?[0];
                Ok(IFlow::submit_1Call::abi_encode_returns(&IFlow::submit_1Return {
                    index: out.index,
                    digest: out.digest,
                    startIndex: out.start,
                    length: out.length,
                })
                .into())
            }
            IFlow::batchSubmit_0Call::SELECTOR => {
                let call = IFlow::batchSubmit_0Call::abi_decode(input).map_err(bad)?;
                Ok(batch_returns(&self.submit_all(&call.submissions)?))
            }
            IFlow::batchSubmit_1Call::SELECTOR => {
                let call = IFlow::batchSubmit_1Call::abi_decode(input).map_err(bad)?;
                Ok(batch_returns(
                    &self.submit_all(call.submissions.iter().map(|p| &p.data))?,
                ))
            }
            IFlow::marketCall::SELECTOR => self.view(&MARKET_ADDRESS),
            IFlow::numSubmissionsCall::SELECTOR | IFlow::submissionIndexCall::SELECTOR => {
                let count = self.sload(FLOW_ADDRESS, FLOW_COUNT)?;
                self.view(&count)
            }
            IFlow::epochCall::SELECTOR => self.view(&U256::ZERO),
            IFlow::getContextCall::SELECTOR => {
                let flow = self.frontier()?;
                let empty = keccak256([]);
                self.view(&abi::MineContext {
                    epoch: U256::ZERO,
                    mineStart: U256::ZERO,
                    flowRoot: B256::from(flow.root()),
                    flowLength: U256::from(flow.len()),
                    blockDigest: empty,
                    digest: empty,
                })
            }
            _ => Err(Stop::Revert(Bytes::new())),
        }
    }

    fn market(&mut self, input: &[u8]) -> Result<Bytes, Stop> {
        match input.get(..4) {
            Some(s) if s == IMarket::pricePerSectorCall::SELECTOR => {
                let price = self.sload(MARKET_ADDRESS, MARKET_PRICE)?;
                self.view(&price)
            }
            Some(s) if s == IMarket::flowCall::SELECTOR => self.view(&FLOW_ADDRESS),
            _ => Err(Stop::Revert(Bytes::new())),
        }
    }

    /// Submits each in turn (one for `submit`, many for `batchSubmit`), each paid from
    /// what the ones before it left of the value; all of the value goes to the market.
    fn submit_all<'s>(
        &mut self,
        submissions: impl IntoIterator<Item = &'s abi::Submission>,
    ) -> Result<Vec<Submitted>, Stop> {
        let value = self.take_value()?;
        let mut left = value;
        let mut done = Vec::new();
        for submission in submissions {
            let out = self.submit(submission, left)?;
            left -= out.fee;
            done.push(out);
        }
        self.pay_market(value)?;
        Ok(done)
    }

    /// The value sent with a state-changing call; refuses static and delegate calls,
    /// which cannot write the Flow's own state.
    fn take_value(&mut self) -> Result<U256, Stop> {
        if self.inputs.is_static || self.inputs.target_address != FLOW_ADDRESS {
            return Err(Stop::Revert(Bytes::new()));
        }
        Ok(self.inputs.value.get())
    }

    /// The flow frontier as stored (0G's initial flow before the first submission).
    fn frontier(&mut self) -> Result<FlowFrontier, Stop> {
        let length = self.sload(FLOW_ADDRESS, FLOW_LENGTH)?;
        if length.is_zero() {
            return Ok(FlowFrontier::with_identifier([0; 32]));
        }
        let length = u64::try_from(length).map_err(|_| Stop::Fatal("flow length over 2^64".into()))?;
        let mut nodes = [[0u8; 32]; 64];
        for (h, node) in nodes.iter_mut().enumerate() {
            if length >> h & 1 == 1 {
                *node = self
                    .sload(FLOW_ADDRESS, U256::from(FLOW_FRONTIER + h as u64))?
                    .to_be_bytes();
            }
        }
        Ok(FlowFrontier::from_parts(length, nodes))
    }

    /// Appends one submission paid for with up to `paid` wei: checks it as 0G does,
    /// charges `Σ 2^height × price`, places it in the flow and logs `Submit`.
    fn submit(&mut self, submission: &abi::Submission, paid: U256) -> Result<Submitted, Stop> {
        let nodes = valid_nodes(submission).ok_or_else(|| revert(&IFlow::InvalidSubmission {}))?;
        self.charge(SUBMIT_GAS + NODE_GAS * nodes.len() as u64)?;
        let sectors: u64 = nodes.iter().map(|n| 1u64 << n.height).sum();
        let price = self.sload(MARKET_ADDRESS, MARKET_PRICE)?;
        let fee = price.checked_mul(U256::from(sectors));
        if fee.is_none_or(|fee| fee > paid) {
            return Err(revert(&IFlow::NotEnoughFee {
                price,
                amount: U256::from(sectors),
                paid,
            }));
        }
        let fee = fee.unwrap_or_default();
        let mut flow = self.frontier()?;
        let record = flow
            .append_submission(&nodes)
            .map_err(|_| revert(&IFlow::InvalidSubmission {}))?;
        self.sstore(FLOW_ADDRESS, FLOW_LENGTH, U256::from(flow.len()))?;
        for h in 0..64u32 {
            if let Some(node) = flow.node(h) {
                let key = U256::from(FLOW_FRONTIER + u64::from(h));
                self.sstore(FLOW_ADDRESS, key, U256::from_be_bytes(node))?;
            }
        }
        let index = self.sload(FLOW_ADDRESS, FLOW_COUNT)?;
        self.sstore(FLOW_ADDRESS, FLOW_COUNT, index + U256::from(1))?;
        let digest = keccak256((submission.nodes.clone(),).abi_encode_params());
        let event = IFlow::Submit {
            sender: self.inputs.caller,
            identity: digest,
            submissionIndex: index,
            startPos: U256::from(record.start),
            length: U256::from(sectors),
            submission: submission.clone(),
        };
        self.journal.log(Log {
            address: FLOW_ADDRESS,
            data: event.encode_log_data(),
        });
        Ok(Submitted {
            index,
            digest,
            start: U256::from(record.start),
            length: U256::from(sectors),
            fee,
        })
    }

    /// Moves what the Flow received to the market, which holds and counts fees.
    fn pay_market(&mut self, value: U256) -> Result<(), Stop> {
        if value.is_zero() {
            return Ok(());
        }
        match self.journal.transfer(FLOW_ADDRESS, MARKET_ADDRESS, value) {
            Ok(None) => {}
            Ok(Some(e)) => return Err(Stop::Fatal(format!("moving fees to the market: {e:?}"))),
            Err(e) => return Err(Stop::Fatal(format!("moving fees to the market: {e:?}"))),
        }
        let fees = self.sload(MARKET_ADDRESS, MARKET_FEES)?;
        self.sstore(MARKET_ADDRESS, MARKET_FEES, fees.saturating_add(value))
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

/// `batchSubmit`'s return values (both shapes return the same four arrays).
fn batch_returns(done: &[Submitted]) -> Bytes {
    let column = |f: fn(&Submitted) -> U256| done.iter().map(f).collect::<Vec<U256>>();
    let digests: Vec<B256> = done.iter().map(|d| d.digest).collect();
    (
        column(|d| d.index),
        digests,
        column(|d| d.start),
        column(|d| d.length),
    )
        .abi_encode_params()
        .into()
}

/// Where a submission went and what it cost.
struct Submitted {
    index: U256,
    digest: B256,
    start: U256,
    length: U256,
    fee: U256,
}

/// Sectors the 0G contract allows a submission's nodes to be: at most 4 heights, strictly
/// decreasing, below 64, and a byte length that needs the last of them.
const ENTRY_SIZE: u128 = 256;
const MAX_NODES_SPAN: u64 = 4;

/// The submission's nodes if 0G's Flow accepts it (`Submission.valid` in 0G's contracts).
pub fn valid_nodes(submission: &abi::Submission) -> Option<Vec<SubmissionNode>> {
    let first = submission.nodes.first()?;
    let last = submission.nodes.last()?;
    let first_height = u64::try_from(first.height).ok().filter(|&h| h < 64)?;
    let last_height = u64::try_from(last.height).ok()?;
    if first_height.checked_sub(last_height)? >= MAX_NODES_SPAN {
        return None;
    }
    if submission.nodes.windows(2).any(|w| w[1].height >= w[0].height) {
        return None;
    }
    // Heights are distinct and below 64: the capacity fits in u128.
    let capacity: u128 = submission
        .nodes
        .iter()
        .map(|n| 1u128 << n.height.to::<u32>())
        .sum();
    let length = u128::try_from(submission.length).ok()?;
    if length > capacity * ENTRY_SIZE {
        return None;
    }
    let last_capacity = if capacity < 1 << MAX_NODES_SPAN {
        capacity - 1
    } else if submission.nodes.len() == 1 {
        capacity - (capacity >> MAX_NODES_SPAN)
    } else {
        capacity - (1 << (first_height + 1 - MAX_NODES_SPAN))
    };
    if length <= last_capacity * ENTRY_SIZE {
        return None;
    }
    Some(
        submission
            .nodes
            .iter()
            .map(|n| SubmissionNode {
                root: n.root.0,
                height: n.height.to::<u32>(),
            })
            .collect(),
    )
}
