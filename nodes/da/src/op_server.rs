//! The OP-stack DA server for 0G DA (what `0g-da-op-plasma`'s da-server does; facts from
//! 0G-DA-WIRE.md §3.1): OP's batcher PUTs a batch, the server disperses it through a
//! disperser API, waits for FINALIZED and answers the 50-byte generic commitment
//! `01 47 ‖ epoch (u64 LE) ‖ quorum id (u64 LE) ‖ storage root`; op-node GETs
//! `/get/0x<commitment>` and gets the raw bytes. Unknown blobs answer 500, never 404:
//! op-node retries a 500, but treats a 404 as data gone and may drop the batch.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use crate::disperser_client::{self, Disperser};

/// OP's generic commitment type.
pub const GENERIC_COMMITMENT: u8 = 0x01;
/// 0G's DA-layer byte.
pub const ZEROG_LAYER: u8 = 0x47;
/// Bytes of a commitment.
pub const COMMITMENT_LEN: usize = 50;
/// The largest batch (0G's largest blob).
pub const MAX_BATCH: usize = zg_blob::zerog::MAX_DATA;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct OpServerConfig {
    /// Where it listens (0G: 127.0.0.1:3100).
    pub listen: SocketAddr,
    /// The disperser API it disperses through, e.g. `http://127.0.0.1:51001`.
    pub disperser: String,
    /// Time between status polls (0G: 3 s).
    pub poll: Duration,
    /// How long a PUT waits for FINALIZED (0G: 180 s).
    pub deadline: Duration,
}

impl Default for OpServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3100)),
            disperser: "http://127.0.0.1:51001".into(),
            poll: Duration::from_millis(500),
            deadline: Duration::from_secs(180),
        }
    }
}

/// A blob's commitment: the 50 bytes OP's batcher posts after its version byte.
pub fn commitment(storage_root: &[u8; 32], epoch: u64, quorum_id: u64) -> [u8; COMMITMENT_LEN] {
    let mut out = [0u8; COMMITMENT_LEN];
    out[0] = GENERIC_COMMITMENT;
    out[1] = ZEROG_LAYER;
    out[2..10].copy_from_slice(&epoch.to_le_bytes());
    out[10..18].copy_from_slice(&quorum_id.to_le_bytes());
    out[18..].copy_from_slice(storage_root);
    out
}

/// A commitment read as 0G's server reads it: bytes 0–1 ignored, epoch, quorum id, then
/// the storage root (whatever its length: the disperser judges it).
pub fn parse_commitment(bytes: &[u8]) -> Option<(Vec<u8>, u64, u64)> {
    if bytes.len() < 18 {
        return None;
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
    Some((bytes[18..].to_vec(), word(2), word(10)))
}

#[derive(Clone)]
struct Op {
    client: Disperser,
    poll: Duration,
    deadline: Duration,
}

fn bytes(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/octet-stream")], body).into_response()
}

fn fail(status: StatusCode, why: impl std::fmt::Display) -> Response {
    (status, why.to_string()).into_response()
}

/// Disperses the body and answers its commitment once FINALIZED.
async fn put(State(op): State<Op>, body: Bytes) -> Response {
    let mut client = op.client.clone();
    match disperser_client::disperse(&mut client, body.to_vec(), op.poll, op.deadline, |_| {}).await {
        Ok(f) => bytes(
            StatusCode::OK,
            commitment(&f.storage_root, f.epoch, f.quorum_id).to_vec(),
        ),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// `/put/{anything}`: 0G's server takes any path one level under `/put` as a PUT.
async fn put_under(state: State<Op>, Path(_): Path<String>, body: Bytes) -> Response {
    put(state, body).await
}

/// The raw bytes of the blob a commitment names.
async fn get_blob(State(op): State<Op>, Path(key): Path<String>) -> Response {
    let Some(hex_text) = key.strip_prefix("0x") else {
        return fail(StatusCode::BAD_REQUEST, "the commitment must be 0x-prefixed hex");
    };
    let Ok(raw) = hex::decode(hex_text) else {
        return fail(StatusCode::BAD_REQUEST, "the commitment is not hex");
    };
    let Some((storage_root, epoch, quorum_id)) = parse_commitment(&raw) else {
        return fail(StatusCode::BAD_REQUEST, "a commitment has at least 18 bytes");
    };
    match disperser_client::retrieve(&mut op.client.clone(), storage_root, epoch, quorum_id).await {
        Ok(data) => bytes(StatusCode::OK, data),
        // 500, as 0G answers: op-node retries it (a 404 would read as data gone).
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn wrong_depth() -> Response {
    fail(StatusCode::BAD_REQUEST, "expected /put/ or /get/0x<commitment>")
}

/// The server bound to its port.
pub struct OpServer {
    listener: tokio::net::TcpListener,
    app: Router,
}

impl OpServer {
    /// Binds `config.listen`; the disperser is dialled lazily (it may start later).
    pub async fn bind(config: OpServerConfig) -> anyhow::Result<Self> {
        let client = disperser_client::connect(&config.disperser)?;
        let op = Op {
            client,
            poll: config.poll,
            deadline: config.deadline,
        };
        let app = Router::new()
            .route("/put", any(put))
            .route("/put/", any(put))
            .route("/put/{key}", any(put_under))
            .route("/get/{key}", get(get_blob))
            .route("/get/{key}/{*rest}", any(wrong_depth))
            .route("/put/{key}/{*rest}", any(wrong_depth))
            .layer(DefaultBodyLimit::max(MAX_BATCH))
            .with_state(op);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        Ok(Self { listener, app })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        axum::serve(self.listener, self.app)
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commitments_have_0gs_layout_and_parse_back() {
        let c = commitment(&[0xab; 32], 0x0102, 7);
        assert_eq!(&c[..2], &[0x01, 0x47]);
        assert_eq!(&c[2..10], &[2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&c[10..18], &[7, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(parse_commitment(&c), Some((vec![0xab; 32], 0x0102, 7)));
        assert_eq!(parse_commitment(&c[..17]), None);
    }
}
