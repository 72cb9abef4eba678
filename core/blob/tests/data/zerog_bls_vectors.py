"""Writes zerog_bls.json: 0G DA's BN254 signatures computed with py_ecc (an independent
implementation: PyPI py-ecc 8.0.0, in nodes/cli/tests/sdk's venv), for
core/blob/tests/zerog.rs. Hash-to-G1 is 0G's try-and-increment (0G-DA-WIRE.md §2.3):
x = digest mod p, y = (x^3 + 3)^((p + 1) / 4), x += 1 until y^2 = x^3 + 3.

usage: nodes/cli/tests/sdk/.venv/bin/python core/blob/tests/data/zerog_bls_vectors.py > core/blob/tests/data/zerog_bls.json
"""

import hashlib
import json

from eth_hash.auto import keccak
from py_ecc.bn128 import G1, G2, field_modulus as p, multiply
from py_ecc.fields import bn128_FQ as FQ

def hash_to_g1(digest):
    x = int.from_bytes(digest, "big") % p
    while True:
        y2 = (x * x * x + 3) % p
        y = pow(y2, (p + 1) // 4, p)
        if y * y % p == y2:
            return (x, y)
        x = (x + 1) % p

def word(n):
    return n.to_bytes(32, "big")

vectors = []
for i, sk in enumerate([1, 2, 12345, int.from_bytes(hashlib.sha256(b"zg bls key").digest(), "big") % 21888242871839275222246405745257275088548364400416034343698204186575808495617]):
    root = hashlib.sha256(f"root {i}".encode()).digest()
    commitment = multiply(G1, 1000 + i)
    digest = keccak(root + word(i + 1) + word(i % 2) + word(int(commitment[0])) + word(int(commitment[1])))
    h = hash_to_g1(digest)
    sig = multiply((FQ(h[0]), FQ(h[1])), sk)
    pk1 = multiply(G1, sk)
    pk2 = multiply(G2, sk)
    vectors.append({
        "secret": hex(sk),
        "root": root.hex(), "epoch": i + 1, "quorum_id": i % 2,
        "commitment": [hex(int(commitment[0])), hex(int(commitment[1]))],
        "digest": digest.hex(),
        "h": [hex(h[0]), hex(h[1])],
        "signature": [hex(int(sig[0])), hex(int(sig[1]))],
        "pk_g1": [hex(int(pk1[0])), hex(int(pk1[1]))],
        # G2 as EIP-197 orders it: x = [x.c1, x.c0], y = [y.c1, y.c0].
        "pk_g2": [[hex(int(pk2[0].coeffs[1])), hex(int(pk2[0].coeffs[0]))], [hex(int(pk2[1].coeffs[1])), hex(int(pk2[1].coeffs[0]))]],
    })
print(json.dumps({"source": "py_ecc 8.0.0 bn128; see zerog_bls_vectors.py", "vectors": vectors}, indent=1))
