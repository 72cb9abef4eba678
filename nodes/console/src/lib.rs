//! # zg-console
//!
//! A web console for a zg network, served by `zg devnet`: the chain (blocks,
//! transactions, accounts, contract events), storage (files with roots and tx seqs;
//! upload and download in the browser, with progress), DA (node status, submissions,
//! cells held), the marketplace (every registered service and agent with its prices,
//! and a chat box that talks to a provider as a dev account) and ledger balances.
//!
//! The pages (HTML, CSS, JavaScript) are embedded in the binary and load nothing from
//! elsewhere. They read the nodes' public APIs through a same-origin proxy
//! (`/api/chain`, `/api/storage/{i}/…`, `/api/da/{i}/…`) and a few reads the console
//! decodes for them (`/api/services`, `/api/files`, `/api/ledgers`). The chat signs
//! 0G's `app-sk-` key with a dev account's key, as `zg compute ask` does, funding the
//! account's ledger and sub-account with the provider the first time.

use std::net::SocketAddr;
use std::sync::Arc;

use alloy_primitives::utils::parse_ether;
use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::Deserialize;
use zg_compute::ApiKey;
use zg_node::chain::ChainClient;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// Largest JSON-RPC request the console forwards to the chain.
const MAX_RPC_BODY: usize = 1 << 20;
/// How long a chat's session key lives.
const CHAT_KEY_MS: u64 = 10 * 60 * 1000;
/// Files `/api/files` lists (the newest).
const FILES_LISTED: u64 = 50;

/// What the console shows and where the nodes answer.
#[derive(Clone, Debug)]
pub struct ConsoleConfig {
    /// Where it listens.
    pub listen: SocketAddr,
    /// The chain's JSON-RPC URL.
    pub chain: String,
    /// Storage nodes' URLs.
    pub storage: Vec<String>,
    /// DA nodes' URLs.
    pub da: Vec<String>,
    /// The disperser API (gRPC) address, when one runs.
    pub disperser: Option<String>,
    /// The compute provider's URL and address, when one runs.
    pub compute: Option<(String, Address)>,
    /// Dev accounts the chat and the ledger page act as.
    pub accounts: Vec<PrivateKeySigner>,
}

struct App {
    config: ConsoleConfig,
    http: reqwest::Client,
    /// One funding at a time: two first chats must not both open a ledger.
    funding: tokio::sync::Mutex<()>,
}

/// The console, bound and ready to serve.
pub struct ConsoleServer {
    listener: tokio::net::TcpListener,
    app: Router,
}

impl ConsoleServer {
    /// Binds the console's address.
    pub async fn bind(config: ConsoleConfig) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.listen).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {} for the console: {e} (choose another with --console-listen)",
                config.listen
            )
        })?;
        let state = Arc::new(App {
            config,
            http: reqwest::Client::new(),
            funding: tokio::sync::Mutex::new(()),
        });
        let app = Router::new()
            .route(
                "/",
                get(|| async { page(INDEX_HTML, "text/html; charset=utf-8") }),
            )
            .route(
                "/app.js",
                get(|| async { page(APP_JS, "text/javascript; charset=utf-8") }),
            )
            .route(
                "/style.css",
                get(|| async { page(STYLE_CSS, "text/css; charset=utf-8") }),
            )
            .route("/api/config", get(network))
            .route("/api/chain", post(chain_rpc))
            .route("/api/storage/{node}", any(storage_root))
            .route("/api/storage/{node}/{*path}", any(storage))
            .route("/api/da/{node}/{*path}", any(da))
            .route("/api/services", get(services))
            .route("/api/files", get(files))
            .route("/api/ledgers", get(ledgers))
            .route("/api/chat", post(chat))
            .with_state(state);
        Ok(Self { listener, app })
    }

    /// The address it listens on.
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

fn page(body: &'static str, kind: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-store")],
        body,
    )
        .into_response()
}

fn failure(status: StatusCode, message: impl std::fmt::Display) -> Response {
    ApiError::new(status, message).into_response()
}

/// Why a console request failed: a status and a message the page shows.
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl std::fmt::Display) -> Self {
        Self {
            status,
            message: message.to_string(),
        }
    }

    /// A node or the chain failed to answer.
    fn upstream(message: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({"error": self.message}))).into_response()
    }
}

/// Where the nodes are, the dev accounts, and names for contracts and events.
async fn network(State(app): State<Arc<App>>) -> Response {
    let c = &app.config;
    let accounts: Vec<String> = c.accounts.iter().map(|k| k.address().to_string()).collect();
    Json(serde_json::json!({
        "chain": c.chain,
        "storage": c.storage,
        "da": c.da,
        "disperser": c.disperser,
        "compute": c.compute.as_ref().map(|(url, provider)| serde_json::json!({"url": url, "provider": provider.to_string()})),
        "accounts": accounts,
        "contracts": contracts(),
        "events": events(),
    }))
    .into_response()
}

/// The system contracts by address, for the event list.
fn contracts() -> serde_json::Value {
    use zg_contracts::{compute, da, registry};
    let named = [
        (zg_contracts::FLOW_ADDRESS, "Flow"),
        (zg_contracts::MARKET_ADDRESS, "Market"),
        (registry::REGISTRY_ADDRESS, "ServiceRegistry"),
        (compute::LEDGER_ADDRESS, "LedgerManager"),
        (compute::INFERENCE_ADDRESS, "InferenceServing"),
        (da::DA_SIGNERS_ADDRESS, "DASigners"),
        (da::DA_REGISTRY_ADDRESS, "DARegistry"),
        (da::DA_ENTRANCE_ADDRESS, "DAEntrance"),
    ];
    named
        .iter()
        .map(|(a, n)| (a.to_string().to_lowercase(), serde_json::Value::from(*n)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The system contracts' events by topic, for the event list.
fn events() -> serde_json::Value {
    use alloy_sol_types::SolEvent;
    use zg_contracts::abi::IFlow;
    use zg_contracts::compute::{IInferenceServing as I, ILedgerManager as L};
    use zg_contracts::da::{IDAEntrance as E, IDASigners as S};
    use zg_contracts::registry::IServiceRegistry as R;
    let named = [
        (IFlow::Submit::SIGNATURE_HASH, "Submit"),
        (R::ServiceRegistered::SIGNATURE_HASH, "ServiceRegistered"),
        (R::ServiceUpdated::SIGNATURE_HASH, "ServiceUpdated"),
        (R::ServiceRetired::SIGNATURE_HASH, "ServiceRetired"),
        (I::ServiceUpdated::SIGNATURE_HASH, "ServiceUpdated"),
        (I::BalanceUpdated::SIGNATURE_HASH, "BalanceUpdated"),
        (I::TEESettlementResult::SIGNATURE_HASH, "TEESettlementResult"),
        (I::ServiceRemoved::SIGNATURE_HASH, "ServiceRemoved"),
        (I::RefundRequested::SIGNATURE_HASH, "RefundRequested"),
        (I::TEESignerAcknowledged::SIGNATURE_HASH, "TEESignerAcknowledged"),
        (
            I::ProviderTEESignerAcknowledged::SIGNATURE_HASH,
            "ProviderTEESignerAcknowledged",
        ),
        (I::TokenRevoked::SIGNATURE_HASH, "TokenRevoked"),
        (I::AllTokensRevoked::SIGNATURE_HASH, "AllTokensRevoked"),
        (L::LedgerUpdated::SIGNATURE_HASH, "LedgerUpdated"),
        (E::DataUpload::SIGNATURE_HASH, "DataUpload"),
        (
            E::ErasureCommitmentVerified::SIGNATURE_HASH,
            "ErasureCommitmentVerified",
        ),
        (S::NewSigner::SIGNATURE_HASH, "NewSigner"),
        (S::SocketUpdated::SIGNATURE_HASH, "SocketUpdated"),
    ];
    named
        .iter()
        .map(|(t, n)| (t.to_string(), serde_json::Value::from(*n)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Forwards a request to `base` + `path` (body and answer streamed), keeping the
/// headers that matter to the nodes' APIs.
async fn forward(app: &App, base: &str, path: &str, request: Request) -> Response {
    let query = request.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
    let url = format!(
        "{}/{}{query}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    let method = request.method().clone();
    let mut out = app.http.request(method, &url);
    for name in [header::CONTENT_TYPE, header::CONTENT_LENGTH, header::RANGE] {
        if let Some(v) = request.headers().get(&name) {
            out = out.header(name, v);
        }
    }
    let body = reqwest::Body::wrap_stream(request.into_body().into_data_stream());
    let answer = match out.body(body).send().await {
        Ok(a) => a,
        Err(e) => return failure(StatusCode::BAD_GATEWAY, format!("{url}: {e}")),
    };
    let mut response = Response::builder().status(answer.status().as_u16());
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_RANGE,
        header::ACCEPT_RANGES,
    ] {
        if let Some(v) = answer.headers().get(&name) {
            response = response.header(name, v);
        }
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .unwrap_or_else(|e| failure(StatusCode::BAD_GATEWAY, e))
}

fn nth(urls: &[String], node: usize) -> Result<String, ApiError> {
    urls.get(node)
        .cloned()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no node {node}")))
}

async fn chain_rpc(State(app): State<Arc<App>>, request: Request) -> Result<Response, ApiError> {
    let too_big = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_none_or(|n| n > MAX_RPC_BODY);
    if too_big {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a JSON-RPC request of at most {MAX_RPC_BODY} bytes, with its length"),
        ));
    }
    let chain = app.config.chain.clone();
    Ok(forward(&app, &chain, "", request).await)
}

async fn storage_root(
    State(app): State<Arc<App>>,
    Path(node): Path<usize>,
    request: Request,
) -> Result<Response, ApiError> {
    let base = nth(&app.config.storage, node)?;
    Ok(forward(&app, &base, "", request).await)
}

async fn storage(
    State(app): State<Arc<App>>,
    Path((node, path)): Path<(usize, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let base = nth(&app.config.storage, node)?;
    Ok(forward(&app, &base, &path, request).await)
}

async fn da(
    State(app): State<Arc<App>>,
    Path((node, path)): Path<(usize, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let base = nth(&app.config.da, node)?;
    Ok(forward(&app, &base, &path, request).await)
}

/// A client of the chain that only reads.
fn reader(app: &App) -> Result<ChainClient, ApiError> {
    zg_node::registry::client(&app.config.chain, None).map_err(ApiError::upstream)
}

async fn services(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let all = zg_node::registry::active(&reader(&app)?, "")
        .await
        .map_err(ApiError::upstream)?;
    Ok(Json(all.iter().map(zg_node::registry::to_json).collect::<Vec<_>>()).into_response())
}

/// The newest files the first storage node holds (its `GET /files`), and how many
/// submissions the Flow has.
async fn files(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    use zg_contracts::abi::IFlow;
    let submissions = reader(&app)?
        .view(
            zg_contracts::FLOW_ADDRESS,
            "numSubmissions",
            IFlow::numSubmissionsCall {},
        )
        .await
        .map_err(ApiError::upstream)?
        .saturating_to::<u64>();
    let Some(node) = app.config.storage.first() else {
        return Ok(
            Json(serde_json::json!({"submissions": submissions, "total": 0, "files": []})).into_response(),
        );
    };
    let http = &app.http;
    let list = |query: String| {
        let url = format!("{node}/files?{query}");
        async move {
            let answer = http.get(&url).send().await.map_err(ApiError::upstream)?;
            if !answer.status().is_success() {
                return Err(ApiError::upstream(format!("{url}: {}", answer.status())));
            }
            answer
                .json::<serde_json::Value>()
                .await
                .map_err(ApiError::upstream)
        }
    };
    let total = list("limit=0".into()).await?["total"].as_u64().unwrap_or(0);
    let offset = total.saturating_sub(FILES_LISTED);
    let mut page = list(format!("offset={offset}&limit={FILES_LISTED}")).await?;
    if let Some(files) = page["files"].as_array_mut() {
        files.reverse();
    }
    page["submissions"] = submissions.into();
    Ok(Json(page).into_response())
}

/// Each dev account's balance, main ledger and sub-accounts.
async fn ledgers(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let chain = reader(&app)?;
    let mut out = Vec::new();
    for key in &app.config.accounts {
        let client = zg_compute::chain::ChainClient::new(&app.config.chain, key.clone())
            .map_err(ApiError::upstream)?;
        let balance = chain
            .balance(key.address())
            .await
            .map_err(ApiError::upstream)?
            .to_string();
        let ledger = client.ledger().await.map_err(ApiError::upstream)?;
        let mut subs = Vec::new();
        if ledger.is_some() {
            for provider in client.ledger_providers().await.map_err(ApiError::upstream)? {
                if let Some(sub) = client
                    .account(key.address(), provider)
                    .await
                    .map_err(ApiError::upstream)?
                {
                    subs.push(serde_json::json!({
                        "provider": provider.to_string(),
                        "balance": sub.account.balance.to_string(),
                        "pendingRefund": sub.account.pendingRefund.to_string(),
                        "acknowledged": sub.account.acknowledged,
                    }));
                }
            }
        }
        out.push(serde_json::json!({
            "address": key.address().to_string(),
            "balance": balance,
            "ledger": ledger.map(|l| serde_json::json!({
                "available": l.availableBalance.to_string(),
                "total": l.totalBalance.to_string(),
            })),
            "subAccounts": subs,
        }));
    }
    Ok(Json(out).into_response())
}

/// A chat from the console.
#[derive(Deserialize)]
struct ChatRequest {
    /// Which dev account asks (an index into the config's accounts).
    account: usize,
    /// OpenAI chat messages.
    messages: serde_json::Value,
    /// Most tokens to generate.
    #[serde(default)]
    max_tokens: Option<u64>,
}

/// Opens `client`'s ledger and a funded, acknowledged sub-account with `provider` when
/// it has none (3 0G in the ledger, 1 0G moved to the provider).
async fn fund(client: &zg_compute::chain::ChainClient, provider: Address) -> anyhow::Result<()> {
    let one = parse_ether("1")?;
    if client.ledger().await?.is_none() {
        client.add_ledger(parse_ether("3")?).await?;
    }
    let sub = client.account(client.address(), provider).await?;
    if sub.as_ref().is_none_or(|s| s.spendable() < one / U256::from(2)) {
        client.transfer(provider, one).await?;
    }
    let sub = client.account(client.address(), provider).await?;
    if !sub.is_some_and(|s| s.account.acknowledged) {
        client.acknowledge(provider).await?;
    }
    Ok(())
}

/// Streams a provider's answer as server-sent events: `{"text": …}` per piece, then
/// `{"usage": …, "fee": …}` or `{"error": …}`, then `[DONE]`.
async fn chat(State(app): State<Arc<App>>, Json(request): Json<ChatRequest>) -> Response {
    let Some((_, provider)) = app.config.compute.clone() else {
        return failure(StatusCode::NOT_FOUND, "this network runs no compute provider");
    };
    let Some(key) = app.config.accounts.get(request.account).cloned() else {
        return failure(
            StatusCode::BAD_REQUEST,
            format!("no dev account {}", request.account),
        );
    };
    let prepared = async {
        let client = zg_compute::chain::ChainClient::new(&app.config.chain, key.clone())?;
        {
            let _one = app.funding.lock().await;
            fund(&client, provider).await?;
        }
        let service = client
            .service(provider)
            .await?
            .ok_or_else(|| anyhow::anyhow!("{provider} offers no service"))?;
        let sub = client
            .account(client.address(), provider)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no sub-account with {provider}"))?;
        let generation = u64::try_from(sub.account.generation)?;
        anyhow::Ok((service, ApiKey::session(&key, provider, generation, CHAT_KEY_MS)?))
    }
    .await;
    let (service, api_key) = match prepared {
        Ok(p) => p,
        Err(e) => return failure(StatusCode::BAD_GATEWAY, format!("{e:#}")),
    };
    let body = serde_json::json!({
        "model": service.model,
        "messages": request.messages,
        "max_tokens": request.max_tokens.unwrap_or(128).min(1024),
    });
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let http = app.http.clone();
    tokio::spawn(async move {
        let event = |v: serde_json::Value| format!("data: {v}\n\n");
        let pieces = tx.clone();
        let answer = zg_compute::client::ask(&http, &service.url, &api_key.to_string(), body, |text| {
            let _ = pieces.send(event(serde_json::json!({"text": text})));
        })
        .await;
        let last = match answer {
            Ok(a) => {
                let usage = a.usage.map(|u| {
                    let fee = U256::from(u.prompt_tokens) * service.inputPrice
                        + U256::from(u.completion_tokens) * service.outputPrice;
                    serde_json::json!({"prompt": u.prompt_tokens, "completion": u.completion_tokens, "fee": fee.to_string()})
                });
                serde_json::json!({"usage": usage, "finish": a.finish_reason})
            }
            Err(e) => serde_json::json!({"error": e.to_string()}),
        };
        let _ = tx.send(event(last));
        let _ = tx.send("data: [DONE]\n\n".into());
    });
    let stream = tokio_stream_from(rx).map(|s| Ok::<_, std::convert::Infallible>(s.into_bytes()));
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A receiver as a stream.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<String>,
) -> impl futures_util::Stream<Item = String> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
