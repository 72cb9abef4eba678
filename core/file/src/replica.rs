//! What storage nodes say to each other to replicate files: announcements of
//! stored files, requests for segments (with proofs) and for a peer's file
//! inventory, and their answers. Pure formats; the node does the I/O and
//! verifies every segment against its root before storing it.
//!
//! Every decoder takes exact sizes and checks each length before it
//! allocates, so a peer's bytes can never make a node allocate more than the
//! frame it already read.

use bytes::Bytes;
use zg_codec::{CodecError, Reader, Writer};
use zg_merkle::{Hash, RootKind, SEGMENT_SIZE};

/// Most segments one request may ask for (4 MiB of data).
pub const MAX_SEGMENTS_PER_REQUEST: u16 = 16;
/// Most files in one inventory page.
pub const MAX_INVENTORY_PAGE: u16 = 1024;
/// Largest segment proof accepted (a 2^40-byte file's proof is under 1 KiB).
pub const MAX_PROOF_BYTES: usize = 4096;
/// Largest request on the wire.
pub const MAX_FILE_REQUEST: usize = 1 + 32 + 8 + 2;
/// Largest response on the wire: a full segments answer.
pub const MAX_FILE_RESPONSE: usize =
    1 + 2 + MAX_SEGMENTS_PER_REQUEST as usize * (4 + SEGMENT_SIZE + 4 + MAX_PROOF_BYTES);
/// Bytes of an encoded [`FileEntry`].
pub const FILE_ENTRY_LEN: usize = 32 + 8 + 1;
/// Bytes of an encoded announcement.
pub const ANNOUNCEMENT_LEN: usize = 4 + 1 + FILE_ENTRY_LEN;

const ANNOUNCE_MAGIC: [u8; 4] = *b"ZGFA";
const ANNOUNCE_VERSION: u8 = 1;

/// A stored file as peers learn of it: enough to fetch and verify it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileEntry {
    /// The file root.
    pub root: Hash,
    /// Bytes of the file.
    pub size: u64,
    /// Which tree the root is of.
    pub kind: RootKind,
}

impl FileEntry {
    /// Its 41 bytes: root, size (LE), kind (0 BLAKE3, 1 zg).
    pub fn encode(&self) -> [u8; FILE_ENTRY_LEN] {
        let mut out = [0u8; FILE_ENTRY_LEN];
        out[..32].copy_from_slice(&self.root);
        out[32..40].copy_from_slice(&self.size.to_le_bytes());
        out[40] = u8::from(self.kind == RootKind::Keccak);
        out
    }

    /// Parses exactly [`FILE_ENTRY_LEN`] bytes.
    pub fn decode(b: &[u8]) -> Result<Self, String> {
        if b.len() != FILE_ENTRY_LEN {
            return Err(format!(
                "file entry of {} bytes, expected {FILE_ENTRY_LEN}",
                b.len()
            ));
        }
        Self::read(&mut Reader::new("file entry", b)).map_err(|e| e.to_string())
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let root = r.array::<32>()?;
        let size = r.u64()?;
        let kind = match r.u8()? {
            0 => RootKind::Blake3,
            1 => RootKind::Keccak,
            k => {
                return Err(CodecError::BadTag {
                    what: "file entry root kind",
                    got: k,
                    expected: 1,
                });
            }
        };
        Ok(Self { root, size, kind })
    }

    /// The gossip announcement of this file: magic, version, entry.
    pub fn announcement(&self) -> Vec<u8> {
        [&ANNOUNCE_MAGIC[..], &[ANNOUNCE_VERSION], &self.encode()].concat()
    }

    /// Parses an announcement.
    pub fn from_announcement(b: &[u8]) -> Result<Self, String> {
        if b.len() != ANNOUNCEMENT_LEN || b[..4] != ANNOUNCE_MAGIC {
            return Err(format!("not a file announcement ({} bytes)", b.len()));
        }
        if b[4] != ANNOUNCE_VERSION {
            return Err(format!("unsupported announcement version {}", b[4]));
        }
        Self::decode(&b[5..])
    }
}

/// A storage peer's request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileRequest {
    /// Segments `first..first + count` of `root`, each with its proof.
    Segments {
        /// The file.
        root: Hash,
        /// The first segment.
        first: u64,
        /// How many (1..=[`MAX_SEGMENTS_PER_REQUEST`]).
        count: u16,
    },
    /// The files the peer holds, from position `from` of its catalog.
    Inventory {
        /// Where the page starts.
        from: u64,
    },
    /// The port of the peer's plain HTTP API, where segments come in bulk
    /// (`GET /segments/{root}`, without libp2p's encryption; every segment is
    /// proof-checked on arrival either way).
    HttpPort,
}

impl FileRequest {
    /// Its bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Segments { root, first, count } => {
                [&[0u8][..], root, &first.to_le_bytes(), &count.to_le_bytes()].concat()
            }
            Self::Inventory { from } => [&[1u8][..], &from.to_le_bytes()].concat(),
            Self::HttpPort => vec![2],
        }
    }

    /// Parses a request (exact sizes, counts in range).
    pub fn decode(b: &[u8]) -> Result<Self, String> {
        let mut r = Reader::new("file request", b);
        let request = match (r.u8(), b.len()) {
            (Ok(0), 43) => {
                let root = r.array::<32>().map_err(|e| e.to_string())?;
                let first = r.u64().map_err(|e| e.to_string())?;
                let count = r.u16().map_err(|e| e.to_string())?;
                if count == 0 || count > MAX_SEGMENTS_PER_REQUEST {
                    return Err(format!(
                        "{count} segments asked; 1 to {MAX_SEGMENTS_PER_REQUEST} allowed"
                    ));
                }
                Self::Segments { root, first, count }
            }
            (Ok(1), 9) => Self::Inventory {
                from: r.u64().map_err(|e| e.to_string())?,
            },
            (Ok(2), 1) => Self::HttpPort,
            (tag, len) => {
                return Err(format!("bad file request: tag {:?}, {len} bytes", tag.ok()));
            }
        };
        r.finish().map_err(|e| e.to_string())?;
        Ok(request)
    }
}

/// One segment as a peer sends it: the bytes and their proof against the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentReply {
    /// The segment's bytes (a slice of the response frame when decoded from one).
    pub data: Bytes,
    /// Its proof, as [`zg_merkle::SegmentProof::to_bytes`] writes it.
    pub proof: Vec<u8>,
}

/// A storage peer's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileResponse {
    /// The segments asked for, in order.
    Segments(Vec<SegmentReply>),
    /// A page of the peer's catalog; `next` is where the following page starts.
    Inventory {
        /// The files.
        files: Vec<FileEntry>,
        /// The position after this page.
        next: u64,
    },
    /// The file is not held (or not complete) there.
    NotFound,
    /// Refused (rate limit, bad range, error), with why.
    Refused(String),
    /// The port of the peer's plain HTTP API (on the address its connection comes from).
    HttpPort(u16),
}

impl FileResponse {
    /// Its bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Segments(segs) => {
                let len = 3 + segs
                    .iter()
                    .map(|s| 8 + s.data.len() + s.proof.len())
                    .sum::<usize>();
                let mut w = Writer::with_capacity(len);
                w.tag(0).u16(segs.len() as u16);
                for s in segs {
                    w.u32(s.data.len() as u32).bytes(&s.data);
                    w.u32(s.proof.len() as u32).bytes(&s.proof);
                }
                w.into_bytes()
            }
            Self::Inventory { files, next } => {
                let mut w = Writer::with_capacity(11 + files.len() * FILE_ENTRY_LEN);
                w.tag(1).u64(*next).u16(files.len() as u16);
                for f in files {
                    w.bytes(&f.encode());
                }
                w.into_bytes()
            }
            Self::NotFound => vec![2],
            Self::Refused(why) => [&[3u8][..], why.as_bytes()].concat(),
            Self::HttpPort(port) => [&[4u8][..], &port.to_le_bytes()].concat(),
        }
    }

    /// Parses a response: counts and lengths within the limits, nothing left over.
    /// The segments themselves are checked against the root by the caller.
    pub fn decode(b: &[u8]) -> Result<Self, String> {
        Self::read(&mut Reader::new("file response", b), None).map_err(|e| e.to_string())
    }

    /// [`FileResponse::decode`] of a shared frame: segments are slices of it, not copies.
    pub fn decode_shared(b: &Bytes) -> Result<Self, String> {
        Self::read(&mut Reader::new("file response", b), Some(b)).map_err(|e| e.to_string())
    }

    fn read(r: &mut Reader<'_>, frame: Option<&Bytes>) -> Result<Self, CodecError> {
        let out = match r.u8()? {
            0 => {
                let n = r.count(|r| r.u16().map(u64::from), MAX_SEGMENTS_PER_REQUEST.into(), 8)?;
                let mut segs = Vec::with_capacity(n);
                for _ in 0..n {
                    let len = r.count(|r| r.u32().map(u64::from), SEGMENT_SIZE as u64, 1)?;
                    let data = r.take(len)?;
                    let data = frame.map_or_else(|| Bytes::copy_from_slice(data), |f| f.slice_ref(data));
                    let len = r.count(|r| r.u32().map(u64::from), MAX_PROOF_BYTES as u64, 1)?;
                    let proof = r.take(len)?.to_vec();
                    segs.push(SegmentReply { data, proof });
                }
                Self::Segments(segs)
            }
            1 => {
                let next = r.u64()?;
                let n = r.count(
                    |r| r.u16().map(u64::from),
                    MAX_INVENTORY_PAGE.into(),
                    FILE_ENTRY_LEN,
                )?;
                let mut files = Vec::with_capacity(n);
                for _ in 0..n {
                    files.push(FileEntry::read(r)?);
                }
                Self::Inventory { files, next }
            }
            2 => Self::NotFound,
            3 => {
                let rest = r.rest();
                Self::Refused(String::from_utf8_lossy(&rest[..rest.len().min(256)]).into_owned())
            }
            4 => Self::HttpPort(r.u16()?),
            t => {
                return Err(CodecError::BadTag {
                    what: r.what(),
                    got: t,
                    expected: 0,
                });
            }
        };
        r.finish()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seed: u8) -> FileEntry {
        FileEntry {
            root: [seed; 32],
            size: u64::from(seed) * 1_000_003,
            kind: if seed.is_multiple_of(2) {
                RootKind::Blake3
            } else {
                RootKind::Keccak
            },
        }
    }

    #[test]
    fn messages_round_trip() {
        for e in [entry(0), entry(1), entry(200)] {
            assert_eq!(FileEntry::from_announcement(&e.announcement()).unwrap(), e);
        }
        for r in [
            FileRequest::Segments {
                root: [7; 32],
                first: u64::MAX,
                count: MAX_SEGMENTS_PER_REQUEST,
            },
            FileRequest::Inventory { from: 42 },
            FileRequest::HttpPort,
        ] {
            let b = r.encode();
            assert!(b.len() <= MAX_FILE_REQUEST);
            assert_eq!(FileRequest::decode(&b).unwrap(), r);
        }
        let full = FileResponse::Segments(
            (0..MAX_SEGMENTS_PER_REQUEST)
                .map(|i| SegmentReply {
                    data: vec![i as u8; SEGMENT_SIZE].into(),
                    proof: vec![1; MAX_PROOF_BYTES],
                })
                .collect(),
        );
        let b = full.encode();
        assert_eq!(b.len(), MAX_FILE_RESPONSE);
        assert_eq!(FileResponse::decode(&b).unwrap(), full);
        assert_eq!(FileResponse::decode_shared(&Bytes::from(b)).unwrap(), full);
        for r in [
            FileResponse::Segments(vec![]),
            FileResponse::Inventory {
                files: (0..=255).map(entry).collect(),
                next: 256,
            },
            FileResponse::NotFound,
            FileResponse::Refused("busy".into()),
            FileResponse::HttpPort(5678),
        ] {
            assert_eq!(FileResponse::decode(&r.encode()).unwrap(), r);
        }
    }

    #[test]
    fn bad_bytes_are_refused() {
        assert!(FileEntry::from_announcement(b"ZGFA").is_err());
        let mut a = entry(3).announcement();
        a[4] = 9;
        assert!(FileEntry::from_announcement(&a).is_err());
        let mut a = entry(3).announcement();
        a[45] = 2;
        assert!(FileEntry::from_announcement(&a).is_err());
        // Zero or too many segments, wrong sizes, unknown tags.
        for count in [0, MAX_SEGMENTS_PER_REQUEST + 1] {
            let mut b = FileRequest::Segments {
                root: [0; 32],
                first: 0,
                count: 1,
            }
            .encode();
            b[41..43].copy_from_slice(&count.to_le_bytes());
            assert!(FileRequest::decode(&b).is_err());
        }
        assert!(FileRequest::decode(&[1, 0, 0]).is_err());
        assert!(FileRequest::decode(&[9; 9]).is_err());
        assert!(FileRequest::decode(&[]).is_err());
        // A segment claiming more than a segment's bytes, a proof over the cap,
        // truncation, trailing bytes, a page over the cap.
        let seg = |len: u32| [&[0u8, 1, 0][..], &len.to_le_bytes()].concat();
        assert!(FileResponse::decode(&seg(SEGMENT_SIZE as u32 + 1)).is_err());
        assert!(FileResponse::decode(&seg(u32::MAX)).is_err());
        let one = FileResponse::Segments(vec![SegmentReply {
            data: vec![5; 10].into(),
            proof: vec![6; 3],
        }])
        .encode();
        assert!(FileResponse::decode(&one[..one.len() - 1]).is_err());
        assert!(FileResponse::decode(&[&one[..], &[0]].concat()).is_err());
        let mut big_proof = one;
        big_proof[17..21].copy_from_slice(&(MAX_PROOF_BYTES as u32 + 1).to_le_bytes());
        assert!(FileResponse::decode(&big_proof).is_err());
        let mut page = vec![1u8];
        page.extend_from_slice(&0u64.to_le_bytes());
        page.extend_from_slice(&(MAX_INVENTORY_PAGE + 1).to_le_bytes());
        assert!(FileResponse::decode(&page).is_err());
        assert!(FileResponse::decode(&[2, 0]).is_err());
        assert!(FileResponse::decode(&[4, 0]).is_err());
        assert!(FileResponse::decode(&[4, 0, 0, 0]).is_err());
        assert!(FileRequest::decode(&[2, 0]).is_err());
        assert!(FileResponse::decode(&[7]).is_err());
        assert!(FileResponse::decode(&[]).is_err());
    }
}
