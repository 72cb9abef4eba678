"""What the SDK scripts share: the gas an account paid, from the chain's own receipts,
and calls that must fail."""

from web3 import Web3

from zerog_py_sdk.exceptions import ContractError


def gas_spent(w3, address, since):
    """Wei `address` paid for gas in the blocks after `since`."""
    spent = 0
    for n in range(since + 1, w3.eth.block_number + 1):
        for tx in w3.eth.get_block(n, full_transactions=True)["transactions"]:
            if tx["from"] == address:
                receipt = w3.eth.get_transaction_receipt(tx["hash"])
                spent += receipt["gasUsed"] * receipt["effectiveGasPrice"]
    return spent


def value_sent(w3, address, since):
    """Wei `address` sent as transaction value in the blocks after `since`."""
    sent = 0
    for n in range(since + 1, w3.eth.block_number + 1):
        for tx in w3.eth.get_block(n, full_transactions=True)["transactions"]:
            if tx["from"] == address:
                sent += tx["value"]
    return sent


def expect_error(name, fn, *args, **kwargs):
    """The SDK call fails and says `name` (a view's custom error, decoded by the SDK,
    or a reverted transaction's operation)."""
    try:
        fn(*args, **kwargs)
    except (ContractError, ValueError) as e:
        assert name in str(e), f"expected {name}, got {e!r}"
        return str(e)
    raise AssertionError(f"expected {name}")


def reverts_with(contract, signature, fn_name, args, sender, value=0):
    """`eth_call` of the transaction the SDK sent reverts with the custom error `signature`."""
    selector = Web3.keccak(text=signature)[:4].hex()
    call = {"from": sender, "to": contract.address, "value": value, "data": contract.encode_abi(fn_name, args=args)}
    try:
        contract.w3.eth.call(call)
    except Exception as e:
        data = getattr(e, "data", None) or (e.args[1] if len(e.args) > 1 else "")
        assert selector in str(data), f"expected {signature}, got {e!r}"
        return
    raise AssertionError(f"expected {signature}")
