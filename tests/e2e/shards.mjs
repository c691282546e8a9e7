// A version split across Workers (EdgeRec.open({ workers })) in Chromium,
// against the same version in one Worker, on the release build: the same
// answers (ids in order, scores) for similar items, for you, next up,
// search and trending, with and without merchandising rules, on the
// committed MovieLens channel (f32) split 3 ways and on a synthetic
// 100,000-item channel (int8, with popularity: a history with no known item
// falls back to it) split 2 ways; a live update swaps every shard; each
// shard holds a part of the memory one Worker needs.
// Usage: node tests/e2e/shards.mjs
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from './static-server.mjs';
import { launch, check } from './browser.mjs';
import { channelFixture } from './channel-fixture.mjs';

const root = new URL('../../', import.meta.url).pathname;
const synthetic = await mkdtemp(join(tmpdir(), 'edgerec-synthetic-'));
const built = spawnSync(`${root}.venv/bin/python`, ['-m', 'models.synthetic', '--items', '100000', '--channel', synthetic],
  { cwd: root, stdio: 'inherit' });
if (built.status !== 0) throw new Error('models.synthetic failed');
const movies = await channelFixture();
await movies.point('1');
const server = await serve(`${root}www/`, {
  mounts: { '/fixture/': `${root}tests/e2e/fixtures/`, '/movies/': movies.dir, '/synthetic/': synthetic },
});
const browser = await launch();

async function open(channel, workers) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (error) => console.log(`  page error: ${error.message}`));
  await page.goto(`${server.url}fixture/shards.html?channel=${encodeURIComponent(channel)}&workers=${workers}`);
  await page.waitForFunction(() => window.opened || window.openError, null, { timeout: 600_000 });
  const error = await page.evaluate(() => window.openError);
  if (error) throw new Error(`EdgeRec.open failed: ${error.code}: ${error.message}`);
  return { page, close: () => context.close() };
}

/** Calls of every split ranking (and the rest), built from the catalog's ids. */
async function questions(page, { category, text }) {
  const ids = await page.evaluate(async () => (await window.one.items()).items.map((item) => item.id));
  const pick = (n) => ids[(n * 7919) % ids.length];
  const rules = [undefined, {
    filter: { category: [category] },
    boost: [{ when: { category }, weight: 0.05 }],
    exclude: [pick(3), pick(4)],
    pin: [{ id: pick(5), position: 0 }, { id: pick(6), position: 3 }],
  }];
  const calls = [];
  for (let n = 0; n < 60; n++) {
    const history = Array.from({ length: 1 + (n % 9) }, (_, i) => pick(n * 13 + i));
    const options = { k: 1 + (n % 20), rules: rules[n % 2] };
    calls.push(['similar', pick(n), { ...options, category: n % 3 === 0 ? category : undefined }]);
    calls.push(['forShopper', { ...options, history }]);
    calls.push(['nextUp', { ...options, history, excludeHistory: n % 4 !== 0 }]);
    calls.push(['search', n % 2 ? text : text.slice(0, 4), { ...options, history: n % 3 ? history : [] }]);
  }
  calls.push(['forShopper', { history: ['no such item'], k: 10 }], ['nextUp', { history: [], k: 10, rules: rules[1] }]);
  calls.push(['trending', { k: 10 }], ['trending', { k: 5, category, rules: rules[1] }]);
  return calls;
}

/** Asks both instances every call; the answers' differences. */
function compare(page, calls) {
  return page.evaluate(async (asked) => {
    const report = { calls: asked.length, sameIds: 0, maxScoreDiff: 0, exactScores: 0, differences: [], errors: [] };
    for (const [method, ...args] of asked) {
      const settle = (promise) => promise.then((value) => ({ value }), (error) => ({ error: `${error.code}: ${error.message}` }));
      const [one, split] = await Promise.all([settle(window.one[method](...args)), settle(window.split[method](...args))]);
      if (one.error || split.error) {
        if (one.error !== split.error) report.errors.push({ method, args, one: one.error, split: split.error });
        else report.sameIds++;
        continue;
      }
      const ids = (answer) => answer.items.map((item) => item.id).join();
      if (ids(one.value) === ids(split.value) && one.value.source === split.value.source
        && one.value.version === split.value.version) report.sameIds++;
      else report.differences.push({ method, args, one: ids(one.value), split: ids(split.value) });
      const diffs = one.value.items.map((item, i) => Math.abs(item.score - (split.value.items[i]?.score ?? NaN)));
      if (diffs.every((d) => d === 0)) report.exactScores++;
      report.maxScoreDiff = Math.max(report.maxScoreDiff, ...diffs.filter((d) => !Number.isNaN(d)));
    }
    return report;
  }, calls);
}

function checkSame(report, what) {
  console.log(`  ${what}: ${report.sameIds}/${report.calls} the same, ${report.exactScores} with identical scores, `
    + `largest score difference ${report.maxScoreDiff.toExponential(2)}`);
  for (const difference of [...report.differences, ...report.errors].slice(0, 5)) console.log(`    ${JSON.stringify(difference)}`);
  check(report.sameIds === report.calls, `${what}: every answer the same, in the same order`);
  check(report.maxScoreDiff <= 1e-6, `${what}: scores within 1e-6`);
}

let failed = false;
try {
  console.log('\n# MovieLens (f32), 3 Workers, then a live update');
  {
    const { page, close } = await open('/movies/', 3);
    check(await page.evaluate(async () => (await window.split.memory()).workers) === 3, 'the split instance runs 3 Workers');
    checkSame(await compare(page, await questions(page, { category: 'Comedy', text: 'star wars' })), 'version 1');
    await movies.point('2');
    await page.evaluate(() => Promise.all([window.one.checkForUpdates(), window.split.checkForUpdates()]));
    await page.waitForFunction(() => window.one.version === '2' && window.split.version === '2', null, { timeout: 120_000 });
    check((await page.evaluate(() => window.events.split)).some((e) => e.type === 'modelchange' && e.to === '2'),
      'the split instance swapped to version 2 (modelchange)');
    const calls = (await questions(page, { category: 'Drama', text: 'the godfather' })).slice(0, 80);
    checkSame(await compare(page, calls), 'version 2');
    const workers = () => page.evaluate(async () => (await window.split.memory()).workers);
    for (let waited = 0; await workers() !== 3 && waited < 30; waited++) await new Promise((r) => setTimeout(r, 1000));
    check(await workers() === 3, "version 1's Workers are gone once version 2 serves");
    await close();
  }
  console.log('\n# synthetic 100,000 items (int8), 2 Workers');
  {
    const { page, close } = await open('/synthetic/', 2);
    checkSame(await compare(page, await questions(page, { category: 'department 7', text: 'synthetic product 12' })), 'synthetic');
    const memory = await page.evaluate(async () => ({ one: await window.one.memory(), split: await window.split.memory() }));
    const [lead, other] = memory.split.perWorker;
    const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
    console.log(`  wasm memory: one Worker ${mb(memory.one.wasmBytes)}; shards ${mb(lead)} (with the encoder) and ${mb(other)}`);
    check(other < 0.7 * memory.one.wasmBytes, 'a shard without the encoder holds well under what one Worker holds');
    check(lead < memory.one.wasmBytes, 'shard 0 holds less than one Worker');
    await close();
  }
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  await browser.close();
  await server.close();
  await rm(synthetic, { recursive: true, force: true });
  await movies.remove();
}
process.exit(failed ? 1 : 0);
