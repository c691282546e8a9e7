// Benchmark (not a test): the retrieval kernel's scan + top-10 over a
// synthetic 1,000,000 × 64 and 100,000 × 64 item matrix in Chromium (release
// core wasm): int8 against f32 and a plain-JS scan, interleaved, with the
// wasm memory each matrix took.
//     make bench-scan [ROUNDS=15]
import { serve } from './static-server.mjs';
import { launch } from './browser.mjs';

const repo = new URL('../../', import.meta.url).pathname;
const server = await serve(`${repo}www/`);
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}bench/scan.html?rounds=${process.env.ROUNDS ?? 15}`);
  const results = await page.waitForFunction(() => window.benchResults, null, { timeout: 600_000 }).then((h) => h.jsonValue());
  console.log('\n| rows × 64 | scan + top-10 | p50 ms | p95 ms | vs int8 (p50) |');
  console.log('|---|---|---|---|---|');
  for (const rows of new Set(results.map((r) => r.rows))) {
    const runs = results.filter((r) => r.rows === rows && r.name);
    const int8 = runs.find((r) => r.name.startsWith('int8')).p50;
    for (const { name, p50, p95 } of runs) {
      console.log(`| ${rows.toLocaleString('en')} | ${name} | ${p50.toFixed(2)} | ${p95.toFixed(2)} | ${(p50 / int8).toFixed(2)}× |`);
    }
  }
  for (const { rows, memory } of results.filter((r) => r.memory)) {
    console.log(`\n${rows.toLocaleString('en')} rows: wasm memory ${memory.base.toFixed(0)} MB before, `
      + `${memory.int8.toFixed(0)} MB with the int8 matrix, ${memory.f32.toFixed(0)} MB with the f32 one as well`);
  }
} finally {
  await browser.close();
  await server.close();
}
