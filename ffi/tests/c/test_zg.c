/* C tests of zg's ABI: round trips per function group, error paths, and
 * printed results the Rust harness compares with the Rust API's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zg.h"

static int failures = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            char msg[256];                                                   \
            zg_last_error_message(msg, sizeof msg);                          \
            fprintf(stderr, "%s:%d: CHECK(%s) failed (last error: %s)\n",    \
                    __FILE__, __LINE__, #cond, msg);                         \
            failures++;                                                      \
        }                                                                    \
    } while (0)

static void print_hex(const char *label, const uint8_t *b, size_t n) {
    printf("%s ", label);
    for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
    printf("\n");
}

/* A valid blob: field element i holds i * 7 + 1 in its low bytes (top byte zero). */
static void fill_blob(uint8_t *blob) {
    memset(blob, 0, ZG_BYTES_PER_BLOB);
    for (size_t i = 0; i < 4096; i++) {
        uint32_t v = (uint32_t)(i * 7 + 1);
        blob[i * 32 + 28] = (uint8_t)(v >> 24);
        blob[i * 32 + 29] = (uint8_t)(v >> 16);
        blob[i * 32 + 30] = (uint8_t)(v >> 8);
        blob[i * 32 + 31] = (uint8_t)v;
    }
}

static void test_kzg(void) {
    ZgKzgCtx *ctx = NULL;
    CHECK(zg_kzg_ctx_new(&ctx) == ZG_OK && ctx != NULL);
    uint8_t *blob = malloc(ZG_BYTES_PER_BLOB);
    fill_blob(blob);
    uint8_t commitment[48], proof[48], y[32], z[32] = {0};
    z[31] = 5;
    CHECK(zg_kzg_blob_to_commitment(commitment, blob, ZG_BYTES_PER_BLOB, ctx) == ZG_OK);
    print_hex("commitment", commitment, 48);
    CHECK(zg_kzg_compute_blob_proof(proof, blob, ZG_BYTES_PER_BLOB, commitment, ctx) == ZG_OK);
    print_hex("blob_proof", proof, 48);
    bool ok = false;
    CHECK(zg_kzg_verify_blob_proof(&ok, blob, ZG_BYTES_PER_BLOB, commitment, proof, ctx) == ZG_OK && ok);
    CHECK(zg_kzg_verify_blob_proof_batch(&ok, blob, commitment, proof, 1, ctx) == ZG_OK && ok);

    uint8_t zproof[48];
    CHECK(zg_kzg_compute_proof(zproof, y, blob, ZG_BYTES_PER_BLOB, z, ctx) == ZG_OK);
    print_hex("y_at_5", y, 32);
    CHECK(zg_kzg_verify_proof(&ok, commitment, z, y, zproof, ctx) == ZG_OK && ok);
    /* A valid point that is the wrong proof: ok == false, not an error. */
    CHECK(zg_kzg_verify_proof(&ok, commitment, z, y, proof, ctx) == ZG_OK && !ok);

    uint8_t *cells = malloc(ZG_CELLS_PER_EXT_BLOB * ZG_BYTES_PER_CELL);
    uint8_t *proofs = malloc(ZG_CELLS_PER_EXT_BLOB * 48);
    CHECK(zg_kzg_compute_cells_and_proofs(cells, proofs, blob, ZG_BYTES_PER_BLOB, ctx) == ZG_OK);
    CHECK(memcmp(cells, blob, ZG_BYTES_PER_BLOB) == 0); /* the first 64 cells are the blob */
    uint8_t *only_cells = malloc(ZG_CELLS_PER_EXT_BLOB * ZG_BYTES_PER_CELL);
    CHECK(zg_kzg_compute_cells(only_cells, blob, ZG_BYTES_PER_BLOB, ctx) == ZG_OK);
    CHECK(memcmp(cells, only_cells, ZG_CELLS_PER_EXT_BLOB * ZG_BYTES_PER_CELL) == 0);
    print_hex("cell_proof_127", proofs + 127 * 48, 48);

    uint8_t *commitments = malloc(128 * 48);
    uint64_t idx[128];
    for (int i = 0; i < 128; i++) {
        memcpy(commitments + i * 48, commitment, 48);
        idx[i] = (uint64_t)i;
    }
    CHECK(zg_kzg_verify_cell_proof_batch(&ok, commitments, idx, cells, proofs, 128, ctx) == ZG_OK && ok);

    /* Recover from the odd half. */
    uint8_t *half = malloc(64 * ZG_BYTES_PER_CELL);
    uint64_t odd[64];
    for (int i = 0; i < 64; i++) {
        odd[i] = (uint64_t)(2 * i + 1);
        memcpy(half + i * ZG_BYTES_PER_CELL, cells + (2 * i + 1) * ZG_BYTES_PER_CELL, ZG_BYTES_PER_CELL);
    }
    uint8_t *rcells = malloc(ZG_CELLS_PER_EXT_BLOB * ZG_BYTES_PER_CELL);
    uint8_t *rproofs = malloc(ZG_CELLS_PER_EXT_BLOB * 48);
    CHECK(zg_kzg_recover_cells_and_proofs(rcells, rproofs, odd, half, 64, ctx) == ZG_OK);
    CHECK(memcmp(rcells, cells, ZG_CELLS_PER_EXT_BLOB * ZG_BYTES_PER_CELL) == 0);
    CHECK(memcmp(rproofs, proofs, ZG_CELLS_PER_EXT_BLOB * 48) == 0);

    /* Error paths. */
    CHECK(zg_kzg_blob_to_commitment(NULL, blob, ZG_BYTES_PER_BLOB, ctx) == ZG_NULL_PARAMETER);
    CHECK(zg_kzg_blob_to_commitment(commitment, NULL, ZG_BYTES_PER_BLOB, ctx) == ZG_NULL_PARAMETER);
    CHECK(zg_kzg_blob_to_commitment(commitment, blob, ZG_BYTES_PER_BLOB - 1, ctx) == ZG_BAD_ARGS);
    CHECK(zg_kzg_blob_to_commitment(commitment, blob, ZG_BYTES_PER_BLOB, NULL) == ZG_NULL_PARAMETER);
    char msg[128];
    CHECK(zg_last_error_message(msg, sizeof msg) > 0 && strstr(msg, "NULL") != NULL);
    uint8_t bad[48];
    memset(bad, 0xff, sizeof bad); /* not a point */
    CHECK(zg_kzg_verify_proof(&ok, commitment, z, y, bad, ctx) == ZG_INVALID_DATA);
    blob[0] = 0xff; /* a field element >= the modulus */
    CHECK(zg_kzg_blob_to_commitment(commitment, blob, ZG_BYTES_PER_BLOB, ctx) == ZG_INVALID_DATA);
    CHECK(zg_kzg_recover_cells_and_proofs(rcells, rproofs, odd, half, 63, ctx) == ZG_INVALID_DATA);
    CHECK(zg_kzg_recover_cells_and_proofs(rcells, rproofs, odd, half, 129, ctx) == ZG_BAD_ARGS);

    /* The field code alone: extend the blob's evaluations, recover them from the odd half. */
    fill_blob(blob);
    uint8_t *ext = malloc(2 * ZG_BYTES_PER_BLOB);
    uint8_t *rext = malloc(2 * ZG_BYTES_PER_BLOB);
    CHECK(zg_field_extend(ext, blob) == ZG_OK);
    CHECK(memcmp(ext, cells, 2 * ZG_BYTES_PER_BLOB) == 0); /* cells are the extension's bytes */
    CHECK(zg_field_recover(rext, odd, half, 64) == ZG_OK);
    CHECK(memcmp(rext, ext, 2 * ZG_BYTES_PER_BLOB) == 0);
    CHECK(zg_field_recover(rext, odd, half, 63) == ZG_INVALID_DATA);
    CHECK(zg_field_recover(rext, NULL, half, 64) == ZG_NULL_PARAMETER);
    blob[32] = 0xff; /* element 1 >= the modulus */
    CHECK(zg_field_extend(ext, blob) == ZG_INVALID_DATA);
    free(ext); free(rext);

    free(blob); free(cells); free(proofs); free(only_cells); free(commitments);
    free(half); free(rcells); free(rproofs);
    zg_kzg_ctx_free(ctx);
    zg_kzg_ctx_free(NULL);
}

static void test_merkle(void) {
    size_t len = 3 * ZG_SEGMENT_SIZE + 17;
    uint8_t *data = malloc(len);
    for (size_t i = 0; i < len; i++) data[i] = (uint8_t)(i * 31 + 7);
    uint8_t root_b3[32], root_zg[32], root_inc[32];
    CHECK(zg_merkle_root(root_b3, data, len, ZG_ROOT_BLAKE3) == ZG_OK);
    CHECK(zg_merkle_root(root_zg, data, len, ZG_ROOT_KECCAK) == ZG_OK);
    print_hex("blake3_root", root_b3, 32);
    print_hex("zg_root", root_zg, 32);
    CHECK(zg_merkle_root(root_zg, data, len, 9) == ZG_BAD_ARGS);

    ZgHasher *h = NULL;
    CHECK(zg_hasher_new(&h, ZG_ROOT_KECCAK) == ZG_OK);
    for (size_t off = 0; off < len; off += 100000) {
        size_t n = len - off < 100000 ? len - off : 100000;
        CHECK(zg_hasher_update(data + off, n, h) == ZG_OK);
    }
    ZgTree *t = NULL;
    CHECK(zg_hasher_finalize(&t, h) == ZG_OK);
    CHECK(zg_hasher_finalize(&t, h) == ZG_BAD_ARGS); /* spent */
    uint64_t file_len = 0, segments = 0;
    CHECK(zg_tree_root(root_inc, &file_len, &segments, t) == ZG_OK);
    CHECK(memcmp(root_inc, root_zg, 32) == 0 && file_len == len && segments == 4);

    ZgBytes *proof = NULL;
    CHECK(zg_tree_prove_segment(&proof, 1, t) == ZG_OK);
    size_t plen = 0;
    const uint8_t *p = zg_bytes_data(&plen, proof);
    bool ok = false;
    const uint8_t *seg = data + ZG_SEGMENT_SIZE;
    CHECK(zg_merkle_verify_segment(&ok, root_zg, len, 1, seg, ZG_SEGMENT_SIZE, p, plen) == ZG_OK && ok);
    CHECK(zg_merkle_verify_segment(&ok, root_zg, len, 2, seg, ZG_SEGMENT_SIZE, p, plen) == ZG_OK && !ok);
    uint8_t junk[3] = {'Z', 1, 2};
    CHECK(zg_merkle_verify_segment(&ok, root_zg, len, 1, seg, ZG_SEGMENT_SIZE, junk, 3) == ZG_INVALID_DATA);
    CHECK(zg_tree_prove_segment(&proof, 4, t) == ZG_BAD_ARGS); /* out of range; proof untouched */
    zg_bytes_free(proof);
    zg_tree_free(t);
    zg_hasher_free(h);
    free(data);
}

static void test_erasure(void) {
    const char *payload = "payload bytes for the C ABI, any length at all";
    uint8_t id[32] = {1};
    ZgShards *s = NULL;
    CHECK(zg_gf16_encode(&s, (const uint8_t *)payload, strlen(payload), id, 4, 2) == ZG_OK);
    CHECK(zg_shards_count(s) == 6);
    const uint8_t *ptrs[6];
    size_t lens[6];
    for (size_t i = 0; i < 6; i++) CHECK(zg_shards_get(&ptrs[i], &lens[i], i, s) == ZG_OK);
    ZgBytes *out = NULL;
    /* Any 4 of 6: drop two originals. */
    CHECK(zg_gf16_decode(&out, ptrs + 2, lens + 2, 4) == ZG_OK);
    size_t n = 0;
    const uint8_t *d = zg_bytes_data(&n, out);
    CHECK(n == strlen(payload) && memcmp(d, payload, n) == 0);
    zg_bytes_free(out);
    /* Too few shards, and a corrupt shard: errors, never wrong bytes. */
    CHECK(zg_gf16_decode(&out, ptrs + 3, lens + 3, 3) == ZG_INVALID_DATA);
    uint8_t *copy = malloc(lens[5]);
    memcpy(copy, ptrs[5], lens[5]);
    copy[lens[5] - 1] ^= 1;
    const uint8_t *mixed[4] = {ptrs[2], ptrs[3], ptrs[4], copy};
    size_t mixed_lens[4] = {lens[2], lens[3], lens[4], lens[5]};
    CHECK(zg_gf16_decode(&out, mixed, mixed_lens, 4) == ZG_INVALID_DATA);
    CHECK(zg_gf16_encode(&s, (const uint8_t *)payload, 1, id, 0, 2) == ZG_BAD_ARGS);
    CHECK(zg_shards_get(&ptrs[0], &lens[0], 6, s) == ZG_BAD_ARGS);
    free(copy);
    zg_shards_free(s);
}

static void test_store(const char *dir) {
    ZgStore *st = NULL;
    CHECK(zg_store_open(&st, dir) == ZG_OK);
    uint8_t key[32] = {9};
    const char *seg = "segment bytes";
    CHECK(zg_store_put(key, 3, (const uint8_t *)seg, strlen(seg), st) == ZG_OK);
    ZgBytes *b = NULL;
    CHECK(zg_store_get(&b, key, 3, st) == ZG_OK);
    size_t n = 0;
    const uint8_t *d = zg_bytes_data(&n, b);
    CHECK(n == strlen(seg) && memcmp(d, seg, n) == 0);
    zg_bytes_free(b);
    CHECK(zg_store_get(&b, key, 4, st) == ZG_NOT_FOUND);
    CHECK(zg_store_put(key, 3, NULL, 5, st) == ZG_NULL_PARAMETER);
    zg_store_close(st);
    /* Reopen: the write survived. */
    CHECK(zg_store_open(&st, dir) == ZG_OK);
    CHECK(zg_store_get(&b, key, 3, st) == ZG_OK);
    zg_bytes_free(b);
    zg_store_close(st);
    CHECK(zg_store_open(&st, NULL) == ZG_NULL_PARAMETER);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s STORE_DIR\n", argv[0]);
        return 2;
    }
    test_kzg();
    test_merkle();
    test_erasure();
    test_store(argv[1]);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all C checks passed\n");
    return 0;
}
