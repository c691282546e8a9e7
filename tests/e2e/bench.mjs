// Benchmark (not a test): per-call latency of each query natively (release)
// and as wasm in Chromium, on the same bundle and inputs, with the ratio.
// BUNDLE=<a version folder under www/> benchmarks another bundle in the
// browser only (e.g. channels/instacart/versions/<v>/: the calls at ~50k items).
//     make bench [BUNDLE=...]
import { execFileSync } from 'node:child_process';
import { serve } from './static-server.mjs';
import { launch } from './browser.mjs';

const repo = new URL('../../', import.meta.url).pathname;
const bundle = process.env.BUNDLE;
const nativeTable = bundle ? 'native: not measured for BUNDLE' : execFileSync('cargo', ['run', '--quiet', '--profile', 'tools',
  '--bin', 'edgerec', '--', 'bench', 'models/channel/ml-100k/versions/1'], { cwd: repo, encoding: 'utf8' });
const native = Object.fromEntries(nativeTable.split('\n').filter((l) => /^\| [a-z_]+ \| [0-9]/.test(l))
  .map((l) => l.split('|').map((c) => c.trim())).map((c) => [c[1], Number(c[2])]));

const server = await serve(`${repo}www/`);
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}bench/${bundle ? `?bundle=${encodeURIComponent(`/${bundle}`)}` : ''}`);
  const wasm = await page.waitForFunction(() => window.benchResults, null, { timeout: 120_000 }).then((h) => h.jsonValue());
  console.log(`\n${nativeTable.split('\n')[0]}\n`);
  console.log('| query | native µs/call | wasm (Chromium) µs/call | wasm / native |');
  console.log('|---|---|---|---|');
  for (const { name, median } of wasm) {
    const there = native[name];
    console.log(`| ${name} | ${there ? there.toFixed(1) : '–'} | ${median.toFixed(1)} | ${there ? `${(median / there).toFixed(2)}×` : '–'} |`);
  }
} finally {
  await browser.close();
  await server.close();
}
