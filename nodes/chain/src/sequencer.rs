//! The single sequencer: transactions queue up, are ordered by sender and nonce, and
//! go into blocks (at once, or every block interval) that are durable in the block log
//! before anyone is told they exist.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy_consensus::transaction::Recovered;
use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_primitives::{Address, B256};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tokio::sync::oneshot;
use zg_evm::{Chain, TxError};

/// Most transactions the sequencer takes into one block at a time.
const MAX_BATCH_TXS: usize = 4096;

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// A transaction on its way to the sequencer, with where to report its fate.
pub(crate) struct Submission {
    pub(crate) tx: Recovered<TxEnvelope>,
    pub(crate) reply: Option<oneshot::Sender<Result<(), TxError>>>,
    // Its bytes as sent, and whether a validator passes them on to the others.
    pub(crate) raw: alloy_primitives::Bytes,
    pub(crate) relay: bool,
}

/// Most transactions a node holds unexecuted (its memory stays bounded).
pub const MAX_QUEUED_TXS: usize = 65_536;
/// How far past an account's nonce a transaction's nonce may be (and so most
/// transactions one sender can have waiting).
pub const MAX_NONCE_AHEAD: u64 = 4_096;

/// Why a transaction was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum QueueError {
    /// The same sender and nonce is already waiting.
    Duplicate,
    /// The node holds [`MAX_QUEUED_TXS`] already.
    Full,
}

/// Nonces handed to the sequencer or the pool and not yet executed, per sender.
#[derive(Default)]
pub(crate) struct Queued {
    by_sender: HashMap<Address, BTreeSet<u64>>,
    count: usize,
}

impl Queued {
    pub(crate) fn insert(&mut self, sender: Address, nonce: u64) -> Result<(), QueueError> {
        if self.count >= MAX_QUEUED_TXS {
            return Err(QueueError::Full);
        }
        if !self.by_sender.entry(sender).or_default().insert(nonce) {
            return Err(QueueError::Duplicate);
        }
        self.count += 1;
        Ok(())
    }

    fn remove(&mut self, sender: &Address, nonce: u64) {
        if let Some(set) = self.by_sender.get_mut(sender) {
            if set.remove(&nonce) {
                self.count -= 1;
            }
            if set.is_empty() {
                self.by_sender.remove(sender);
            }
        }
    }

    fn get(&self, sender: &Address) -> Option<&BTreeSet<u64>> {
        self.by_sender.get(sender)
    }
}

/// What the RPC handlers and the sequencer share.
pub(crate) struct Shared {
    pub(crate) chain: RwLock<Chain>,
    pub(crate) queued: Mutex<Queued>,
    pub(crate) submit: Sender<Submission>,
    pub(crate) instant: bool,
    pub(crate) gas_limit: u64,
}

impl Shared {
    pub(crate) fn chain(&self) -> std::sync::RwLockReadGuard<'_, Chain> {
        self.chain
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    // The next nonce of `address` counting queued transactions.
    pub(crate) fn pending_nonce(&self, address: &Address) -> u64 {
        let mut nonce = self.chain().state().account(address).map_or(0, |a| a.nonce);
        if let Some(queued) = self
            .queued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(address)
        {
            while queued.contains(&nonce) {
                nonce += 1;
            }
        }
        nonce
    }

    pub(crate) fn unqueue(&self, txs: &[(Address, u64)]) {
        let mut queued = self
            .queued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (sender, nonce) in txs {
            queued.remove(sender, *nonce);
        }
    }
}

pub(crate) fn sequence(
    shared: &Shared,
    receiver: &Receiver<Submission>,
    block_time: Option<Duration>,
    stop: &AtomicBool,
) {
    let mut next_tick = block_time.map(|t| Instant::now() + t);
    loop {
        let mut batch = Vec::new();
        let stopping = loop {
            let wait = match next_tick {
                Some(tick) => tick.saturating_duration_since(Instant::now()),
                None if batch.is_empty() => Duration::from_millis(50),
                None => Duration::ZERO,
            };
            match receiver.recv_timeout(wait) {
                Ok(submission) => {
                    batch.push(submission);
                    batch.extend(
                        receiver
                            .try_iter()
                            .take(MAX_BATCH_TXS.saturating_sub(batch.len())),
                    );
                    if next_tick.is_none() || batch.len() >= MAX_BATCH_TXS {
                        break false;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if stop.load(Ordering::SeqCst) {
                        break true;
                    }
                    if next_tick.is_some_and(|t| Instant::now() >= t) || !batch.is_empty() {
                        break false;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break true,
            }
        };
        if let (Some(tick), Some(period)) = (next_tick.as_mut(), block_time)
            && Instant::now() >= *tick
        {
            *tick += period;
        }
        if !batch.is_empty() || (block_time.is_some() && !stopping) {
            produce(shared, batch);
        }
        if stopping {
            // Whatever arrived while stopping was acknowledged: it goes into a last block.
            let rest: Vec<Submission> = receiver.try_iter().collect();
            if !rest.is_empty() {
                produce(shared, rest);
            }
            return;
        }
    }
}

// Puts each sender's transactions in nonce order (senders keep their arrival order), so
// that nonces sent over concurrent connections need not arrive in order.
fn order_by_nonce(batch: Vec<Submission>) -> Vec<Submission> {
    let mut senders: Vec<Address> = Vec::new();
    let mut by_sender: HashMap<Address, Vec<Submission>> = HashMap::new();
    for submission in batch {
        let sender = submission.tx.signer();
        by_sender.entry(sender).or_insert_with(|| {
            senders.push(sender);
            Vec::new()
        });
        by_sender.get_mut(&sender).expect("inserted").push(submission);
    }
    senders
        .into_iter()
        .flat_map(|sender| {
            let mut txs = by_sender.remove(&sender).unwrap_or_default();
            txs.sort_by_key(|s| s.tx.inner().nonce());
            txs
        })
        .collect()
}

fn produce(shared: &Shared, batch: Vec<Submission>) {
    let batch = order_by_nonce(batch);
    let mut replies: HashMap<B256, oneshot::Sender<Result<(), TxError>>> = HashMap::new();
    let mut done: Vec<(Address, u64)> = Vec::with_capacity(batch.len());
    let mut txs = Vec::with_capacity(batch.len());
    for submission in batch {
        if let Some(reply) = submission.reply {
            replies.insert(*submission.tx.inner().tx_hash(), reply);
        }
        done.push((submission.tx.signer(), submission.tx.inner().nonce()));
        txs.push(submission.tx);
    }
    let mut first = true;
    while first || !txs.is_empty() {
        first = false;
        let result = {
            let mut chain = shared
                .chain
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            chain.produce_block(std::mem::take(&mut txs), now_secs())
        };
        match result {
            Ok(produced) => {
                tracing::debug!(
                    number = produced.number,
                    txs = produced.included.len(),
                    rejected = produced.rejected.len(),
                    "block produced"
                );
                for (hash, _) in produced.included {
                    if let Some(reply) = replies.remove(&hash) {
                        let _ = reply.send(Ok(()));
                    }
                }
                for (tx, error) in produced.rejected {
                    tracing::debug!(hash = %tx.inner().tx_hash(), %error, "transaction rejected");
                    if let Some(reply) = replies.remove(tx.inner().tx_hash()) {
                        let _ = reply.send(Err(error));
                    }
                }
                txs = produced.deferred;
            }
            Err(error) => {
                tracing::error!(%error, "producing a block failed; the node refuses transactions until restarted");
                for (_, reply) in replies.drain() {
                    let _ = reply.send(Err(TxError::Invalid(format!("block production failed: {error}"))));
                }
                break;
            }
        }
    }
    shared.unqueue(&done);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_is_bounded_and_counts_what_leaves() {
        let mut queued = Queued::default();
        let sender = |i: usize| Address::with_last_byte((i % 251) as u8);
        for i in 0..MAX_QUEUED_TXS {
            queued.insert(sender(i), i as u64).unwrap();
        }
        assert_eq!(queued.insert(Address::ZERO, u64::MAX), Err(QueueError::Full));
        // Removing something absent frees nothing; removing one frees one slot.
        queued.remove(&sender(0), 1);
        assert_eq!(queued.insert(Address::ZERO, u64::MAX), Err(QueueError::Full));
        queued.remove(&sender(0), 0);
        assert_eq!(queued.insert(sender(0), 0), Ok(()));
        assert_eq!(queued.insert(sender(0), 0), Err(QueueError::Full));
        queued.remove(&sender(7), 7);
        assert_eq!(queued.insert(sender(0), 0), Err(QueueError::Duplicate));
        assert!(queued.get(&sender(7)).is_some_and(|s| !s.contains(&7)));
    }
}
