//! 0G's Flow (submissions into the log-structured flow) and its storage market.
//!
//! Storage layout: Flow slot 0 the submission count (the next tx seq), 1 the flow length
//! in sectors (0 until the first submit: the flow then starts as 0G's, one identifier
//! sector), `0x100 + h` the flow frontier's node of height `h`; market slot 0 the price
//! per sector (wei, set at genesis), 1 the fees received (wei).

use alloy_primitives::{B256, Bytes, Log, U256, keccak256};
use alloy_sol_types::{SolCall, SolEvent, SolValue};
use revm::context_interface::JournalTr;
use zg_merkle::flow::FlowFrontier;
use zg_merkle::keccak_tree::SubmissionNode;

use super::{FLOW_ADDRESS, IFlow, IMarket, MARKET_ADDRESS, Stop, SystemCall, abi, revert};

const FLOW_COUNT: U256 = U256::ZERO;
const FLOW_LENGTH: U256 = U256::from_limbs([1, 0, 0, 0]);
const FLOW_FRONTIER: u64 = 0x100;
pub(super) const MARKET_PRICE: U256 = U256::ZERO;
const MARKET_FEES: U256 = U256::from_limbs([1, 0, 0, 0]);

/// Gas of a submission before its nodes: count, length and fee writes, the transfer,
/// and the `Submit` log.
const SUBMIT_GAS: u64 = 60_000;
/// Gas per submission node (a frontier write and its hashing).
const NODE_GAS: u64 = 22_000;

impl<J: JournalTr> SystemCall<'_, J> {
    pub(super) fn flow(&mut self, input: &[u8]) -> Result<Bytes, Stop> {
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

    pub(super) fn market(&mut self, input: &[u8]) -> Result<Bytes, Stop> {
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
        let value = self.mutating(FLOW_ADDRESS, true)?;
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
