"""0G's fine-tuning SDK (`zerog_py_sdk.fine_tuning` of PyPI 0g-inference-sdk 0.9.1),
unchanged, against a zg chain's FineTuningServing: the broker finds it by chain id
(31337); a provider stakes its service (a raw transaction, as the SDK has no provider
side) and the owner vouches for its signer through the SDK; the user lists services,
funds a `fine-tuning` sub-account through the SDK's ledger, acknowledges a delivered
model through the SDK, and the provider settles with an EIP-712 signature made here by
eth_account (an implementation independent of zg's): the full fee after the
acknowledgement, 30% of it without one, never twice. The settled key is one zg sealed
to the user (ECIES) for a model zg encrypted: the SDK's own `decrypt_model` opens the
model with the user's key, and another key cannot open the seal. Every balance is
checked to the wei against the chain's receipts. Prints one JSON line for the Rust test.

usage: python fine_tuning_py.py RPC_URL USER_KEY PROVIDER_KEY SIGNER_KEY OWNER_KEY LOCK_SECS
           SEALED_KEY_HEX ENCRYPTED_MODEL DECRYPTED_OUT
"""

import contextlib
import hashlib
import json
import os
import sys
import time

import ecies
from eth_account import Account
from eth_keys import keys
from web3 import Web3
from zerog_py_sdk import create_broker
from zerog_py_sdk.fine_tuning.contract.abi import FINE_TUNING_SERVING_ABI
from zerog_py_sdk.fine_tuning.crypto.encryption import ecies_decrypt

from chain_receipts import expect_error, gas_spent, reverts_with

rpc, user_key, provider_key, signer_key, owner_key, lock_secs, sealed_hex, model_path, out_path = sys.argv[1:10]
lock_secs = int(lock_secs)
OG = 10**18
FINE_TUNING = "0xA51c1fc2f0D1a1b8494Ed1FE312d7C3a78Ed91C0"
w3 = Web3(Web3.HTTPProvider(rpc))
user = Account.from_key(user_key)
provider = Account.from_key(provider_key)
signer = Account.from_key(signer_key)
serving = w3.eth.contract(address=FINE_TUNING, abi=FINE_TUNING_SERVING_ABI)
start_block = w3.eth.block_number
user_wallet = w3.eth.get_balance(user.address)
provider_wallet = w3.eth.get_balance(provider.address)


def provider_sends(fn_name, args, value=0):
    """A provider transaction with the SDK's fixed gas; returns its receipt."""
    tx = {
        "from": provider.address,
        "to": FINE_TUNING,
        "data": serving.encode_abi(fn_name, args=args),
        "value": value,
        "gas": 300_000,
        "gasPrice": w3.eth.gas_price,
        "nonce": w3.eth.get_transaction_count(provider.address),
        "chainId": w3.eth.chain_id,
    }
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(provider.sign_transaction(tx).raw_transaction)
    )
    assert receipt["status"] == 1, (fn_name, receipt)
    return receipt


def verifier_input(task_id, root, secret, fee, nonce):
    """A settlement signed by the TEE signer over 0G's EIP-712 VerifierMessage."""
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "VerifierMessage": [
                {"name": "id", "type": "string"},
                {"name": "encryptedSecret", "type": "bytes"},
                {"name": "modelRootHash", "type": "bytes"},
                {"name": "nonce", "type": "uint256"},
                {"name": "taskFee", "type": "uint256"},
                {"name": "user", "type": "address"},
            ],
        },
        "primaryType": "VerifierMessage",
        "domain": {
            "name": "0G Fine-Tuning Serving",
            "version": "1",
            "chainId": w3.eth.chain_id,
            "verifyingContract": FINE_TUNING,
        },
        "message": {
            "id": task_id,
            "encryptedSecret": secret,
            "modelRootHash": root,
            "nonce": nonce,
            "taskFee": fee,
            "user": user.address,
        },
    }
    signature = Account.sign_typed_data(signer.key, full_message=typed).signature
    return (task_id, secret, root, nonce, bytes(signature), fee, user.address)


quota = (2, 24, 0, 64, "cpu")
service_args = ["http://127.0.0.1:3090", quota, 1_000_000_000, False, ["SmolLM2-135M-Instruct"], signer.address]

# The SDK prints its progress on stdout: keep stdout for the one result line.
with contextlib.redirect_stdout(sys.stderr):
    reverts_with(serving, "InsufficientStake(uint256,uint256)", "addOrUpdateService", service_args, provider.address)
    staked = provider_sends("addOrUpdateService", service_args, value=100 * OG)

    broker = create_broker(user_key, rpc_url=rpc)
    ft = broker.fine_tuning
    # Only services whose signer the owner vouched for are listed by default.
    assert ft.list_service() == [], ft.list_service()
    owner_broker = create_broker(owner_key, rpc_url=rpc)
    owner_broker.fine_tuning.acknowledge_tee_signer_by_owner(provider.address)
    services = ft.list_service()
    assert len(services) == 1, services
    service = services[0]
    assert (service.provider, service.url, service.price_per_token, service.models) == (
        provider.address, "http://127.0.0.1:3090", 1_000_000_000, ["SmolLM2-135M-Instruct"]), service
    assert (service.quota.cpu_count, service.quota.gpu_type, service.tee_signer_address) == (2, "cpu", signer.address)
    assert service.tee_signer_acknowledged is True
    assert ft.get_locked_time() == lock_secs

    expect_error("getAccount", ft.get_account, provider.address)
    broker.ledger.add_ledger("5")
    broker.ledger.transfer_fund(provider.address, "fine-tuning", 2 * OG)
    account = ft.get_account(provider.address)
    assert (account.balance, account.nonce, account.acknowledged) == (2 * OG, 0, True), account
    detail = broker.ledger.get_ledger_with_detail()
    assert [p[0] for p in detail.fine_tuning_providers] == [provider.address], detail
    ledger = broker.ledger.get_ledger()
    assert (ledger.balance, ledger.total_balance) == (3 * OG, 5 * OG), ledger

    # Task 1: delivered, acknowledged through the SDK, settled in full with the key.
    root1 = bytes([0x11] * 32)
    provider_sends("addDeliverable", [user.address, "task-1", root1])
    reverts_with(serving, "PreviousDeliverableNotAcknowledged(string)", "addDeliverable", [user.address, "task-2", root1], provider.address)
    ft.acknowledge_deliverable(provider.address, "task-1")
    assert ft.acknowledge_deliverable(provider.address, "task-1") == {"status": "already_acknowledged"}
    sealed = bytes.fromhex(sealed_hex)
    fee1 = 1_250_000_000_000_000_001
    settle1 = provider_sends("settleFees", [verifier_input("task-1", root1, sealed, fee1, 1)])
    deliverable = ft._contract.get_deliverable(provider.address, "task-1")
    assert (deliverable.acknowledged, deliverable.settled, deliverable.encrypted_secret) == (True, True, sealed)
    reverts_with(serving, "DeliverableAlreadySettled(string)", "settleFees", [verifier_input("task-1", root1, sealed, fee1, 2)], provider.address)
    # The SDK opens the model with the key the settlement handed over; nobody else can.
    ft.decrypt_model(provider.address, "task-1", model_path, out_path)
    with open(out_path, "rb") as f:
        model_sha256 = hashlib.sha256(f.read()).hexdigest()
    try:
        ecies_decrypt(provider_key, sealed)
        other_user_refused = False
    except Exception:
        other_user_refused = True
    # And the other way: a key eciespy sealed to the user, for zg to open.
    user_public = keys.PrivateKey(bytes.fromhex(user_key[2:])).public_key.to_bytes()
    probe = os.urandom(32)
    py_sealed = ecies.encrypt(b"\x04" + user_public, probe)

    # Task 2: never acknowledged; the key may not be handed over, 30% is paid.
    root2 = bytes([0x22] * 32)
    provider_sends("addDeliverable", [user.address, "task-2", root2])
    fee2 = 500_000_000_000_000_003
    reverts_with(serving, "SecretShouldBeEmpty()", "settleFees", [verifier_input("task-2", root2, sealed, fee2, 2)], provider.address)
    settle2 = provider_sends("settleFees", [verifier_input("task-2", root2, b"", fee2, 2)])
    penalty = fee2 * 30 // 100
    expect_error("acknowledgeDeliverable", ft.acknowledge_deliverable, provider.address, "task-2")
    reverts_with(serving, "CannotAcknowledgeSettledDeliverable(string)", "acknowledgeDeliverable", [provider.address, "task-2"], user.address)

    account = ft.get_account(provider.address)
    assert (account.balance, account.nonce) == (2 * OG - fee1 - penalty, 2), account
    assert [d.id for d in account.deliverables] == ["task-1", "task-2"], account
    ledger = broker.ledger.get_ledger()
    assert (ledger.balance, ledger.total_balance) == (3 * OG, 5 * OG - fee1 - penalty), ledger

    # What is left comes back after the lock.
    broker.ledger.retrieve_fund("fine-tuning")
    assert ft.get_account(provider.address).pending_refund == 2 * OG - fee1 - penalty
    time.sleep(lock_secs + 1.5)
    broker.ledger.retrieve_fund("fine-tuning")
    ledger = broker.ledger.get_ledger()
    assert (ledger.balance, ledger.total_balance) == (5 * OG - fee1 - penalty,) * 2, ledger

user_gas = gas_spent(w3, user.address, start_block)
provider_gas = gas_spent(w3, provider.address, start_block)
assert user_wallet - w3.eth.get_balance(user.address) == user_gas + 5 * OG
assert w3.eth.get_balance(provider.address) - provider_wallet == fee1 + penalty - 100 * OG - provider_gas
print(json.dumps({
    "provider": provider.address,
    "user": user.address,
    "paid": str(fee1 + penalty),
    "model_sha256": model_sha256,
    "other_user_refused": other_user_refused,
    "py_sealed": py_sealed.hex(),
    "py_probe": probe.hex(),
    "settle_gas": [settle1["gasUsed"], settle2["gasUsed"]],
    "stake_gas": staked["gasUsed"],
}))
