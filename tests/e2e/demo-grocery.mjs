// The grocery demo shop in Chromium: `scripts/instacart.sh channel` builds a
// channel from the Instacart sample (a throwaway one here, one LSTM epoch to
// keep CI short), and the demo serves it with ?shop=instacart: departments,
// aisles, a product, similar items inside the aisle, "for you", search, the
// cart and its "complete your basket", an out-of-stock flip from the live
// stock file, and the same pages at a phone's 390 px (screenshots of each in
// test-artifacts/).
// Product facts are checked against the sample's own products.csv.
// Skipped, saying so, when ../shared/data/instacart is not there.
// Usage: node tests/e2e/demo-grocery.mjs
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serve } from './static-server.mjs';
import { launch, check } from './browser.mjs';

const root = new URL('../../', import.meta.url).pathname;
const data = resolve(process.env.DATA ?? join(root, '../shared/data'));
const artifacts = join(root, 'test-artifacts/');
if (!existsSync(join(data, 'instacart/products.csv'))) {
  console.log(`grocery demo test skipped: no ${data}/instacart (set DATA=/path/to/data)`);
  process.exit(0);
}

// products.csv: product_id,product_name,aisle_id,department_id (names may be quoted).
async function readCsv(path) {
  const [header, ...lines] = (await readFile(path, 'utf8')).trim().split('\n');
  const names = header.split(',');
  return lines.map((line) => {
    const cells = line.match(/("([^"]|"")*"|[^,]*)(,|$)/g).map((c) => c.replace(/,$/, '').replace(/^"|"$/g, '').replace(/""/g, '"'));
    return Object.fromEntries(names.map((name, i) => [name, cells[i]]));
  });
}
const aisles = new Map((await readCsv(join(data, 'instacart/aisles.csv'))).map((r) => [r.aisle_id, r.aisle]));
const products = new Map((await readCsv(join(data, 'instacart/products.csv'))).map((r) => [r.product_id, r]));
const aisleOf = (id) => aisles.get(products.get(id)?.aisle_id)?.toLowerCase();
const departmentNames = new Map((await readCsv(join(data, 'instacart/departments.csv'))).map((r) => [r.department_id, r.department]));
const departmentOf = (id) => departmentNames.get(products.get(id)?.department_id)?.toLowerCase();
const yogurts = [...products.values()].filter((p) => aisles.get(p.aisle_id) === 'yogurt').length;

// Misspelled and half-typed grocery queries, and the words a right answer's
// title holds. A trailing space marks a finished word; without it the last
// word is still being typed (prefix).
const MISSPELLED = [
  ['bannana ', ['banana']], ['organc strawberies ', ['organic', 'strawberr']], ['avocadoe ', ['avocado']],
  ['spinnach ', ['spinach']], ['brocoli ', ['broccoli']], ['yoghurt ', ['yogurt']], ['parmesian ', ['parmesan']],
  ['tomatoe ', ['tomato']], ['cucumbr ', ['cucumber']], ['lettuse ', ['lettuce']], ['sparkling watter ', ['sparkling', 'water']],
  ['almond milc ', ['almond', 'milk']], ['pinaple ', ['pineapple']], ['cheddar chese ', ['cheddar', 'cheese']],
  ['garlick ', ['garlic']], ['cilantroo ', ['cilantro']], ['blueberies ', ['blueberr']], ['raspbery ', ['raspberr']],
  ['humus ', ['hummus']], ['peanut buter ', ['peanut', 'butter']], ['tortila chips ', ['tortilla', 'chips']],
  ['chocolat ', ['chocolate']], ['coffe ', ['coffee']], ['oatmeel ', ['oatmeal']], ['celary ', ['celery']],
  ['zuchini ', ['zucchini']], ['mozarella ', ['mozzarella']], ['lemonaid ', ['lemonade']], ['saurkraut ', ['sauerkraut']],
  ['cinamon ', ['cinnamon']], ['strawb', ['strawberr']], ['avoca', ['avocado']], ['parmes', ['parmesan']],
  ['blueb', ['blueberr']], ['sourdou', ['sourdough']], ['greek yog', ['greek', 'yogurt']],
];

const dir = await mkdtemp(join(tmpdir(), 'edgerec-grocery-'));
const started = Date.now();
const built = spawnSync('scripts/instacart.sh', ['channel'], {
  cwd: root,
  encoding: 'utf8',
  env: { ...process.env, DATA: data, CHANNEL: join(dir, 'channel'), BUNDLE: join(dir, 'bundle'),
    TRAIN_ARGS: '--next-up-epochs 1 --als-alpha 1' },
});
if (built.status !== 0) {
  console.log(`  FAILED: scripts/instacart.sh channel:\n${built.stdout}\n${built.stderr}`);
  process.exit(1);
}
console.log(`  built the Instacart channel in ${((Date.now() - started) / 1000).toFixed(0)} s`);

await mkdir(artifacts, { recursive: true });
const server = await serve(join(root, 'www'), { mounts: { '/channels/instacart/': join(dir, 'channel') } });
const browser = await launch();
const cardIds = (page, list) => page.$$eval(`#${list} li[data-id]`, (els) => els.map((e) => e.dataset.id));
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1360, height: 960 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${server.url}demo/?shop=instacart`);
  await page.waitForSelector('#for-you li[data-id]', { timeout: 90_000 });
  check((await page.textContent('#brand')) === 'CornerGrocer', 'the grocery shop opens');
  const starters = await cardIds(page, 'for-you');
  check(starters.length === 12 && starters.every((id) => products.has(id)), `home shows 12 products to start from (${products.get(starters[0]).product_name}, …)`);
  const heading = () => page.textContent('#for-you-title');
  check((await heading()).startsWith('Popular now'), `with no history the shelf says what it shows: "${await heading()}"`);
  const departments = await page.$$eval('#departments a', (links) => links.map((a) => a.textContent));
  check(departments.length === 21 && departments.includes('Dairy Eggs') && departments.includes('Produce'),
    `21 departments in the navigation (${departments.slice(0, 4).join(', ')}, …)`);

  // Department → aisle.
  await page.click('#departments a:text-is("Dairy Eggs")');
  await page.waitForSelector('#browse:not([hidden]) #aisles a');
  const aisleLinks = await page.$$eval('#aisles a', (links) => links.map((a) => a.textContent));
  check(aisleLinks.includes(`Yogurt (${yogurts.toLocaleString('en')})`), `Dairy Eggs lists its aisles with counts (${aisleLinks.slice(0, 3).join(', ')}, …)`);
  await page.waitForSelector('#browse-trending:not([hidden]) #browse-trending-items li[data-id]');
  const trending = await cardIds(page, 'browse-trending-items');
  check(trending.length > 0 && trending.every((id) => departmentOf(id) === 'dairy eggs'),
    `"Trending in Dairy Eggs": ${trending.length} products of the department (${products.get(trending[0]).product_name}, …)`);
  await page.click('#aisles a:text-matches("^Yogurt")');
  await page.waitForFunction(() => document.getElementById('browse-title').textContent === 'Yogurt');
  let listed = await cardIds(page, 'browse-items');
  check(listed.length === 48 && listed.every((id) => aisleOf(id) === 'yogurt'), `the Yogurt aisle shows 48 of its ${yogurts} products, all yogurt`);
  await page.click('#browse-more');
  listed = await cardIds(page, 'browse-items');
  check(listed.length === 96 && new Set(listed).size === 96, '"Show more" adds the next 48');
  await page.screenshot({ path: `${artifacts}demo-grocery-aisle.png` });

  // A product: its department and aisle link back; similar items answer.
  const product = listed[3];
  await page.click(`#browse-items li[data-id="${product}"] a`);
  await page.waitForSelector('#product:not([hidden]) #similar li[data-id]');
  check((await page.textContent('#product-title')) === products.get(product).product_name.trim(), `the product page shows ${products.get(product).product_name}`);
  const crumbs = await page.$$eval('#product-categories a', (links) => links.map((a) => a.textContent));
  check(crumbs.join() === 'Dairy Eggs,Yogurt', `its department and aisle are links (${crumbs.join(' › ')})`);
  const similar = await cardIds(page, 'similar');
  check(similar.length === 12 && !similar.includes(product), '12 similar products, not itself');
  check(!(await page.textContent('#similar')).includes('score'), 'no scores on the cards unless asked for');
  const popularProduct = starters[0];
  await page.goto(`${server.url}demo/?shop=instacart#/item/${popularProduct}`);
  await page.waitForSelector('#together-shelf:not([hidden]) #together li[data-id]');
  const together = await cardIds(page, 'together');
  check(together.length > 0 && !together.includes(popularProduct),
    `"Frequently bought together" with ${products.get(popularProduct).product_name}: ${together.slice(0, 3).map((id) => products.get(id).product_name).join(', ')}, …`);
  await page.screenshot({ path: `${artifacts}demo-grocery-product.png` });
  await page.goto(`${server.url}demo/?shop=instacart#/item/${product}`);
  await page.waitForSelector('#product:not([hidden]) #similar li[data-id]');

  // Back in the aisle: "like your last item" is filtered to the aisle inside the scan.
  await page.click('#product-categories a:text-is("Yogurt")');
  await page.waitForSelector('#browse-like:not([hidden]) #browse-like-items li[data-id]');
  const like = await cardIds(page, 'browse-like-items');
  check(like.length === 12 && like.every((id) => aisleOf(id) === 'yogurt' && id !== product),
    `"like ${products.get(product).product_name}, in Yogurt": 12 yogurts (${like.slice(0, 2).map((id) => products.get(id).product_name).join(', ')}, …)`);

  // Home, personalised; then search.
  await page.click('#brand');
  await page.waitForSelector('#home:not([hidden]) #next-up li[data-id]');
  const forYou = await cardIds(page, 'for-you');
  check(forYou.length === 12 && !forYou.includes(product) && forYou.join() !== starters.join(), '"for you" is personalised and leaves out the history');
  check((await heading()).startsWith('Recommended for you'), `and is labelled so: "${await heading()}"`);
  check((await cardIds(page, 'next-up')).length === 12, '"next up" answers');
  await page.fill('#search', 'greek yogurt');
  await page.press('#search', 'Enter');
  await page.waitForSelector('#results:not([hidden]) #search-results li[data-id]');
  const found = await cardIds(page, 'search-results');
  check(found.length >= 10 && found.slice(0, 5).every((id) => /greek/i.test(products.get(id).product_name)),
    `search "greek yogurt": ${found.slice(0, 3).map((id) => products.get(id).product_name).join(', ')}, …`);
  await page.screenshot({ path: `${artifacts}demo-grocery-search.png` });

  // Typo tolerance on 49,688 products: precision of the top 1 and top 5.
  const typos = await page.evaluate(async (queries) => {
    const { EdgeRec } = await import('../edgerec.js');
    const rec = await EdgeRec.open({ channel: '../channels/instacart/', historyName: 'typo-test', stockEvery: 0, checkEvery: 0 });
    const answers = [];
    for (const [query] of queries) answers.push((await rec.search(query, { k: 5, history: [] })).items.map((item) => item.title));
    rec.close();
    return answers;
  }, MISSPELLED);
  const right = (title, words) => words.every((word) => title.toLowerCase().includes(word));
  const atOne = MISSPELLED.filter(([, words], i) => typos[i][0] && right(typos[i][0], words)).length / MISSPELLED.length;
  const atFive = MISSPELLED.reduce((sum, [, words], i) => sum + typos[i].filter((title) => right(title, words)).length / 5, 0) / MISSPELLED.length;
  const misses = MISSPELLED.filter(([, words], i) => !(typos[i][0] && right(typos[i][0], words))).map(([query], i) => `"${query.trim()}"`);
  console.log(`  misspelled grocery queries: precision@1 ${atOne.toFixed(2)}, precision@5 ${atFive.toFixed(2)} (${MISSPELLED.length} queries; first result wrong: ${misses.join(', ') || 'none'})`);
  // Some misses are the catalog's own spelling (its "Humus", "Zuchini", "Mozarella" products match exactly).
  check(atOne >= 0.7, `most misspelled grocery queries find what they mean (precision@1 ${atOne.toFixed(2)})`);

  // The cart drives "complete your basket".
  await page.goto(`${server.url}demo/?shop=instacart#/item/${popularProduct}`);
  await page.waitForSelector('#product:not([hidden]) #add-to-cart:not([disabled])');
  check((await page.textContent('#product-stock')) === 'In stock', `${products.get(popularProduct).product_name}: in stock`);
  await page.click('#add-to-cart');
  await page.waitForFunction(() => document.getElementById('cart-count').textContent === '1');
  check(await page.$eval('#add-to-cart', (b) => b.disabled && b.textContent.startsWith('In your cart')), 'add to cart: the cart has 1 product');
  const second = together[0];
  await page.goto(`${server.url}demo/?shop=instacart#/item/${second}`);
  await page.waitForSelector('#product:not([hidden]) #add-to-cart:not([disabled])');
  await page.click('#add-to-cart');
  await page.waitForFunction(() => document.getElementById('cart-count').textContent === '2');
  await page.click('#cart-link');
  await page.waitForSelector('#cart:not([hidden]) #cart-together-shelf:not([hidden]) #cart-together li[data-id]');
  const lines = await page.$$eval('#cart-items li[data-id]', (els) => els.map((e) => e.dataset.id));
  const basket = await cardIds(page, 'cart-together');
  check(lines.join() === [popularProduct, second].join() && basket.length === 12
    && !basket.includes(popularProduct) && !basket.includes(second) && basket.join() !== together.join(),
  `the cart page: 2 lines and "complete your basket" for both (${basket.slice(0, 3).map((id) => products.get(id).product_name).join(', ')}, …)`);
  await page.screenshot({ path: `${artifacts}demo-grocery-cart.png`, fullPage: true });

  // The live stock flips a product to "out of stock" with no new model version.
  const soldOut = basket[0];
  const version = await page.textContent('#status');
  await page.goto(`${server.url}demo/?shop=instacart#/item/${soldOut}`);
  await page.waitForSelector('#product:not([hidden]) #add-to-cart:not([disabled])');
  const stockFile = join(dir, 'stock-input.json');
  await writeFile(stockFile, JSON.stringify({ out_of_stock: [soldOut] }));
  const published = Date.now();
  const stock = spawnSync('.venv/bin/python', ['-m', 'models.publish', '--channel', join(dir, 'channel'), '--stock', stockFile],
    { cwd: root, encoding: 'utf8' });
  check(stock.status === 0, `published a stock file with ${products.get(soldOut).product_name} out of stock ${stock.stderr}`);
  await page.waitForFunction(() => document.getElementById('product-stock').textContent === 'Out of stock', null, { timeout: 20_000 });
  check(await page.$eval('#add-to-cart', (b) => b.disabled), `within ${((Date.now() - published) / 1000).toFixed(1)} s the product page says "Out of stock" and cannot be added`);
  await page.screenshot({ path: `${artifacts}demo-grocery-out-of-stock.png` });
  await page.goto(`${server.url}demo/?shop=instacart#/cart`);
  await page.waitForSelector('#cart:not([hidden]) #cart-together li[data-id]');
  await page.waitForFunction((id) => !document.querySelector(`#cart-together li[data-id="${id}"]`), soldOut);
  check(!(await cardIds(page, 'cart-together')).includes(soldOut) && (await page.textContent('#status')) === version,
    `it left "complete your basket"; the model is still ${version}`);
  check(errors.length === 0, `no page errors ${errors.join(' | ')}`);
  await context.close();

  // A phone: 390 px wide.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const small = await phone.newPage();
  small.on('pageerror', (error) => errors.push(error.message));
  await small.goto(`${server.url}demo/?shop=instacart`);
  await small.waitForSelector('#for-you li[data-id]', { timeout: 90_000 });
  const fits = () => small.evaluate(() => document.documentElement.scrollWidth <= innerWidth);
  const searchWidth = await small.$eval('#search', (input) => input.getBoundingClientRect().width);
  check(searchWidth >= 300 && await fits(), `at 390 px the search box is ${searchWidth.toFixed(0)} px wide and nothing overflows sideways`);
  await small.screenshot({ path: `${artifacts}demo-grocery-phone-home.png` });
  await small.goto(`${server.url}demo/?shop=instacart#/item/${popularProduct}`);
  await small.waitForSelector('#product:not([hidden]) #similar li[data-id]');
  check(await fits(), 'the product page fits');
  await small.screenshot({ path: `${artifacts}demo-grocery-phone-product.png` });
  await small.click('#history-toggle');
  const panel = await small.$eval('#history-panel', (el) => { const r = el.getBoundingClientRect(); return { top: r.top, bottom: r.bottom, left: r.left, right: r.right }; });
  check(panel.top >= 0 && panel.bottom <= 844 && panel.left >= 0 && panel.right <= 390 && await small.isVisible('#history li a'),
    `the history panel opens on screen (${panel.left.toFixed(0)}–${panel.right.toFixed(0)} × ${panel.top.toFixed(0)}–${panel.bottom.toFixed(0)})`);
  await small.screenshot({ path: `${artifacts}demo-grocery-phone-history.png` });
  await small.click('#history-toggle');
  await small.goto(`${server.url}demo/?shop=instacart#/search/${encodeURIComponent('greek yogurt')}`);
  await small.waitForSelector('#results:not([hidden]) #search-results li[data-id]');
  await small.screenshot({ path: `${artifacts}demo-grocery-phone-search.png` });
  check(errors.length === 0, `no page errors at 390 px ${errors.join(' | ')}`);
  await phone.close();
} catch (error) {
  failed = true;
  console.log(`  FAILED: ${error.message.split('\n')[0]}`);
} finally {
  await browser.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
console.log(failed ? 'grocery demo test failed' : 'grocery demo test passed');
process.exit(failed ? 1 : 0);
