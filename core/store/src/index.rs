//! The in-memory index from (key, kind, index) to record location, the
//! replay rule that builds it, and its snapshot file.

use std::collections::{BTreeMap, HashMap};

use zg_codec::{CodecError, Reader};

use super::record::{HEADER_LEN, RecordHeader, RecordKind, align_up};

/// Where a record lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) file: u32,
    pub(crate) offset: u64,
    pub(crate) payload_len: u32,
    pub(crate) seq: u64,
}

impl Location {
    pub(crate) fn record_len(&self) -> u64 {
        align_up(HEADER_LEN as u64 + u64::from(self.payload_len))
    }
}

/// (key, kind, index): kind is `Segment` or `Meta`.
pub(crate) type EntryKey = ([u8; 32], u8, u64);

/// The index. Replaying records in any order gives the same result: the
/// highest sequence number wins, a tombstone hides every lower one of its
/// key, and for equal numbers (a compaction copy) the later file wins.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub(crate) entries: BTreeMap<EntryKey, Location>,
    pub(crate) tombstones: HashMap<[u8; 32], Location>,
    /// Bytes of live records per file.
    pub(crate) live: BTreeMap<u32, u64>,
    pub(crate) next_seq: u64,
}

fn newer(new: &Location, old: &Location) -> bool {
    (new.seq, new.file) > (old.seq, old.file)
}

impl Index {
    fn add_live(&mut self, loc: &Location) {
        *self.live.entry(loc.file).or_default() += loc.record_len();
    }

    fn sub_live(&mut self, loc: &Location) {
        if let Some(v) = self.live.get_mut(&loc.file) {
            *v = v.saturating_sub(loc.record_len());
        }
    }

    /// Applies one durable record at `loc`.
    pub(crate) fn apply(&mut self, h: &RecordHeader, loc: Location) {
        self.next_seq = self.next_seq.max(h.seq + 1);
        match h.kind {
            RecordKind::Commit => {}
            RecordKind::Tombstone => {
                if let Some(old) = self.tombstones.get(&h.key).copied() {
                    if !newer(&loc, &old) {
                        return;
                    }
                    self.sub_live(&old);
                }
                self.tombstones.insert(h.key, loc);
                self.add_live(&loc);
                let doomed: Vec<(EntryKey, Location)> = self
                    .entries
                    .range((h.key, 0, 0)..=(h.key, u8::MAX, u64::MAX))
                    .filter(|(_, l)| l.seq < h.seq)
                    .map(|(k, l)| (*k, *l))
                    .collect();
                for (k, l) in doomed {
                    self.entries.remove(&k);
                    self.sub_live(&l);
                }
            }
            RecordKind::Segment | RecordKind::Meta => {
                if self.tombstones.get(&h.key).is_some_and(|t| t.seq > h.seq) {
                    return;
                }
                let key = (h.key, h.kind as u8, h.index);
                if let Some(old) = self.entries.get(&key).copied() {
                    if !newer(&loc, &old) {
                        return;
                    }
                    self.sub_live(&old);
                }
                self.entries.insert(key, loc);
                self.add_live(&loc);
            }
        }
    }

    pub(crate) fn get(&self, key: &[u8; 32], kind: RecordKind, index: u64) -> Option<Location> {
        self.entries.get(&(*key, kind as u8, index)).copied()
    }

    /// Indices of the segments stored under `key`, ascending.
    pub(crate) fn segment_indices(&self, key: &[u8; 32]) -> Vec<u64> {
        let k = RecordKind::Segment as u8;
        self.entries
            .range((*key, k, 0)..=(*key, k, u64::MAX))
            .map(|((_, _, i), _)| *i)
            .collect()
    }

    /// Every live record in `file`: (kind, key, index, location).
    pub(crate) fn records_in(&self, file: u32) -> Vec<(RecordKind, [u8; 32], u64, Location)> {
        let mut out: Vec<_> = self
            .entries
            .iter()
            .filter(|(_, l)| l.file == file)
            .map(|((key, kind, index), l)| {
                let kind = if *kind == RecordKind::Meta as u8 {
                    RecordKind::Meta
                } else {
                    RecordKind::Segment
                };
                (kind, *key, *index, *l)
            })
            .collect();
        out.extend(
            self.tombstones
                .iter()
                .filter(|(_, l)| l.file == file)
                .map(|(key, l)| (RecordKind::Tombstone, *key, 0, *l)),
        );
        out.sort_by_key(|r| r.3.offset);
        out
    }
}

const SNAP_MAGIC: [u8; 4] = *b"ZGSI";
const SNAP_VERSION: u32 = 1;
const ENTRY_LEN: usize = 32 + 1 + 8 + 4 + 8 + 4 + 8;
const TOMB_LEN: usize = 32 + 4 + 8 + 8;

/// Encodes the index and the logical end of every file it covers.
pub(crate) fn encode_snapshot(index: &Index, ends: &BTreeMap<u32, u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + ends.len() * 12 + index.entries.len() * ENTRY_LEN);
    out.extend_from_slice(&SNAP_MAGIC);
    out.extend_from_slice(&SNAP_VERSION.to_le_bytes());
    out.extend_from_slice(&index.next_seq.to_le_bytes());
    out.extend_from_slice(&(ends.len() as u32).to_le_bytes());
    for (file, end) in ends {
        out.extend_from_slice(&file.to_le_bytes());
        out.extend_from_slice(&end.to_le_bytes());
    }
    out.extend_from_slice(&(index.entries.len() as u64).to_le_bytes());
    for ((key, kind, idx), l) in &index.entries {
        out.extend_from_slice(key);
        out.push(*kind);
        out.extend_from_slice(&idx.to_le_bytes());
        out.extend_from_slice(&l.file.to_le_bytes());
        out.extend_from_slice(&l.offset.to_le_bytes());
        out.extend_from_slice(&l.payload_len.to_le_bytes());
        out.extend_from_slice(&l.seq.to_le_bytes());
    }
    out.extend_from_slice(&(index.tombstones.len() as u64).to_le_bytes());
    for (key, l) in &index.tombstones {
        out.extend_from_slice(key);
        out.extend_from_slice(&l.file.to_le_bytes());
        out.extend_from_slice(&l.offset.to_le_bytes());
        out.extend_from_slice(&l.seq.to_le_bytes());
    }
    let check = blake3::hash(&out);
    out.extend_from_slice(check.as_bytes());
    out
}

/// Why a snapshot cannot be used (the store then rebuilds the index from its files).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SnapshotError {
    /// Its bytes do not parse.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// They parse, but do not describe the files.
    #[error("{0}")]
    Invalid(&'static str),
}

impl From<&'static str> for SnapshotError {
    fn from(why: &'static str) -> Self {
        Self::Invalid(why)
    }
}

/// A u64 count of `size`-byte items, at most as many as the bytes left hold.
fn count(c: &mut Reader<'_>, size: usize) -> Result<usize, CodecError> {
    let max = (c.remaining() / size) as u64;
    c.count(Reader::u64, max, size)
}

/// Decodes a snapshot: the index and each covered file's logical end.
pub(crate) fn decode_snapshot(bytes: &[u8]) -> Result<(Index, BTreeMap<u32, u64>), SnapshotError> {
    let Some(split) = bytes.len().checked_sub(32) else {
        return Err("truncated".into());
    };
    let (body, check) = bytes.split_at(split);
    if blake3::hash(body).as_bytes() != check {
        return Err("checksum mismatch".into());
    }
    let mut c = Reader::new("index snapshot", body);
    if c.take(4)? != SNAP_MAGIC {
        return Err("bad magic".into());
    }
    if c.u32()? != SNAP_VERSION {
        return Err("unsupported version".into());
    }
    let mut index = Index {
        next_seq: c.u64()?,
        ..Index::default()
    };
    let nfiles = c.u32()? as usize;
    if nfiles > c.remaining() / 12 {
        return Err("file count larger than the file".into());
    }
    let mut ends = BTreeMap::new();
    for _ in 0..nfiles {
        let file = c.u32()?;
        let end = c.u64()?;
        if !end.is_multiple_of(super::record::ALIGN) {
            return Err("unaligned file end".into());
        }
        ends.insert(file, end);
    }
    let check_loc = |l: &Location, ends: &BTreeMap<u32, u64>| match ends.get(&l.file) {
        Some(end)
            if l.offset.is_multiple_of(super::record::ALIGN)
                && l.offset.saturating_add(l.record_len()) <= *end =>
        {
            Ok(())
        }
        _ => Err(SnapshotError::Invalid("record outside the covered files")),
    };
    for _ in 0..count(&mut c, ENTRY_LEN)? {
        let key = c.array::<32>()?;
        let kind = c.u8()?;
        if kind != RecordKind::Segment as u8 && kind != RecordKind::Meta as u8 {
            return Err("bad entry kind".into());
        }
        let idx = c.u64()?;
        let loc = Location {
            file: c.u32()?,
            offset: c.u64()?,
            payload_len: c.u32()?,
            seq: c.u64()?,
        };
        if loc.payload_len as usize > super::record::MAX_PAYLOAD {
            return Err("payload length over the maximum".into());
        }
        check_loc(&loc, &ends)?;
        index.entries.insert((key, kind, idx), loc);
        index.add_live(&loc);
    }
    for _ in 0..count(&mut c, TOMB_LEN)? {
        let key = c.array::<32>()?;
        let loc = Location {
            file: c.u32()?,
            offset: c.u64()?,
            payload_len: 0,
            seq: c.u64()?,
        };
        check_loc(&loc, &ends)?;
        index.tombstones.insert(key, loc);
        index.add_live(&loc);
    }
    c.finish()?;
    Ok((index, ends))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(key: u8, index: u64, seq: u64) -> RecordHeader {
        RecordHeader::new(RecordKind::Segment, seq, [key; 32], index, b"x")
    }

    fn at(file: u32, offset: u64, seq: u64) -> Location {
        Location {
            file,
            offset,
            payload_len: 1,
            seq,
        }
    }

    #[test]
    fn replay_order_does_not_matter() {
        let tomb = RecordHeader::new(RecordKind::Tombstone, 5, [1; 32], 0, &[]);
        let recs = [
            (seg(1, 0, 1), at(0, 0, 1)),
            (seg(1, 1, 2), at(0, 4096, 2)),
            (
                tomb,
                Location {
                    payload_len: 0,
                    ..at(0, 8192, 5)
                },
            ),
            (seg(1, 1, 6), at(0, 12288, 6)),
            (seg(2, 0, 3), at(0, 16384, 3)),
            // a compaction copy of seq 3 in a later file
            (seg(2, 0, 3), at(1, 0, 3)),
        ];
        let mut forward = Index::default();
        for (h, l) in &recs {
            forward.apply(h, *l);
        }
        let mut backward = Index::default();
        for (h, l) in recs.iter().rev() {
            backward.apply(h, *l);
        }
        assert_eq!(forward.entries, backward.entries);
        assert_eq!(forward.live, backward.live);
        assert_eq!(forward.segment_indices(&[1; 32]), vec![1]);
        assert_eq!(forward.get(&[2; 32], RecordKind::Segment, 0), Some(at(1, 0, 3)));
        assert_eq!(forward.next_seq, 7);

        let mut ends = BTreeMap::new();
        ends.insert(0, 20480);
        ends.insert(1, 4096);
        let snap = encode_snapshot(&forward, &ends);
        let (back, back_ends) = decode_snapshot(&snap).unwrap();
        assert_eq!(back.entries, forward.entries);
        assert_eq!(back.tombstones, forward.tombstones);
        assert_eq!(back.live, forward.live);
        assert_eq!(back_ends, ends);
        for i in 0..snap.len() {
            let mut bad = snap.clone();
            bad[i] ^= 0x10;
            assert!(decode_snapshot(&bad).is_err());
        }
        assert!(decode_snapshot(&snap[..snap.len() - 1]).is_err());
    }
}
