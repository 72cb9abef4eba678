#!/usr/bin/env python3
"""Converts the official KZG test vectors (ethereum/consensus-specs, as shipped
in c-kzg-4844's tests/ folder) into the compact form the tests read:

  cases.json   every case: function, name, input, output; long hex strings
               replaced by {"ref": [offset, length]} into strings.bin
  strings.bin  each distinct long byte string once

Usage: python3 convert.py PATH/TO/kzg-vectors   (needs PyYAML)
"""
import hashlib, json, os, sys
import yaml

src = sys.argv[1]
blob = bytearray()
seen = {}

def pack(v):
    if isinstance(v, str) and v.startswith("0x") and len(v) > 200:
        raw = bytes.fromhex(v[2:])
        key = hashlib.sha256(raw).digest()
        if key not in seen:
            seen[key] = [len(blob), len(raw)]
            blob.extend(raw)
        return {"ref": seen[key]}
    if isinstance(v, list):
        return [pack(x) for x in v]
    if isinstance(v, dict):
        return {k: pack(x) for k, x in v.items()}
    return v

cases = []
for function in sorted(os.listdir(src)):
    d = os.path.join(src, function, "kzg-mainnet")
    if not os.path.isdir(d):
        continue
    for case in sorted(os.listdir(d)):
        with open(os.path.join(d, case, "data.yaml")) as f:
            data = yaml.safe_load(f)
        cases.append({"function": function, "case": case, "input": pack(data["input"]), "output": pack(data["output"])})

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "cases.json"), "w") as f:
    json.dump(cases, f, separators=(",", ":"))
with open(os.path.join(here, "strings.bin"), "wb") as f:
    f.write(blob)
print(f"{len(cases)} cases, {len(blob)} bytes of strings")
