// Checks a built .vsix: a zip holding the manifest, the bundle (which must load the language
// client and nothing from node_modules at run time) and the README, and nothing unexpected.
//   node scripts/check-vsix.mjs dist/rapide.vsix
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { inflateRawSync } from 'node:zlib';

const file = process.argv[2];
if (file === undefined) {
  console.error('usage: node scripts/check-vsix.mjs FILE.vsix');
  process.exit(2);
}
const zip = readFileSync(file);

// Reads the central directory (zip spec, section 4.3.16 end record, 4.3.12 file headers).
function entries(buf) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file}: no zip end-of-central-directory record`);
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const out = new Map();
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error(`${file}: bad central directory entry ${n} at ${at}`);
    const method = buf.readUInt16LE(at + 10);
    const compressed = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
    const dataAt = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(dataAt, dataAt + compressed);
    out.set(name, () => (method === 0 ? raw : inflateRawSync(raw)));
    at += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

const files = entries(zip);
const names = [...files.keys()].sort();
const problems = [];
for (const want of ['extension.vsixmanifest', '[Content_Types].xml', 'extension/package.json', 'extension/dist/extension.js', 'extension/readme.md']) {
  if (!files.has(want)) problems.push(`missing ${want}`);
}
for (const name of names) {
  if (name.includes('node_modules/') || name.endsWith('.ts') || name.includes('/test/')) problems.push(`unexpected ${name}`);
}
if (files.has('extension/dist/extension.js')) {
  const bundle = files.get('extension/dist/extension.js')().toString('utf8');
  if (!bundle.includes('textDocument/inlineCompletion')) problems.push('bundle lacks the language client inline completion feature');
  if (!bundle.includes('rapide/status')) problems.push('bundle lacks rapide/status');
  const requires = [...bundle.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
  const builtin = new Set(['vscode', ...builtinModules]);
  for (const r of new Set(requires)) {
    const bare = r.replace(/^node:/, '');
    if (!builtin.has(bare)) problems.push(`bundle requires "${r}" at run time`);
  }
}
if (problems.length > 0) {
  console.error(`${file}: ${problems.join('; ')}\nentries: ${names.join(', ')}`);
  process.exit(1);
}
console.log(`${file}: ok (${names.length} entries, ${zip.length} bytes): ${names.join(', ')}`);
