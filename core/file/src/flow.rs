//! A paid submission of 0G's Flow as a storage node keeps it: its tx seq, file root,
//! size, flow position and submission nodes, in zg's binary codec.

use zg_codec::{CodecError, Reader, Writer};
use zg_merkle::Hash;
use zg_merkle::keccak_tree::{SubmissionNode, root_of_submission};

/// At most this many nodes in a submission (0G's Flow allows four).
const MAX_NODES: usize = 4;

/// One paid submission, as the Flow logged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowEntry {
    /// Its tx sequence number (`submissionIndex`).
    pub seq: u64,
    /// The file's root, from its submission nodes.
    pub root: Hash,
    /// The file's size in bytes.
    pub size: u64,
    /// Its first position in the flow, in sectors.
    pub start: u64,
    /// Its submission nodes, largest first.
    pub nodes: Vec<SubmissionNode>,
    /// The block that logged it.
    pub block: u64,
}

impl FlowEntry {
    /// An entry from a `Submit` log's fields; `None` when its nodes cannot be a file's.
    pub fn new(seq: u64, size: u64, start: u64, nodes: Vec<SubmissionNode>, block: u64) -> Option<Self> {
        if nodes.is_empty() || nodes.len() > MAX_NODES {
            return None;
        }
        Some(Self {
            seq,
            root: root_of_submission(&nodes)?,
            size,
            start,
            nodes,
            block,
        })
    }

    /// The entry's stored bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(64 + 40 * self.nodes.len());
        w.u64(self.seq)
            .bytes(&self.root)
            .u64(self.size)
            .u64(self.start)
            .u64(self.block)
            .tag(self.nodes.len() as u8);
        for n in &self.nodes {
            w.bytes(&n.root).u32(n.height);
        }
        w.into_bytes()
    }

    /// Parses stored bytes (a typed error for anything else).
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new("flow entry", bytes);
        let seq = r.u64()?;
        let root = r.array()?;
        let (size, start, block) = (r.u64()?, r.u64()?, r.u64()?);
        let count = r.count(|r| r.u8().map(u64::from), MAX_NODES as u64, 36)?;
        let mut nodes = Vec::with_capacity(count);
        for _ in 0..count {
            nodes.push(SubmissionNode {
                root: r.array()?,
                height: r.u32()?,
            });
        }
        r.finish()?;
        Ok(Self {
            seq,
            root,
            size,
            start,
            nodes,
            block,
        })
    }
}
