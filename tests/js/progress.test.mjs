// Unit tests of assets/app/progress.js (run: node --test tests/js/): the throttle that keeps a
// transfer's hundreds of reports a second from taking the page's time.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { throttleProgress } from '../../assets/app/progress.js';

test('progress is drawn at most every interval, but phase changes and the end always', () => {
  const drawn = [];
  const report = throttleProgress((p) => drawn.push(p), 60_000);
  report({ phase: 'key' });
  report({ phase: 'download', received: 1, total: 100 });
  for (let i = 2; i < 99; i++) report({ phase: 'download', received: i, total: 100 });
  report({ phase: 'reconnecting', received: 99, total: 100 });
  report({ phase: 'reconnecting', received: 99, total: 100 });
  report({ phase: 'download', received: 99, total: 100 });
  report({ phase: 'download', received: 100, total: 100 });
  assert.deepEqual(
    drawn.map((p) => `${p.phase}:${p.received ?? ''}`),
    ['key:', 'download:1', 'reconnecting:99', 'download:99', 'download:100'],
  );
});

test('after the interval the next report is drawn', async () => {
  const drawn = [];
  const report = throttleProgress((p) => drawn.push(p.sent), 20);
  report({ phase: 'upload', sent: 1, total: 10 });
  report({ phase: 'upload', sent: 2, total: 10 });
  await new Promise((resolve) => setTimeout(resolve, 30));
  report({ phase: 'upload', sent: 3, total: 10 });
  assert.deepEqual(drawn, [1, 3]);
});
