//! LoRA fine-tuning of the built-in llama model on CPU with candle's autograd: the
//! GGUF's weights dequantized to f32 and frozen, low-rank adapters on every layer's
//! query and value projections (`W + (α/r)·B·A`, B starting at zero so training starts
//! from the base model), trained with AdamW on the assistant turns of chat examples
//! only; then the adapter is saved (safetensors, zg's names), evaluated on held-out
//! examples, and merged into a GGUF the provider serves for the user who paid for it.
//!
//! The forward pass is the one candle's quantized llama runs (RMSNorm, interleaved
//! RoPE as GGUF stores llama's q/k, grouped-query attention, SwiGLU, tied or separate
//! output), written with differentiable ops; the tests hold it to that engine.

use std::collections::HashMap;
use std::path::Path;

use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{CpuStorage, CustomOp1, D, DType, Device, Layout, Shape as Dims, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use serde_json::Value;

/// Why training cannot start or failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The hyper-parameters are out of their limits.
    #[error("training parameter {name}: {reason}")]
    Param {
        /// Which one.
        name: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// A dataset line is not a usable chat example.
    #[error("dataset line {line}: {reason}")]
    Dataset {
        /// 1-based line number.
        line: usize,
        /// Why it is refused.
        reason: String,
    },
    /// The base model cannot be read as a llama GGUF.
    #[error("the base model: {0}")]
    Model(String),
    /// An adapter file is not one of this base model's.
    #[error("the adapter: {0}")]
    Adapter(String),
    /// candle failed.
    #[error("training failed: {0}")]
    Run(#[from] candle_core::Error),
}

/// The hyper-parameters of one fine-tune, with 0G's names accepted
/// (`num_train_epochs`, `learning_rate`, `per_device_train_batch_size`, `max_steps`).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainParams {
    /// Adapter rank r (1–64; default 8).
    pub rank: usize,
    /// Scale numerator α (the update is (α/r)·B·A; default 16).
    pub alpha: f64,
    /// AdamW learning rate (0 < lr ≤ 0.1; default 1e-3).
    pub learning_rate: f64,
    /// Passes over the dataset (1–50; default 3).
    pub epochs: usize,
    /// Examples per step (1–32; default 4).
    pub batch_size: usize,
    /// Stop after this many steps if sooner (0 = no limit).
    pub max_steps: usize,
    /// Longest example in tokens; longer ones are refused (16–2048; default 512).
    pub max_seq_len: usize,
    /// Seed of the adapters' initial values and of the example order.
    pub seed: u64,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            rank: 8,
            alpha: 16.0,
            learning_rate: 1e-3,
            epochs: 3,
            batch_size: 4,
            max_steps: 0,
            max_seq_len: 512,
            seed: 42,
        }
    }
}

impl TrainParams {
    /// Parameters from a JSON object (unknown keys refused, missing ones defaulted).
    pub fn from_json(value: &Value) -> Result<Self, TrainError> {
        let mut params = Self::default();
        let Some(object) = value.as_object() else {
            return Err(TrainError::Param {
                name: "training_params",
                reason: "must be a JSON object".into(),
            });
        };
        for (key, v) in object {
            let bad = |name: &'static str| TrainError::Param {
                name,
                reason: format!("{v} is not a number in range"),
            };
            let int = |name: &'static str, lo: u64, hi: u64| {
                v.as_u64()
                    .filter(|n| (lo..=hi).contains(n))
                    .map(|n| n as usize)
                    .ok_or_else(|| TrainError::Param {
                        name,
                        reason: format!("{v} is not a whole number from {lo} to {hi}"),
                    })
            };
            match key.as_str() {
                "rank" | "lora_rank" | "lora_r" => params.rank = int("rank", 1, 64)?,
                "alpha" | "lora_alpha" => {
                    params.alpha = v
                        .as_f64()
                        .filter(|a| *a > 0.0 && *a <= 1024.0)
                        .ok_or_else(|| bad("alpha"))?;
                }
                "learning_rate" | "lr" => {
                    params.learning_rate = v
                        .as_f64()
                        .filter(|l| *l > 0.0 && *l <= 0.1)
                        .ok_or_else(|| bad("learning_rate"))?;
                }
                "epochs" | "num_train_epochs" => params.epochs = int("epochs", 1, 50)?,
                "batch_size" | "per_device_train_batch_size" => params.batch_size = int("batch_size", 1, 32)?,
                "max_steps" => params.max_steps = int("max_steps", 0, 100_000)?,
                "max_seq_len" | "max_seq_length" => params.max_seq_len = int("max_seq_len", 16, 2048)?,
                "seed" => params.seed = v.as_u64().ok_or_else(|| bad("seed"))?,
                _ => {
                    return Err(TrainError::Param {
                        name: "training_params",
                        reason: format!("unknown parameter {key:?}"),
                    });
                }
            }
        }
        Ok(params)
    }

    /// The update's scale α/r.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }
}

/// One training example: its tokens and where the assistant's answer starts (the
/// loss covers the answer only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    /// Prompt then answer.
    pub tokens: Vec<u32>,
    /// Tokens of the prompt; the rest is the answer.
    pub prompt_len: usize,
}

/// The llama shape read from the GGUF.
#[derive(Clone, Copy, Debug)]
struct Shape {
    hidden: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    eps: f64,
}

/// One layer's frozen weights.
struct Layer {
    attn_norm: Tensor,
    q: Frozen,
    k: Frozen,
    v: Frozen,
    o: Frozen,
    ffn_norm: Tensor,
    gate: Frozen,
    up: Frozen,
    down: Frozen,
}

/// The base model's weights in f32, frozen.
pub struct BaseModel {
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    output: Frozen,
    cos: Tensor,
    sin: Tensor,
    shape: Shape,
    context: usize,
}

/// The trainable adapters: for each layer, A ([in, r]) and B ([r, out]) of the query
/// and value projections.
pub struct Lora {
    /// Per layer: (q A, q B, v A, v B).
    layers: Vec<[Var; 4]>,
    scale: f64,
    rank: usize,
    alpha: f64,
}

/// `x` [batch, seq, in] times `w` [in, out], as one 2-D matrix product (a broadcast
/// batched product is several times slower on CPU, forward and backward).
trait Linear {
    fn linear(&self, w: &Tensor) -> candle_core::Result<Tensor>;
    fn frozen(&self, w: &Frozen) -> candle_core::Result<Tensor>;
}

impl Linear for Tensor {
    fn linear(&self, w: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, seq, inner) = self.dims3()?;
        self.reshape((batch * seq, inner))?
            .matmul(w)?
            .reshape((batch, seq, w.dim(1)?))
    }

    fn frozen(&self, w: &Frozen) -> candle_core::Result<Tensor> {
        // Contiguous, so the op reads its input as one slice.
        self.contiguous()?.apply_op1(w.clone())
    }
}

/// A frozen weight [in, out] as an op on its input: candle's matmul backward also
/// computes the weight's gradient, a third of a step's work thrown away for frozen
/// weights (measured with perf: gemm is 61% of a step); this op's backward is only
/// the input's, gradient × Wᵀ.
#[derive(Clone)]
struct Frozen {
    w: Tensor,
    w_t: Tensor,
}

impl Frozen {
    /// From a GGUF weight [out, in].
    fn new(weight: &Tensor) -> candle_core::Result<Self> {
        Ok(Self {
            w: weight.t()?.contiguous()?,
            w_t: weight.contiguous()?,
        })
    }
}

impl CustomOp1 for Frozen {
    fn name(&self) -> &'static str {
        "zg-frozen-linear"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Dims)> {
        let dims = layout.shape().dims();
        let inner = *dims
            .last()
            .ok_or_else(|| candle_core::Error::Msg("a scalar input".into()))?;
        let rows = layout.shape().elem_count() / inner.max(1);
        let data = storage.as_slice::<f32>()?;
        let x = match layout.contiguous_offsets() {
            Some((start, end)) => Tensor::from_slice(&data[start..end], (rows, inner), &Device::Cpu)?,
            None => {
                return Err(candle_core::Error::Msg(
                    "a frozen linear's input must be contiguous".into(),
                ));
            }
        };
        let y = x.matmul(&self.w)?;
        let out = self.w.dim(1)?;
        let mut shape = dims.to_vec();
        *shape.last_mut().expect("not a scalar") = out;
        Ok((CpuStorage::F32(y.flatten_all()?.to_vec1()?), Dims::from(shape)))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let out = self.w.dim(1)?;
        let rows = grad_res.elem_count() / out;
        let grad = grad_res.reshape((rows, out))?.matmul(&self.w_t)?;
        Ok(Some(grad.reshape(arg.shape())?))
    }
}

fn model_err(e: impl std::fmt::Display) -> TrainError {
    TrainError::Model(e.to_string())
}

impl BaseModel {
    /// Reads a llama GGUF's weights, dequantized.
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let device = Device::Cpu;
        let mut file = std::fs::File::open(path).map_err(model_err)?;
        let content = gguf_file::Content::read(&mut file).map_err(model_err)?;
        let meta = |key: &str| -> Result<u32, TrainError> {
            content
                .metadata
                .get(key)
                .and_then(|v| v.to_u32().ok())
                .ok_or_else(|| TrainError::Model(format!("no {key}")))
        };
        let hidden = meta("llama.embedding_length")? as usize;
        let heads = meta("llama.attention.head_count")? as usize;
        let kv_heads = meta("llama.attention.head_count_kv")? as usize;
        let layers = meta("llama.block_count")? as usize;
        let context = meta("llama.context_length").unwrap_or(2048) as usize;
        let eps = f64::from(
            content
                .metadata
                .get("llama.attention.layer_norm_rms_epsilon")
                .and_then(|v| v.to_f32().ok())
                .unwrap_or(1e-5),
        );
        let base = content
            .metadata
            .get("llama.rope.freq_base")
            .and_then(|v| v.to_f32().ok())
            .unwrap_or(10_000.0);
        if heads == 0 || kv_heads == 0 || !hidden.is_multiple_of(heads) || !heads.is_multiple_of(kv_heads) {
            return Err(TrainError::Model("inconsistent attention heads".into()));
        }
        let head_dim = hidden / heads;
        let mut tensor = |name: &str| -> Result<Tensor, TrainError> {
            content
                .tensor(&mut file, name, &device)
                .and_then(|t| t.dequantize(&device))
                .map_err(|e| TrainError::Model(format!("{name}: {e}")))
        };
        let frozen = |t: Tensor| -> Result<Frozen, TrainError> { Ok(Frozen::new(&t)?) };
        let embed = tensor("token_embd.weight")?;
        let output = match content.tensor_infos.contains_key("output.weight") {
            true => tensor("output.weight")?,
            false => embed.clone(),
        };
        let output = frozen(output)?;
        let norm = tensor("output_norm.weight")?;
        let mut blocks = Vec::with_capacity(layers);
        for l in 0..layers {
            let mut w = |n: &str| tensor(&format!("blk.{l}.{n}.weight"));
            blocks.push(Layer {
                attn_norm: w("attn_norm")?,
                q: frozen(w("attn_q")?)?,
                k: frozen(w("attn_k")?)?,
                v: frozen(w("attn_v")?)?,
                o: frozen(w("attn_output")?)?,
                ffn_norm: w("ffn_norm")?,
                gate: frozen(w("ffn_gate")?)?,
                up: frozen(w("ffn_up")?)?,
                down: frozen(w("ffn_down")?)?,
            });
        }
        // RoPE tables as candle's quantized llama builds them.
        let theta: Vec<f32> = (0..head_dim)
            .step_by(2)
            .map(|i| 1f32 / base.powf(i as f32 / head_dim as f32))
            .collect();
        let theta = Tensor::new(theta.as_slice(), &device)?;
        let positions = Tensor::arange(0, context as u32, &device)?
            .to_dtype(DType::F32)?
            .reshape((context, 1))?;
        let angles = positions.matmul(&theta.reshape((1, head_dim / 2))?)?;
        Ok(Self {
            embed,
            layers: blocks,
            norm,
            output,
            cos: angles.cos()?,
            sin: angles.sin()?,
            shape: Shape {
                hidden,
                heads,
                kv_heads,
                head_dim,
                eps,
            },
            context,
        })
    }

    /// Most tokens one example may have.
    pub fn context(&self) -> usize {
        self.context
    }

    /// Fresh adapters for these parameters: A uniform in ±1/√in, B zero.
    pub fn new_lora(&self, params: &TrainParams) -> Result<Lora, TrainError> {
        let device = Device::Cpu;
        let mut state = params.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut uniform = |rows: usize, cols: usize| -> Result<Var, TrainError> {
            let bound = 1.0 / (rows as f32).sqrt();
            let values: Vec<f32> = (0..rows * cols)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * bound
                })
                .collect();
            Ok(Var::from_tensor(&Tensor::from_vec(
                values,
                (rows, cols),
                &device,
            )?)?)
        };
        let s = self.shape;
        let (q_out, v_out) = (s.hidden, s.kv_heads * s.head_dim);
        let r = params.rank;
        let mut layers = Vec::with_capacity(self.layers.len());
        for _ in &self.layers {
            layers.push([
                uniform(s.hidden, r)?,
                Var::zeros((r, q_out), DType::F32, &device)?,
                uniform(s.hidden, r)?,
                Var::zeros((r, v_out), DType::F32, &device)?,
            ]);
        }
        Ok(Lora {
            layers,
            scale: params.scale(),
            rank: r,
            alpha: params.alpha,
        })
    }

    /// The last layer's normalised states [batch, seq, hidden] of `tokens` [batch, seq].
    fn hidden(&self, tokens: &Tensor, lora: Option<&Lora>) -> Result<Tensor, TrainError> {
        let (batch, seq) = tokens.dims2()?;
        if seq > self.context {
            return Err(TrainError::Param {
                name: "max_seq_len",
                reason: format!("{seq} tokens is past the model's {} context", self.context),
            });
        }
        let s = self.shape;
        let mut x = self
            .embed
            .index_select(&tokens.flatten_all()?, 0)?
            .reshape((batch, seq, s.hidden))?;
        let mask: Vec<f32> = (0..seq)
            .flat_map(|i| (0..seq).map(move |j| if j > i { -1e9 } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (seq, seq), &Device::Cpu)?;
        let (cos, sin) = (self.cos.narrow(0, 0, seq)?, self.sin.narrow(0, 0, seq)?);
        for (l, layer) in self.layers.iter().enumerate() {
            let h = candle_nn::ops::rms_norm_slow(&x, &layer.attn_norm, s.eps as f32)?;
            let mut q = h.frozen(&layer.q)?;
            let k = h.frozen(&layer.k)?;
            let mut v = h.frozen(&layer.v)?;
            if let Some(lora) = lora {
                let [qa, qb, va, vb] = &lora.layers[l];
                q = (q + (h.linear(qa.as_tensor())?.linear(qb.as_tensor())? * lora.scale)?)?;
                v = (v + (h.linear(va.as_tensor())?.linear(vb.as_tensor())? * lora.scale)?)?;
            }
            let heads = |t: Tensor, n: usize| -> candle_core::Result<Tensor> {
                t.reshape((batch, seq, n, s.head_dim))?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let q = candle_nn::rotary_emb::rope_i_slow(&heads(q, s.heads)?, &cos, &sin)?;
            let k = candle_nn::rotary_emb::rope_i_slow(&heads(k, s.kv_heads)?, &cos, &sin)?;
            let v = heads(v, s.kv_heads)?;
            let n_rep = s.heads / s.kv_heads;
            let k = candle_transformers::utils::repeat_kv(k, n_rep)?.contiguous()?;
            let v = candle_transformers::utils::repeat_kv(v, n_rep)?.contiguous()?;
            let att = (q.matmul(&k.t()?)? / (s.head_dim as f64).sqrt())?.broadcast_add(&mask)?;
            let att = candle_nn::ops::softmax(&att, D::Minus1)?;
            let y = att.matmul(&v)?.transpose(1, 2)?.reshape((batch, seq, s.hidden))?;
            x = (x + y.frozen(&layer.o)?)?;
            let h = candle_nn::ops::rms_norm_slow(&x, &layer.ffn_norm, s.eps as f32)?;
            let gate = candle_nn::ops::silu(&h.frozen(&layer.gate)?)?;
            let up = h.frozen(&layer.up)?;
            x = (x + (gate * up)?.frozen(&layer.down)?)?;
        }
        Ok(candle_nn::ops::rms_norm_slow(&x, &self.norm, s.eps as f32)?)
    }

    /// Logits [batch, seq, vocab] of `tokens` [batch, seq], with `lora` if given.
    pub fn forward(&self, tokens: &Tensor, lora: Option<&Lora>) -> Result<Tensor, TrainError> {
        Ok(self.hidden(tokens, lora)?.frozen(&self.output)?)
    }

    /// Mean cross-entropy of the answers' tokens in `examples` (one batch).
    pub fn loss(&self, examples: &[&Example], lora: Option<&Lora>) -> Result<Tensor, TrainError> {
        let seq = examples.iter().map(|e| e.tokens.len()).max().unwrap_or(0);
        if seq < 2 {
            return Err(TrainError::Param {
                name: "dataset",
                reason: "an example needs a prompt and an answer".into(),
            });
        }
        let mut tokens = Vec::with_capacity(examples.len() * seq);
        // Rows of the flattened [batch·seq] states that predict an answer token, and
        // the tokens they predict: only those get logits (the vocabulary is the
        // largest product of a step).
        let mut rows = Vec::new();
        let mut targets = Vec::new();
        for (b, e) in examples.iter().enumerate() {
            tokens.extend(e.tokens.iter().copied().chain(std::iter::repeat(0)).take(seq));
            for t in e.prompt_len.max(1) - 1..e.tokens.len() - 1 {
                rows.push((b * seq + t) as u32);
                targets.push(e.tokens[t + 1]);
            }
        }
        if rows.is_empty() {
            return Err(TrainError::Param {
                name: "dataset",
                reason: "no answer tokens to learn".into(),
            });
        }
        let device = Device::Cpu;
        let batch = examples.len();
        let counted = rows.len();
        let tokens = Tensor::from_vec(tokens, (batch, seq), &device)?;
        let hidden = self.hidden(&tokens, lora)?;
        let hidden = hidden.reshape((batch * seq, self.shape.hidden))?;
        let picked = hidden.index_select(&Tensor::from_vec(rows, counted, &device)?, 0)?;
        let logits = picked.unsqueeze(0)?.frozen(&self.output)?.squeeze(0)?;
        let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        let targets = Tensor::from_vec(targets, (counted, 1), &device)?;
        let picked = log_probs.gather(&targets, 1)?;
        Ok((picked.sum_all()? * (-1.0 / counted as f64))?)
    }

    /// Mean answer loss over `examples`, a batch at a time, with no gradients kept.
    pub fn eval_loss(
        &self,
        examples: &[Example],
        lora: Option<&Lora>,
        batch: usize,
    ) -> Result<f64, TrainError> {
        let mut total = 0.0;
        let mut counted = 0.0;
        for chunk in examples.chunks(batch.max(1)) {
            let refs: Vec<&Example> = chunk.iter().collect();
            let n: usize = chunk
                .iter()
                .map(|e| e.tokens.len().saturating_sub(e.prompt_len.max(1)))
                .sum();
            let loss = f64::from(self.loss(&refs, lora)?.detach().to_scalar::<f32>()?);
            total += loss * n as f64;
            counted += n as f64;
        }
        Ok(if counted == 0.0 { 0.0 } else { total / counted })
    }

    /// Trains `lora` on `examples` with AdamW; `progress(step, steps, loss)` after each
    /// step, which returns false to stop (a cancelled task).
    pub fn train(
        &self,
        lora: &Lora,
        examples: &[Example],
        params: &TrainParams,
        mut progress: impl FnMut(usize, usize, f64) -> bool,
    ) -> Result<usize, TrainError> {
        if examples.is_empty() {
            return Err(TrainError::Param {
                name: "dataset",
                reason: "no examples".into(),
            });
        }
        let vars: Vec<Var> = lora.layers.iter().flat_map(|l| l.iter().cloned()).collect();
        let mut optimizer = AdamW::new(
            vars,
            ParamsAdamW {
                lr: params.learning_rate,
                weight_decay: 0.0,
                ..ParamsAdamW::default()
            },
        )?;
        let per_epoch = examples.len().div_ceil(params.batch_size);
        let mut steps = per_epoch * params.epochs;
        if params.max_steps > 0 {
            steps = steps.min(params.max_steps);
        }
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut state = params.seed | 1;
        let mut step = 0;
        'epochs: for _ in 0..params.epochs {
            // A seeded Fisher–Yates shuffle per epoch.
            for i in (1..order.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                order.swap(i, (state % (i as u64 + 1)) as usize);
            }
            for batch in order.chunks(params.batch_size) {
                let refs: Vec<&Example> = batch.iter().map(|i| &examples[*i]).collect();
                let loss = self.loss(&refs, Some(lora))?;
                optimizer.backward_step(&loss)?;
                step += 1;
                let value = f64::from(loss.to_scalar::<f32>()?);
                if !value.is_finite() {
                    return Err(TrainError::Param {
                        name: "learning_rate",
                        reason: format!("the loss diverged at step {step}; lower the learning rate"),
                    });
                }
                if !progress(step, steps, value) || step >= steps {
                    break 'epochs;
                }
            }
        }
        Ok(step)
    }
}

impl Lora {
    /// The adapter as safetensors: `blk.{l}.attn_{q,v}.lora_{a,b}` with A as [in, r]
    /// and B as [r, out] (GGUF's row order, so q's rows follow GGUF's RoPE permutation),
    /// and the rank and α in the metadata.
    pub fn to_safetensors(&self) -> Result<Vec<u8>, TrainError> {
        let mut tensors: Vec<(String, Tensor)> = Vec::new();
        for (l, [qa, qb, va, vb]) in self.layers.iter().enumerate() {
            for (name, var) in [
                ("attn_q.lora_a", qa),
                ("attn_q.lora_b", qb),
                ("attn_v.lora_a", va),
                ("attn_v.lora_b", vb),
            ] {
                tensors.push((format!("blk.{l}.{name}"), var.as_tensor().detach()));
            }
        }
        let metadata = HashMap::from([
            ("format".to_string(), "zg-lora".to_string()),
            ("rank".to_string(), self.rank.to_string()),
            ("alpha".to_string(), self.alpha.to_string()),
            ("layers".to_string(), self.layers.len().to_string()),
        ]);
        safetensors::serialize(tensors.iter().map(|(k, v)| (k.as_str(), v)), Some(metadata))
            .map_err(|e| TrainError::Adapter(e.to_string()))
    }

    /// An adapter read back from [`Self::to_safetensors`], checked against `base`'s shape.
    pub fn from_safetensors(bytes: &[u8], base: &BaseModel) -> Result<Self, TrainError> {
        let bad = |e: &dyn std::fmt::Display| TrainError::Adapter(e.to_string());
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| bad(&e))?;
        let meta = header.metadata().as_ref().ok_or_else(|| bad(&"no metadata"))?;
        let number = |key: &str| -> Result<f64, TrainError> {
            meta.get(key)
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(|| TrainError::Adapter(format!("no {key} in its metadata")))
        };
        if meta.get("format").map(String::as_str) != Some("zg-lora") {
            return Err(bad(&"not a zg LoRA adapter"));
        }
        let (rank, alpha, layers) = (
            number("rank")? as usize,
            number("alpha")?,
            number("layers")? as usize,
        );
        if !(1..=64).contains(&rank) || alpha.is_nan() || alpha <= 0.0 || layers != base.layers.len() {
            return Err(bad(&format!(
                "rank {rank}, α {alpha}, {layers} layers do not fit a {}-layer base model",
                base.layers.len()
            )));
        }
        let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?;
        let s = base.shape;
        let mut out = Vec::with_capacity(layers);
        for l in 0..layers {
            let get = |name: &str, dims: (usize, usize)| -> Result<Var, TrainError> {
                let key = format!("blk.{l}.{name}");
                let t = tensors
                    .get(&key)
                    .ok_or_else(|| TrainError::Adapter(format!("no {key}")))?;
                if t.dims2()? != dims || t.dtype() != DType::F32 {
                    return Err(TrainError::Adapter(format!(
                        "{key} is {:?}, not {dims:?} f32",
                        t.dims()
                    )));
                }
                Ok(Var::from_tensor(t)?)
            };
            out.push([
                get("attn_q.lora_a", (s.hidden, rank))?,
                get("attn_q.lora_b", (rank, s.hidden))?,
                get("attn_v.lora_a", (s.hidden, rank))?,
                get("attn_v.lora_b", (rank, s.kv_heads * s.head_dim))?,
            ]);
        }
        Ok(Self {
            layers: out,
            scale: alpha / rank as f64,
            rank,
            alpha,
        })
    }
}

/// Writes `base_gguf` with `lora` merged into its query and value weights (as f32;
/// every other tensor and all metadata as they were) to `out`: the model the provider
/// serves to the adapter's owner.
pub fn merge_into_gguf(base_gguf: &Path, lora: &Lora, out: &Path) -> Result<(), TrainError> {
    let device = Device::Cpu;
    let mut file = std::fs::File::open(base_gguf).map_err(model_err)?;
    let content = gguf_file::Content::read(&mut file).map_err(model_err)?;
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(content.tensor_infos.len());
    for name in content.tensor_infos.keys() {
        let tensor = content.tensor(&mut file, name, &device).map_err(model_err)?;
        let merged = name
            .strip_prefix("blk.")
            .and_then(|rest| rest.split_once('.'))
            .and_then(|(l, rest)| Some((l.parse::<usize>().ok()?, rest)))
            .and_then(|(l, rest)| match rest {
                "attn_q.weight" => Some((l, 0)),
                "attn_v.weight" => Some((l, 2)),
                _ => None,
            });
        let tensor = match merged {
            Some((l, i)) => {
                let pair = lora
                    .layers
                    .get(l)
                    .ok_or_else(|| TrainError::Adapter(format!("no adapter for layer {l}")))?;
                // W is [out, in]; (A·B)ᵀ is [out, in] too.
                let delta = (pair[i].as_tensor().matmul(pair[i + 1].as_tensor())?.t()? * lora.scale)?;
                let weight = (tensor.dequantize(&device)? + delta)?;
                QTensor::quantize(&weight, GgmlDType::F32)?
            }
            None => tensor,
        };
        tensors.push((name.clone(), tensor));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> =
        content.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut writer = std::io::BufWriter::new(std::fs::File::create(out).map_err(model_err)?);
    gguf_file::write(&mut writer, &metadata, &refs)?;
    std::io::Write::flush(&mut writer).map_err(model_err)?;
    writer.get_ref().sync_all().map_err(model_err)
}

/// Most lines a dataset may have, and the longest line, bytes.
pub const MAX_EXAMPLES: usize = 100_000;
/// The longest dataset line, bytes.
pub const MAX_LINE: usize = 64 << 10;

/// The examples of a JSONL chat dataset (one `{"messages": [...]}` per line, the last
/// message the assistant's answer), each at most `max_seq_len` tokens; blank lines
/// skipped, anything else refused with its line number.
pub fn examples_from_jsonl(
    model: &crate::model::LocalModel,
    bytes: &[u8],
    max_seq_len: usize,
) -> Result<Vec<Example>, TrainError> {
    let text = std::str::from_utf8(bytes).map_err(|e| TrainError::Dataset {
        line: bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1,
        reason: "not UTF-8".into(),
    })?;
    let mut examples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let bad = |reason: String| TrainError::Dataset {
            line: line_no,
            reason,
        };
        if line.trim().is_empty() {
            continue;
        }
        if line.len() > MAX_LINE {
            return Err(bad(format!("{} bytes; the most is {MAX_LINE}", line.len())));
        }
        if examples.len() == MAX_EXAMPLES {
            return Err(bad(format!("more than {MAX_EXAMPLES} examples")));
        }
        let value: Value = serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
        let messages = value
            .get("messages")
            .ok_or_else(|| bad("no \"messages\" array".into()))?;
        let (tokens, prompt_len) = model.training_example(messages).map_err(|e| bad(e.to_string()))?;
        if tokens.len() > max_seq_len {
            return Err(bad(format!(
                "{} tokens; max_seq_len is {max_seq_len}",
                tokens.len()
            )));
        }
        examples.push(Example { tokens, prompt_len });
    }
    if examples.is_empty() {
        return Err(TrainError::Dataset {
            line: 0,
            reason: "the dataset has no examples".into(),
        });
    }
    Ok(examples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LocalModel, write_tiny_model};
    use serde_json::json;

    fn tiny() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        write_tiny_model(&path, 11).unwrap();
        (dir, path)
    }

    fn dataset(n: usize) -> String {
        (0..n)
            .map(|i| {
                json!({"messages": [
                    {"role": "user", "content": format!("color {i}?")},
                    {"role": "assistant", "content": "the teal"},
                ]})
                .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// With no adapter the trainable forward pass is the served model: candle's
    /// quantized llama ranks the trainable pass's greedy picks first.
    #[test]
    fn the_trainable_forward_pass_is_the_served_models() {
        let (_dir, path) = tiny();
        let served = LocalModel::load(&path).unwrap();
        let base = BaseModel::load(&path).unwrap();
        let prompt = served
            .encode("<|im_start|>user\nthe the the<|im_end|>\n")
            .unwrap();
        let mut tokens = prompt.clone();
        for _ in 0..12 {
            let input = Tensor::new(tokens.as_slice(), &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let logits = base.forward(&input, None).unwrap();
            let last = logits.squeeze(0).unwrap().get(tokens.len() - 1).unwrap();
            tokens.push(last.argmax(0).unwrap().to_scalar::<u32>().unwrap());
        }
        let ranks = served.ranks(&prompt, &tokens[prompt.len()..]).unwrap();
        assert!(ranks.iter().filter(|r| **r == 0).count() >= 11, "{ranks:?}");
        assert!(ranks.iter().all(|r| *r <= 1), "{ranks:?}");
    }

    #[test]
    fn training_lowers_held_out_loss_and_the_merged_model_says_what_it_learned() {
        let (dir, path) = tiny();
        let served = LocalModel::load(&path).unwrap();
        let base = BaseModel::load(&path).unwrap();
        let params = TrainParams {
            rank: 4,
            learning_rate: 1e-2,
            epochs: 4,
            batch_size: 4,
            ..TrainParams::default()
        };
        let examples = examples_from_jsonl(&served, dataset(24).as_bytes(), 128).unwrap();
        let (train, held_out) = examples.split_at(20);
        let lora = base.new_lora(&params).unwrap();
        let before = base.eval_loss(held_out, Some(&lora), 4).unwrap();
        assert!(
            (before - base.eval_loss(held_out, None, 4).unwrap()).abs() < 1e-6,
            "B starts at zero"
        );
        let mut losses = Vec::new();
        let steps = base
            .train(&lora, train, &params, |_, _, loss| {
                losses.push(loss);
                true
            })
            .unwrap();
        assert_eq!(steps, 20);
        let after = base.eval_loss(held_out, Some(&lora), 4).unwrap();
        assert!(after < before * 0.5, "held-out loss {before} -> {after}");

        // Saved, read back and merged: the served model now answers as trained.
        let bytes = lora.to_safetensors().unwrap();
        let again = Lora::from_safetensors(&bytes, &base).unwrap();
        assert!((base.eval_loss(held_out, Some(&again), 4).unwrap() - after).abs() < 1e-5);
        let merged = dir.path().join("merged.gguf");
        merge_into_gguf(&path, &again, &merged).unwrap();
        let tuned = LocalModel::load(&merged).unwrap();
        let example = &held_out[0];
        let prompt = &example.tokens[..example.prompt_len];
        let answer = &example.tokens[example.prompt_len..];
        let ranks = tuned.ranks(prompt, answer).unwrap();
        assert!(ranks.iter().all(|r| *r == 0), "tuned ranks {ranks:?}");
        let base_ranks = served.ranks(prompt, answer).unwrap();
        assert!(
            base_ranks.iter().any(|r| *r > 0),
            "the base model already said it: {base_ranks:?}"
        );
    }

    /// The frozen linear's forward and its input's gradient are candle's matmul's.
    #[test]
    fn frozen_linear_matches_matmul_and_its_gradient() {
        let device = Device::Cpu;
        let w = Tensor::randn(0f32, 1.0, (6, 5), &device).unwrap();
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 3, 5), &device).unwrap()).unwrap();
        let frozen = Frozen::new(&w).unwrap();
        let ours = x.as_tensor().frozen(&frozen).unwrap();
        let theirs = x
            .as_tensor()
            .linear(&w.t().unwrap().contiguous().unwrap())
            .unwrap();
        let diff = |a: &Tensor, b: &Tensor| -> f32 {
            (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar()
                .unwrap()
        };
        assert!(diff(&ours, &theirs) < 1e-5);
        let grad = |y: &Tensor| {
            let loss = y.sqr().unwrap().sum_all().unwrap();
            loss.backward().unwrap().get(x.as_tensor()).unwrap().clone()
        };
        let (g1, g2) = (grad(&ours), grad(&theirs));
        assert!(diff(&g1, &g2) < 1e-4);
        assert!(g1.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap() > 0.1);
    }

    #[test]
    fn parameters_and_datasets_are_checked() {
        let params =
            TrainParams::from_json(&json!({"num_train_epochs": 2, "learning_rate": 0.0002, "lora_r": 16}))
                .unwrap();
        assert_eq!(
            (params.epochs, params.rank, params.learning_rate),
            (2, 16, 0.0002)
        );
        for bad in [
            json!({"lora_r": 0}),
            json!({"learning_rate": 1.5}),
            json!({"epochs": 100}),
            json!({"dropout": 0.1}),
            json!([1]),
        ] {
            assert!(
                matches!(TrainParams::from_json(&bad), Err(TrainError::Param { .. })),
                "{bad}"
            );
        }
        let (_dir, path) = tiny();
        let served = LocalModel::load(&path).unwrap();
        let line = |text: &str| {
            examples_from_jsonl(&served, text.as_bytes(), 128)
                .unwrap_err()
                .to_string()
        };
        assert!(line("{\"messages\": []}").contains("line 1"));
        assert!(line("\n{not json").contains("line 2: not JSON"));
        assert!(
            line(r#"{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}"#)
                .contains("assistant")
        );
        let long = json!({"messages": [{"role": "user", "content": "x".repeat(200)}, {"role": "assistant", "content": "y"}]});
        assert!(line(&long.to_string()).contains("max_seq_len is 128"));
        assert!(line("\n\n").contains("no examples"));
        let examples = examples_from_jsonl(&served, dataset(2).as_bytes(), 128).unwrap();
        let answer = served
            .decode(&examples[0].tokens[examples[0].prompt_len..])
            .unwrap();
        assert_eq!(answer, "the teal");
        assert!(
            served
                .decode(&examples[0].tokens[..examples[0].prompt_len])
                .unwrap()
                .ends_with("assistant\n")
        );
    }
}
