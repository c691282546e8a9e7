// Live model updates in Chromium, against a local server this test controls:
// the happy path, a swap storm under load, every fault we know how to inject,
// offline reloads and two tabs sharing one download. Prints the measurements
// docs/updates.md reports. Usage: node tests/e2e/updates.mjs [test name filter]
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from './static-server.mjs';
import { launch, launchWithProfile, check } from './browser.mjs';
import { cacheContents, checkNow, eventsOf, runSuite, similar, waitForEvent } from './page-harness.mjs';

const www = new URL('../../www/', import.meta.url).pathname;
const fixtures = new URL('./fixtures/', import.meta.url).pathname;
const mounts = { '/fixture/': fixtures, '/channel/': null };
const server = await serve(www, { mounts });
const browser = await launch();
const report = {};
const tests = [];
const test = (name, run) => tests.push({ name, run });

// --- helpers -------------------------------------------------------------

async function openPage(context, query = '') {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.log(`  page error: ${error.message}`));
  await page.goto(`${server.url}fixture/updates.html${query}`);
  await page.waitForFunction(() => window.rec || window.openError, null, { timeout: 60_000 });
  const openError = await page.evaluate(() => window.openError);
  if (openError) throw new Error(`EdgeRec.open failed: ${openError.code}: ${openError.message}`);
  return page;
}

const version = (page) => page.evaluate(() => window.rec.version);


/** What the Cache API holds for the channel: ready versions and whether any file is unaccounted for. */

/** The parity case `kind` of a version's manifest: an input and the answer that version must give. */
async function parityCase(channel, version, kind) {
  return (await channel.manifest(version)).parity.cases.find((c) => c.kind === kind);
}

function channelBytes(requests, version) {
  const mine = requests.filter((r) => r.path.startsWith(`/channel/versions/${version}/`));
  return { requests: mine.length, bytes: mine.reduce((sum, r) => sum + r.bytes, 0), paths: mine.map((r) => r.path) };
}

// Memory of every process of the browser using `profile`: the sum of their
// proportional set sizes (shared pages split between the processes sharing them).
function browserPssBytes(profile) {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(profile)) continue;
      const pss = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+) kB/m);
      if (pss) total += Number(pss[1]) * 1024;
    } catch { /* the process ended while we looked */ }
  }
  return total;
}

// A main-thread task this long during a swap would be a visible jank (the engine runs in Workers).
const LONGEST_TASK_LIMIT_MS = 200;

const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

// --- tests ---------------------------------------------------------------

test('happy path: v1, publish v2, swapped without reload', async ({ context, channel }) => {
  const page = await openPage(context, '?checkEvery=500');
  check(await version(page) === '1', 'the page starts on version 1');
  const case1 = await parityCase(channel, '1', 'similar');
  const before = await similar(page, case1.item);
  check(before.version === '1' && before.items.map((r) => r.id).join() === case1.expected.map((r) => r.id).join(),
    'version 1 answers with version 1\'s own expected ranking');
  await page.evaluate(() => { window.loaded = performance.timeOrigin; });

  const published = Date.now();
  await channel.point('2');
  const change = await waitForEvent(page, 'modelchange', '2');
  const swappedAt = await page.evaluate(() => performance.timeOrigin + window.events.at(-1).at);
  check(change.from === '1' && change.to === '2', `modelchange {from: 1, to: 2} (${change.switchMs.toFixed(0)} ms load+parity+warm-up)`);
  check(await page.evaluate(() => window.loaded === performance.timeOrigin), 'the page was not reloaded');
  const case2 = await parityCase(channel, '2', 'similar');
  const after = await similar(page, case2.item);
  check(after.version === '2' && after.items.map((r) => r.id).join() === case2.expected.map((r) => r.id).join(),
    'version 2 answers with version 2\'s expected ranking');
  const again = await similar(page, case1.item);
  check(again.items.map((r) => r.id).join() !== before.items.map((r) => r.id).join(),
    'the same question now gets a different answer');
  const longest = await page.evaluate(([from, to]) => Math.max(0, ...window.longTasks
    .filter((t) => t.start + performance.timeOrigin >= from && t.start + performance.timeOrigin <= to + 100)
    .map((t) => t.duration)), [published, swappedAt]);
  check(longest < LONGEST_TASK_LIMIT_MS,
    `longest main-thread task during the swap: ${longest ? `${Math.round(longest)} ms` : 'none >= 50 ms'} (limit ${LONGEST_TASK_LIMIT_MS} ms)`);
  const cached = await cacheContents(page);
  check(cached.manifestVersions.join() === '1,2' && cached.strayFiles === 0, 'the cache holds versions 1 and 2, nothing else');
  report.happy = {
    publishToSwappedMs: Math.round(swappedAt - published), checkEveryMs: 500,
    loadParityWarmMs: Math.round(change.switchMs), engineLoadMs: Math.round(change.loadMs),
    longestMainThreadTaskMs: longest, downloaded: channelBytes(server.requests, '2'),
  };
});

test('one changed file: only it and the manifest are downloaded; two versions kept', async ({ context, channel }) => {
  const page = await openPage(context);
  await channel.point('2');
  await checkNow(page);
  await waitForEvent(page, 'modelchange', '2');
  await channel.publish('3', '1', async ({ dir, rehash }) => {
    const catalog = JSON.parse(await readFile(join(dir, 'catalog.json'), 'utf8'));
    catalog.items[0].title = 'Toy Story (1995, restored)';
    await writeFile(join(dir, 'catalog.json'), JSON.stringify(catalog));
    await rehash('catalog.json');
  });
  const requestsBefore = server.requests.length;
  const asked = Date.now();
  const result = await checkNow(page);
  await waitForEvent(page, 'modelchange', '3');
  const checkToSwappedMs = Date.now() - asked;
  const fetched = channelBytes(server.requests.slice(requestsBefore), '3');
  check(fetched.paths.sort().join() === '/channel/versions/3/catalog.json,/channel/versions/3/manifest.json',
    `only manifest.json and catalog.json were fetched (${fetched.bytes} bytes)`);
  check(result.downloaded === fetched.bytes, 'the updater counted the same bytes as the server');
  const { items } = await page.evaluate(() => window.rec.items());
  check(items[0].title === 'Toy Story (1995, restored)', 'the new catalog is live');
  const cached = await cacheContents(page);
  check(cached.manifestVersions.join() === '2,3' && cached.strayFiles === 0,
    `the cache keeps versions 3 and 2 and drops 1 and its files (${cached.manifestVersions}, ${cached.files} files)`);
  const manifest = await channel.manifest('3');
  const versionBytes = manifest.files.reduce((sum, f) => sum + f.bytes, 0);
  report.oneChangedFile = { downloadedBytes: fetched.bytes, wholeVersionBytes: versionBytes, checkToSwappedMs };
});

test('under load: 10,000 calls across 50 swaps', async ({ channel }) => {
  // A browser of its own, so its memory is this test's alone.
  const profile = await mkdtemp(join(tmpdir(), 'edgerec-load-profile-'));
  const context = await launchWithProfile(profile);
  try {
    await underLoad(context, channel, profile);
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
});

async function underLoad(context, channel, profile) {
  const page = await openPage(context);
  await page.evaluate(() => window.rec.similar('1', { k: 10 }));
  const cdp = await context.newCDPSession(page);
  const memory = async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    return { ...(await page.evaluate(() => window.rec.memory())), pss: browserPssBytes(profile),
      jsHeap: await page.evaluate(() => performance.memory.usedJSHeapSize) };
  };
  const memoryBefore = await memory();
  // The call loop runs in the page; the swaps are driven from here by moving the pointer.
  await page.evaluate(() => {
    window.load = { calls: 0, failures: [], mismatches: [], byVersion: {}, done: false };
    const ids = ['1', '50', '100', '181', '258', '286', '294', '300'];
    const histories = [['1', '50', '181'], ['258', '286'], ['100', '294', '300', '7']];
    const one = async (i) => {
      const live = window.rec.version;
      const kind = i % 3;
      try {
        const answer = kind === 0 ? await window.rec.similar(ids[i % ids.length])
          : kind === 1 ? await window.rec.forShopper({ history: histories[i % 3] })
            : await window.rec.nextUp({ history: histories[i % 3] });
        if (answer.version !== live) window.load.mismatches.push({ live, answered: answer.version });
        window.load.byVersion[answer.version] = (window.load.byVersion[answer.version] ?? 0) + 1;
      } catch (error) {
        window.load.failures.push(`${error.code}: ${error.message}`);
      }
      window.load.calls++;
    };
    window.loadLoop = (async () => {
      let i = 0;
      while (!window.load.stop) await Promise.all([0, 1, 2, 3].map(() => one(i++)));
      window.load.done = true;
    })();
  });
  const swaps = Number(process.env.SWAPS ?? 50);
  let maxWorkers = 0;
  const sampler = setInterval(() => { maxWorkers = Math.max(maxWorkers, page.workers().length); }, 20);
  const started = Date.now();
  for (let swap = 1; swap <= swaps; swap++) {
    const target = swap % 2 ? '2' : '1';
    await channel.point(target);
    await checkNow(page);
    await page.waitForFunction((n) => window.events.filter((e) => e.type === 'modelchange').length >= n, swap,
      { timeout: 60_000 });
  }
  await page.waitForFunction(() => window.load.calls >= 10_000, null, { timeout: 600_000 });
  await page.evaluate(() => { window.load.stop = true; return window.loadLoop; });
  clearInterval(sampler);
  const load = await page.evaluate(() => window.load);
  const changes = await eventsOf(page, 'modelchange');
  const peakWorkers = await page.evaluate(() => window.peakWorkers);
  check(changes.length === swaps, `${swaps} swaps happened (${changes.length})`);
  check(load.calls >= 10_000, `${load.calls} calls made`);
  check(load.failures.length === 0, `no call failed ${load.failures.slice(0, 3).join(' | ')}`);
  check(load.mismatches.length === 0, `every answer came from the version live when it was asked (${load.mismatches.length} did not)`);
  check(Object.keys(load.byVersion).sort().join() === '1,2', `answers from both versions: ${JSON.stringify(load.byVersion)}`);
  check(peakWorkers <= 2 && maxWorkers <= 2, `at most 2 Workers alive (page count ${peakWorkers}, CDP sample ${maxWorkers})`);
  await page.evaluate(() => window.rec.similar('1'));
  // The last swap's old Worker retires once its calls are answered.
  await page.waitForFunction(() => window.liveWorkers.length === 1, null, { timeout: 60_000 });
  const memoryAfter = await memory();
  check(memoryAfter.workers === 1, 'one Worker left once the swaps are over');
  const switchMs = changes.map((c) => c.switchMs).sort((a, b) => a - b);
  report.underLoad = {
    calls: load.calls, swaps: changes.length, seconds: Math.round((Date.now() - started) / 1000),
    switchMsMedian: Math.round(switchMs[switchMs.length >> 1]), switchMsMax: Math.round(switchMs.at(-1)),
    before: { workers: memoryBefore.workers, wasm: mb(memoryBefore.wasmBytes), browserPss: mb(memoryBefore.pss), pageJsHeap: mb(memoryBefore.jsHeap) },
    after: { workers: memoryAfter.workers, wasm: mb(memoryAfter.wasmBytes), browserPss: mb(memoryAfter.pss), pageJsHeap: mb(memoryAfter.jsHeap) },
  };
}

// Each fault: the page stays on version 1, the event names the problem, no
// trace of the bad version stays in the cache, and a good version 4 is taken.
const FAULTS = [
  ['hash mismatch', 'hash_mismatch', /item_embeddings\.f32: SHA-256/, async (channel) => {
    await channel.publish('3', '2', async ({ dir }) => {
      const bytes = await readFile(join(dir, 'item_embeddings.f32'));
      bytes[100] ^= 0xff;
      await writeFile(join(dir, 'item_embeddings.f32'), bytes);
    });
  }],
  ['truncated file', 'size_mismatch', /next_up\.onnx: \d+ bytes received, the manifest says \d+/, async (channel) => {
    await channel.publish('3', '2', ({ dir }) => truncate(join(dir, 'next_up.onnx'), 1000));
  }],
  ['404 for the manifest', 'file_unavailable', /manifest\.json: HTTP 404/, async (channel) => {
    await channel.point('3');
  }],
  ['malformed manifest JSON', 'malformed_manifest', /not JSON/, async (channel) => {
    await channel.publish('3', '2', async ({ dir }) => {
      await writeFile(join(dir, 'manifest.json'), '{"format": "edgerec-bundle/1", "version": "3", "files": [');
      return 'keep-manifest';
    });
  }],
  ['manifest names a missing file', 'file_unavailable', /item_factors\.f32: HTTP 404/, async (channel) => {
    await channel.publish('3', '2', ({ dir }) => rm(join(dir, 'item_factors.f32')));
  }],
  ['right hashes, failing parity cases', 'bundle_parity_failed', /parity/, async (channel) => {
    await channel.publish('3', '2', ({ manifest }) => { manifest.parity.cases[0].expected[0].score += 0.5; });
  }],
  ['network cut mid-download, every time', 'network_error', /item_embeddings\.f32: download interrupted/, async (channel) => {
    await channel.publish('3', '2');
    cutMidBody('/channel/versions/3/item_embeddings.f32', Infinity);
  }],
  ['HTML instead of the file', 'not_a_bundle_file', /next_up\.onnx: the server sent an HTML page/, async (channel) => {
    await channel.publish('3', '2');
    server.fault = (path, request, response) => {
      if (path !== '/channel/versions/3/next_up.onnx') return false;
      response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Sign in</title>');
      return true;
    };
  }],
];

// Sends the headers and half the body of `path`, then drops the connection, `times` times.
function cutMidBody(path, times) {
  let cuts = 0;
  server.fault = (requestPath, request, response) => {
    if (requestPath !== path || cuts >= times) return false;
    cuts++;
    const full = readFileSync(join(mounts['/channel/'], path.slice('/channel/'.length)));
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': full.length });
    response.write(full.subarray(0, full.length >> 1), () => response.socket.destroy());
    return true;
  };
}

for (const [name, code, reason, inject] of FAULTS) {
  test(`fault: ${name}`, async ({ context, channel }) => {
    const page = await openPage(context);
    await inject(channel);
    await checkNow(page);
    const rejected = await waitForEvent(page, 'modelrejected', '3');
    check(rejected.code === code && reason.test(rejected.reason), `modelrejected ${rejected.code}: ${rejected.reason}`);
    const answer = await similar(page, '1');
    check(answer.version === '1' && answer.items.length === 10, 'version 1 keeps answering');
    const cached = await cacheContents(page);
    check(!cached.manifestVersions.includes('3') && cached.strayFiles === 0,
      `nothing of version 3 in the cache (versions ${cached.manifestVersions}, ${cached.strayFiles} stray files)`);
    check((await eventsOf(page, 'modelchange')).length === 0, 'no modelchange for the bad version');
    server.fault = null;
    await channel.publish('4', '2');
    await checkNow(page);
    await waitForEvent(page, 'modelchange', '4');
    check((await similar(page, '1')).version === '4', 'a later good version is accepted');
  });
}

test('network cut once: the retry succeeds', async ({ context, channel }) => {
  const page = await openPage(context);
  await channel.publish('3', '2');
  cutMidBody('/channel/versions/3/next_up_items.f32', 1);
  await checkNow(page);
  await waitForEvent(page, 'modelchange', '3');
  const tries = server.requests.filter((r) => r.path === '/channel/versions/3/next_up_items.f32').length;
  check(tries >= 2, `the cut file was fetched again (${tries} requests) and the version accepted`);
});

test('history: by id, capped, persistent; unknown ids skipped, not lost', async ({ context }) => {
  let page = await openPage(context);
  await page.evaluate(async () => {
    for (let i = 1; i <= 55; i++) await window.rec.history.add(String(i));
    await window.rec.history.add('retired-sku');
    await window.rec.history.add('7');
  });
  const list = await page.evaluate(() => window.rec.history.list());
  check(list.length === 50 && list[0] === '8' && list.at(-2) === 'retired-sku' && list.at(-1) === '7',
    'the newest 50 ids are kept in order, a repeated id moves to the end');
  const answer = await page.evaluate(() => window.rec.forShopper({ k: 5 }));
  check(answer.skipped.includes('retired-sku') && answer.items.length === 5, 'an id the model does not know is skipped');
  await page.reload();
  await page.waitForFunction(() => window.rec);
  const entries = await page.evaluate(() => window.rec.history.entries());
  check(entries.length === 50 && entries.at(-2).id === 'retired-sku' && entries.every((e, i) => !i || e.at > entries[i - 1].at),
    'after a reload the history is still there, with increasing timestamps, unknown id included');
  await page.evaluate(() => window.rec.history.clear());
  await page.reload();
  await page.waitForFunction(() => window.rec);
  check((await page.evaluate(() => window.rec.history.list())).length === 0, 'clear() forgets it for good');
});

test('a Worker that fails is replaced by a fresh one of the same version', async ({ context }) => {
  const page = await openPage(context);
  // A first visit may answer from a preview until the version serves from its own Worker.
  await page.waitForFunction(() => window.liveWorkers.length === 1, null, { timeout: 30_000 });
  // Fire the error event a dying Worker fires, on the page's own Worker (see fixtures/updates.html).
  const during = await page.evaluate(() => {
    window.crashed = window.liveWorkers.at(-1);
    window.crashed.dispatchEvent(new ErrorEvent('error', { message: 'simulated crash' }));
    return window.rec.similar('1').then(() => 'answered', (error) => `${error.name} ${error.code}`);
  });
  check(during === 'UnavailableError worker_failed', `a call while the Worker is restarted fails fast: ${during}`);
  await page.waitForFunction(() => window.rec.version === '1' && window.liveWorkers.length === 1
    && window.liveWorkers[0] !== window.crashed, null, { timeout: 30_000 });
  check((await similar(page, '1')).version === '1', 'version 1 answers again from a new Worker');
  check(await page.evaluate(() => window.peakWorkers) <= 2, 'never more than two Workers');
});

test('fusion window: answers blend both versions, then the new one alone', async ({ context, channel }) => {
  const page = await openPage(context, '?fusionMs=20000');
  const case2 = await parityCase(channel, '2', 'similar');
  const v1 = (await similar(page, case2.item)).items.map((r) => r.id);
  const v2 = case2.expected.map((r) => r.id);
  await channel.point('2');
  await checkNow(page);
  await waitForEvent(page, 'modelchange', '2');
  const early = await similar(page, case2.item);
  const ids = early.items.map((r) => r.id);
  check(early.version === '2' && early.blend?.from === '1' && early.blend.weight < 0.5,
    `inside the window the answer says it blends v1 in (weight of v2 ${early.blend?.weight.toFixed(2)})`);
  check(ids.length === 10 && ids.some((id) => v1.includes(id) && !v2.includes(id)) && ids.join() !== v2.join(),
    'early in the window the list still holds version 1 items');
  check(await page.evaluate(() => window.liveWorkers.length) === 2, 'both Workers are alive during the window');
  await page.waitForFunction(() => window.liveWorkers.length === 1, null, { timeout: 60_000 });
  const late = await similar(page, case2.item);
  check(!late.blend && late.items.map((r) => r.id).join() === v2.join(), 'after the window, version 2 answers alone');
});

test('rollback and pin', async ({ context, channel }) => {
  const page = await openPage(context);
  await channel.point('2');
  await checkNow(page);
  await waitForEvent(page, 'modelchange', '2');
  check(await page.evaluate(() => window.rec.rollback()) === '1', 'rollback() returns to version 1');
  check((await similar(page, '1')).version === '1', 'answers come from version 1 again');
  await channel.publish('3', '2');
  check((await checkNow(page)).status === 'ready', 'version 3 is published and made ready');
  await page.waitForFunction(async () => (await window.rec.versions()).latest === '3');
  check(await version(page) === '1' && (await similar(page, '1')).version === '1',
    'a pinned page keeps serving version 1 although version 3 is ready');
  const error = await page.evaluate(() => window.rec.pin('9').catch((e) => ({ name: e.name, code: e.code })));
  check(error.code === 'version_not_cached' && error.name === 'UnavailableError', 'pinning an uncached version is refused');
  check(await page.evaluate(() => window.rec.unpin()) === '3', 'unpin() follows the channel again, to version 3');
});

test('offline: a reload serves the cached version', async ({ context, channel }) => {
  const page = await openPage(context);
  await channel.point('2');
  await checkNow(page);
  await waitForEvent(page, 'modelchange', '2');
  // Wait until the service worker controls the page and holds every file a reload needs: the
  // page's own files the site opted into (fixtures/sw.js) and the engine Worker's script.
  await page.waitForFunction(async (optedIn) => {
    if (!navigator.serviceWorker.controller) return false;
    const kept = new Set((await (await caches.open('edgerec-shell')).keys()).map((r) => r.url));
    const needed = [location.href, '/lib/engine-worker.js', ...performance.getEntriesByType('resource').map((e) => e.name)]
      .map((url) => new URL(url, location.href))
      .filter((url) => url.origin === location.origin && !url.search && optedIn.some((p) => url.pathname.startsWith(p)));
    return needed.every((url) => kept.has(url.href));
  }, ['/fixture/updates.html', '/edgerec.js', '/lib/', '/pkg/', '/pkg-core/'], { timeout: 60_000 });
  // Offline for the page, and the server refuses whatever still reaches it:
  // the browser's own service-worker update checks, which setOffline does not cover.
  await context.setOffline(true);
  server.fault = (path, request, response) => { response.socket.destroy(); return true; };
  const served = server.requests.length;
  await page.reload();
  await page.waitForFunction(() => window.rec || window.openError, null, { timeout: 60_000 });
  const openError = await page.evaluate(() => window.openError);
  check(!openError, `EdgeRec.open works offline ${openError ? JSON.stringify(openError) : ''}`);
  const answer = await similar(page, '1');
  check(answer.version === '2' && answer.items.length === 10, 'recommendations come from the cached version 2');
  const serviceWorkerScripts = new Set(['/fixture/sw.js', '/edgerec-sw.js', '/lib/channel.js']);
  const reached = server.requests.slice(served).map((r) => r.path);
  check(reached.every((path) => serviceWorkerScripts.has(path)),
    `nothing but service-worker update checks reached the server, refused (${reached.join(' ') || 'none'})`);
  await context.setOffline(false);
});

test('two tabs: one download of each file, both swap', async ({ context, channel }) => {
  const [first, second] = [await openPage(context), await openPage(context)];
  await channel.publish('3', '2');
  const before = server.requests.length;
  await Promise.all([checkNow(first), checkNow(second)]);
  await Promise.all([waitForEvent(first, 'modelchange', '3'), waitForEvent(second, 'modelchange', '3')]);
  const fetched = server.requests.slice(before).filter((r) => r.path.startsWith('/channel/versions/3/'));
  const perFile = {};
  for (const r of fetched) perFile[r.path] = (perFile[r.path] ?? 0) + 1;
  check(Object.values(perFile).every((n) => n === 1), `each file of version 3 was downloaded once: ${JSON.stringify(perFile)}`);
  check(await version(first) === '3' && await version(second) === '3', 'both tabs serve version 3');
});

await runSuite('update', tests, {
  server, browser, mounts, afterAll: () => console.log(`\nmeasurements: ${JSON.stringify(report, null, 1)}`),
});
