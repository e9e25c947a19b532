// llama.cpp reference for rapide's model tests: loads a GGUF with node-llama-cpp (its prebuilt
// CPU llama.cpp) and writes, for the text's tokens,
//   - the next-token probability distribution at each of the first --positions positions
//     (float32 little-endian, [positions, n_vocab], token order) to --probs-out,
//   - greedy continuation tokens (--greedy N) after the first --greedy-prompt tokens,
//   - llama.cpp-style perplexity (--ppl-ctx N): text tokenized once with BOS, cut into chunks of
//     N tokens, each chunk evaluated from an empty context with its first token replaced by BOS,
//     and only the second half of each chunk scored (as llama-perplexity does),
// and prints one JSON object: {n_vocab, tokens, positions, greedy_prompt, greedy, ppl, ppl_chunks}.
//
// usage: node logprobs.mjs --model F --text-file T [--positions 256] [--probs-out P]
//                          [--greedy 64] [--greedy-prompt 8] [--ppl-ctx 128] [--threads 2]
import {getLlama} from "node-llama-cpp";
import fs from "node:fs";

function parseArgs(argv) {
  const a = {positions: 256, greedy: 0, greedyPrompt: 8, pplCtx: 0, threads: 2};
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i], v = argv[i + 1];
    if (v === undefined) throw new Error(`missing value for ${k}`);
    switch (k) {
      case "--model": a.model = v; break;
      case "--text-file": a.textFile = v; break;
      case "--positions": a.positions = Number(v); break;
      case "--probs-out": a.probsOut = v; break;
      case "--greedy": a.greedy = Number(v); break;
      case "--greedy-prompt": a.greedyPrompt = Number(v); break;
      case "--ppl-ctx": a.pplCtx = Number(v); break;
      case "--threads": a.threads = Number(v); break;
      default: throw new Error(`unknown argument ${k}`);
    }
  }
  if (!a.model || !a.textFile) throw new Error("--model and --text-file are required");
  return a;
}

const args = parseArgs(process.argv);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath: args.model});
const text = fs.readFileSync(args.textFile, "utf8");
const bos = model.tokens.bos;
const addBos = model.tokens.shouldPrependBosToken && bos != null;
const tokens = [...(addBos ? [bos] : []), ...model.tokenize(text, false)];
const result = {tokens, add_bos: addBos};

const needCtx = Math.max(args.positions, args.greedyPrompt + args.greedy, args.pplCtx) + 8;
const context = await model.createContext({contextSize: needCtx, batchSize: Math.min(512, needCtx), threads: args.threads});
const seq = context.getSequence();

if (args.positions > 0) {
  const n = Math.min(args.positions, tokens.length);
  const input = tokens.slice(0, n).map((t) => [t, {generateNext: {probabilities: true}}]);
  const out = await seq.controlledEvaluate(input);
  let vocab = 0;
  for (const o of out) vocab = Math.max(vocab, o.next.probabilities.size);
  // The map holds every token of the vocabulary (probabilities of the plain softmax).
  const probs = new Float32Array(n * vocab);
  out.forEach((o, i) => {
    for (const [tok, p] of o.next.probabilities) probs[i * vocab + tok] = p;
  });
  result.n_vocab = vocab;
  result.positions = n;
  if (args.probsOut) fs.writeFileSync(args.probsOut, Buffer.from(probs.buffer));
  await seq.clearHistory();
}

if (args.greedy > 0) {
  const prompt = tokens.slice(0, args.greedyPrompt);
  const gen = [];
  for await (const t of seq.evaluate(prompt, {temperature: 0})) {
    gen.push(t);
    if (gen.length >= args.greedy) break;
  }
  result.greedy_prompt = prompt;
  result.greedy = gen;
  await seq.clearHistory();
}

if (args.pplCtx > 0) {
  const nCtx = args.pplCtx, first = nCtx / 2;
  const nChunks = Math.floor(tokens.length / nCtx);
  let nll = 0, count = 0;
  const running = [];
  for (let c = 0; c < nChunks; ++c) {
    const chunk = tokens.slice(c * nCtx, (c + 1) * nCtx);
    if (addBos) chunk[0] = bos;
    const input = chunk.map((t, j) => (j >= first && j < nCtx - 1 ? [t, {generateNext: {probabilities: true}}] : t));
    const out = await seq.controlledEvaluate(input);
    for (let j = first; j < nCtx - 1; ++j) {
      const p = out[j].next.probabilities.get(chunk[j + 1]) ?? 0;
      nll += -Math.log(p);
      ++count;
    }
    running.push(Math.exp(nll / count));
    await seq.clearHistory();
  }
  result.ppl = Math.exp(nll / count);
  result.ppl_chunks = running;
}

process.stdout.write(JSON.stringify(result) + "\n");
await context.dispose();
await model.dispose();
