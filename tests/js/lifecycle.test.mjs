// The version lifecycle (www/lib/lifecycle.js) with fake Workers, a fake
// clock and an in-memory channel state, through the interleavings behind
// issue 9's cases 2 (traps treated as transient, forever; two bad versions
// evicting the good one) and 3 (one argument that cannot be cloned wedging
// every later update). Run: node --test tests/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VersionLifecycle, cachedVersions, LOAD_RETRY_MS, MAX_LOAD_ATTEMPTS } from '../../www/lib/lifecycle.js';
import { EngineClient } from '../../www/lib/protocol.js';
import { FakeClock, FakeStore, FakeWorker, flush, healthyEngine, loadTrap, trapMessage } from './fakes.mjs';

const CALL_TIMEOUT_MS = 1_000;
const LOAD_TIMEOUT_MS = 5_000;

/**
 * A lifecycle over `store` whose Workers follow `engines[version]` (a script
 * for FakeWorker; default: healthy). Records events, Workers started per
 * version, and the most Workers alive at once.
 */
function harness(store, engines = {}, { fusionMs = 0 } = {}) {
  const clock = new FakeClock();
  const events = [];
  const started = [];
  let peak = 0;
  const alive = () => started.filter((w) => !w.worker.terminated).length;
  const lifecycle = new VersionLifecycle({
    store, clock, fusionMs, log: { warn() {} },
    emit: (type, detail) => events.push({ type, ...detail }),
    startWorker: (version, hooks) => {
      const worker = new FakeWorker(engines[version] ?? healthyEngine(version));
      const client = new EngineClient(worker, {
        version, load: { wasm: {}, channel: 'c' }, clock, loadTimeoutMs: LOAD_TIMEOUT_MS, callTimeoutMs: CALL_TIMEOUT_MS, ...hooks,
      });
      started.push({ version, worker, client });
      peak = Math.max(peak, alive());
      return client;
    },
  });
  return {
    lifecycle, clock, events, started,
    loads: (version) => started.filter((w) => w.version === version).length,
    alive,
    get peak() { return peak; },
    rejected: () => events.filter((e) => e.type === 'modelrejected'),
    changes: () => events.filter((e) => e.type === 'modelchange'),
  };
}

const settled = (promise) => promise.then((value) => ({ value }), (error) => ({ error }));

// Announces a newly published version the way the BroadcastChannel does, and lets it settle.
async function publish(h, store, version) {
  store.publish(version);
  h.lifecycle.announceReady(version);
  await h.clock.advance(0);
}

// A script: healthy, except that calls of `method` trap.
function trapsOn(version, method) {
  const healthy = healthyEngine(version);
  return (message, worker) => (message.method === method ? trapMessage(message.id) : healthy(message, worker));
}

// --- opening ----------------------------------------------------------------------

test('start serves the channel\'s current version, records it as good, and announces it', async () => {
  const store = new FakeStore({ ready: ['2', '1'], current: '2' });
  const h = harness(store);
  await h.lifecycle.start();
  assert.equal(h.lifecycle.version, '2');
  assert.deepEqual(store.calls, [['markGood', '2']]);
  assert.deepEqual(h.changes().map((e) => [e.from, e.to]), [[null, '2']]);
  assert.equal((await h.lifecycle.call('similar', ['1', 10, undefined])).version, '2');
});

test('a pin survives a reload: start serves the persisted pin', async () => {
  const store = new FakeStore({ ready: ['2', '1'], current: '2', pinned: '1' });
  const h = harness(store);
  await h.lifecycle.start();
  assert.equal(h.lifecycle.version, '1');
  assert.equal((await h.lifecycle.versions()).pinned, '1');
  await publish(h, store, '3');
  assert.equal(h.lifecycle.version, '1', 'a pinned page ignores a newer version');
  assert.equal(await h.lifecycle.unpin(), '3');
  assert.deepEqual(store.calls.filter(([c]) => c === 'setPinned'), [['setPinned', null]]);
});

test('start with nothing that loads rejects with no_model, naming each version\'s failure', async () => {
  const store = new FakeStore({ ready: ['2', '1'], current: '2' });
  const h = harness(store, { 1: loadTrap, 2: loadTrap });
  const { error } = await settled(h.lifecycle.start('offline'));
  assert.equal(error.code, 'no_model');
  assert.match(error.message, /offline; version 2: .*trapped.*; version 1: .*trapped/);
  assert.deepEqual(store.calls.filter(([c]) => c === 'reject').map(([, v]) => v), ['2', '1']);
  const empty = harness(new FakeStore({ ready: [] }));
  assert.equal((await settled(empty.lifecycle.start())).error.code, 'no_model');
});

test('start falls back to a cached version when the current one traps while loading', async () => {
  const store = new FakeStore({ ready: ['2', '1'], current: '2', lastGood: '1' });
  const h = harness(store, { 2: loadTrap });
  await h.lifecycle.start();
  assert.equal(h.lifecycle.version, '1');
  assert.deepEqual(h.rejected().map((e) => [e.version, e.code]), [['2', 'engine_trap']]);
});

// --- case 2: traps ----------------------------------------------------------------------

test('a trap while loading rejects the version for good: not retried, the old one keeps serving', async () => {
  const store = new FakeStore({ ready: ['1'] });
  const h = harness(store, { 3: loadTrap });
  await h.lifecycle.start();
  await publish(h, store, '3');
  assert.equal(h.lifecycle.version, '1');
  assert.deepEqual(h.rejected().map((e) => [e.version, e.code]), [['3', 'engine_trap']]);
  assert.deepEqual(store.calls.filter(([c]) => c === 'reject'), [['reject', '3', 'engine_trap']]);
  await h.clock.advance(60 * 60_000);
  assert.equal(h.loads('3'), 1, 'one load attempt in an hour');
  assert.equal(h.clock.pendingTimers, 0, 'no retry scheduled');
  assert.ok(!cachedVersions(store.state).includes('3'));
  const rollback = await settled(h.lifecycle.rollback());
  assert.equal(rollback.error?.code, 'version_not_cached', 'rollback() does not land on the trapped version');
  assert.equal(h.lifecycle.version, '1');
  assert.equal((await h.lifecycle.call('similar', ['1', 10])).version, '1');
});

test('two trapping versions in a row do not evict the last good one; a new tab still opens', async () => {
  const store = new FakeStore({ ready: ['1'] });
  const h = harness(store, { 3: loadTrap, 4: loadTrap });
  await h.lifecycle.start();
  // Published back to back: version 4 is ready before version 3 has been tried.
  store.publish('3');
  store.publish('4');
  h.lifecycle.announceReady('3');
  h.lifecycle.announceReady('4');
  await h.clock.advance(0);
  assert.equal(h.lifecycle.version, '1');
  assert.deepEqual(h.rejected().map((e) => e.version).sort(), ['3', '4']);
  assert.equal(store.state.lastGood, '1');
  assert.deepEqual(cachedVersions(store.state), ['1']);
  const tab = harness(store, { 3: loadTrap, 4: loadTrap });
  await tab.lifecycle.start();
  assert.equal(tab.lifecycle.version, '1', 'a new tab opens on the last good version');
  assert.equal(tab.loads('3') + tab.loads('4'), 0, 'and does not try the rejected ones');
  assert.equal(h.peak, 2);
  await publish(h, store, '5');
  assert.equal(h.lifecycle.version, '5', 'a later good version is accepted');
});

test('a trap during a call fails it with engine_trap and restarts the version; a second trap rejects it and falls back', async () => {
  const store = new FakeStore({ ready: ['1'] });
  const h = harness(store, { 2: trapsOn('2', 'nextUp') });
  await h.lifecycle.start();
  await publish(h, store, '2');
  assert.equal(h.lifecycle.version, '2');

  const first = await settled(h.lifecycle.call('nextUp', [['1'], 10, true]));
  assert.equal(first.error.code, 'engine_trap');
  assert.equal(first.error.name, 'BundleError');
  await h.clock.advance(0);
  assert.equal(h.lifecycle.version, '2', 'the same version serves again');
  assert.equal(h.loads('2'), 2, 'from a fresh Worker');
  assert.equal(h.rejected().length, 0, 'one trap does not reject it');
  assert.equal((await h.lifecycle.call('similar', ['1', 10])).version, '2');

  const second = await settled(h.lifecycle.call('nextUp', [['1'], 10, true]));
  assert.equal(second.error.code, 'engine_trap');
  await h.clock.advance(0);
  assert.equal(h.lifecycle.version, '1', 'falls back to the version served before');
  assert.deepEqual(h.rejected().map((e) => [e.version, e.code]), [['2', 'engine_trap']]);
  assert.deepEqual(store.calls.filter(([c]) => c === 'reject'), [['reject', '2', 'engine_trap']]);
  assert.ok(!cachedVersions(store.state).includes('2'));
  assert.equal(h.alive(), 1);
  assert.ok(h.peak <= 2);
  await h.clock.advance(60_000);
  assert.equal(h.loads('2'), 2, 'the rejected version is not tried again');
});

test('a trap while the restarted version loads rejects it at once', async () => {
  const store = new FakeStore({ ready: ['1'] });
  let loadsOf2 = 0;
  const h = harness(store, {
    2: (message, worker) => {
      if (message.type === 'load' && ++loadsOf2 > 1) return loadTrap();
      return trapsOn('2', 'similar')(message, worker);
    },
  });
  await h.lifecycle.start();
  await publish(h, store, '2');
  await settled(h.lifecycle.call('similar', ['1', 10]));
  await h.clock.advance(0);
  assert.equal(h.lifecycle.version, '1');
  assert.deepEqual(h.rejected().map((e) => [e.version, e.code]), [['2', 'engine_trap']]);
});

test('a pinned version that traps twice is unpinned and rejected; rollback never lands on it', async () => {
  const store = new FakeStore({ ready: ['1'] });
  const h = harness(store, { 2: trapsOn('2', 'search') });
  await h.lifecycle.start();
  await publish(h, store, '2');
  await publish(h, store, '3');
  assert.equal(await h.lifecycle.pin('2'), '2');
  assert.equal(store.state.pinned, '2');
  for (let i = 0; i < 2; i++) {
    await settled(h.lifecycle.call('search', ['star', 10, []]));
    await h.clock.advance(0);
  }
  assert.equal(store.state.pinned, null);
  assert.equal((await h.lifecycle.versions()).pinned, null);
  assert.equal(h.lifecycle.version, '3', 'follows the channel again');
  assert.deepEqual(cachedVersions(store.state), ['3'], 'version 1 was evicted when 3 arrived; 2 is rejected');
  assert.equal((await settled(h.lifecycle.rollback())).error.code, 'version_not_cached', 'rollback does not land on 2');
  assert.equal(h.lifecycle.version, '3');
});

// --- transient failures ------------------------------------------------------------------

test('a load that fails for another reason is retried after 5, 10 and 20 s, then given up with modelrejected', async () => {
  const store = new FakeStore({ ready: ['1'] });
  const h = harness(store, { 2: (message, worker) => { if (message.type === 'load') worker.crash('renderer out of memory'); return 'hang'; } });
  await h.lifecycle.start();
  await publish(h, store, '2');
  assert.equal(h.loads('2'), 1);
  const at = [];
  for (const step of [LOAD_RETRY_MS, 2 * LOAD_RETRY_MS, 4 * LOAD_RETRY_MS]) {
    await h.clock.advance(step - 1);
    at.push(h.loads('2'));
    await h.clock.advance(1);
    at.push(h.loads('2'));
  }
  assert.deepEqual(at, [1, 2, 2, 3, 3, 4]);
  assert.equal(MAX_LOAD_ATTEMPTS, 4);
  assert.deepEqual(h.rejected().map((e) => [e.version, e.code]), [['2', 'worker_failed']]);
  assert.match(h.rejected()[0].reason, /gave up after 4 attempts/);
  await h.clock.advance(60 * 60_000);
  assert.equal(h.loads('2'), 4, 'no fifth attempt');
  assert.equal(store.calls.filter(([c]) => c === 'reject').length, 0, 'not rejected for other tabs: it was not the version\'s fault');
  assert.equal(h.lifecycle.version, '1');
  // Announced as ready again (another tab loaded it, say): worth a new try.
  h.lifecycle.announceReady('2');
  await h.clock.advance(0);
  assert.equal(h.loads('2'), 5);
});

test('a load that hangs times out (load_timeout) and is retried like any transient failure', async () => {
  let attempts = 0;
  const store = new FakeStore({ ready: ['1'] });
  const h = harness(store, { 2: (message, worker) => (message.type === 'load' && ++attempts === 1 ? 'hang' : healthyEngine('2')(message, worker)) });
  await h.lifecycle.start();
  await publish(h, store, '2');
  await h.clock.advance(LOAD_TIMEOUT_MS);
  assert.equal(h.lifecycle.version, '1');
  assert.ok(h.started.find((w) => w.version === '2').worker.terminated, 'the hung Worker is gone');
  await h.clock.advance(LOAD_RETRY_MS);
  assert.equal(h.lifecycle.version, '2');
  assert.equal(h.rejected().length, 0);
});

test('a bundle_* failure is final for every tab; one that depends on this page (format, limits) only for this one', async () => {
  const store = new FakeStore({ ready: ['1'] });
  const failing = (code) => () => ({ type: 'failed', error: { code, message: code } });
  const h = harness(store, {
    2: failing('bundle_parity_failed'), 3: failing('bundle_unsupported_format'), 4: failing('bundle_too_many_items'),
  });
  await h.lifecycle.start();
  await publish(h, store, '2');
  await publish(h, store, '3');
  await publish(h, store, '4');
  assert.deepEqual(h.rejected().map((e) => [e.version, e.code]),
    [['2', 'bundle_parity_failed'], ['3', 'bundle_unsupported_format'], ['4', 'bundle_too_many_items']]);
  assert.deepEqual(store.calls.filter(([c]) => c === 'reject').map(([, v]) => v), ['2']);
  assert.ok(store.state.ready.includes('3'), 'the newer format stays for tabs that read it');
  assert.ok(store.state.ready.includes('4'), 'a version over this page\'s limits stays for other tabs');
  h.lifecycle.announceReady('3');
  await h.clock.advance(60_000);
  assert.equal(h.loads('3'), 1, 'this tab does not try it again');
  assert.equal(h.lifecycle.version, '1');
});

// --- case 3: the Worker protocol cannot be wedged ---------------------------------------------

test('an argument that cannot be cloned fails that call only; a new version still swaps in and pin/rollback settle', async () => {
  const store = new FakeStore({ ready: ['1'] });
  const h = harness(store);
  await h.lifecycle.start();
  const fn = await settled(h.lifecycle.call('nextUp', [() => ['1'], 10, true]));
  assert.equal(fn.error.code, 'invalid_argument');
  assert.equal(fn.error.name, 'InputError');
  const proxy = await settled(h.lifecycle.call('forHistory', [new Proxy(['1'], {}), 10]));
  assert.equal(proxy.error.code, 'invalid_argument');
  assert.equal(h.lifecycle.serving.pendingCount, 0, 'nothing left pending');
  await publish(h, store, '2');
  assert.equal(h.lifecycle.version, '2', 'the next version swaps in');
  assert.equal(h.alive(), 1, 'the old Worker retired');
  assert.equal(await h.lifecycle.rollback(), '1');
  assert.equal(await h.lifecycle.pin('2'), '2');
  assert.equal(await h.lifecycle.unpin(), '2');
});

test('a call that never answers times out, so the old Worker still retires and later versions load', async () => {
  const store = new FakeStore({ ready: ['1'] });
  const healthy1 = healthyEngine('1');
  const h = harness(store, { 1: (message, worker) => (message.method === 'similar' ? 'hang' : healthy1(message, worker)) });
  await h.lifecycle.start();
  const hung = settled(h.lifecycle.call('similar', ['1', 10]));
  await publish(h, store, '2');
  assert.equal(h.lifecycle.version, '2', 'new calls go to version 2 at once');
  assert.equal(h.alive(), 2, 'version 1 waits for its call');
  store.publish('3');
  h.lifecycle.announceReady('3');
  const pinning = settled(h.lifecycle.pin('2'));
  await h.clock.advance(CALL_TIMEOUT_MS);
  assert.equal((await hung).error.code, 'call_timeout');
  assert.equal((await pinning).value, '2', 'pin() settles');
  assert.ok(h.peak <= 2, `never more than two Workers (${h.peak})`);
  assert.equal(await h.lifecycle.unpin(), '3', 'and the next version loads');
  assert.equal(h.alive(), 1);
});

test('a serving call that times out replaces the Worker with one of the same version', async () => {
  let hangOnce = true;
  const healthy = healthyEngine('1');
  const store = new FakeStore({ ready: ['1'] });
  const h = harness(store, {
    1: (message, worker) => {
      if (message.method === 'nextUp' && hangOnce) {
        hangOnce = false;
        return 'hang';
      }
      return healthy(message, worker);
    },
  });
  await h.lifecycle.start();
  const hung = settled(h.lifecycle.call('nextUp', [['1'], 10, true]));
  await h.clock.advance(CALL_TIMEOUT_MS);
  assert.equal((await hung).error.code, 'call_timeout');
  assert.equal(h.lifecycle.version, '1');
  assert.equal(h.loads('1'), 2);
  assert.equal((await h.lifecycle.call('nextUp', [['1'], 10, true])).version, '1');
  assert.equal(h.rejected().length, 0, 'a timeout is not a reason to reject');
});

test('a crashed serving Worker is replaced; calls meanwhile fail fast with worker_failed', async () => {
  const store = new FakeStore({ ready: ['1'] });
  const h = harness(store);
  await h.lifecycle.start();
  h.started[0].worker.crash();
  const during = await settled(h.lifecycle.call('similar', ['1', 10]));
  assert.equal(during.error.code, 'worker_failed');
  await h.clock.advance(0);
  assert.equal(h.lifecycle.version, '1');
  assert.equal(h.loads('1'), 2);
});

// --- interleavings ------------------------------------------------------------------------

test('versions announced while another loads: one switch at a time, at most two Workers, ends on the newest', async () => {
  const store = new FakeStore({ ready: ['1'] });
  const slow = (version) => (message, worker) => {
    if (message.type === 'load') {
      setTimeout(() => worker.reply(healthyEngine(version)(message, worker)), 5);
      return 'hang';
    }
    return healthyEngine(version)(message, worker);
  };
  const h = harness(store, { 2: slow('2'), 3: slow('3'), 4: slow('4') });
  await h.lifecycle.start();
  for (const v of ['2', '3', '4']) {
    store.publish(v);
    h.lifecycle.announceReady(v);
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  await flush();
  assert.equal(h.lifecycle.version, '4');
  assert.ok(h.peak <= 2, `peak ${h.peak}`);
  assert.equal(h.alive(), 1);
});

test('pin() of a version that will not load rejects and leaves the serving one', async () => {
  const store = new FakeStore({ ready: ['2', '1'], current: '1' });
  const h = harness(store, { 2: loadTrap });
  await h.lifecycle.start();
  const { error } = await settled(h.lifecycle.pin('2'));
  assert.equal(error.code, 'engine_trap');
  assert.equal(h.lifecycle.version, '1');
  assert.equal((await h.lifecycle.versions()).pinned, null);
  assert.equal((await settled(h.lifecycle.pin('9'))).error.code, 'version_not_cached');
});

test('close terminates every Worker, clears the timers, and later calls reject with closed', async () => {
  const store = new FakeStore({ ready: ['1'] });
  const h = harness(store, { 2: (message, worker) => { if (message.type === 'load') worker.crash(); return 'hang'; } });
  await h.lifecycle.start();
  await publish(h, store, '2');
  assert.ok(h.clock.pendingTimers > 0, 'a retry is scheduled');
  h.lifecycle.close();
  assert.equal(h.alive(), 0);
  assert.equal(h.clock.pendingTimers, 0);
  assert.equal((await settled(h.lifecycle.call('similar', ['1', 10]))).error.code, 'closed');
  assert.equal((await settled(h.lifecycle.pin('1'))).error.code, 'closed');
});

test('fusion window: the old client answers next to the new one, then retires', async () => {
  const store = new FakeStore({ ready: ['1'] });
  const h = harness(store, {}, { fusionMs: 10_000 });
  await h.lifecycle.start();
  await publish(h, store, '2');
  assert.equal(h.lifecycle.fusion.old.version, '1');
  await h.clock.advance(5_000);
  assert.equal(h.lifecycle.fusion.weight, 0.5);
  assert.equal(h.alive(), 2);
  await h.clock.advance(5_000);
  assert.equal(h.lifecycle.fusion, null);
  assert.equal(h.alive(), 1);
});
