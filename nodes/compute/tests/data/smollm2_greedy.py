"""Writes smollm2_greedy.json: llama.cpp's greedy answers (token ids) on
SmolLM2-135M-Instruct.Q4_1.gguf, each prompt through the GGUF's chat template.

Run with llama-cpp-python 0.3.16 installed:
    python smollm2_greedy.py PATH/TO/SmolLM2-135M-Instruct.Q4_1.gguf > smollm2_greedy.json
"""
import json
import sys

from llama_cpp import Llama

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "List three primary colors.",
    "Explain what a hash function is in one sentence.",
    "Translate 'good morning' into Spanish.",
    "What is 12 times 12?",
]
TEMPLATE = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n")

llm = Llama(model_path=sys.argv[1], n_ctx=512, n_threads=2, verbose=False)
out = []
for prompt in PROMPTS:
    tokens = llm.tokenize(TEMPLATE.format(prompt).encode(), add_bos=False, special=True)
    llm.reset()
    answer = []
    for token in llm.generate(tokens, top_k=1, temp=0.0, reset=True):
        if token == llm.token_eos() or len(answer) == 32:
            break
        answer.append(token)
    out.append({"prompt": prompt, "tokens": answer,
                "text": llm.detokenize(answer).decode("utf-8", errors="replace")})
json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
print()
