//! 0G's node API over the followed Flow: files by tx seq, segments in 0G's shape, and
//! uploads gated on a paid submission.

use zg_merkle::keccak_tree::KeccakProof;

use super::*;
use crate::api::{FlowSegment, FlowTx};
use crate::flow::FlowEntry;

/// Bytes of 0G's chunk (a sector).
const CHUNK: u64 = 256;
/// Most chunks one `zgs_downloadSegmentByTxSeq` returns (one segment's worth).
const MAX_DOWNLOAD_CHUNKS: u64 = 1024;

impl StorageService {
    /// Whether this node follows a chain's Flow.
    pub(crate) fn following(&self) -> bool {
        self.cfg.chain.is_some()
    }

    /// 0G's `tx` for a paid submission.
    pub(crate) fn flow_tx(e: &FlowEntry) -> FlowTx {
        FlowTx {
            stream_ids: Vec::new(),
            data: Vec::new(),
            data_merkle_root: Root::from(e.root),
            merkle_nodes: e.nodes.iter().map(|n| (n.height, Root::from(n.root))).collect(),
            start_entry_index: e.start,
            size: e.size,
            seq: e.seq,
        }
    }

    /// The first flow segment of a paid submission (its start in sectors, 0G's chunks).
    pub(crate) fn flow_position(e: &FlowEntry) -> u64 {
        e.start / (SEGMENT_SIZE as u64 / CHUNK)
    }

    /// The paid submission of `root` this node follows, if any.
    pub(crate) fn submission_of(&self, root: &Hash) -> Option<FlowEntry> {
        self.flow_log().by_root(root).cloned()
    }

    /// The paid submission with tx seq `seq`, if followed yet.
    pub(crate) fn submission_by_seq(&self, seq: u64) -> Option<FlowEntry> {
        self.flow_log().by_seq(seq).cloned()
    }

    /// Refuses a Keccak-rooted upload that no followed submission paid for (BLAKE3
    /// files, off-chain, are never gated).
    pub(crate) fn check_paid(&self, root: &Hash, size: u64, kind: RootKind) -> StorageResult<()> {
        if !self.following() || kind != RootKind::Keccak {
            return Ok(());
        }
        match self.submission_of(root) {
            Some(e) if e.size == size => Ok(()),
            Some(e) => Err(StorageError::InvalidParams(format!(
                "file {} was paid for as {} bytes (tx seq {}), not {size}",
                Root::from(*root),
                e.size,
                e.seq
            ))),
            None => Err(StorageError::NotPaid(format!(
                "file {} was never paid for on the Flow (no Submit log up to block {}); submit it first",
                Root::from(*root),
                self.flow_log().next_block().saturating_sub(1)
            ))),
        }
    }

    /// What the node knows of the submission with tx seq `seq`.
    pub(crate) fn info_by_seq(&self, seq: u64) -> StorageResult<Option<FileInfo>> {
        match self.submission_by_seq(seq) {
            Some(e) => self.info(&e.root),
            None => Ok(None),
        }
    }

    /// Stores segments of submission `seq` sent in 0G's shape; returns how many.
    pub(crate) fn upload_by_seq(&self, segs: Vec<FlowSegment>, seq: u64) -> StorageResult<u64> {
        self.check_request_size(segs.len())?;
        let entry = self.submission_by_seq(seq).ok_or_else(|| {
            StorageError::NotFound(format!("no submission with tx seq {seq} on the Flow yet"))
        })?;
        if self.held(&entry.root)?.is_some() {
            return Err(StorageError::AlreadyFinalized);
        }
        let count = segs.len() as u64;
        let mut incoming = Vec::with_capacity(segs.len());
        for s in segs {
            if s.root.0 != entry.root || s.file_size != entry.size {
                return Err(StorageError::InvalidParams(format!(
                    "segment {} names file {} of {} bytes; tx seq {seq} is file {} of {} bytes",
                    s.index,
                    s.root,
                    s.file_size,
                    Root::from(entry.root),
                    entry.size
                )));
            }
            let expected = self.expected_len(s.file_size, s.index)?;
            // The last segment may arrive cut to whole chunks: zero padding past the file.
            let padded = (expected as u64).div_ceil(CHUNK) * CHUNK;
            if s.data.len() as u64 > padded.div_ceil(3) * 4 {
                return Err(StorageError::InvalidParams(format!(
                    "segment {} data longer than {padded} bytes",
                    s.index
                )));
            }
            let mut data = B64.decode(&s.data).map_err(|e| {
                StorageError::InvalidParams(format!("segment {} data is not base64: {e}", s.index))
            })?;
            if data.len() as u64 == padded
                && data.len() > expected
                && data[expected..].iter().all(|b| *b == 0)
            {
                data.truncate(expected);
            }
            let proof =
                KeccakProof::from_parts(s.proof.lemma.iter().map(|h| h.0).collect(), s.proof.path.clone())
                    .map_err(|e| StorageError::InvalidParams(format!("malformed proof: {e}")))?;
            incoming.push(Incoming {
                root: entry.root,
                size: entry.size,
                index: s.index,
                data: Bytes::from(data).into(),
                proof: SegmentProof::Keccak(proof),
            });
        }
        self.store_segments(incoming)?;
        Ok(count)
    }

    /// Chunks `start..end` of the finalized submission `seq`, the last zero-padded to
    /// a whole chunk; `None` when the node does not hold them (not the file, or another
    /// shard's segments).
    pub(crate) fn download_by_seq(&self, seq: u64, start: u64, end: u64) -> StorageResult<Option<Vec<u8>>> {
        if end <= start || end - start > MAX_DOWNLOAD_CHUNKS {
            return Err(StorageError::InvalidParams(format!(
                "chunks {start}..{end}: ask for 1 to {MAX_DOWNLOAD_CHUNKS} chunks"
            )));
        }
        let Some(entry) = self.submission_by_seq(seq) else {
            return Ok(None);
        };
        let Some(held) = self.held(&entry.root)? else {
            return Ok(None);
        };
        let len = entry.size;
        let chunks = len.div_ceil(CHUNK);
        if end > chunks {
            return Err(StorageError::InvalidParams(format!(
                "chunks {start}..{end} run past the {chunks} chunks of a {len}-byte file"
            )));
        }
        let (lo, hi) = (start * CHUNK, end * CHUNK);
        let seg = SEGMENT_SIZE as u64;
        let (first, last) = (lo / seg, (hi.min(len) - 1) / seg);
        let segs = match held {
            Held::Whole(meta) => self.read_segments(&meta, first, last - first + 1)?,
            Held::Shard(m) if (first..=last).all(|i| m.holds(i)) => {
                let indices: Vec<u64> = (first..=last).collect();
                let segs = zg_file::shard::read_shard_segments(&self.store, &m, &indices)?;
                segs.into_iter().map(|(s, _)| s).collect()
            }
            // Another shard holds some of them: the client asks that shard's node.
            Held::Shard(_) => return Ok(None),
        };
        let joined = segs.concat();
        let from = (lo - first * seg) as usize;
        let to = ((hi.min(len)) - first * seg) as usize;
        let mut out = joined[from..to].to_vec();
        out.resize((hi - lo) as usize, 0);
        self.metrics.bytes_out.inc_by(out.len() as u64);
        self.metrics.segments_out.inc_by(segs.len() as u64);
        Ok(Some(out))
    }
}
