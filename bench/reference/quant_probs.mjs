// llama.cpp next-token distributions for several GGUF models in one process (node-llama-cpp
// startup dominates the cost of small models). Used by tests/inference/quant_llama_cpp_test.cpp
// to check that llama.cpp decodes rapide's quantized blocks as rapide does.
//
// For each MODEL=OUT pair: tokenizes the text (BOS when the model asks for it), evaluates the first
// --positions tokens and writes float32 little-endian probabilities [positions, n_vocab] to OUT.
// Prints one JSON line: {"ok":true,"models":[{"model":M,"positions":n,"n_vocab":v}, ...]}.
//
// usage: node quant_probs.mjs --text-file T [--positions 48] [--threads 1] MODEL=OUT...
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
import fs from "node:fs";

const args = process.argv.slice(2);
let textFile, positions = 48, threads = 1;
const pairs = [];
for (let i = 0; i < args.length; ++i) {
  const a = args[i];
  if (a === "--text-file") textFile = args[++i];
  else if (a === "--positions") positions = Number(args[++i]);
  else if (a === "--threads") threads = Number(args[++i]);
  else if (a.includes("=")) pairs.push(a.split("="));
  else throw new Error(`unknown argument ${a}`);
}
if (!textFile || pairs.length === 0) throw new Error("usage: --text-file T [--positions N] MODEL=OUT...");

const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const text = fs.readFileSync(textFile, "utf8");
const report = [];
for (const [modelPath, outPath] of pairs) {
  const model = await llama.loadModel({modelPath});
  const bos = model.tokens.bos;
  const addBos = model.tokens.shouldPrependBosToken && bos != null;
  const tokens = [...(addBos ? [bos] : []), ...model.tokenize(text, false)].slice(0, positions);
  const context = await model.createContext({contextSize: positions + 8, batchSize: positions + 8, threads});
  const seq = context.getSequence();
  const out = await seq.controlledEvaluate(tokens.map((t) => [t, {generateNext: {probabilities: true}}]));
  let vocab = 0;
  for (const o of out) vocab = Math.max(vocab, o.next.probabilities.size);
  const probs = new Float32Array(tokens.length * vocab);
  out.forEach((o, i) => {
    for (const [tok, p] of o.next.probabilities) probs[i * vocab + tok] = p;
  });
  fs.writeFileSync(outPath, Buffer.from(probs.buffer));
  report.push({model: modelPath, positions: tokens.length, n_vocab: vocab});
  await context.dispose();
  await model.dispose();
}
process.stdout.write(JSON.stringify({ok: true, models: report}) + "\n");
