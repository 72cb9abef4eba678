//! One shard of the flow, as 0G's storage nodes hold it: the segments whose flow index
//! (the file's first flow segment plus the segment's index in the file) is ≡ `id` mod
//! `count`. A node holding a shard cannot rebuild a file's tree, so it keeps each
//! segment's proof (checked on arrival) beside the segment and checks the segment
//! against it again on every read; a [`ShardMeta`] record marks the shard complete.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use zg_codec::hex::encode as hex;
use zg_codec::{Reader, Writer};
use zg_merkle::{Hash, RootKind, SEGMENT_SIZE, SegmentProof, segment_count};
use zg_store::Store;

use crate::{FileError, Result};

/// Most shards the flow may be cut into (0G's nodes use powers of two up to this scale).
pub const MAX_SHARDS: u64 = 1 << 20;

/// Which shard a node holds: segments with flow index ≡ `id` mod `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shard {
    id: u64,
    count: u64,
}

/// Why a shard setting is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    /// Not `ID/N`.
    #[error("a shard is written ID/N (for example 0/2), not {0:?}")]
    Syntax(String),
    /// `N` is not a power of two in range, or `ID` is not below it.
    #[error("shard {id}/{count}: N must be a power of two from 1 to {MAX_SHARDS} and ID below N")]
    Range {
        /// The shard asked for.
        id: u64,
        /// Shards asked for.
        count: u64,
    },
}

impl Shard {
    /// Every segment: a node that is not sharded.
    pub const WHOLE: Self = Self { id: 0, count: 1 };

    /// Shard `id` of `count` (a power of two, `id < count`).
    pub fn new(id: u64, count: u64) -> Result<Self, ShardError> {
        if !count.is_power_of_two() || count > MAX_SHARDS || id >= count {
            return Err(ShardError::Range { id, count });
        }
        Ok(Self { id, count })
    }

    /// This shard's index.
    pub fn id(self) -> u64 {
        self.id
    }

    /// Shards the flow is cut into.
    pub fn count(self) -> u64 {
        self.count
    }

    /// Whether this is the whole flow.
    pub fn is_whole(self) -> bool {
        self.count == 1
    }

    /// The shard that holds segment `index` of a file whose first flow segment is `position`.
    pub fn of(position: u64, index: u64, count: u64) -> u64 {
        (position % count + index % count) % count
    }

    /// Whether this shard holds segment `index` of a file starting at flow segment `position`.
    pub fn holds(self, position: u64, index: u64) -> bool {
        Self::of(position, index, self.count) == self.id
    }

    /// The segments of a `segments`-segment file at flow segment `position` this shard holds.
    pub fn indices(self, position: u64, segments: u64) -> impl Iterator<Item = u64> {
        let first = (self.id + self.count - position % self.count) % self.count;
        (first..segments).step_by(self.count as usize)
    }

    /// How many segments of such a file this shard holds.
    pub fn held_count(self, position: u64, segments: u64) -> u64 {
        let first = (self.id + self.count - position % self.count) % self.count;
        segments.saturating_sub(first).div_ceil(self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.id, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, ShardError> {
        let syntax = || ShardError::Syntax(s.to_owned());
        let (id, count) = s.split_once('/').ok_or_else(syntax)?;
        let id = id.trim().parse().map_err(|_| syntax())?;
        let count = count.trim().parse().map_err(|_| syntax())?;
        Self::new(id, count)
    }
}

const SHARD_MAGIC: [u8; 4] = *b"ZGSH";
const SHARD_VERSION: u8 = 1;
const SHARD_META_LEN: usize = 4 + 1 + 1 + 8 + 8 + 8 + 8;

/// A file of which a node holds one shard, complete: every segment of the shard is
/// stored with its proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardMeta {
    /// The file root.
    pub root: Hash,
    /// Bytes of the whole file.
    pub len: u64,
    /// Which tree the root is of.
    pub kind: RootKind,
    /// The shard held.
    pub shard: Shard,
    /// The file's first segment in the flow (0 for a file off the flow).
    pub position: u64,
}

impl ShardMeta {
    /// Segments of the whole file.
    pub fn segment_count(&self) -> u64 {
        segment_count(self.len)
    }

    /// Whether this shard holds segment `index`.
    pub fn holds(&self, index: u64) -> bool {
        index < self.segment_count() && self.shard.holds(self.position, index)
    }

    /// How many segments this shard holds.
    pub fn held_count(&self) -> u64 {
        self.shard.held_count(self.position, self.segment_count())
    }

    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(SHARD_META_LEN);
        w.bytes(&SHARD_MAGIC)
            .tag(SHARD_VERSION)
            .tag(u8::from(self.kind == RootKind::Keccak))
            .u64(self.len)
            .u64(self.shard.id)
            .u64(self.shard.count)
            .u64(self.position);
        w.into_bytes()
    }

    /// Decodes a record stored for `root`.
    pub fn decode(root: &Hash, bytes: &[u8]) -> Result<Self> {
        let bad = |reason: String| FileError::BadMeta {
            root: hex(root),
            reason,
        };
        let mut r = Reader::new("shard metadata", bytes);
        if r.take(4).ok() != Some(&SHARD_MAGIC[..]) {
            return Err(bad("bad shard magic or truncated".into()));
        }
        let fields = (|| {
            let version = r.u8()?;
            let kind = r.u8()?;
            let fields = (version, kind, r.u64()?, r.u64()?, r.u64()?, r.u64()?);
            r.finish()?;
            Ok::<_, zg_codec::CodecError>(fields)
        })();
        let (version, kind, len, id, count, position) = fields.map_err(|e| bad(e.to_string()))?;
        if version != SHARD_VERSION {
            return Err(bad(format!("unsupported shard record version {version}")));
        }
        let kind = match kind {
            0 => RootKind::Blake3,
            1 => RootKind::Keccak,
            k => return Err(bad(format!("unknown root kind {k}"))),
        };
        let shard = Shard::new(id, count).map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            root: *root,
            len,
            kind,
            shard,
            position,
        })
    }
}

/// The key a file's shard record is stored under (a meta record).
pub fn shard_meta_key(root: &Hash) -> Hash {
    *blake3::keyed_hash(root, b"zg shard of a file (meta record)").as_bytes()
}

/// The key a sharded file's segment proofs are stored under (record `i` is segment `i`'s).
pub fn proof_key(root: &Hash) -> Hash {
    *blake3::keyed_hash(root, b"zg segment proofs of a shard (v1)").as_bytes()
}

/// The shard record of `root`, if this store holds a shard of it.
pub fn open_shard(store: &Store, root: &Hash) -> Result<Option<ShardMeta>> {
    match store.get_meta(&shard_meta_key(root)) {
        Ok(bytes) => ShardMeta::decode(root, &bytes).map(Some),
        Err(zg_store::StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Segments `indices` of a sharded file with their proofs, each checked against the
/// root with its stored proof; an index outside the shard is out of range.
pub fn read_shard_segments(
    store: &Store,
    meta: &ShardMeta,
    indices: &[u64],
) -> Result<Vec<(Bytes, SegmentProof)>> {
    if let Some(&index) = indices.iter().find(|i| !meta.holds(**i)) {
        return Err(FileError::NotInShard {
            root: hex(&meta.root),
            index,
            shard: meta.shard.to_string(),
        });
    }
    let data: Vec<(Hash, u64)> = indices.iter().map(|i| (meta.root, *i)).collect();
    let proofs: Vec<(Hash, u64)> = indices.iter().map(|i| (proof_key(&meta.root), *i)).collect();
    // The proof checks every data byte: the data record's checksum would hash it twice.
    let got = store.get_many_unchecked(&data);
    let got_proofs = store.get_many(&proofs);
    let mut out = Vec::with_capacity(indices.len());
    for ((index, seg), proof) in indices.iter().zip(got).zip(got_proofs) {
        let unavailable = |reason: String| FileError::Unavailable {
            root: hex(&meta.root),
            index: *index,
            reason,
        };
        let seg = seg.map_err(|e| unavailable(e.to_string()))?;
        let proof = proof
            .map_err(|e| unavailable(format!("its proof: {e}")))
            .and_then(|p| SegmentProof::from_bytes(&p).map_err(|e| unavailable(format!("its proof: {e}"))))?;
        let expected = (meta.len - index * SEGMENT_SIZE as u64).min(SEGMENT_SIZE as u64) as usize;
        if seg.len() != expected {
            return Err(unavailable(format!(
                "{} bytes stored, expected {expected}",
                seg.len()
            )));
        }
        match proof.verify_kind(meta.kind, &meta.root, meta.len, *index, &seg) {
            Ok(true) => out.push((Bytes::from_owner(seg), proof)),
            Ok(false) => return Err(unavailable("failed its Merkle proof".into())),
            Err(e) => return Err(unavailable(e.to_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_shards() {
        assert_eq!("1/2".parse::<Shard>(), Shard::new(1, 2));
        assert_eq!("0/1".parse::<Shard>(), Ok(Shard::WHOLE));
        assert!(matches!("2/2".parse::<Shard>(), Err(ShardError::Range { .. })));
        assert!(matches!("0/3".parse::<Shard>(), Err(ShardError::Range { .. })));
        assert!(matches!("0/0".parse::<Shard>(), Err(ShardError::Range { .. })));
        assert!(matches!("1".parse::<Shard>(), Err(ShardError::Syntax(_))));
        assert!(matches!("a/2".parse::<Shard>(), Err(ShardError::Syntax(_))));
        assert_eq!(Shard::new(3, 8).unwrap().to_string(), "3/8");
    }

    /// Against the plain definition: index ≡ id mod count, over positions and sizes.
    #[test]
    fn indices_and_counts_follow_the_definition() {
        for count in [1u64, 2, 4, 8] {
            for id in 0..count {
                let s = Shard::new(id, count).unwrap();
                for position in [0u64, 1, 2, 3, 5, 8, 1023, u64::MAX / 2] {
                    for segments in [0u64, 1, 2, 3, 7, 8, 9, 33] {
                        let plain: Vec<u64> = (0..segments)
                            .filter(|i| {
                                (u128::from(position) + u128::from(*i)) % u128::from(count) == u128::from(id)
                            })
                            .collect();
                        assert_eq!(s.indices(position, segments).collect::<Vec<_>>(), plain);
                        assert_eq!(s.held_count(position, segments), plain.len() as u64);
                        for i in 0..segments {
                            assert_eq!(s.holds(position, i), plain.contains(&i));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn shard_meta_round_trips_and_refuses_garbage() {
        let root = [7u8; 32];
        let m = ShardMeta {
            root,
            len: 5 << 20,
            kind: RootKind::Keccak,
            shard: Shard::new(1, 4).unwrap(),
            position: 12,
        };
        let bytes = m.encode();
        assert_eq!(ShardMeta::decode(&root, &bytes).unwrap(), m);
        assert_eq!(
            m.held_count(),
            m.shard.indices(12, m.segment_count()).count() as u64
        );
        for cut in 0..bytes.len() {
            assert!(ShardMeta::decode(&root, &bytes[..cut]).is_err());
        }
        let mut bad = bytes;
        bad[22] = 3; // shard count 3: not a power of two
        assert!(ShardMeta::decode(&root, &bad).is_err());
    }
}
