//! The DA node's configuration and lifecycle: open the store, load the key, join the
//! network, bind the port, serve until shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use zg_blob::da::{CellSet, MAX_BLOB_RECORD, custody_columns};
use zg_kzg::KzgContext;
use zg_node::p2p::{Network, P2pConfig};
use zg_store::{Store, StoreOptions};

use crate::api::NodeKey;
use crate::chain::{ChainConfig, DaChain, load_or_create_bls};
use crate::dispersal::Dispersals;
use crate::http::{
    get_cell, get_payload, get_submission, metrics, post_submission, put_cells, put_header, sign, status,
};
use crate::replication::handle_net_events;
use crate::service::DaService;

/// How a DA node runs.
#[derive(Clone, Debug)]
pub struct DaConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the store and the node key live.
    pub data_dir: PathBuf,
    /// Payloads encoded at once (each uses every core); more wait their turn.
    pub max_concurrent_encodes: usize,
    /// Submissions waiting to be encoded beyond which new ones get 503.
    pub max_queued: usize,
    /// Store capacity in bytes.
    pub capacity: Option<u64>,
    /// Join the p2p network (`None`: a standalone node that keeps every cell).
    pub p2p: Option<P2pConfig>,
    /// Cells of each blob a networked node keeps (chosen from its peer id).
    pub custody_columns: usize,
    /// Where to serve 0G's disperser API over gRPC (0G: port 51001), if at all.
    pub grpc: Option<SocketAddr>,
    /// The chain whose 0G DA contracts the node registers with, signs for and
    /// certifies through; `None`: no chain (blobs in epoch 0, quorum 0, CONFIRMED once
    /// stored).
    pub chain: Option<ChainConfig>,
    /// Fault injection for tests: serve peers cells with one bit flipped.
    #[cfg(feature = "fault-injection")]
    pub serve_bad_cells: bool,
}

impl Default for DaConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 34000)),
            data_dir: PathBuf::from(".zg/da"),
            max_concurrent_encodes: 1,
            max_queued: 8,
            capacity: None,
            p2p: None,
            custody_columns: 64,
            grpc: None,
            chain: None,
            #[cfg(feature = "fault-injection")]
            serve_bad_cells: false,
        }
    }
}

/// Random cells beyond its custody a node samples from the announcing peer.
pub(crate) const SAMPLES_PER_SUBMISSION: usize = 8;

/// Connects to the chain with the node's BLS key and registers it as a DA signer
/// reachable at its HTTP address.
async fn join_chain(
    c: &ChainConfig,
    dir: &std::path::Path,
    listen: SocketAddr,
) -> anyhow::Result<(DaChain, String)> {
    let bls = load_or_create_bls(dir)?;
    let chain = DaChain::connect(&c.url, c.key.clone(), bls)
        .await
        .map_err(|e| anyhow::anyhow!("{e} (start the chain first, or run without --chain)"))?;
    let socket = c.public_url.clone().unwrap_or_else(|| format!("http://{listen}"));
    chain
        .register(&socket)
        .await
        .map_err(|e| anyhow::anyhow!("registering as a 0G DA signer on {}: {e}", c.url))?;
    tracing::info!(signer = %chain.address(), %socket, chain = %c.url, "registered as a 0G DA signer");
    Ok((chain, socket))
}

/// A DA node bound to its address, ready to serve.
pub struct DaServer {
    listener: tokio::net::TcpListener,
    app: Router,
    node: Arc<DaService>,
    grpc: Option<(tokio::net::TcpListener, Arc<Dispersals>)>,
}

impl DaServer {
    /// Opens the store (recovering it), loads or makes the node key, binds the listener.
    pub async fn bind(cfg: DaConfig) -> anyhow::Result<Self> {
        let dir = cfg.data_dir.clone();
        let key = zg_node::identity::load_or_create(&dir)?;
        let opts = StoreOptions {
            capacity: cfg.capacity,
            ..StoreOptions::default()
        };
        let store_dir = dir.join("store");
        let (store, report) = tokio::task::spawn_blocking(move || Store::open_path(&store_dir, opts))
            .await?
            .map_err(|e| anyhow::anyhow!("opening the store in {}: {e}", dir.display()))?;
        tracing::info!(dir = %cfg.data_dir.display(), backend = %report.backend, records = report.records, "DA store opened");
        let listener = tokio::net::TcpListener::bind(cfg.listen).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e} (is another node using the port? choose another address: \
                 --listen for zg-da, --da-listen for zg devnet)",
                cfg.listen
            )
        })?;
        // The embedded Ethereum setup; its tables are built once, before the first request.
        let kzg = KzgContext::ethereum();
        tokio::task::spawn_blocking(|| kzg.build_tables()).await?;
        let (net, events) = match &cfg.p2p {
            Some(p2p) => {
                let (net, events) = Network::start(p2p.clone(), key.secret()).await?;
                (Some(net), Some(events))
            }
            None => (None, None),
        };
        // A networked node keeps the cells its peer id selects; a standalone one, all.
        let custody = match &net {
            Some(net) => custody_columns(&net.peer_id().to_bytes(), cfg.custody_columns),
            None => CellSet::ALL,
        };
        let grpc_listen = cfg.grpc;
        let (chain, endpoint) = match &cfg.chain {
            Some(c) => {
                let (chain, endpoint) = join_chain(c, &cfg.data_dir, listener.local_addr()?).await?;
                (Some(chain), Some(endpoint))
            }
            None => (None, None),
        };
        let node = Arc::new(DaService::new(store, key, custody, kzg, cfg, net, chain));
        let grpc = match grpc_listen {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                    anyhow::anyhow!("cannot listen on {addr} for the disperser API: {e} (choose another with --grpc-listen)")
                })?;
                Some((listener, Dispersals::start(node.clone())?))
            }
            None => None,
        };
        if let (Some(chain), Some(endpoint)) = (&node.chain, endpoint) {
            let disperser = grpc.as_ref().map(|(l, _)| l.local_addr()).transpose()?;
            let done = chain.announce(&endpoint, disperser).await.map_err(|e| {
                anyhow::anyhow!(
                    "announcing the node in the service registry on {}: {e}",
                    chain.url()
                )
            })?;
            tracing::info!(id = %done.id(), outcome = ?done, "announced in the service registry");
        }
        tracing::info!(node = %NodeKey::from(node.key.node_id()), custody = node.custody.len(), "DA node key loaded");
        if let Some(events) = events {
            tokio::spawn(handle_net_events(node.clone(), events));
        }
        let app = Router::new()
            .route(
                "/submissions",
                post(post_submission).layer(DefaultBodyLimit::disable()),
            )
            .route("/submissions/{id}", get(get_submission).put(put_header))
            .route(
                "/submissions/{id}/blobs/{blob}",
                put(put_cells).layer(DefaultBodyLimit::max(MAX_BLOB_RECORD)),
            )
            .route("/submissions/{id}/blobs/{blob}/cells/{cell}", get(get_cell))
            .route("/submissions/{id}/payload", get(get_payload))
            .route("/zerog/sign", post(sign))
            .route("/status", get(status))
            .route("/metrics", get(metrics))
            .layer(DefaultBodyLimit::max(64 << 10))
            .with_state(node.clone());
        Ok(Self {
            listener,
            app,
            node,
            grpc,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where the disperser API listens, when served.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// The node's public key.
    pub fn node_id(&self) -> [u8; 32] {
        self.node.key.node_id()
    }

    /// The account it signs 0G DA quorum rows as, when it follows a chain.
    pub fn signer(&self) -> Option<alloy_primitives::Address> {
        self.node.chain.as_ref().map(|c| c.address())
    }

    /// The p2p address peers dial, when networked.
    pub fn p2p_addr(&self) -> Option<String> {
        self.node.net.as_ref().map(|n| n.listen_addr().to_string())
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        use futures_util::FutureExt as _;
        let shutdown = shutdown.shared();
        let grpc = self
            .grpc
            .map(|(listener, d)| tokio::spawn(crate::grpc::serve(listener, d, shutdown.clone())));
        axum::serve(self.listener, self.app)
            .with_graceful_shutdown(shutdown)
            .await?;
        if let Some(grpc) = grpc {
            grpc.await??;
        }
        // The network task holds the node through its event handler: stop it too.
        if let Some(net) = &self.node.net {
            net.shutdown().await;
        }
        tracing::info!(listen = %self.node.cfg.listen, "DA node stopped");
        Ok(())
    }
}
