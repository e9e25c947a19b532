// llama.cpp's prefill and decode speed on a GGUF (node-llama-cpp's prebuilt CPU build), measured
// the way `rapide bench` measures rapide, for bench/compare.mjs:
//   prefill: a p-token prompt evaluated into an empty sequence (batch size >= p, so one batch);
//   decode:  after an 8-token prompt, n tokens generated greedily; the clock starts when the first
//            token (sampled from the prompt's logits) is out, so it covers n single-token
//            evaluations and the sampling between them, as rapide's n forwards do.
// Token ids are drawn from a fixed-seed generator over the vocabulary (no text, no tokenizer: both
// sides get prompts of exactly p tokens). One warm-up repetition, then --reps timed ones; prints
// one JSON object {prefill_tps, decode_tps (medians), prefill_tps_reps, decode_tps_reps, threads,
// n_prompt, n_gen, reps, llama_cpp}.
//
// usage: node llama_speed.mjs --model F [-p 512] [-n 128] [--threads 2] [--reps 1]
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
import fs from "node:fs";
import path from "node:path";
import {fileURLToPath} from "node:url";

const DECODE_PROMPT_TOKENS = 8;

function parseArgs(argv) {
  const a = {p: 512, n: 128, threads: 2, reps: 1};
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i], v = argv[i + 1];
    if (v === undefined) throw new Error(`missing value for ${k}`);
    const int = () => {
      if (!/^\d+$/.test(v)) throw new Error(`${k} must be a non-negative integer, got '${v}'`);
      return Number(v);
    };
    switch (k) {
      case "--model": a.model = v; break;
      case "-p": a.p = int(); break;
      case "-n": a.n = int(); break;
      case "--threads": a.threads = int(); break;
      case "--reps": a.reps = int(); break;
      default: throw new Error(`unknown argument ${k}`);
    }
  }
  if (!a.model) throw new Error("--model is required");
  if (a.reps < 1) throw new Error("--reps must be >= 1");
  if (a.threads < 1) throw new Error("--threads must be >= 1");
  return a;
}

function median(xs) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// xorshift32: reproducible token ids without depending on Math.random.
function makeRng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

function llamaCppVersion() {
  try {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const pkg = JSON.parse(fs.readFileSync(path.join(here, "node_modules/node-llama-cpp/package.json"), "utf8"));
    return `node-llama-cpp ${pkg.version}`;
  } catch {
    return "node-llama-cpp";
  }
}

let args;
try {
  args = parseArgs(process.argv);
} catch (e) {
  console.error(`llama_speed.mjs: ${e.message}`);
  process.exit(2);
}

const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath: args.model});
let nVocab = 0;
for (const _ of model.iterateAllTokens()) nVocab++;
const rng = makeRng(1234);
const randomTokens = (k) => Array.from({length: k}, () => rng() % nVocab);

const contextSize = Math.max(args.p, DECODE_PROMPT_TOKENS + args.n) + 16;
const context = await model.createContext({
  contextSize,
  batchSize: Math.max(args.p, DECODE_PROMPT_TOKENS, 1),
  threads: args.threads,
});
const seq = context.getSequence();

const prefill = [], decode = [];
for (let rep = 0; rep <= args.reps; rep++) {  // rep 0 warms up
  if (args.p > 0) {
    await seq.clearHistory();
    const tokens = randomTokens(args.p);
    const t0 = process.hrtime.bigint();
    await seq.evaluateWithoutGeneratingNewTokens(tokens);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (rep > 0) prefill.push(args.p / s);
  }
  if (args.n > 0) {
    await seq.clearHistory();
    const prompt = randomTokens(DECODE_PROMPT_TOKENS);
    let got = 0, t0 = 0n;
    for await (const _ of seq.evaluate(prompt, {temperature: 0})) {
      if (got === 0) t0 = process.hrtime.bigint();
      got++;
      if (got > args.n) break;
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (got - 1 < args.n) throw new Error(`decode stopped after ${got - 1} of ${args.n} tokens`);
    if (rep > 0) decode.push(args.n / s);
  }
}

console.log(JSON.stringify({
  prefill_tps: median(prefill),
  decode_tps: median(decode),
  prefill_tps_reps: prefill,
  decode_tps_reps: decode,
  threads: args.threads,
  n_prompt: args.p,
  n_gen: args.n,
  reps: args.reps,
  llama_cpp: llamaCppVersion(),
}));
await context.dispose();
await model.dispose();
