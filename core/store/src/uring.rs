//! Batched positional reads and writes through io_uring: one ring per
//! thread, up to `DEPTH` operations in flight, short transfers resubmitted.
//!
//! This is the crate's only `unsafe`: the kernel reads or writes the
//! callers' buffers between submission and completion, so every function
//! here waits for every operation it submitted before it returns.

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use io_uring::{IoUring, opcode, types};

use crate::record::AlignedBuf;

/// Operations in flight per ring: enough to keep an NVMe queue busy.
const DEPTH: usize = 64;
/// The most bytes one operation moves (the kernel caps a transfer below 2 GiB).
const MAX_OP: usize = 1 << 30;

thread_local! {
    static RING: RefCell<Option<IoUring>> = const { RefCell::new(None) };
}

/// Checks that a ring can be made and runs a no-op.
pub(crate) fn probe() -> io::Result<()> {
    let mut ring = IoUring::new(2)?;
    let nop = opcode::Nop::new().build().user_data(7);
    // SAFETY: a no-op references no memory.
    unsafe { ring.submission().push(&nop) }.map_err(|_| io::Error::other("io_uring queue full"))?;
    ring.submit_and_wait(1)?;
    match ring.completion().next() {
        Some(c) if c.result() >= 0 => Ok(()),
        Some(c) => Err(io::Error::from_raw_os_error(-c.result())),
        None => Err(io::Error::other("io_uring returned no completion")),
    }
}

struct Op {
    ptr: *mut u8,
    len: usize,
    offset: u64,
    done: usize,
}

/// Most iovecs in one vectored write (Linux's IOV_MAX is 1024).
const MAX_IOVECS: usize = 512;

/// Writes every `(offset, bytes)` in full. Runs of contiguous writes go out
/// as one vectored write each: a batch of records becomes one operation,
/// which measured several times cheaper in kernel time than one operation
/// per record when each extends the file.
pub(crate) fn write_all_at(file: &File, writes: &[(u64, &[u8])]) -> io::Result<()> {
    // Group contiguous runs.
    let mut groups: Vec<(u64, Vec<usize>, usize)> = Vec::new();
    for (i, (offset, b)) in writes.iter().enumerate() {
        match groups.last_mut() {
            Some((start, members, total))
                if *start + *total as u64 == *offset
                    && members.len() < MAX_IOVECS
                    && *total + b.len() <= MAX_OP =>
            {
                members.push(i);
                *total += b.len();
            }
            _ => groups.push((*offset, vec![i], b.len())),
        }
    }
    if groups.iter().all(|g| g.1.len() == 1) {
        return write_each(file, writes);
    }
    let iovecs: Vec<Vec<libc::iovec>> = groups
        .iter()
        .map(|(_, members, _)| {
            members
                .iter()
                .map(|&i| libc::iovec {
                    iov_base: writes[i].1.as_ptr().cast_mut().cast(),
                    iov_len: writes[i].1.len(),
                })
                .collect()
        })
        .collect();
    let done = run_vectored(file, &groups, &iovecs)?;
    // Finish any short vectored write piece by piece.
    let mut rest: Vec<(u64, &[u8])> = Vec::new();
    for ((_, members, _), mut written) in groups.iter().zip(done) {
        for &i in members {
            let (offset, b) = writes[i];
            let skip = written.min(b.len());
            written -= skip;
            if skip < b.len() {
                rest.push((offset + skip as u64, &b[skip..]));
            }
        }
    }
    if rest.is_empty() {
        Ok(())
    } else {
        write_each(file, &rest)
    }
}

/// Submits one vectored write per group; returns the bytes each wrote.
fn run_vectored(
    file: &File,
    groups: &[(u64, Vec<usize>, usize)],
    iovecs: &[Vec<libc::iovec>],
) -> io::Result<Vec<usize>> {
    with_ring(|ring| {
        let fd = types::Fd(file.as_raw_fd());
        let mut done = vec![0usize; groups.len()];
        let mut first_err: Option<io::Error> = None;
        for (chunk_start, chunk) in groups.chunks(DEPTH).enumerate().map(|(c, g)| (c * DEPTH, g)) {
            for (j, (offset, _, _)) in chunk.iter().enumerate() {
                let v = &iovecs[chunk_start + j];
                let entry = opcode::Writev::new(fd, v.as_ptr(), v.len() as u32)
                    .offset(*offset)
                    .build()
                    .user_data((chunk_start + j) as u64);
                // SAFETY: the iovecs and the buffers they name outlive the
                // operation: every submitted entry is reaped below before return.
                if unsafe { ring.submission().push(&entry) }.is_err() {
                    // Entries pushed so far must never be submitted later: drop the ring.
                    return Err(RingBroken(io::Error::other("io_uring submission queue full")));
                }
            }
            let mut pending = chunk.len();
            let mut submitted = false;
            while pending > 0 {
                match ring.submit_and_wait(pending) {
                    Ok(_) => submitted = true,
                    Err(e) if retryable(&e) => continue,
                    Err(e) => return Err(enter_failed(e, submitted)),
                }
                for cqe in ring.completion() {
                    pending -= 1;
                    let i = cqe.user_data() as usize;
                    if cqe.result() < 0 {
                        let e = io::Error::from_raw_os_error(-cqe.result());
                        // A retryable failure wrote nothing: the piecewise path finishes it.
                        if !retryable(&e) && first_err.is_none() {
                            first_err = Some(e);
                        }
                    } else {
                        done[i] = cqe.result() as usize;
                    }
                }
            }
        }
        Ok(match first_err {
            Some(e) => Err(e),
            None => Ok(done),
        })
    })
}

/// Writes every `(offset, bytes)` in full, one operation each.
fn write_each(file: &File, writes: &[(u64, &[u8])]) -> io::Result<()> {
    let mut ops: Vec<Op> = writes
        .iter()
        .map(|(offset, b)| Op {
            ptr: b.as_ptr().cast_mut(),
            len: b.len(),
            offset: *offset,
            done: 0,
        })
        .collect();
    run(file, &mut ops, true, &mut |_| {})
}

/// Fills every `(offset, buffer)` in full.
pub(crate) fn read_exact_at(file: &File, reads: &mut [(u64, &mut [u8])]) -> io::Result<()> {
    let mut ops: Vec<Op> = reads
        .iter_mut()
        .map(|(offset, b)| Op {
            ptr: b.as_mut_ptr(),
            len: b.len(),
            offset: *offset,
            done: 0,
        })
        .collect();
    run(file, &mut ops, false, &mut |_| {})
}

/// Reads every `(offset, buffer)` in full, handing each buffer to `done` as
/// soon as its own read completes (the others may still be in flight), so
/// the caller can work on early arrivals while the device serves the rest.
/// After a failure no new read starts: every buffer not yet handed over
/// goes to `done` with that error once nothing is in flight.
pub(crate) fn read_each(
    file: &File,
    reads: Vec<(u64, AlignedBuf)>,
    done: &mut dyn FnMut(usize, io::Result<AlignedBuf>),
) {
    let mut slots: Vec<Option<AlignedBuf>> = Vec::with_capacity(reads.len());
    let mut ops: Vec<Op> = Vec::with_capacity(reads.len());
    for (offset, mut b) in reads {
        let s = b.as_mut_slice();
        ops.push(Op {
            ptr: s.as_mut_ptr(),
            len: s.len(),
            offset,
            done: 0,
        });
        slots.push(Some(b));
    }
    // A buffer moves out only once its read completed: the kernel no longer
    // writes to it, and its heap bytes (which the Op points at) do not move.
    let result = run(file, &mut ops, false, &mut |i| {
        if let Some(b) = slots[i].take() {
            done(i, Ok(b));
        }
    });
    let err = result
        .err()
        .unwrap_or_else(|| io::Error::other("read never completed"));
    for (i, slot) in slots.iter_mut().enumerate() {
        if let Some(_unread) = slot.take() {
            done(i, Err(io::Error::new(err.kind(), err.to_string())));
        }
    }
}

/// io_uring_enter failed with nothing in flight: the ring (and any entries
/// still queued in it) must be dropped, never submitted later.
struct RingBroken(io::Error);

/// This thread's ring, made on first use, for `f`; dropped when `f` says it broke.
fn with_ring<T>(f: impl FnOnce(&mut IoUring) -> Result<io::Result<T>, RingBroken>) -> io::Result<T> {
    RING.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(IoUring::new(DEPTH as u32)?);
        }
        let Some(ring) = slot.as_mut() else {
            return Err(io::Error::other("io_uring ring missing"));
        };
        match f(ring) {
            Ok(result) => result,
            Err(RingBroken(e)) => {
                *slot = None;
                Err(e)
            }
        }
    })
}

/// A failed io_uring_enter. With operations in flight the kernel may still
/// write into buffers we would hand back: stopping the process is the only
/// memory-safe way out. With none, the ring is dropped.
fn enter_failed(e: io::Error, in_flight: bool) -> RingBroken {
    if in_flight {
        eprintln!("fatal: io_uring_enter failed with operations in flight: {e}");
        std::process::abort();
    }
    RingBroken(e)
}

fn retryable(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN | libc::EBUSY))
}

/// Runs `ops` to completion, calling `complete(i)` as each one finishes in full.
fn run(file: &File, ops: &mut [Op], write: bool, complete: &mut dyn FnMut(usize)) -> io::Result<()> {
    with_ring(|ring| {
        let fd = types::Fd(file.as_raw_fd());
        let mut next = 0;
        let mut requeue: Vec<usize> = Vec::new();
        let (mut queued, mut in_flight) = (0usize, 0usize);
        let mut first_err: Option<io::Error> = None;
        loop {
            while first_err.is_none() && queued + in_flight < DEPTH {
                let i = match requeue.pop() {
                    Some(i) => i,
                    None if next < ops.len() => {
                        next += 1;
                        next - 1
                    }
                    None => break,
                };
                let op = &ops[i];
                let len = (op.len - op.done).min(MAX_OP) as u32;
                let at = op.offset + op.done as u64;
                // SAFETY: `done < len`, so the pointer stays inside the caller's buffer.
                let ptr = unsafe { op.ptr.add(op.done) };
                let entry = if write {
                    opcode::Write::new(fd, ptr, len).offset(at).build()
                } else {
                    opcode::Read::new(fd, ptr, len).offset(at).build()
                };
                // SAFETY: the buffer outlives the operation: this function
                // does not return while any submitted operation is in flight.
                if unsafe { ring.submission().push(&entry.user_data(i as u64)) }.is_err() {
                    requeue.push(i);
                    break;
                }
                queued += 1;
            }
            if queued + in_flight == 0 {
                break;
            }
            match ring.submit_and_wait(1) {
                Ok(n) => {
                    queued -= n.min(queued);
                    in_flight += n;
                }
                Err(e) if retryable(&e) => {}
                Err(e) => return Err(enter_failed(e, in_flight > 0)),
            }
            for cqe in ring.completion() {
                in_flight -= 1;
                let i = cqe.user_data() as usize;
                let res = cqe.result();
                let op = &mut ops[i];
                if res < 0 {
                    let e = io::Error::from_raw_os_error(-res);
                    if retryable(&e) {
                        requeue.push(i);
                    } else if first_err.is_none() {
                        first_err = Some(e);
                    }
                } else if res == 0 && op.len > op.done {
                    if first_err.is_none() {
                        first_err = Some(if write {
                            io::Error::new(io::ErrorKind::WriteZero, "io_uring write made no progress")
                        } else {
                            io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end of the file")
                        });
                    }
                } else {
                    op.done += res as usize;
                    if op.done < op.len {
                        requeue.push(i);
                    } else {
                        complete(i);
                    }
                }
            }
            if first_err.is_some() && in_flight == 0 && queued == 0 {
                break;
            }
        }
        Ok(match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_each_hands_over_every_buffer_once_with_its_own_outcome() {
        if probe().is_err() {
            eprintln!("io_uring unavailable here; skipped");
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("f");
        let bytes: Vec<u8> = (0..3 * 4096u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).expect("write");
        let file = File::open(&path).expect("open");
        let reads: Vec<(u64, AlignedBuf)> = [0u64, 8192, 4096, 1 << 20]
            .iter()
            .map(|o| (*o, AlignedBuf::zeroed(4096)))
            .collect();
        let mut got: Vec<(usize, io::Result<AlignedBuf>)> = Vec::new();
        read_each(&file, reads, &mut |i, r| got.push((i, r)));
        got.sort_by_key(|(i, _)| *i);
        assert_eq!(got.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 1, 2, 3]);
        for (i, at) in [(0usize, 0usize), (1, 8192), (2, 4096)] {
            let b = got[i].1.as_ref().expect("an in-file read succeeds");
            assert_eq!(&b[..], &bytes[at..at + 4096], "read {i}");
        }
        let past = got[3].1.as_ref().expect_err("a read past the end fails");
        assert_eq!(past.kind(), io::ErrorKind::UnexpectedEof);
    }
}
