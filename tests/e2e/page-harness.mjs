// What the page-level Chromium suites (updates, hostile-channel, hostile-page)
// share: questions asked of a test page's `window.rec` and `window.events`,
// what the Cache API holds for the channel, and the runner that gives every
// test a fresh channel and browser context.
import { channelFixture } from './channel-fixture.mjs';

export const similar = (page, id = '1') => page.evaluate((i) => window.rec.similar(i, { k: 10 }), id);
export const checkNow = (page) => page.evaluate(() => window.rec.checkForUpdates());
export const eventsOf = (page, type) => page.evaluate((t) => window.events.filter((e) => e.type === t), type);

/** Waits for a `type` event naming `version` (as `to` or `version`); resolves to it. */
export async function waitForEvent(page, type, version, timeout = 60_000) {
  await page.waitForFunction(([t, v]) => window.events.some((e) => e.type === t && (e.to ?? e.version) === v),
    [type, version], { timeout });
  return (await eventsOf(page, type)).find((e) => (e.to ?? e.version) === version);
}

/** What the Cache API holds for the channel. */
export function cacheContents(page) {
  return page.evaluate(async () => {
    const cache = await caches.open('edgerec-bundles');
    const keys = (await cache.keys()).map((r) => r.url);
    const stateKey = keys.find((k) => k.endsWith('.edgerec/state'));
    const state = stateKey ? await (await cache.match(stateKey)).json() : null;
    const named = (part) => keys.filter((k) => k.includes(`.edgerec/${part}/`))
      .map((k) => decodeURIComponent(k.split('/').pop())).sort();
    const referenced = new Set();
    for (const key of keys.filter((k) => k.includes('.edgerec/manifest/'))) {
      for (const file of (await (await cache.match(key)).json()).files) referenced.add(file.sha256);
    }
    const content = named('content');
    return {
      state,
      manifestVersions: named('manifest'),
      signatureVersions: named('signature'),
      strayFiles: content.filter((sha) => !referenced.has(sha)).length,
      files: content.length,
    };
  });
}

/**
 * Runs `tests` ([{ name, run }]) one by one, or those whose name contains the
 * command line's first argument: each gets a fresh channel fixture (mounted
 * at /channel/), no server fault and a fresh browser context. `beforeEach()`
 * runs before each; `afterAll()` before the browser and server close. Exits
 * the process, non-zero if any test failed.
 */
export async function runSuite(suite, tests, { server, browser, mounts, beforeEach = () => {}, afterAll = () => {} }) {
  const only = process.argv[2];
  let failed = 0;
  let ran = 0;
  for (const { name, run } of tests) {
    if (only && !name.includes(only)) continue;
    ran++;
    console.log(`\n# ${name}`);
    const channel = await channelFixture();
    mounts['/channel/'] = channel.dir;
    server.fault = null;
    beforeEach();
    const context = await browser.newContext();
    const started = Date.now();
    try {
      await run({ context, channel });
      console.log(`  (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (error) {
      failed++;
      console.log(`  FAILED: ${error.message.split('\n')[0]}`);
    } finally {
      await context.close();
      await channel.remove();
    }
  }
  afterAll();
  await browser.close();
  await server.close();
  console.log(failed ? `${failed} of ${ran} ${suite} test(s) failed` : `all ${ran} ${suite} tests passed`);
  process.exit(failed ? 1 : 0);
}
