//! Where the store's bytes go: a directory of files, on a real file system
//! (io_uring or pread/pwrite) or in memory with injected faults.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::uring;
use crate::record::AlignedBuf;

/// One file of the store.
#[allow(clippy::len_without_is_empty)] // a file's length is an I/O call, emptiness is never asked
pub trait DataFile: Send + Sync {
    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Writes every `(offset, bytes)` completely, as one batch; on error
    /// some of them may have been written.
    fn write_all_at(&self, writes: &[(u64, &[u8])]) -> io::Result<()>;
    /// Fills every `(offset, buffer)` completely; end of file is an error.
    fn read_exact_at(&self, reads: &mut [(u64, &mut [u8])]) -> io::Result<()>;
    /// Fills every `(offset, buffer)` completely, handing each to `done` with
    /// its index as soon as it is read (a backend that overlaps reads may
    /// hand over early arrivals while later ones are in flight). Every buffer
    /// is handed over exactly once, with its read's outcome.
    fn read_each(&self, reads: Vec<(u64, AlignedBuf)>, done: &mut dyn FnMut(usize, io::Result<AlignedBuf>)) {
        for (i, (offset, mut buf)) in reads.into_iter().enumerate() {
            let read = self.read_exact_at(&mut [(offset, buf.as_mut_slice())]);
            done(i, read.map(|()| buf));
        }
    }
    /// Makes every completed write durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// Truncates or extends the file.
    fn set_len(&self, len: u64) -> io::Result<()>;
}

/// A directory of store files.
pub trait StorageDir: Send + Sync {
    /// Names of the files in the directory.
    fn list(&self) -> io::Result<Vec<String>>;
    /// Opens `name`, creating it (durably: the directory is synced) when `create`.
    fn open(&self, name: &str, create: bool) -> io::Result<Arc<dyn DataFile>>;
    /// Removes `name` durably.
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Replaces `name` with `bytes` atomically and durably (write, sync, rename, sync directory).
    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// The whole of `name`, or `None` if it does not exist.
    fn read_file(&self, name: &str) -> io::Result<Option<Vec<u8>>>;
    /// How I/O is done, for logs ("io_uring", "pread/pwrite", ...).
    fn describe(&self) -> String;
}

/// How a [`FsDir`] does file I/O.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IoMode {
    /// io_uring when the kernel permits it, else pread/pwrite (said once in the log).
    #[default]
    Auto,
    /// io_uring or an error.
    Uring,
    /// pread/pwrite.
    Sync,
}

/// Whether io_uring works here: checked once per process, with the reason when not.
pub fn uring_support() -> &'static Result<(), String> {
    static SUPPORT: OnceLock<Result<(), String>> = OnceLock::new();
    SUPPORT.get_or_init(|| {
        let r = uring::probe().map_err(|e| e.to_string());
        if let Err(reason) = &r {
            tracing::warn!(
                reason = %reason,
                "io_uring is not permitted here (seccomp, container policy or an old kernel); \
                 the segment store falls back to pread/pwrite"
            );
        }
        r
    })
}

/// A directory on a real file system.
#[derive(Debug, Clone)]
pub struct FsDir {
    path: PathBuf,
    uring: bool,
    direct_reads: bool,
    direct_writes: bool,
}

/// Whether every buffer, offset and length is a multiple of the alignment O_DIRECT needs.
fn aligned<'a>(mut ops: impl Iterator<Item = (u64, &'a [u8])>) -> bool {
    let a = super::record::ALIGN;
    ops.all(|(o, b)| {
        o.is_multiple_of(a) && (b.len() as u64).is_multiple_of(a) && (b.as_ptr() as u64).is_multiple_of(a)
    })
}

impl FsDir {
    /// Opens (creating) the directory at `path`.
    pub fn open(path: impl AsRef<Path>, mode: IoMode) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        fs::create_dir_all(&path)?;
        let uring = match mode {
            IoMode::Sync => false,
            IoMode::Auto => uring_support().is_ok(),
            IoMode::Uring => match uring_support() {
                Ok(()) => true,
                Err(reason) => {
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        format!("io_uring unavailable: {reason}"),
                    ));
                }
            },
        };
        Ok(Self {
            path,
            uring,
            direct_reads: false,
            direct_writes: true,
        })
    }

    /// Reads through `O_DIRECT`, bypassing the page cache (when the file
    /// system supports it; silently buffered otherwise).
    pub fn direct_reads(mut self, on: bool) -> Self {
        self.direct_reads = on;
        self
    }

    /// Writes through `O_DIRECT` (the default): records go from the store's
    /// aligned buffers to the device without a page-cache copy. Silently
    /// buffered where the file system refuses `O_DIRECT` (tmpfs).
    pub fn direct_writes(mut self, on: bool) -> Self {
        self.direct_writes = on;
        self
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.path)?.sync_all()
    }
}

struct FsFile {
    file: File,
    /// A second descriptor with `O_DIRECT` for reads, when asked for and supported.
    direct: Option<File>,
    /// One with `O_DIRECT` for writes, when asked for and supported.
    direct_writes: Option<File>,
    uring: bool,
}

impl DataFile for FsFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn write_all_at(&self, writes: &[(u64, &[u8])]) -> io::Result<()> {
        let file = match &self.direct_writes {
            Some(d) if aligned(writes.iter().copied()) => d,
            _ => &self.file,
        };
        if self.uring {
            return uring::write_all_at(file, writes);
        }
        for (offset, bytes) in writes {
            file.write_all_at(bytes, *offset)?;
        }
        Ok(())
    }

    fn read_exact_at(&self, reads: &mut [(u64, &mut [u8])]) -> io::Result<()> {
        // O_DIRECT only takes aligned offsets, lengths and buffers; others go through the cache.
        let file = match &self.direct {
            Some(d) if aligned(reads.iter().map(|(o, b)| (*o, &b[..]))) => d,
            _ => &self.file,
        };
        if self.uring {
            return uring::read_exact_at(file, reads);
        }
        for (offset, buf) in reads.iter_mut() {
            file.read_exact_at(buf, *offset)?;
        }
        Ok(())
    }

    fn read_each(&self, reads: Vec<(u64, AlignedBuf)>, done: &mut dyn FnMut(usize, io::Result<AlignedBuf>)) {
        let file = match &self.direct {
            Some(d) if aligned(reads.iter().map(|(o, b)| (*o, &b[..]))) => d,
            _ => &self.file,
        };
        if self.uring {
            return uring::read_each(file, reads, done);
        }
        for (i, (offset, mut buf)) in reads.into_iter().enumerate() {
            let read = file.read_exact_at(buf.as_mut_slice(), offset);
            done(i, read.map(|()| buf));
        }
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
}

impl StorageDir for FsDir {
    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.path)? {
            let entry = entry?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn open(&self, name: &str, create: bool) -> io::Result<Arc<dyn DataFile>> {
        let path = self.path.join(name);
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .open(&path)?;
        if create && !existed {
            self.sync_dir()?;
        }
        let with_direct = |write: bool| {
            OpenOptions::new()
                .read(!write)
                .write(write)
                .custom_flags(libc::O_DIRECT)
                .open(&path)
                .ok()
        };
        Ok(Arc::new(FsFile {
            file,
            direct: self.direct_reads.then(|| with_direct(false)).flatten(),
            direct_writes: self.direct_writes.then(|| with_direct(true)).flatten(),
            uring: self.uring,
        }))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        fs::remove_file(self.path.join(name))?;
        self.sync_dir()
    }

    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let tmp = self.path.join(format!("{name}.tmp"));
        {
            let mut f = File::create(&tmp)?;
            io::Write::write_all(&mut f, bytes)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, self.path.join(name))?;
        self.sync_dir()
    }

    fn read_file(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.path.join(name)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn describe(&self) -> String {
        let io = if self.uring { "io_uring" } else { "pread/pwrite" };
        let reads = if self.direct_reads { ", O_DIRECT reads" } else { "" };
        let writes = if self.direct_writes {
            ", O_DIRECT writes"
        } else {
            ""
        };
        format!("{} ({io}{writes}{reads})", self.path.display())
    }
}
