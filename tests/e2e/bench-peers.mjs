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
const names = Object.keys(result.times);
const peer = quantile(result.times[names[2]], 0.5);
console.log(`\nnext up, ${channel} (${result.items} items), ${result.histories} histories × ${result.rounds} rounds, interleaved; cross-origin isolated: ${result.isolated}\n`);
console.log('| method | p50 µs | p95 µs | p50 / onnxruntime-web | same top-10 as Engine.nextUp |');
console.log('|---|---|---|---|---|');
for (const name of names) {
  const p50 = quantile(result.times[name], 0.5);
  console.log(`| ${name} | ${(p50 * 1000).toFixed(0)} | ${(quantile(result.times[name], 0.95) * 1000).toFixed(0)} | ${(p50 / peer).toFixed(2)}× | ${result.agreement[name]} / ${result.histories} |`);
}
console.log(`\nlargest score difference, onnxruntime-web vs edgerec: ${result.maxScoreDiff.toExponential(2)}`);
