// Hostile bundles and odd inputs against a live page in Chromium: manifests
// whose dimensions would wrap or exhaust memory, a version that really traps
// while loading, a version that traps during calls, arrays from reactive
// frameworks and functions as arguments, every public method with bad
// arguments, manifests of a newer format, a bundle without parity cases.
// Each rejection case checks that the old version keeps answering, the
// event's code, that nothing of the bad version stays in the cache, that the
// history is intact, and that a later good version is taken.
// Usage: node tests/e2e/hostile-page.mjs [test name filter]
import { serve } from './static-server.mjs';
import { launch, check } from './browser.mjs';
import { cacheContents, checkNow, eventsOf, runSuite, similar, waitForEvent } from './page-harness.mjs';

const www = new URL('../../www/', import.meta.url).pathname;
const fixtures = new URL('./fixtures/', import.meta.url).pathname;
const mounts = { '/fixture/': fixtures, '/channel/': null };
const server = await serve(www, { mounts });
const browser = await launch();
const tests = [];
const test = (name, run) => tests.push({ name, run });
const HISTORY = ['1', '50', '181', '258'];
// Longer than the first retry delay of a failed load (5 s): a version that
// would be retried has been by then.
const RETRY_WINDOW_MS = 6_500;

// --- helpers -------------------------------------------------------------

async function openPage(context, { limits, publicKeys, sw, callTimeoutMs, loading } = {}) {
  const query = new URLSearchParams();
  if (loading) query.set('loading', loading);
  if (limits) query.set('limits', JSON.stringify(limits));
  if (publicKeys) query.set('publicKeys', JSON.stringify(publicKeys));
  if (sw) query.set('sw', sw);
  if (callTimeoutMs) query.set('callTimeoutMs', String(callTimeoutMs));
  const page = await context.newPage();
  page.on('pageerror', (error) => console.log(`  page error: ${error.message}`));
  await page.goto(`${server.url}fixture/hostile.html?${query}`);
  await page.waitForFunction(() => window.rec || window.openError, null, { timeout: 60_000 });
  const openError = await page.evaluate(() => window.openError);
  if (openError) throw new Error(`EdgeRec.open failed: ${openError.code}: ${openError.message}`);
  return page;
}

/** Opens a page on version 1 with a short history. */
async function startOnVersion1(context, options) {
  const page = await openPage(context, options);
  check(await page.evaluate(() => window.rec.version) === '1', 'the page starts on version 1');
  await page.evaluate(async (ids) => { for (const id of ids) await window.rec.history.add(id); }, HISTORY);
  return page;
}



/** What the Cache API holds for the channel: its state, the versions with a manifest, unreferenced files. */

/**
 * The checks every rejection case makes: the event's code, the old version
 * answering, the cache (nothing of `bad` left, or, with `keptForOtherTabs`,
 * the version still ready for them), the history, and a later good version.
 */
async function contained(page, channel, { bad, code, serving = '1', next, keptForOtherTabs = false }) {
  const rejected = await waitForEvent(page, 'modelrejected', bad);
  check(rejected.code === code, `modelrejected ${rejected.code}: ${rejected.reason}`);
  const answer = await similar(page);
  check(answer.version === serving && answer.items.length === 10, `version ${serving} keeps answering`);
  const cached = await cacheContents(page);
  if (keptForOtherTabs) {
    check(cached.state.ready.includes(bad) && !cached.state.rejected[bad]?.final,
      `version ${bad} stays ready for tabs that can read it (ready: ${cached.state.ready})`);
  } else {
    check(!cached.manifestVersions.includes(bad) && !cached.state.ready.includes(bad) && cached.strayFiles === 0,
      `nothing of version ${bad} in the cache (versions ${cached.manifestVersions}, ${cached.strayFiles} stray files)`);
  }
  check(!(await eventsOf(page, 'modelchange')).some((e) => e.to === bad && e.at >= rejected.at),
    `no modelchange to version ${bad} since it was rejected`);
  const history = await page.evaluate(() => window.rec.history.list());
  check(history.join() === HISTORY.join(), `the history is intact (${history.join(' ')})`);
  await channel.publish(next, '2');
  await checkNow(page);
  await waitForEvent(page, 'modelchange', next);
  check((await similar(page)).version === next, `a later good version (${next}) is accepted`);
}

/** How many times a version was sent to a Worker to load. */
const loadsOf = (page, version) => page.evaluate((v) => window.loads[v] ?? 0, version);

// --- limits: sizes that would wrap or exhaust memory are refused before allocation ---------

const OVER_LIMITS = [
  ['similar matrix cols = 2147483696 (rows × cols × 4 wraps to the file size on wasm32)', 'bundle_dim_too_large',
    (manifest) => { manifest.models.similar.embeddings.cols = 2_147_483_696; }],
  ['next-up max_len = 2,000,000,000', 'bundle_sequence_too_long',
    (manifest) => { manifest.models.next_up.max_len = 2_000_000_000; }],
  ['factor cols = 30,000 (a 7.2 GB Gram matrix)', 'bundle_dim_too_large',
    (manifest) => { manifest.models.factors.items.cols = 30_000; manifest.models.factors.users.cols = 30_000; }],
];

for (const [name, code, change] of OVER_LIMITS) {
  test(`over a limit: ${name}`, async ({ context, channel }) => {
    const page = await startOnVersion1(context);
    await channel.publish('3', '2', ({ manifest }) => change(manifest));
    await checkNow(page);
    // Limits are this page's setting: it refuses the version, other tabs may not.
    await contained(page, channel, { bad: '3', code, next: '4', keptForOtherTabs: true });
    check(!(await eventsOf(page, 'modelrejected')).some((e) => e.code === 'engine_trap'), 'nothing trapped');
    check(await loadsOf(page, '3') === 1, 'version 3 was loaded once and not retried');
  });
}

// --- traps ---------------------------------------------------------------------------

test('a real trap while loading: rejected for good, not retried; two in a row keep the last good version', async ({ context, channel }) => {
  // Limits raised so the engine accepts max_len = 2e9 and runs out of memory allocating for it.
  const limits = { maxSequenceLength: 2_000_000_000 };
  const page = await startOnVersion1(context, { limits });
  const trapping = (manifest) => { manifest.models.next_up.max_len = 2_000_000_000; };
  await channel.publish('3', '2', ({ manifest }) => trapping(manifest));
  await checkNow(page);
  const rejected = await waitForEvent(page, 'modelrejected', '3', 120_000);
  check(rejected.code === 'engine_trap', `modelrejected engine_trap: ${rejected.reason}`);
  await page.waitForTimeout(RETRY_WINDOW_MS); // long enough for a retry to have happened, if there were one
  check(await loadsOf(page, '3') === 1, 'version 3 was loaded once: a trap is not retried');
  check((await similar(page)).version === '1', 'version 1 keeps answering');
  const cached = await cacheContents(page);
  check(!cached.manifestVersions.includes('3') && cached.state.rejected['3']?.final,
    `version 3 is rejected for every tab and gone from the cache (versions ${cached.manifestVersions})`);
  const rollback = await page.evaluate(() => window.rec.rollback().then((v) => v, (e) => e.code));
  check(rollback === 'version_not_cached' && await page.evaluate(() => window.rec.version) === '1',
    `rollback() does not land on the trapped version (${rollback})`);

  await channel.publish('4', '2', ({ manifest }) => trapping(manifest));
  await checkNow(page);
  check((await waitForEvent(page, 'modelrejected', '4', 120_000)).code === 'engine_trap', 'a second trapping version is rejected too');
  const after = await cacheContents(page);
  check(after.state.lastGood === '1' && after.manifestVersions.join() === '1' && after.strayFiles === 0,
    `the last good version stays cached (versions ${after.manifestVersions}, lastGood ${after.state.lastGood})`);
  const tab = await openPage(context, { limits });
  check(await tab.evaluate(() => window.rec.version) === '1', 'a new tab still opens, on version 1');
  check(await loadsOf(tab, '3') + await loadsOf(tab, '4') === 0, 'and does not try the trapped versions');
  check((await page.evaluate(() => window.rec.history.list())).join() === HISTORY.join(), 'the history is intact');
  await channel.publish('5', '2');
  await checkNow(page);
  await waitForEvent(page, 'modelchange', '5');
  check((await similar(page)).version === '5', 'a later good version is accepted');
});

test('a trap during a call: the Worker is replaced; a second trap rejects the version and falls back', async ({ context, channel }) => {
  const page = await startOnVersion1(context);
  await channel.publish('3', '2');
  await checkNow(page);
  await waitForEvent(page, 'modelchange', '3');
  // The Workers of version 3 answer nextUp as a trapped engine does (see fixtures/hostile.html).
  await page.evaluate(() => { window.trapCalls = { version: '3', method: 'nextUp' }; });
  const first = await page.evaluate(() => window.rec.nextUp().then(() => 'answered', (e) => `${e.name} ${e.code}`));
  check(first === 'BundleError engine_trap', `the call fails with ${first}`);
  await page.waitForFunction(() => window.loads['3'] === 2 && window.rec.version === '3', null, { timeout: 30_000 });
  check((await similar(page)).version === '3', 'version 3 answers again from a fresh Worker');
  check((await eventsOf(page, 'modelrejected')).length === 0, 'one trap does not reject the version');

  const second = await page.evaluate(() => window.rec.nextUp().then(() => 'answered', (e) => `${e.name} ${e.code}`));
  check(second === 'BundleError engine_trap', `the second trap fails its call too (${second})`);
  await page.evaluate(() => { window.trapCalls = null; });
  await page.waitForFunction(() => window.rec.version === '1', null, { timeout: 30_000 });
  await contained(page, channel, { bad: '3', code: 'engine_trap', next: '4' });
  check(await page.evaluate(() => window.peakWorkers) <= 2, 'never more than two Workers');
});

// --- odd inputs ---------------------------------------------------------------------------

test('a Proxy array (Vue reactive(), MobX) as history is answered; a function is an InputError; updates still flow', async ({ context, channel }) => {
  const page = await startOnVersion1(context);
  const outcome = await page.evaluate(async (ids) => {
    const reads = [];
    // What Vue's reactive() returns: a Proxy whose get trap tracks reads.
    const reactive = new Proxy([...ids], { get(target, key, receiver) { reads.push(key); return Reflect.get(target, key, receiver); } });
    const plain = await window.rec.nextUp({ history: ids });
    const viaProxy = await window.rec.nextUp({ history: reactive });
    const forYou = await window.rec.forShopper({ history: new Proxy([...ids], {}) });
    const found = await window.rec.search('star', { history: new Proxy([...ids], {}) });
    const fn = await window.rec.forShopper({ history: () => ids }).then(() => 'answered', (e) => `${e.name} ${e.code}: ${e.message}`);
    const proxiedFn = await window.rec.nextUp({ history: new Proxy(() => ids, {}) }).then(() => 'answered', (e) => `${e.name} ${e.code}`);
    return {
      same: plain.items.map((r) => r.id).join() === viaProxy.items.map((r) => r.id).join(),
      read: reads.length > 0, forYou: forYou.items.length, found: found.items.length, fn, proxiedFn,
    };
  }, HISTORY);
  check(outcome.same && outcome.read, 'nextUp with a reactive Proxy history answers as with the plain array');
  check(outcome.forYou === 10 && outcome.found > 0, 'forShopper and search take Proxy histories too');
  check(outcome.fn.startsWith('InputError invalid_argument'), `a function as history: ${outcome.fn}`);
  check(outcome.proxiedFn === 'InputError invalid_argument', `a Proxy of a function: ${outcome.proxiedFn}`);
  await channel.publish('3', '2');
  await checkNow(page);
  await waitForEvent(page, 'modelchange', '3');
  check(await page.evaluate(() => window.liveWorkers.length) === 1, 'the old Worker retired');
  const settles = (call) => page.evaluate((c) => Promise.race([
    window.rec[c]('1').then((v) => `resolved ${v}`, (e) => `rejected ${e.code}`),
    new Promise((resolve) => setTimeout(() => resolve('did not settle in 30 s'), 30_000)),
  ]), call);
  check(await settles('pin') === 'resolved 1', 'pin() settles');
  check(await settles('rollback') === 'resolved 3', 'rollback() settles');
  check(await page.evaluate(() => window.rec.unpin()) === '3', 'unpin() settles');
  check((await page.evaluate(() => window.rec.history.list())).join() === HISTORY.join(), 'the history is intact');
});

test('every public method with bad arguments rejects with an InputError code, never throws', async ({ context }) => {
  const page = await startOnVersion1(context);
  const results = await page.evaluate(async () => {
    const { EdgeRec, ShopperHistory, openEngine } = window.edgerec;
    const rec = window.rec;
    const cases = {
      'similar("50", null)': () => rec.similar('50', null),
      'similar(50)': () => rec.similar(50),
      'similar()': () => rec.similar(),
      'similar("50", "k")': () => rec.similar('50', 'k'),
      'similar("50", { k: 10n })': () => rec.similar('50', { k: 10n }),
      'similar("50", { k: NaN })': () => rec.similar('50', { k: NaN }),
      'similar("50", { k: 1.5 })': () => rec.similar('50', { k: 1.5 }),
      'similar("50", { k: "10" })': () => rec.similar('50', { k: '10' }),
      'similar("50", { k: 0 })': () => rec.similar('50', { k: 0 }),
      'similar("50", { k: 1001 })': () => rec.similar('50', { k: 1001 }),
      'similar("50", { category: 5 })': () => rec.similar('50', { category: 5 }),
      'similar("no-such-item")': () => rec.similar('no-such-item'),
      'similar("50", { category: "no-such" })': () => rec.similar('50', { category: 'no-such' }),
      'forShopper(null)': () => rec.forShopper(null),
      'forShopper({ history: "1,50" })': () => rec.forShopper({ history: '1,50' }),
      'forShopper({ history: [1, 50] })': () => rec.forShopper({ history: [1, 50] }),
      'forShopper({ history: ["no-such"] })': () => rec.forShopper({ history: ['no-such'] }),
      'forShopper({ k: -1 })': () => rec.forShopper({ k: -1 }),
      'nextUp([])': () => rec.nextUp([]),
      'nextUp({ excludeHistory: "yes" })': () => rec.nextUp({ excludeHistory: 'yes' }),
      'nextUp({ history: {} })': () => rec.nextUp({ history: {} }),
      'search()': () => rec.search(),
      'search(42)': () => rec.search(42),
      'search("star", { k: Infinity })': () => rec.search('star', { k: Infinity }),
      'search("star", { history: 5 })': () => rec.search('star', { history: 5 }),
      'pin()': () => rec.pin(),
      'pin(1)': () => rec.pin(1),
      'pin("")': () => rec.pin(''),
      'history.add(undefined)': () => rec.history.add(undefined),
      'history.add({})': () => rec.history.add({}),
      'history.add("")': () => rec.history.add(''),
      'history.add(42)': () => rec.history.add(42),
      'ShopperHistory.open("")': () => ShopperHistory.open(''),
      'ShopperHistory.open("x", { limit: 0 })': () => ShopperHistory.open('x', { limit: 0 }),
      'ShopperHistory.open("x", null)': () => ShopperHistory.open('x', null),
      'EdgeRec.open()': () => EdgeRec.open(),
      'EdgeRec.open({})': () => EdgeRec.open({}),
      'EdgeRec.open({ channel: 5 })': () => EdgeRec.open({ channel: 5 }),
      'EdgeRec.open({ channel, publicKey }) (misspelt)': () => EdgeRec.open({ channel: '/channel/', publicKey: [] }),
      'EdgeRec.open({ channel, publicKeys: ["abc"] })': () => EdgeRec.open({ channel: '/channel/', publicKeys: ['abc'] }),
      'EdgeRec.open({ channel, publicKeys: "k" })': () => EdgeRec.open({ channel: '/channel/', publicKeys: 'k' }),
      'EdgeRec.open({ channel, limits: { maxItems: 0 } })': () => EdgeRec.open({ channel: '/channel/', limits: { maxItems: 0 } }),
      'EdgeRec.open({ channel, limits: { maxWidgets: 5 } })': () => EdgeRec.open({ channel: '/channel/', limits: { maxWidgets: 5 } }),
      'EdgeRec.open({ channel, limits: 5 })': () => EdgeRec.open({ channel: '/channel/', limits: 5 }),
      'EdgeRec.open({ channel, loadTimeoutMs: -1 })': () => EdgeRec.open({ channel: '/channel/', loadTimeoutMs: -1 }),
      'EdgeRec.open({ channel, callTimeoutMs: 1.5 })': () => EdgeRec.open({ channel: '/channel/', callTimeoutMs: 1.5 }),
      'EdgeRec.open({ channel, checkEvery: "often" })': () => EdgeRec.open({ channel: '/channel/', checkEvery: 'often' }),
      'EdgeRec.open({ channel, historyLimit: 0 })': () => EdgeRec.open({ channel: '/channel/', historyLimit: 0 }),
      'EdgeRec.open({ channel, fusionMs: NaN })': () => EdgeRec.open({ channel: '/channel/', fusionMs: NaN }),
      'EdgeRec.open({ channel, assets: 42 })': () => EdgeRec.open({ channel: '/channel/', assets: 42 }),
      'EdgeRec.open({ channel, assets: "http://[bad" })': () => EdgeRec.open({ channel: '/channel/', assets: 'http://[bad' }),
      'rec.stockOf()': async () => window.rec.stockOf(),
      'openEngine()': () => openEngine(),
      'openEngine(url, { publicKeys: [1] })': () => openEngine('/channel/versions/1/', { publicKeys: [1] }),
    };
    const out = {};
    for (const [name, run] of Object.entries(cases)) {
      let promise;
      try {
        promise = run();
      } catch (error) {
        out[name] = `threw synchronously: ${error.name}`;
        continue;
      }
      out[name] = promise instanceof Promise
        ? await promise.then(() => 'resolved', (e) => (e instanceof window.edgerec.EdgeRecError ? `${e.name} ${e.code}` : `raw ${e.name}`))
        : 'not a promise';
    }
    return out;
  });
  const expected = (name) => {
    if (/k: (10n|NaN|1\.5|"10"|0|1001|-1|Infinity)/.test(name)) return 'InputError invalid_k';
    if (name === 'similar("no-such-item")') return 'InputError unknown_item';
    if (name.includes('category: "no-such"')) return 'InputError unknown_category';
    if (name.includes('history: ["no-such"]')) return 'InputError empty_history';
    return 'InputError invalid_argument';
  };
  for (const [name, outcome] of Object.entries(results)) check(outcome === expected(name), `${name} → ${outcome}`);
  check((await similar(page)).version === '1', 'the page keeps answering');
  check((await page.evaluate(() => window.rec.history.list())).join() === HISTORY.join(), 'the history is intact');
});

// --- format versions and parity --------------------------------------------------------

test('forward compatibility: unknown fields of the same major load; a new major is refused here only', async ({ context, channel }) => {
  const page = await startOnVersion1(context);
  await channel.publish('3', '2', ({ manifest }) => {
    manifest.format = 'edgerec-bundle/1.1';
    manifest.publisher = { team: 'recs', pipeline: 'v7' };
    manifest.models.similar.embeddings.quantisation = 'none';
    manifest.models.similar.normalised = true;
    manifest.parity.cases[0].note = 'recorded on the training box';
  });
  await checkNow(page);
  await waitForEvent(page, 'modelchange', '3');
  check((await similar(page)).version === '3', 'format 1.1 with unknown fields (top level, model spec, parity case) loads');

  await channel.publish('4', '2', ({ manifest }) => { manifest.format = 'edgerec-bundle/2'; });
  await checkNow(page);
  await contained(page, channel, { bad: '4', code: 'bundle_unsupported_format', serving: '3', next: '5', keptForOtherTabs: true });
});

test('a bundle with no parity cases is refused (bundle_parity_missing)', async ({ context, channel }) => {
  const page = await startOnVersion1(context);
  await channel.publish('3', '2', ({ manifest }) => { manifest.parity.cases = []; });
  await checkNow(page);
  await contained(page, channel, { bad: '3', code: 'bundle_parity_missing', next: '4' });
});

// --- staged loading (docs/loading.md) ------------------------------------------------

const nextUp = (page) => page.evaluate(() => window.rec.nextUp({ k: 10 }));
const fetchedAt = (page, path) => page.evaluate((p) => performance.getEntriesByType('resource')
  .find((e) => new URL(e.name).pathname === p)?.startTime ?? null, path);

test('staged loading: the core build answers first, next up comes from the full build, as a one-stage page\'s', async ({ context, channel }) => {
  const page = await startOnVersion1(context);
  const first = await page.evaluate(() => window.loadMessages[0]);
  check(first.build === 'core' && !first.waitForFull, `the first Worker loads the core build (${JSON.stringify(first)})`);
  check((await similar(page)).items.length === 10, 'similar answers');
  const [core, full, openedAt] = [await fetchedAt(page, '/pkg-core/edgerec_bg.wasm'), await fetchedAt(page, '/pkg/edgerec_bg.wasm'),
    await page.evaluate(() => window.openedAt)];
  check(core !== null && (full === null || full > core), `the core wasm is fetched first (at ${core?.toFixed(0)} ms; the full one at ${full?.toFixed(0)} ms, open resolved at ${openedAt.toFixed(0)} ms)`);
  const staged = await nextUp(page);
  check(staged.version === '1' && staged.items.length === 10, 'next up answers once the full build has taken over');
  check((await page.evaluate(() => window.encoderMessages.length)) === 1, 'the full build was handed to the Worker once');
  const onePage = await openPage(context, { loading: 'full' });
  check((await onePage.evaluate(() => window.loadMessages[0].build)) === 'full', 'loading: "full" loads the full build only');
  const direct = await nextUp(onePage);
  check(direct.items.map((i) => i.id).join() === staged.items.map((i) => i.id).join()
    && direct.items.every((item, i) => Math.abs(item.score - staged.items[i].score) < 1e-6),
    `the same next-up answer as a one-stage page (${staged.items.slice(0, 3).map((i) => i.id)}, …)`);
  await channel.publish('3', '2');
  await checkNow(page);
  await waitForEvent(page, 'modelchange', '3');
  const swap = await page.evaluate(() => window.loadMessages.find((m) => m.version === '3'));
  check(swap.build === 'full', `a later swap loads the full build directly, all parity cases before promotion (${JSON.stringify(swap)})`);
  check((await nextUp(page)).version === '3', 'next up answers from version 3');
});

test('staged loading: a first version whose encoder fails its parity cases answers similar; next up rejects with the code', async ({ context, channel }) => {
  await channel.publish('3', '2', ({ manifest }) => {
    const nextUpCase = manifest.parity.cases.find((c) => c.kind === 'next_up');
    nextUpCase.expected[0].score += 1;
  });
  const page = await openPage(context);
  check(await page.evaluate(() => window.rec.version) === '3', 'the page opens on version 3 (core parity cases pass)');
  check((await similar(page)).version === '3', 'similar answers from version 3');
  const outcome = await page.evaluate(() => window.rec.nextUp({ history: ['1', '50'], k: 10 })
    .then(() => 'answered', (e) => `${e.name} ${e.code}: ${e.message}`));
  check(/^BundleError bundle_parity_failed: .*next_up/.test(outcome), `next up: ${outcome}`);
  check((await similar(page)).version === '3', 'similar still answers');
  const oneStage = await openPage(context, { loading: 'full' })
    .then(async (p) => `serves version ${await p.evaluate(() => window.rec.version)}`, (error) => error.message);
  check(/no_model: .*version 3: parity case/.test(oneStage), `a one-stage page refuses version 3 outright (${oneStage.slice(0, 90)}…)`);
});

// Holds `path` of the channel until the returned release(body?) is called: with
// a body the server sends that instead of the file.
async function holdFile(context, path) {
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await context.route(`**/channel/${path}`, async (route) => {
    const body = await held;
    if (body === undefined) await route.continue();
    else await route.fulfill({ status: 200, body });
  });
  return release;
}

// 'pending' if window.pendingNextUp has not settled within `ms`.
const nextUpWithin = (page, ms) => page.evaluate((wait) => Promise.race([
  window.pendingNextUp.then(() => 'settled', () => 'settled'), new Promise((resolve) => setTimeout(() => resolve('pending'), wait)),
]), ms);

test('first visit: similar answers from the core files while next up\'s still download; next up waits for them', async ({ context }) => {
  const release = await holdFile(context, 'versions/1/next_up.onnx');
  const page = await openPage(context);
  check(await page.evaluate(() => window.rec.version) === '1', 'open() resolves on version 1 with next_up.onnx still held');
  const first = await page.evaluate(() => window.loadMessages[0]);
  check(first.preview && first.build === 'core', `the first engine loads the core files it was handed (${JSON.stringify(first)})`);
  check((await similar(page)).items.length === 10, 'similar answers');
  check((await page.evaluate(() => window.rec.forShopper({ history: ['1', '50'], k: 10 }))).items.length === 10, 'for you answers');
  check((await page.evaluate(() => window.rec.items())).items.length > 1000, 'the catalog answers');
  await page.evaluate(() => { window.pendingNextUp = window.rec.nextUp({ history: ['1', '50'], k: 10 }); });
  check(await nextUpWithin(page, 500) === 'pending', 'next up waits for the rest of the version');
  release();
  const answer = await page.evaluate(() => window.pendingNextUp);
  check(answer.version === '1' && answer.items.length === 10, 'next up answers once next up\'s files are in');
  await page.waitForFunction(() => window.liveWorkers.length === 1, null, { timeout: 30_000 });
  check((await similar(page)).version === '1', 'the preview Worker is gone; the version serves from its own Worker');
  check((await eventsOf(page, 'modelchange')).length === 0, 'no modelchange: the page served version 1 throughout');
  const state = (await cacheContents(page)).state;
  check(state.ready.includes('1'), 'version 1 is ready in the cache');
});

test('first visit: the whole version in before the preview has loaded: whichever Worker is ready first answers', async ({ context }) => {
  // Each Worker fetches the core build's glue when it loads a version: the
  // preview's request, then the whole version's, are held in turn.
  const glue = [];
  await context.route('**/pkg-core/edgerec.js', async (route) => {
    await new Promise((resolve) => glue.push(resolve));
    await route.continue();
  });
  const page = await context.newPage();
  await page.goto(`${server.url}fixture/hostile.html`);
  const requests = async (n) => {
    for (let tries = 0; glue.length < n && tries < 300; tries++) await new Promise((resolve) => setTimeout(resolve, 100));
    return glue.length;
  };
  check(await requests(2) === 2, 'the preview\'s Worker and the whole version\'s both wait for their glue');
  glue[0]();
  await page.waitForFunction(() => window.rec || window.openError, null, { timeout: 30_000 });
  check(await page.evaluate(() => window.rec?.version) === '1', 'open() resolves on the preview while the whole version\'s Worker still waits');
  const loads = await page.evaluate(() => window.loadMessages);
  check(loads.length === 2 && loads[0].preview && !loads[1].preview, `two loads, the preview's first (${JSON.stringify(loads)})`);
  check((await similar(page)).version === '1', 'similar answers from the preview');
  glue[1]();
  await page.waitForFunction(() => window.liveWorkers.length === 1, null, { timeout: 30_000 });
  check((await similar(page)).version === '1', 'the preview retires once the version serves from its own Worker');
  check((await eventsOf(page, 'modelchange')).length === 0, 'no modelchange: the page served version 1 throughout');
});

test('first visit: a next-up file that fails its checks after the preview ends it; calls reject with the reason', async ({ context }) => {
  const release = await holdFile(context, 'versions/1/next_up_items.f32');
  const page = await openPage(context);
  check((await similar(page)).version === '1', 'similar answers from the preview');
  release('not the file the manifest lists');
  const rejected = await waitForEvent(page, 'modelrejected', '1');
  check(rejected.code === 'size_mismatch', `modelrejected ${rejected.code}: ${rejected.reason}`);
  const outcome = () => page.evaluate(() => window.rec.similar('1', { k: 10 }).then(() => 'answered', (e) => `${e.code}: ${e.message}`));
  await page.waitForFunction(() => window.liveWorkers.length === 0, null, { timeout: 30_000 });
  const after = await outcome();
  check(/^no_model: .*next_up_items\.f32/.test(after), `similar rejects as a one-stage open() would (${after.slice(0, 100)}…)`);
  const cached = await cacheContents(page);
  check(!cached.manifestVersions.includes('1') && cached.strayFiles === 0, 'nothing of version 1 is cached');
});

await runSuite('hostile-page', tests, { server, browser, mounts });
