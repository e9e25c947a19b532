import * as assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatBytes, formatLatency, formatStatus, modelName, parseStatus } from '../src/status_format';

test('bytes and latencies', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(1.5 * 1024 ** 3), '1.5 GiB');
  assert.equal(formatBytes(300 * 1024 ** 2), '300 MiB');
  assert.equal(formatBytes(-1), '?');
  assert.equal(formatLatency(84.4), '84 ms');
  assert.equal(formatLatency(1530), '1.5 s');
  assert.equal(formatLatency(Number.NaN), '?');
});

test('model names lose folder and .gguf', () => {
  assert.equal(modelName('/m/qwen2.5-coder-1.5b-q8_0.gguf'), 'qwen2.5-coder-1.5b-q8_0');
  assert.equal(modelName('C:\\m\\Tiny.GGUF'), 'Tiny');
  assert.equal(modelName('name'), 'name');
});

test('ready: model, device, latency (client round trip preferred)', () => {
  const status = { state: 'ready' as const, model: '/m/coder.gguf', device: 'cuda:0 (NVIDIA H100)', memoryBytes: 2 * 1024 ** 3, lastLatencyMs: { inlineCompletion: 40, hover: 900 } };
  const view = formatStatus('running', status, 55);
  assert.equal(view.text, '$(sparkle) rapide: coder · cuda:0 · 55 ms');
  assert.equal(view.severity, 'normal');
  assert.match(view.tooltip, /device: cuda:0 \(NVIDIA H100\)/);
  assert.match(view.tooltip, /memory: 2\.0 GiB/);
  assert.match(view.tooltip, /last completion \(server\): 40 ms/);
  assert.match(view.tooltip, /last hover: 900 ms/);
  assert.equal(formatStatus('running', status).text, '$(sparkle) rapide: coder · cuda:0 · 40 ms');
  assert.equal(formatStatus('running', { state: 'ready' }).text, '$(sparkle) rapide');
});

test('loading shows progress, clamped', () => {
  assert.equal(formatStatus('running', { state: 'loading', loadPercent: 41.6 }).text, '$(loading~spin) rapide 42%');
  assert.equal(formatStatus('running', { state: 'loading', loadPercent: 140 }).text, '$(loading~spin) rapide 100%');
  assert.equal(formatStatus('running', { state: 'loading' }).text, '$(loading~spin) rapide');
});

test('no model, error, restarting and stopped are flagged', () => {
  const noModel = formatStatus('running', { state: 'no-model', message: 'model file not found: /x.gguf' });
  assert.equal(noModel.severity, 'warning');
  assert.match(noModel.tooltip, /Select Model File/);
  assert.match(noModel.tooltip, /not found: \/x\.gguf/);
  assert.equal(formatStatus('running', { state: 'error' }).severity, 'error');
  assert.equal(formatStatus('restarting', undefined).severity, 'warning');
  assert.equal(formatStatus('stopped', { state: 'ready' }).severity, 'error');
  assert.equal(formatStatus('starting', undefined).text, '$(loading~spin) rapide');
});

test('parseStatus keeps well-typed fields and rejects other shapes', () => {
  assert.equal(parseStatus(null), undefined);
  assert.equal(parseStatus({ state: 'busy' }), undefined);
  assert.equal(parseStatus('ready'), undefined);
  assert.deepEqual(parseStatus({ state: 'ready', lastLatencyMs: { hover: -1, inlineCompletion: null, codeAction: 0 } }), {
    state: 'ready',
    lastLatencyMs: { codeAction: 0 },
  });
  assert.deepEqual(parseStatus({ state: 'ready', model: 3, device: 'cpu', lastLatencyMs: { hover: 'x', inlineCompletion: 12 } }), {
    state: 'ready',
    device: 'cpu',
    lastLatencyMs: { inlineCompletion: 12 },
  });
});
