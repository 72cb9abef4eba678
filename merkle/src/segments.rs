//! Cutting a byte stream into whole segments for the incremental builders.

use crate::SEGMENT_SIZE;

/// Segments buffered before a batch is hashed (16 MiB).
const BATCH_SEGMENTS: usize = 64;

/// Hands whole segments to a hasher as bytes arrive, in batches, and always
/// keeps the last segment back: it may be partial, and both tree kinds treat
/// the last segment specially. Memory stays at one batch.
#[derive(Debug, Default)]
pub(crate) struct SegmentFeeder {
    pending: Vec<u8>,
}

impl SegmentFeeder {
    /// Takes `data`; `hash` receives runs of whole segments, none of them the last.
    pub(crate) fn update(&mut self, mut data: &[u8], mut hash: impl FnMut(&[u8])) {
        let batch = BATCH_SEGMENTS * SEGMENT_SIZE;
        // Buffered whole segments are not the last once more bytes come: handing them
        // out now lets a large update be hashed from the caller's slice, uncopied.
        if !self.pending.is_empty()
            && self.pending.len().is_multiple_of(SEGMENT_SIZE)
            && data.len() > SEGMENT_SIZE
        {
            hash(&self.pending);
            self.pending.clear();
        }
        // Whole segments straight from the caller's slice, at least one byte kept back.
        if self.pending.is_empty() && data.len() > SEGMENT_SIZE {
            let whole = (data.len() - 1) / SEGMENT_SIZE * SEGMENT_SIZE;
            hash(&data[..whole]);
            data = &data[whole..];
        }
        while !data.is_empty() {
            if self.pending.len() == batch {
                // More bytes follow, so none of the buffered segments is the last.
                hash(&self.pending);
                self.pending.clear();
            }
            let take = data.len().min(batch - self.pending.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
    }

    /// The bytes not handed out yet: whole segments and the last one.
    pub(crate) fn into_pending(self) -> Vec<u8> {
        self.pending
    }
}
