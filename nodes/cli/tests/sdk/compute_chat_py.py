"""0G's compute SDK (PyPI 0g-inference-sdk 0.9.1) and the `openai` client, unchanged,
against the compute provider `zg devnet` runs: the user opens a ledger, finds the
provider, acknowledges its signer and funds it through the SDK, asks the model three
times (the SDK's own headers with `requests`, then `openai` with an `app-sk-` key made
by the SDK, whole and streamed), checks each answer's usage with `process_response`,
waits for the provider to settle, and checks to the wei that the sub-account's debit
and the provider's gain (net of its gas) both equal the fees of the usages it was told.
Prints one JSON line.

usage: python compute_chat_py.py RPC_URL USER_KEY PROVIDER_ADDRESS
"""

import contextlib
import json
import sys
import time

import requests
from eth_account import Account
from openai import OpenAI
from web3 import Web3
from zerog_py_sdk import create_broker

from chain_receipts import gas_spent

rpc, user_key, provider = sys.argv[1:4]
OG = 10**18
w3 = Web3(Web3.HTTPProvider(rpc))
provider = Web3.to_checksum_address(provider)
user = Account.from_key(user_key)
QUESTION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
]


# The SDK prints its progress on stdout: keep stdout for the one result line.
with contextlib.redirect_stdout(sys.stderr):
    broker = create_broker(user_key, rpc_url=rpc)
    broker.ledger.add_ledger("10")
    mine = [s for s in broker.inference.list_service() if s.provider == provider]
    assert len(mine) == 1, mine
    service = mine[0]
    assert broker.inference.check_provider_signer_status(provider)["is_acknowledged"] is True
    broker.inference.acknowledge_provider_signer(provider)
    assert broker.inference.acknowledged(provider)
    broker.ledger.transfer_fund(provider, "inference", 2 * OG)
    meta = broker.inference.get_service_metadata(provider)
    assert meta == {"endpoint": service.url + "/v1/proxy", "model": service.model}, meta
    headers = broker.inference.get_request_headers(provider)
    api_key = broker.inference.create_api_key(provider, token_id=1).raw_token

    # From here on nothing moves money but the answers and their settlement.
    since = w3.eth.block_number
    sub_before = broker.inference.get_account(provider).balance
    provider_before = w3.eth.get_balance(provider)

    # 1. The SDK's session headers on a plain HTTP request, as 0G's README shows.
    answer = requests.post(
        meta["endpoint"] + "/chat/completions",
        headers={**headers, "Content-Type": "application/json"},
        json={"model": meta["model"], "messages": QUESTION, "max_tokens": 24, "temperature": 0},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    sdk_text = body["choices"][0]["message"]["content"]
    assert broker.inference.process_response(provider, json.dumps(body["usage"]), body["id"]) is True
    usages = [body["usage"]]

    # 2. openai, whole.
    client = OpenAI(base_url=meta["endpoint"], api_key=api_key)
    whole = client.chat.completions.create(model=meta["model"], messages=QUESTION, max_tokens=24, temperature=0)
    whole_text = whole.choices[0].message.content
    assert whole.usage.prompt_tokens == body["usage"]["prompt_tokens"], whole.usage
    usages.append({"prompt_tokens": whole.usage.prompt_tokens, "completion_tokens": whole.usage.completion_tokens})

    # 3. openai, streamed, with the usage chunk.
    parts, usage, chunks = [], None, 0
    for chunk in client.chat.completions.create(
        model=meta["model"], messages=QUESTION, max_tokens=24, temperature=0,
        stream=True, stream_options={"include_usage": True},
    ):
        chunks += 1
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
        if chunk.usage:
            usage = {"prompt_tokens": chunk.usage.prompt_tokens, "completion_tokens": chunk.usage.completion_tokens}
    assert usage is not None, "no usage chunk"
    assert broker.inference.process_response(provider, json.dumps(usage)) is True
    usages.append(usage)
    streamed_text = "".join(parts)

    fees = sum(u["prompt_tokens"] * service.input_price + u["completion_tokens"] * service.output_price for u in usages)
    # The provider settles every second or so, perhaps in more than one round: wait
    # until the debit reaches the fees (or a minute passes and the test shows the gap).
    deadline = time.time() + 60
    while broker.inference.get_account(provider).balance != sub_before - fees and time.time() < deadline:
        time.sleep(0.5)
    sub_after = broker.inference.get_account(provider).balance
    provider_gain = w3.eth.get_balance(provider) - provider_before + gas_spent(w3, provider, since)

print(json.dumps({
    "texts": [sdk_text, whole_text, streamed_text],
    "usages": usages,
    "chunks": chunks,
    "fees": fees,
    "sub_debit": sub_before - sub_after,
    "provider_gain": provider_gain,
}))
