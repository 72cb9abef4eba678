//! The node key: one ed25519 key per node, kept in its data directory, from which the
//! node's libp2p identity comes.

use std::path::Path;

use anyhow::Context;
use zg_blob::da::NodeKey;

/// File name of the node key inside a data directory.
pub const KEY_FILE: &str = "node.key";

/// Reads the node key in `data_dir`, or makes one there (mode 0600) from the OS RNG.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<NodeKey> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    Ok(NodeKey::load_or_create(&data_dir.join(KEY_FILE), rand::random)?)
}
