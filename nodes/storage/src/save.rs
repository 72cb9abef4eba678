//! Saving a streamed download durably: the bytes gather in aligned blocks, each
//! written with `O_DIRECT` on a thread of its own while the next fills. That skips
//! the page-cache copy and the writeback the final fsync would wait for, which
//! `perf` showed as a quarter of a download's time. Where the file system refuses
//! `O_DIRECT` (tmpfs before Linux 6.6, some network file systems), the same blocks
//! go through the page cache instead, with the kernel told to start writing each
//! one back.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Bytes per block: a whole number of segments, so a hasher fed whole blocks
/// hashes them in place.
const BLOCK: usize = 32 * zg_merkle::SEGMENT_SIZE;
/// Blocks in use at once: one filling, two being written.
const BLOCKS: usize = 3;
/// `O_DIRECT`'s alignment rule for buffers, offsets and lengths.
const ALIGN: usize = 4096;

/// A 4 KiB-aligned block, made without `unsafe` by over-allocating.
struct Block {
    raw: Vec<u8>,
    start: usize,
}

impl Block {
    fn new() -> Self {
        let raw = vec![0u8; BLOCK + ALIGN];
        let start = raw.as_ptr().align_offset(ALIGN);
        Self { raw, start }
    }

    fn bytes(&self) -> &[u8] {
        &self.raw[self.start..self.start + BLOCK]
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + BLOCK]
    }
}

/// One block for the writer thread: where it goes and how many of its bytes.
struct Job {
    offset: u64,
    block: Block,
    len: usize,
}

/// Writes a file of a known length front to back from arbitrary chunks.
pub(crate) struct BlockWriter {
    file: std::sync::Arc<File>,
    filling: Option<Block>,
    filled: usize,
    offset: u64,
    free: mpsc::Receiver<Block>,
    jobs: Option<mpsc::SyncSender<Job>>,
    writer: Option<JoinHandle<io::Result<()>>>,
}

impl BlockWriter {
    /// Creates (or truncates) `path`, with `O_DIRECT` where the file system takes it.
    pub(crate) fn create(path: &Path) -> io::Result<Self> {
        Self::open(path, true)
    }

    /// [`BlockWriter::create`]; `try_direct` false goes through the page cache.
    fn open(path: &Path, try_direct: bool) -> io::Result<Self> {
        let opened = if try_direct {
            let direct = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .custom_flags(libc::O_DIRECT)
                .open(path);
            match direct {
                Ok(f) => Some(f),
                // The file system takes no O_DIRECT: the page cache below.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        let mut direct = opened.is_some();
        let file = match opened {
            Some(f) => f,
            None => File::create(path)?,
        };
        let file = std::sync::Arc::new(file);
        let (free_tx, free) = mpsc::sync_channel(BLOCKS);
        for _ in 1..BLOCKS {
            let _ = free_tx.send(Block::new());
        }
        let (jobs, rx) = mpsc::sync_channel::<Job>(BLOCKS);
        let f = file.clone();
        let writer = std::thread::Builder::new()
            .name("zg-download-writer".into())
            .spawn(move || -> io::Result<()> {
                for job in rx {
                    direct = write_block(&f, &job, direct)?;
                    // The filling side may have finished: a closed channel is not an error.
                    let _ = free_tx.send(job.block);
                }
                Ok(())
            })?;
        Ok(Self {
            file,
            filling: Some(Block::new()),
            filled: 0,
            offset: 0,
            free,
            jobs: Some(jobs),
            writer: Some(writer),
        })
    }

    /// Appends `data`; `on_block` sees every full block (whole segments) before it
    /// is written, so the caller can hash it in place.
    pub(crate) fn write(&mut self, mut data: &[u8], mut on_block: impl FnMut(&[u8])) -> io::Result<()> {
        while !data.is_empty() {
            let Some(block) = self.filling.as_mut() else {
                return Err(self.writer_failed());
            };
            let take = data.len().min(BLOCK - self.filled);
            block.bytes_mut()[self.filled..self.filled + take].copy_from_slice(&data[..take]);
            self.filled += take;
            data = &data[take..];
            if self.filled == BLOCK {
                on_block(block.bytes());
                self.hand_off(BLOCK)?;
            }
        }
        Ok(())
    }

    /// Sends the filling block to the writer and takes a free one.
    fn hand_off(&mut self, len: usize) -> io::Result<()> {
        let Some(block) = self.filling.take() else {
            return Err(self.writer_failed());
        };
        let job = Job {
            offset: self.offset,
            block,
            len,
        };
        self.offset += len as u64;
        self.filled = 0;
        let sent = self.jobs.as_ref().is_some_and(|j| j.send(job).is_ok());
        if !sent {
            return Err(self.writer_failed());
        }
        match self.free.recv() {
            Ok(b) => {
                self.filling = Some(b);
                Ok(())
            }
            Err(_) => Err(self.writer_failed()),
        }
    }

    /// The writer thread stopped: its error.
    fn writer_failed(&mut self) -> io::Error {
        self.jobs = None;
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            Some(Err(_)) => io::Error::other("the download's writer thread panicked"),
            _ => io::Error::other("the download's writer thread stopped"),
        }
    }

    /// Writes what remains (`on_rest` sees it first), cuts the file to its length and
    /// fsyncs it. Returns the file's length.
    pub(crate) fn finish(mut self, on_rest: impl FnOnce(&[u8])) -> io::Result<u64> {
        let rest = self.filled;
        let len = self.offset + rest as u64;
        if let Some(block) = self.filling.as_mut() {
            on_rest(&block.bytes()[..rest]);
            // O_DIRECT writes whole 4 KiB blocks: the tail goes out padded with zeros
            // and the file is cut back to its length below.
            let padded = rest.div_ceil(ALIGN) * ALIGN;
            block.bytes_mut()[rest..padded].fill(0);
            if padded > 0 {
                self.hand_off(padded)?;
            }
        }
        self.jobs = None;
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(r)) => r?,
            Some(Err(_)) => return Err(io::Error::other("the download's writer thread panicked")),
            None => return Err(io::Error::other("the download's writer thread stopped")),
        }
        self.file.set_len(len)?;
        self.file.sync_all()?;
        Ok(len)
    }
}

/// Writes one block in full; returns whether the file is still in `O_DIRECT` mode.
/// A file that refuses `O_DIRECT` at the first write (some file systems only check
/// then) falls back to the page cache.
fn write_block(file: &File, job: &Job, direct: bool) -> io::Result<bool> {
    let bytes = &job.block.bytes()[..job.len];
    let direct = match file.write_all_at(bytes, job.offset) {
        Err(e) if direct && e.raw_os_error() == Some(libc::EINVAL) && clear_direct(file) => {
            file.write_all_at(bytes, job.offset)?;
            false
        }
        r => {
            r?;
            direct
        }
    };
    if !direct {
        start_writeback(file, job.offset, bytes.len() as u64);
    }
    Ok(direct)
}

/// Asks the kernel to start writing a range of `file` back now, without waiting, so
/// the final fsync waits for the tail rather than the whole file. Best effort: the
/// fsync reports any error.
pub(crate) fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: sync_file_range reads no memory of ours; on a bad descriptor or range it only returns an error.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

/// Turns `O_DIRECT` off on `file`; whether it was on and is now off.
fn clear_direct(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl with F_GETFL/F_SETFL reads and sets flags of a descriptor we own;
    // no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0
            && flags & libc::O_DIRECT != 0
            && libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_DIRECT) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 12) as u8)
            .collect()
    }

    /// Every length around the block and alignment edges, fed in odd chunk sizes:
    /// the file on disk is the bytes, and the callbacks saw each byte once, in order.
    #[test]
    fn files_are_written_exactly_whatever_the_chunking() {
        let dir = tempfile::tempdir().unwrap();
        for (len, chunk) in [
            (0, 7),
            (1, 1),
            (ALIGN - 1, 1000),
            (ALIGN, 4096),
            (BLOCK - 1, 65_537),
            (BLOCK, 1 << 20),
            (BLOCK + 1, 300_001),
            (2 * BLOCK + ALIGN + 5, 1 << 22),
            (3 * BLOCK, BLOCK),
        ] {
            let data = bytes(len, len as u8);
            let path = dir.path().join(format!("f{len}"));
            let mut w = BlockWriter::create(&path).unwrap();
            let mut seen = Vec::new();
            for c in data.chunks(chunk) {
                w.write(c, |b| {
                    assert_eq!(b.len(), BLOCK);
                    seen.extend_from_slice(b);
                })
                .unwrap();
            }
            let n = w.finish(|rest| seen.extend_from_slice(rest)).unwrap();
            assert_eq!(n, len as u64);
            assert!(seen == data, "callbacks, {len} bytes");
            assert!(std::fs::read(&path).unwrap() == data, "file, {len} bytes");
        }
    }

    /// The page-cache path (file systems that refuse O_DIRECT) writes the same bytes.
    #[test]
    fn the_page_cache_path_writes_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let data = bytes(BLOCK + 12_345, 9);
        let path = dir.path().join("f");
        let mut w = BlockWriter::open(&path, false).unwrap();
        w.write(&data, |_| {}).unwrap();
        assert_eq!(w.finish(|_| {}).unwrap(), data.len() as u64);
        assert!(std::fs::read(&path).unwrap() == data);
    }

    /// A file opened with O_DIRECT can be turned to the page cache once (the
    /// fallback for file systems that refuse O_DIRECT only at the first write).
    #[test]
    fn direct_io_is_turned_off_on_an_open_file() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let Ok(f) = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_DIRECT)
            .open(&path)
        else {
            panic!("the test's temp dir takes no O_DIRECT: point TMPDIR at a disk file system");
        };
        assert!(clear_direct(&f));
        // SAFETY: F_GETFL on a descriptor we own reads no memory of ours.
        let flags = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & libc::O_DIRECT, 0);
        assert!(!clear_direct(&f), "already off");
        // Unaligned writes now work.
        f.write_all_at(b"abc", 1).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"\0abc");
    }
}
