// The page <-> Worker protocol (www/lib/protocol.js): argument checks, the
// message validators, and EngineClient against a fake Worker: timeouts,
// clone failures, traps, crashes, and that nothing stays pending on any path.
// Run: node --test tests/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_CALL_TIMEOUT_MS, DEFAULT_LOAD_TIMEOUT_MS, EngineClient, MAX_HISTORY_IDS, MAX_K, MAX_RULES_BYTES, callArgs, callMessage,
  checkFromWorker, checkToWorker, describe, encoderMessage, errorResultMessage, failedMessage, itemIds, loadMessage, loadedMessage,
  milliseconds, plainError, publicKeyList, readOptions, resultMessage, wholeK,
} from '../../www/lib/protocol.js';
import { BundleError, InputError, UnavailableError } from '../../www/lib/errors.js';
import { FakeClock, FakeWorker, flush, healthyEngine, trapMessage } from './fakes.mjs';

const codeOf = (run) => {
  try {
    run();
  } catch (error) {
    return `${error.name} ${error.code}`;
  }
  return 'no error';
};

// --- arguments ----------------------------------------------------------------

test('k: a whole number from 1 to 1000; anything else is invalid_k', () => {
  for (const k of [1, 10, MAX_K]) assert.equal(wholeK(k), k);
  for (const k of [0, -1, 1.5, NaN, Infinity, '10', 10n, null, undefined, {}, [], MAX_K + 1, true]) {
    assert.equal(codeOf(() => wholeK(k)), 'InputError invalid_k', String(k));
  }
  assert.equal(wholeK(2000, 2 * MAX_K), 2000);
  assert.match(codeOf(() => wholeK(10n)), /invalid_k/);
});

test('ids: arrays, Proxy arrays (reactive frameworks) and iterables are copied into plain strings', () => {
  const reactive = new Proxy(['1', '50', '181'], {});
  const copy = itemIds(reactive);
  assert.deepEqual(copy, ['1', '50', '181']);
  assert.ok(Array.isArray(copy) && !require_proxy(copy));
  assert.doesNotThrow(() => structuredClone(copy));
  assert.throws(() => structuredClone(reactive), { name: 'DataCloneError' });
  assert.deepEqual(itemIds(new Set(['a', 'b'])), ['a', 'b']);
  assert.deepEqual(itemIds([]), []);
  // A Proxy with traps that count reads: every element is read once, through the Proxy.
  let reads = 0;
  const counted = new Proxy(['x', 'y'], { get(target, key, receiver) { reads++; return Reflect.get(target, key, receiver); } });
  assert.deepEqual(itemIds(counted), ['x', 'y']);
  assert.ok(reads > 0);
});

function require_proxy(value) {
  // A structured clone of a Proxy throws: a plain copy clones.
  try {
    structuredClone(value);
    return false;
  } catch {
    return true;
  }
}

test('ids: a function, a string, null, numbers, a revoked Proxy or too many ids are invalid_argument', () => {
  const { proxy, revoke } = Proxy.revocable(['1'], {});
  revoke();
  const throwing = new Proxy(['1'], { get() { throw new Error('trap'); } });
  const tooMany = Array.from({ length: MAX_HISTORY_IDS + 1 }, (_, i) => String(i));
  function* endless() { for (let i = 0; ; i++) yield String(i); }
  for (const history of [() => ['1'], '1,2', null, 42, [1, 2], ['1', undefined], { length: 1, 0: '1' }, proxy, throwing,
    tooMany, endless()]) {
    assert.equal(codeOf(() => itemIds(history)), 'InputError invalid_argument', describe(history));
  }
  assert.match(codeOf(() => itemIds(() => {}, 'history')), /invalid_argument/);
});

test('callArgs checks each method\'s arguments and copies them', () => {
  assert.deepEqual(callArgs('similar', ['50', 10, null]), ['50', 10, undefined, undefined]);
  assert.deepEqual(callArgs('similar', ['50', 10, 'Drama']), ['50', 10, 'Drama', undefined]);
  assert.deepEqual(callArgs('nextUp', [new Proxy(['1'], {}), 5, undefined]), [['1'], 5, true, undefined]);
  assert.deepEqual(callArgs('search', ['star', 5, null]), ['star', 5, [], undefined]);
  // Rules are copied as plain JSON data (a reactive Proxy works); the engine checks their meaning.
  const rules = new Proxy({ filter: { available: true }, exclude: ['7'] }, {});
  assert.deepEqual(callArgs('forHistory', [['1'], 5, rules]), [['1'], 5, { filter: { available: true }, exclude: ['7'] }]);
  for (const bad of ['cheap', [1], 5, { toJSON() { throw new Error('no'); } }, { big: 'x'.repeat(MAX_RULES_BYTES) }]) {
    assert.equal(codeOf(() => callArgs('similar', ['50', 10, undefined, bad])), 'InputError invalid_argument');
  }
  assert.deepEqual(callArgs('items', []), []);
  assert.equal(codeOf(() => callArgs('similar', [50, 10])), 'InputError invalid_argument');
  assert.equal(codeOf(() => callArgs('similar', ['50', 10, 7])), 'InputError invalid_argument');
  assert.equal(codeOf(() => callArgs('similar', ['50', 10n])), 'InputError invalid_k');
  assert.equal(codeOf(() => callArgs('nextUp', [['1'], 5, 'yes'])), 'InputError invalid_argument');
  assert.equal(codeOf(() => callArgs('search', [undefined, 5])), 'InputError invalid_argument');
  assert.equal(codeOf(() => callArgs('forHistory', [() => {}, 5])), 'InputError invalid_argument');
  assert.equal(codeOf(() => callArgs('drop', [])), 'InputError bad_method');
  assert.equal(codeOf(() => callArgs('__proto__', [])), 'InputError bad_method');
  assert.equal(codeOf(() => callArgs('similar', ['1', 1500], { maxK: 2000 })), 'no error');
});

test('options: an object or undefined; null, arrays and strings are invalid_argument; getters that throw too', () => {
  assert.deepEqual(readOptions(undefined, ['k']), {});
  assert.deepEqual(readOptions({ k: 5, other: 1 }, ['k']), { k: 5 });
  for (const bad of [null, [], 'k', 5, () => {}]) assert.equal(codeOf(() => readOptions(bad, ['k'])), 'InputError invalid_argument');
  const hostile = { get k() { throw new TypeError('no'); } };
  assert.equal(codeOf(() => readOptions(hostile, ['k'])), 'InputError invalid_argument');
});

test('public keys: base64 of exactly 32 bytes; timeouts: whole ms', () => {
  const key = Buffer.alloc(32, 7).toString('base64');
  assert.deepEqual(publicKeyList([key]), [key]);
  assert.deepEqual(publicKeyList(undefined), []);
  const strayBits = `${key.slice(0, 42)}B=`; // decodes to the same 32 bytes, but not canonical
  for (const bad of ['abc', [Buffer.alloc(31).toString('base64')], [Buffer.alloc(33).toString('base64')], [`${key} `], [42], key,
    [strayBits]]) {
    assert.equal(codeOf(() => publicKeyList(bad)), 'InputError invalid_argument', String(bad));
  }
  assert.equal(milliseconds(5, 'x'), 5);
  assert.equal(milliseconds(0, 'x', 0), 0);
  for (const bad of [0, -1, 1.5, '5', 2 ** 31, NaN]) assert.equal(codeOf(() => milliseconds(bad, 'x')), 'InputError invalid_argument');
});

test('describe never throws', () => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  for (const value of [10n, Symbol('s'), Object.create(null), proxy, () => {}, 'x'.repeat(100), null, undefined]) {
    assert.equal(typeof describe(value), 'string');
  }
});

// --- messages -------------------------------------------------------------------

test('message builders produce what the validators accept', () => {
  const load = loadMessage({ wasm: {}, channel: 'https://x/c/', version: '1', limits: { maxItems: 5 }, publicKeys: [] });
  assert.equal(checkToWorker(load), null);
  assert.equal(checkToWorker(callMessage(3, 'similar', ['1', 10])), null);
  assert.equal(checkFromWorker(loadedMessage({ version: '1' })), null);
  assert.equal(checkFromWorker(failedMessage(new BundleError('bundle_parity_failed', 'p'))), null);
  assert.equal(checkFromWorker(resultMessage(3, { items: [] })), null);
  assert.equal(checkFromWorker(errorResultMessage(3, new Error('x'))), null);
  assert.deepEqual(plainError(new BundleError('engine_trap', 'boom')), { code: 'engine_trap', message: 'boom' });
  assert.deepEqual(plainError(new DOMException('no', 'DataCloneError')), { code: 'internal', message: 'DataCloneError: no' });
  assert.deepEqual(plainError('text'), { code: 'internal', message: 'text' });
});

test('validators refuse malformed messages', () => {
  const load = loadMessage({ wasm: {}, channel: 'https://x/c/', version: '1' });
  assert.equal(checkToWorker(null).code, 'invalid_argument');
  assert.equal(checkToWorker({ type: 'call', id: -1, method: 'similar', args: [] }).code, 'invalid_argument');
  assert.equal(checkToWorker({ type: 'call', id: 1, method: 'free', args: [] }).code, 'bad_method');
  assert.equal(checkToWorker({ type: 'call', id: 1, method: 'similar', args: 'x' }).code, 'invalid_argument');
  assert.equal(checkToWorker({ type: 'load', channel: 1, version: '1' }).code, 'invalid_argument');
  assert.equal(checkToWorker({ type: 'load', channel: 'c', version: '1', publicKeys: [1] }).code, 'invalid_argument');
  assert.equal(checkToWorker({ ...load, build: 'tiny' }).code, 'invalid_argument', 'a build is core or full');
  assert.equal(checkToWorker({ ...load, waitForFull: 'yes' }).code, 'invalid_argument');
  assert.equal(loadMessage({ channel: 'c', version: '1' }).build, 'full', 'full unless said otherwise');
  assert.equal(checkToWorker(encoderMessage({ wasm: {} })), null);
  assert.deepEqual(encoderMessage({ error: Object.assign(new Error('HTTP 404'), { code: 'wasm_unavailable' }) }),
    { type: 'encoder', error: { code: 'wasm_unavailable', message: 'HTTP 404' } });
  assert.equal(checkToWorker({ type: 'encoder' }).code, 'invalid_argument');
  assert.equal(checkToWorker({ type: 'eval' }).code, 'invalid_argument');
  assert.notEqual(checkFromWorker({ type: 'result', id: 'x' }), null);
  assert.notEqual(checkFromWorker({ type: 'result', id: 1, error: 'boom' }), null);
  assert.notEqual(checkFromWorker({ type: 'failed', error: { code: 1, message: 'x' } }), null);
  assert.notEqual(checkFromWorker({ type: 'loaded' }), null);
  assert.notEqual(checkFromWorker([]), null);
});

// --- EngineClient -----------------------------------------------------------------

function client(script, options = {}) {
  const clock = new FakeClock();
  const worker = new FakeWorker(script);
  const events = [];
  const engine = new EngineClient(worker, {
    version: '1', load: { wasm: {}, channel: 'https://x/c/', limits: { maxItems: 9 }, publicKeys: ['k'] }, clock,
    onTrap: (error) => events.push(['trap', error.code]),
    onCrash: (error) => events.push(['crash', error.code]),
    onTerminated: () => events.push(['terminated']),
    ...options,
  });
  return { clock, worker, engine, events };
}

const settled = (promise) => promise.then((value) => ({ value }), (error) => ({ error }));

test('load sends limits and public keys, and resolves to the info; calls resolve to values', async () => {
  const { worker, engine, clock } = client(healthyEngine('1'));
  const info = await engine.load();
  assert.equal(info.version, '1');
  assert.deepEqual(worker.sent[0], { type: 'load', wasm: {}, build: 'full', waitForFull: false, channel: 'https://x/c/', version: '1', limits: { maxItems: 9 }, publicKeys: ['k'] });
  const answer = await engine.call('similar', ['1', 10, undefined]);
  assert.equal(answer.version, '1');
  assert.equal(engine.pendingCount, 0);
  assert.ok(!worker.terminated);
});

test('one timer watches every request: set once for calls in a row, it fires once with nothing due and is not set again', async () => {
  const { worker, engine, clock, events } = client(healthyEngine('1'), { loadTimeoutMs: 5_000, callTimeoutMs: 1_000 });
  await engine.load();
  assert.equal(clock.pendingTimers, 1, 'the load\'s');
  for (let i = 0; i < 5; i++) await engine.call('similar', [String(i), 10]);
  assert.equal(clock.pendingTimers, 1, 'the calls\' deadlines come before the load\'s: one timer, moved to the first');
  await clock.advance(1_000);
  assert.equal(clock.pendingTimers, 0, 'nothing pending: not set again');
  assert.ok(!worker.terminated);
  assert.deepEqual(events, []);
  assert.equal((await engine.call('similar', ['1', 10])).version, '1', 'and a later call sets it again');
  assert.equal(clock.pendingTimers, 1);
});

test('a ranking sent as catalog rows and scores comes back as items of the loaded catalog', async () => {
  const catalog = { ids: ['a', 'b', 'c'], titles: ['Apple', 'Banana', 'Cherry'] };
  const { engine } = client((message) => {
    if (message.type === 'load') return { type: 'loaded', info: { version: '1', catalog } };
    const rows = Uint32Array.from(message.args[0] === 'bad' ? [2, 7] : [2, 0]);
    return { type: 'result', id: message.id, value: { version: '1', rows, scores: Float32Array.from([0.5, 0.25]), skipped: ['x'], source: 'similar' } };
  });
  await engine.load();
  assert.deepEqual(await engine.call('similar', ['b', 2, undefined]), {
    version: '1', items: [{ id: 'c', score: 0.5, title: 'Cherry' }, { id: 'a', score: 0.25, title: 'Apple' }], skipped: ['x'], source: 'similar',
  });
  await assert.rejects(engine.call('similar', ['bad', 2, undefined]), { code: 'worker_failed', message: /outside its catalog/ });
});

test('a call whose arguments cannot be cloned rejects with invalid_argument naming it, and leaves nothing pending', async () => {
  const { engine, worker, clock } = client(healthyEngine('1'));
  await engine.load();
  const outcome = await settled(engine.call('nextUp', [() => ['1'], 10, true]));
  assert.ok(outcome.error instanceof InputError);
  assert.equal(outcome.error.code, 'invalid_argument');
  assert.match(outcome.error.message, /^history cannot be sent to the engine Worker/);
  const proxied = await settled(engine.call('forHistory', [new Proxy(['1'], {}), 10]));
  assert.equal(proxied.error.code, 'invalid_argument');
  assert.equal(engine.pendingCount, 0);
  assert.ok(!worker.terminated, 'the Worker is not harmed');
  assert.equal((await engine.call('similar', ['1', 10])).version, '1', 'and keeps answering');
  await engine.retire();
  assert.ok(worker.terminated, 'retire() settles: nothing was left pending');
});

test('a call timeout rejects with call_timeout, fails the rest, terminates the Worker and reports a crash', async () => {
  const { engine, worker, clock, events } = client((message) => (message.type === 'load' ? healthyEngine('1')(message) : 'hang'),
    { callTimeoutMs: 1_000 });
  await engine.load();
  const first = settled(engine.call('similar', ['1', 10]));
  await clock.advance(500);
  const second = settled(engine.call('similar', ['2', 10]));
  await clock.advance(500);
  assert.equal((await first).error.code, 'call_timeout');
  assert.ok((await first).error instanceof UnavailableError);
  assert.equal((await second).error.code, 'worker_failed');
  assert.ok(worker.terminated);
  assert.equal(engine.pendingCount, 0);
  assert.equal(clock.pendingTimers, 0);
  assert.deepEqual(events, [['terminated'], ['crash', 'worker_failed']]);
  assert.equal((await settled(engine.call('similar', ['1', 10]))).error.code, 'worker_failed', 'a dead client fails fast');
});

test('each call times out at its own deadline, whatever was answered before it', async () => {
  let hang = false;
  const { engine, worker, clock } = client((message) => (hang ? 'hang' : healthyEngine('1')(message)), { callTimeoutMs: 1_000 });
  await engine.load();
  await engine.call('similar', ['1', 10]); // answered at once, at t = 0
  await clock.advance(600);
  hang = true;
  const late = settled(engine.call('similar', ['2', 10])); // due at t = 1,600
  await clock.advance(900);
  assert.equal(engine.pendingCount, 1, 'not timed out by the earlier call\'s deadline');
  assert.ok(!worker.terminated);
  await clock.advance(100);
  assert.equal((await late).error.code, 'call_timeout');
  assert.ok(worker.terminated);
});

test('a load timeout fails the load with load_timeout (transient) and terminates the Worker; no crash report', async () => {
  const { engine, worker, clock, events } = client(() => 'hang', { loadTimeoutMs: 2_000 });
  const loading = settled(engine.load());
  await clock.advance(1_999);
  assert.equal(engine.pendingCount, 1);
  await clock.advance(1);
  const { error } = await loading;
  assert.equal(error.code, 'load_timeout');
  assert.ok(error instanceof UnavailableError);
  assert.ok(worker.terminated);
  assert.deepEqual(events, [['terminated']]);
});

test('defaults: 60 s to load, 30 s per call', () => {
  assert.equal(DEFAULT_LOAD_TIMEOUT_MS, 60_000);
  assert.equal(DEFAULT_CALL_TIMEOUT_MS, 30_000);
});

test('a trap during a call fails it with engine_trap, the others with worker_failed, and reports the trap', async () => {
  let callsSeen = 0;
  const { engine, worker, events, clock } = client((message, w) => {
    if (message.type === 'load') return healthyEngine('1')(message);
    callsSeen++;
    if (callsSeen === 1) return 'hang';
    return trapMessage(message.id);
  });
  await engine.load();
  const waiting = settled(engine.call('similar', ['1', 10]));
  const trapped = settled(engine.call('similar', ['2', 10]));
  const { error } = await trapped;
  assert.ok(error instanceof BundleError);
  assert.equal(error.code, 'engine_trap');
  assert.equal((await waiting).error.code, 'worker_failed');
  assert.ok(worker.terminated);
  assert.deepEqual(events, [['terminated'], ['trap', 'engine_trap']]);
  assert.equal(engine.pendingCount, 0);
  assert.equal(clock.pendingTimers, 0);
});

test('a trap while loading fails the load with engine_trap (a BundleError) and reports no call trap', async () => {
  const { engine, worker, events } = client(() => ({ type: 'failed', error: { code: 'engine_trap', message: 'oom' } }));
  const { error } = await settled(engine.load());
  assert.ok(error instanceof BundleError);
  assert.equal(error.code, 'engine_trap');
  assert.ok(worker.terminated);
  assert.deepEqual(events, [['terminated']]);
});

test('a Worker crash fails everything pending and reports it; a late answer is ignored', async () => {
  const { engine, worker, events, clock } = client((message) => (message.type === 'load' ? healthyEngine('1')(message) : 'hang'));
  await engine.load();
  const a = settled(engine.call('similar', ['1', 10]));
  const b = settled(engine.call('items', []));
  worker.crash('out of memory');
  assert.equal((await a).error.code, 'worker_failed');
  assert.match((await b).error.message, /out of memory/);
  assert.deepEqual(events, [['terminated'], ['crash', 'worker_failed']]);
  worker.terminated = false; // a message already queued when it died
  worker.reply({ type: 'result', id: 0, value: 'late' });
  await flush();
  assert.equal(engine.pendingCount, 0);
  assert.equal(clock.pendingTimers, 0);
});

test('a malformed message from the Worker counts as a crash', async () => {
  const { engine, events } = client((message) => (message.type === 'load' ? { type: 'loaded' } : null));
  const { error } = await settled(engine.load());
  assert.equal(error.code, 'worker_failed');
  assert.match(error.message, /malformed message/);
  assert.deepEqual(events, [['terminated'], ['crash', 'worker_failed']]);
});

test('retire waits for calls in flight, then terminates; terminate settles everything at once', async () => {
  let answer;
  const { engine, worker } = client((message, w) => {
    if (message.type === 'load') return healthyEngine('1')(message);
    answer = () => w.reply({ type: 'result', id: message.id, value: 'done' });
    return 'hang';
  });
  await engine.load();
  const call = engine.call('similar', ['1', 10]);
  let retired = false;
  const retiring = engine.retire().then(() => { retired = true; });
  await flush();
  assert.ok(!retired && !worker.terminated, 'a call in flight keeps the Worker');
  answer();
  assert.equal(await call, 'done');
  await retiring;
  assert.ok(retired && worker.terminated);

  const other = client((message) => (message.type === 'load' ? healthyEngine('1')(message) : 'hang'));
  await other.engine.load();
  const hanging = settled(other.engine.call('similar', ['1', 10]));
  const retiringToo = other.engine.retire();
  other.engine.terminate();
  assert.equal((await hanging).error.code, 'worker_failed');
  await retiringToo;
  assert.equal(other.clock.pendingTimers, 0);
});

test('postMessage failing for another reason is worker_failed, and nothing stays pending', async () => {
  const { engine, worker, clock } = client(healthyEngine('1'));
  await engine.load();
  worker.postMessage = () => { throw new Error('port closed'); };
  const { error } = await settled(engine.call('similar', ['1', 10]));
  assert.equal(error.code, 'worker_failed');
  assert.equal(engine.pendingCount, 0);
  await clock.advance(DEFAULT_CALL_TIMEOUT_MS);
  assert.equal(clock.pendingTimers, 0, 'the watchdog finds nothing due');
});
