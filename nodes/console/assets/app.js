// zg console: reads the nodes' public APIs through the console's same-origin proxy.
"use strict";

let config = null;
const $ = (id) => document.getElementById(id);

function status(text, error) {
  const footer = $("status");
  footer.textContent = text;
  footer.className = error ? "error" : "muted";
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function row(tbody, cells) {
  const tr = document.createElement("tr");
  for (const c of cells) tr.appendChild(c instanceof Node ? c : cell(c));
  tbody.appendChild(tr);
  return tr;
}

function link(text, href, download) {
  const td = document.createElement("td");
  const a = document.createElement("a");
  a.textContent = text;
  a.href = href;
  if (download) a.download = download;
  td.appendChild(a);
  return td;
}

function clear(table) {
  const tbody = $(table).querySelector("tbody");
  tbody.replaceChildren();
  return tbody;
}

// Wei (decimal or hex string) as 0G with up to 6 decimals.
function og(wei) {
  const v = BigInt(wei);
  const unit = 10n ** 18n;
  const whole = v / unit;
  const frac = ((v % unit) * 1000000n) / unit;
  const f = frac.toString().padStart(6, "0").replace(/0+$/, "");
  return (f ? `${whole}.${f}` : `${whole}`) + " 0G";
}

function short(hex) {
  return hex && hex.length > 20 ? `${hex.slice(0, 10)}…${hex.slice(-6)}` : hex;
}

async function json(url, options) {
  const answer = await fetch(url, options);
  const body = await answer.json().catch(() => null);
  if (!answer.ok) throw new Error((body && body.error) || `${url}: ${answer.status}`);
  return body;
}

let rpcId = 0;
async function rpc(method, params) {
  const answer = await json("/api/chain", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params }),
  });
  if (answer.error) throw new Error(`${method}: ${answer.error.message}`);
  return answer.result;
}

// ---- chain ----

async function showChain() {
  const head = parseInt(await rpc("eth_blockNumber", []), 16);
  const tbody = clear("blocks");
  for (let n = head; n >= Math.max(0, head - 14); n--) {
    const b = await rpc("eth_getBlockByNumber", ["0x" + n.toString(16), false]);
    const tr = row(tbody, [
      n,
      cell(short(b.hash), "mono"),
      b.transactions.length,
      parseInt(b.gasUsed, 16),
      new Date(parseInt(b.timestamp, 16) * 1000).toISOString().replace("T", " ").slice(0, 19),
    ]);
    tr.className = "clickable";
    tr.addEventListener("click", () => showBlock(n).catch((e) => status(e.message, true)));
  }
  const from = Math.max(0, head - 500);
  const logs = await rpc("eth_getLogs", [{ fromBlock: "0x" + from.toString(16), toBlock: "latest" }]);
  const events = clear("events");
  for (const log of logs.slice(-60).reverse()) {
    const contract = config.contracts[log.address.toLowerCase()] || short(log.address);
    const name = config.events[log.topics[0]] || short(log.topics[0]);
    row(events, [parseInt(log.blockNumber, 16), contract, name, cell(short(log.transactionHash), "mono")]);
  }
}

async function showBlock(n) {
  const b = await rpc("eth_getBlockByNumber", ["0x" + n.toString(16), true]);
  const box = $("block-detail");
  box.replaceChildren();
  const h = document.createElement("h2");
  h.textContent = `Block ${n}: ${b.transactions.length} transactions`;
  box.appendChild(h);
  const table = document.createElement("table");
  const thead = document.createElement("thead");
  const tr = document.createElement("tr");
  for (const name of ["transaction", "from", "to", "value"]) {
    const th = document.createElement("th");
    th.textContent = name;
    tr.appendChild(th);
  }
  thead.appendChild(tr);
  const tbody = document.createElement("tbody");
  table.append(thead, tbody);
  for (const tx of b.transactions) {
    const to = tx.to ? config.contracts[tx.to.toLowerCase()] || tx.to : "(create)";
    row(tbody, [cell(short(tx.hash), "mono"), cell(tx.from, "mono"), cell(to, "mono"), og(tx.value)]);
  }
  box.appendChild(table);
}

async function lookUpAccount(event) {
  event.preventDefault();
  const address = $("account-address").value.trim();
  const [balance, nonce, code] = await Promise.all([
    rpc("eth_getBalance", [address, "latest"]),
    rpc("eth_getTransactionCount", [address, "latest"]),
    rpc("eth_getCode", [address, "latest"]),
  ]);
  const kind = code && code !== "0x" ? `contract (${(code.length - 2) / 2} bytes of code)` : "account";
  $("account-detail").textContent = `${address}: ${og(balance)}, nonce ${parseInt(nonce, 16)}, ${kind}`;
}

// ---- storage ----

function localFiles() {
  return JSON.parse(localStorage.getItem("zg-files") || "[]");
}

function showLocalFiles() {
  const tbody = clear("local-files");
  for (const f of localFiles()) {
    row(tbody, [f.name, cell(f.root, "mono"), f.size, link("download", `/api/storage/${f.node}/files/${f.root}`, f.name)]);
  }
}

// PUT with upload progress (fetch reports none).
function put(url, body, bar) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(bar.dataset.method || "PUT", url);
    bar.hidden = false;
    bar.value = 0;
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) bar.value = e.loaded / e.total;
    };
    xhr.onload = () => {
      bar.value = 1;
      let answer = null;
      try {
        answer = JSON.parse(xhr.responseText);
      } catch (_) {
        answer = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && answer) resolve(answer);
      else reject(new Error(`${xhr.status}: ${xhr.responseText}`));
    };
    xhr.onerror = () => reject(new Error(`${url}: the upload failed`));
    xhr.send(body);
  });
}

async function upload(event) {
  event.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) return status("choose a file first", true);
  const node = $("upload-node").value;
  status(`uploading ${file.name} (${file.size} bytes)…`);
  const answer = await put(`/api/storage/${node}/files?kind=blake3`, file, $("upload-progress"));
  const files = localFiles().filter((f) => f.root !== answer.root);
  files.unshift({ name: file.name, root: answer.root, size: answer.fileSize, node });
  localStorage.setItem("zg-files", JSON.stringify(files.slice(0, 50)));
  $("upload-result").textContent = `stored ${answer.fileSize} bytes as ${answer.root} (${answer.segmentCount} segments)`;
  $("upload-result").dataset.root = answer.root;
  await showStorage();
  status(`uploaded ${file.name}`);
}

async function showStorage() {
  const select = $("upload-node");
  if (!select.options.length) {
    config.storage.forEach((url, i) => select.add(new Option(`node ${i} (${url})`, i)));
  }
  showLocalFiles();
  const listing = await json("/api/files");
  $("flow-count").textContent = `${listing.total} files held, ${listing.submissions} submissions paid on the Flow; the newest ${listing.files.length}:`;
  const tbody = clear("flow-files");
  for (const f of listing.files) {
    row(tbody, [
      cell(f.root, "mono"),
      f.rootKind,
      f.fileSize,
      f.txSeq === null ? "off-chain" : f.txSeq,
      link("download", `/api/storage/0/files/${f.root}`, `file-${short(f.root)}`),
    ]);
  }
}

// ---- DA ----

function daIds() {
  return JSON.parse(localStorage.getItem("zg-da") || "[]");
}

function rememberDa(id) {
  const ids = daIds().filter((i) => i !== id);
  ids.unshift(id);
  localStorage.setItem("zg-da", JSON.stringify(ids.slice(0, 30)));
}

async function showDa() {
  const nodes = clear("da-nodes");
  for (let i = 0; i < config.da.length; i++) {
    const s = await json(`/api/da/${i}/status`);
    row(nodes, [config.da[i], s.version, s.submissions, s.custodyCells, s.peers]);
  }
  $("da-disperser").textContent = config.disperser
    ? `0G's disperser API (gRPC) at ${config.disperser}: zg da submit FILE certifies a blob on chain`
    : "";
  const tbody = clear("da-submissions");
  for (const id of daIds()) {
    const s = await json(`/api/da/0/submissions/${id}`).catch(() => null);
    if (!s) continue;
    row(tbody, [cell(short(s.id), "mono"), s.payloadLen, s.commitments.length, s.cellsHeld.join(", "), s.custodyHeld ? "held" : "partial"]);
  }
  await showDaChain();
}

// DAEntrance's DataUpload and ErasureCommitmentVerified logs: each blob's root,
// epoch and quorum, and whether its quorum certificate is on chain.
async function showDaChain() {
  const entrance = Object.keys(config.contracts).find((a) => config.contracts[a] === "DAEntrance");
  const topic = (name) => Object.keys(config.events).find((t) => config.events[t] === name);
  const logs = await rpc("eth_getLogs", [{ fromBlock: "0x0", toBlock: "latest", address: entrance }]);
  const words = (data) => data.slice(2).match(/.{64}/g) || [];
  const blobs = new Map();
  for (const log of logs) {
    const w = words(log.data);
    if (log.topics[0] === topic("DataUpload")) {
      const key = `${w[1]}/${parseInt(w[2], 16)}/${parseInt(w[3], 16)}`;
      blobs.set(key, { block: parseInt(log.blockNumber, 16), root: "0x" + w[1], epoch: parseInt(w[2], 16), quorum: parseInt(w[3], 16), state: "uploaded" });
    } else if (log.topics[0] === topic("ErasureCommitmentVerified")) {
      const key = `${w[0]}/${parseInt(w[1], 16)}/${parseInt(w[2], 16)}`;
      const blob = blobs.get(key);
      if (blob) blob.state = `certified (block ${parseInt(log.blockNumber, 16)})`;
    }
  }
  const tbody = clear("da-chain");
  for (const b of [...blobs.values()].reverse().slice(0, 50)) {
    row(tbody, [b.block, cell(b.root, "mono"), b.epoch, b.quorum, b.state]);
  }
}

async function submitDa(event) {
  event.preventDefault();
  const file = $("da-file").files[0];
  if (!file) return status("choose a file first", true);
  const bar = $("da-progress");
  bar.dataset.method = "POST";
  status(`submitting ${file.name} (${file.size} bytes): committing and proving cells…`);
  const answer = await put("/api/da/0/submissions", file, bar);
  rememberDa(answer.id);
  status(`submission ${answer.id}`);
  await showDa();
}

async function lookUpDa(event) {
  event.preventDefault();
  const id = $("da-id").value.trim();
  await json(`/api/da/0/submissions/${id}`);
  rememberDa(id);
  await showDa();
}

// ---- marketplace ----

function price(s) {
  const unit = s.priceUnit || "use";
  if (s.inputPrice === "0" && s.outputPrice === "0") return "free";
  if (s.outputPrice === "0") return `${s.inputPrice} wei/${unit}`;
  return `${s.inputPrice} in + ${s.outputPrice} out wei/${unit}`;
}

async function showMarket() {
  const services = await json("/api/services");
  const tbody = clear("services");
  for (const s of services) {
    const where = s.endpoint || `manifest ${short(s.root)}`;
    row(tbody, [s.id, s.kind, s.name, s.version, cell(where, "mono"), s.model, price(s), cell(short(s.owner), "mono")]);
  }
  const select = $("chat-account");
  if (!select.options.length) {
    config.accounts.forEach((a, i) => select.add(new Option(`dev account ${i} ${short(a)}`, i)));
    select.value = "1";
  }
  $("chat-provider").textContent = config.compute
    ? `Chat with provider ${config.compute.provider} at ${config.compute.url} (the first chat funds the account's ledger)`
    : "This network runs no compute provider.";
}

async function chat(event) {
  event.preventDefault();
  const prompt = $("chat-input").value.trim();
  if (!prompt) return;
  const out = $("chat-answer");
  out.textContent = "";
  $("chat-usage").textContent = "asking…";
  $("chat-send").disabled = true;
  try {
    const answer = await fetch("/api/chat", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        account: Number($("chat-account").value),
        messages: [{ role: "user", content: prompt }],
        max_tokens: 64,
      }),
    });
    if (!answer.ok) {
      const body = await answer.json().catch(() => ({}));
      throw new Error(body.error || `chat: ${answer.status}`);
    }
    const reader = answer.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let closed = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const line = buffer.slice(0, end).replace(/^data: /, "");
        buffer = buffer.slice(end + 2);
        if (line === "[DONE]") {
          closed = true;
          continue;
        }
        const event = JSON.parse(line);
        if (event.text !== undefined) out.textContent += event.text;
        if (event.error) throw new Error(event.error);
        if (event.usage) {
          const u = event.usage;
          $("chat-usage").textContent = `${u.prompt} prompt + ${u.completion} generated tokens (${event.finish}): ${u.fee} wei`;
        }
      }
    }
    if (!closed) throw new Error("the answer broke off before its end");
    out.dataset.done = "1";
  } catch (e) {
    $("chat-usage").textContent = e.message;
    $("chat-usage").className = "error";
  } finally {
    $("chat-send").disabled = false;
  }
}

// ---- ledgers ----

async function showLedgers() {
  const ledgers = await json("/api/ledgers");
  const tbody = clear("ledger-table");
  for (const l of ledgers) {
    const subs = l.subAccounts.map((s) => `${short(s.provider)}: ${og(s.balance)}`).join("; ");
    row(tbody, [
      cell(l.address, "mono"),
      og(l.balance),
      l.ledger ? og(l.ledger.available) : "—",
      l.ledger ? og(l.ledger.total) : "—",
      subs || "—",
    ]);
  }
}

// ---- navigation ----

const pages = { chain: showChain, storage: showStorage, da: showDa, market: showMarket, ledgers: showLedgers };

async function show() {
  const name = pages[location.hash.slice(1)] ? location.hash.slice(1) : "chain";
  for (const section of document.querySelectorAll(".page")) section.classList.toggle("shown", section.id === name);
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === name);
  document.body.dataset.loaded = "";
  try {
    await pages[name]();
    status(`${name} loaded`);
  } catch (e) {
    status(e.message, true);
  }
  document.body.dataset.loaded = name;
}

async function head() {
  try {
    const n = parseInt(await rpc("eth_blockNumber", []), 16);
    $("head").textContent = `chain ${config.chain} · block ${n}`;
  } catch (e) {
    $("head").textContent = "chain unreachable";
  }
}

function guard(handler) {
  return (event) => handler(event).catch((e) => status(e.message, true));
}

async function start() {
  config = await json("/api/config");
  $("account-form").addEventListener("submit", guard(lookUpAccount));
  $("upload-form").addEventListener("submit", guard(upload));
  $("da-form").addEventListener("submit", guard(submitDa));
  $("da-lookup").addEventListener("submit", guard(lookUpDa));
  $("chat-form").addEventListener("submit", guard(chat));
  window.addEventListener("hashchange", show);
  await head();
  setInterval(head, 3000);
  await show();
}

start().catch((e) => status(e.message, true));
