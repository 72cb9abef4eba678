//! The built-in engine (SmolLM2-135M-Instruct Q4_1 on CPU with candle) beside llama.cpp
//! (PyPI's llama-cpp-python, built here) on the same GGUF and the same tokens: prefill of
//! a 256-token prompt, and 64 tokens decoded one at a time after an 8-token prompt
//! (teacher-forced on both sides, so both run exactly the same forwards).
//!
//! The model comes from the model cache (`zg_compute::model::fetch_builtin`); the peer
//! runs under `$ZG_LLAMA_PYTHON` (a python with `llama-cpp-python==0.3.16`), or has no
//! row when that is not set.

use std::sync::{Arc, Mutex};

use zg_compute::model::{LocalModel, default_cache, fetch_builtin};

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
    let path = match fetch_builtin(&default_cache(), true) {
        Ok(path) => path,
        Err(e) => {
            eprintln!("note: the built-in model is not available ({e}): no compute rows");
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
