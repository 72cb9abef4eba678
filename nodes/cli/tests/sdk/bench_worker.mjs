// 0G's TypeScript SDK (@0gfoundation/0g-ts-sdk 1.2.8), unchanged, as zg's `report`
// runs it beside `zg upload`: for each line N on stdin it reads FILE, makes it variant
// N (bytes 3 and 4), pays for it, uploads it and waits until the nodes finalize it, as
// a user's uploadFile call does; then answers "ok" (or "error …") on stdout.
//
// usage: node bench_worker.mjs RPC_URL PRIVATE_KEY NODE_URL[,NODE_URL…] FILE
import { ethers } from 'ethers';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const [rpc, key, urls, path] = process.argv.slice(2);
const { MemData, StorageNode, Uploader, getFlowContract } = await import('@0gfoundation/0g-ts-sdk');
const signer = new ethers.Wallet(key, new ethers.JsonRpcProvider(rpc));
const nodes = urls.split(',').map((u) => new StorageNode(u));
const status = await nodes[0].getStatus();
const uploader = new Uploader(nodes, rpc, getFlowContract(status.networkIdentity.flowAddress, signer));

// The SDK logs its progress on stdout: keep stdout for the answers.
const answer = (line) => process.stdout.write(`${line}\n`);
console.log = (...args) => console.error(...args);

answer('ready');
for await (const line of createInterface({ input: process.stdin })) {
  const n = Number(line);
  const bytes = new Uint8Array(readFileSync(path));
  bytes[3] = n & 0xff;
  bytes[4] = (n >> 8) & 0xff;
  const [, err] = await uploader.uploadFile(new MemData(bytes), { finalityRequired: true });
  answer(err === null ? 'ok' : `error ${err}`);
}
