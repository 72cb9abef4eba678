// 0G's TypeScript SDK (@0gfoundation/0g-ts-sdk 1.2.8 or @0glabs/0g-ts-sdk 0.3.3),
// unchanged, against zg's storage nodes: it finds the Flow from zgs_getStatus, pays
// and submits each file, uploads its segments to the nodes, waits for finality and
// downloads it back. Prints one JSON line with each file's root and tx seq; any
// mismatch exits non-zero.
//
// usage: node storage_ts.mjs PACKAGE RPC_URL PRIVATE_KEY NODE_URL[,NODE_URL…] SIZE[,SIZE…] SEED
import { ethers } from 'ethers';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [pkg, rpc, key, urls, sizes, seed] = process.argv.slice(2);
const { Downloader, MemData, StorageNode, Uploader, getFlowContract, defaultUploadOption } = await import(pkg);
const provider = new ethers.JsonRpcProvider(rpc);
const signer = new ethers.Wallet(key, provider);
const nodes = urls.split(',').map((u) => new StorageNode(u));
const status = await nodes[0].getStatus();
const flow = getFlowContract(status.networkIdentity.flowAddress, signer);
const uploader = new Uploader(nodes, rpc, flow);
const downloader = new Downloader(nodes);

// The SDK logs its progress on stdout: keep stdout for the one result line.
const log = console.log;
console.log = (...args) => console.error(...args);

const files = [];
for (const [i, size] of sizes.split(',').map(Number).entries()) {
  const bytes = new Uint8Array(size).map((_, j) => (j * 7 + i * 13 + (j >> 9) + Number(seed) * 101) & 0xff);
  // 0.3.3 takes its options whole (1.2.8 merges them over the same defaults).
  const [res, err] = await uploader.uploadFile(new MemData(bytes), { ...defaultUploadOption, finalityRequired: true });
  assert.equal(err, null, `upload of ${size} bytes: ${err}`);
  const dir = mkdtempSync(join(tmpdir(), 'zg-sdk-'));
  const out = join(dir, 'file');
  const derr = await downloader.downloadFile(res.rootHash, out, false);
  assert.equal(derr, null, `download of ${size} bytes: ${derr}`);
  const got = readFileSync(out);
  rmSync(dir, { recursive: true });
  assert.equal(got.length, size, 'downloaded length');
  assert.ok(Buffer.from(got).equals(Buffer.from(bytes)), `the ${size}-byte file comes back byte-exact`);
  files.push({ size, root: res.rootHash, txSeq: res.txSeq ?? null });
}
log(JSON.stringify({ files }));
