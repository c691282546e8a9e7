// The page's merge of a split version's parts (lib/shards.js), against what
// one engine's ranking order and pins give.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShardedClient, mergeParts } from '../../www/lib/shards.js';
import { FakeWorker, flush } from './fakes.mjs';

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

// Two fake shards of a 4-item version: shard 0 holds rows 0-1, shard 1 rows 2-3.
function fakeShards({ holdScan = false, hooks = {} } = {}) {
  const held = [];
  const script = (index) => (message, worker) => {
    if (message.type === 'load') {
      const catalog = index === 0 ? { ids: ['a', 'b', 'c', 'd'], titles: ['A', 'B', 'C', 'D'] } : null;
      return { type: 'loaded', info: { version: '1', models: ['similar'], catalog, loadMs: 1, wasmBytes: 10 + index, resources: [] } };
    }
    const answer = (value) => ({ type: 'result', id: message.id, value });
    const [method, args] = message.args;
    switch (message.method) {
      case 'gramPart': return answer(undefined);
      case 'splitParityCases': return answer([]);
      case 'queryPart': return answer({ fallback: false, part: index === 0 ? Float64Array.of(1, 0) : null });
      case 'scanPart': {
        const rows = index === 0 ? [1, 0] : [3, 2];
        const value = { version: '1', rows: Uint32Array.from(rows), scores: Float32Array.of(0.5 + index, 0.1), skipped: [], source: method,
          pins: { rows: new Uint32Array(0), positions: new Uint32Array(0), scores: new Float32Array(0) }, k: args[1] };
        if (holdScan && index === 1) {
          held.push(() => worker.reply(answer(value)));
          return 'hang';
        }
        return answer(value);
      }
      default: return answer({ wasmBytes: 10 + index });
    }
  };
  const workers = [new FakeWorker(script(0)), new FakeWorker(script(1))];
  return { workers, held, client: new ShardedClient(workers, { version: '1', load: {}, ...hooks }) };
}

test('a split ranking: the summed query to every shard, their rows merged into items', async () => {
  const { workers, client } = fakeShards();
  await client.load();
  assert.equal(client.info.wasmBytes, 21);
  const answer = await client.call('similar', ['a', 3, undefined, undefined]);
  assert.deepEqual(answer.items.map((item) => item.id), ['d', 'b', 'a']);
  const scans = workers.map((worker) => worker.sent.find((m) => m.method === 'scanPart'));
  for (const scan of scans) assert.deepEqual([...scan.args[2]], [1, 0], 'every shard gets the summed query');
  assert.deepEqual(await client.call('memory', []), { wasmBytes: 21, shards: [{ wasmBytes: 10 }, { wasmBytes: 11 }] });
});

test('retire waits for a call between its steps: an idle shard is not terminated alone', async () => {
  const { workers, held, client } = fakeShards({ holdScan: true });
  await client.load();
  const answer = client.call('similar', ['a', 2, undefined, undefined]);
  await flush();
  const retired = client.retire();
  await flush();
  assert.equal(held.length, 1, 'shard 1 has not answered its scan');
  assert.ok(!workers[0].terminated && !workers[1].terminated, 'shard 0 is idle, and still running');
  held[0]();
  assert.deepEqual((await answer).items.map((item) => item.id), ['d', 'b']);
  await retired;
  assert.ok(workers.every((worker) => worker.terminated), 'then every shard is terminated');
});

test('a shard that crashes takes the version down, reported once', async () => {
  const crashes = [];
  const { workers, client } = fakeShards({ hooks: { onCrash: (error) => crashes.push(error.code) } });
  await client.load();
  workers[1].crash();
  assert.deepEqual(crashes, ['worker_failed']);
  assert.ok(client.terminated && workers.every((worker) => worker.terminated));
  await assert.rejects(client.call('similar', ['a', 2, undefined, undefined]), { code: 'worker_failed' });
});
