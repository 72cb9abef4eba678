//! Durable block log: where a chain's blocks go before anyone is told they exist.

use std::path::Path;
use std::sync::Arc;

use zg_codec::{Reader, Writer};
use zg_store::{DataFile, FsDir, IoMode, MemoryDir, StorageDir};

/// File name of the block log inside a data directory.
pub const LOG_FILE: &str = "chain.log";
const MAGIC: &[u8; 8] = b"ZGCHAIN1";
// Record header: payload length (u32 LE) + BLAKE3 of the payload.
const RECORD_HEADER: usize = 4 + 32;
/// Largest record accepted (a block of ~30M gas of calldata is far below this).
pub const MAX_RECORD: usize = 256 << 20;

/// Errors of a block log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The operating system refused a read, write or sync.
    #[error("block log {LOG_FILE} in {dir}: {source}")]
    Io {
        /// The directory holding the log, as its backend describes it.
        dir: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a block log, or a record other than the last is damaged.
    #[error("block log {LOG_FILE} in {dir} is corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// The directory holding the log, as its backend describes it.
        dir: String,
        /// Where the damage starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// An earlier sync failed: the file's contents are unknown, so nothing more is
    /// written until the log is reopened.
    #[error("block log failed earlier and refuses writes until it is reopened")]
    Failed,
}

// Why the bytes at some offset are not a whole, intact record.
struct Damage {
    reason: String,
    // Whether the record, as its length field claims it, reaches the end of the file.
    reaches_end: bool,
}

// The payload of the record at the start of `rest`.
fn parse_record(rest: &[u8]) -> Result<&[u8], Damage> {
    let mut r = Reader::new("block log record", rest);
    let cut = |reason: &str| Damage {
        reason: reason.into(),
        reaches_end: true,
    };
    let (Ok(len), Ok(checksum)) = (r.u32(), r.array::<32>()) else {
        return Err(cut("record header cut short"));
    };
    let len = len as usize;
    if len > MAX_RECORD {
        return Err(Damage {
            reason: format!("record length {len} over the {MAX_RECORD} limit"),
            reaches_end: RECORD_HEADER + len >= rest.len(),
        });
    }
    let Ok(payload) = r.take(len) else {
        return Err(cut("record cut short"));
    };
    if blake3::hash(payload).as_bytes() == &checksum {
        return Ok(payload);
    }
    Err(Damage {
        reason: format!("checksum mismatch in a record of {len} bytes"),
        reaches_end: r.remaining() == 0,
    })
}

/// An append-only file of checksummed records, synced on every append, in any
/// [`StorageDir`] (a real directory, or an in-memory one for throwaway chains and
/// crash tests).
///
/// A torn last record (a crash mid-append, before it was acknowledged) is cut off when
/// the log is opened; damage anywhere else is an error, never skipped.
pub struct BlockLog {
    dir: String,
    file: Arc<dyn DataFile>,
    len: u64,
    failed: bool,
}

impl std::fmt::Debug for BlockLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockLog")
            .field("dir", &self.dir)
            .field("len", &self.len)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl BlockLog {
    /// Opens (or creates) `chain.log` in `dir`.
    pub fn open(dir: &dyn StorageDir) -> Result<Self, LogError> {
        let described = dir.describe();
        let io = |source| LogError::Io {
            dir: described.clone(),
            source,
        };
        let file = dir.open(LOG_FILE, true).map_err(io)?;
        let mut len = file.len().map_err(io)?;
        if len == 0 {
            file.write_all_at(&[(0, MAGIC)]).map_err(io)?;
            file.sync_data().map_err(io)?;
            len = MAGIC.len() as u64;
        }
        Ok(Self {
            dir: described,
            file,
            len,
            failed: false,
        })
    }

    /// Opens (or creates) `chain.log` in the directory at `path`, with plain buffered
    /// writes (one small append per block gains nothing from io_uring or O_DIRECT).
    pub fn open_path(path: &Path) -> Result<Self, LogError> {
        let dir = FsDir::open(path, IoMode::Sync)
            .map_err(|source| LogError::Io {
                dir: path.display().to_string(),
                source,
            })?
            .direct_writes(false);
        Self::open(&dir)
    }

    /// A log in memory: nothing survives the process.
    pub fn in_memory() -> Self {
        Self::open(&MemoryDir::new()).expect("an in-memory directory does not fail")
    }

    fn io(&self, source: std::io::Error) -> LogError {
        LogError::Io {
            dir: self.dir.clone(),
            source,
        }
    }

    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> LogError {
        LogError::Corrupt {
            dir: self.dir.clone(),
            offset,
            reason: reason.into(),
        }
    }

    /// Every record appended so far, oldest first; a torn last record is cut off.
    pub fn records(&mut self) -> Result<Vec<Vec<u8>>, LogError> {
        let len = self.file.len().map_err(|e| self.io(e))?;
        let size =
            usize::try_from(len).map_err(|_| self.corrupt(0, format!("{len} bytes do not fit in memory")))?;
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(size)
            .map_err(|_| self.corrupt(0, format!("{len} bytes do not fit in memory")))?;
        bytes.resize(size, 0);
        self.file
            .read_exact_at(&mut [(0, &mut bytes[..])])
            .map_err(|e| self.io(e))?;
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(self.corrupt(0, "not a zg block log (bad magic)"));
        }
        let mut records = Vec::new();
        let mut at = MAGIC.len();
        self.len = len;
        while at < bytes.len() {
            match parse_record(&bytes[at..]) {
                Ok(payload) => {
                    records.push(payload.to_vec());
                    at += RECORD_HEADER + payload.len();
                }
                Err(Damage { reason, reaches_end }) => {
                    // Damage that reaches the end of the file is an append the crash cut
                    // short (never acknowledged); anything before that is corruption.
                    if !reaches_end {
                        return Err(self.corrupt(at as u64, reason));
                    }
                    tracing::warn!(
                        dir = %self.dir,
                        offset = at,
                        dropped = bytes.len() - at,
                        "block log ends in a torn record (a crash during an append); cutting it off"
                    );
                    self.file.set_len(at as u64).map_err(|e| self.io(e))?;
                    self.file.sync_data().map_err(|e| self.io(e))?;
                    self.len = at as u64;
                    break;
                }
            }
        }
        Ok(records)
    }

    /// Appends one record; when this returns `Ok`, the record survives a crash.
    pub fn append(&mut self, record: &[u8]) -> Result<(), LogError> {
        if self.failed {
            return Err(LogError::Failed);
        }
        if record.len() > MAX_RECORD {
            return Err(self.corrupt(
                self.len,
                format!("record of {} bytes over the limit", record.len()),
            ));
        }
        let mut w = Writer::with_capacity(RECORD_HEADER + record.len());
        w.u32(record.len() as u32)
            .bytes(blake3::hash(record).as_bytes())
            .bytes(record);
        let buf = w.into_bytes();
        if let Err(error) = self.file.write_all_at(&[(self.len, &buf)]) {
            // Nothing was synced: take the partial record back and stay usable.
            let _ = self.file.set_len(self.len);
            return Err(self.io(error));
        }
        if let Err(error) = self.file.sync_data() {
            // After a failed sync the page cache's state is unknown: refuse further
            // writes rather than acknowledge something that may not be on disk.
            self.failed = true;
            return Err(self.io(error));
        }
        self.len += buf.len() as u64;
        Ok(())
    }
}
