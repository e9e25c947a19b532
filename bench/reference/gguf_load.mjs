// Loads a GGUF with llama.cpp (node-llama-cpp's prebuilt CPU build) and prints one JSON object:
// what llama.cpp made of the file and a few greedy tokens. Used by rapide's GGUF writer and
// make-model tests to prove llama.cpp accepts the files we write.
//   node bench/reference/gguf_load.mjs MODEL.gguf [PROMPT] [N_TOKENS]
// Exit code 0 with {"ok":true,...} on success; 1 with {"ok":false,"error":...} when loading fails.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, prompt = "Once upon a time", nArg = "8"] = process.argv.slice(2);
if (!modelPath) {
  console.error("usage: node gguf_load.mjs MODEL.gguf [PROMPT] [N_TOKENS]");
  process.exit(2);
}
const nTokens = Number.parseInt(nArg, 10);

try {
  const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
  const model = await llama.loadModel({modelPath});
  let nVocab = 0;
  for (const _ of model.iterateAllTokens()) nVocab++;
  const promptTokens = model.tokenize(prompt);
  const context = await model.createContext({contextSize: 256, threads: 1});
  const sequence = context.getSequence();
  const greedy = [];
  if (nTokens > 0) {
    for await (const token of sequence.evaluate(promptTokens, {temperature: 0})) {
      greedy.push(token);
      if (greedy.length >= nTokens) break;
    }
  }
  console.log(JSON.stringify({
    ok: true,
    architecture: model.fileInfo.metadata.general.architecture,
    n_vocab: nVocab,
    n_embd: model.embeddingVectorSize,
    train_context: model.trainContextSize,
    bos: model.tokens.bos,
    eos: model.tokens.eos,
    prompt_tokens: promptTokens,
    greedy,
  }));
  await context.dispose();
  await model.dispose();
  process.exit(0);
} catch (e) {
  console.log(JSON.stringify({ok: false, error: String(e && e.message ? e.message : e)}));
  process.exit(1);
}
