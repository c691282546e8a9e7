// The demo page, built and served as the demo command does, in Chromium:
// similar items, "for you" and "next up" show real catalog titles computed
// in wasm after a person clicks through a few movies.
import { mkdir, readFile } from 'node:fs/promises';
import { serve } from './static-server.mjs';
import { launch, check } from './browser.mjs';

const root = new URL('../../www/', import.meta.url).pathname;
const artifacts = new URL('../../test-artifacts/', import.meta.url).pathname;
const manifest = JSON.parse(await readFile(`${root}bundles/ml-100k/manifest.json`, 'utf8'));
const catalog = JSON.parse(await readFile(`${root}bundles/ml-100k/catalog.json`, 'utf8'));
const titles = new Set(catalog.items.map((item) => item.title));

const server = await serve(root);
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const requests = [];
  page.on('request', (request) => requests.push(request));
  await page.goto(`${server.url}demo/#item=1`);
  await page.waitForSelector('#similar li[data-id]', { timeout: 30_000 });

  check((await page.textContent('#product-title')) === 'Toy Story (1995)', 'product page shows the picked movie');
  const similar = await page.$$eval('#similar li[data-id] .title', (els) => els.map((e) => e.textContent));
  check(similar.length === 10, `10 similar items (got ${similar.length})`);
  check(similar.every((t) => titles.has(t)) && !similar.includes('Toy Story (1995)'),
    `similar items are other catalog titles: ${similar.slice(0, 3).join(', ')}, …`);
  check((await page.textContent('#status')).includes(`v${manifest.version}`), `version badge names v${manifest.version}`);

  // Watch three movies: Toy Story, then two picked from the similar lists.
  await page.click('#add-history');
  for (let i = 0; i < 2; i++) {
    const previous = await page.textContent('#product-title');
    const watched = await page.$$eval('#history li', (els) => els.map((e) => e.textContent));
    const next = await page.$$eval('#similar li[data-id]', (els, seen) =>
      els.find((e) => !seen.includes(e.querySelector('.title').textContent)).dataset.id, watched);
    await page.click(`#similar li[data-id="${next}"]`);
    await page.waitForFunction((prev) => document.querySelector('#product-title').textContent !== prev, previous);
    await page.click('#add-history');
  }
  check((await page.$$('#history li')).length === 3, 'history panel lists 3 movies');
  for (const list of ['for-you', 'next-up']) {
    const shown = await page.$$eval(`#${list} li[data-id] .title`, (els) => els.map((e) => e.textContent));
    const history = await page.$$eval('#history li', (els) => els.map((e) => e.textContent));
    check(shown.length === 10 && shown.every((t) => titles.has(t) && !history.includes(t)),
      `"${list}" shows 10 catalog titles outside the history: ${shown.slice(0, 3).join(', ')}, …`);
  }
  await page.fill('#search', 'star');
  await page.press('#search', 'Enter');
  await page.waitForSelector('#search-results li[data-id]');
  const found = await page.$$eval('#search-results li[data-id] .title', (els) => els.map((e) => e.textContent));
  check(found.length === 10 && found.every((t) => titles.has(t) && /star/i.test(t)),
    `search "star" shows 10 matching catalog titles: ${found.slice(0, 3).join(', ')}, …`);
  await mkdir(artifacts, { recursive: true });
  await page.screenshot({ path: `${artifacts}demo-home.png`, fullPage: true });

  await page.click('#clear-history');
  check((await page.$$('#history li')).length === 0, 'clear empties the history');
  check((await page.$$('#next-up li[data-id]')).length === 0, '"next up" is empty again after clear');
  check(errors.length === 0, `no page errors (${errors.join('; ')})`);
  // The history never leaves the device: every request is a plain GET of a
  // static asset (page, wasm, bundle file), with no query string and no body.
  const leaks = requests.filter((r) => r.method() !== 'GET' || r.postData() || new URL(r.url()).search
    || !new URL(r.url()).pathname.match(/^\/(demo\/[\w.-]*|edgerec\.js|pkg\/[\w.-]+|bundles\/ml-100k\/[\w.-]+|favicon\.ico)$/));
  check(requests.length > 0 && leaks.length === 0,
    `${requests.length} requests, all static GETs with no query or body (${leaks.map((r) => r.url()).join(', ')})`);
  console.log(`demo smoke: OK (screenshot ${artifacts}demo-home.png)`);
} finally {
  await browser.close();
  await server.close();
}
