// The devnet's web console in a real headless Chromium (puppeteer-core): every page
// loads without a console error, a file uploaded from the storage page downloads
// byte-exact, a DA blob submitted from the page is listed with its cells, the chat box
// streams a provider's answer; a screenshot of each page is kept.
//
// usage: node console_browser.mjs CONSOLE_URL SCREENSHOT_DIR CHROMIUM
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

const [url, shots, chromium] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});
const problems = [];
const result = {};
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warn") problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => {
    // Chromium reports a streamed fetch whose body the page drained as ERR_ABORTED now
    // and then (puppeteer issue 2701); the chat's own check is that the page read the
    // stream's closing [DONE].
    if (r.url().endsWith("/api/chat") && r.failure()?.errorText === "net::ERR_ABORTED") return;
    problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });

  const visit = async (name) => {
    await page.evaluate((n) => {
      location.hash = n;
    }, name);
    await page.waitForFunction((n) => document.body.dataset.loaded === n, { timeout: 60000 }, name);
    const footer = await page.$eval("#status", (f) => ({ text: f.textContent, error: f.className === "error" }));
    if (footer.error) problems.push(`${name}: ${footer.text}`);
  };
  const rows = (table) => page.$$eval(`#${table} tbody tr`, (trs) => trs.length);

  await page.goto(`${url}/#chain`, { waitUntil: "load" });
  await page.waitForFunction(() => document.body.dataset.loaded === "chain", { timeout: 60000 });

  // Chain: blocks, a block's transactions, an account, events.
  result.blocks = await rows("blocks");
  result.events = await rows("events");
  await page.click("#blocks tbody tr");
  await page.waitForSelector("#block-detail h2");
  await page.type("#account-address", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  await page.click("#account-form button");
  await page.waitForFunction(() => document.getElementById("account-detail").textContent.includes("0G"));
  result.account = await page.$eval("#account-detail", (d) => d.textContent);
  await page.screenshot({ path: join(shots, "chain.png"), fullPage: true });

  // Storage: upload from the page (with progress), download, compare byte for byte.
  await visit("storage");
  const bytes = randomBytes(3 * 1024 * 1024 + 7);
  const file = join(tmpdir(), `zg-console-${process.pid}.bin`);
  writeFileSync(file, bytes);
  const input = await page.$("#upload-file");
  await input.uploadFile(file);
  await page.click("#upload-button");
  await page.waitForFunction(() => document.getElementById("upload-result").dataset.root, { timeout: 60000 });
  const root = await page.$eval("#upload-result", (d) => d.dataset.root);
  result.progress = await page.$eval("#upload-progress", (p) => p.value);
  const href = await page.$eval("#local-files tbody tr a", (a) => a.getAttribute("href"));
  const downloaded = await page.evaluate(async (h) => {
    const body = new Uint8Array(await (await fetch(h)).arrayBuffer());
    let hex = "";
    for (const b of new Uint8Array(await crypto.subtle.digest("SHA-256", body))) hex += b.toString(16).padStart(2, "0");
    return { len: body.length, sha256: hex };
  }, href);
  result.upload = { root, sent: bytes.length, ...downloaded };
  result.nodeFiles = await page.$$eval("#flow-files tbody tr", (trs) => trs.map((tr) => tr.children[0].textContent));
  if (downloaded.len !== bytes.length || downloaded.sha256 !== createHash("sha256").update(bytes).digest("hex")) {
    problems.push(`the download of ${root} differs from the upload`);
  }
  await page.screenshot({ path: join(shots, "storage.png"), fullPage: true });

  // DA: submit a blob from the page; it is listed with the cells the node holds.
  await visit("da");
  const blob = join(tmpdir(), `zg-console-${process.pid}-da.bin`);
  writeFileSync(blob, randomBytes(100 * 1024));
  await (await page.$("#da-file")).uploadFile(blob);
  await page.click("#da-form button");
  await page.waitForFunction(() => document.querySelectorAll("#da-submissions tbody tr").length > 0, {
    timeout: 120000,
  });
  result.da = await page.$eval("#da-submissions tbody tr", (tr) => [...tr.children].map((td) => td.textContent));
  result.daNodes = await rows("da-nodes");
  result.daChain = await page.$$eval("#da-chain tbody tr", (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  await page.screenshot({ path: join(shots, "da.png"), fullPage: true });

  // Marketplace: the registry's services; the chat box streams an answer.
  await visit("market");
  result.services = await page.$$eval("#services tbody tr", (trs) => trs.map((tr) => tr.children[1].textContent));
  await page.type("#chat-input", "What is a Merkle tree?");
  await page.click("#chat-send");
  await page.waitForFunction(
    () => document.getElementById("chat-answer").dataset.done === "1" || document.getElementById("chat-usage").className === "error",
    { timeout: 120000 },
  );
  result.chat = {
    answer: await page.$eval("#chat-answer", (p) => p.textContent),
    usage: await page.$eval("#chat-usage", (p) => p.textContent),
  };
  if (!/generated tokens/.test(result.chat.usage)) problems.push(`chat: ${result.chat.usage}`);
  await page.screenshot({ path: join(shots, "market.png"), fullPage: true });

  // Ledgers: the chat funded dev account 1's ledger.
  await visit("ledgers");
  result.ledgers = await page.$$eval("#ledger-table tbody tr", (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  await page.screenshot({ path: join(shots, "ledgers.png"), fullPage: true });
} catch (e) {
  problems.push(`script: ${e.stack || e}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify({ problems, ...result }));
