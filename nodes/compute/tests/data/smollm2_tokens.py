"""Writes smollm2_tokens.json: llama.cpp's token ids for SmolLM2-135M-Instruct.Q4_1.gguf.

Run with llama-cpp-python 0.3.16 installed:
    python smollm2_tokens.py PATH/TO/SmolLM2-135M-Instruct.Q4_1.gguf > smollm2_tokens.json
"""
import json
import sys

from llama_cpp import Llama

TEXTS = [
    "Hello, world!",
    "What is the capital of France?",
    "The year 2026 has 365 days; π ≈ 3.14159.",
    "naïve café, 日本語のテキスト, and an emoji 🚀🔥",
    "  leading and trailing spaces  ",
    "tabs\tand\nnew\n\nlines\r\n",
    "def f(x):\n    return x ** 2  # squares\n",
    "I'm sure they'll've done it, won't they? 'Quoted' \"double\"",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "https://example.com/path?query=1&x=y#frag 0x1234abcd",
    "UPPER lower MiXeD 12345678901234567890",
    "",
]

llm = Llama(model_path=sys.argv[1], vocab_only=True, verbose=False)
out = []
for text in TEXTS:
    tokens = llm.tokenize(text.encode(), add_bos=False, special=True)
    decoded = llm.detokenize(tokens, special=False).decode("utf-8", errors="replace")
    out.append({"text": text, "tokens": tokens, "decoded": decoded})
json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
print()
