//! The `zg-compute` provider binary on loopback, in front of an OpenAI-compatible
//! upstream (a small server here that reports deterministic `usage`), against a zg
//! chain with 0G's compute contracts: answers whole and streamed, every refusal with
//! its status and nothing billed, fees exact to the wei after settlement, and kill -9
//! mid-stream and between requests without a request billed twice or lost.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, U256};
use alloy_provider::{Provider as _, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use axum::Json;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};
use zg_chain::{ChainNode, ChainNodeConfig, dev_accounts};
use zg_compute::{ApiKey, KeyMessage};
use zg_contracts::compute::{
    IInferenceServing as I, ILedgerManager as L, INFERENCE_ADDRESS, LEDGER_ADDRESS, ONE_0G,
};
use zg_node::harness::binary;

const INPUT_PRICE: u64 = 1_000_000_000;
const OUTPUT_PRICE: u64 = 2_000_000_000;

/// An OpenAI-compatible upstream: `prompt_tokens` = words of the prompt + 3 per
/// message, one completion token per word of "Hello from the zg upstream model", up to
/// `max_tokens`; a prompt with "slowly" streams 40 words, 250 ms apart.
async fn upstream(Json(request): Json<Value>) -> Response {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = format!("chatcmpl-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let text: Vec<String> = messages
        .iter()
        .filter_map(|m| m["content"].as_str().map(str::to_owned))
        .collect();
    let prompt_tokens = text
        .iter()
        .map(|t| t.split_whitespace().count() as u64)
        .sum::<u64>()
        + 3 * messages.len() as u64;
    let slow = text.iter().any(|t| t.contains("slowly"));
    let words: Vec<&str> = if slow {
        vec![" word"; 40]
    } else {
        vec!["Hello", " from", " the", " zg", " upstream", " model"]
    };
    let max = request["max_tokens"].as_u64().unwrap_or(u64::MAX) as usize;
    let words: Vec<String> = words.into_iter().take(max).map(str::to_owned).collect();
    let usage = json!({"prompt_tokens": prompt_tokens, "completion_tokens": words.len(), "total_tokens": prompt_tokens + words.len() as u64});
    if request["stream"].as_bool() != Some(true) {
        return Json(json!({
            "id": id, "object": "chat.completion", "model": request["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": words.concat()}, "finish_reason": "stop"}],
            "usage": usage,
        }))
        .into_response();
    }
    let include_usage = request["stream_options"]["include_usage"].as_bool() == Some(true);
    let mut events: Vec<String> = words
        .iter()
        .map(|w| json!({"id": id, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": null}]}).to_string())
        .collect();
    events.push(json!({"id": id, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).to_string());
    if include_usage {
        events.push(
            json!({"id": id, "object": "chat.completion.chunk", "choices": [], "usage": usage}).to_string(),
        );
    }
    events.push("[DONE]".into());
    let stream = futures_util::stream::iter(events).then(move |e| async move {
        if slow {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok::<_, std::io::Error>(format!("data: {e}\n\n"))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

/// A chain, the upstream, and the provider binary over a data directory.
struct Net {
    chain: ChainNode,
    chain_url: String,
    upstream_url: String,
    keys: Vec<PrivateKeySigner>,
    data: tempfile::TempDir,
    provider: Option<Running>,
    url: String,
    http: reqwest::Client,
    /// The engine's flags.
    engine: Vec<String>,
}

/// The provider process; a failed test leaves none running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Net {
    /// A chain and a provider in front of the test's upstream.
    async fn start() -> Self {
        Self::start_with(None).await
    }

    /// A chain and a provider running the tiny random-weight GGUF written at `model`
    /// (or, with `None`, in front of the test's upstream).
    async fn start_with(model: Option<&std::path::Path>) -> Self {
        let chain = ChainNode::start(ChainNodeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            refund_lock_secs: 2,
            ..ChainNodeConfig::default()
        })
        .await
        .unwrap();
        let chain_url = format!("http://{}", chain.local_addr());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(upstream));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let keys = dev_accounts(zg_chain::DEV_MNEMONIC, 8)
            .unwrap()
            .into_iter()
            .map(|a| PrivateKeySigner::from_bytes(&a.private_key).unwrap())
            .collect();
        let mut net = Self {
            chain,
            chain_url,
            upstream_url,
            keys,
            data: tempfile::tempdir().unwrap(),
            provider: None,
            url: String::new(),
            http: reqwest::Client::new(),
            engine: Vec::new(),
        };
        net.engine = match model {
            Some(path) => vec![
                "--model-file".into(),
                path.display().to_string(),
                "--model".into(),
                "tiny".into(),
            ],
            None => vec![
                "--upstream".into(),
                net.upstream_url.clone(),
                "--model".into(),
                "test-model".into(),
            ],
        };
        net.start_provider();
        net
    }

    fn provider_key(&self) -> &PrivateKeySigner {
        &self.keys[2]
    }

    fn provider_address(&self) -> Address {
        self.keys[2].address()
    }

    /// Starts `zg-compute` (dev account 2, signer dev account 3) and waits for its line.
    fn start_provider(&mut self) {
        let hex_key = |k: &PrivateKeySigner| format!("0x{}", hex::encode(k.to_bytes()));
        let mut child = Command::new(binary("zg-compute"))
            .args(["--listen", "127.0.0.1:0", "--chain", &self.chain_url])
            .args(&self.engine)
            .args(["--settle-every", "3600", "--max-tokens", "64"])
            .args([
                "--input-price",
                &INPUT_PRICE.to_string(),
                "--output-price",
                &OUTPUT_PRICE.to_string(),
            ])
            .arg("--data-dir")
            .arg(self.data.path())
            .env("ZG_PROVIDER_KEY", hex_key(self.provider_key()))
            .env("ZG_SIGNER_KEY", hex_key(&self.keys[3]))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("zg-compute starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .nth(3)
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        self.url = url.to_owned();
        self.provider = Some(Running(child));
    }

    fn kill_provider(&mut self) {
        let mut running = self.provider.take().unwrap();
        running.0.kill().unwrap();
        running.0.wait().unwrap();
    }

    /// SIGTERM: the provider settles its books on the way out.
    fn stop_provider(&mut self) {
        let mut child = self.provider.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(child.0.wait().unwrap().success());
    }

    async fn send<C: SolCall>(&self, from: &PrivateKeySigner, to: Address, value: U256, call: C) {
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(from.clone()))
            .connect_http(self.chain_url.parse().unwrap());
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_value(value)
            .with_input(call.abi_encode());
        let receipt = provider
            .send_transaction(tx)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status(), "{} reverted", C::SIGNATURE);
    }

    async fn view<C: SolCall>(&self, to: Address, call: C) -> C::Return {
        let provider = ProviderBuilder::new().connect_http(self.chain_url.parse().unwrap());
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_input(call.abi_encode());
        C::abi_decode_returns(&provider.call(tx).await.unwrap()).unwrap()
    }

    async fn balance(&self, address: Address) -> U256 {
        let provider = ProviderBuilder::new().connect_http(self.chain_url.parse().unwrap());
        provider.get_balance(address).await.unwrap()
    }

    /// Opens `user`'s ledger, moves `amount` into its sub-account with the provider, and
    /// acknowledges the provider's signer when asked.
    async fn fund(&self, user: &PrivateKeySigner, amount: U256, acknowledge: bool) {
        self.send(
            user,
            LEDGER_ADDRESS,
            ONE_0G * U256::from(10),
            L::addLedgerCall {
                additionalInfo: String::new(),
            },
        )
        .await;
        let transfer = L::transferFundCall {
            provider: self.provider_address(),
            serviceTypeStr: "inference".into(),
            amount,
        };
        self.send(user, LEDGER_ADDRESS, U256::ZERO, transfer).await;
        if acknowledge {
            let ack = I::acknowledgeTEESignerCall {
                provider: self.provider_address(),
                acknowledged: true,
            };
            self.send(user, INFERENCE_ADDRESS, U256::ZERO, ack).await;
        }
    }

    fn chat_url(&self) -> String {
        format!("{}/v1/proxy/chat/completions", self.url)
    }

    async fn unsettled(&self, user: Address) -> U256 {
        let body = self.get_json(&format!("/v1/user/{user}/unsettledfee")).await;
        U256::from(body["unsettledFee"].as_u64().unwrap())
    }

    async fn get_json(&self, path: &str) -> Value {
        let response = self.http.get(format!("{}{path}", self.url)).send().await.unwrap();
        response.json().await.unwrap()
    }

    async fn ask(&self, key: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.chat_url())
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

/// A key as 0G's SDK makes one (the library's maker), claiming `claimed` as its user.
fn api_key(
    user: &PrivateKeySigner,
    claimed: Address,
    provider: Address,
    expires_at: u64,
    generation: u64,
    token_id: u8,
) -> String {
    let message = KeyMessage::new(claimed, provider, generation, token_id, expires_at);
    ApiKey::sign(user, &message).unwrap()
}

fn chat(text: &str) -> Value {
    json!({"model": "test-model", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]})
}

fn fee(usage: &Value) -> U256 {
    U256::from(usage["prompt_tokens"].as_u64().unwrap()) * U256::from(INPUT_PRICE)
        + U256::from(usage["completion_tokens"].as_u64().unwrap()) * U256::from(OUTPUT_PRICE)
}

/// The SSE events of a streamed answer.
async fn events(response: reqwest::Response) -> Vec<Value> {
    let text = response.text().await.unwrap();
    text.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| {
            if d == "[DONE]" {
                json!("[DONE]")
            } else {
                serde_json::from_str(d).unwrap()
            }
        })
        .collect()
}

/// Wei `address` paid for gas in every block so far.
async fn gas_paid(net: &Net, address: Address) -> U256 {
    let provider = ProviderBuilder::new().connect_http(net.chain_url.parse().unwrap());
    let head = provider.get_block_number().await.unwrap();
    let mut paid = U256::ZERO;
    for n in 0..=head {
        let receipts = provider
            .get_block_receipts(n.into())
            .await
            .unwrap()
            .unwrap_or_default();
        for r in receipts.iter().filter(|r| r.from == address) {
            paid += U256::from(r.gas_used) * U256::from(r.effective_gas_price);
        }
    }
    paid
}

/// Whole and streamed answers (with and without the usage chunk) are billed at the
/// service's prices; a kill -9 mid-stream bills nothing for that answer, one between
/// requests loses nothing; the settlement on shutdown moves exactly Σ fees from the
/// user's sub-account and ledger to the provider's wallet, and a restart settles nothing
/// twice.
#[tokio::test(flavor = "multi_thread")]
async fn fees_are_exact_to_the_wei_through_kill_9_and_restart() {
    let mut net = Net::start().await;
    let user = net.keys[1].clone();
    let (u, p) = (user.address(), net.provider_address());
    net.fund(&user, ONE_0G * U256::from(5), true).await;
    let key = api_key(&user, u, p, 0, 0, 0);
    let mut owed = U256::ZERO;

    for text in ["one", "two words", "and three words"] {
        let response = net.ask(&key, chat(text)).await;
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            answer["choices"][0]["message"]["content"],
            "Hello from the zg upstream model"
        );
        owed += fee(&answer["usage"]);
    }
    let mut body = chat("stream it");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let streamed = events(net.ask(&key, body).await).await;
    assert_eq!(streamed.last().unwrap(), "[DONE]");
    let usage = &streamed[streamed.len() - 2];
    assert_eq!(usage["choices"], json!([]));
    owed += fee(&usage["usage"]);
    // Without include_usage: no usage chunk reaches the client, but the answer is billed.
    let before = net.unsettled(u).await;
    let mut body = chat("stream quietly");
    body["stream"] = json!(true);
    let streamed = events(net.ask(&key, body).await).await;
    assert!(streamed.iter().all(|e| e.get("usage").is_none()), "{streamed:?}");
    let quiet = net.unsettled(u).await - before;
    // "be brief" + "stream quietly" + 3 per message; six words back.
    assert_eq!(
        quiet,
        U256::from(2 + 2 + 2 * 3) * U256::from(INPUT_PRICE) + U256::from(6) * U256::from(OUTPUT_PRICE)
    );
    owed += quiet;
    assert_eq!(net.unsettled(u).await, owed);

    // kill -9 while an answer streams: it is never billed.
    let mut body = chat("answer slowly");
    body["stream"] = json!(true);
    let mut slow = net.ask(&key, body).await.bytes_stream();
    assert!(slow.next().await.unwrap().is_ok(), "the answer started");
    net.kill_provider();
    while let Some(Ok(_)) = slow.next().await {}
    net.start_provider();
    assert_eq!(
        net.unsettled(u).await,
        owed,
        "the interrupted answer is not billed"
    );
    // One more, then kill -9 between requests: nothing is lost.
    let answer: Value = net
        .ask(&key, chat("after the restart"))
        .await
        .json()
        .await
        .unwrap();
    owed += fee(&answer["usage"]);
    net.kill_provider();
    net.start_provider();
    assert_eq!(
        net.unsettled(u).await,
        owed,
        "every completed answer survives kill -9"
    );

    let wallet = net.balance(p).await;
    let gas_before = gas_paid(&net, p).await;
    net.stop_provider();
    let account = net
        .view(INFERENCE_ADDRESS, I::getAccountCall { user: u, provider: p })
        .await;
    assert_eq!(
        account.balance,
        ONE_0G * U256::from(5) - owed,
        "the sub-account paid exactly Σ fees"
    );
    assert_eq!(account.nonce, U256::from(1));
    let ledger = net.view(LEDGER_ADDRESS, L::getLedgerCall { user: u }).await;
    assert_eq!(ledger.totalBalance, ONE_0G * U256::from(10) - owed);
    let gas = gas_paid(&net, p).await - gas_before;
    assert_eq!(
        net.balance(p).await + gas - wallet,
        owed,
        "the provider received exactly Σ fees"
    );

    // A restart finds everything settled and settles nothing again.
    net.start_provider();
    assert_eq!(net.unsettled(u).await, U256::ZERO);
    net.stop_provider();
    let account = net
        .view(INFERENCE_ADDRESS, I::getAccountCall { user: u, provider: p })
        .await;
    assert_eq!(
        (account.balance, account.nonce),
        (ONE_0G * U256::from(5) - owed, U256::from(1))
    );
    net.chain.stop().await;
}

/// Each refusal with its status and reason, nothing billed for any, and the node still
/// serving: forged signature, another provider's key, expired, revoked token id, old
/// generation, unacknowledged signer, no sub-account (401); empty balance, whole and
/// streamed (402); garbage, shapeless and oversized bodies (400, 413).
#[tokio::test(flavor = "multi_thread")]
async fn refusals_bill_nothing_and_the_node_keeps_serving() {
    let mut net = Net::start().await;
    let (good, unacked, broke, stranger) = (
        net.keys[1].clone(),
        net.keys[4].clone(),
        net.keys[5].clone(),
        net.keys[6].clone(),
    );
    let p = net.provider_address();
    net.fund(&good, ONE_0G * U256::from(2), true).await;
    net.fund(&unacked, ONE_0G, false).await;
    net.fund(&broke, U256::ZERO, true).await;
    let revoke = I::revokeTokenCall {
        provider: p,
        tokenId: 7,
    };
    net.send(&good, INFERENCE_ADDRESS, U256::ZERO, revoke).await;

    let g = good.address();
    let cases = [
        (api_key(&stranger, g, p, 0, 0, 0), 401, "signed by"),
        (
            api_key(&good, g, Address::repeat_byte(9), 0, 0, 0),
            401,
            "provider",
        ),
        (api_key(&good, g, p, 1_000, 0, 0), 401, "expired"),
        (api_key(&good, g, p, 0, 0, 7), 401, "revoked"),
        (api_key(&good, g, p, 0, 5, 0), 401, "generation"),
        (
            api_key(&unacked, unacked.address(), p, 0, 0, 0),
            401,
            "acknowledge",
        ),
        (
            api_key(&stranger, stranger.address(), p, 0, 0, 0),
            401,
            "no account",
        ),
        (
            api_key(&broke, broke.address(), p, 0, 0, 0),
            402,
            "insufficient_balance",
        ),
        ("not-a-key".to_owned(), 401, "api key"),
    ];
    for (key, status, reason) in &cases {
        let response = net.ask(key, chat("hello")).await;
        assert_eq!(response.status().as_u16(), *status, "{reason}");
        let body: Value = response.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap().to_lowercase();
        assert!(message.contains(&reason.to_lowercase()), "{reason}: {body}");
    }
    let mut streamed = chat("hello");
    streamed["stream"] = json!(true);
    let broke_key = api_key(&broke, broke.address(), p, 0, 0, 0);
    let response = net.ask(&broke_key, streamed).await;
    assert_eq!(response.status(), 402);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_balance");

    let key = api_key(&good, g, p, 0, 0, 0);
    let post = |body: Vec<u8>| net.http.post(net.chat_url()).bearer_auth(&key).body(body).send();
    assert_eq!(post(b"{not json".to_vec()).await.unwrap().status(), 400);
    assert_eq!(post(b"{\"messages\": []}".to_vec()).await.unwrap().status(), 400);
    assert_eq!(post(b"[1, 2]".to_vec()).await.unwrap().status(), 400);
    // The server answers 413 before reading the rest and drops the connection: a client of
    // its own, so the pool's next request does not pick up the closed connection.
    let oversized = reqwest::Client::new()
        .post(net.chat_url())
        .bearer_auth(&key)
        .body(vec![b' '; 2 << 20]);
    assert_eq!(oversized.send().await.unwrap().status(), 413);

    // Still serving, and only the good answer is billed.
    let response = net.ask(&key, chat("hello")).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(net.unsettled(g).await, fee(&answer["usage"]));
    for user in [unacked.address(), broke.address(), stranger.address()] {
        assert_eq!(net.unsettled(user).await, U256::ZERO);
    }
    let models = net.get_json("/v1/models").await;
    assert_eq!(models["data"][0]["id"], "test-model");
    let quote = net.get_json("/v1/quote").await;
    assert_eq!(quote["tee"], false);
    let metrics = net
        .http
        .get(format!("{}/metrics", net.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("zg_compute_requests_total 1"), "{metrics}");
    assert!(
        metrics.contains("zg_compute_refused_total{code=\"insufficient_balance\"} 2"),
        "{metrics}"
    );
    // The service the node registered is on chain with its prices and signer.
    let service = net
        .view(INFERENCE_ADDRESS, I::getServiceCall { provider: p })
        .await;
    assert_eq!(
        (service.url.as_str(), service.inputPrice),
        (net.url.as_str(), U256::from(INPUT_PRICE))
    );
    assert_eq!(service.teeSignerAddress, net.keys[3].address());
    net.stop_provider();
    net.chain.stop().await;
}

/// The built-in engine behind the same API: whole and streamed answers agree at
/// temperature 0, bills use the engine's own token counts, a wrong model name (404) and
/// bad sampling parameters (400) bill nothing, and settlement pays exactly Σ fees.
#[tokio::test(flavor = "multi_thread")]
async fn the_builtin_model_answers_and_bills_its_own_token_counts() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.gguf");
    zg_compute::model::write_tiny_model(&model, 11).unwrap();
    let mut net = Net::start_with(Some(&model)).await;
    let user = net.keys[1].clone();
    let (u, p) = (user.address(), net.provider_address());
    net.fund(&user, ONE_0G * U256::from(3), true).await;
    let key = api_key(&user, u, p, 0, 0, 0);

    let mut body = chat("say something");
    body["model"] = json!("tiny");
    body["temperature"] = json!(0);
    body["max_tokens"] = json!(20);
    let response = net.ask(&key, body.clone()).await;
    assert_eq!(response.status(), 200);
    let whole: Value = response.json().await.unwrap();
    let content = whole["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let usage = whole["usage"].clone();
    assert!(usage["completion_tokens"].as_u64().unwrap() <= 20);
    assert!(
        usage["prompt_tokens"].as_u64().unwrap() > 20,
        "the chat template's tokens count: {whole}"
    );
    let mut owed = fee(&usage);

    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let streamed = events(net.ask(&key, body.clone()).await).await;
    assert_eq!(streamed.last().unwrap(), "[DONE]");
    let text: String = streamed
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, content, "streamed and whole answers agree at temperature 0");
    assert_eq!(streamed[streamed.len() - 2]["usage"], usage);
    owed += fee(&usage);
    assert_eq!(net.unsettled(u).await, owed);

    let mut wrong = body.clone();
    wrong["model"] = json!("gpt-4");
    wrong["stream"] = json!(false);
    let response = net.ask(&key, wrong).await;
    assert_eq!(response.status(), 404);
    let mut hot = body.clone();
    hot["temperature"] = json!(7);
    let response = net.ask(&key, hot).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("temperature"),
        "{error}"
    );
    assert_eq!(net.unsettled(u).await, owed, "refused requests bill nothing");

    let wallet = net.balance(p).await;
    let gas_before = gas_paid(&net, p).await;
    net.stop_provider();
    let account = net
        .view(INFERENCE_ADDRESS, I::getAccountCall { user: u, provider: p })
        .await;
    assert_eq!(account.balance, ONE_0G * U256::from(3) - owed);
    let gas = gas_paid(&net, p).await - gas_before;
    assert_eq!(net.balance(p).await + gas - wallet, owed);
    net.chain.stop().await;
}
