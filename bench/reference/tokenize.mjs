// llama.cpp's tokenizer as a reference, through node-llama-cpp (its prebuilt llama.cpp).
//
//   node tokenize.mjs --model FILE (--file TEXT | --text T) [--repeat N] [--special] [--ids OUT]
//
// Loads FILE vocabulary-only, tokenizes the text (no BOS/EOS; special-token texts parsed only with
// --special) and prints one JSON line: {"bytes", "n_tokens", "ms_best", "ms_median", "ms": [...]}.
// --ids OUT writes the token ids to OUT, space separated on one line (for exact comparison).
// Timing covers model.tokenize() only (the native llama_tokenize call plus the string transfer).
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
import {readFileSync, writeFileSync} from "node:fs";
import {performance} from "node:perf_hooks";

function parseArgs(argv) {
    const args = {repeat: 5, special: false};
    for (let i = 2; i < argv.length; i++) {
        const a = argv[i];
        const next = () => {
            if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
            return argv[++i];
        };
        if (a === "--model") args.model = next();
        else if (a === "--file") args.file = next();
        else if (a === "--text") args.text = next();
        else if (a === "--repeat") args.repeat = Number(next());
        else if (a === "--ids") args.ids = next();
        else if (a === "--special") args.special = true;
        else throw new Error(`unknown argument ${a}`);
    }
    if (!args.model || (args.file === undefined && args.text === undefined))
        throw new Error("usage: node tokenize.mjs --model FILE (--file TEXT | --text T) [--repeat N] [--special] [--ids OUT]");
    if (!(args.repeat >= 1)) throw new Error("--repeat must be >= 1");
    return args;
}

const args = parseArgs(process.argv);
const text = args.text !== undefined ? args.text : readFileSync(args.file, "utf8");
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath: args.model, vocabOnly: true});

let tokens = model.tokenize(text, args.special);  // warm-up
const ms = [];
for (let r = 0; r < args.repeat; r++) {
    const t0 = performance.now();
    tokens = model.tokenize(text, args.special);
    ms.push(performance.now() - t0);
}
const sorted = [...ms].sort((a, b) => a - b);
if (args.ids) writeFileSync(args.ids, Array.from(tokens).join(" ") + "\n");
console.log(JSON.stringify({
    bytes: Buffer.byteLength(text, "utf8"),
    n_tokens: tokens.length,
    ms_best: sorted[0],
    ms_median: sorted[Math.floor(sorted.length / 2)],
    ms,
}));
await model.dispose();
await llama.dispose();
