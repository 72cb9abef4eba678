//! The binary segment format, a storage node's `POST /segments` (uploads: what 0G's
//! `zgs_uploadSegments` carries, without JSON or base64, for zg's own client) and
//! `GET /segments/{root}` (segments with their proofs, in bulk, for peers that
//! replicate). 0G's SDKs keep the JSON-RPC methods.
//!
//! A body is [`MAGIC`] and then, per segment: root (32 bytes), file size and index
//! (u64 LE), proof length (u32 LE) and zg-merkle's proof encoding, data length
//! (u32 LE) and the segment's bytes. A body of no segments asks whether the node
//! speaks the format.

use zg_codec::{CodecError, Reader, Writer};
use zg_merkle::{Hash, SEGMENT_SIZE};

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
