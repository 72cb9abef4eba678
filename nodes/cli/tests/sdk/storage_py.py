"""0G's Python SDK (PyPI 0g-storage-sdk 0.4.0), unchanged, against zg's storage nodes:
it finds the Flow from zgs_getStatus, pays and submits each file (a legacy transaction
with a gas estimate), uploads its segments, waits for finality and downloads it back.
Prints one JSON line with each file's root; any mismatch exits non-zero.

usage: python storage_py.py RPC_URL PRIVATE_KEY NODE_URL[,NODE_URL...] SIZE[,SIZE...] SEED
"""

import contextlib
import io
import json
import os
import sys
import tempfile

from contracts.flow import FlowContract
from core.downloader import Downloader
from core.file import ZgFile
from core.storage_node import StorageNode
from core.uploader import Uploader
from eth_account import Account
from web3 import Web3

rpc, key, urls, sizes, seed = sys.argv[1:6]
nodes = [StorageNode(u) for u in urls.split(",")]
status = nodes[0].get_status()
flow = FlowContract(Web3(Web3.HTTPProvider(rpc)), status["networkIdentity"]["flowAddress"])
uploader = Uploader(nodes, rpc, flow)
downloader = Downloader(nodes)
account = Account.from_key(key)

files = []
for i, size in enumerate(int(s) for s in sizes.split(",")):
    data = bytes(((j * 7 + i * 13 + (j >> 9) + int(seed) * 101) & 0xFF) for j in range(size))
    # The SDK prints its progress on stdout: keep stdout for the one result line.
    with contextlib.redirect_stdout(sys.stderr):
        result, err = uploader.upload_file(
            ZgFile.from_bytes(data), {"account": account, "finalityRequired": True}
        )
        assert err is None, f"upload of {size} bytes: {err}"
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "file")
            err = downloader.download(result["rootHash"], out, False)
            assert err is None, f"download of {size} bytes: {err}"
            with open(out, "rb") as f:
                got = f.read()
    assert got == data, f"the {size}-byte file comes back byte-exact ({len(got)} bytes back)"
    files.append({"size": size, "root": result["rootHash"]})
print(json.dumps({"files": files}))
