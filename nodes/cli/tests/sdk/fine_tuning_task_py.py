"""A fine-tuning task from start to end with 0G's fine-tuning SDK (`zerog_py_sdk.fine_tuning`
of PyPI 0g-inference-sdk 0.9.1), unchanged, against `zg devnet`'s own provider: the
user finds the service, acknowledges its signer (which opens the sub-account), funds it
through the ledger, reads the provider's model, creates a task on a dataset already in
zg-storage, follows it to delivery, downloads the sealed model from the provider and
acknowledges it (`acknowledge_model`), and once the provider has settled opens it with
`decrypt_model`. A second user never acknowledges: the provider settles only the
penalty share, and the SDK cannot open that model. A task naming a root no storage node
holds fails before training, nothing billed. Every balance is checked to the wei.
Prints one JSON line for the Rust test.

usage: python fine_tuning_task_py.py RPC_URL PROVIDER USER_KEY USER2_KEY DATASET_ROOT
           PARAMS SMALL_PARAMS MISSING_ROOT OUT_DIR
"""

import contextlib
import json
import os
import sys
import time

from web3 import Web3
from zerog_py_sdk import create_broker
from zerog_py_sdk.fine_tuning.crypto.encryption import ecies_decrypt

from chain_receipts import expect_error, gas_spent, value_sent

rpc, provider, user_key, user2_key, dataset_root, params, small_params, missing_root, out_dir = sys.argv[1:10]
OG = 10**18
w3 = Web3(Web3.HTTPProvider(rpc))
provider = Web3.to_checksum_address(provider)
start_block = w3.eth.block_number
provider_wallet = w3.eth.get_balance(provider)


def wait_for(ft, task_id, progress, limit=900):
    """Polls the provider until the task reaches `progress`; fails on Failed."""
    started = time.time()
    while True:
        task = ft.get_task(provider, task_id)
        if task.progress == progress:
            return task
        assert task.progress not in ("Failed", "Cancelled") or progress in ("Failed", "Cancelled"), (
            task, ft.get_log(provider, task_id))
        assert time.time() - started < limit, (task, ft.get_log(provider, task_id))
        time.sleep(0.5)


def open_account(key, amount):
    broker = create_broker(key, rpc_url=rpc)
    ft = broker.fine_tuning
    broker.ledger.add_ledger("3")
    # The SDK opens the sub-account (transfer of 0), reads the quote, acknowledges.
    ft.acknowledge_provider_signer(provider)
    broker.ledger.transfer_fund(provider, "fine-tuning", amount)
    return broker, ft


with contextlib.redirect_stdout(sys.stderr):
    broker, ft = open_account(user_key, OG)
    services = [s for s in ft.list_service() if s.provider == provider]
    assert len(services) == 1, ft.list_service()
    service = services[0]
    models = ft.get_customized_models(provider)
    assert [m.name for m in models] == service.models, (models, service)
    model = ft.get_customized_model(provider, service.models[0])

    task_id = ft.create_task(provider, model.name, dataset_root, params)
    # One task at a time per user: a second is refused while the first is open.
    second = expect_error("createTask", ft.create_task, provider, model.name, dataset_root, params)
    assert "one task at a time" in second, second
    assert ft.get_pending_task_counter(provider) >= 1
    delivered = wait_for(ft, task_id, "Delivered")
    fee = int(delivered.fee)
    log = ft.get_log(provider, task_id)
    assert "checked against its root" in log, log
    deliverable = ft._contract.get_deliverable(provider, task_id)
    assert (deliverable.acknowledged, deliverable.settled) == (False, False), deliverable
    before = ft.get_account(provider)
    assert before.balance == OG, before

    encrypted = os.path.join(out_dir, "model.enc")
    ft.acknowledge_model(provider, task_id, encrypted, download_method="tee")
    finished = wait_for(ft, task_id, "Finished")
    after = ft.get_account(provider)
    assert (after.balance, after.nonce) == (OG - fee, 1), (after, fee)
    deliverable = ft._contract.get_deliverable(provider, task_id)
    assert (deliverable.acknowledged, deliverable.settled) == (True, True), deliverable
    assert deliverable.encrypted_secret, deliverable
    adapter = os.path.join(out_dir, "adapter.safetensors")
    ft.decrypt_model(provider, task_id, encrypted, adapter)
    try:
        ecies_decrypt(user2_key, deliverable.encrypted_secret)
        other_user_refused = False
    except Exception:
        other_user_refused = True
    ledger = broker.ledger.get_ledger()
    assert (ledger.balance, ledger.total_balance) == (2 * OG, 3 * OG - fee), ledger

    # A second user who never acknowledges: only the penalty share is paid, no key.
    broker2, ft2 = open_account(user2_key, OG)
    task2 = ft2.create_task(provider, model.name, dataset_root, small_params)
    wait_for(ft2, task2, "Delivered")
    finished2 = wait_for(ft2, task2, "Finished")
    fee2 = int(finished2.fee)
    penalty = fee2 * 30 // 100
    account2 = ft2.get_account(provider)
    assert (account2.balance, account2.nonce) == (OG - penalty, 1), (account2, fee2)
    deliverable2 = ft2._contract.get_deliverable(provider, task2)
    assert (deliverable2.acknowledged, deliverable2.settled, deliverable2.encrypted_secret) == (False, True, b""), deliverable2
    expect_error("decryptModel", ft2.decrypt_model, provider, task2, encrypted, os.path.join(out_dir, "nothing"))
    log2 = ft2.get_log(provider, task2)
    assert "30% of the fee" in log2, log2

    # A dataset no storage node holds: refused before training, nothing billed.
    task3 = ft2.create_task(provider, model.name, missing_root, small_params)
    failed = wait_for(ft2, task3, "Failed")
    assert int(failed.fee) == 0, failed
    assert "refused before training" in ft2.get_log(provider, task3)
    assert ft2.get_account(provider).balance == OG - penalty

spent = gas_spent(w3, provider, start_block) + value_sent(w3, provider, start_block)
assert w3.eth.get_balance(provider) - provider_wallet == fee + penalty - spent
print(json.dumps({
    "task": task_id,
    "fee": str(fee),
    "fee2": str(fee2),
    "paid": str(fee + penalty),
    "price": str(service.price_per_token),
    "other_user_refused": other_user_refused,
    "log": log,
}))
