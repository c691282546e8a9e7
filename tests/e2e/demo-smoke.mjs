// The demo page, built and served as the demo command does, rendered by
// headless Chromium: the similar-items list holds real catalog titles
// computed in wasm, and the version badge names the committed bundle.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { serve } from './static-server.mjs';

const CHROMIUM_FLAGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--no-first-run'];

const root = new URL('../../www/', import.meta.url).pathname;
const manifest = JSON.parse(await readFile(`${root}bundles/ml-100k/manifest.json`, 'utf8'));
const catalog = JSON.parse(await readFile(`${root}bundles/ml-100k/catalog.json`, 'utf8'));
const titles = new Set(catalog.items.map((item) => item.title));

const server = await serve(root);
try {
  const { stdout: dom } = await promisify(execFile)('/usr/bin/chromium', [
    ...CHROMIUM_FLAGS, '--virtual-time-budget=15000', '--dump-dom', `${server.url}demo/#item=1`,
  ], { maxBuffer: 1 << 24, timeout: 60_000 });

  const similar = dom.match(/<ol id="similar"[^>]*>([\s\S]*?)<\/ol>/)?.[1] ?? '';
  const shown = [...similar.matchAll(/<span class="title">([^<]*)<\/span>/g)].map((m) => decode(m[1]));
  const badge = dom.match(/<div id="status"[^>]*>([^<]*)<\/div>/)?.[1] ?? '';

  check(dom.includes('Toy Story (1995)'), 'product page shows the picked movie');
  check(shown.length === 10, `10 similar items shown (got ${shown.length})`);
  check(shown.every((title) => titles.has(title)), `every similar item is a catalog title: ${shown.join(' | ')}`);
  check(!shown.includes('Toy Story (1995)'), 'the movie itself is not among its similar items');
  check(badge.includes(`v${manifest.version}`), `version badge names v${manifest.version} ("${badge}")`);
  console.log(`demo smoke: OK (${shown.slice(0, 3).join(', ')}, …)`);
} finally {
  await server.close();
}

function check(condition, what) {
  if (!condition) {
    console.error(`demo smoke: FAILED: ${what}`);
    process.exit(1);
  }
}

function decode(html) {
  return html.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'");
}
