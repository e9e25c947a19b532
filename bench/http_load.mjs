#!/usr/bin/env node
// Load benchmark for an OpenAI-compatible completions server (`rapide serve-http`, vLLM, ...):
// N concurrent clients each issue POST /v1/completions back to back for a fixed time; reports
// throughput (requests/s, generated tokens/s), latency p50/p90/p99, errors and lost requests.
//
//   node bench/http_load.mjs --url http://127.0.0.1:8080/v1 [--clients 16] [--duration 60]
//        [--max-tokens 32] [--api-key-env NAME] [--json out.json] [--label text]
//
// A request counts as an error when the answer is not HTTP 200 with a completion, and as lost when
// it was sent but neither answered nor failed by the end (after a grace period of --grace s).
// Exit status 1 when there were errors or lost requests. Node's http module only (no packages).
import http from "node:http";
import { writeFileSync } from "node:fs";

function parseArgs(argv) {
  const a = { url: "http://127.0.0.1:8080/v1", clients: 16, duration: 60, maxTokens: 32, grace: 120,
              apiKeyEnv: "", json: "", label: "", timeout: 300 };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    const num = (name) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${k}: expected a positive number, got '${v}'`);
      i++;
      return n;
    };
    switch (k) {
      case "--url": a.url = v; i++; break;
      case "--clients": a.clients = num(); break;
      case "--duration": a.duration = num(); break;
      case "--max-tokens": a.maxTokens = num(); break;
      case "--grace": a.grace = num(); break;
      case "--timeout": a.timeout = num(); break;
      case "--api-key-env": a.apiKeyEnv = v; i++; break;
      case "--json": a.json = v; i++; break;
      case "--label": a.label = v; i++; break;
      case "-h": case "--help":
        console.log("usage: node bench/http_load.mjs --url http://HOST:PORT/v1 [--clients 16] [--duration 60] " +
                    "[--max-tokens 32] [--api-key-env NAME] [--json FILE] [--label TEXT]");
        process.exit(0);
      default: throw new Error(`unknown option '${k}' (see --help)`);
    }
  }
  return a;
}

// Code-completion-shaped prompts: different lengths, so requests do not all look alike.
const PROMPTS = [
  "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
  "#include <vector>\n\nint sum(const std::vector<int>& v) {\n  int total = 0;\n",
  "function debounce(fn, ms) {\n  let timer;\n  return (...args) => {\n",
  "fn parse_header(line: &str) -> Option<(String, String)> {\n    let mut parts = line.splitn(2, ':');\n",
  "import os\nimport sys\n\n\ndef main(argv):\n    if len(argv) < 2:\n        print('usage: tool FILE')\n",
  "SELECT name, COUNT(*) AS n\nFROM orders\nWHERE created_at > NOW() - INTERVAL '7 days'\n",
  "class LruCache:\n    def __init__(self, capacity):\n        self.capacity = capacity\n        self.items = {}\n\n    def get(self, key):\n",
  "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfor i := 0; i < 10; i++ {\n",
];

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

async function main() {
  const a = parseArgs(process.argv);
  const base = new URL(a.url.replace(/\/+$/, "") + "/completions");
  const key = a.apiKeyEnv ? process.env[a.apiKeyEnv] || "" : "";
  const agent = new http.Agent({ keepAlive: true, maxSockets: a.clients });
  const stats = { sent: 0, ok: 0, errors: 0, tokens: 0, latencies: [], errorSamples: [] };
  const endAt = Date.now() + a.duration * 1000;
  const t0 = Date.now();

  function one(prompt) {
    return new Promise((resolve) => {
      const body = JSON.stringify({ prompt, max_tokens: a.maxTokens, temperature: 0, stream: false });
      const headers = { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) };
      if (key) headers.Authorization = `Bearer ${key}`;
      const start = process.hrtime.bigint();
      const req = http.request(base, { method: "POST", agent, headers, timeout: a.timeout * 1000 }, (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (data += c));
        res.on("end", () => {
          const ms = Number(process.hrtime.bigint() - start) / 1e6;
          let j = null;
          try { j = JSON.parse(data); } catch { /* counted below */ }
          if (res.statusCode === 200 && j && Array.isArray(j.choices) && typeof j.choices[0]?.text === "string") {
            resolve({ ok: true, ms, tokens: j.usage?.completion_tokens ?? 0 });
          } else {
            resolve({ ok: false, why: `HTTP ${res.statusCode}: ${data.slice(0, 200)}` });
          }
        });
        res.on("error", (e) => resolve({ ok: false, why: `response: ${e.message}` }));
      });
      req.on("timeout", () => req.destroy(new Error(`no answer within ${a.timeout} s`)));
      req.on("error", (e) => resolve({ ok: false, why: `request: ${e.message}` }));
      req.end(body);
    });
  }

  async function client(id) {
    let k = id;
    while (Date.now() < endAt) {
      stats.sent++;
      const r = await one(PROMPTS[k++ % PROMPTS.length]);
      if (r.ok) {
        stats.ok++;
        stats.tokens += r.tokens;
        stats.latencies.push(r.ms);
      } else {
        stats.errors++;
        if (stats.errorSamples.length < 5) stats.errorSamples.push(r.why);
      }
    }
  }

  const all = Promise.all(Array.from({ length: a.clients }, (_, i) => client(i)));
  // Requests still open after the grace period are lost.
  let timedOut = false;
  await Promise.race([all, new Promise((r) => setTimeout(() => { timedOut = true; r(); },
                                                         (a.duration + a.grace) * 1000))]);
  const wall = (Date.now() - t0) / 1000;
  agent.destroy();
  const lost = stats.sent - stats.ok - stats.errors;
  const lat = stats.latencies.sort((x, y) => x - y);
  const result = {
    label: a.label, url: a.url, clients: a.clients, duration_s: a.duration, wall_s: +wall.toFixed(2),
    max_tokens: a.maxTokens, requests: stats.sent, ok: stats.ok, errors: stats.errors, lost,
    requests_per_s: +(stats.ok / wall).toFixed(3), tokens_per_s: +(stats.tokens / wall).toFixed(2),
    completion_tokens: stats.tokens,
    latency_ms: { p50: +percentile(lat, 50).toFixed(1), p90: +percentile(lat, 90).toFixed(1),
                  p99: +percentile(lat, 99).toFixed(1), max: +(lat[lat.length - 1] ?? NaN).toFixed(1) },
    error_samples: stats.errorSamples, timed_out: timedOut,
  };
  console.log(`${a.label ? a.label + ": " : ""}${a.clients} clients, ${wall.toFixed(1)} s: ${stats.ok} ok, ` +
              `${stats.errors} errors, ${lost} lost; ${result.requests_per_s} req/s, ${result.tokens_per_s} tok/s; ` +
              `latency p50 ${result.latency_ms.p50} ms, p99 ${result.latency_ms.p99} ms`);
  for (const e of stats.errorSamples) console.log(`  error: ${e}`);
  if (a.json) writeFileSync(a.json, JSON.stringify(result, null, 2) + "\n");
  process.exit(stats.errors === 0 && lost === 0 && stats.ok > 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(`http_load: ${e.message}`);
  process.exit(2);
});
