//! The built-in engine (SmolLM2-135M-Instruct Q4_1 on CPU with candle) beside llama.cpp
//! (PyPI's llama-cpp-python, built here) on the same GGUF and the same tokens: prefill of
//! a 256-token prompt, and 64 tokens decoded one at a time after an 8-token prompt
//! (teacher-forced on both sides, so both run exactly the same forwards).
//!
//! The model comes from the model cache (`zg_compute::model::fetch_builtin`); the peer
//! runs under `$ZG_LLAMA_PYTHON` (a python with `llama-cpp-python==0.3.16`), or has no
//! row when that is not set.
//!
//! And the provider as a proxy: 8 concurrent clients streaming answers through
//! `zg-compute --upstream` (API key checked, balance admitted against the chain, every
//! answer billed and fsynced) beside the same clients asking the upstream directly. The
//! upstream is an OpenAI-compatible token streamer in this process, paced like a GPU
//! server (200 tokens/s per stream) for the row with a target, and unpaced for the
//! proxy's own ceiling.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy_primitives::U256;
use alloy_signer_local::PrivateKeySigner;
use serde_json::json;
use zg_compute::chain::ChainClient;
use zg_compute::engine::{Engine, Upstream};
use zg_compute::model::{LocalModel, default_cache, fetch_builtin};
use zg_compute::{ApiKey, KeyMessage, ProviderConfig, ProviderServer};

use crate::{Pair, Side, Worker};

fn tokens(model: &LocalModel, n: usize) -> Vec<u32> {
    let text = "The quick brown fox jumps over the lazy dog while the storage network keeps every byte. ";
    let mut out = Vec::new();
    while out.len() < n {
        out.extend(model.encode(text).expect("encode"));
    }
    out.truncate(n);
    out
}

fn list(tokens: &[u32]) -> String {
    tokens.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// The rows (the model is the same at every scale).
pub fn pairs(_scale: usize) -> Vec<Pair> {
    let mut rows = engine_pairs();
    rows.extend(lora_pairs());
    rows.extend(proxy_pairs());
    rows
}

/// Examples in one LoRA training step.
const LORA_BATCH: usize = 4;

/// One LoRA training step of the fine-tuning engine (rank 8 on q and v, AdamW, the
/// loss on the answers) beside the same step in JAX on CPU (`peers/lora_jax_worker.py`
/// under `$ZG_LORA_PYTHON`, a python with jax, jaxlib, optax and gguf), on the same
/// weights and tokens; both report the base model's loss on the batch first, which
/// must agree (the same model, the same loss).
fn lora_pairs() -> Vec<Pair> {
    use zg_compute::lora::{BaseModel, TrainParams, examples_from_jsonl};
    let Ok(path) = fetch_builtin(&default_cache(), true) else {
        return Vec::new();
    };
    let served = LocalModel::load(&path).expect("the built-in model loads");
    let base = Arc::new(BaseModel::load(&path).expect("the base model loads"));
    let dataset: String = (0..LORA_BATCH)
        .map(|i| {
            json!({"messages": [
                {"role": "user", "content": format!("Which storage node holds shard {i} of the zg devnet's flow?")},
                {"role": "assistant", "content": format!("Shard {i} lives on storage node {i}, which follows the devnet's Flow contract.")},
            ]})
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n");
    let examples = Arc::new(examples_from_jsonl(&served, dataset.as_bytes(), 512).expect("the examples"));
    let tokens: usize = examples.iter().map(|e| e.tokens.len()).sum();
    let params = TrainParams {
        rank: 8,
        alpha: 16.0,
        learning_rate: 1e-3,
        epochs: 1,
        batch_size: LORA_BATCH,
        max_steps: 1,
        ..TrainParams::default()
    };
    let batch = examples
        .iter()
        .map(|e| format!("{}|{}", e.prompt_len, list(&e.tokens)))
        .collect::<Vec<_>>()
        .join(";");
    let peer = std::env::var("ZG_LORA_PYTHON").ok().and_then(|python| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/lora_jax_worker.py");
        let worker = Worker::spawn(
            &python,
            &[script, &path.display().to_string(), "8", "16", "0.001"],
        );
        if worker.is_none() {
            eprintln!("note: the JAX worker does not start under {python}: the LoRA row has no peer");
        }
        worker
    });
    if peer.is_none() {
        eprintln!("note: set ZG_LORA_PYTHON to a python with jax, optax and gguf for the LoRA row's peer");
    }
    let peer = peer.map(|mut w| {
        // The same model: the base loss on the batch agrees before anything is timed.
        let theirs: f64 = w
            .ask(&format!("loss {batch}"))
            .strip_prefix("ok ")
            .and_then(|l| l.parse().ok())
            .expect("the JAX worker's loss");
        let ours = base
            .eval_loss(&examples, None, LORA_BATCH)
            .expect("the base loss");
        assert!(
            (theirs - ours).abs() < 1e-3 * ours.max(1.0),
            "the JAX peer's base loss {theirs} is not zg's {ours}: not the same model"
        );
        eprintln!("note: base answer loss on the LoRA batch: zg {ours:.5}, JAX {theirs:.5}");
        Side::new("JAX (jit, XLA CPU) + optax AdamW", move || {
            let answer = w.ask(&format!("step {batch}"));
            assert!(answer.starts_with("ok "), "{answer}");
        })
    });
    let lora = base.new_lora(&params).expect("the adapters");
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    vec![Pair {
        kernel: "compute LoRA training step",
        shape: format!(
            "SmolLM2-135M f32, rank 8 q+v, {LORA_BATCH} examples, {tokens} tokens, {threads} threads"
        ),
        bytes: 0,
        items: tokens as u64,
        zg: Side::new("zg candle autograd + AdamW", move || {
            base.train(&lora, &examples, &params, |_, _, _| true)
                .expect("a step");
        }),
        peer,
        target: None,
    }]
}

/// The built-in engine beside llama.cpp.
fn engine_pairs() -> Vec<Pair> {
    let path = match fetch_builtin(&default_cache(), true) {
        Ok(path) => path,
        Err(e) => {
            eprintln!("note: the built-in model is not available ({e}): no engine rows");
            return Vec::new();
        }
    };
    let model = Arc::new(LocalModel::load(&path).expect("the built-in model loads"));
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let peer = std::env::var("ZG_LLAMA_PYTHON").ok().and_then(|python| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/llama_cpp_worker.py");
        let worker = Worker::spawn(
            &python,
            &[script, &path.display().to_string(), &threads.to_string()],
        );
        if worker.is_none() {
            eprintln!("note: llama-cpp-python does not start under {python}: the compute rows have no peer");
        }
        worker.map(|w| Arc::new(Mutex::new(w)))
    });
    if peer.is_none() {
        eprintln!("note: set ZG_LLAMA_PYTHON to a python with llama-cpp-python==0.3.16 for the peer");
    }
    let prompt = tokens(&model, 256);
    let (short, continuation) = (tokens(&model, 8), tokens(&model, 72)[8..].to_vec());
    let peer_side = |name: &str, request: String| {
        peer.clone().map(|w| {
            Side::new(name, move || {
                let answer = w.lock().expect("worker").ask(&request);
                assert_eq!(answer, "ok");
            })
        })
    };
    let (m1, p1) = (model.clone(), prompt.clone());
    let (m2, s2, c2) = (model, short.clone(), continuation.clone());
    vec![
        Pair {
            kernel: "compute engine prefill",
            shape: format!("SmolLM2-135M Q4_1, 256 tokens, {threads} threads"),
            bytes: 0,
            items: 256,
            zg: Side::new("zg candle quantized llama", move || {
                m1.ranks(&p1, &[]).expect("prefill");
            }),
            peer: peer_side(
                "llama.cpp (llama-cpp-python)",
                format!("prefill {}", list(&prompt)),
            ),
            target: None,
        },
        Pair {
            kernel: "compute engine decode",
            shape: format!("SmolLM2-135M Q4_1, 8 + 64 tokens, {threads} threads"),
            bytes: 0,
            items: 64,
            zg: Side::new("zg candle quantized llama", move || {
                m2.ranks(&s2, &c2).expect("decode");
            }),
            peer: peer_side(
                "llama.cpp (llama-cpp-python)",
                format!("decode {}|{}", list(&short), list(&continuation)),
            ),
            target: None,
        },
    ]
}

/// Tokens in each streamed answer of the proxy rows.
const ANSWER_TOKENS: usize = 32;
/// Concurrent clients of the proxy rows.
const CLIENTS: usize = 8;

/// An OpenAI-compatible upstream: every chat completion streams [`ANSWER_TOKENS`]
/// one-token chunks `pace` apart, then its usage chunk and `[DONE]`.
async fn token_streamer(pace: Duration) -> String {
    use axum::body::Body;
    use futures_util::StreamExt as _;
    let answer = move || async move {
        let mut events: Vec<String> = (0..ANSWER_TOKENS)
            .map(|i| {
                let chunk = json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "model": "bench",
                    "choices": [{"index": 0, "delta": {"content": format!(" t{i}")}, "finish_reason": null}]});
                format!("data: {chunk}\n\n")
            })
            .collect();
        let usage = json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "model": "bench", "choices": [],
            "usage": {"prompt_tokens": 20, "completion_tokens": ANSWER_TOKENS, "total_tokens": 20 + ANSWER_TOKENS}});
        events.push(format!("data: {usage}\n\n"));
        events.push("data: [DONE]\n\n".into());
        let stream = futures_util::stream::iter(events).then(move |event| async move {
            if !pace.is_zero() {
                tokio::time::sleep(pace).await;
            }
            Ok::<_, std::convert::Infallible>(event)
        });
        axum::response::Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from_stream(stream))
            .expect("a response")
    };
    let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A chain, an upstream and a provider in front of it, with a funded user and its key.
struct ProxyNet {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    upstream: String,
    provider: String,
    key: String,
    _chain: zg_chain::ChainNode,
    _books: tempfile::TempDir,
}

impl ProxyNet {
    fn start(pace: Duration) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let books = tempfile::tempdir().expect("a directory");
        let dir = books.path().to_owned();
        let (chain, upstream, provider, key) = runtime.block_on(async move {
            let chain = zg_chain::ChainNode::start(zg_chain::ChainNodeConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
                ..zg_chain::ChainNodeConfig::default()
            })
            .await
            .expect("the chain starts");
            let chain_url = format!("http://{}", chain.local_addr());
            let keys: Vec<PrivateKeySigner> = chain
                .accounts()
                .iter()
                .map(|a| PrivateKeySigner::from_bytes(&a.private_key).expect("a key"))
                .collect();
            let upstream = token_streamer(pace).await;
            let server = ProviderServer::bind(
                ProviderConfig {
                    chain_url: chain_url.clone(),
                    key: keys[2].clone(),
                    signer: keys[2].clone(),
                    public_url: String::new(),
                    model: "bench".into(),
                    input_price: U256::from(1_000_000_000u64),
                    output_price: U256::from(2_000_000_000u64),
                    data_dir: dir,
                    max_tokens: 1024,
                    settle_every: Duration::from_secs(3600),
                    engine: Engine::Upstream(Upstream::new(&upstream)),
                },
                None,
                "127.0.0.1:0".parse().expect("addr"),
            )
            .await
            .expect("the provider starts");
            let provider_url = format!("http://{}", server.local_addr().expect("addr"));
            let provider = server.provider().address();
            tokio::spawn(server.serve(std::future::pending()));
            let user = ChainClient::new(&chain_url, keys[1].clone()).expect("a client");
            let og = U256::from(10u64).pow(U256::from(18));
            user.add_ledger(og * U256::from(100)).await.expect("addLedger");
            user.transfer(provider, og * U256::from(90))
                .await
                .expect("transferFund");
            user.acknowledge(provider).await.expect("acknowledge");
            let message = KeyMessage::new(keys[1].address(), provider, 0, 1, 0);
            let key = ApiKey::sign(&keys[1], &message).expect("a key");
            (chain, upstream, provider_url, key)
        });
        Self {
            runtime,
            http: reqwest::Client::new(),
            upstream,
            provider,
            key,
            _chain: chain,
            _books: books,
        }
    }

    /// [`CLIENTS`] clients at once, each streaming `answers` answers one after another
    /// from `url` (with the key when given); checks every answer's token count.
    fn ask(&self, url: &str, key: Option<&str>, answers: usize) {
        self.runtime.block_on(async {
            let clients = (0..CLIENTS).map(|_| async {
                for _ in 0..answers {
                    let mut request = self.http.post(url).json(&json!({
                        "model": "bench", "stream": true, "max_tokens": ANSWER_TOKENS,
                        "messages": [{"role": "user", "content": "Count to thirty-two."}],
                    }));
                    if let Some(key) = key {
                        request = request.bearer_auth(key);
                    }
                    let response = request.send().await.expect("an answer");
                    assert!(response.status().is_success(), "{}", response.status());
                    let body = response.bytes().await.expect("a whole answer");
                    let tokens = body.windows(3).filter(|w| w == b"\" t").count();
                    assert_eq!(tokens, ANSWER_TOKENS, "{}", String::from_utf8_lossy(&body));
                }
            });
            futures_util::future::join_all(clients).await;
        });
    }
}

/// The proxy rows: paced (the target) and unpaced (the proxy's ceiling).
fn proxy_pairs() -> Vec<Pair> {
    let rows = [
        (
            "compute proxy, GPU-paced upstream",
            Duration::from_millis(5),
            2,
            Some(0.95),
        ),
        ("compute proxy, instant upstream", Duration::ZERO, 8, None),
    ];
    rows.into_iter()
        .map(|(kernel, pace, answers, target)| {
            let net = Arc::new(ProxyNet::start(pace));
            let (zg, peer) = (net.clone(), net.clone());
            let via_proxy = format!("{}/v1/proxy/chat/completions", net.provider);
            let direct = format!("{}/v1/chat/completions", net.upstream);
            let paced = if pace.is_zero() {
                "unpaced".to_owned()
            } else {
                format!("{} tokens/s per stream", 1000 / pace.as_millis())
            };
            Pair {
                kernel,
                shape: format!("{CLIENTS} clients x {answers} streamed answers of {ANSWER_TOKENS} tokens, upstream {paced}"),
                bytes: 0,
                items: (CLIENTS * answers * ANSWER_TOKENS) as u64,
                zg: Side::new("zg-compute --upstream (key, admission, books)", move || {
                    zg.ask(&via_proxy, Some(&zg.key), answers);
                }),
                peer: Some(Side::new("the upstream alone", move || {
                    peer.ask(&direct, None, answers);
                })),
                target,
            }
        })
        .collect()
}
