// bench/compare.mjs: rapide against llama.cpp on the same GGUF, same threads, same prompt length
// (in tokens) and generated count. Each round runs `rapide bench --json` and
// bench/reference/llama_speed.mjs (node-llama-cpp 3.21.1) once each, the order alternating between
// rounds so that load drifting on a shared machine hits both sides alike; prints the per-round
// figures, the medians over rounds and the ratio of medians (rapide / llama.cpp) for prefill and
// decode, and the ratio to the llama-bench figures recorded in issue 12 (current llama.cpp; the
// node-llama-cpp build is older and slower per token).
//
// usage: node bench/compare.mjs --model F [--rapide PATH] [-p 512] [-n 128] [--threads 2]
//                               [--rounds 3] [--reps 1] [--bandwidth-mib 1024] [--json]
//   --rapide: the rapide binary (default: $RAPIDE_BINARY, else build/cli/rapide, else `rapide`)
//   --reps: timed repetitions inside each tool per round (each tool also runs one warm-up)
// Exit code 0 on success, 1 when either side fails (its stderr is shown), 2 for bad arguments.
import {spawnSync} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {fileURLToPath} from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");

// llama-bench (current llama.cpp) on a qwen2.5-coder-1.5b-shaped file, 2 threads, pp512 / tg128,
// measured on a 2-core AMD EPYC with AVX-512 (issue 12).
const LLAMA_BENCH_REFERENCE = {
  Q8_0: {prefill_tps: 75, decode_tps: 16.6},
  Q4_K_M: {prefill_tps: 86, decode_tps: 34.5},
};
const REFERENCE_NOTE = "llama-bench, qwen2.5-coder-1.5b shapes, 2 threads, pp512/tg128, AVX-512 EPYC (issue 12)";

function usage(msg) {
  console.error(`compare.mjs: ${msg}`);
  console.error("usage: node bench/compare.mjs --model F [--rapide PATH] [-p 512] [-n 128] [--threads 2] " +
                "[--rounds 3] [--reps 1] [--bandwidth-mib 1024] [--json]");
  process.exit(2);
}

function parseArgs(argv) {
  const a = {p: 512, n: 128, threads: 2, rounds: 3, reps: 1, bandwidthMib: 1024, json: false};
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    if (k === "--json") { a.json = true; continue; }
    const v = argv[++i];
    if (v === undefined) usage(`missing value for ${k}`);
    const int = (lo) => {
      if (!/^\d+$/.test(v) || Number(v) < lo) usage(`${k} must be an integer >= ${lo}, got '${v}'`);
      return Number(v);
    };
    switch (k) {
      case "--model": a.model = v; break;
      case "--rapide": a.rapide = v; break;
      case "-p": a.p = int(0); break;
      case "-n": a.n = int(0); break;
      case "--threads": a.threads = int(1); break;
      case "--rounds": a.rounds = int(1); break;
      case "--reps": a.reps = int(1); break;
      case "--bandwidth-mib": a.bandwidthMib = int(1); break;
      default: usage(`unknown argument ${k}`);
    }
  }
  if (!a.model) usage("--model F is required");
  if (!fs.existsSync(a.model)) usage(`model file ${a.model} does not exist`);
  if (a.p === 0 && a.n === 0) usage("-p and -n are both 0: nothing to compare");
  if (!a.rapide) {
    const built = path.join(repo, "build", "cli", "rapide");
    a.rapide = process.env.RAPIDE_BINARY || (fs.existsSync(built) ? built : "rapide");
  }
  return a;
}

function median(xs) {
  const v = xs.filter((x) => typeof x === "number");
  if (v.length === 0) return null;
  v.sort((x, y) => x - y);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

const ratio = (a, b) => (typeof a === "number" && typeof b === "number" && b > 0 ? a / b : null);
const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

function runJson(label, cmd, argv) {
  const r = spawnSync(cmd, argv, {encoding: "utf8", maxBuffer: 64 << 20});
  if (r.error || r.status !== 0) {
    console.error(`compare.mjs: ${label} failed (${r.error ? r.error.message : `exit code ${r.status}`}): ` +
                  `${cmd} ${argv.join(" ")}\n${r.stderr || ""}`);
    process.exit(1);
  }
  try {
    return JSON.parse(r.stdout.trim().split("\n").pop());
  } catch (e) {
    console.error(`compare.mjs: ${label} printed no JSON: ${r.stdout}\n${r.stderr}`);
    process.exit(1);
  }
}

const a = parseArgs(process.argv);
const common = ["-p", String(a.p), "-n", String(a.n), "--threads", String(a.threads), "--reps", String(a.reps)];
const runRapide = () => runJson("rapide bench", a.rapide,
                                ["bench", "--model", a.model, ...common, "--bandwidth-mib", String(a.bandwidthMib), "--json"]);
const runLlama = () => runJson("llama.cpp (node-llama-cpp)", process.execPath,
                               [path.join(here, "reference", "llama_speed.mjs"), "--model", a.model, ...common]);

const fmt = (x, d = 2) => (typeof x === "number" ? x.toFixed(d) : "-");
const log = (s) => { if (!a.json) console.log(s); };

const loadBefore = loadavg();
log(`model ${a.model}, ${a.threads} threads, pp${a.p} tg${a.n}, ${a.rounds} rounds (order alternating), ` +
    `load average ${loadBefore.join(" ")}`);
log("| round | first  | rapide pp | llama pp | rapide tg | llama tg | bw GB/s | load |");
log("|-------|--------|-----------|----------|-----------|----------|---------|------|");
const rounds = [];
for (let i = 0; i < a.rounds; i++) {
  const rapideFirst = i % 2 === 0;
  let rapide, llama;
  if (rapideFirst) { rapide = runRapide(); llama = runLlama(); } else { llama = runLlama(); rapide = runRapide(); }
  const round = {first: rapideFirst ? "rapide" : "llama.cpp", rapide, llama_cpp: llama, load: loadavg()[0]};
  rounds.push(round);
  log(`| ${String(i + 1).padStart(5)} | ${round.first.padEnd(6).slice(0, 6)} | ${fmt(rapide.prefill_tps).padStart(9)} | ` +
      `${fmt(llama.prefill_tps).padStart(8)} | ${fmt(rapide.decode_tps).padStart(9)} | ${fmt(llama.decode_tps).padStart(8)} | ` +
      `${fmt(rapide.bandwidth_gbps, 1).padStart(7)} | ${fmt(round.load).padStart(4)} |`);
}

const first = rounds[0].rapide;
const med = (side, key) => median(rounds.map((r) => r[side][key]));
const summary = {
  model: a.model,
  type: first.type,
  file_type: first.file_type,
  cpu: first.cpu,
  threads: a.threads,
  n_prompt: a.p,
  n_gen: a.n,
  rounds: a.rounds,
  reps: a.reps,
  load_before: loadBefore,
  load_after: loadavg(),
  rapide: {
    prefill_tps: med("rapide", "prefill_tps"),
    decode_tps: med("rapide", "decode_tps"),
    bytes_per_token: first.bytes_per_token,
    bandwidth_gbps: med("rapide", "bandwidth_gbps"),
    bandwidth_fraction: med("rapide", "bandwidth_fraction"),
  },
  llama_cpp: {
    prefill_tps: med("llama_cpp", "prefill_tps"),
    decode_tps: med("llama_cpp", "decode_tps"),
    version: rounds[0].llama_cpp.llama_cpp,
  },
};
summary.ratio = {
  prefill: ratio(summary.rapide.prefill_tps, summary.llama_cpp.prefill_tps),
  decode: ratio(summary.rapide.decode_tps, summary.llama_cpp.decode_tps),
};
const ref = LLAMA_BENCH_REFERENCE[first.file_type];
summary.llama_bench_reference = ref ? {
  ...ref,
  note: REFERENCE_NOTE,
  comparable: a.p === 512 && a.n === 128 && a.threads === 2,
  ratio_prefill: ratio(summary.rapide.prefill_tps, ref.prefill_tps),
  ratio_decode: ratio(summary.rapide.decode_tps, ref.decode_tps),
} : null;
summary.per_round = rounds;

if (a.json) {
  console.log(JSON.stringify(summary));
} else {
  const s = summary;
  console.log("");
  console.log(`median     rapide pp ${fmt(s.rapide.prefill_tps)} tg ${fmt(s.rapide.decode_tps)} | ` +
              `llama.cpp (${s.llama_cpp.version}) pp ${fmt(s.llama_cpp.prefill_tps)} tg ${fmt(s.llama_cpp.decode_tps)}`);
  console.log(`ratio      prefill ${fmt(s.ratio.prefill)}x   decode ${fmt(s.ratio.decode)}x   (rapide / node-llama-cpp, ratio of medians)`);
  console.log(`roofline   ${fmt(s.rapide.bytes_per_token / 1e9, 3)} GB/token, bandwidth ${fmt(s.rapide.bandwidth_gbps)} GB/s, ` +
              `rapide decode at ${fmt(100 * s.rapide.bandwidth_fraction, 1)}% of it`);
  if (ref) {
    const r = s.llama_bench_reference;
    console.log(`reference  ${REFERENCE_NOTE}: ${first.file_type} pp ${ref.prefill_tps} tg ${ref.decode_tps}; ` +
                `rapide/reference prefill ${fmt(r.ratio_prefill)}x decode ${fmt(r.ratio_decode)}x` +
                (r.comparable ? "" : " (NOT comparable: other -p/-n/--threads)"));
  } else {
    console.log(`reference  no llama-bench figure recorded for file type '${first.file_type}' (issue 12 has Q8_0 and Q4_K_M)`);
  }
  console.log(`load       ${s.load_before.join(" ")} before, ${s.load_after.join(" ")} after (1/5/15-minute load averages; ` +
              `${os.cpus().length} CPUs)`);
}
