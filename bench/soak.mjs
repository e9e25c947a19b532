#!/usr/bin/env node
// Soak test for `rapide serve`: a scripted client types through a large file over a real pipe
// for N minutes, with inline completions on every keystroke, explicit completions, hovers and
// code actions (a pending request of the same kind is cancelled first, as editors do),
// typo + backspace pairs and the file's own line breaks. When
// it reaches the end of the file it clears the document and types it again.
//
// Checks (exit status 0 only when all hold):
//   - memory stays bounded: RSS at the end (mean of the last 3 samples) is within 10% of the
//     plateau (the highest sample between 25% and 50% of the run, after warm-up);
//   - no request is left unanswered: after typing stops, every request the client sent gets
//     its response within --drain-seconds (cancelled ones included: -32800 counts);
//   - the server's copy of the document equals the client's, through the `rapide/document`
//     request ({textDocument: {uri}, includeText: true} -> {version, utf16Length, hash, text}):
//     version, UTF-16 length, FNV-1a 64 hash of the UTF-8 text and the text itself must all
//     match. A server without that request makes the check (and the run) "incomplete": exit
//     status 3.
//   - the server does not exit or write anything but protocol to stdout.
//
//   node bench/soak.mjs [--rapide build/cli/rapide] [--minutes 5] [--model tiny.gguf]
//                       [--file path] [--cps 10] [--seed 1] [--json out.json]
// Without --model, a tiny qwen2 model is made with `rapide make-model --preset tiny` and the
// qwen2 vocabulary from ../shared/vocab (or $RAPIDE_SHARED_DIR/vocab).
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");

// ---- options ----------------------------------------------------------------------------
const opts = { rapide: path.join(repo, "build/cli/rapide"), minutes: 5, model: "", file: "", cps: 10, seed: 1, json: "",
               drainSeconds: 60, sampleSeconds: 5 };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, "").replace(/-(\w)/g, (_, c) => c.toUpperCase());
  if (!(k in opts)) { console.error(`soak: unknown option ${process.argv[i]}`); process.exit(2); }
  opts[k] = typeof opts[k] === "number" ? Number(process.argv[i + 1]) : process.argv[i + 1];
}
const log = (...a) => console.error("[soak]", ...a);

// Deterministic PRNG (mulberry32).
let seed = opts.seed >>> 0;
const rand = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

// ---- inputs -----------------------------------------------------------------------------
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rapide-soak-"));
let model = opts.model;
if (!model) {
  const shared = process.env.RAPIDE_SHARED_DIR || path.resolve(repo, "../shared");
  const vocab = path.join(shared, "vocab/ggml-vocab-qwen2.gguf");
  if (!fs.existsSync(vocab)) { log(`no --model and ${vocab} is missing`); process.exit(2); }
  model = path.join(tmp, "tiny.gguf");
  const r = spawnSync(opts.rapide, ["make-model", "--preset", "tiny", "--arch", "qwen2", "--vocab", vocab, "--seed", "7",
                                    "-o", model], { encoding: "utf8" });
  if (r.status !== 0) { log("make-model failed:", r.stderr || r.error); process.exit(2); }
}
// The file to type: the given one, or our own sources concatenated (~4,000 lines of C++).
let source = opts.file ? fs.readFileSync(opts.file, "utf8") : ["context/completion_context.cpp", "context/syntax.cpp",
  "context/workspace.cpp", "lsp/server.cpp", "context/document.cpp", "context/text.cpp", "lsp/scheduler.cpp"]
  .filter((f) => fs.existsSync(path.join(repo, f))).map((f) => fs.readFileSync(path.join(repo, f), "utf8")).join("\n");
const uri = "file:///soak/typed.cpp";

// ---- the server -------------------------------------------------------------------------
const logFile = path.join(tmp, "server.log");
const server = spawn(opts.rapide, ["serve", "--model", model, "--log-file", logFile, "--log-level", "warn"],
                     { stdio: ["pipe", "pipe", "pipe"] });
let stderrText = "";
server.stderr.on("data", (d) => { stderrText += d; if (stderrText.length > 1e6) stderrText = stderrText.slice(-1e5); });
let exited = null;
server.on("exit", (code, sig) => { exited = { code, sig }; });
server.stdin.on("error", () => {});

const pending = new Map();  // id -> {method, sent}
const answered = { total: 0, cancelled: 0, errors: 0, byMethod: {} };
const errorKinds = {};  // "method code message" -> count
const latencies = {};
let protocolErrors = 0, nextId = 1;
const waiters = new Map();  // id -> resolve

function send(msg) {
  if (msg.params === null || msg.params === undefined) delete msg.params;  // JSON-RPC: params is structured or absent
  const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", ...msg }), "utf8");
  server.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
  server.stdin.write(body);
}
function request(method, params) {
  const id = nextId++;
  pending.set(id, { method, sent: performance.now() });
  send({ id, method, params });
  return id;
}
const notify = (method, params) => send({ method, params });
const call = (method, params) => new Promise((resolve) => { waiters.set(request(method, params), resolve); });

let buf = Buffer.alloc(0);
server.stdout.on("data", (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  for (;;) {
    const sep = buf.indexOf("\r\n\r\n");
    if (sep < 0) return;
    const m = /Content-Length: *(\d+)/i.exec(buf.subarray(0, sep).toString("latin1"));
    if (!m) { protocolErrors++; buf = buf.subarray(sep + 4); continue; }
    const len = Number(m[1]);
    if (buf.length < sep + 4 + len) return;
    const body = buf.subarray(sep + 4, sep + 4 + len).toString("utf8");
    buf = buf.subarray(sep + 4 + len);
    let msg;
    try { msg = JSON.parse(body); } catch { protocolErrors++; continue; }
    onMessage(msg);
  }
});

function onMessage(msg) {
  if (msg.method !== undefined && msg.id !== undefined) {  // server -> client request
    const result = msg.method === "workspace/configuration" ? (msg.params?.items || []).map(() => ({})) : null;
    send({ id: msg.id, result });
    return;
  }
  if (msg.method !== undefined) return;  // notification
  const p = pending.get(msg.id);
  if (!p) { protocolErrors++; log("response to an unknown or already answered id", msg.id); return; }
  pending.delete(msg.id);
  answered.total++;
  answered.byMethod[p.method] = (answered.byMethod[p.method] || 0) + 1;
  if (msg.error) {
    if (msg.error.code === -32800) answered.cancelled++;
    else { answered.errors++; const k = `${p.method} ${msg.error.code} ${String(msg.error.message).slice(0, 60)}`; errorKinds[k] = (errorKinds[k] || 0) + 1; }
  }
  else (latencies[p.method] ||= []).push(performance.now() - p.sent);
  const w = waiters.get(msg.id);
  if (w) { waiters.delete(msg.id); w(msg); }
}

function rssBytes() {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${server.pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch { return 0; }
}

// ---- the client's document (UTF-16 positions, as LSP's default) ------------------------------
let text = "", version = 1;
// FNV-1a 64 of the UTF-8 bytes, as the server's rapide/document "hash" ("fnv1a64:" + 16 hex digits).
function fnv1a64(s) {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(s, "utf8")) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return "fnv1a64:" + h.toString(16).padStart(16, "0");
}
function positionOf(offset) {  // offset in UTF-16 units of `text`
  let line = 0, lineStart = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) { line++; lineStart = i + 1; }
  return { line, character: offset - lineStart };
}
function edit(start, end, insert) {
  const range = { start: positionOf(start), end: positionOf(end) };
  text = text.slice(0, start) + insert + text.slice(end);
  notify("textDocument/didChange", { textDocument: { uri, version: ++version }, contentChanges: [{ range, text: insert }] });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- run ----------------------------------------------------------------------------------
const init = await call("initialize", { processId: process.pid, rootUri: null, capabilities: { general: { positionEncodings: ["utf-16"] } },
                                       clientInfo: { name: "rapide-soak" } });
if (init.error) { log("initialize failed", JSON.stringify(init.error)); process.exit(1); }
notify("initialized", {});
notify("textDocument/didOpen", { textDocument: { uri, languageId: "cpp", version, text } });
// Wait for the model (loading happens in the background).
for (let i = 0; ; i++) {
  const st = await call("rapide/status", {});
  if (st.result?.state === "ready") break;
  if (st.result?.state === "error" || i > 600) { log("model not ready:", JSON.stringify(st.result || st.error)); process.exit(1); }
  await sleep(200);
}

const samples = [];  // [seconds, rss]
const t0 = performance.now();
const durationMs = opts.minutes * 60_000;
let keystrokes = 0, typedOffset = 0, passes = 0, lastInline = null, cursor = 0;
const counts = { inline: 0, cancels: 0, completion: 0, hover: 0, codeAction: 0, backspace: 0 };
let nextSample = 0;
const last = {};  // kind -> id of the latest request of that kind
while (performance.now() - t0 < durationMs && exited === null) {
  const elapsed = performance.now() - t0;
  if (elapsed >= nextSample) { samples.push([elapsed / 1000, rssBytes()]); nextSample += opts.sampleSeconds * 1000; }
  if (typedOffset >= source.length) {  // start over: clear the document
    passes++;
    text = "";
    notify("textDocument/didChange", { textDocument: { uri, version: ++version }, contentChanges: [{ text: "" }] });
    typedOffset = 0; cursor = 0;
  }
  // One keystroke: usually the next 1-3 characters of the file; sometimes a typo + backspace.
  const r = rand();
  if (r < 0.05 && cursor > 0) {
    edit(cursor, cursor, "x"); edit(cursor, cursor + 1, ""); counts.backspace++;
  } else {
    const n = 1 + Math.floor(rand() * 3);
    const chunk = source.slice(typedOffset, typedOffset + n);
    edit(cursor, cursor, chunk);
    cursor += chunk.length; typedOffset += chunk.length;
  }
  keystrokes++;
  const pos = positionOf(cursor);
  // Inline completion on every keystroke; the previous one is cancelled when still pending.
  if (lastInline !== null && pending.has(lastInline)) { notify("$/cancelRequest", { id: lastInline }); counts.cancels++; }
  lastInline = request("textDocument/inlineCompletion", { textDocument: { uri }, position: pos, context: { triggerKind: 2 } });
  counts.inline++;
  // Like an editor, a new hover / code action / completion request cancels the previous one of
  // its kind when that is still pending (the mouse moved, the cursor moved).
  const replace = (kind, method, params) => {
    if (last[kind] !== undefined && pending.has(last[kind])) { notify("$/cancelRequest", { id: last[kind] }); counts.cancels++; }
    last[kind] = request(method, params);
    counts[kind]++;
  };
  if (keystrokes % 25 === 0) replace("hover", "textDocument/hover", { textDocument: { uri }, position: positionOf(Math.floor(rand() * (cursor + 1))) });
  if (keystrokes % 40 === 0) {
    const a = positionOf(Math.max(0, cursor - 200));
    replace("codeAction", "textDocument/codeAction", { textDocument: { uri }, range: { start: a, end: pos }, context: { diagnostics: [] } });
  }
  if (keystrokes % 60 === 0) replace("completion", "textDocument/completion", { textDocument: { uri }, position: pos });
  await sleep(1000 / opts.cps);
}
const typingSeconds = (performance.now() - t0) / 1000;

// Drain: every request must be answered.
const drainStart = performance.now();
while (pending.size > 0 && exited === null && performance.now() - drainStart < opts.drainSeconds * 1000) await sleep(50);
samples.push([(performance.now() - t0) / 1000, rssBytes()]);
const lost = [...pending.entries()].map(([id, p]) => ({ id, method: p.method, ageMs: Math.round(performance.now() - p.sent) }));

// The server's own counters: every didChange the client sent must have been applied.
let serverMetrics = null;
if (exited === null) {
  const m = await Promise.race([call("rapide/metrics", {}), sleep(10_000).then(() => null)]);
  serverMetrics = m?.result ?? null;
}
const changesSent = version - 1;  // every didChange bumps the version once
const changesOk = serverMetrics === null || serverMetrics.documentChanges === undefined ||
                  serverMetrics.documentChanges === changesSent;

// Document check.
let docCheck = "incomplete: server has no rapide/document request";
if (exited === null) {
  const d = await Promise.race([call("rapide/document", { textDocument: { uri }, includeText: true }),
                                sleep(10_000).then(() => null)]);
  const hash = fnv1a64(text);
  if (d === null) docCheck = "FAIL: rapide/document not answered";
  else if (d.error && d.error.code === -32601) docCheck = "incomplete: server has no rapide/document request";
  else if (d.error) docCheck = `FAIL: rapide/document error ${JSON.stringify(d.error)}`;
  else if (d.result?.version !== version) docCheck = `FAIL: server version ${d.result?.version}, client ${version}`;
  else if (d.result?.utf16Length !== text.length || d.result?.hash !== hash || d.result?.text !== text)
    docCheck = `FAIL: server text differs (server ${d.result?.utf16Length} units ${d.result?.hash}, ` +
               `client ${text.length} units ${hash})`;
  else docCheck = `ok (${text.length} UTF-16 units, version ${d.result.version}, ${hash})`;
}

// Shutdown.
let shutdownOk = false;
if (exited === null) {
  const s = await Promise.race([call("shutdown", null), sleep(10_000).then(() => null)]);
  shutdownOk = s !== null && !s.error;
  notify("exit", null);
  for (let i = 0; i < 100 && exited === null; i++) await sleep(50);
}

// Memory: plateau = highest sample in [25%, 50%] of the typing time; end = mean of the last 3.
const rss = samples.filter(([t]) => t >= typingSeconds * 0.25 && t <= typingSeconds * 0.5).map(([, b]) => b);
const plateau = rss.length ? Math.max(...rss) : Math.max(...samples.map(([, b]) => b));
const tail = samples.slice(-3).map(([, b]) => b);
const endRss = tail.reduce((a, b) => a + b, 0) / tail.length;
const memOk = endRss <= plateau * 1.10;
const pct = (xs, q) => { if (!xs?.length) return null; const s = [...xs].sort((a, b) => a - b); return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))] * 10) / 10; };

const report = {
  minutes: Math.round(typingSeconds / 6) / 10, keystrokes, passes, file_chars: source.length, counts,
  requests_sent: nextId - 1,
  answered, error_kinds: errorKinds, lost: lost.length, lost_sample: lost.slice(0, 10), protocol_errors: protocolErrors,
  rss_mb: { start: Math.round(samples[0][1] / 1048576), plateau: Math.round(plateau / 1048576), end: Math.round(endRss / 1048576),
            max: Math.round(Math.max(...samples.map(([, b]) => b)) / 1048576) },
  rss_series_mb: samples.map(([t, b]) => [Math.round(t), Math.round(b / 1048576)]),
  latency_ms: Object.fromEntries(Object.entries(latencies).map(([m, xs]) => [m, { p50: pct(xs, 0.5), p95: pct(xs, 0.95), p99: pct(xs, 0.99), max: pct(xs, 1), n: xs.length }])),
  document: docCheck, document_changes: { sent: changesSent, applied: serverMetrics?.documentChanges ?? null },
  server_metrics: serverMetrics, shutdown_ok: shutdownOk, server_exit: exited,
};
if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(report, null, 2));
console.log(JSON.stringify(report, null, 2));
const failed = !memOk || !changesOk || lost.length > 0 || protocolErrors > 0 || !shutdownOk || docCheck.startsWith("FAIL") ||
               (exited !== null && exited.code !== 0);
log(`memory ${memOk ? "ok" : "FAIL"} (end ${report.rss_mb.end} MiB vs plateau ${report.rss_mb.plateau} MiB), ` +
    `didChange applied ${report.document_changes.applied}/${changesSent}, lost requests ${lost.length}, protocol errors ${protocolErrors}, document: ${docCheck}, shutdown ${shutdownOk ? "ok" : "FAIL"}`);
if (failed) { log("server log:", logFile); process.exit(1); }
fs.rmSync(tmp, { recursive: true, force: true });
process.exit(docCheck.startsWith("incomplete") ? 3 : 0);
