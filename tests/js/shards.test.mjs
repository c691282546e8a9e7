// The page's merge of a split version's parts (lib/shards.js), against what
// one engine's ranking order and pins give.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeParts } from '../../www/lib/shards.js';

const part = (hits, pins = { rows: [], positions: [], scores: [] }) => ({
  rows: Uint32Array.from(hits, ([row]) => row),
  scores: Float32Array.from(hits, ([, score]) => score),
  pins: { rows: Uint32Array.from(pins.rows), positions: Uint32Array.from(pins.positions), scores: Float32Array.from(pins.scores) },
});
const merged = (parts, k) => {
  const { rows, scores } = mergeParts(parts, k);
  return [...rows].map((row, i) => [row, scores[i]]);
};

test('the best k of every part, higher score first, lower row first on ties', () => {
  const parts = [part([[0, 0.9], [1, 0.5], [2, 0.5]]), part([[700, 0.95], [701, 0.5], [702, 0.1]])];
  assert.deepEqual(merged(parts, 4), [[700, Math.fround(0.95)], [0, Math.fround(0.9)], [1, 0.5], [2, 0.5]]);
  assert.deepEqual(merged(parts, 10).length, 6);
  assert.deepEqual(merged([part([]), part([])], 5), []);
});

test('pins take their positions with the score the shard holding them gave; elsewhere none', () => {
  const pins = (scores) => ({ rows: [9, 5, 7], positions: [0, 2, 1], scores });
  const parts = [
    part([[1, 0.8], [2, 0.7]], pins([NaN, 0.25, NaN])), // holds row 5
    part([[8, 0.75], [10, 0.1]], pins([0.5, NaN, NaN])), // holds row 9; row 7 is excluded by the call
  ];
  // Pins in their order: 9 at 0, then 5 at 2; 7 has no score anywhere and is left out.
  assert.deepEqual(merged(parts, 4), [[9, 0.5], [1, Math.fround(0.8)], [5, 0.25], [8, 0.75]]);
  // A pin past the end goes last, and k still holds.
  assert.deepEqual(merged(parts, 2), [[9, 0.5], [1, Math.fround(0.8)]]);
});

test('a pinned row that also ranks is shown once, at its pin', () => {
  const parts = [part([[3, 0.9], [4, 0.8]], { rows: [4], positions: [0], scores: [0.8] })];
  assert.deepEqual(merged(parts, 2), [[4, Math.fround(0.8)], [3, Math.fround(0.9)]]);
});
