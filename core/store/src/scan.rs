//! Reading data files record by record: recovery on open and `fsck`.

use std::sync::Arc;

use super::backend::DataFile;
use super::record::{ALIGN, HEADER_LEN, RecordHeader, RecordKind, align_up};

/// A range of a data file whose records failed their checks and were skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptRegion {
    /// The data file.
    pub file: String,
    /// First byte of the region.
    pub start: u64,
    /// One past its last byte.
    pub end: u64,
    /// The first check that failed.
    pub reason: String,
}

/// A torn last batch dropped on open: it was never acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The data file.
    pub file: String,
    /// Where the file was truncated.
    pub offset: u64,
    /// Bytes dropped.
    pub dropped_bytes: u64,
    /// Why the batch was incomplete.
    pub reason: String,
}

/// What a scan found.
#[derive(Debug, Default)]
pub(crate) struct ScanOutcome {
    /// Committed records: header and offset.
    pub(crate) records: Vec<(RecordHeader, u64)>,
    /// The end of the last committed batch (where appends go).
    pub(crate) end: u64,
    pub(crate) corrupt: Vec<CorruptRegion>,
    /// Set when the file ends in an uncommitted batch.
    pub(crate) torn: Option<TornTail>,
    pub(crate) bytes_read: u64,
}

/// Reads and checks the record at `pos` (header and payload).
fn read_record(file: &dyn DataFile, pos: u64, len: u64, read: &mut u64) -> Result<RecordHeader, String> {
    if pos + HEADER_LEN as u64 > len {
        return Err("truncated header".into());
    }
    let mut head = [0u8; HEADER_LEN];
    file.read_exact_at(&mut [(pos, &mut head[..])])
        .map_err(|e| format!("read failed: {e}"))?;
    let h = RecordHeader::parse(&head).map_err(|e| e.to_string())?;
    if pos + h.record_len() > len {
        return Err("truncated record".into());
    }
    if h.payload_len > 0 {
        let mut payload = vec![0u8; h.payload_len as usize];
        file.read_exact_at(&mut [(pos + HEADER_LEN as u64, &mut payload[..])])
            .map_err(|e| format!("read failed: {e}"))?;
        if !h.check_payload(&payload) {
            return Err("payload checksum mismatch".into());
        }
    }
    *read += h.record_len();
    Ok(h)
}

/// The first commit record after `bad` that closes a batch starting after
/// `bad`: proof that acknowledged data follows the damage.
fn next_commit_after(file: &dyn DataFile, bad: u64, len: u64) -> Option<u64> {
    const WINDOW: u64 = 1 << 20;
    let mut q = align_up(bad + 1);
    let mut buf = vec![0u8; WINDOW as usize];
    while q + HEADER_LEN as u64 <= len {
        let n = WINDOW.min(len - q) as usize;
        if file.read_exact_at(&mut [(q, &mut buf[..n])]).is_err() {
            return None;
        }
        let mut off = 0usize;
        while off + HEADER_LEN <= n {
            if let Ok(h) = RecordHeader::parse(&buf[off..off + HEADER_LEN]) {
                let at = q + off as u64;
                if h.kind == RecordKind::Commit
                    && h.index > bad
                    && h.index <= at
                    && h.index.is_multiple_of(ALIGN)
                {
                    return Some(h.index);
                }
            }
            off += ALIGN as usize;
        }
        q += n as u64;
        q = align_up(q);
    }
    None
}

/// Scans `file` from `start`: committed batches are returned; damage
/// followed by a later committed batch is skipped and reported; damage with
/// nothing committed after it is a torn tail (never acknowledged).
pub(crate) fn scan(name: &str, file: &Arc<dyn DataFile>, start: u64) -> Result<ScanOutcome, std::io::Error> {
    let len = file.len()?;
    let mut out = ScanOutcome {
        end: start,
        ..ScanOutcome::default()
    };
    let mut pos = start;
    let mut batch_start = start;
    let mut pending: Vec<(RecordHeader, u64)> = Vec::new();
    while pos < len {
        let bad = match read_record(file.as_ref(), pos, len, &mut out.bytes_read) {
            Ok(h) if h.kind == RecordKind::Commit => {
                if h.index == batch_start && h.commit_count() == pending.len() as u64 {
                    out.records.append(&mut pending);
                    out.records.push((h, pos));
                    pos += h.record_len();
                    batch_start = pos;
                    out.end = pos;
                    continue;
                }
                format!(
                    "commit record closes {} records from offset {}, found {} from {}",
                    h.commit_count(),
                    h.index,
                    pending.len(),
                    batch_start
                )
            }
            Ok(h) => {
                pending.push((h, pos));
                pos += h.record_len();
                continue;
            }
            Err(reason) => reason,
        };
        pending.clear();
        match next_commit_after(file.as_ref(), pos, len) {
            Some(next) => {
                out.corrupt.push(CorruptRegion {
                    file: name.to_owned(),
                    start: batch_start,
                    end: next,
                    reason: format!("at offset {pos}: {bad}"),
                });
                pos = next;
                batch_start = next;
            }
            None => {
                out.torn = Some(TornTail {
                    file: name.to_owned(),
                    offset: batch_start,
                    dropped_bytes: len - batch_start,
                    reason: format!("at offset {pos}: {bad}"),
                });
                return Ok(out);
            }
        }
    }
    if !pending.is_empty() || pos > len {
        out.torn = Some(TornTail {
            file: name.to_owned(),
            offset: batch_start,
            dropped_bytes: len.saturating_sub(batch_start),
            reason: format!("{} records without a commit record", pending.len()),
        });
    }
    Ok(out)
}
