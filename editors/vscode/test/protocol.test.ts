// The TypeScript constants, package.json's settings and editors/protocol.json must agree (the
// Neovim plugin's test checks its Lua constants against the same file).
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import { METHODS, PROGRESS_TOKEN, SETTINGS, SETTINGS_SECTION, SETTING_NAMES, STATUS_STATES } from '../src/protocol';

// Tests run from editors/vscode (npm test's working directory).
const root = process.cwd();
interface ProtocolJson {
  settingsSection: string;
  methods: Record<string, string>;
  progressToken: string;
  statusStates: string[];
  settings: Record<string, Record<string, unknown>>;
}
const shared = JSON.parse(readFileSync(path.join(root, '..', 'protocol.json'), 'utf8')) as ProtocolJson;
interface PackageJson {
  contributes: { configuration: { properties: Record<string, Record<string, unknown>> }; commands: { command: string }[] };
  main: string;
  engines: { vscode: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as PackageJson;

test('method names, section, progress token and states match editors/protocol.json', () => {
  assert.equal(SETTINGS_SECTION, shared.settingsSection);
  assert.deepEqual({ ...METHODS }, shared.methods);
  assert.equal(PROGRESS_TOKEN, shared.progressToken);
  assert.deepEqual([...STATUS_STATES], shared.statusStates);
});

test('settings (type, default, flag, restart, values, bounds) match editors/protocol.json', () => {
  assert.deepEqual(SETTING_NAMES, Object.keys(shared.settings));
  for (const name of SETTING_NAMES) {
    const { doc: _doc, ...want } = shared.settings[name] ?? {};
    assert.deepEqual(JSON.parse(JSON.stringify(SETTINGS[name])), want, `setting ${name}`);
  }
});

test('package.json declares every shared setting as rapide.<name> with the same type and default', () => {
  const props = pkg.contributes.configuration.properties;
  const declared = Object.keys(props).filter((k) => k !== 'rapide.trace.server');
  assert.deepEqual(declared, SETTING_NAMES.map((n) => `${SETTINGS_SECTION}.${n}`));
  for (const name of SETTING_NAMES) {
    const prop = props[`${SETTINGS_SECTION}.${name}`] ?? {};
    const spec = SETTINGS[name];
    assert.equal(prop['type'], spec.type, `rapide.${name} type`);
    assert.deepEqual(prop['default'], spec.default, `rapide.${name} default`);
    if ('minimum' in spec) assert.equal(prop['minimum'], spec.minimum, `rapide.${name} minimum`);
    if ('maximum' in spec) assert.equal(prop['maximum'], spec.maximum, `rapide.${name} maximum`);
    if ('values' in spec) {
      assert.deepEqual(prop['enum'], spec.values, `rapide.${name} enum`);
    }
  }
});

test('package.json: commands, bundle entry, pinned versions', () => {
  assert.deepEqual(
    pkg.contributes.commands.map((c) => c.command).sort(),
    ['rapide.restartServer', 'rapide.selectModel', 'rapide.showLog', 'rapide.showStatus'],
  );
  assert.equal(pkg.main, './dist/extension.js');
  for (const [name, version] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
    assert.match(version, /^\d+\.\d+\.\d+$/, `${name} must be pinned to an exact version, got ${version}`);
  }
  // @types/vscode must not promise an API newer than the engines field (vsce rejects it).
  assert.equal(`^${pkg.devDependencies['@types/vscode'] ?? ''}`, pkg.engines.vscode);
});
