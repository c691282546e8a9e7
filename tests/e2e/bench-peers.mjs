// Benchmark (not a test): "next up" in one headless Chromium page, edgerec
// (its Engine directly, and through the public API's Worker) against
// onnxruntime-web 1.30 (pinned in benches/peers, single-threaded wasm) running
// the same ONNX encoder, with the dot products and the top-10 in plain JS;
// then "similar" against a plain-JS cosine scan. For one more click, also a
// Worker that only spins as long as edgerec's direct call: the round trip
// any Worker costs on this machine. Same histories, interleaved
// rounds, answers compared; per-call p50 / p95 (the page is cross-origin
// isolated, so timers are precise). Three catalogs, each in a fresh page:
// ml-100k (1,682 items), ~50k (the Instacart channel if built, else a
// synthetic one) and 1,000,000 (synthetic; models/synthetic.py, which
// `make bench-peers` runs first).
//     make bench-peers [ROUNDS=5] [CHANNEL=/channels/instacart/: that catalog only]
import fs from 'node:fs';
import { serve } from './static-server.mjs';
import { launch } from './browser.mjs';

const repo = new URL('../../', import.meta.url).pathname;
const rounds = Number(process.env.ROUNDS ?? 5);
const instacart = fs.existsSync(`${repo}www/channels/instacart/latest.json`);
// Fewer inputs and rounds where plain JS takes ~100 ms a call.
const catalogs = process.env.CHANNEL ? [{ channel: process.env.CHANNEL, histories: 200, rounds }] : [
  { channel: '/channels/ml-100k/', histories: 200, rounds },
  { channel: instacart ? '/channels/instacart/' : '/synthetic/synthetic-50k/', histories: 100, rounds: Math.min(rounds, 3) },
  { channel: '/synthetic/synthetic-1m/', histories: 30, rounds: Math.min(rounds, 2) },
];
const server = await serve(`${repo}www/`, {
  isolated: true,
  mounts: {
    '/fixture/': `${repo}tests/e2e/fixtures/`, '/ort/': `${repo}benches/peers/node_modules/onnxruntime-web/dist/`,
    '/synthetic/': `${repo}build/channels/`,
  },
});
const browser = await launch();
try {
  for (const { channel, histories, rounds: catalogRounds } of catalogs) {
    const context = await browser.newContext(); // a fresh cache and memory per catalog
    const page = await context.newPage();
    const started = performance.now();
    await page.goto(`${server.url}fixture/peers.html?rounds=${catalogRounds}&histories=${histories}&channel=${encodeURIComponent(channel)}`);
    const result = await page.waitForFunction(() => window.peers, null, { timeout: 1_800_000, polling: 1000 }).then((h) => h.jsonValue());
    await context.close();
    if (result.error) throw new Error(`${channel}: ${result.error}`);
    report(channel, result, (performance.now() - started) / 1000);
  }
} finally {
  await browser.close();
  await server.close();
}

function report(channel, result, elapsed) {
  const quantile = (values, q) => [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))];
  const micros = (ms) => (ms >= 10 ? `${(ms).toFixed(1)} ms` : `${(ms * 1000).toFixed(0)} µs`);
  console.log(`\n## ${channel} (${result.items.toLocaleString('en')} items), ${result.histories} inputs × ${result.rounds} rounds, interleaved; cross-origin isolated: ${result.isolated}; ${elapsed.toFixed(0)} s`);
  const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`\nloaded in: Engine (this thread) ${seconds(result.loadMs.engine)}, EdgeRec.open (Worker, download included) ${seconds(result.loadMs.rec)}, onnxruntime-web session ${seconds(result.loadMs.ort)}; the Worker's wasm memory ${(result.wasmBytes / 2 ** 20).toFixed(0)} MB`);
  for (const [what, group, reference] of [
    ['next up', result.nextUp, 'onnxruntime-web'],
    ['next up after one more click (the history without its newest item asked just before, untimed)', result.clicks, 'onnxruntime-web'],
    ['similar', result.similar, 'plain JS'],
  ]) {
    const names = Object.keys(group.times);
    const peer = quantile(group.times[names[2]], 0.5);
    console.log(`\n${what}:\n`);
    console.log(`| method | p50 | p95 | p50 / ${reference} | same top-10 as ${names[0].split(' (')[0]} |`);
    console.log('|---|---|---|---|---|');
    for (const name of names) {
      const p50 = quantile(group.times[name], 0.5);
      console.log(`| ${name} | ${micros(p50)} | ${micros(quantile(group.times[name], 0.95))} | ${(p50 / peer).toFixed(2)}× | ${group.agreement[name] === null ? '—' : `${group.agreement[name]} / ${result.histories}`} |`);
    }
    const direct = quantile(group.times[names[0]], 0.5);
    const viaWorker = quantile(group.times[names[1]], 0.5);
    // The click group's fourth row is a Worker that only spins: the round trip every Worker pays.
    const floor = names[3] && quantile(group.times[names[3]], 0.5);
    const beyond = floor && (viaWorker - floor) * 1000;
    const overFloor = floor ? ` (${Math.abs(beyond).toFixed(0)} µs ${beyond >= 0 ? 'more' : 'less'} than ${names[3].split(' (')[0]})` : '';
    console.log(`\nthe Worker adds ${((viaWorker - direct) * 1000).toFixed(0)} µs at p50${overFloor}; largest score difference, ${names[2]} vs edgerec: ${group.maxScoreDiff.toExponential(2)}`);
  }
}
