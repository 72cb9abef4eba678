//! An in-memory Merkle-Patricia trie over fixed-length (32-byte, hashed) keys that keeps
//! every node's hash, so a root after a few changes costs a few paths, not the whole
//! trie. Node encoding follows the Yellow Paper (appendix D); tests check the roots
//! against alloy-trie's from-scratch computation.

use alloy_primitives::{B256, keccak256};
use alloy_rlp::{BufMut, Header};
use alloy_trie::EMPTY_ROOT_HASH;

/// How a parent refers to a child: its RLP when shorter than 32 bytes, else its hash.
#[derive(Clone, Debug)]
enum NodeRef {
    Inline(Vec<u8>),
    Hash(B256),
}

impl NodeRef {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Inline(rlp) => out.extend_from_slice(rlp),
            Self::Hash(hash) => {
                out.push(0xa0);
                out.extend_from_slice(hash.as_slice());
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Inline(rlp) => rlp.len(),
            Self::Hash(_) => 33,
        }
    }
}

#[derive(Debug, Default)]
enum Node {
    #[default]
    Empty,
    Leaf(Box<Leaf>),
    Extension(Box<Extension>),
    Branch(Box<Branch>),
}

#[derive(Debug)]
struct Leaf {
    path: Vec<u8>,
    value: Vec<u8>,
    cache: Option<NodeRef>,
}

#[derive(Debug)]
struct Extension {
    path: Vec<u8>,
    child: Node,
    cache: Option<NodeRef>,
}

#[derive(Debug, Default)]
struct Branch {
    children: [Node; 16],
    cache: Option<NodeRef>,
}

/// A Merkle-Patricia trie with cached node hashes.
#[derive(Debug, Default)]
pub struct Trie {
    root: Node,
    len: usize,
}

impl Clone for Trie {
    // Cloning rebuilds nothing: the copy shares no nodes but keeps every cached hash.
    fn clone(&self) -> Self {
        Self {
            root: self.root.deep_clone(),
            len: self.len,
        }
    }
}

fn nibbles(key: &B256) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (i, byte) in key.iter().enumerate() {
        out[2 * i] = byte >> 4;
        out[2 * i + 1] = byte & 0x0f;
    }
    out
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

// Hex-prefix encoding of a nibble path (Yellow Paper appendix C) as an RLP string.
fn encode_path(path: &[u8], leaf: bool, out: &mut Vec<u8>) {
    let flag = if leaf { 2 } else { 0 } + (path.len() % 2) as u8;
    let mut bytes = Vec::with_capacity(path.len() / 2 + 1);
    let rest = if path.len() % 2 == 1 {
        bytes.push((flag << 4) | path[0]);
        &path[1..]
    } else {
        bytes.push(flag << 4);
        path
    };
    for pair in rest.chunks(2) {
        bytes.push((pair[0] << 4) | pair[1]);
    }
    alloy_rlp::Encodable::encode(&bytes.as_slice(), out);
}

fn finish(payload: &[u8]) -> NodeRef {
    let mut rlp = Vec::with_capacity(payload.len() + 3);
    Header {
        list: true,
        payload_length: payload.len(),
    }
    .encode(&mut rlp);
    rlp.put_slice(payload);
    if rlp.len() < 32 {
        NodeRef::Inline(rlp)
    } else {
        NodeRef::Hash(keccak256(&rlp))
    }
}

impl Node {
    fn leaf(path: &[u8], value: Vec<u8>) -> Self {
        Self::Leaf(Box::new(Leaf {
            path: path.to_vec(),
            value,
            cache: None,
        }))
    }

    // A node reached through `prefix` more nibbles: merges into leaves and extensions.
    fn prefixed(prefix: &[u8], node: Node) -> Self {
        if prefix.is_empty() {
            return node;
        }
        match node {
            Self::Leaf(mut leaf) => {
                leaf.path.splice(0..0, prefix.iter().copied());
                leaf.cache = None;
                Self::Leaf(leaf)
            }
            Self::Extension(mut ext) => {
                ext.path.splice(0..0, prefix.iter().copied());
                ext.cache = None;
                Self::Extension(ext)
            }
            other => Self::Extension(Box::new(Extension {
                path: prefix.to_vec(),
                child: other,
                cache: None,
            })),
        }
    }

    fn deep_clone(&self) -> Self {
        match self {
            Self::Empty => Self::Empty,
            Self::Leaf(leaf) => Self::Leaf(Box::new(Leaf {
                path: leaf.path.clone(),
                value: leaf.value.clone(),
                cache: leaf.cache.clone(),
            })),
            Self::Extension(ext) => Self::Extension(Box::new(Extension {
                path: ext.path.clone(),
                child: ext.child.deep_clone(),
                cache: ext.cache.clone(),
            })),
            Self::Branch(branch) => Self::Branch(Box::new(Branch {
                children: std::array::from_fn(|i| branch.children[i].deep_clone()),
                cache: branch.cache.clone(),
            })),
        }
    }

    // Inserts or replaces; returns whether the key is new.
    fn insert(&mut self, path: &[u8], value: Vec<u8>) -> bool {
        match self {
            Self::Empty => {
                *self = Self::leaf(path, value);
                true
            }
            Self::Leaf(leaf) => {
                if leaf.path == path {
                    if leaf.value != value {
                        leaf.value = value;
                        leaf.cache = None;
                    }
                    return false;
                }
                // Fixed-length keys: two different paths part before either ends.
                let common = common_prefix(&leaf.path, path);
                let mut branch = Branch::default();
                let old = std::mem::replace(self, Self::Empty);
                let Self::Leaf(mut old) = old else {
                    unreachable!("matched a leaf")
                };
                let old_index = old.path[common] as usize;
                old.path.drain(..=common);
                old.cache = None;
                branch.children[old_index] = Self::Leaf(old);
                branch.children[path[common] as usize] = Self::leaf(&path[common + 1..], value);
                *self = Self::prefixed(&path[..common], Self::Branch(Box::new(branch)));
                true
            }
            Self::Extension(ext) => {
                let common = common_prefix(&ext.path, path);
                if common == ext.path.len() {
                    let new = ext.child.insert(&path[common..], value);
                    ext.cache = None;
                    return new;
                }
                let old = std::mem::replace(self, Self::Empty);
                let Self::Extension(ext) = old else {
                    unreachable!("matched an extension")
                };
                let mut branch = Branch::default();
                let old_index = ext.path[common] as usize;
                branch.children[old_index] = Self::prefixed(&ext.path[common + 1..], ext.child);
                branch.children[path[common] as usize] = Self::leaf(&path[common + 1..], value);
                *self = Self::prefixed(&path[..common], Self::Branch(Box::new(branch)));
                true
            }
            Self::Branch(branch) => {
                let new = branch.children[path[0] as usize].insert(&path[1..], value);
                branch.cache = None;
                new
            }
        }
    }

    // Removes; returns whether the key was there. Keeps the trie canonical (no
    // single-child branches, no extension to an extension or a leaf).
    fn remove(&mut self, path: &[u8]) -> bool {
        match self {
            Self::Empty => false,
            Self::Leaf(leaf) => {
                if leaf.path == path {
                    *self = Self::Empty;
                    return true;
                }
                false
            }
            Self::Extension(ext) => {
                if !path.starts_with(&ext.path) {
                    return false;
                }
                let removed = ext.child.remove(&path[ext.path.len()..]);
                if removed {
                    ext.cache = None;
                    if !matches!(ext.child, Self::Branch(_)) {
                        let old = std::mem::replace(self, Self::Empty);
                        let Self::Extension(ext) = old else {
                            unreachable!("matched an extension")
                        };
                        *self = Self::prefixed(&ext.path, ext.child);
                    }
                }
                removed
            }
            Self::Branch(branch) => {
                let removed = branch.children[path[0] as usize].remove(&path[1..]);
                if removed {
                    branch.cache = None;
                    let mut live = branch
                        .children
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| !matches!(c, Self::Empty));
                    let first = live.next().map(|(i, _)| i);
                    if live.next().is_none() {
                        *self = match first {
                            None => Self::Empty,
                            Some(i) => {
                                let child = std::mem::take(&mut branch.children[i]);
                                Self::prefixed(&[i as u8], child)
                            }
                        };
                    }
                }
                removed
            }
        }
    }

    fn node_ref(&mut self) -> Option<NodeRef> {
        match self {
            Self::Empty => None,
            Self::Leaf(leaf) => Some(
                leaf.cache
                    .get_or_insert_with(|| {
                        let mut payload = Vec::with_capacity(leaf.value.len() + 40);
                        encode_path(&leaf.path, true, &mut payload);
                        alloy_rlp::Encodable::encode(&leaf.value.as_slice(), &mut payload);
                        finish(&payload)
                    })
                    .clone(),
            ),
            Self::Extension(ext) => {
                if ext.cache.is_none() {
                    let child = ext.child.node_ref().expect("an extension has a child");
                    let mut payload = Vec::with_capacity(child.len() + 40);
                    encode_path(&ext.path, false, &mut payload);
                    child.encode(&mut payload);
                    ext.cache = Some(finish(&payload));
                }
                ext.cache.clone()
            }
            Self::Branch(branch) => {
                if branch.cache.is_none() {
                    let mut payload = Vec::with_capacity(16 * 33 + 1);
                    for child in &mut branch.children {
                        match child.node_ref() {
                            Some(r) => r.encode(&mut payload),
                            None => payload.push(0x80),
                        }
                    }
                    payload.push(0x80); // no value: keys are fixed-length
                    branch.cache = Some(finish(&payload));
                }
                branch.cache.clone()
            }
        }
    }
}

impl Trie {
    /// An empty trie.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the trie holds no key.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets `key` (already hashed) to `value` (the leaf's bytes: RLP of the account or
    /// of the slot value).
    pub fn insert(&mut self, key: &B256, value: Vec<u8>) {
        if self.root.insert(&nibbles(key), value) {
            self.len += 1;
        }
    }

    /// Removes `key`, if present.
    pub fn remove(&mut self, key: &B256) {
        if self.root.remove(&nibbles(key)) {
            self.len -= 1;
        }
    }

    /// The root hash; only nodes changed since the last call are re-hashed.
    pub fn root(&mut self) -> B256 {
        match self.root.node_ref() {
            None => EMPTY_ROOT_HASH,
            Some(NodeRef::Hash(hash)) => hash,
            Some(NodeRef::Inline(rlp)) => keccak256(rlp),
        }
    }
}
