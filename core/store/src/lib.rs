//! # zg-store
//!
//! The segment store: append-only data files of checksummed records,
//! written in group-committed batches through io_uring and acknowledged only
//! once `fdatasync` has returned.
//!
//! One writer thread owns appends: callers hand it batches and wait on their
//! own reply, so many concurrent writers share each fsync. Reads go straight
//! from the caller's thread to the files (io_uring, many in flight). The
//! index lives in memory, reloaded from a snapshot plus a scan of the tail
//! written after it (or rebuilt from every file) when the store opens.

mod backend;
mod error;
mod index;
mod memory;
mod record;
mod scan;
mod uring;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender};
use rayon::prelude::*;
use zg_codec::hex::encode as hex;

pub use backend::{DataFile, FsDir, IoMode, StorageDir, uring_support};
pub use error::{Result, StoreError};
#[cfg(feature = "fault-injection")]
pub use memory::CrashMode;
pub use memory::MemoryDir;
pub use record::{
    ALIGN, AlignedBuf, HEADER_LEN, Hashing, HeaderError, MAX_PAYLOAD, RecordHeader, RecordImage, RecordKind,
    SEGMENT_BYTES, Segment, align_up, segment_chaining_value,
};
pub use scan::{CorruptRegion, TornTail};

use index::{Index, Location};
use record::record_image;

const SNAPSHOT: &str = "index.zgi";

fn data_name(n: u32) -> String {
    format!("data-{n:08}.zgs")
}

fn parse_data_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("data-")?.strip_suffix(".zgs")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Tunables of a store; the defaults suit a storage node.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// A new data file is started when the active one would pass this size.
    pub max_file_size: u64,
    /// Refuse writes that would take the data files past this many bytes.
    pub capacity: Option<u64>,
    /// The most payload bytes one group commit gathers.
    pub max_batch_bytes: u64,
    /// Write an index snapshot after this many appended bytes (bounds the scan on open).
    pub snapshot_every: u64,
    /// Check every payload read against its BLAKE3 (catches bit rot; costs a hash).
    pub verify_reads: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_file_size: 1 << 30,
            capacity: None,
            max_batch_bytes: 64 << 20,
            snapshot_every: 256 << 20,
            verify_reads: true,
        }
    }
}

/// What [`Store::open`] found and did.
#[derive(Clone, Debug, Default)]
pub struct OpenReport {
    /// Backend and I/O mode.
    pub backend: String,
    /// Data files.
    pub files: usize,
    /// Whether the index came from a snapshot (plus a scan of the tail).
    pub from_snapshot: bool,
    /// Why a snapshot present was not used.
    pub snapshot_problem: Option<String>,
    /// Bytes read and checked by the scan.
    pub scanned_bytes: u64,
    /// Live segments and metadata records.
    pub records: usize,
    /// An unacknowledged last batch dropped.
    pub torn_tail: Option<TornTail>,
    /// Damaged ranges skipped (their records are lost; later ones kept).
    pub corrupt: Vec<CorruptRegion>,
    /// Files left behind by an interrupted compaction, removed.
    pub removed_leftovers: Vec<String>,
}

/// Counts of a store's contents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Data files.
    pub files: usize,
    /// Bytes of data files.
    pub used_bytes: u64,
    /// Bytes of live records in them.
    pub live_bytes: u64,
    /// Live segments.
    pub segments: usize,
    /// Files with metadata.
    pub metas: usize,
}

/// What [`Store::fsck`] found.
#[derive(Clone, Debug, Default)]
pub struct FsckReport {
    /// Data files checked.
    pub files: usize,
    /// Committed records read and checked.
    pub records: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Damaged ranges.
    pub corrupt: Vec<CorruptRegion>,
    /// Index entries whose record did not read back intact.
    pub bad_entries: Vec<String>,
}

impl FsckReport {
    /// Whether everything checked out.
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty() && self.bad_entries.is_empty()
    }
}

/// What [`Store::compact`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Data files removed.
    pub files_removed: usize,
    /// Live records copied forward.
    pub records_moved: usize,
    /// Bytes given back to the file system.
    pub bytes_freed: u64,
}

/// One record to append.
#[derive(Debug)]
pub struct Put {
    kind: RecordKind,
    key: [u8; 32],
    index: u64,
    payload: Payload,
    /// The payload's [`segment_chaining_value`], when the caller already has it.
    chaining_value: Option<[u8; 32]>,
}

/// A record's payload: shared bytes (copied into the record as it is laid out),
/// or a [`RecordImage`] the caller filled in place (written out as it is).
#[derive(Debug)]
pub enum Payload {
    /// Bytes shared with the caller.
    Bytes(Bytes),
    /// A record filled in place.
    Image(RecordImage),
}

impl<T: Into<Bytes>> From<T> for Payload {
    fn from(bytes: T) -> Self {
        Payload::Bytes(bytes.into())
    }
}

impl From<RecordImage> for Payload {
    fn from(image: RecordImage) -> Self {
        Payload::Image(image)
    }
}

impl std::ops::Deref for Payload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Payload::Bytes(b) => b,
            Payload::Image(i) => i,
        }
    }
}

impl Put {
    /// Segment `index` of the file keyed `key` (a [`RecordImage`] payload is
    /// written out without copying it).
    pub fn segment(key: [u8; 32], index: u64, payload: impl Into<Payload>) -> Self {
        Self {
            kind: RecordKind::Segment,
            key,
            index,
            payload: payload.into(),
            chaining_value: None,
        }
    }

    /// Segment `index` of the file keyed `key`, with the payload's
    /// [`segment_chaining_value`] the caller already computed (a BLAKE3 file's
    /// segment node, hashed to check the segment's proof): the store keeps it as the
    /// record's hash instead of hashing the payload again. A payload that cannot be
    /// hashed that way (empty, over [`SEGMENT_BYTES`]) is hashed whole, as
    /// [`Put::segment`]'s.
    pub fn segment_hashed(
        key: [u8; 32],
        index: u64,
        payload: impl Into<Payload>,
        chaining_value: [u8; 32],
    ) -> Self {
        Self {
            chaining_value: Some(chaining_value),
            ..Self::segment(key, index, payload)
        }
    }

    /// The metadata of the file keyed `key`.
    pub fn meta(key: [u8; 32], payload: impl Into<Payload>) -> Self {
        Self {
            kind: RecordKind::Meta,
            key,
            index: 0,
            payload: payload.into(),
            chaining_value: None,
        }
    }
}

struct NewRecord {
    header: RecordHeader,
    /// Header, payload and padding as they go to disk (the header is
    /// rewritten by the writer once it assigns the sequence number).
    image: AlignedBuf,
    /// A compaction copy keeps its sequence number.
    keep_seq: bool,
}

enum Request {
    Write {
        records: Vec<NewRecord>,
        reply: Sender<Result<()>>,
    },
    Compact {
        min_garbage: f64,
        reply: Sender<Result<CompactReport>>,
    },
    Snapshot {
        reply: Sender<Result<()>>,
    },
}

struct Shared {
    dir: Arc<dyn StorageDir>,
    opts: StoreOptions,
    index: RwLock<Index>,
    files: RwLock<BTreeMap<u32, Arc<dyn DataFile>>>,
    failed: Mutex<Option<String>>,
    used: AtomicU64,
}

impl Shared {
    fn failure(&self) -> Option<String> {
        self.failed.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn fail(&self, why: String) {
        tracing::error!(reason = %why, "segment store failed; refusing writes until reopened");
        *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
    }

    fn file(&self, n: u32) -> Option<Arc<dyn DataFile>> {
        self.files
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&n)
            .cloned()
    }
}

/// A handle on a batch handed to the writer: [`Pending::wait`] returns once
/// it is durable (or failed).
#[must_use = "a write is only durable once wait() returns Ok"]
#[derive(Debug)]
pub struct Pending(Receiver<Result<()>>);

impl Pending {
    /// Waits for the batch's fsync.
    pub fn wait(self) -> Result<()> {
        self.0.recv().unwrap_or(Err(StoreError::Closed))
    }
}

/// The segment store. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Store {
    shared: Arc<Shared>,
    tx: Option<Sender<Request>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.shared.dir.describe())
            .finish()
    }
}

impl Store {
    /// Opens (creating) a store in the directory at `path`, with io_uring where permitted.
    pub fn open_path(path: impl AsRef<std::path::Path>, opts: StoreOptions) -> Result<(Self, OpenReport)> {
        let p = path.as_ref();
        let dir = FsDir::open(p, IoMode::Auto)
            .map_err(|e| StoreError::io("open directory", p.display().to_string(), e))?;
        Self::open(Arc::new(dir), opts)
    }

    /// Opens a store on `dir`: loads the snapshot, scans what was written
    /// after it, drops a torn last batch, and starts the writer.
    pub fn open(dir: Arc<dyn StorageDir>, opts: StoreOptions) -> Result<(Self, OpenReport)> {
        let mut report = OpenReport {
            backend: dir.describe(),
            ..OpenReport::default()
        };
        let names = dir
            .list()
            .map_err(|e| StoreError::io("list", dir.describe(), e))?;
        let mut numbers = Vec::new();
        for name in &names {
            if let Some(n) = parse_data_name(name) {
                numbers.push(n);
            } else if name.ends_with(".tmp") {
                // An interrupted snapshot write: the old snapshot (if any) stands.
                let _ = dir.remove(name);
            } else if name != SNAPSHOT {
                return Err(StoreError::ForeignFile(name.clone()));
            }
        }
        numbers.sort_unstable();

        // The snapshot, if present and consistent with the files.
        let mut loaded = None;
        match dir.read_file(SNAPSHOT) {
            Ok(Some(bytes)) => match index::decode_snapshot(&bytes) {
                Ok((idx, ends)) => loaded = Some((idx, ends)),
                Err(why) => {
                    report.snapshot_problem = Some(format!("{SNAPSHOT}: {why}; rebuilding from the files"));
                }
            },
            Ok(None) => {}
            Err(e) => report.snapshot_problem = Some(format!("{SNAPSHOT} unreadable: {e}; rebuilding")),
        }
        let mut idx = Index::default();
        let mut ends: BTreeMap<u32, u64> = BTreeMap::new();
        let mut scan_from: BTreeMap<u32, u64> = numbers.iter().map(|n| (*n, 0)).collect();
        if let Some((snap_idx, snap_ends)) = loaded {
            for n in snap_ends.keys() {
                if !numbers.contains(n) {
                    return Err(StoreError::MissingDataFile(data_name(*n)));
                }
            }
            let last_covered = snap_ends.keys().next_back().copied().unwrap_or(0);
            for n in numbers.clone() {
                if n < last_covered && !snap_ends.contains_key(&n) {
                    // Compacted away after the snapshot was written: its records live elsewhere.
                    let name = data_name(n);
                    dir.remove(&name)
                        .map_err(|e| StoreError::io("remove", name.clone(), e))?;
                    report.removed_leftovers.push(name);
                    numbers.retain(|m| *m != n);
                    scan_from.remove(&n);
                }
            }
            for (n, end) in &snap_ends {
                if *n == last_covered {
                    scan_from.insert(*n, *end);
                } else {
                    scan_from.remove(n);
                    ends.insert(*n, *end);
                }
            }
            idx = snap_idx;
            report.from_snapshot = true;
        }

        let mut files = BTreeMap::new();
        for n in &numbers {
            let name = data_name(*n);
            let f = dir
                .open(&name, false)
                .map_err(|e| StoreError::io("open", name.clone(), e))?;
            files.insert(*n, f);
        }
        let last = numbers.last().copied();
        for (n, start) in scan_from {
            let name = data_name(n);
            let file = &files[&n];
            let out = scan::scan(&name, file, start).map_err(|e| StoreError::io("scan", name.clone(), e))?;
            report.scanned_bytes += out.bytes_read;
            for (h, offset) in &out.records {
                idx.apply(
                    h,
                    Location {
                        file: n,
                        offset: *offset,
                        payload_len: h.payload_len,
                        seq: h.seq,
                    },
                );
            }
            report.corrupt.extend(out.corrupt);
            let mut end = out.end;
            if let Some(torn) = out.torn {
                if Some(n) == last {
                    file.set_len(torn.offset)
                        .and_then(|()| file.sync_data())
                        .map_err(|e| StoreError::io("truncate torn tail of", name.clone(), e))?;
                    tracing::warn!(file = %name, offset = torn.offset, dropped = torn.dropped_bytes,
                        reason = %torn.reason, "dropped an unacknowledged torn batch");
                    report.torn_tail = Some(torn);
                } else {
                    // Only the last file takes appends: damage elsewhere is corruption, kept for fsck.
                    end = file.len().map_err(|e| StoreError::io("stat", name.clone(), e))?;
                    report.corrupt.push(CorruptRegion {
                        file: torn.file,
                        start: torn.offset,
                        end,
                        reason: torn.reason,
                    });
                    end = align_up(end);
                }
            }
            ends.insert(n, end);
        }
        for region in &report.corrupt {
            tracing::error!(file = %region.file, start = region.start, end = region.end,
                reason = %region.reason, "corrupt region in the segment store; run fsck");
        }
        if files.is_empty() {
            let name = data_name(0);
            let f = dir
                .open(&name, true)
                .map_err(|e| StoreError::io("create", name.clone(), e))?;
            files.insert(0, f);
            ends.insert(0, 0);
        }
        let (&active, _) = files.iter().next_back().ok_or(StoreError::Closed)?;
        let active_end = ends.get(&active).copied().unwrap_or(0);
        report.files = files.len();
        report.records = idx.entries.len();
        let used = ends.values().sum();

        let shared = Arc::new(Shared {
            dir,
            opts,
            index: RwLock::new(idx),
            files: RwLock::new(files),
            failed: Mutex::new(None),
            used: AtomicU64::new(used),
        });
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut writer = Writer {
            shared: shared.clone(),
            active,
            active_end,
            ends,
            since_snapshot: report.scanned_bytes,
        };
        let handle = std::thread::Builder::new()
            .name("zg-store-writer".into())
            .spawn(move || writer.run(&rx))
            .map_err(|e| StoreError::io("spawn writer thread", "", e))?;
        Ok((
            Self {
                shared,
                tx: Some(tx),
                writer: Some(handle),
            },
            report,
        ))
    }

    fn send(&self, req: Request) -> Result<()> {
        self.tx
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(req)
            .map_err(|_| StoreError::Closed)
    }

    /// Hands `puts` to the writer (payloads are hashed here, on rayon's
    /// pool) and returns at once; [`Pending::wait`] says when they are durable.
    pub fn put_batch_async(&self, puts: Vec<Put>) -> Result<Pending> {
        if puts.is_empty() {
            // Nothing to write: durable already, no commit record needed.
            let (tx, rx) = crossbeam_channel::bounded(1);
            let _ = tx.send(Ok(()));
            return Ok(Pending(rx));
        }
        if let Some(p) = puts.iter().find(|p| p.payload.len() > MAX_PAYLOAD) {
            return Err(StoreError::PayloadTooLarge {
                len: p.payload.len(),
                max: MAX_PAYLOAD,
            });
        }
        // Hashing and laying out the image happen here, in parallel, not on the writer thread.
        let hash = |p: Put| {
            let given = p
                .chaining_value
                .and_then(|cv| RecordHeader::at_segment(0, p.key, p.index, &p.payload, cv));
            debug_assert!(
                given.is_none_or(|h| h.check_payload(&p.payload)),
                "a wrong chaining value"
            );
            let header = given.unwrap_or_else(|| RecordHeader::new(p.kind, 0, p.key, p.index, &p.payload));
            let image = match p.payload {
                Payload::Bytes(b) => record_image(&header, &b),
                Payload::Image(i) => i.finish(&header),
            };
            NewRecord {
                image,
                header,
                keep_seq: false,
            }
        };
        let records: Vec<NewRecord> = if puts.len() > 1 {
            puts.into_par_iter().map(hash).collect()
        } else {
            puts.into_iter().map(hash).collect()
        };
        let (reply, rx) = crossbeam_channel::bounded(1);
        self.send(Request::Write { records, reply })?;
        Ok(Pending(rx))
    }

    /// Appends `puts` and returns once they are durable.
    pub fn put_batch(&self, puts: Vec<Put>) -> Result<()> {
        self.put_batch_async(puts)?.wait()
    }

    /// Appends segment `index` of `key` and returns once it is durable.
    pub fn put(&self, key: [u8; 32], index: u64, payload: impl Into<Bytes>) -> Result<()> {
        self.put_batch(vec![Put::segment(key, index, payload)])
    }

    /// Deletes every record of `key` (durably); space returns on [`Store::compact`].
    pub fn delete(&self, key: [u8; 32]) -> Result<()> {
        let (reply, rx) = crossbeam_channel::bounded(1);
        let header = RecordHeader::new(RecordKind::Tombstone, 0, key, 0, &[]);
        let records = vec![NewRecord {
            image: record_image(&header, &[]),
            header,
            keep_seq: false,
        }];
        self.send(Request::Write { records, reply })?;
        Pending(rx).wait()
    }

    /// Whether segment `index` of `key` is stored.
    pub fn contains(&self, key: &[u8; 32], index: u64) -> bool {
        self.index().get(key, RecordKind::Segment, index).is_some()
    }

    /// Indices of the segments stored under `key`, ascending.
    pub fn segment_indices(&self, key: &[u8; 32]) -> Vec<u64> {
        self.index().segment_indices(key)
    }

    fn index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.shared.index.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Segment `index` of `key`, checked.
    pub fn get(&self, key: &[u8; 32], index: u64) -> Result<Segment> {
        self.read_many(&[(*key, RecordKind::Segment, index)])
            .pop()
            .unwrap_or(Err(StoreError::Closed))
    }

    /// The metadata of `key`, checked.
    pub fn get_meta(&self, key: &[u8; 32]) -> Result<Segment> {
        self.read_many(&[(*key, RecordKind::Meta, 0)])
            .pop()
            .unwrap_or(Err(StoreError::Closed))
    }

    /// Many segments at once: every read is in flight together (io_uring),
    /// then payloads are checked in parallel. Results are in request order.
    pub fn get_many(&self, wanted: &[([u8; 32], u64)]) -> Vec<Result<Segment>> {
        let wanted: Vec<_> = wanted
            .iter()
            .map(|(k, i)| (*k, RecordKind::Segment, *i))
            .collect();
        self.read_many(&wanted)
    }

    /// As [`Store::get_many`] without the payload checksum (headers are
    /// still checked): for callers that verify the bytes a stronger way,
    /// such as a Merkle proof against the file root, and would hash twice.
    pub fn get_many_unchecked(&self, wanted: &[([u8; 32], u64)]) -> Vec<Result<Segment>> {
        let wanted: Vec<_> = wanted
            .iter()
            .map(|(k, i)| (*k, RecordKind::Segment, *i))
            .collect();
        self.read_many_with(&wanted, false)
    }

    fn read_many(&self, wanted: &[([u8; 32], RecordKind, u64)]) -> Vec<Result<Segment>> {
        self.read_many_with(wanted, self.shared.opts.verify_reads)
    }

    /// Reads every wanted record and checks each (its header and, with
    /// `verify`, its payload) on rayon as soon as its own read completes: with
    /// reads in flight on the device, early arrivals are checked while later
    /// ones are still being read. Results are in request order.
    fn read_many_with(&self, wanted: &[([u8; 32], RecordKind, u64)], verify: bool) -> Vec<Result<Segment>> {
        let locs: Vec<Option<Location>> = {
            let idx = self.index();
            wanted.iter().map(|(k, kind, i)| idx.get(k, *kind, *i)).collect()
        };
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Result<Segment>)>();
        // One batch of reads per data file.
        let mut by_file: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, (w, loc)) in wanted.iter().zip(&locs).enumerate() {
            match loc {
                Some(l) => by_file.entry(l.file).or_default().push(i),
                None => {
                    let missing = StoreError::NotFound {
                        what: if w.1 == RecordKind::Meta {
                            "metadata of"
                        } else {
                            "segment"
                        },
                        key: hex(&w.0),
                        index: w.2,
                    };
                    let _ = tx.send((i, Err(missing)));
                }
            }
        }
        let check = |i: usize, l: Location, buf: AlignedBuf| -> Result<Segment> {
            let (key, kind, index) = wanted[i];
            let corrupt = |reason: String| StoreError::Corrupt {
                file: data_name(l.file),
                offset: l.offset,
                reason,
            };
            let h = RecordHeader::parse(&buf).map_err(|e| corrupt(e.to_string()))?;
            if h.kind != kind
                || h.key != key
                || h.index != index
                || h.seq != l.seq
                || h.payload_len != l.payload_len
            {
                return Err(corrupt("record is not the one the index names".into()));
            }
            let payload = &buf[HEADER_LEN..HEADER_LEN + h.payload_len as usize];
            if verify && !h.check_payload(payload) {
                return Err(corrupt("payload checksum mismatch".into()));
            }
            Ok(Segment::new(buf, h.payload_len as usize))
        };
        // Without the payload hash a check is a header parse, and one record is one
        // hash: either is cheaper where it is read than a rayon hop and its wake-ups.
        let inline = !verify || by_file.values().map(Vec::len).sum::<usize>() <= 1;
        let check = &check;
        rayon::in_place_scope(|scope| {
            for (file_no, which) in &by_file {
                let name = data_name(*file_no);
                let Some(file) = self.shared.file(*file_no) else {
                    for &i in which {
                        let gone = StoreError::Corrupt {
                            file: name.clone(),
                            offset: locs[i].map_or(0, |l| l.offset),
                            reason: "data file no longer open (compacted away during the read)".into(),
                        };
                        let _ = tx.send((i, Err(gone)));
                    }
                    continue;
                };
                let reads: Vec<(u64, AlignedBuf)> = which
                    .iter()
                    .filter_map(|&i| locs[i])
                    .map(|l| (l.offset, AlignedBuf::for_overwrite(l.record_len() as usize)))
                    .collect();
                file.read_each(reads, &mut |j, read| {
                    let (Some(&i), Some(l)) = (which.get(j), which.get(j).and_then(|&i| locs[i])) else {
                        return;
                    };
                    match read {
                        Ok(buf) if inline => {
                            let _ = tx.send((i, check(i, l, buf)));
                        }
                        Ok(buf) => {
                            let tx = tx.clone();
                            scope.spawn(move |_| {
                                let _ = tx.send((i, check(i, l, buf)));
                            });
                        }
                        Err(e) => {
                            let failed = StoreError::Io {
                                op: "read",
                                file: name.clone(),
                                source: e,
                            };
                            let _ = tx.send((i, Err(failed)));
                        }
                    }
                });
            }
        });
        drop(tx);
        let mut out: Vec<Option<Result<Segment>>> =
            std::iter::repeat_with(|| None).take(wanted.len()).collect();
        for (i, r) in rx {
            out[i] = Some(r);
        }
        out.into_iter()
            .map(|r| r.unwrap_or(Err(StoreError::Closed)))
            .collect()
    }

    /// Removes data files whose garbage (deleted or overwritten records) is
    /// at least `min_garbage` of their size, copying their live records forward.
    pub fn compact(&self, min_garbage: f64) -> Result<CompactReport> {
        let (reply, rx) = crossbeam_channel::bounded(1);
        self.send(Request::Compact { min_garbage, reply })?;
        rx.recv().unwrap_or(Err(StoreError::Closed))
    }

    /// Writes an index snapshot now (open then scans only what follows it).
    pub fn snapshot(&self) -> Result<()> {
        let (reply, rx) = crossbeam_channel::bounded(1);
        self.send(Request::Snapshot { reply })?;
        rx.recv().unwrap_or(Err(StoreError::Closed))
    }

    /// Reads and checks every record of every file, and every index entry.
    pub fn fsck(&self) -> Result<FsckReport> {
        let files: Vec<(u32, Arc<dyn DataFile>)> = self
            .shared
            .files
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(n, f)| (*n, f.clone()))
            .collect();
        let mut report = FsckReport {
            files: files.len(),
            ..FsckReport::default()
        };
        for (n, file) in &files {
            let name = data_name(*n);
            let out = scan::scan(&name, file, 0).map_err(|e| StoreError::io("fsck", name.clone(), e))?;
            report.records += out.records.len();
            report.bytes += out.bytes_read;
            report.corrupt.extend(out.corrupt);
        }
        let keys: Vec<([u8; 32], RecordKind, u64)> = self
            .index()
            .entries
            .keys()
            .map(|(k, kind, i)| {
                let kind = if *kind == RecordKind::Meta as u8 {
                    RecordKind::Meta
                } else {
                    RecordKind::Segment
                };
                (*k, kind, *i)
            })
            .collect();
        for chunk in keys.chunks(64) {
            for (r, (k, _, i)) in self.read_many(chunk).into_iter().zip(chunk) {
                if let Err(e) = r {
                    report.bad_entries.push(format!("{} #{i}: {e}", hex(k)));
                }
            }
        }
        Ok(report)
    }

    /// Counts of the store's contents.
    pub fn stats(&self) -> StoreStats {
        let idx = self.index();
        let metas = idx
            .entries
            .keys()
            .filter(|(_, kind, _)| *kind == RecordKind::Meta as u8)
            .count();
        StoreStats {
            files: self.shared.files.read().unwrap_or_else(|p| p.into_inner()).len(),
            used_bytes: self.shared.used.load(Ordering::Relaxed),
            live_bytes: idx.live.values().sum(),
            segments: idx.entries.len() - metas,
            metas,
        }
    }

    /// Writes a snapshot and stops the writer (also done on drop).
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        let snap = if self.shared.failure().is_none() && self.tx.is_some() {
            self.snapshot()
        } else {
            Ok(())
        };
        self.tx = None;
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
        snap
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!(error = %e, "segment store snapshot on close failed; the next open scans instead");
        }
    }
}

struct Writer {
    shared: Arc<Shared>,
    active: u32,
    active_end: u64,
    /// Logical end of every data file.
    ends: BTreeMap<u32, u64>,
    since_snapshot: u64,
}

impl Writer {
    fn run(&mut self, rx: &Receiver<Request>) {
        while let Ok(req) = rx.recv() {
            match req {
                Request::Write { records, reply } => {
                    let mut batch = vec![(records, reply)];
                    let mut bytes: u64 = batch[0].0.iter().map(|r| r.image.len() as u64).sum();
                    let mut deferred = None;
                    while bytes < self.shared.opts.max_batch_bytes {
                        match rx.try_recv() {
                            Ok(Request::Write { records, reply }) => {
                                bytes += records.iter().map(|r| r.image.len() as u64).sum::<u64>();
                                batch.push((records, reply));
                            }
                            Ok(other) => {
                                deferred = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.write_requests(batch);
                    if let Some(req) = deferred {
                        self.other(req);
                    }
                }
                other => self.other(other),
            }
        }
    }

    fn other(&mut self, req: Request) {
        match req {
            Request::Write { records, reply } => self.write_requests(vec![(records, reply)]),
            Request::Compact { min_garbage, reply } => {
                let _ = reply.send(self.compact(min_garbage));
            }
            Request::Snapshot { reply } => {
                let _ = reply.send(self.snapshot());
            }
        }
    }

    /// Group commit: capacity checks per request, one append + fsync for all.
    fn write_requests(&mut self, batch: Vec<(Vec<NewRecord>, Sender<Result<()>>)>) {
        if let Some(why) = self.shared.failure() {
            for (_, reply) in batch {
                let _ = reply.send(Err(StoreError::Failed(why.clone())));
            }
            return;
        }
        let mut records = Vec::new();
        let mut replies = Vec::new();
        let mut planned = 0u64;
        for (recs, reply) in batch {
            let needed: u64 = recs.iter().map(|r| r.header.record_len()).sum();
            if let Some(capacity) = self.shared.opts.capacity {
                let used = self.shared.used.load(Ordering::Relaxed) + planned;
                if used + needed + ALIGN > capacity {
                    let _ = reply.send(Err(StoreError::Full {
                        needed,
                        used,
                        capacity,
                    }));
                    continue;
                }
            }
            planned += needed;
            records.extend(recs);
            replies.push(reply);
        }
        if replies.is_empty() {
            return;
        }
        let result = self.append(records);
        for reply in replies {
            let _ = reply.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(clone_error(e)),
            });
        }
    }

    /// Appends `records` and a commit record to the active file, syncs, and
    /// only then makes them visible in the index.
    fn append(&mut self, mut records: Vec<NewRecord>) -> Result<()> {
        let total: u64 = records.iter().map(|r| r.header.record_len()).sum::<u64>() + ALIGN;
        if self.active_end > 0 && self.active_end + total > self.shared.opts.max_file_size {
            self.roll()?;
        }
        let file_no = self.active;
        let name = data_name(file_no);
        let file = self.shared.file(file_no).ok_or(StoreError::Closed)?;
        let start = self.active_end;
        let mut next_seq = self
            .shared
            .index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .next_seq;
        let mut offset = start;
        let mut placed = Vec::with_capacity(records.len() + 1);
        for r in &mut records {
            if !r.keep_seq {
                r.header.seq = next_seq;
                next_seq += 1;
            }
            placed.push((r.header, offset));
            offset += r.header.record_len();
        }
        let commit = RecordHeader::commit(next_seq, start, records.len() as u64);
        placed.push((commit, offset));
        let mut commit_image = record_image(&commit, &[]);
        for r in &mut records {
            r.image.as_mut_slice()[..HEADER_LEN].copy_from_slice(&r.header.encode());
        }
        commit_image.as_mut_slice()[..HEADER_LEN].copy_from_slice(&commit.encode());
        let mut writes: Vec<(u64, &[u8])> = Vec::with_capacity(placed.len());
        for (r, (_, at)) in records.iter().zip(&placed) {
            writes.push((*at, &r.image[..]));
        }
        writes.push((offset, &commit_image[..]));
        if let Err(e) = file.write_all_at(&writes) {
            // Roll back the partial batch so later appends do not follow garbage.
            if let Err(e2) = file.set_len(start) {
                self.shared
                    .fail(format!("rolling back a failed write of {name} failed: {e2}"));
            }
            return Err(StoreError::io("write", name, e));
        }
        if let Err(e) = file.sync_data() {
            self.shared.fail(format!("fsync of {name} failed: {e}"));
            return Err(StoreError::SyncFailed {
                file: name,
                source: e,
            });
        }
        {
            let mut idx = self.shared.index.write().unwrap_or_else(|p| p.into_inner());
            for (h, at) in &placed {
                idx.apply(
                    h,
                    Location {
                        file: file_no,
                        offset: *at,
                        payload_len: h.payload_len,
                        seq: h.seq,
                    },
                );
            }
        }
        self.active_end += total;
        self.ends.insert(file_no, self.active_end);
        self.shared.used.fetch_add(total, Ordering::Relaxed);
        self.since_snapshot += total;
        if self.since_snapshot >= self.shared.opts.snapshot_every
            && let Err(e) = self.snapshot()
        {
            tracing::warn!(error = %e, "index snapshot failed; the next open scans more");
        }
        Ok(())
    }

    fn roll(&mut self) -> Result<()> {
        let next = self.active + 1;
        let name = data_name(next);
        let f = self
            .shared
            .dir
            .open(&name, true)
            .map_err(|e| StoreError::io("create", name, e))?;
        self.shared
            .files
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(next, f);
        self.active = next;
        self.active_end = 0;
        self.ends.insert(next, 0);
        Ok(())
    }

    fn snapshot(&mut self) -> Result<()> {
        let bytes = {
            let idx = self.shared.index.read().unwrap_or_else(|p| p.into_inner());
            index::encode_snapshot(&idx, &self.ends)
        };
        self.shared
            .dir
            .write_atomic(SNAPSHOT, &bytes)
            .map_err(|e| StoreError::io("write", SNAPSHOT, e))?;
        self.since_snapshot = 0;
        Ok(())
    }

    fn compact(&mut self, min_garbage: f64) -> Result<CompactReport> {
        if let Some(why) = self.shared.failure() {
            return Err(StoreError::Failed(why));
        }
        let mut report = CompactReport::default();
        let sealed: Vec<u32> = self.ends.keys().copied().filter(|n| *n != self.active).collect();
        for n in sealed {
            let end = self.ends[&n];
            let (live, records) = {
                let idx = self.shared.index.read().unwrap_or_else(|p| p.into_inner());
                (idx.live.get(&n).copied().unwrap_or(0), idx.records_in(n))
            };
            let garbage = end.saturating_sub(live);
            if end > 0 && (garbage as f64) < min_garbage * end as f64 {
                continue;
            }
            let name = data_name(n);
            let file = self.shared.file(n).ok_or(StoreError::Closed)?;
            let mut batch = Vec::new();
            let mut batch_bytes = 0u64;
            for (kind, key, index, loc) in &records {
                let mut buf = AlignedBuf::for_overwrite(loc.record_len() as usize);
                file.read_exact_at(&mut [(loc.offset, buf.as_mut_slice())])
                    .map_err(|e| StoreError::io("read for compaction", name.clone(), e))?;
                let h = RecordHeader::parse(&buf).map_err(|e| StoreError::Corrupt {
                    file: name.clone(),
                    offset: loc.offset,
                    reason: e.to_string(),
                })?;
                let payload = &buf[HEADER_LEN..HEADER_LEN + h.payload_len as usize];
                if h.kind != *kind
                    || h.key != *key
                    || (h.index != *index && *kind != RecordKind::Tombstone)
                    || !h.check_payload(payload)
                {
                    return Err(StoreError::Corrupt {
                        file: name,
                        offset: loc.offset,
                        reason: "record failed its checks during compaction; run fsck".into(),
                    });
                }
                batch_bytes += h.record_len();
                // The record read back is already its disk image.
                batch.push(NewRecord {
                    header: h,
                    image: buf,
                    keep_seq: true,
                });
                if batch_bytes >= self.shared.opts.max_batch_bytes {
                    report.records_moved += batch.len();
                    self.append(std::mem::take(&mut batch))?;
                    batch_bytes = 0;
                }
            }
            if !batch.is_empty() {
                report.records_moved += batch.len();
                self.append(batch)?;
            }
            // Durable order: copies synced, then a snapshot without the file, then removal.
            self.ends.remove(&n);
            self.snapshot()?;
            self.shared
                .files
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&n);
            self.shared
                .dir
                .remove(&name)
                .map_err(|e| StoreError::io("remove", name, e))?;
            self.shared
                .index
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .live
                .remove(&n);
            self.shared.used.fetch_sub(end, Ordering::Relaxed);
            report.files_removed += 1;
            report.bytes_freed += end;
        }
        Ok(report)
    }
}

/// Errors go to every request of a group commit.
fn clone_error(e: &StoreError) -> StoreError {
    let io = |s: &std::io::Error| std::io::Error::new(s.kind(), s.to_string());
    match e {
        StoreError::Io { op, file, source } => StoreError::Io {
            op,
            file: file.clone(),
            source: io(source),
        },
        StoreError::DiskFull { file, source } => StoreError::DiskFull {
            file: file.clone(),
            source: io(source),
        },
        StoreError::SyncFailed { file, source } => StoreError::SyncFailed {
            file: file.clone(),
            source: io(source),
        },
        StoreError::Full {
            needed,
            used,
            capacity,
        } => StoreError::Full {
            needed: *needed,
            used: *used,
            capacity: *capacity,
        },
        other => StoreError::Failed(other.to_string()),
    }
}
