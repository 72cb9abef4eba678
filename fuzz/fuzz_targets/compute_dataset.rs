//! A fine-tuning task's inputs from arbitrary bytes: training parameters (JSON) end in
//! values inside their limits or a typed refusal, and a JSONL dataset ends in examples
//! within `max_seq_len` whose answers are non-empty, or a refusal naming its line —
//! never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zg_compute::lora::{TrainError, TrainParams, examples_from_jsonl};
use zg_compute::model::{LocalModel, write_tiny_model};

fn model() -> &'static LocalModel {
    static MODEL: OnceLock<LocalModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("zg-fuzz-tiny-{}.gguf", std::process::id()));
        write_tiny_model(&path, 5).expect("a tiny model");
        let model = LocalModel::load(&path).expect("it loads");
        let _ = std::fs::remove_file(&path);
        model
    })
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(rest) else {
            return;
        };
        match TrainParams::from_json(&value) {
            Ok(p) => {
                assert!((1..=64).contains(&p.rank) && (1..=50).contains(&p.epochs));
                assert!(p.learning_rate > 0.0 && p.learning_rate <= 0.1 && p.alpha > 0.0);
                assert!((1..=32).contains(&p.batch_size) && (16..=2048).contains(&p.max_seq_len));
            }
            Err(TrainError::Param { .. }) => {}
            Err(other) => panic!("parameters gave {other}"),
        }
    } else {
        match examples_from_jsonl(model(), rest, 96) {
            Ok(examples) => {
                assert!(!examples.is_empty());
                for e in examples {
                    assert!(e.tokens.len() <= 96 && e.prompt_len < e.tokens.len());
                }
            }
            Err(TrainError::Dataset { .. }) => {}
            Err(other) => panic!("a dataset gave {other}"),
        }
    }
});
