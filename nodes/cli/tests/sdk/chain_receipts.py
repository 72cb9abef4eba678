"""What the SDK scripts share: the gas an account paid, from the chain's own receipts."""


def gas_spent(w3, address, since):
    """Wei `address` paid for gas in the blocks after `since`."""
    spent = 0
    for n in range(since + 1, w3.eth.block_number + 1):
        for tx in w3.eth.get_block(n, full_transactions=True)["transactions"]:
            if tx["from"] == address:
                receipt = w3.eth.get_transaction_receipt(tx["hash"])
                spent += receipt["gasUsed"] * receipt["effectiveGasPrice"]
    return spent
