"""0G's compute SDK (PyPI 0g-inference-sdk 0.9.1), unchanged, against a zg chain: the
broker finds the contracts by chain id (31337), a provider registers its service, and
a user runs the SDK's ledger and account flow (ledger, services, signer
acknowledgement, transfers, API keys and their revocation, refunds after the lock,
refund to the wallet). Every balance is checked to the wei against the chain's own
receipts. Prints one JSON line with what the Rust test checks further.

usage: python compute_py.py RPC_URL USER_KEY PROVIDER_KEY SIGNER_KEY OWNER_KEY LOCK_SECS
"""

import contextlib
import json
import sys
import time

from eth_account import Account
from web3 import Web3
from zerog_py_sdk import create_broker
from zerog_py_sdk.contracts.abis import SERVING_CONTRACT_ABI

from chain_receipts import expect_error, gas_spent, reverts_with

rpc, user_key, provider_key, signer_key, owner_key, lock_secs = sys.argv[1:7]
lock_secs = int(lock_secs)
OG = 10**18
w3 = Web3(Web3.HTTPProvider(rpc))
user = Account.from_key(user_key)
provider = Account.from_key(provider_key)
signer = Account.from_key(signer_key)
start_block = w3.eth.block_number
wallet_before = w3.eth.get_balance(user.address)


# The SDK prints its progress on stdout: keep stdout for the one result line.
with contextlib.redirect_stdout(sys.stderr):
    # The provider: the SDK's own update_service sends no stake, so a first
    # registration is refused with 0G's error; with the stake it goes through.
    provider_broker = create_broker(provider_key, rpc_url=rpc)
    serving = w3.eth.contract(address=provider_broker.inference.contract.address, abi=SERVING_CONTRACT_ABI)
    params = ("chatbot", "http://127.0.0.1:3080", "SmolLM2-135M-Instruct", "", 1_000_000_000, 2_000_000_000, "{}", signer.address)
    # The SDK sends transactions with a fixed gas and no estimate: a revert shows as a
    # failed receipt, and eth_call of the same call names 0G's error.
    expect_error("addOrUpdateService", provider_broker.inference.update_service, url="http://127.0.0.1:3080")
    reverts_with(serving, "InsufficientStake(uint256,uint256)", "addOrUpdateService", [params], provider.address)
    tx = {
        "from": provider.address,
        "to": serving.address,
        "data": serving.encode_abi("addOrUpdateService", args=[params]),
        "value": 100 * OG,
        "gas": 300_000,
        "gasPrice": w3.eth.gas_price,
        "nonce": w3.eth.get_transaction_count(provider.address),
        "chainId": w3.eth.chain_id,
    }
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(provider.sign_transaction(tx).raw_transaction)
    )
    assert receipt["status"] == 1, receipt
    # The SDK's own update keeps the stake and changes the price.
    provider_broker.inference.update_service(input_price=1_500_000_000)

    broker = create_broker(user_key, rpc_url=rpc)
    assert broker.inference.contract.address == "0x0165878A594ca255338adfa4d48449f69242Eb8F"
    expect_error("LedgerNotExists", broker.ledger.get_ledger)
    broker.ledger.add_ledger("5")
    ledger = broker.ledger.get_ledger()
    assert (ledger.balance, ledger.total_balance) == (5 * OG, 5 * OG), ledger
    broker.ledger.deposit_fund("1")

    services = broker.inference.list_service()
    mine = [s for s in services if s.provider.lower() == provider.address.lower()]
    assert len(mine) == 1, services
    service = mine[0]
    assert (service.url, service.model, service.input_price, service.output_price) == (
        "http://127.0.0.1:3080", "SmolLM2-135M-Instruct", 1_500_000_000, 2_000_000_000), service
    assert broker.inference.get_service(provider.address).tee_signer_address == signer.address
    status = broker.inference.check_provider_signer_status(provider.address)
    assert status["is_acknowledged"] is False, status

    # Checking the signer opened the sub-account with the SDK's minimum transfer (1 0G).
    broker.inference.acknowledge_provider_signer(provider.address)
    assert broker.inference.acknowledged(provider.address)
    broker.ledger.transfer_fund(provider.address, "inference", 2 * OG)
    account = broker.inference.get_account(provider.address)
    assert account.balance == 3 * OG, account
    detail = broker.ledger.get_ledger_with_detail()
    assert detail.inference_providers == [(provider.address, account.balance, 0)], detail
    expect_error("transferFund", broker.ledger.transfer_fund, provider.address, "no-such-service", 1)
    ledger_contract = broker.ledger.contract
    reverts_with(ledger_contract, "InvalidServiceType(string)", "transferFund", [provider.address, "no-such-service", 1], user.address)
    reverts_with(ledger_contract, "InsufficientBalance(address)", "transferFund", [provider.address, "inference", 100 * OG], user.address)

    # The owner (dev account 0) vouches for the provider's signer.
    owner_broker = create_broker(owner_key, rpc_url=rpc)
    owner_broker.inference.acknowledge_provider_tee_signer(provider.address)
    assert broker.inference.check_provider_signer_status(provider.address)["is_acknowledged"] is True

    # API keys: one made now, one revoked, then every key of this generation.
    key3 = broker.inference.create_api_key(provider.address, token_id=3)
    broker.inference.revoke_api_key(provider.address, 3)
    assert broker.inference.get_account(provider.address).revoked_bitmap == 1 << 3
    broker.inference.revoke_all_tokens(provider.address)
    account = broker.inference.get_account(provider.address)
    assert (account.generation, account.revoked_bitmap) == (1, 0), account
    key_after = broker.inference.create_api_key(provider.address, token_id=4)

    # Refunds: locked, then paid to the main account, then to the wallet.
    assert broker.inference.lock_time() == lock_secs
    held = account.balance
    broker.ledger.retrieve_fund("inference")
    account = broker.inference.get_account(provider.address)
    assert (account.pending_refund, len(account.refunds)) == (held, 1), account
    ledger = broker.ledger.get_ledger()
    assert (ledger.balance, ledger.total_balance) == (6 * OG - held, 6 * OG), ledger
    time.sleep(lock_secs + 1.5)
    broker.ledger.retrieve_fund("inference")
    ledger = broker.ledger.get_ledger()
    assert (ledger.balance, ledger.total_balance) == (6 * OG, 6 * OG), ledger
    broker.ledger.refund("6")
    broker.ledger.delete_ledger()
    expect_error("LedgerNotExists", broker.ledger.get_ledger)

wallet_after = w3.eth.get_balance(user.address)
gas = gas_spent(w3, user.address, start_block)
assert wallet_before - wallet_after == gas, (wallet_before, wallet_after, gas)
print(json.dumps({
    "provider": provider.address,
    "user": user.address,
    "gas": gas,
    "key3": key3.raw_token,
    "key_after": key_after.raw_token,
    "generation": account.generation,
}))
