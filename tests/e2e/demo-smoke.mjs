// The demo shop in Chromium, as a shopper uses it: home → product → similar →
// back, search, a model published while the page is open, clear history.
// Asserts real catalog content, saves screenshots to test-artifacts/, and
// checks that nothing the shopper did left the device.
import { mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { serve } from './static-server.mjs';
import { launch, check } from './browser.mjs';
import { channelFixture } from './channel-fixture.mjs';

const root = new URL('../../www/', import.meta.url).pathname;
const artifacts = new URL('../../test-artifacts/', import.meta.url).pathname;
await mkdir(artifacts, { recursive: true });
const channel = await channelFixture();
const catalog = JSON.parse(await readFile(join(channel.dir, 'versions/1/catalog.json'), 'utf8'));
const titles = new Map(catalog.items.map((item) => [item.id, item.title]));
const server = await serve(root, { mounts: { '/channels/ml-100k/': channel.dir } });
const browser = await launch();
const shot = (page, name) => page.screenshot({ path: `${artifacts}${name}`, fullPage: true });
const cardIds = (page, list) => page.$$eval(`#${list} li[data-id]`, (els) => els.map((e) => e.dataset.id));

let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1360, height: 960 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));

  await page.goto(`${server.url}demo/`);
  await page.waitForSelector('#for-you li[data-id]', { timeout: 60_000 });
  check((await page.textContent('#status')) === 'model v1', 'the version badge shows model v1');
  const starters = await cardIds(page, 'for-you');
  check(starters.length >= 8 && starters.every((id) => titles.has(id)), `home shows ${starters.length} catalog movies to start from`);
  const heading = () => page.textContent('#for-you-title');
  check((await heading()).startsWith('Start here'), `labelled as picks to start from, not "for you": "${await heading()}"`);
  check((await page.textContent('#history-count')) === '0', 'history starts empty');
  await shot(page, 'demo-home.png');

  // Home → product: Toy Story.
  await page.click('#for-you li[data-id="1"] a');
  await page.waitForSelector('#similar li[data-id]');
  check((await page.textContent('#product-title')) === 'Toy Story', 'the product page shows the movie clicked');
  const similar = await cardIds(page, 'similar');
  check(similar.length === 12 && similar.every((id) => titles.has(id) && id !== '1'),
    `12 similar movies from the catalog: ${similar.slice(0, 3).map((id) => titles.get(id)).join(', ')}, …`);
  check((await page.getAttribute('#similar', 'data-version')) === '1', 'similar items come from model v1');
  check(await page.isHidden('#together-shelf'), 'no "bought together" shelf: this bundle has no partner file');
  check(!(await page.textContent('#similar')).includes('score'), 'no scores on the cards by default');
  await page.check('#show-scores');
  await page.waitForFunction(() => document.querySelector('#similar .score'));
  check(/score \d\.\d{3}/.test(await page.textContent('#similar .score')), 'the scores toggle shows them');
  await page.uncheck('#show-scores');
  await page.waitForFunction(() => document.getElementById('history-count').textContent === '1');
  const stored = await page.evaluate(() => new Promise((resolve) => {
    indexedDB.open('edgerec-history-demo-shop').onsuccess = ({ target }) => {
      const request = target.result.transaction('items').objectStore('items').getAll();
      request.onsuccess = () => resolve(request.result.map((entry) => entry.id));
    };
  }));
  check(stored.join() === '1', 'viewing the movie added it to the history, stored in IndexedDB');
  await shot(page, 'demo-product.png');

  // Product → a similar movie → another, then back home.
  await page.click(`#similar li[data-id="${similar[0]}"] a`);
  await page.waitForFunction((id) => document.querySelector('#product-title').textContent
    && !document.querySelector('#similar li[data-id="' + id + '"]'), similar[0]);
  await page.waitForSelector('#similar li[data-id]');
  const second = await cardIds(page, 'similar');
  await page.click(`#similar li[data-id="${second.find((id) => id !== '1')}"] a`);
  await page.waitForFunction(() => document.getElementById('history-count').textContent === '3');
  const history = await page.$$eval('#history li a', (els) => els.map((a) => decodeURIComponent(a.hash.split('/')[2])));
  check(history.length === 3 && history.at(-1) === '1', `the history panel lists the 3 movies, newest first (${history.map((id) => titles.get(id)).join(' ← ')})`);
  await page.goBack();
  await page.goBack();
  await page.goBack();
  await page.waitForSelector('#home:not([hidden]) #next-up li[data-id]');
  const forYou = await cardIds(page, 'for-you');
  const nextUp = await cardIds(page, 'next-up');
  check(forYou.length === 12 && forYou.every((id) => titles.has(id) && !history.includes(id)),
    `"recommended for you" shows 12 unseen catalog movies: ${forYou.slice(0, 3).map((id) => titles.get(id)).join(', ')}, …`);
  check(nextUp.length === 12 && nextUp.every((id) => titles.has(id) && !history.includes(id)), '"next up" shows 12 unseen catalog movies');
  check(forYou.join() !== starters.join(), 'home is personalised once there is a history');
  check((await heading()).startsWith('Recommended for you'), `then labelled "for you": "${await heading()}"`);
  await shot(page, 'demo-home-personal.png');

  // Personalised search.
  await page.fill('#search', 'star');
  await page.press('#search', 'Enter');
  await page.waitForSelector('#results:not([hidden]) #search-results li[data-id]');
  const found = await cardIds(page, 'search-results');
  check(found.length > 5 && /star/i.test(titles.get(found[0])), `search "star" finds ${titles.get(found[0])} first, ${found.length} results`);
  await shot(page, 'demo-search.png');

  // A new version is published while the page is open: it swaps live and says so.
  await page.goto(`${server.url}demo/#/`);
  await page.waitForSelector('#for-you li[data-id]');
  await page.evaluate(() => { window.beforeUpdate = true; });
  await channel.point('2');
  await page.waitForFunction(() => document.getElementById('status').textContent === 'model v2', null, { timeout: 30_000 });
  check(await page.isVisible('#toast') && (await page.textContent('#toast')).includes('v2'), `a toast says: ${await page.textContent('#toast')}`);
  await page.waitForSelector('#for-you[data-version="2"]');
  check(await page.evaluate(() => window.beforeUpdate === true), '"recommended for you" was recomputed by v2 without a reload');
  await shot(page, 'demo-live-update.png');

  // Clear history.
  await page.click('#clear-history');
  await page.waitForFunction(() => document.getElementById('history-count').textContent === '0');
  await page.waitForSelector('#next-up li.empty');
  check((await cardIds(page, 'for-you')).join() === starters.join(), 'after clearing, home shows the starting picks again');

  // Nothing about the shopper left the device: every request the server saw was a
  // plain GET of a file that exists, with no query string.
  const served = server.requests.filter((r) => !(r.method === 'GET' && !r.url.includes('?')
    && (r.status === 200 || existsSync(join(root, r.path)))));
  check(served.length === 0, `all ${server.requests.length} requests were plain GETs of static files ${JSON.stringify(served.slice(0, 3))}`);
  check(errors.length === 0, `no page errors ${errors.join(' | ')}`);
  await context.close();

  // A phone, 390 px wide: the search box has a row of its own, the history opens on screen.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const small = await phone.newPage();
  small.on('pageerror', (error) => errors.push(error.message));
  await small.goto(`${server.url}demo/#/item/50`);
  await small.waitForSelector('#product:not([hidden]) #similar li[data-id]');
  const searchWidth = await small.$eval('#search', (input) => input.getBoundingClientRect().width);
  const fits = await small.evaluate(() => document.documentElement.scrollWidth <= innerWidth);
  check(searchWidth >= 300 && fits, `at 390 px the search box is ${searchWidth.toFixed(0)} px wide and nothing overflows sideways`);
  await small.screenshot({ path: `${artifacts}demo-phone-product.png` });
  await small.click('#history-toggle');
  const panel = await small.$eval('#history-panel', (el) => el.getBoundingClientRect().toJSON());
  check(panel.top >= 0 && panel.bottom <= 844 && panel.left >= 0 && panel.right <= 390 && await small.isVisible('#history li a'),
    `the history panel opens on screen (x ${panel.left.toFixed(0)}–${panel.right.toFixed(0)}, y ${panel.top.toFixed(0)}–${panel.bottom.toFixed(0)})`);
  await small.screenshot({ path: `${artifacts}demo-phone-history.png` });
  check(errors.length === 0, `no page errors at 390 px ${errors.join(' | ')}`);
  await phone.close();
} catch (error) {
  failed = true;
  console.log(`  FAILED: ${error.message.split('\n')[0]}`);
} finally {
  await browser.close();
  await server.close();
  await channel.remove();
}
console.log(failed ? 'demo test failed' : `demo test passed; screenshots in ${artifacts}`);
process.exit(failed ? 1 : 0);
