"""JAX on CPU (PyPI's jax/jaxlib, XLA-compiled) as the LoRA engine's peer in `report`.

The same training step as zg's `lora` module, written the way a JAX user writes it: the
GGUF's weights dequantized to f32 by PyPI's `gguf` and frozen (gradients are taken for
the adapters only, so XLA never computes the weights' own), llama's forward (RMSNorm,
interleaved RoPE as GGUF's q/k rows expect, grouped-query attention, SwiGLU, the tied
output), rank-r adapters on every layer's q and v (B zero at the start), the loss on the
answer tokens only (hidden states gathered at those positions before the output
projection, as zg does), and optax's AdamW; the step is `jax.jit`-compiled once per
batch shape.

Started as `python lora_jax_worker.py MODEL.gguf RANK ALPHA LR`; says `ready`, then
for each line `loss BATCH` answers `ok LOSS` (the base model's answer loss, no step),
and for each line `step BATCH` runs one AdamW step and answers `ok LOSS`. A BATCH is
`;`-separated examples, each `PROMPT_LEN|T1,T2,…`.
"""
import sys

import gguf
import jax
import jax.numpy as jnp
import numpy as np
import optax

path, rank, alpha, lr = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
reader = gguf.GGUFReader(path)
meta = {k: v.parts[v.data[0]][0] for k, v in reader.fields.items() if k.startswith("llama.")}
hidden = int(meta["llama.embedding_length"])
heads = int(meta["llama.attention.head_count"])
kv_heads = int(meta["llama.attention.head_count_kv"])
n_layers = int(meta["llama.block_count"])
eps = float(meta["llama.attention.layer_norm_rms_epsilon"])
theta = float(meta.get("llama.rope.freq_base", 10000.0))
head_dim = hidden // heads
weights = {t.name: jnp.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=jnp.float32)
           for t in reader.tensors}
embed = weights["token_embd.weight"]
output = weights.get("output.weight", embed)
layers = [{name: weights[f"blk.{l}.{name}.weight"] for name in
           ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")}
          for l in range(n_layers)]
norm = weights["output_norm.weight"]
scale = alpha / rank


def rms(x, w):
    return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, positions):
    # Interleaved pairs (2i, 2i+1), as GGUF permutes llama's q and k rows for.
    inv = 1.0 / theta ** (jnp.arange(0, head_dim, 2, dtype=jnp.float32) / head_dim)
    angles = positions[:, None] * inv[None, :]
    cos, sin = jnp.cos(angles)[None, :, None, :], jnp.sin(angles)[None, :, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return jnp.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], axis=-1).reshape(x.shape)


def forward_hidden(lora, tokens, valid):
    batch, seq = tokens.shape
    positions = jnp.arange(seq, dtype=jnp.float32)
    causal = jnp.tril(jnp.ones((seq, seq), dtype=bool))
    mask = causal[None, None, :, :] & valid[:, None, None, :]
    x = embed[tokens]
    for layer, (qa, qb, va, vb) in zip(layers, lora):
        h = rms(x, layer["attn_norm"])
        q = h @ layer["attn_q"].T + scale * (h @ qa) @ qb
        k = h @ layer["attn_k"].T
        v = h @ layer["attn_v"].T + scale * (h @ va) @ vb
        q = rope(q.reshape(batch, seq, heads, head_dim), positions)
        k = rope(k.reshape(batch, seq, kv_heads, head_dim), positions)
        v = v.reshape(batch, seq, kv_heads, head_dim)
        k = jnp.repeat(k, heads // kv_heads, axis=2)
        v = jnp.repeat(v, heads // kv_heads, axis=2)
        scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(head_dim)
        scores = jnp.where(mask, scores, -1e30)
        attn = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, axis=-1), v).reshape(batch, seq, hidden)
        x = x + attn @ layer["attn_output"].T
        h = rms(x, layer["ffn_norm"])
        x = x + (jax.nn.silu(h @ layer["ffn_gate"].T) * (h @ layer["ffn_up"].T)) @ layer["ffn_down"].T
    return rms(x, norm)


def loss_fn(lora, tokens, valid, rows, cols, targets):
    # Logits only where an answer token is predicted.
    picked = forward_hidden(lora, tokens, valid)[rows, cols]
    logp = jax.nn.log_softmax(picked @ output.T, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, targets[:, None], axis=-1))


def new_lora():
    key = jax.random.PRNGKey(42)
    out = []
    for layer in layers:
        key, k1, k2 = jax.random.split(key, 3)
        q_out, v_out = layer["attn_q"].shape[0], layer["attn_v"].shape[0]
        bound = 1.0 / np.sqrt(hidden)
        out.append((jax.random.uniform(k1, (hidden, rank), minval=-bound, maxval=bound), jnp.zeros((rank, q_out)),
                    jax.random.uniform(k2, (hidden, rank), minval=-bound, maxval=bound), jnp.zeros((rank, v_out))))
    return out


optimizer = optax.adamw(lr, weight_decay=0.0)
lora = new_lora()
opt_state = optimizer.init(lora)


@jax.jit
def step(lora, opt_state, tokens, valid, rows, cols, targets):
    loss, grads = jax.value_and_grad(loss_fn)(lora, tokens, valid, rows, cols, targets)
    updates, opt_state = optimizer.update(grads, opt_state, lora)
    return optax.apply_updates(lora, updates), opt_state, loss


base_loss = jax.jit(loss_fn)


def parse(batch):
    examples = []
    for item in batch.split(";"):
        prompt, _, tokens = item.partition("|")
        examples.append((int(prompt), [int(t) for t in tokens.split(",")]))
    seq = max(len(t) for _, t in examples)
    tokens = np.zeros((len(examples), seq), dtype=np.int32)
    valid = np.zeros((len(examples), seq), dtype=bool)
    rows, cols, targets = [], [], []
    for b, (prompt, toks) in enumerate(examples):
        tokens[b, :len(toks)] = toks
        valid[b, :len(toks)] = True
        for i in range(max(prompt, 1), len(toks)):
            rows.append(b)
            cols.append(i - 1)
            targets.append(toks[i])
    return (jnp.asarray(tokens), jnp.asarray(valid), jnp.asarray(rows, dtype=jnp.int32),
            jnp.asarray(cols, dtype=jnp.int32), jnp.asarray(targets, dtype=jnp.int32))


print("ready", flush=True)
for line in sys.stdin:
    verb, _, rest = line.strip().partition(" ")
    args = parse(rest)
    if verb == "loss":
        value = base_loss(new_lora(), *args)
    else:
        lora, opt_state, value = step(lora, opt_state, *args)
    print(f"ok {float(jax.block_until_ready(value)):.6f}", flush=True)
