//! The built-in engine on a tiny random-weight GGUF the test writes (the same loading,
//! tokenizer, template and sampling code as for SmolLM2): tokens round-trip, the chat
//! template renders ChatML, sampling is reproducible by seed, and answers end at
//! `max_tokens`, the end-of-turn token or a stop sequence, streamed or whole alike.

use serde_json::{Value, json};
use zg_compute::model::{LocalModel, ModelError, Params, write_tiny_model};

fn tiny() -> (tempfile::TempDir, LocalModel) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    write_tiny_model(&path, 7).unwrap();
    let model = LocalModel::load(&path).unwrap();
    (dir, model)
}

fn params(request: &Value) -> Params {
    Params::from_request(request).unwrap()
}

/// Generates, returning the text, the pieces as streamed, and how it finished.
fn answer(
    model: &LocalModel,
    prompt: &str,
    p: &Params,
) -> (String, Vec<String>, zg_compute::model::Finished) {
    let tokens = model
        .encode(
            &model
                .render(&json!([{"role": "user", "content": prompt}]))
                .unwrap(),
        )
        .unwrap();
    let mut pieces = Vec::new();
    let finished = model
        .generate(&tokens, p, |piece| {
            pieces.push(piece.to_owned());
            true
        })
        .unwrap();
    (pieces.concat(), pieces, finished)
}

#[test]
fn tokens_round_trip_with_special_tokens_and_single_digits() {
    let (_dir, model) = tiny();
    for text in [
        "",
        "the theme",
        "hello, world!\n\ttabs",
        "naïve café 日本 🚀",
        "  spaces  ",
    ] {
        let tokens = model.encode(text).unwrap();
        assert_eq!(model.decode(&tokens).unwrap(), text);
    }
    // The three merges apply: " the" is one token.
    let the = model.encode(" the").unwrap();
    assert_eq!(the.len(), 1);
    assert_eq!(model.decode(&the).unwrap(), " the");
    // Digits are split one by one, as llama.cpp's smollm pre-tokenizer does.
    assert_eq!(model.encode("12345").unwrap().len(), 5);
    // Control tokens match whole and are left out of decoded text.
    let tokens = model.encode("<|im_start|>user\nhi<|im_end|>").unwrap();
    assert_eq!(tokens[0], 1);
    assert_eq!(*tokens.last().unwrap(), 2);
    assert_eq!(model.decode(&tokens).unwrap(), "user\nhi");
}

#[test]
fn the_chat_template_the_gguf_carries_renders_chatml() {
    let (_dir, model) = tiny();
    let prompt = model
        .render(&json!([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": [{"type": "text", "text": "and "}, {"type": "text", "text": "you?"}]}]))
        .unwrap();
    assert_eq!(
        prompt,
        "<|im_start|>system\nYou are a helpful AI assistant<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n\
         <|im_start|>assistant\nhello<|im_end|>\n<|im_start|>user\nand you?<|im_end|>\n<|im_start|>assistant\n"
    );
    let with_system = model
        .render(&json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "x"}]))
        .unwrap();
    assert!(
        with_system.starts_with("<|im_start|>system\nbe brief<|im_end|>\n"),
        "{with_system}"
    );
    assert!(matches!(
        model.render(&json!("not a list")),
        Err(ModelError::BadRequest(_))
    ));
}

#[test]
fn sampling_is_reproducible_by_seed_and_greedy_at_temperature_zero() {
    let (_dir, model) = tiny();
    let greedy = params(&json!({"max_tokens": 24, "temperature": 0, "seed": 1}));
    let other_seed = params(&json!({"max_tokens": 24, "temperature": 0, "seed": 2}));
    assert_eq!(
        answer(&model, "hello", &greedy).0,
        answer(&model, "hello", &other_seed).0,
        "greedy ignores the seed"
    );
    let hot = |seed| params(&json!({"max_tokens": 24, "temperature": 1.5, "top_p": 0.95, "seed": seed}));
    let (a, _, fa) = answer(&model, "hello", &hot(5));
    let (b, _, fb) = answer(&model, "hello", &hot(5));
    assert_eq!((a.clone(), fa), (b, fb), "same seed, same answer");
    let differ = (6..10).any(|seed| answer(&model, "hello", &hot(seed)).0 != a);
    assert!(differ, "other seeds give other answers");
}

#[test]
fn answers_end_at_max_tokens_or_end_of_turn_and_count_every_sampled_token() {
    let (_dir, model) = tiny();
    let prompt_tokens = model
        .encode(
            &model
                .render(&json!([{"role": "user", "content": "count"}]))
                .unwrap(),
        )
        .unwrap()
        .len() as u64;
    for seed in 0..6 {
        let p = params(&json!({"max_tokens": 16, "temperature": 1.0, "seed": seed}));
        let (text, pieces, finished) = answer(&model, "count", &p);
        assert_eq!(finished.usage.prompt_tokens, prompt_tokens);
        match finished.finish_reason {
            "length" => assert_eq!(finished.usage.completion_tokens, 16),
            "stop" => assert!(finished.usage.completion_tokens <= 16),
            other => panic!("finish_reason {other}"),
        }
        assert!(pieces.iter().all(|p| !p.is_empty()));
        assert!(!text.contains("<|im_end|>"));
    }
}

#[test]
fn a_stop_sequence_cuts_the_answer_before_it_streamed_or_whole() {
    let (_dir, model) = tiny();
    let free = params(&json!({"max_tokens": 40, "temperature": 0}));
    let (text, _, _) = answer(&model, "tell me", &free);
    let chars: Vec<char> = text.chars().collect();
    assert!(chars.len() >= 12, "the tiny model says enough to cut: {text:?}");
    // A stop made of two characters from the middle of the greedy answer.
    let stop: String = chars[8..10].iter().collect();
    let expected = &text[..text.find(&stop).unwrap()];
    let cut = params(&json!({"max_tokens": 40, "temperature": 0, "stop": [stop, "never-said"]}));
    let (got, pieces, finished) = answer(&model, "tell me", &cut);
    assert_eq!(got, expected);
    assert_eq!(finished.finish_reason, "stop");
    assert!(
        pieces.iter().all(|p| !p.contains(&stop)),
        "no piece carries the stop: {pieces:?}"
    );
    assert!(finished.usage.completion_tokens < 40);
}

#[test]
fn a_client_that_leaves_stops_generation() {
    let (_dir, model) = tiny();
    let p = params(&json!({"max_tokens": 64, "temperature": 1.0, "seed": 3}));
    let tokens = model
        .encode(&model.render(&json!([{"role": "user", "content": "go"}])).unwrap())
        .unwrap();
    let mut calls = 0;
    let finished = model
        .generate(&tokens, &p, |_| {
            calls += 1;
            false
        })
        .unwrap();
    assert_eq!(calls, 1);
    assert!(finished.usage.completion_tokens <= 4, "{finished:?}");
}

#[test]
fn bad_parameters_and_oversized_prompts_are_refused() {
    let (_dir, model) = tiny();
    for bad in [
        json!({"max_tokens": 0}),
        json!({"max_tokens": 8, "temperature": 3}),
        json!({"max_tokens": 8, "temperature": "hot"}),
        json!({"max_tokens": 8, "top_p": 0}),
        json!({"max_tokens": 8, "stop": ["a", "b", "c", "d", "e"]}),
        json!({"max_tokens": 8, "stop": [1]}),
        json!({"max_tokens": 8, "stop": ""}),
        json!({"max_tokens": 8, "seed": 1.5}),
    ] {
        assert!(
            matches!(Params::from_request(&bad), Err(ModelError::BadRequest(_))),
            "{bad}"
        );
    }
    let long = vec![5u32; model.context()];
    let p = params(&json!({"max_tokens": 8}));
    assert!(matches!(
        model.generate(&long, &p, |_| true),
        Err(ModelError::BadRequest(_))
    ));
    assert!(matches!(
        model.generate(&[], &p, |_| true),
        Err(ModelError::BadRequest(_))
    ));
    // Near the end of the window, max_tokens shrinks to what is left.
    let near = vec![5u32; model.context() - 3];
    let finished = model
        .generate(
            &near,
            &params(&json!({"max_tokens": 50, "temperature": 0})),
            |_| true,
        )
        .unwrap();
    assert!(finished.usage.completion_tokens <= 3);
}

#[test]
fn files_that_are_not_models_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.gguf");
    std::fs::write(&path, b"GGUF but not really").unwrap();
    assert!(matches!(LocalModel::load(&path), Err(ModelError::Load { .. })));
    assert!(matches!(
        LocalModel::load(&dir.path().join("absent.gguf")),
        Err(ModelError::Load { .. })
    ));
}
