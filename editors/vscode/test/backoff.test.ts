import * as assert from 'node:assert/strict';
import { test } from 'node:test';

import { DEFAULT_BACKOFF, RestartPolicy } from '../src/backoff';

test('delays double from 1 s and the fifth crash in the window gives up', () => {
  const policy = new RestartPolicy();
  const delays: number[] = [];
  let t = 0;
  for (let i = 0; i < 4; i++) {
    const d = policy.onCrash(t);
    assert.ok(d.restart, `crash ${i + 1} restarts`);
    delays.push(d.delayMs);
    t += 1000;
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000]);
  assert.deepEqual(policy.onCrash(t), { restart: false, crashesInWindow: 5 });
});

test('the delay is capped', () => {
  const policy = new RestartPolicy({ baseDelayMs: 1000, maxDelayMs: 3000, windowMs: 60_000, maxCrashes: 10 });
  const delays = [0, 1, 2, 3, 4].map((i) => {
    const d = policy.onCrash(i);
    return d.restart ? d.delayMs : -1;
  });
  assert.deepEqual(delays, [1000, 2000, 3000, 3000, 3000]);
});

test('crashes older than the window are forgotten', () => {
  const policy = new RestartPolicy();
  for (let i = 0; i < 4; i++) policy.onCrash(i);
  const later = policy.onCrash(DEFAULT_BACKOFF.windowMs + 10);
  assert.deepEqual(later, { restart: true, delayMs: 1000, crashesInWindow: 1 });
});

test('reset forgets everything', () => {
  const policy = new RestartPolicy();
  for (let i = 0; i < 5; i++) policy.onCrash(i);
  policy.reset();
  assert.deepEqual(policy.onCrash(10), { restart: true, delayMs: 1000, crashesInWindow: 1 });
});

test('invalid options are rejected', () => {
  assert.throws(() => new RestartPolicy({ baseDelayMs: 0, maxDelayMs: 10, windowMs: 10, maxCrashes: 1 }), /invalid back-off/);
  assert.throws(() => new RestartPolicy({ baseDelayMs: 10, maxDelayMs: 5, windowMs: 10, maxCrashes: 1 }), /invalid back-off/);
});
