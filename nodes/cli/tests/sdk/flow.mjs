// 0G's Flow and market on zg's chain through @0gfoundation/0g-ts-sdk 1.2.8 and ethers
// 6.13.1, as an SDK user meets them: the SDK builds each file's submission, ethers
// names NotEnoughFee on an underpaid submit, and a paid submit costs exactly
// Σ 2^height × pricePerSector plus gas. Prints one JSON line; any failure exits non-zero.
//
// usage: node flow.mjs RPC_URL PRIVATE_KEY FLOW_ADDRESS
import { MemData, getFlowContract, getMarketContract } from '@0gfoundation/0g-ts-sdk';
import { ethers } from 'ethers';
import assert from 'node:assert/strict';

const [rpc, key, flowAddress] = process.argv.slice(2);
// No request cache: ethers answers identical calls within 250 ms from memory, and the
// balance checks read the same account right before and after a transaction.
const provider = new ethers.JsonRpcProvider(rpc, undefined, { cacheTimeout: -1 });
const signer = new ethers.Wallet(key, provider);
const flow = getFlowContract(flowAddress, signer);
const market = getMarketContract(await flow.market(), provider);
const price = await market.pricePerSector();
assert.ok(price > 0n, 'the devnet price is not zero');
assert.notEqual(await provider.getCode(flowAddress), '0x', 'the Flow has code');

const sizes = [1, 300_000, 5 * 1024 * 1024 + 17];
const report = { price: price.toString(), files: [] };
let marketPaid = await provider.getBalance(await flow.market());
const firstIndex = await flow.numSubmissions();
for (const [i, size] of sizes.entries()) {
  const bytes = new Uint8Array(size).map((_, j) => (j * 131 + i) & 0xff);
  const [submission, err] = await new MemData(bytes).createSubmission('0x', signer.address);
  assert.equal(err, null);
  const sectors = submission.data.nodes.reduce((n, node) => n + (1n << BigInt(node.height)), 0n);
  const fee = sectors * price;

  // Underpaid by one wei: eth_call fails with 0G's error, which ethers names; sending
  // fails in eth_estimateGas with the same revert bytes in the error's data.
  await assert.rejects(flow.submit.staticCall(submission, { value: fee - 1n }), (e) => {
    assert.equal(e.revert?.name, 'NotEnoughFee', String(e));
    assert.deepEqual(e.revert.args.map(String), [price, sectors, fee - 1n].map(String));
    return true;
  });
  await assert.rejects(flow.submit(submission, { value: fee - 1n }), (e) => {
    assert.equal(e.action, 'estimateGas', String(e));
    assert.equal(flow.interface.parseError(e.data)?.name, 'NotEnoughFee', String(e));
    return true;
  });

  const before = await provider.getBalance(signer.address);
  const tx = await flow.submit(submission, { value: fee });
  const receipt = await tx.wait();
  assert.equal(receipt.status, 1);
  const after = await provider.getBalance(signer.address);
  assert.equal(before - after, fee + receipt.gasUsed * receipt.gasPrice, 'exact to the wei');
  const submit = receipt.logs.map((l) => flow.interface.parseLog(l)).find((l) => l?.name === 'Submit');
  assert.equal(submit.args.submissionIndex, firstIndex + BigInt(i));
  assert.equal(submit.args[4], sectors); // `length` (args.length is the field count)
  assert.equal(submit.args.sender, signer.address);
  marketPaid += fee;
  report.files.push({ size, sectors: Number(sectors), txSeq: Number(submit.args.submissionIndex), startPos: Number(submit.args.startPos) });
}
assert.equal(await provider.getBalance(await flow.market()), marketPaid, 'the market holds every fee');
assert.equal(await flow.numSubmissions(), firstIndex + BigInt(sizes.length));
console.log(JSON.stringify(report));
