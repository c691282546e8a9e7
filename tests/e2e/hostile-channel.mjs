// A hostile or broken channel in Chromium: endless and trickling downloads,
// oversize pointers and manifests, pointers leaving the channel, signed
// channels (unsigned, wrongly signed, tampered, key rotation), limits, pinned
// versions under cache pressure, and the service worker's offline copy.
// Each rejection case checks that the old version keeps answering, the code,
// that nothing of the bad version stays in the cache, that the history is
// intact, and that a later good version is taken.
// Usage: node tests/e2e/hostile-channel.mjs [test name filter]
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serve } from './static-server.mjs';
import { launch, check } from './browser.mjs';
import { signingKey } from './channel-fixture.mjs';
import { cacheContents, checkNow, eventsOf, runSuite, similar, waitForEvent } from './page-harness.mjs';

const www = new URL('../../www/', import.meta.url).pathname;
const fixtures = new URL('./fixtures/', import.meta.url).pathname;
const mounts = { '/fixture/': fixtures, '/channel/': null };
const server = await serve(www, { mounts });
const browser = await launch();
const tests = [];
const test = (name, run) => tests.push({ name, run });
const HISTORY = ['1', '50', '181', '258'];

// --- helpers -------------------------------------------------------------

async function openPage(context, { keys, limits, sw } = {}) {
  const query = new URLSearchParams();
  if (keys) query.set('keys', keys.map((k) => k.publicKey).join(','));
  if (limits) query.set('limits', JSON.stringify(limits));
  if (sw) query.set('sw', sw);
  const page = await context.newPage();
  page.on('pageerror', (error) => console.log(`  page error: ${error.message}`));
  await page.goto(`${server.url}fixture/hostile.html?${query}`);
  await page.waitForFunction(() => window.rec || window.openError, null, { timeout: 60_000 });
  const openError = await page.evaluate(() => window.openError);
  if (openError) throw new Error(`EdgeRec.open failed: ${openError.code}: ${openError.message}`);
  return page;
}

/** Opens a page on version 1 with a short history; returns the page and that history. */
async function startOnVersion1(context, options) {
  const page = await openPage(context, options);
  check(await page.evaluate(() => window.rec.version) === '1', 'the page starts on version 1');
  await page.evaluate(async (ids) => { for (const id of ids) await window.rec.history.add(id); }, HISTORY);
  return page;
}




let testStart = 0; // server.requests index where the running test began

/** Requests the server saw for `/channel/versions/<version>/` since `from` (default: this test's start). */
const versionRequests = (version, from = testStart) => server.requests.slice(from)
  .filter((r) => r.path.startsWith(`/channel/versions/${version}/`)).map((r) => r.path.split('/').pop());

/**
 * The checks every rejection case makes: the old version answers, nothing of
 * version 3 is cached, the history is as it was, and a good version 4 is taken.
 */
async function oldVersionSurvives(page, channel, { signWith = null, bad = '3' } = {}) {
  const answer = await similar(page);
  check(answer.version === '1' && answer.items.length === 10, 'version 1 keeps answering');
  const cached = await cacheContents(page);
  check(!cached.manifestVersions.includes(bad) && !cached.signatureVersions.includes(bad) && cached.strayFiles === 0,
    `nothing of version ${bad} in the cache (versions ${cached.manifestVersions}, ${cached.strayFiles} stray files)`);
  check((await eventsOf(page, 'modelchange')).length === 0, 'no modelchange for the bad version');
  const history = await page.evaluate(() => window.rec.history.list());
  check(history.join() === HISTORY.join(), `the history is intact (${history.join(' ')})`);
  server.fault = null;
  await channel.publish('4', '2', undefined, { signWith });
  await checkNow(page);
  await waitForEvent(page, 'modelchange', '4');
  check((await similar(page)).version === '4', 'a later good version is accepted');
}

async function expectRejected(page, code, reason) {
  const rejected = await waitForEvent(page, 'modelrejected', '3');
  check(rejected.code === code && reason.test(rejected.reason), `modelrejected ${rejected.code}: ${rejected.reason}`);
  return rejected;
}

/** Answers `path` with a 200 whose body the test writes: `write(response, entry)` (entry.bytes counts what it sent). */
function streamFault(path, write, headers = { 'content-type': 'application/octet-stream' }) {
  const served = { requests: 0, closedAt: null };
  server.fault = (requestPath, request, response, entry) => {
    if (requestPath !== path) return false;
    served.requests++;
    response.writeHead(200, headers);
    response.on('close', () => { served.closedAt ??= Date.now(); });
    write(response, entry);
    return true;
  };
  return served;
}

// Zeros as fast as the connection takes them, up to `total` bytes.
function endlessZeros(total) {
  const chunk = Buffer.alloc(64 * 1024);
  return (response, entry) => {
    const more = () => {
      while (entry.bytes < total && !response.destroyed) {
        entry.bytes += chunk.length;
        if (!response.write(chunk)) return response.once('drain', more);
      }
      if (!response.destroyed) response.end();
    };
    more();
  };
}

// --- downloads ---------------------------------------------------------------

test('a 200 MB body for a 323 KB file is cut off at the file size', async ({ context, channel }) => {
  const page = await startOnVersion1(context);
  await channel.publish('3', '2');
  const expected = (await channel.manifest('3')).files.find((f) => f.path === 'item_embeddings.f32').bytes;
  const served = streamFault('/channel/versions/3/item_embeddings.f32', endlessZeros(200 * 2 ** 20));
  const started = Date.now();
  const result = await checkNow(page);
  const tookMs = Date.now() - started;
  await expectRejected(page, 'size_mismatch', /item_embeddings\.f32: more than the 322944 bytes/);
  const sent = server.requests.slice(testStart).find((r) => r.path === '/channel/versions/3/item_embeddings.f32').bytes;
  check(served.requests === 1 && sent < 32 * 2 ** 20 && tookMs < 10_000,
    `aborted early: the server got ${(sent / 2 ** 20).toFixed(1)} MB of 200 MB out before the connection closed, in ${tookMs} ms`);
  const received = Number(/\((\d+) received/.exec(result.reason)?.[1]);
  check(received === expected + 1 && result.code === 'size_mismatch',
    `the page read ${received} bytes of that file, one past its size (${expected}); ${result.downloaded} in all for this version`);
  await oldVersionSurvives(page, channel);
});

test('an oversize pointer is bad_pointer, read no further than 64 KiB', async ({ context, channel }) => {
  const page = await startOnVersion1(context);
  await channel.publish('3', '2', undefined, { point: false });
  const pointer = JSON.stringify({ version: '3', manifest: 'versions/3/manifest.json', padding: 'x'.repeat(10 * 2 ** 20) });
  streamFault('/channel/latest.json', (response, entry) => {
    entry.bytes = pointer.length;
    response.end(pointer);
  }, { 'content-type': 'application/json' });
  const result = await checkNow(page);
  check(result.status === 'unreachable' && result.code === 'bad_pointer' && /larger than 65536 bytes/.test(result.reason),
    `checkForUpdates: ${result.status} ${result.code}: ${result.reason}`);
  check(versionRequests('3').length === 0, 'nothing of version 3 was fetched');
  check((await eventsOf(page, 'modelrejected')).length === 0, 'no version is rejected for a bad pointer');
  await oldVersionSurvives(page, channel);
});

test('an oversize manifest is bundle_manifest_too_large, before any file', async ({ context, channel }) => {
  const page = await startOnVersion1(context);
  await channel.publish('3', '2', ({ manifest }) => { manifest.padding = 'x'.repeat(5 * 2 ** 20); });
  const from = server.requests.length;
  const result = await checkNow(page);
  await expectRejected(page, 'bundle_manifest_too_large', /more than 4194304 bytes \(limits\.maxManifestBytes\)/);
  check(versionRequests('3', from).join() === 'manifest.json', `only manifest.json was requested (${versionRequests('3', from)})`);
  check(result.downloaded <= 4 * 2 ** 20 + 2 ** 20, `the page stopped reading it (${result.downloaded} bytes)`);
  await oldVersionSurvives(page, channel);
});

test('a pointer naming a manifest on another origin or outside versions/ is bad_pointer', async ({ context, channel }) => {
  const elsewhere = await serve(channel.dir);
  try {
    const page = await startOnVersion1(context);
    await channel.publish('3', '2', undefined, { point: false });
    for (const manifest of [
      `${elsewhere.url}versions/3/manifest.json`,
      '//evil.example/versions/3/manifest.json',
      '/channel/versions/3/manifest.json',
      'versions/3/../../../fixture/manifest.json',
      'other/3/manifest.json',
    ]) {
      await channel.writePointer({ version: '3', manifest });
      const result = await checkNow(page);
      check(result.code === 'bad_pointer' && /must be exactly "versions\/3\/manifest\.json"/.test(result.reason),
        `${manifest}: ${result.code}`);
    }
    await channel.writePointer({ version: '../3', manifest: 'versions/../3/manifest.json' });
    check((await checkNow(page)).code === 'bad_pointer', 'a version name with a slash: bad_pointer');
    check(elsewhere.requests.length === 0 && versionRequests('3').length === 0,
      `neither the other origin nor version 3 was asked for anything (${elsewhere.requests.length}, ${versionRequests('3')})`);
    check((await eventsOf(page, 'modelrejected')).length === 0, 'no version is rejected for a bad pointer');
    await oldVersionSurvives(page, channel);
  } finally {
    await elsewhere.close();
  }
});

test('a trickling server: the update gives up in time, another tab opens meanwhile', async ({ context, channel }) => {
  const quietOpenedAt = Date.now();
  const page = await startOnVersion1(context);
  const quietOpenMs = Date.now() - quietOpenedAt;
  await channel.publish('3', '2');
  const served = streamFault('/channel/versions/3/item_embeddings.f32', (response) => {
    const timer = setInterval(() => response.write(Buffer.alloc(1)), 1000);
    response.on('close', () => clearInterval(timer));
  });
  const deadlineMs = 12_000;
  const started = Date.now();
  // The default deadline is 5 min (longer for a large version); the test sets
  // a shorter one through the same option, and a rate that does not extend it.
  const updating = page.evaluate((ms) => window.channelModule.update(new URL('/channel/', location.href).href,
    { timeouts: { deadlineMs: ms, minBytesPerSecond: 1e9 } }), deadlineMs);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // the download is trickling, the lock held
  const openedAt = Date.now();
  const second = await openPage(context);
  const openMs = Date.now() - openedAt;
  const secondVersion = await second.evaluate(() => window.rec.version);
  check(openMs < 6_000 && secondVersion === '1' && Date.now() - started < deadlineMs,
    `a second tab opened the cached version 1 in ${openMs} ms while the download held the lock (first tab, no download running: ${quietOpenMs} ms)`);
  const result = await updating;
  const tookMs = Date.now() - started;
  check(result.code === 'network_error' && /gave up after 12 s/.test(result.reason) && tookMs < deadlineMs + 3000,
    `the update gave up after ${tookMs} ms: ${result.reason}`);
  check(served.closedAt !== null && served.closedAt - started < deadlineMs + 3000, 'and closed the trickling connection');
  await expectRejected(page, 'network_error', /gave up after/);
  const state = (await cacheContents(page)).state;
  check(state.rejected['3'] && !state.rejected['3'].final, 'version 3 will be tried again later, not rejected for good');
  await oldVersionSurvives(page, channel);
  await second.close();
});

// --- signatures ---------------------------------------------------------------

/** A channel whose versions 1 and 2 are signed with `key`. */
async function signedChannel(channel, key) {
  await channel.sign('1', key);
  await channel.sign('2', key);
}

async function rejectsBadSignature(context, channel, publishBad, reason) {
  const key = signingKey();
  await signedChannel(channel, key);
  const page = await startOnVersion1(context, { keys: [key] });
  await publishBad(channel, key);
  const from = server.requests.length;
  await checkNow(page);
  await expectRejected(page, 'bundle_bad_signature', reason);
  const fetched = versionRequests('3', from);
  check(fetched.sort().join() === 'manifest.json,manifest.sig',
    `only manifest.json and manifest.sig of version 3 were requested (${fetched.join(', ')})`);
  await oldVersionSurvives(page, channel, { signWith: key });
}

test('signed channel: an unsigned version is rejected before any file', ({ context, channel }) =>
  rejectsBadSignature(context, channel, (c) => c.publish('3', '2'), /manifest\.sig: HTTP 404: the version is not signed/));

test('signed channel: a version signed with another key is rejected before any file', ({ context, channel }) =>
  rejectsBadSignature(context, channel, (c) => c.publish('3', '2', undefined, { signWith: signingKey() }),
    /no pinned public key verifies manifest\.sig/));

test('signed channel: a tampered manifest (signature of the original) is rejected before any file', ({ context, channel }) =>
  rejectsBadSignature(context, channel, async (c, key) => {
    await c.publish('3', '2', undefined, { signWith: key, point: false });
    const path = join(c.dir, 'versions', '3', 'manifest.json');
    const manifest = JSON.parse(await readFile(path, 'utf8'));
    manifest.parity.cases[0].expected.reverse(); // what an attacker reorders
    await writeFile(path, JSON.stringify(manifest, null, 1));
    await c.point('3');
  }, /no pinned public key verifies manifest\.sig/));

test('signed channel: a correctly signed version is taken, its signature cached for the engine', async ({ context, channel }) => {
  const key = signingKey();
  await signedChannel(channel, key);
  const page = await startOnVersion1(context, { keys: [key] });
  await channel.publish('3', '2', undefined, { signWith: key });
  check((await checkNow(page)).status === 'ready', 'version 3 is verified and made ready');
  await waitForEvent(page, 'modelchange', '3');
  check((await similar(page)).version === '3', 'version 3 answers');
  const files = await page.evaluate(async (k) => Object.keys(await window.channelModule
    .readVersionFiles(new URL('/channel/', location.href).href, '3', { publicKeys: [k] })), key.publicKey);
  check(files.includes('manifest.sig') && files.includes('manifest.json'), 'readVersionFiles hands the engine manifest.sig');
  check((await page.evaluate(() => window.rec.history.list())).join() === HISTORY.join(), 'the history is intact');
});

test('signed channel: key rotation, a version signed with the second pinned key is taken', async ({ context, channel }) => {
  const [old, next] = [signingKey(), signingKey()];
  await signedChannel(channel, old);
  const page = await startOnVersion1(context, { keys: [old, next] });
  await channel.publish('3', '2', undefined, { signWith: next });
  await checkNow(page);
  await waitForEvent(page, 'modelchange', '3');
  check((await similar(page)).version === '3', 'version 3, signed with the new key, answers');
  check((await eventsOf(page, 'modelrejected')).length === 0, 'nothing was rejected');
  // A page pinning only the new key no longer serves version 1 (signed with the old one).
  const files = await page.evaluate(async (k) => window.channelModule
    .readVersionFiles(new URL('/channel/', location.href).href, '1', { publicKeys: [k] })
    .then(() => 'served', (e) => e.code), next.publicKey);
  check(files === 'bundle_bad_signature', 'with the old key dropped, version 1 is not served from the cache');
});

test('signed channel: the service worker checks with the page\'s keys', async ({ context, channel }) => {
  const key = signingKey();
  await signedChannel(channel, key);
  const page = await startOnVersion1(context, { keys: [key], sw: '/fixture/sw.js' });
  await page.waitForFunction(() => navigator.serviceWorker.controller, null, { timeout: 30_000 });
  const watched = await page.evaluate(async () => {
    const cache = await caches.open('edgerec-bundles');
    const response = await cache.match(new URL('/.edgerec-watched-channels', location.href).href);
    return response ? response.json() : null;
  });
  check(watched?.[0]?.publicKeys?.[0] === key.publicKey, `the service worker stored the page's key with the channel (${JSON.stringify(watched)?.slice(0, 120)})`);
  await channel.publish('3', '2'); // unsigned
  const from = server.requests.length;
  // Only the service worker checks: the page's own checks are off.
  await page.evaluate(() => navigator.serviceWorker.controller.postMessage({ type: 'edgerec:check' }));
  await expectRejected(page, 'bundle_bad_signature', /not signed/);
  check(versionRequests('3', from).sort().join() === 'manifest.json,manifest.sig', 'only manifest.json and manifest.sig were fetched');
  await oldVersionSurvives(page, channel, { signWith: key });
});

// --- limits -----------------------------------------------------------------

test('limits: a file over maxFileBytes is rejected before any file is fetched', async ({ context, channel }) => {
  const page = await startOnVersion1(context);
  await channel.publish('3', '2', ({ manifest }) => {
    manifest.files.find((f) => f.path === 'item_embeddings.f32').bytes = 800 * 2 ** 20;
  });
  const from = server.requests.length;
  await checkNow(page);
  await expectRejected(page, 'bundle_file_too_large', /item_embeddings\.f32 of version 3: 838860800 bytes, more than limits\.maxFileBytes/);
  check(versionRequests('3', from).join() === 'manifest.json', `only the manifest was fetched (${versionRequests('3', from)})`);
  await oldVersionSurvives(page, channel);
});

test('limits: too many files (EdgeRec.open limits) are rejected before any file is fetched', async ({ context, channel }) => {
  const page = await startOnVersion1(context, { limits: { maxFiles: 7 } });
  await channel.publish('3', '2', ({ manifest }) => {
    manifest.files.push({ ...manifest.files[0], path: 'extra.json' });
  });
  const from = server.requests.length;
  await checkNow(page);
  await expectRejected(page, 'bundle_too_many_files', /lists 8 files, more than limits\.maxFiles \(7\)/);
  check(versionRequests('3', from).join() === 'manifest.json', `only the manifest was fetched (${versionRequests('3', from)})`);
  await oldVersionSurvives(page, channel);
});

// --- the cache ----------------------------------------------------------------

test('a rolled-back (pinned) version is not evicted by two newer versions', async ({ context, channel }) => {
  const page = await startOnVersion1(context);
  await channel.point('2');
  await checkNow(page);
  await waitForEvent(page, 'modelchange', '2');
  check(await page.evaluate(() => window.rec.rollback()) === '1', 'rollback() to version 1 (pinned)');
  for (const version of ['3', '4']) {
    await channel.publish(version, '2', async ({ dir, rehash }) => {
      const catalog = JSON.parse(await readFile(join(dir, 'catalog.json'), 'utf8'));
      catalog.items[0].title = `Toy Story (version ${version})`;
      await writeFile(join(dir, 'catalog.json'), JSON.stringify(catalog));
      await rehash('catalog.json');
    });
    check((await checkNow(page)).status === 'ready', `version ${version} is made ready`);
  }
  const cached = await cacheContents(page);
  check(cached.state.pinned === '1' && cached.manifestVersions.includes('1') && cached.strayFiles === 0,
    `version 1 is pinned and still cached (cached: ${cached.manifestVersions}, ready: ${cached.state.ready})`);
  const files = await page.evaluate(async () => Object.keys(await window.channelModule
    .readVersionFiles(new URL('/channel/', location.href).href, '1')).length);
  check(files === 8, `all of version 1's files are there (${files} with the manifest)`);
  // The serving Worker dies: its replacement loads version 1 from the cache again.
  await page.evaluate(() => {
    window.crashed = window.liveWorkers.at(-1);
    window.crashed.dispatchEvent(new ErrorEvent('error', { message: 'simulated crash' }));
  });
  await page.waitForFunction(() => window.rec.version === '1' && window.liveWorkers.length === 1
    && window.liveWorkers[0] !== window.crashed, null, { timeout: 30_000 });
  check((await similar(page)).version === '1', 'after a crash the pinned version 1 answers again, from the cache');
  const reloaded = await openPage(context);
  check((await reloaded.evaluate(() => window.rec.versions())).pinned === '1', 'the pin survives a reload');
  check((await page.evaluate(() => window.rec.history.list())).join() === HISTORY.join(), 'the history is intact');
  check(await page.evaluate(() => window.rec.unpin()) === '4', 'unpin() goes to the newest version, 4');
});

test('offline copy: only opted-in files, bounded, oldest out first', async ({ context }) => {
  server.fault = (path, request, response) => {
    if (path !== '/fixture/account.html') return false;
    response.writeHead(200, { 'content-type': 'text/html' }).end('<p>your orders</p>');
    return true;
  };
  const page = await openPage(context, { sw: '/fixture/sw.js?offlineMaxEntries=4' });
  await page.waitForFunction(() => navigator.serviceWorker.controller, null, { timeout: 30_000 });
  await page.evaluate(() => fetch('/fixture/account.html').then((r) => r.text()));
  await page.reload(); // now every file goes through the service worker
  await page.waitForFunction(() => window.rec || window.openError, null, { timeout: 60_000 });
  await page.evaluate(() => fetch('/fixture/account.html').then((r) => r.text()));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const shell = await page.evaluate(async () => {
    const cache = await caches.open('edgerec-shell');
    const keys = (await cache.keys()).map((r) => new URL(r.url).pathname);
    const index = await (await cache.match(new URL('/.edgerec-shell-index', location.href).href))?.json();
    return { keys, index };
  });
  const files = shell.keys.filter((k) => k !== '/.edgerec-shell-index');
  check(files.length === 4 && shell.index.length === 4, `at most 4 files kept (${files.join(' ')})`);
  check(!files.includes('/fixture/account.html'), 'a page the site did not opt into is not kept');
  check(files.every((f) => /^\/(fixture\/hostile\.html|edgerec\.js|lib\/|pkg\/|pkg-core\/)/.test(f)), 'only opted-in prefixes');
  const order = shell.index.map((e) => e.storedAt);
  check(order.every((t, i) => i === 0 || t >= order[i - 1]) && shell.index.every((e) => e.bytes > 0),
    'the index lists url, bytes and storedAt, oldest first');
});

test('offline copy: bounded in bytes, a file over the bound is not kept', async ({ context }) => {
  const maxBytes = 200_000;
  const page = await openPage(context, { sw: `/fixture/sw.js?offlineMaxBytes=${maxBytes}` });
  await page.waitForFunction(() => navigator.serviceWorker.controller, null, { timeout: 30_000 });
  await page.reload();
  await page.waitForFunction(() => window.rec || window.openError, null, { timeout: 60_000 });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const index = await page.evaluate(async () => (await (await caches.open('edgerec-shell'))
    .match(new URL('/.edgerec-shell-index', location.href).href))?.json());
  const total = index.reduce((sum, e) => sum + e.bytes, 0);
  check(index.length > 0 && total <= maxBytes, `${index.length} files, ${total} bytes kept (at most ${maxBytes})`);
  check(!index.some((e) => e.url.endsWith('.wasm')), 'the wasm, larger than the bound, is not kept');
});

await runSuite('hostile-channel', tests, {
  server, browser, mounts, beforeEach: () => { testStart = server.requests.length; },
});
