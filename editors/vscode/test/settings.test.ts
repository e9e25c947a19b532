import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';

import {
  expandHome,
  initializationOptions,
  isEnabledFor,
  needsRestart,
  readSettings,
  resolveServerPath,
  serverArgs,
} from '../src/settings';

function fromMap(values: Record<string, unknown>): (name: string) => unknown {
  return (name) => values[name];
}

test('defaults: plain `serve`, no problems', () => {
  const { settings, problems } = readSettings(fromMap({}));
  assert.deepEqual(problems, []);
  assert.deepEqual(serverArgs(settings), ['serve']);
  assert.equal(settings.maxTokens, 128);
  assert.equal(settings.device, 'auto');
});

test('every flag that differs from its default goes on the command line', () => {
  const { settings, problems } = readSettings(
    fromMap({
      modelPath: '/models/qwen.gguf',
      draftModelPath: '/models/draft.gguf',
      chatModelPath: '/models/chat.gguf',
      device: 'cuda',
      speculation: 'draft',
      logLevel: 'debug',
      maxTokens: 64,
    }),
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(serverArgs(settings), [
    'serve',
    '--model', '/models/qwen.gguf',
    '--draft-model', '/models/draft.gguf',
    '--chat-model', '/models/chat.gguf',
    '--device', 'cuda',
    '--speculate', 'draft',
    '--log-level', 'debug',
  ]);
});

test('paths starting with ~ are expanded', () => {
  assert.equal(expandHome('~/m.gguf', '/home/me'), path.join('/home/me', 'm.gguf'));
  assert.equal(expandHome('a~/m.gguf', '/home/me'), 'a~/m.gguf');
  assert.equal(expandHome('~/m.gguf', ''), '~/m.gguf');
});

test('bad values are replaced by the default and reported with the setting name', () => {
  const { settings, problems } = readSettings(
    fromMap({ device: 'gpu', maxTokens: 0, speculation: 3, enable: { python: 'yes' }, modelPath: ['x'] }),
  );
  assert.equal(settings.device, 'auto');
  assert.equal(settings.maxTokens, 128);
  assert.equal(settings.speculation, 'ngram');
  assert.equal(settings.modelPath, '');
  assert.deepEqual(settings.enable, { '*': true, plaintext: false, markdown: false, scminput: false });
  assert.equal(problems.length, 5);
  assert.match(problems.join('\n'), /rapide\.device: expected one of auto, cpu, cuda, got "gpu"/);
  assert.match(problems.join('\n'), /rapide\.maxTokens: expected at least 1, got 0/);
  assert.match(problems.join('\n'), /rapide\.enable: "python": expected true or false, got "yes"/);
  assert.deepEqual(serverArgs(settings), ['serve']);
});

test('enumerated settings accept exactly their values', () => {
  for (const ok of ['auto', 'cpu', 'cuda']) assert.equal(readSettings(fromMap({ device: ok })).problems.length, 0, ok);
  for (const bad of ['cuda:', 'CPU', 'cpu ', '']) assert.equal(readSettings(fromMap({ device: bad })).problems.length, 1, bad);
  for (const ok of ['ngram', 'none', 'draft']) assert.equal(readSettings(fromMap({ speculation: ok })).problems.length, 0, ok);
  assert.equal(readSettings(fromMap({ speculation: 'off' })).problems.length, 1);
});

test('a default value read back does not share the default object', () => {
  const a = readSettings(fromMap({})).settings;
  a.enable['python'] = false;
  assert.equal(readSettings(fromMap({})).settings.enable['python'], undefined);
});

test('initializationOptions carry every setting but the server path', () => {
  const { settings } = readSettings(fromMap({ serverPath: '/opt/rapide', maxTokens: 32 }));
  const init = initializationOptions(settings);
  assert.equal(init['serverPath'], undefined);
  assert.equal(init['maxTokens'], 32);
  assert.deepEqual(Object.keys(init).sort(), [
    'chatModelPath', 'device', 'draftModelPath', 'enable', 'logLevel', 'maxTokens', 'modelPath', 'speculation',
  ]);
});

test('restart only for settings that change the command line', () => {
  assert.equal(needsRestart((s) => s === 'rapide.modelPath'), true);
  assert.equal(needsRestart((s) => s === 'rapide.serverPath'), true);
  assert.equal(needsRestart((s) => s === 'rapide.maxTokens'), false);
  assert.equal(needsRestart((s) => s === 'rapide.enable'), false);
  assert.equal(needsRestart(() => false), false);
});

test('enable per language: own entry, then *, then on', () => {
  assert.equal(isEnabledFor({ '*': false, python: true }, 'python'), true);
  assert.equal(isEnabledFor({ '*': false, python: true }, 'cpp'), false);
  assert.equal(isEnabledFor({ markdown: false }, 'cpp'), true);
  assert.equal(isEnabledFor({ markdown: false }, 'markdown'), false);
});

test('server path: setting, then bundled binary, then PATH', () => {
  const ext = '/ext';
  const bundled = path.join(ext, 'bin', 'rapide');
  assert.equal(resolveServerPath(' /usr/bin/rapide ', ext, 'linux', () => true), '/usr/bin/rapide');
  assert.equal(resolveServerPath('', ext, 'linux', (f) => f === bundled), bundled);
  assert.equal(resolveServerPath('', ext, 'win32', (f) => f.endsWith('rapide.exe')), path.join(ext, 'bin', 'rapide.exe'));
  assert.equal(resolveServerPath('', ext, 'linux', () => false), 'rapide');
});
