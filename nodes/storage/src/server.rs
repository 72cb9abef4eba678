//! The storage node's configuration and lifecycle: open the store, join the network,
//! bind the port, serve JSON-RPC and HTTP on it until shutdown.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post, put};
use zg_file::shard::Shard;
use zg_node::p2p::{Network, P2pConfig};
use zg_store::{Store, StoreOptions};

use crate::follow::FollowConfig;
use crate::http::{
    App, get_file, get_segments, list_files, metrics, per_client_limit, post_segments, put_file,
};
use crate::replication::handle_net_events;
use crate::rpc::{rpc_handler, rpc_module};
use crate::service::StorageService;

/// How a storage node runs.
#[derive(Clone, Debug)]
pub struct StorageConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the store lives.
    pub data_dir: PathBuf,
    /// Largest JSON-RPC request body.
    pub max_request_bytes: usize,
    /// Most segments in one upload or download request.
    pub max_segments_per_request: usize,
    /// Most requests in one JSON-RPC batch.
    pub max_batch: usize,
    /// Largest file accepted.
    pub max_file_bytes: u64,
    /// Requests one client address may have in flight.
    pub max_concurrent_per_client: usize,
    /// Store capacity in bytes.
    pub capacity: Option<u64>,
    /// The p2p network to replicate over; `None` runs standalone.
    pub p2p: Option<P2pConfig>,
    /// The chain whose Flow the node follows (0G mode: Keccak-rooted files only once
    /// paid for, 0G's `*ByTxSeq` API); `None` runs off-chain.
    pub chain: Option<FollowConfig>,
    /// The shard of the flow this node holds (0G's sharding); the whole flow by default.
    pub shard: Shard,
    /// Fault injection for tests: serve peers corrupted segments.
    #[cfg(feature = "fault-injection")]
    pub serve_bad_segments: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 5678)),
            data_dir: PathBuf::from(".zg/storage"),
            max_request_bytes: 24 << 20,
            max_segments_per_request: 64,
            max_batch: 64,
            max_file_bytes: 1 << 40,
            max_concurrent_per_client: 32,
            capacity: None,
            p2p: None,
            chain: None,
            shard: Shard::WHOLE,
            #[cfg(feature = "fault-injection")]
            serve_bad_segments: false,
        }
    }
}

/// Makes the data directory and returns where the store lives in it (`store/`, beside
/// the node key). A store written by an earlier version straight into the data
/// directory is moved into `store/` first.
fn prepare_data_dir(dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    let store_dir = dir.join("store");
    std::fs::create_dir_all(&store_dir)
        .map_err(|e| anyhow::anyhow!("creating the data directory {}: {e}", store_dir.display()))?;
    for entry in std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let legacy = name == "index.zgi" || (name.starts_with("data-") && name.ends_with(".zgs"));
        if legacy {
            std::fs::rename(entry.path(), store_dir.join(&*name))
                .map_err(|e| anyhow::anyhow!("moving {} into {}: {e}", name, store_dir.display()))?;
            tracing::info!(file = %name, "moved a store file of the old layout into store/");
        }
    }
    Ok(store_dir)
}

/// A bound, not yet serving, storage node.
pub struct StorageServer {
    listener: tokio::net::TcpListener,
    app: Router,
    node: Arc<StorageService>,
}

impl StorageServer {
    /// Opens the store (recovering it), loads or makes the node key, binds the
    /// listener, and joins the p2p network when configured.
    pub async fn bind(cfg: StorageConfig) -> anyhow::Result<Self> {
        let dir = cfg.data_dir.clone();
        let store_dir = prepare_data_dir(&dir)?;
        let opts = StoreOptions {
            capacity: cfg.capacity,
            ..StoreOptions::default()
        };
        let (store, report) = tokio::task::spawn_blocking(move || Store::open_path(&store_dir, opts))
            .await?
            .map_err(|e| anyhow::anyhow!("opening the store in {}: {e}", cfg.data_dir.display()))?;
        tracing::info!(dir = %cfg.data_dir.display(), backend = %report.backend, files = report.files,
            records = report.records, from_snapshot = report.from_snapshot, "store opened");
        if let Some(t) = &report.torn_tail {
            tracing::warn!(file = %t.file, dropped = t.dropped_bytes, "dropped an unacknowledged torn write on open");
        }
        let listener = tokio::net::TcpListener::bind(cfg.listen).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e} (is another node using the port? choose another address: \
                 --listen for zg-storage, --storage-listen for zg devnet)",
                cfg.listen
            )
        })?;
        // The bound address (port 0 becomes a real one): peers ask it to fetch segments over HTTP.
        let mut cfg = cfg;
        cfg.listen = listener.local_addr()?;
        let (net, events) = match &cfg.p2p {
            Some(p2p) => {
                let key = zg_node::identity::load_or_create(&dir)?;
                let (net, events) = Network::start(p2p.clone(), key.secret()).await?;
                (Some(net), Some(events))
            }
            None => (None, None),
        };
        if let Some(chain) = &cfg.chain
            && let Some(announce) = &chain.announce
        {
            let listen = listener.local_addr()?;
            let done = crate::follow::announce(chain, announce, listen, cfg.shard)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "announcing the node in the service registry on {}: {e}",
                        chain.url
                    )
                })?;
            tracing::info!(id = %done.id(), outcome = ?done, "announced in the service registry");
        }
        let node =
            Arc::new(StorageService::new(store, cfg.clone(), net).map_err(|e| {
                anyhow::anyhow!("reading the followed flow in {}: {e}", cfg.data_dir.display())
            })?);
        if let Some(events) = events {
            tokio::spawn(handle_net_events(node.clone(), events));
        }
        let state = App {
            service: node.clone(),
            rpc: Arc::new(rpc_module(node.clone())),
            clients: Arc::default(),
        };
        let app = Router::new()
            .route("/", post(rpc_handler))
            .route(
                "/files",
                put(put_file).layer(DefaultBodyLimit::disable()).get(list_files),
            )
            .route("/files/{root}", get(get_file))
            .route(
                "/segments",
                post(post_segments).layer(DefaultBodyLimit::max(zg_file::frames::body_limit(
                    cfg.max_segments_per_request,
                ))),
            )
            .route("/segments/{root}", get(get_segments))
            .route("/metrics", get(metrics))
            .layer(DefaultBodyLimit::max(cfg.max_request_bytes))
            .layer(middleware::from_fn_with_state(state.clone(), per_client_limit))
            .with_state(state);
        Ok(Self { listener, app, node })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shard of the flow this node holds.
    pub fn shard(&self) -> Shard {
        self.node.cfg.shard
    }

    /// The p2p address peers dial, when networked.
    pub fn p2p_addr(&self) -> Option<String> {
        self.node.net.as_ref().map(|n| n.listen_addr().to_string())
    }

    /// Serves until `shutdown` completes, then closes the store cleanly.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let follower = self
            .node
            .cfg
            .chain
            .clone()
            .map(|chain| tokio::spawn(crate::follow::follow(self.node.clone(), chain)));
        axum::serve(
            self.listener,
            self.app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        if let Some(follower) = follower {
            follower.abort();
        }
        // The network task holds the node through its event handler: stop it too.
        if let Some(net) = &self.node.net {
            net.shutdown().await;
        }
        tracing::info!("storage node stopped");
        drop(self.node);
        Ok(())
    }
}
