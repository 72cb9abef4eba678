//! Durable block log: where a chain's blocks go before anyone is told they exist.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

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
    #[error("block log {path}: {source}")]
    Io {
        /// The log file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a block log, or a record other than the last is damaged.
    #[error("block log {path} is corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// The log file.
        path: PathBuf,
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
    let Some(len) = rest.get(..4) else {
        return Err(Damage {
            reason: "record header cut short".into(),
            reaches_end: true,
        });
    };
    let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
    let end = RECORD_HEADER + len;
    let reason = if rest.len() < RECORD_HEADER {
        "record header cut short".into()
    } else if len > MAX_RECORD {
        format!("record length {len} over the {MAX_RECORD} limit")
    } else if rest.len() < end {
        "record cut short".into()
    } else {
        let payload = &rest[RECORD_HEADER..end];
        if blake3::hash(payload).as_bytes()[..] == rest[4..RECORD_HEADER] {
            return Ok(payload);
        }
        format!("checksum mismatch in a record of {len} bytes")
    };
    Err(Damage {
        reason,
        reaches_end: end >= rest.len(),
    })
}

/// Where blocks are kept: in memory (tests, throwaway chains) or in a file.
pub trait BlockStore: Send + Sync {
    /// Every record appended so far, oldest first.
    fn records(&mut self) -> Result<Vec<Vec<u8>>, LogError>;
    /// Appends one record; when this returns `Ok`, the record survives a crash.
    fn append(&mut self, record: &[u8]) -> Result<(), LogError>;
}

/// Keeps records in memory: nothing survives the process.
#[derive(Debug, Default)]
pub struct MemoryBlockStore {
    records: Vec<Vec<u8>>,
}

impl BlockStore for MemoryBlockStore {
    fn records(&mut self) -> Result<Vec<Vec<u8>>, LogError> {
        Ok(self.records.clone())
    }

    fn append(&mut self, record: &[u8]) -> Result<(), LogError> {
        self.records.push(record.to_vec());
        Ok(())
    }
}

/// An append-only file of checksummed records, synced on every append.
///
/// A torn last record (a crash mid-append, before it was acknowledged) is cut off when
/// the log is opened; damage anywhere else is an error, never skipped.
#[derive(Debug)]
pub struct FileBlockStore {
    path: PathBuf,
    file: File,
    len: u64,
    failed: bool,
}

impl FileBlockStore {
    /// Opens (or creates) `dir/chain.log`.
    pub fn open(dir: &Path) -> Result<Self, LogError> {
        let path = dir.join(LOG_FILE);
        let io = |source| LogError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let mut len = file.metadata().map_err(io)?.len();
        if len == 0 {
            file.write_all(MAGIC).map_err(io)?;
            file.sync_all().map_err(io)?;
            if !existed {
                File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
            }
            len = MAGIC.len() as u64;
        }
        Ok(Self {
            path,
            file,
            len,
            failed: false,
        })
    }

    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> LogError {
        LogError::Corrupt {
            path: self.path.clone(),
            offset,
            reason: reason.into(),
        }
    }
}

impl BlockStore for FileBlockStore {
    fn records(&mut self) -> Result<Vec<Vec<u8>>, LogError> {
        let io = |source| LogError::Io {
            path: self.path.clone(),
            source,
        };
        let mut bytes = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        self.file.seek(SeekFrom::Start(0)).map_err(io)?;
        self.file.read_to_end(&mut bytes).map_err(io)?;
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(self.corrupt(0, "not a zg block log (bad magic)"));
        }
        let mut records = Vec::new();
        let mut at = MAGIC.len();
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
                        path = %self.path.display(),
                        offset = at,
                        dropped = bytes.len() - at,
                        "block log ends in a torn record (a crash during an append); cutting it off"
                    );
                    self.file.set_len(at as u64).map_err(io)?;
                    self.file.sync_all().map_err(io)?;
                    self.len = at as u64;
                    break;
                }
            }
        }
        Ok(records)
    }

    fn append(&mut self, record: &[u8]) -> Result<(), LogError> {
        if self.failed {
            return Err(LogError::Failed);
        }
        if record.len() > MAX_RECORD {
            return Err(self.corrupt(
                self.len,
                format!("record of {} bytes over the limit", record.len()),
            ));
        }
        let mut buf = Vec::with_capacity(RECORD_HEADER + record.len());
        buf.extend_from_slice(&(record.len() as u32).to_le_bytes());
        buf.extend_from_slice(blake3::hash(record).as_bytes());
        buf.extend_from_slice(record);
        let io = |source| LogError::Io {
            path: self.path.clone(),
            source,
        };
        let write = self
            .file
            .seek(SeekFrom::Start(self.len))
            .and_then(|_| self.file.write_all(&buf));
        if let Err(error) = write {
            // Nothing was synced: take the partial record back and stay usable.
            let _ = self.file.set_len(self.len);
            return Err(io(error));
        }
        if let Err(error) = self.file.sync_data() {
            // After a failed sync the page cache's state is unknown: refuse further
            // writes rather than acknowledge something that may not be on disk.
            self.failed = true;
            return Err(io(error));
        }
        self.len += buf.len() as u64;
        Ok(())
    }
}
