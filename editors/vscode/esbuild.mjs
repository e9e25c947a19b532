// Bundles the extension (src/extension.ts -> dist/extension.js, vscode external) or, with
// --tests, each unit test (test/*.test.ts -> out/test/*.test.js) for node's test runner.
//   node esbuild.mjs [--production] [--tests]
import * as esbuild from 'esbuild';
import { readdirSync } from 'node:fs';

const production = process.argv.includes('--production');
const tests = process.argv.includes('--tests');

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  sourcemap: !production,
  logLevel: 'warning',
};

if (tests) {
  const entryPoints = readdirSync('test')
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => `test/${f}`);
  // Tests exercise the logic modules only: bundling fails if one pulls in `vscode`.
  await esbuild.build({ ...common, entryPoints, outdir: 'out/test', packages: 'external' });
} else {
  await esbuild.build({
    ...common,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    external: ['vscode'],
    minify: production,
  });
}
