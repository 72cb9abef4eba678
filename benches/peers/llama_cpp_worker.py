"""llama.cpp (llama-cpp-python) as the built-in engine's peer in `report`.

Started as `python llama_cpp_worker.py MODEL.gguf THREADS`; says `ready`, then for each
line `prefill T1,T2,…` evaluates those tokens from an empty cache, and for each line
`decode P1,…|C1,…` evaluates the prompt P then the continuation C one token at a time
(teacher-forced, as zg's side does), answering `ok` after each.
"""
import sys

from llama_cpp import Llama

llm = Llama(model_path=sys.argv[1], n_ctx=2048, n_batch=512, n_threads=int(sys.argv[2]),
            logits_all=False, verbose=False)
print("ready", flush=True)
for line in sys.stdin:
    verb, _, rest = line.strip().partition(" ")
    llm.reset()
    if verb == "prefill":
        llm.eval([int(t) for t in rest.split(",")])
    elif verb == "decode":
        prompt, _, continuation = rest.partition("|")
        llm.eval([int(t) for t in prompt.split(",")])
        for token in continuation.split(","):
            llm.eval([int(token)])
    print("ok", flush=True)
