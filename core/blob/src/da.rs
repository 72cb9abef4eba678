//! DA submissions at rest.
//!
//! A submission is stored in the segment store under its id: the header (payload
//! length and the per-blob commitments) as the key's metadata record, and each blob's
//! cells with their proofs as segment `blob`. A node may hold only some of a blob's
//! cells (its custody); the blob record says which. Cells are checked against their
//! commitment before they are written ([`DaStore::put_cells`]): the store never holds
//! unverified data.
//!
//! Formats (little-endian):
//! - header: magic `ZGDH`, version 1, payload length (u64), blob count (u16), the
//!   48-byte commitments;
//! - blob record: custody bitmap (u128, bit i = cell i held), then per held cell in
//!   index order the cell (2048 B) and its proof (48 B).
//!
//! What a node vouches for is signed on chain, with BN254 BLS keys, as 0G DA's
//! quorum certificates ([`crate::zerog_bls`]); the ed25519 attestations and
//! certificates of earlier versions are retired. The node key here is the node's
//! libp2p identity.

use std::path::Path;

use ed25519_dalek::SigningKey;
use zg_kzg::{
    BYTES_PER_CELL, BYTES_PER_COMMITMENT, BYTES_PER_PROOF, Bytes48, CELLS_PER_EXT_BLOB, KzgContext,
};

use crate as blob;
use crate::{BlobError, CellWithProof, MAX_BLOBS, MAX_PAYLOAD, Submission};
use zg_codec::{CodecError, Reader, Writer};
use zg_store::{Put, Store, StoreError};

/// A submission id: BLAKE3 over its ordered commitments ([`blob::submission_id`]).
pub type SubmissionId = [u8; 32];
/// An ed25519 public key: names a node.
pub type NodeId = [u8; 32];

const HEADER_MAGIC: [u8; 4] = *b"ZGDH";
const VERSION: u8 = 1;
const HEADER_FIXED: usize = 4 + 1 + 8 + 2;
const CELL_ENTRY: usize = BYTES_PER_CELL + BYTES_PER_PROOF;
const BITMAP: usize = 16;
/// Bytes of a blob record holding every cell.
pub const MAX_BLOB_RECORD: usize = BITMAP + CELLS_PER_EXT_BLOB * CELL_ENTRY;

/// What went wrong with DA data.
#[derive(Debug, thiserror::Error)]
pub enum DaError {
    /// Bytes that are not a header, blob record or certificate.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which format.
        what: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A header or cells that do not belong to the submission named.
    #[error("submission {id}: {reason}")]
    Mismatch {
        /// The submission, hex.
        id: String,
        /// What did not match.
        reason: String,
    },
    /// The submission is not held here.
    #[error("submission {0} not found")]
    NotFound(String),
    /// The cell is not held here (outside this node's custody, or not received).
    #[error("submission {id}: blob {blob} cell {cell} not held")]
    CellNotHeld {
        /// The submission, hex.
        id: String,
        /// The blob.
        blob: usize,
        /// The cell.
        cell: u64,
    },
    /// Cells that fail verification, too few cells, or a bad payload.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The segment store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The node key file could not be read or written.
    #[error("node key {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// Results of DA operations.
pub type Result<T, E = DaError> = std::result::Result<T, E>;

fn malformed(what: &'static str, reason: impl Into<String>) -> DaError {
    DaError::Malformed {
        what,
        reason: reason.into(),
    }
}

fn hex_id(id: &SubmissionId) -> String {
    zg_codec::hex::encode(id)
}

/// What names a submission and lets anyone check its cells: payload length and the
/// commitment of every blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmissionHeader {
    /// BLAKE3 over the commitments.
    pub id: SubmissionId,
    /// Payload bytes.
    pub payload_len: u64,
    /// One per blob, in order.
    pub commitments: Vec<Bytes48>,
}

impl SubmissionHeader {
    /// A header from its parts; the blob count must be the one the length needs.
    pub fn new(payload_len: u64, commitments: Vec<Bytes48>) -> Result<Self> {
        let bad = |reason: String| malformed("submission header", reason);
        if payload_len > MAX_PAYLOAD as u64 {
            return Err(bad(format!(
                "payload length {payload_len} exceeds the maximum of {MAX_PAYLOAD}"
            )));
        }
        let blobs = blob::blob_count(payload_len as usize);
        if commitments.len() != blobs {
            return Err(bad(format!(
                "{} commitments, a payload of {payload_len} bytes has {blobs} blobs",
                commitments.len()
            )));
        }
        Ok(Self {
            id: blob::submission_id(&commitments),
            payload_len,
            commitments,
        })
    }

    /// The header of an encoded submission.
    pub fn of(submission: &Submission) -> Self {
        Self {
            id: submission.id,
            payload_len: submission.payload_len as u64,
            commitments: submission.blobs.iter().map(|b| b.commitment).collect(),
        }
    }

    /// Its stored form.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(HEADER_FIXED + self.commitments.len() * BYTES_PER_COMMITMENT);
        w.bytes(&HEADER_MAGIC)
            .tag(VERSION)
            .u64(self.payload_len)
            .u16(self.commitments.len() as u16);
        for c in &self.commitments {
            w.bytes(c);
        }
        w.into_bytes()
    }

    /// Parses [`Self::encode`]'s output; the id is recomputed, never trusted.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let bad = |e: CodecError| malformed("submission header", e.to_string());
        let mut r = Reader::new("submission header", bytes);
        if r.take(4).map_err(bad)? != HEADER_MAGIC {
            return Err(malformed("submission header", "bad magic"));
        }
        r.tag(VERSION).map_err(bad)?;
        let payload_len = r.u64().map_err(bad)?;
        let count = r
            .count(|r| r.u16().map(u64::from), MAX_BLOBS as u64, BYTES_PER_COMMITMENT)
            .map_err(bad)?;
        let commitments = (0..count)
            .map(|_| r.array::<BYTES_PER_COMMITMENT>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(bad)?;
        r.finish().map_err(bad)?;
        Self::new(payload_len, commitments)
    }

    /// Blobs in the submission.
    pub fn blob_count(&self) -> usize {
        self.commitments.len()
    }

    fn commitment(&self, blob: usize) -> Result<&Bytes48> {
        self.commitments.get(blob).ok_or_else(|| DaError::Mismatch {
            id: hex_id(&self.id),
            reason: format!("blob {blob} out of range ({} blobs)", self.commitments.len()),
        })
    }
}

/// Cell positions held of a blob, as a bitmap (bit i = cell i).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CellSet(pub u128);

impl CellSet {
    /// Every cell.
    pub const ALL: Self = Self(u128::MAX);

    /// Whether cell `index` is in the set.
    pub fn contains(self, index: u64) -> bool {
        index < CELLS_PER_EXT_BLOB as u64 && self.0 >> index & 1 == 1
    }

    /// Cells in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The indices, ascending.
    pub fn indices(self) -> impl Iterator<Item = u64> {
        (0..CELLS_PER_EXT_BLOB as u64).filter(move |&i| self.contains(i))
    }
}

/// The `count` cells of every blob a node custodies, derived from its id (e.g. its
/// libp2p peer id) as in PeerDAS: anyone can tell which cells a node should hold.
pub fn custody_columns(node: &[u8], count: usize) -> CellSet {
    let count = count.min(CELLS_PER_EXT_BLOB);
    let mut xof = blake3::Hasher::new_derive_key("zg da custody v1")
        .update(node)
        .finalize_xof();
    // A partial Fisher-Yates shuffle of the 128 columns, driven by the node's hash.
    let mut columns: Vec<u8> = (0..CELLS_PER_EXT_BLOB as u8).collect();
    let mut set = 0u128;
    for i in 0..count {
        let mut r = [0u8; 8];
        xof.fill(&mut r);
        let j = i + (u64::from_le_bytes(r) % (CELLS_PER_EXT_BLOB - i) as u64) as usize;
        columns.swap(i, j);
        set |= 1 << columns[i];
    }
    CellSet(set)
}

/// A blob record's bytes for `cells` (sorted by index, no duplicates, indices < 128).
pub fn encode_blob_record(cells: &[CellWithProof]) -> Vec<u8> {
    let mut w = Writer::with_capacity(BITMAP + cells.len() * CELL_ENTRY);
    w.u128(cell_set(cells).0);
    for c in cells {
        w.bytes(&c.cell).bytes(&c.proof);
    }
    w.into_bytes()
}

/// Parses a blob record: the cells it holds, by index. Only sizes are checked here;
/// proofs are checked by [`DaStore::put_cells`] before anything is stored.
pub fn decode_blob_record(bytes: &[u8]) -> Result<Vec<CellWithProof>> {
    let bad = |e: CodecError| malformed("blob record", e.to_string());
    let mut r = Reader::new("blob record", bytes);
    let set = CellSet(r.u128().map_err(bad)?);
    if r.remaining() != set.len() * CELL_ENTRY {
        return Err(malformed(
            "blob record",
            format!(
                "{} bytes for {} cells, expected {}",
                r.remaining(),
                set.len(),
                set.len() * CELL_ENTRY
            ),
        ));
    }
    set.indices()
        .map(|index| {
            Ok(CellWithProof {
                index,
                cell: r.array()?,
                proof: r.array()?,
            })
        })
        .collect::<std::result::Result<_, CodecError>>()
        .map_err(bad)
}

/// Submissions in a segment store.
pub struct DaStore {
    store: Store,
    // Serializes put_cells' read-merge-write of a blob record: two writers merging into
    // the same record at once would each drop the other's cells.
    merging: std::sync::Mutex<()>,
}

impl DaStore {
    /// Wraps an open store.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            merging: std::sync::Mutex::new(()),
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stores a submission this node encoded itself (header and every cell), durably.
    pub fn put_encoded(&self, submission: &Submission) -> Result<SubmissionHeader> {
        let header = SubmissionHeader::of(submission);
        // The same payload again: already held whole, nothing to write.
        if self.header(&header.id)?.as_ref() == Some(&header)
            && self.custody(&header)?.iter().all(|held| *held == CellSet::ALL)
        {
            return Ok(header);
        }
        let mut puts = Vec::with_capacity(submission.blobs.len() + 1);
        for (i, b) in submission.blobs.iter().enumerate() {
            let cells: Vec<CellWithProof> = b
                .cells
                .iter()
                .zip(&b.proofs)
                .enumerate()
                .map(|(index, (cell, proof))| CellWithProof {
                    index: index as u64,
                    cell: *cell,
                    proof: *proof,
                })
                .collect();
            puts.push(Put::segment(header.id, i as u64, encode_blob_record(&cells)));
        }
        // The header last in the batch: once it is visible, so is every blob.
        puts.push(Put::meta(header.id, header.encode()));
        self.store.put_batch(puts)?;
        Ok(header)
    }

    /// Stores a submission's header (idempotent).
    pub fn put_header(&self, header: &SubmissionHeader) -> Result<()> {
        if let Some(held) = self.header(&header.id)? {
            if held == *header {
                return Ok(());
            }
            return Err(DaError::Mismatch {
                id: hex_id(&header.id),
                reason: "a different header is already held".into(),
            });
        }
        self.store
            .put_batch(vec![Put::meta(header.id, header.encode())])?;
        Ok(())
    }

    /// Verifies `cells` of blob `blob` against the header's commitment and adds them
    /// to what is held (durably). Nothing is written if any cell fails.
    pub fn put_cells(
        &self,
        ctx: &KzgContext,
        header: &SubmissionHeader,
        blob: usize,
        cells: &[CellWithProof],
    ) -> Result<CellSet> {
        let commitment = header.commitment(blob)?;
        let verified = blob::verify_cells(ctx, blob, commitment, cells)?;
        let _merging = self
            .merging
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A record that cannot be read is an error, not an empty one to write over.
        let mut held = self.blob_cells(&header.id, blob)?;
        let before = held.len();
        for cell in verified {
            if let Err(at) = held.binary_search_by_key(&cell.index, |c| c.index) {
                held.insert(at, cell);
            }
        }
        if held.len() != before {
            self.store.put_batch(vec![Put::segment(
                header.id,
                blob as u64,
                encode_blob_record(&held),
            )])?;
        }
        Ok(cell_set(&held))
    }

    /// The header of submission `id`, if held.
    pub fn header(&self, id: &SubmissionId) -> Result<Option<SubmissionHeader>> {
        match self.store.get_meta(id) {
            Ok(bytes) => SubmissionHeader::decode(&bytes).map(Some),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The cells held of blob `blob` (empty when none).
    pub fn blob_cells(&self, id: &SubmissionId, blob: usize) -> Result<Vec<CellWithProof>> {
        match self.store.get(id, blob as u64) {
            Ok(bytes) => decode_blob_record(&bytes),
            Err(StoreError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// Which cells of each blob are held.
    pub fn custody(&self, header: &SubmissionHeader) -> Result<Vec<CellSet>> {
        (0..header.blob_count())
            .map(|b| Ok(cell_set(&self.blob_cells(&header.id, b)?)))
            .collect()
    }

    /// One cell with its proof.
    pub fn cell(&self, id: &SubmissionId, blob: usize, index: u64) -> Result<CellWithProof> {
        let header = self.header(id)?.ok_or_else(|| DaError::NotFound(hex_id(id)))?;
        header.commitment(blob)?;
        let not_held = || DaError::CellNotHeld {
            id: hex_id(id),
            blob,
            cell: index,
        };
        if index >= CELLS_PER_EXT_BLOB as u64 {
            return Err(not_held());
        }
        self.blob_cells(id, blob)?
            .into_iter()
            .find(|c| c.index == index)
            .ok_or_else(not_held)
    }

    /// The payload, rebuilt from the cells held (each blob needs 64 of its 128).
    /// Cells were verified before they were stored and the store checks every record
    /// it reads; a blob held only in part is recovered by the field code.
    pub fn payload(&self, ctx: &KzgContext, id: &SubmissionId) -> Result<Vec<u8>> {
        let header = self.header(id)?.ok_or_else(|| DaError::NotFound(hex_id(id)))?;
        let blobs = (0..header.blob_count())
            .map(|b| {
                let cells = self.blob_cells(id, b)?;
                Ok(blob::rebuild_blob(ctx, b, &cells)?)
            })
            .collect::<Result<Vec<_>>>()?;
        let payload = blob::unpack(&blobs)?;
        if payload.len() as u64 != header.payload_len {
            return Err(DaError::Mismatch {
                id: hex_id(id),
                reason: format!(
                    "blobs hold {} payload bytes, the header says {}",
                    payload.len(),
                    header.payload_len
                ),
            });
        }
        Ok(payload)
    }
}

fn cell_set(cells: &[CellWithProof]) -> CellSet {
    CellSet(cells.iter().fold(0u128, |set, c| set | 1 << c.index))
}

/// A request from one DA node to another (the p2p protocol's message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DaRequest {
    /// The submission's header.
    Header {
        /// Which submission.
        id: SubmissionId,
    },
    /// The cells the peer holds of one blob, among `wanted`.
    Cells {
        /// Which submission.
        id: SubmissionId,
        /// Which blob.
        blob: u16,
        /// Which cells.
        wanted: CellSet,
    },
}

impl DaRequest {
    /// Its bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(51);
        match self {
            Self::Header { id } => w.tag(0).bytes(id),
            Self::Cells { id, blob, wanted } => w.tag(1).bytes(id).u16(*blob).u128(wanted.0),
        };
        w.into_bytes()
    }

    /// Parses a request (exact sizes only).
    pub fn decode(b: &[u8]) -> Result<Self, String> {
        let mut r = Reader::new("DA request", b);
        let request = match (r.u8(), b.len()) {
            (Ok(0), 33) => r.array().map(|id| Self::Header { id }),
            (Ok(1), 51) => (|| {
                Ok(Self::Cells {
                    id: r.array()?,
                    blob: r.u16()?,
                    wanted: CellSet(r.u128()?),
                })
            })(),
            (tag, len) => return Err(format!("bad request: tag {:?}, {len} bytes", tag.ok())),
        };
        let request = request.map_err(|e| e.to_string())?;
        r.finish().map_err(|e| e.to_string())?;
        Ok(request)
    }
}

/// A DA peer's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaResponse {
    /// A header's bytes.
    Header(Vec<u8>),
    /// A blob record with the cells held among those wanted.
    Cells(Vec<u8>),
    /// Not held.
    NotFound,
    /// Refused (rate limit, error), with why.
    Refused(String),
}

impl DaResponse {
    /// Its bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Header(b) => [&[0u8][..], b].concat(),
            Self::Cells(b) => [&[1u8][..], b].concat(),
            Self::NotFound => vec![2],
            Self::Refused(why) => [&[3u8][..], why.as_bytes()].concat(),
        }
    }

    /// Parses a response; the body is checked by whoever uses it.
    pub fn decode(b: &[u8]) -> Result<Self, String> {
        let (tag, rest) = b.split_first().ok_or("empty response")?;
        Ok(match tag {
            0 => Self::Header(rest.to_vec()),
            1 => Self::Cells(rest.to_vec()),
            2 if rest.is_empty() => Self::NotFound,
            2 => return Err(format!("a not-found response with {} stray bytes", rest.len())),
            3 => Self::Refused(String::from_utf8_lossy(&rest[..rest.len().min(256)]).into_owned()),
            t => return Err(format!("bad response tag {t}")),
        })
    }
}

/// Reads the 32 secret bytes at `path`, or makes them there from `fresh` if there is
/// no file: mode 0600, written to a temporary file, synced, renamed into place and the
/// directory synced, so a crash leaves the old state or the whole key.
pub fn load_or_create_secret(path: &Path, fresh: impl FnOnce() -> [u8; 32]) -> Result<[u8; 32]> {
    let err = |reason: String| DaError::Key {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::read(path) {
        Ok(bytes) => bytes.try_into().map_err(|b: Vec<u8>| {
            err(format!(
                "{} bytes, expected 32; remove it to make a new key",
                b.len()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let secret = fresh();
            let tmp = path.with_extension("tmp");
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| err(e.to_string()))?;
            file.write_all(&secret)
                .and_then(|()| file.sync_all())
                .map_err(|e| err(e.to_string()))?;
            std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| err(e.to_string()))?;
            }
            Ok(secret)
        }
        Err(e) => Err(err(e.to_string())),
    }
}

/// A node's signing key, kept in a file (32 secret bytes, mode 0600).
pub struct NodeKey(SigningKey);

impl NodeKey {
    /// A key from 32 secret bytes.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&secret))
    }

    /// Reads the key at `path`, or makes one there from `fresh` if there is none.
    pub fn load_or_create(path: &Path, fresh: impl FnOnce() -> [u8; 32]) -> Result<Self> {
        load_or_create_secret(path, fresh).map(Self::from_secret)
    }

    /// The node's public key.
    pub fn node_id(&self) -> NodeId {
        self.0.verifying_key().to_bytes()
    }

    /// The secret bytes (for deriving the node's other identities).
    pub fn secret(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> SubmissionHeader {
        SubmissionHeader::new(1000, vec![[0xc0; 48]]).unwrap()
    }

    #[test]
    fn header_round_trips_and_rejects_bad_shapes() {
        let h = header();
        assert_eq!(SubmissionHeader::decode(&h.encode()).unwrap(), h);
        assert_eq!(h.id, blob::submission_id(&h.commitments));
        let bytes = h.encode();
        for cut in 0..bytes.len() {
            assert!(SubmissionHeader::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        // Blob count must match the length; too large a payload is refused.
        assert!(SubmissionHeader::new(200_000, vec![[0xc0; 48]]).is_err());
        assert!(SubmissionHeader::new(MAX_PAYLOAD as u64 + 1, vec![[0; 48]; 257]).is_err());
        let mut v2 = bytes;
        v2[4] = 2;
        assert!(SubmissionHeader::decode(&v2).is_err());
    }

    #[test]
    fn blob_records_round_trip_and_check_sizes() {
        let cells: Vec<CellWithProof> = [0u64, 5, 127]
            .iter()
            .map(|&index| CellWithProof {
                index,
                cell: [index as u8; BYTES_PER_CELL],
                proof: [index as u8 ^ 0xff; 48],
            })
            .collect();
        let bytes = encode_blob_record(&cells);
        assert_eq!(decode_blob_record(&bytes).unwrap(), cells);
        assert_eq!(cell_set(&cells).indices().collect::<Vec<_>>(), vec![0, 5, 127]);
        assert!(decode_blob_record(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_blob_record(&bytes[..10]).is_err());
        let mut more = bytes;
        more[0] |= 2;
        assert!(decode_blob_record(&more).is_err());
        assert_eq!(decode_blob_record(&0u128.to_le_bytes()).unwrap(), vec![]);
    }

    #[test]
    fn custody_is_deterministic_and_sized() {
        let a = custody_columns(b"node a", 48);
        assert_eq!(a, custody_columns(b"node a", 48));
        assert_eq!(a.len(), 48);
        assert_ne!(a, custody_columns(b"node b", 48));
        assert_eq!(custody_columns(b"x", 500), CellSet::ALL);
        assert!(custody_columns(b"x", 0).is_empty());
        // Columns spread evenly over many nodes.
        let mut hits = [0u32; CELLS_PER_EXT_BLOB];
        for n in 0..1000u32 {
            for i in custody_columns(&n.to_le_bytes(), 16).indices() {
                hits[i as usize] += 1;
            }
        }
        assert!(hits.iter().all(|&h| (60..=200).contains(&h)), "{hits:?}");
    }

    #[test]
    fn messages_round_trip_and_reject_bad_sizes() {
        for r in [
            DaRequest::Header { id: [3; 32] },
            DaRequest::Cells {
                id: [4; 32],
                blob: 255,
                wanted: CellSet(1 << 127 | 5),
            },
        ] {
            let b = r.encode();
            assert!(b.len() <= 64);
            assert_eq!(DaRequest::decode(&b).unwrap(), r);
            assert!(DaRequest::decode(&b[..b.len() - 1]).is_err());
        }
        assert!(DaRequest::decode(&[9; 33]).is_err());
        for r in [
            DaResponse::Header(vec![1, 2]),
            DaResponse::Cells(vec![]),
            DaResponse::NotFound,
            DaResponse::Refused("busy".into()),
        ] {
            assert_eq!(DaResponse::decode(&r.encode()).unwrap(), r);
        }
        assert!(DaResponse::decode(&[]).is_err());
        assert!(DaResponse::decode(&[7]).is_err());
        // Found by fuzzing: a not-found answer with bytes after it is not one.
        assert!(DaResponse::decode(&[2, 115]).is_err());
    }

    #[test]
    fn node_key_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let a = NodeKey::load_or_create(&path, || [7; 32]).unwrap();
        let b = NodeKey::load_or_create(&path, || [8; 32]).unwrap();
        assert_eq!(a.node_id(), b.node_id());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::write(&path, [1u8; 5]).unwrap();
        assert!(matches!(
            NodeKey::load_or_create(&path, || [9; 32]),
            Err(DaError::Key { .. })
        ));
    }
}
