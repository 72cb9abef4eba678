//! The Flow as this node follows it: every paid submission (tx seq → file root, size,
//! flow position), read from the chain's `Submit` logs and kept in the store, so a
//! restart renumbers nothing.

use std::collections::HashMap;

use zg_codec::{CodecError, Reader, Writer};
pub(crate) use zg_file::flow::FlowEntry;
use zg_merkle::Hash;
use zg_store::{Put, Store, StoreError};

/// Why the followed flow could not be kept.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FlowError {
    /// The chain logged a tx seq out of order: the node follows another chain, or
    /// the chain was reset under it.
    #[error(
        "the Flow logged tx seq {got} where {expected} was next; is --chain the chain this data directory followed?"
    )]
    Gap {
        /// The seq logged.
        got: u64,
        /// The seq expected.
        expected: u64,
    },
    /// A stored entry does not decode.
    #[error("flow entry {seq} in the store is damaged: {error}")]
    Corrupt {
        /// Its tx seq.
        seq: u64,
        /// What is wrong.
        error: CodecError,
    },
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Key of the entries: segment `i` is tx seq `i`.
fn entries_key() -> Hash {
    *blake3::hash(b"zg flow log v1").as_bytes()
}

/// Key of the next block to read.
fn sync_key() -> Hash {
    *blake3::hash(b"zg flow sync v1").as_bytes()
}

/// The flow this node knows, in tx seq order.
#[derive(Default)]
pub(crate) struct FlowLog {
    entries: Vec<FlowEntry>,
    by_root: HashMap<Hash, Vec<u64>>,
    next_block: u64,
}

impl FlowLog {
    /// The log as the store holds it (empty for a node that never followed a chain).
    pub(crate) fn load(store: &Store) -> Result<Self, FlowError> {
        let mut log = Self::default();
        if let Ok(b) = store.get_meta(&sync_key()) {
            log.next_block = Reader::new("flow sync height", &b).u64().unwrap_or(0);
        }
        let key = entries_key();
        for seq in store.segment_indices(&key) {
            let bytes = store.get(&key, seq)?;
            match FlowEntry::decode(&bytes) {
                Ok(e) if e.seq == seq && seq == log.entries.len() as u64 => log.insert(e),
                Ok(e) => {
                    return Err(FlowError::Gap {
                        got: e.seq,
                        expected: log.entries.len() as u64,
                    });
                }
                Err(e) => return Err(FlowError::Corrupt { seq, error: e }),
            }
        }
        Ok(log)
    }

    fn insert(&mut self, e: FlowEntry) {
        self.by_root.entry(e.root).or_default().push(e.seq);
        self.entries.push(e);
    }

    /// Adds the entries read up to block `next_block - 1`, durably and at once.
    pub(crate) fn append(
        &mut self,
        store: &Store,
        entries: Vec<FlowEntry>,
        next_block: u64,
    ) -> Result<(), FlowError> {
        for (expected, e) in (self.next_seq()..).zip(&entries) {
            if e.seq != expected {
                return Err(FlowError::Gap { got: e.seq, expected });
            }
        }
        let key = entries_key();
        let mut puts: Vec<Put> = entries
            .iter()
            .map(|e| Put::segment(key, e.seq, e.encode()))
            .collect();
        let mut w = Writer::with_capacity(8);
        w.u64(next_block);
        puts.push(Put::meta(sync_key(), w.into_bytes()));
        store.put_batch(puts)?;
        entries.into_iter().for_each(|e| self.insert(e));
        self.next_block = next_block;
        Ok(())
    }

    /// The submission with tx seq `seq`.
    pub(crate) fn by_seq(&self, seq: u64) -> Option<&FlowEntry> {
        self.entries.get(usize::try_from(seq).ok()?)
    }

    /// The first submission of `root`.
    pub(crate) fn by_root(&self, root: &Hash) -> Option<&FlowEntry> {
        self.by_root.get(root).and_then(|s| self.by_seq(s[0]))
    }

    /// The tx seq the next submission gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The next block to read logs from.
    pub(crate) fn next_block(&self) -> u64 {
        self.next_block
    }
}
