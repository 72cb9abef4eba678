//! An in-memory directory: for throwaway stores and chains, and (with the
//! `fault-injection` feature) one that injects the faults real disks have: lost
//! unsynced writes, a torn last write, failed fsync, a full disk. Recovery
//! is tested against it deterministically, and fuzzed.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use super::backend::{DataFile, StorageDir};

/// What survives a simulated power loss.
#[cfg(feature = "fault-injection")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashMode {
    /// Only synced bytes.
    DropUnsynced,
    /// Synced bytes, then every unsynced write but the last, then the
    /// first half of the last.
    TearLast,
    /// Synced bytes, then each unsynced write kept, dropped or cut short
    /// as the seed decides (the disk reorders writeback).
    Random(u64),
    /// Everything written (a process crash: the page cache survives).
    KeepAll,
}

#[derive(Clone, Debug, Default)]
struct MemFile {
    durable: Vec<u8>,
    current: Vec<u8>,
    /// Writes since the last sync, in order.
    unsynced: Vec<(u64, Vec<u8>)>,
}

fn apply(buf: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    let end = offset as usize + bytes.len();
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[offset as usize..end].copy_from_slice(bytes);
}

#[derive(Debug, Default)]
struct State {
    files: BTreeMap<String, MemFile>,
    /// Whether unsynced writes are tracked apart from durable bytes (a fault-injecting
    /// directory); a plain one keeps only current bytes, so a sync copies nothing.
    tracked: bool,
    /// Syncs left before every later sync fails.
    syncs_until_failure: Option<u64>,
    /// Bytes of file growth left before writes fail with ENOSPC.
    space_left: Option<u64>,
    /// Fail every read.
    fail_reads: bool,
}

/// An in-memory directory. Cloning shares the state.
#[derive(Clone, Debug, Default)]
pub struct MemoryDir {
    state: Arc<Mutex<State>>,
}

impl MemoryDir {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(feature = "fault-injection")]
impl MemoryDir {
    /// An empty directory that tells synced bytes from unsynced ones, so
    /// [`crash`](Self::crash) can drop or tear what was never synced.
    pub fn faulty() -> Self {
        let dir = Self::default();
        dir.lock().tracked = true;
        dir
    }

    /// Every sync after the next `n` fails with EIO.
    pub fn fail_syncs_after(&self, n: u64) {
        self.lock().syncs_until_failure = Some(n);
    }

    /// Writes that grow files by more than `bytes` in total fail with ENOSPC.
    pub fn set_space_left(&self, bytes: Option<u64>) {
        self.lock().space_left = bytes;
    }

    /// Makes every read fail with EIO.
    pub fn fail_reads(&self, on: bool) {
        self.lock().fail_reads = on;
    }

    /// The directory as it would be after a power loss now: a new,
    /// independent fault-tracking directory with no faults armed. On a
    /// directory made by [`new`](Self::new) every write counts as synced.
    pub fn crash(&self, mode: CrashMode) -> MemoryDir {
        let state = self.lock();
        let mut rng = match mode {
            CrashMode::Random(seed) => seed | 1,
            _ => 1,
        };
        let mut next = move || {
            // xorshift64: deterministic per seed, no dependency.
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut files = BTreeMap::new();
        // Without tracking every write counts as synced: all of it survives.
        let keep_all = !state.tracked || mode == CrashMode::KeepAll;
        for (name, f) in &state.files {
            let mut bytes = if keep_all {
                f.current.clone()
            } else {
                f.durable.clone()
            };
            if !keep_all {
                let n = f.unsynced.len();
                for (i, (offset, w)) in f.unsynced.iter().enumerate() {
                    let keep = match mode {
                        CrashMode::DropUnsynced | CrashMode::KeepAll => 0,
                        CrashMode::TearLast if i + 1 < n => w.len(),
                        CrashMode::TearLast => w.len() / 2,
                        CrashMode::Random(_) => match next() % 3 {
                            0 => 0,
                            1 => w.len(),
                            _ => (next() % (w.len() as u64 + 1)) as usize,
                        },
                    };
                    apply(&mut bytes, *offset, &w[..keep]);
                }
            }
            files.insert(
                name.clone(),
                MemFile {
                    durable: bytes.clone(),
                    current: bytes,
                    ..MemFile::default()
                },
            );
        }
        MemoryDir {
            state: Arc::new(Mutex::new(State {
                files,
                tracked: true,
                ..State::default()
            })),
        }
    }

    /// Replaces a file's bytes (durably): to plant corruption.
    pub fn put_file(&self, name: &str, bytes: Vec<u8>) {
        self.put_durable(name, bytes);
    }

    /// A file's current bytes.
    pub fn file(&self, name: &str) -> Option<Vec<u8>> {
        self.lock().files.get(name).map(|f| f.current.clone())
    }
}

impl MemoryDir {
    fn put_durable(&self, name: &str, bytes: Vec<u8>) {
        let mut state = self.lock();
        let durable = if state.tracked { bytes.clone() } else { Vec::new() };
        state.files.insert(
            name.to_owned(),
            MemFile {
                durable,
                current: bytes,
                ..MemFile::default()
            },
        );
    }
}

struct MemoryFile {
    dir: MemoryDir,
    name: String,
}

fn eio(what: &str) -> io::Error {
    io::Error::other(format!("injected I/O error: {what}"))
}

impl MemoryFile {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> io::Result<T>) -> io::Result<T> {
        let mut state = self.dir.lock();
        if !state.files.contains_key(&self.name) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "file removed"));
        }
        f(&mut state)
    }
}

impl DataFile for MemoryFile {
    fn len(&self) -> io::Result<u64> {
        self.with(|s| Ok(s.files[&self.name].current.len() as u64))
    }

    fn write_all_at(&self, writes: &[(u64, &[u8])]) -> io::Result<()> {
        self.with(|s| {
            let tracked = s.tracked;
            for (offset, bytes) in writes {
                let cur_len = s.files[&self.name].current.len() as u64;
                let growth = (offset + bytes.len() as u64).saturating_sub(cur_len);
                let mut len = bytes.len();
                if let Some(left) = s.space_left.as_mut() {
                    if growth > *left {
                        // A partial write up to the space left, then ENOSPC.
                        len = (cur_len + *left).saturating_sub(*offset).min(len as u64) as usize;
                        *left = 0;
                        let f = s.files.get_mut(&self.name).ok_or_else(|| eio("gone"))?;
                        apply(&mut f.current, *offset, &bytes[..len]);
                        if tracked {
                            f.unsynced.push((*offset, bytes[..len].to_vec()));
                        }
                        return Err(io::Error::from_raw_os_error(libc::ENOSPC));
                    }
                    *left -= growth;
                }
                let f = s.files.get_mut(&self.name).ok_or_else(|| eio("gone"))?;
                apply(&mut f.current, *offset, &bytes[..len]);
                if tracked {
                    f.unsynced.push((*offset, bytes.to_vec()));
                }
            }
            Ok(())
        })
    }

    fn read_exact_at(&self, reads: &mut [(u64, &mut [u8])]) -> io::Result<()> {
        self.with(|s| {
            if s.fail_reads {
                return Err(eio("read"));
            }
            let cur = &s.files[&self.name].current;
            for (offset, buf) in reads.iter_mut() {
                let end = *offset as usize + buf.len();
                let src = cur
                    .get(*offset as usize..end)
                    .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
                buf.copy_from_slice(src);
            }
            Ok(())
        })
    }

    fn sync_data(&self) -> io::Result<()> {
        self.with(|s| {
            if let Some(n) = s.syncs_until_failure.as_mut() {
                if *n == 0 {
                    return Err(eio("fsync"));
                }
                *n -= 1;
            }
            let tracked = s.tracked;
            let f = s.files.get_mut(&self.name).ok_or_else(|| eio("gone"))?;
            if tracked {
                f.durable.clone_from(&f.current);
            }
            f.unsynced.clear();
            Ok(())
        })
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.with(|s| {
            let f = s.files.get_mut(&self.name).ok_or_else(|| eio("gone"))?;
            f.current.resize(len as usize, 0);
            // Treat a truncation as durable at once (ext4 and xfs order it before later data).
            f.durable.truncate(len as usize);
            f.unsynced.retain(|(o, _)| *o < len);
            for (o, w) in &mut f.unsynced {
                w.truncate((len - *o) as usize);
            }
            Ok(())
        })
    }
}

impl StorageDir for MemoryDir {
    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.lock().files.keys().cloned().collect())
    }

    fn open(&self, name: &str, create: bool) -> io::Result<Arc<dyn DataFile>> {
        let mut state = self.lock();
        if !state.files.contains_key(name) {
            if !create {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{name} not found"),
                ));
            }
            state.files.insert(name.to_owned(), MemFile::default());
        }
        Ok(Arc::new(MemoryFile {
            dir: self.clone(),
            name: name.to_owned(),
        }))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.lock()
            .files
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{name} not found")))
    }

    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.put_durable(name, bytes.to_vec());
        Ok(())
    }

    fn read_file(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self.lock().files.get(name).map(|f| f.current.clone()))
    }

    fn describe(&self) -> String {
        if self.lock().tracked {
            "in-memory fault-injecting directory".to_owned()
        } else {
            "in-memory directory".to_owned()
        }
    }
}
