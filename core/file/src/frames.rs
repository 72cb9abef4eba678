//! The binary segment format, a storage node's `POST /segments` (uploads: what 0G's
//! `zgs_uploadSegments` carries, without JSON or base64, for zg's own client) and
//! `GET /segments/{root}` (segments with their proofs, in bulk, for peers that
//! replicate). 0G's SDKs keep the JSON-RPC methods.
//!
//! A body is [`MAGIC`] and then, per segment: root (32 bytes), file size and index
//! (u64 LE), proof length (u32 LE) and zg-merkle's proof encoding, data length
//! (u32 LE) and the segment's bytes. A body of no segments asks whether the node
//! speaks the format.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use zg_codec::{CodecError, Reader, Writer};
use zg_merkle::{Hash, SEGMENT_SIZE};
use zg_store::RecordImage;

/// Starts every body: the format and its version.
pub const MAGIC: &[u8; 4] = b"ZGS1";
/// The body's media type.
pub const CONTENT_TYPE: &str = "application/vnd.zg.segments";
/// The longest proof a frame may carry: a BLAKE3 range proof's 128 nodes, with room.
pub const MAX_PROOF: usize = 8 << 10;
/// Bytes a frame adds to its proof and data.
const FRAME_HEADER: usize = FRAME_HEAD + 4;
/// Bytes of a frame before its proof: root, file size, index, proof length.
pub const FRAME_HEAD: usize = 32 + 8 + 8 + 4;

/// A frame's part before its proof, for readers that take a body piece by piece:
/// `proof_len` bytes of proof follow, then the data length ([`data_len`]) and the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHead {
    /// File root.
    pub root: Hash,
    /// Bytes of the whole file.
    pub file_size: u64,
    /// Segment index.
    pub index: u64,
    /// Bytes of proof that follow (at most [`MAX_PROOF`]).
    pub proof_len: usize,
}

impl FrameHead {
    /// Parses a frame's first [`FRAME_HEAD`] bytes, refusing a proof over [`MAX_PROOF`].
    pub fn parse(b: &[u8; FRAME_HEAD]) -> Result<Self, FrameError> {
        let mut r = Reader::new("segment frame", b);
        let head = FrameHead {
            root: r.array::<32>()?,
            file_size: r.u64()?,
            index: r.u64()?,
            proof_len: r.u32()? as usize,
        };
        if head.proof_len > MAX_PROOF {
            return Err(FrameError::Proof(head.proof_len));
        }
        Ok(head)
    }
}

/// The data length that follows a frame's proof, refused over a segment.
pub fn data_len(b: [u8; 4]) -> Result<usize, FrameError> {
    let n = u32::from_le_bytes(b) as usize;
    if n > SEGMENT_SIZE {
        return Err(FrameError::Data(n));
    }
    Ok(n)
}

/// One segment of a body, borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// File root.
    pub root: Hash,
    /// Bytes of the whole file.
    pub file_size: u64,
    /// Segment index.
    pub index: u64,
    /// zg-merkle's `SegmentProof` encoding.
    pub proof: &'a [u8],
    /// The segment's bytes.
    pub data: &'a [u8],
}

/// The largest body of `frames` segments.
pub fn body_limit(frames: usize) -> usize {
    MAGIC.len() + frames * (FRAME_HEADER + MAX_PROOF + SEGMENT_SIZE)
}

/// A body with no segments yet.
pub fn new_body(capacity: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(capacity);
    body.extend_from_slice(MAGIC);
    body
}

/// Appends a frame's header and proof to `body`; the caller appends the `data_len`
/// bytes of data right after (read straight into the body, never copied twice).
pub fn push_header(
    body: &mut Vec<u8>,
    root: &Hash,
    file_size: u64,
    index: u64,
    proof: &[u8],
    data_len: usize,
) {
    body.extend_from_slice(&header(root, file_size, index, proof, data_len));
}

/// A frame's header and proof, to send followed by the `data_len` bytes of data
/// (a body sent as a list of buffers: the data is never copied into it).
pub fn header(root: &Hash, file_size: u64, index: u64, proof: &[u8], data_len: usize) -> Vec<u8> {
    let mut w = Writer::with_capacity(FRAME_HEADER + proof.len());
    w.bytes(root)
        .u64(file_size)
        .u64(index)
        .u32(proof.len() as u32)
        .bytes(proof)
        .u32(data_len as u32);
    w.into_bytes()
}

/// Decodes a body of at most `max_frames` segments, each length checked before use.
pub fn decode(body: &[u8], max_frames: usize) -> Result<Vec<Frame<'_>>, FrameError> {
    let mut r = Reader::new("segment frames", body);
    if r.take(MAGIC.len())? != MAGIC {
        return Err(FrameError::Magic);
    }
    let mut frames = Vec::new();
    while r.remaining() > 0 {
        if frames.len() == max_frames {
            return Err(FrameError::TooMany(max_frames));
        }
        let head = FrameHead::parse(&r.array::<FRAME_HEAD>()?)?;
        let proof = r.take(head.proof_len)?;
        let len = data_len(r.array::<4>()?)?;
        let data = r.take(len)?;
        frames.push(Frame {
            root: head.root,
            file_size: head.file_size,
            index: head.index,
            proof,
            data,
        });
    }
    Ok(frames)
}

/// One segment read by [`FrameReader`]: its proof, and its data already in the store
/// record it will be written as.
#[derive(Debug)]
pub struct ReadFrame {
    /// zg-merkle's `SegmentProof` encoding, not yet checked.
    pub proof: Vec<u8>,
    /// The segment's bytes.
    pub data: RecordImage,
}

/// Why [`FrameReader`] gave no segments.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The body breaks the format or holds something else than was asked.
    #[error("{0}")]
    Bad(String),
    /// The body's source failed (the connection, mid-body).
    #[error("the body broke off: {0}")]
    Lost(String),
}

/// Reads segment frames from a body as it arrives (a stream of chunks, such as an
/// HTTP response), each segment's data straight into the store record it will be
/// written as: one copy from the chunks, none after. Every length is checked before
/// it is allocated, and the whole body is held to `limit` bytes.
pub struct FrameReader<S> {
    chunks: S,
    pending: Bytes,
    read: usize,
    limit: usize,
}

impl<S, E> FrameReader<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    /// A reader of `chunks`, refusing more than `limit` bytes in all.
    pub fn new(chunks: S, limit: usize) -> Self {
        Self {
            chunks,
            pending: Bytes::new(),
            read: 0,
            limit,
        }
    }

    /// The next chunk into `pending`; false at the end of the body.
    async fn more(&mut self) -> Result<bool, ReadError> {
        match self.chunks.next().await {
            Some(Ok(chunk)) => {
                self.read += chunk.len();
                if self.read > self.limit {
                    return Err(ReadError::Bad(format!("more than {} bytes", self.limit)));
                }
                self.pending = chunk;
                Ok(true)
            }
            Some(Err(e)) => Err(ReadError::Lost(e.to_string())),
            None => Ok(false),
        }
    }

    /// Fills `out` from the body.
    async fn fill(&mut self, out: &mut [u8]) -> Result<(), ReadError> {
        let mut at = 0;
        while at < out.len() {
            if self.pending.is_empty() {
                if !self.more().await? {
                    return Err(ReadError::Bad("the body is cut short".into()));
                }
                continue;
            }
            let n = (out.len() - at).min(self.pending.len());
            out[at..at + n].copy_from_slice(&self.pending.split_to(n));
            at += n;
        }
        Ok(())
    }

    /// Exactly segments `first..first + n` of the file `root` of `file_size` bytes:
    /// another file's or index's frame, or anything after the last, is refused.
    pub async fn segments(
        &mut self,
        root: &Hash,
        file_size: u64,
        first: u64,
        n: usize,
    ) -> Result<Vec<ReadFrame>, ReadError> {
        let bad = |e: FrameError| ReadError::Bad(e.to_string());
        let mut magic = [0u8; 4];
        self.fill(&mut magic).await?;
        if &magic != MAGIC {
            return Err(bad(FrameError::Magic));
        }
        let mut frames = Vec::with_capacity(n.min(MAX_FRAMES_AHEAD));
        for j in 0..n as u64 {
            let index = first
                .checked_add(j)
                .ok_or_else(|| ReadError::Bad(format!("segment {first}+{j} is past any file")))?;
            let mut head = [0u8; FRAME_HEAD];
            self.fill(&mut head).await?;
            let head = FrameHead::parse(&head).map_err(bad)?;
            if head.root != *root || head.file_size != file_size || head.index != index {
                return Err(ReadError::Bad(format!(
                    "segment {index} answered with another file's or index's frame"
                )));
            }
            let mut proof = vec![0u8; head.proof_len];
            self.fill(&mut proof).await?;
            let mut len = [0u8; 4];
            self.fill(&mut len).await?;
            let len = data_len(len).map_err(bad)?;
            // A segment is far below the store's payload limit.
            let mut data = RecordImage::for_payload(len)
                .ok_or_else(|| ReadError::Bad(format!("segment {index} of {len} bytes")))?;
            self.fill(data.payload_mut()).await?;
            frames.push(ReadFrame { proof, data });
        }
        if !self.pending.is_empty() || self.more().await? {
            return Err(ReadError::Bad(format!("more than the {n} segments asked")));
        }
        Ok(frames)
    }
}

/// Frames a reader makes room for before any arrives (a caller's `n` is not trusted).
const MAX_FRAMES_AHEAD: usize = 1024;

/// Why a body is not segment frames.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The body does not start with [`MAGIC`].
    #[error("not segment frames: the body must start with {MAGIC:?}")]
    Magic,
    /// More frames than one request may carry.
    #[error("more than {0} segments in one request")]
    TooMany(usize),
    /// A proof longer than [`MAX_PROOF`].
    #[error("a proof of {0} bytes; the limit is {MAX_PROOF}")]
    Proof(usize),
    /// Data longer than a segment.
    #[error("segment data of {0} bytes; a segment is at most {SEGMENT_SIZE}")]
    Data(usize),
    /// A frame cut short.
    #[error(transparent)]
    Codec(#[from] CodecError),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a future that never waits (its chunks are all there) to its end.
    fn now<F: std::future::Future>(f: F) -> F::Output {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::pin::pin!(f).poll(&mut cx) {
            std::task::Poll::Ready(out) => out,
            std::task::Poll::Pending => panic!("a reader of ready chunks waited"),
        }
    }

    fn read(
        body: &[u8],
        cut: usize,
        root: Hash,
        size: u64,
        first: u64,
        n: usize,
    ) -> Result<Vec<ReadFrame>, ReadError> {
        let chunks: Vec<Result<Bytes, String>> =
            body.chunks(cut).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        now(
            FrameReader::new(futures_util::stream::iter(chunks), body_limit(n))
                .segments(&root, size, first, n),
        )
    }

    #[test]
    fn frames_are_read_into_record_images_across_any_chunking() {
        let (root, size) = ([9; 32], 3 << 20);
        let a: Vec<u8> = (0..SEGMENT_SIZE).map(|i| (i % 253) as u8).collect();
        let b = vec![5u8; 1000];
        let mut good = new_body(0);
        for (i, d) in [(4, &a), (5, &b)] {
            push_header(&mut good, &root, size, i, b"proof", d.len());
            good.extend_from_slice(d);
        }
        // Chunks of 1 byte, odd sizes that split every field, and the whole body at once.
        for cut in [1, 7, 4099, good.len()] {
            let got = read(&good, cut, root, size, 4, 2).expect("a good body");
            assert_eq!(got.len(), 2);
            assert_eq!(&got[0].data[..], &a[..], "cut {cut}");
            assert_eq!(&got[1].data[..], &b[..], "cut {cut}");
            assert!(got.iter().all(|f| f.proof == b"proof"));
        }
        let refused = |r: Result<Vec<ReadFrame>, ReadError>| match r {
            Err(ReadError::Bad(why)) => why,
            other => panic!("expected a refusal, got {:?}", other.map(|s| s.len())),
        };
        // Cut short, one frame too many, another index, another file, another size, no magic.
        assert!(refused(read(&good[..good.len() - 1], 4096, root, size, 4, 2)).contains("cut short"));
        assert!(refused(read(&good, 4096, root, size, 4, 1)).contains("more than"));
        assert!(refused(read(&good, 4096, root, size, 5, 2)).contains("another file's or index's"));
        assert!(refused(read(&good, 4096, [8; 32], size, 4, 2)).contains("another file's or index's"));
        assert!(refused(read(&good, 4096, root, size + 1, 4, 2)).contains("another file's or index's"));
        assert!(refused(read(&good[4..], 4096, root, size, 4, 2)).contains("not segment frames"));
        // A frame claiming more data than a segment is refused before anything is allocated.
        let mut huge = good.clone();
        let at = 4 + FRAME_HEAD + 5;
        huge[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(refused(read(&huge, 4096, root, size, 4, 2)).contains("segment data"));
        // More bytes than the asked segments may take: refused as they arrive.
        let long = [good.clone(), vec![0; body_limit(2)]].concat();
        assert!(refused(read(&long, 1 << 20, root, size, 4, 2)).contains("more than"));
        // Asked past the last index there is: refused, not an overflow.
        let mut last = new_body(0);
        for _ in 0..2 {
            push_header(&mut last, &root, size, u64::MAX, b"p", 1);
            last.push(0);
        }
        assert_eq!(
            read(&last[..last.len() / 2 + 2], 4096, root, size, u64::MAX, 1)
                .map(|f| f.len())
                .ok(),
            Some(1)
        );
        assert!(refused(read(&last, 4096, root, size, u64::MAX, 2)).contains("past any file"));
        // A source that fails mid-body is told apart from a bad body.
        let broken: Vec<Result<Bytes, String>> =
            vec![Ok(Bytes::copy_from_slice(&good[..100])), Err("reset".into())];
        let lost = now(
            FrameReader::new(futures_util::stream::iter(broken), body_limit(2)).segments(&root, size, 4, 2),
        );
        assert!(matches!(lost, Err(ReadError::Lost(e)) if e == "reset"));
    }

    fn body(frames: &[Frame<'_>]) -> Vec<u8> {
        let mut b = new_body(0);
        for f in frames {
            push_header(&mut b, &f.root, f.file_size, f.index, f.proof, f.data.len());
            b.extend_from_slice(f.data);
        }
        b
    }

    #[test]
    fn frames_round_trip() {
        let data = vec![7u8; SEGMENT_SIZE];
        let frames = [
            Frame {
                root: [1; 32],
                file_size: 3 << 20,
                index: 4,
                proof: b"Bproof",
                data: &data,
            },
            Frame {
                root: [2; 32],
                file_size: 5,
                index: 0,
                proof: &[],
                data: &data[..5],
            },
        ];
        let b = body(&frames);
        assert_eq!(decode(&b, 2).unwrap(), frames);
        assert!(b.len() <= body_limit(2));
        assert!(decode(MAGIC, 0).unwrap().is_empty());
    }

    #[test]
    fn bad_bodies_are_refused() {
        let data = [9u8; 16];
        let one = Frame {
            root: [3; 32],
            file_size: 16,
            index: 0,
            proof: b"B",
            data: &data,
        };
        let b = body(&[one, one]);
        assert!(matches!(decode(&b, 1), Err(FrameError::TooMany(1))));
        // Cut anywhere but between frames, a body is refused.
        let frame_len = (b.len() - MAGIC.len()) / 2;
        for cut in 1..b.len() - MAGIC.len() {
            assert_eq!(
                decode(&b[..b.len() - cut], 2).is_ok(),
                cut == frame_len,
                "cut {cut}"
            );
        }
        assert!(matches!(decode(b"ZGS0", 1), Err(FrameError::Magic)));
        assert!(matches!(decode(b"ZG", 1), Err(FrameError::Codec(_))));
        // Lengths past the limits are refused before anything is taken.
        let mut long = new_body(0);
        push_header(&mut long, &[0; 32], 1, 0, &[], SEGMENT_SIZE + 1);
        assert!(matches!(decode(&long, 1), Err(FrameError::Data(_))));
        let mut w = new_body(0);
        w.extend_from_slice(&[0; 48]);
        w.extend_from_slice(&(MAX_PROOF as u32 + 1).to_le_bytes());
        assert!(matches!(decode(&w, 1), Err(FrameError::Proof(_))));
    }
}
