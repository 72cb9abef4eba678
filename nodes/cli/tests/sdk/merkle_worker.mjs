// 0G's TypeScript SDK (@0gfoundation/0g-ts-sdk 1.2.8), unchanged, as zg's `report` runs
// it beside zg's Keccak tree: it reads FILE once, then for each line on stdin builds the
// file's Merkle tree as the SDK does before every upload and answers its root.
//
// usage: node merkle_worker.mjs FILE
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const [path] = process.argv.slice(2);
const { MemData } = await import('@0gfoundation/0g-ts-sdk');
const bytes = new Uint8Array(readFileSync(path));
const answer = (line) => process.stdout.write(`${line}\n`);
console.log = (...args) => console.error(...args);

answer('ready');
for await (const _ of createInterface({ input: process.stdin })) {
  const [tree, err] = await new MemData(bytes).merkleTree();
  answer(err === null ? tree.rootHash() : `error ${err}`);
}
