// Benchmark (not a test): cold start to the first answers in Chromium, the
// staged load (core wasm first, docs/loading.md) against the one-stage load
// of the full build (`loading: 'full'`, how every page loaded before), in one
// run: interleaved rounds, each in a fresh browser context (empty HTTP cache,
// Cache API and IndexedDB), on the release build in www/pkg and www/pkg-core.
// Twice: on localhost as is, and throttled by Chromium to 10 Mbit/s with
// 40 ms round trips (what a shopper on a good mobile connection has).
// With onnxruntime-web installed (make bench-peers installs it), its cold
// start to a first next up is measured in the same rounds.
//     make bench-cold [ROUNDS=7] [CHANNEL=/channels/instacart/]
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { serve } from './static-server.mjs';
import { launch } from './browser.mjs';

const repo = new URL('../../', import.meta.url).pathname;
const rounds = Number(process.env.ROUNDS ?? 7);
const channel = process.env.CHANNEL ?? '/channels/ml-100k/';
// Gzipped as a CDN serves it: the full wasm is 3.6 MB on the wire, not 14.6 MB.
const ortDist = `${repo}benches/peers/node_modules/onnxruntime-web/dist/`;
const withPeer = existsSync(ortDist);
const server = await serve(`${repo}www/`, {
  mounts: { '/fixture/': `${repo}tests/e2e/fixtures/`, ...(withPeer && { '/ort/': ortDist }) }, gzip: true,
});
const browser = await launch();
const NETWORKS = [
  { name: 'localhost', conditions: null },
  { name: '10 Mbit/s, 40 ms RTT', conditions: { offline: false, latency: 40, downloadThroughput: 10e6 / 8, uploadThroughput: 5e6 / 8 } },
];
const results = [];
try {
  for (const network of NETWORKS) {
    results.push({ network, times: await measure(network.conditions) });
  }
} finally {
  await browser.close();
  await server.close();
}

async function measure(conditions) {
  const kinds = withPeer ? ['staged', 'full', 'ort'] : ['staged', 'full'];
  const times = Object.fromEntries(kinds.map((kind) => [kind, []]));
  for (let round = 0; round < rounds; round++) {
    for (const loading of round % 2 ? [...kinds].reverse() : kinds) {
      const context = await browser.newContext();
      const page = await context.newPage();
      if (conditions) await (await context.newCDPSession(page)).send('Network.emulateNetworkConditions', conditions);
      const fixture = loading === 'ort' ? 'cold-ort.html?' : `cold.html?loading=${loading}&`;
      await page.goto(`${server.url}fixture/${fixture}channel=${encodeURIComponent(channel)}`);
      const cold = await page.waitForFunction(() => window.cold, null, { timeout: 120_000 }).then((h) => h.jsonValue());
      await context.close();
      if (cold.error) throw new Error(`${loading}: ${cold.error}`);
      times[loading].push(cold);
    }
  }
  return times;
}

const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
const size = (path) => {
  const bytes = readFileSync(`${repo}www/${path}`);
  return `${(bytes.length / 1e3).toFixed(0)} KB raw, ${(gzipSync(bytes, { level: 9 }).length / 1e3).toFixed(0)} KB gzipped`;
};
console.log(`\ncold start, ${channel}, median of ${rounds} fresh contexts each (ms from navigation start)\n`);
console.log(`| network | first answer | one stage (loading: "full") | staged (default) | staged / one stage |${withPeer ? ' onnxruntime-web, first next up | staged / onnxruntime-web |' : ''}`);
console.log(`|---|---|---|---|---|${withPeer ? '---|---|' : ''}`);
for (const { network, times } of results) {
  const peer = withPeer ? median(times.ort.map((t) => t.nextUpMs)) : null;
  for (const [what, key] of [['similar', 'similarMs'], ['for you', 'forYouMs'], ['next up', 'nextUpMs']]) {
    const [staged, full] = [median(times.staged.map((t) => t[key])), median(times.full.map((t) => t[key]))];
    const peerColumns = withPeer ? ` ${peer.toFixed(0)} | ${(staged / peer).toFixed(2)}× |` : '';
    console.log(`| ${network.name} | ${what} | ${full.toFixed(0)} | ${staged.toFixed(0)} | ${(staged / full).toFixed(2)}× |${peerColumns}`);
  }
}
if (!withPeer) console.log('\n(onnxruntime-web is not installed: `make bench-peers` installs it, then this compares its cold start too)');
console.log(`\ncore wasm (pkg-core): ${size('pkg-core/edgerec_bg.wasm')}; full wasm (pkg): ${size('pkg/edgerec_bg.wasm')}`);
