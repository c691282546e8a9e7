// Benchmark (not a test): "next up" in one headless Chromium page, edgerec
// (its Engine directly, and through the public API's Worker) against
// onnxruntime-web 1.30 (pinned in benches/peers, single-threaded wasm) running
// the same ONNX encoder, with the dot products and the top-10 in plain JS.
// Same histories, interleaved rounds, answers compared; per-call p50 / p95
// (the page is cross-origin isolated, so timers are precise).
//     make bench-peers [ROUNDS=5] [CHANNEL=/channels/instacart/]
import { serve } from './static-server.mjs';
import { launch } from './browser.mjs';

const repo = new URL('../../', import.meta.url).pathname;
const rounds = Number(process.env.ROUNDS ?? 5);
const channel = process.env.CHANNEL ?? '/channels/ml-100k/';
const server = await serve(`${repo}www/`, {
  isolated: true,
  mounts: { '/fixture/': `${repo}tests/e2e/fixtures/`, '/ort/': `${repo}benches/peers/node_modules/onnxruntime-web/dist/` },
});
const browser = await launch();
let result;
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}fixture/peers.html?rounds=${rounds}&channel=${encodeURIComponent(channel)}`);
  result = await page.waitForFunction(() => window.peers, null, { timeout: 600_000 }).then((h) => h.jsonValue());
} finally {
  await browser.close();
  await server.close();
}
if (result.error) throw new Error(result.error);
const quantile = (values, q) => [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))];
console.log(`\n${channel} (${result.items} items), ${result.histories} inputs × ${result.rounds} rounds, interleaved; cross-origin isolated: ${result.isolated}`);
for (const [what, group, reference] of [
  ['next up', result.nextUp, 'onnxruntime-web'],
  ['next up after one more click (the history without its newest item asked just before, untimed)', result.clicks, 'onnxruntime-web'],
  ['similar', result.similar, 'plain JS'],
]) {
  const names = Object.keys(group.times);
  const peer = quantile(group.times[names[2]], 0.5);
  console.log(`\n${what}:\n`);
  console.log(`| method | p50 µs | p95 µs | p50 / ${reference} | same top-10 as ${names[0].split(' (')[0]} |`);
  console.log('|---|---|---|---|---|');
  for (const name of names) {
    const p50 = quantile(group.times[name], 0.5);
    console.log(`| ${name} | ${(p50 * 1000).toFixed(0)} | ${(quantile(group.times[name], 0.95) * 1000).toFixed(0)} | ${(p50 / peer).toFixed(2)}× | ${group.agreement[name]} / ${result.histories} |`);
  }
  const direct = quantile(group.times[names[0]], 0.5);
  const viaWorker = quantile(group.times[names[1]], 0.5);
  console.log(`\nthe Worker adds ${((viaWorker - direct) * 1000).toFixed(0)} µs at p50; largest score difference, ${names[2]} vs edgerec: ${group.maxScoreDiff.toExponential(2)}`);
}
