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

/// What the RPC handlers and the sequencer share.
pub(crate) struct Shared {
    pub(crate) chain: RwLock<Chain>,
    // Nonces handed to the sequencer and not yet executed, per sender.
    pub(crate) queued: Mutex<HashMap<Address, BTreeSet<u64>>>,
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
            if let Some(set) = queued.get_mut(sender) {
                set.remove(nonce);
                if set.is_empty() {
                    queued.remove(sender);
                }
            }
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
