// The upload lanes of transfer.js (chunkLanes): every chunk is given out exactly once, each
// lane starts on a contiguous run, and a lane that runs dry takes over the back half of the
// longest run left, so the lanes finish together. Run: node --test tests/js/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkLanes } from '../../assets/js/transfer.js';

/** Drives `parallel` lanes in the given order of turns (lane numbers, repeated until done). */
function drain(todo, parallel, turns) {
  const take = chunkLanes(todo, parallel);
  const got = Array.from({ length: parallel }, () => []);
  const done = new Set();
  const all = Array.from({ length: parallel }, (_, l) => l);
  for (let i = 0; done.size < parallel; i++) {
    // The given turns while one of their lanes is still going, then every lane in turn.
    const order = turns.some((l) => !done.has(l)) ? turns : all;
    const lane = order[i % order.length];
    assert.ok(i < 100000, 'the lanes never finish');
    if (done.has(lane)) continue;
    const n = take(lane);
    if (n === undefined) done.add(lane);
    else got[lane].push(n);
  }
  return got;
}

test('every chunk is given out once, whatever the order of turns', () => {
  for (const total of [0, 1, 2, 3, 7, 33, 205]) {
    const todo = Array.from({ length: total }, (_, i) => i);
    for (const parallel of [1, 2, 3, 4]) {
      for (const turns of [[0, 1, 2, 3].slice(0, parallel), [0], [parallel - 1, 0], [0, 0, 0, 1]]) {
        const got = drain(todo, parallel, turns.filter((l) => l < parallel));
        const all = got.flat().sort((a, b) => a - b);
        assert.deepEqual(all, todo, `${total} chunks, ${parallel} lanes, turns ${turns}`);
      }
    }
  }
});

test('lanes start on contiguous runs and the chunks of a missing-chunk list are kept', () => {
  const take = chunkLanes([3, 4, 5, 10, 11, 12], 3);
  assert.deepEqual([take(0), take(1), take(2)], [3, 5, 11]);
  assert.deepEqual([take(0), take(1), take(2)], [4, 10, 12]);
  assert.deepEqual([take(0), take(1), take(2)], [undefined, undefined, undefined]);
});

test('a lane that runs dry takes the back half of the longest run', () => {
  const take = chunkLanes(Array.from({ length: 12 }, (_, i) => i), 3); // runs 0-3, 4-7, 8-11
  for (let i = 0; i < 4; i++) assert.equal(take(0), i); // lane 0 is fast
  // Lane 1 and 2 have their 4 each; lane 0 takes the back half of the first longest (4-7).
  assert.equal(take(0), 6);
  assert.equal(take(0), 7);
  assert.equal(take(1), 4);
  assert.equal(take(1), 5);
  assert.equal(take(1), 10); // lane 1 dry: the back half of 8-11
  assert.deepEqual([take(2), take(2), take(2)], [8, 9, undefined]);
  assert.equal(take(1), 11);
  assert.equal(take(1), undefined);
});
