"""Commit to a blob and verify its proof through zg's C ABI, with ctypes only.

Usage: python3 kzg_ctypes.py path/to/libzg.so
"""
import ctypes
import sys

ZG_OK = 0
BYTES_PER_BLOB = 131072

lib = ctypes.CDLL(sys.argv[1] if len(sys.argv) > 1 else "libzg.so")
u8p = ctypes.POINTER(ctypes.c_uint8)
lib.zg_kzg_ctx_new.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
lib.zg_kzg_ctx_free.argtypes = [ctypes.c_void_p]
lib.zg_kzg_blob_to_commitment.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p]
lib.zg_kzg_compute_blob_proof.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]
lib.zg_kzg_verify_blob_proof.argtypes = [
    ctypes.POINTER(ctypes.c_bool), ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p,
]
lib.zg_last_error_message.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
lib.zg_last_error_message.restype = ctypes.c_size_t
for f in ("zg_kzg_ctx_new", "zg_kzg_blob_to_commitment", "zg_kzg_compute_blob_proof", "zg_kzg_verify_blob_proof"):
    getattr(lib, f).restype = ctypes.c_uint32


def check(code):
    if code != ZG_OK:
        buf = ctypes.create_string_buffer(256)
        lib.zg_last_error_message(buf, len(buf))
        raise RuntimeError(f"zg error {code}: {buf.value.decode()}")


ctx = ctypes.c_void_p()
check(lib.zg_kzg_ctx_new(ctypes.byref(ctx)))
# Field element i holds i in its last two bytes (the top byte stays zero).
blob = bytearray(BYTES_PER_BLOB)
for i in range(4096):
    blob[i * 32 + 30] = i >> 8
    blob[i * 32 + 31] = i & 0xFF
blob = bytes(blob)
commitment = ctypes.create_string_buffer(48)
proof = ctypes.create_string_buffer(48)
check(lib.zg_kzg_blob_to_commitment(commitment, blob, len(blob), ctx))
check(lib.zg_kzg_compute_blob_proof(proof, blob, len(blob), commitment.raw, ctx))
ok = ctypes.c_bool(False)
check(lib.zg_kzg_verify_blob_proof(ctypes.byref(ok), blob, len(blob), commitment.raw, proof.raw, ctx))
print("commitment", commitment.raw.hex())
print("verified", ok.value)
# Bad input comes back as an error code with a message, never a crash.
code = lib.zg_kzg_blob_to_commitment(commitment, blob[:-1], len(blob) - 1, ctx)
buf = ctypes.create_string_buffer(256)
lib.zg_last_error_message(buf, len(buf))
print("short blob ->", code, buf.value.decode())
lib.zg_kzg_ctx_free(ctx)
