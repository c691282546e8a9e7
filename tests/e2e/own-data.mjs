// A shop's own data, end to end: the worked example (models/examples: 30
// products, ~300 events) is trained by `python -m models.train`, published
// to a throwaway channel by models/publish.py, and opened by EdgeRec in
// Chromium, which must give real answers: similar items, "for you", next up,
// search, and the catalog with its typed attributes.
// Needs the wasm build in www/pkg and the Python venv (.venv).
// Usage: node tests/e2e/own-data.mjs
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from './static-server.mjs';
import { launch, check } from './browser.mjs';

const root = new URL('../../', import.meta.url).pathname;
const www = join(root, 'www');
const fixtures = new URL('./fixtures/', import.meta.url).pathname;
const python = join(root, '.venv/bin/python');

// The example's shopper profiles (models/examples/make_examples.py).
const GREEN_TEA = ['TEA-001', 'TEA-002', 'TEA-003', 'BRW-006', 'BRW-007', 'TEA-010', 'SNK-004'];
const ESPRESSO = ['COF-001', 'SNK-005', 'BRW-005', 'SNK-002', 'GFT-002', 'COF-002'];
const POUR_OVER = ['BRW-002', 'BRW-003', 'COF-002', 'BRW-001', 'BRW-005', 'COF-003'];

function run(args) {
  const started = Date.now();
  const result = spawnSync(python, args, { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  console.log(`  ran python ${args.slice(0, 2).join(' ')} … (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return result.stdout;
}

const ids = (answer) => answer.items.map((item) => item.id);
const among = (answer, set) => ids(answer).filter((id) => set.includes(id)).length;

const dir = await mkdtemp(join(tmpdir(), 'edgerec-own-data-'));
let server;
let browser;
let failed = false;
try {
  console.log('# train the worked example and publish it');
  const output = run(['-m', 'models.train', '--catalog', 'models/examples/catalog.csv',
    '--events', 'models/examples/events.csv', '--out', join(dir, 'bundle'), '--version', '1', '--name', 'leaf-and-bean',
    '--next-up-epochs', '12']);
  check(output.includes('no shopper data'), 'the training command says the bundle holds no shopper data');
  run(['-m', 'models.publish', '--channel', join(dir, 'channel'), join(dir, 'bundle')]);

  server = await serve(www, { mounts: { '/fixture/': fixtures, '/channel/': join(dir, 'channel') } });
  browser = await launch();
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.log(`  page error: ${error.message}`));
  await page.goto(`${server.url}fixture/hostile.html?stockEvery=1000`);
  await page.waitForFunction(() => window.rec || window.openError, null, { timeout: 60_000 });
  const openError = await page.evaluate(() => window.openError);
  if (openError) throw new Error(`EdgeRec.open failed: ${openError.code}: ${openError.message}`);

  console.log('# answers');
  check(await page.evaluate(() => window.rec.version) === '1', 'the page serves version 1 of the shop\'s channel');
  const catalog = await page.evaluate(() => window.rec.items());
  check(catalog.items.length === 30, `items(): 30 products (${catalog.items.length})`);
  const matcha = catalog.items.find((item) => item.id === 'TEA-003');
  const a = matcha.attributes;
  check(a && a.price === 24 && a.currency === 'EUR' && a.organic === true && a.caffeine_mg === 70
    && a.available === true && a.brand === 'Kumo',
  `items(): typed attributes kept (${JSON.stringify(a)})`);
  check(JSON.stringify(matcha.categories) === '["Tea","Green tea","Matcha"]', `items(): categories ${matcha.categories}`);
  const kettle = catalog.items.find((item) => item.id === 'BRW-001');
  check(!('caffeine_mg' in kettle.attributes), 'items(): an empty cell is no attribute');

  const byId = Object.fromEntries(catalog.items.map((item) => [item.id, item]));
  const similar = await page.evaluate(() => window.rec.similar('TEA-001', { k: 5 }));
  check(similar.version === '1' && similar.items.length === 5 && !ids(similar).includes('TEA-001'),
    `similar(TEA-001): 5 items, not itself (${ids(similar)})`);
  check(among(similar, GREEN_TEA) >= 3, `similar(TEA-001): mostly what green-tea drinkers buy (${ids(similar)})`);
  const coffee = await page.evaluate(() => window.rec.similar('COF-001', { k: 5, category: 'Coffee' }));
  check(coffee.items.length > 0 && coffee.items.every((item) => byId[item.id].categories.includes('Coffee')),
    `similar(COF-001, category Coffee): only coffee (${ids(coffee)})`);

  // Merchandising rules from the catalog's own attributes, inside the scan.
  const ruled = await page.evaluate(() => window.rec.similar('TEA-001', {
    k: 4,
    rules: { filter: { price: { max: 10 }, available: true }, exclude: ['TEA-002'], pin: [{ id: 'TEA-004', position: 0 }] },
  }));
  check(ruled.items.length === 4 && ruled.items[0].id === 'TEA-004' && !ids(ruled).includes('TEA-002')
    && ruled.items.every((item) => byId[item.id].attributes.price <= 10 && byId[item.id].attributes.available),
  `similar(TEA-001) with rules: pinned first, excluded gone, only in stock under 10 (${ids(ruled)})`);
  const refused = await page.evaluate(() => window.rec.similar('TEA-001', { rules: { filter: { category: 'Space' } } })
    .then(() => 'answered', (error) => `${error.name} ${error.code}: ${error.message}`));
  check(/^InputError unknown_category: rules: unknown category "Space"/.test(refused), `a rule naming an unknown category: ${refused}`);

  // Trending (time-decayed popularity from training), and the fallback of a
  // history the shop does not know, per category where the page gives one.
  const trending = await page.evaluate(() => window.rec.trending({ k: 5 }));
  check(trending.source === 'trending' && trending.items.length === 5, `trending(): ${ids(trending)}`);
  const teaTrending = await page.evaluate(() => window.rec.trending({ k: 3, category: 'Tea' }));
  check(teaTrending.items.length === 3 && teaTrending.items.every((item) => byId[item.id].categories.includes('Tea')),
    `trending({ category: Tea }): ${ids(teaTrending)}`);
  const newcomer = await page.evaluate(() => window.rec.forShopper({ k: 3, history: ['NOT-SOLD-HERE'], rules: { filter: { category: 'Tea' } } }));
  check(newcomer.source === 'trending' && ids(newcomer).join() === ids(teaTrending).join()
    && newcomer.skipped.join() === 'NOT-SOLD-HERE',
  `forShopper for an unknown history: trending tea, said so (source ${newcomer.source}: ${ids(newcomer)})`);
  const fresh = await page.evaluate(() => window.rec.nextUp({ k: 5, history: [] }));
  check(fresh.source === 'trending' && fresh.items.length === 5, `nextUp with an empty history: ${fresh.source}`);

  const forYou = await page.evaluate(() => window.rec.forShopper({ k: 5, history: ['TEA-001', 'TEA-003'] }));
  check(forYou.source === 'for_you' && forYou.items.length === 5 && !ids(forYou).some((id) => ['TEA-001', 'TEA-003'].includes(id)),
    `forShopper(TEA-001, TEA-003): 5 items, history excluded (${ids(forYou)})`);
  check(among(forYou, GREEN_TEA) >= 2, `forShopper: folded in towards green tea (${ids(forYou)})`);

  await page.evaluate(async () => { for (const id of ['COF-001', 'SNK-005']) await window.rec.history.add(id); });
  const fromHistory = await page.evaluate(() => window.rec.forShopper({ k: 5 }));
  check(among(fromHistory, ESPRESSO) >= 1, `forShopper from the on-device history (espresso): ${ids(fromHistory)}`);

  const next = await page.evaluate(() => window.rec.nextUp({ k: 5, history: ['BRW-002', 'BRW-003'] }));
  check(next.version === '1' && next.items.length === 5 && !ids(next).some((id) => ['BRW-002', 'BRW-003'].includes(id)),
    `nextUp(BRW-002, BRW-003): 5 items, history excluded (${ids(next)})`);
  check(among(next, POUR_OVER) >= 1, `nextUp: the pour-over path goes on (${ids(next)})`);

  const search = await page.evaluate(() => window.rec.search('green tea', { k: 5 }));
  check(search.items.length > 0 && /green/i.test(search.items[0].title + byId[search.items[0].id].categories),
    `search("green tea"): ${search.items.map((item) => item.title).join(', ')}`);
  const together = await page.evaluate(() => window.rec.boughtTogether({ items: ['TEA-001'], k: 5 }));
  check(together.source === 'together' && ids(together).includes('TEA-002') && !ids(together).includes('TEA-001'),
    `boughtTogether(TEA-001): from the example's orders (${ids(together)})`);

  console.log('# live stock: no new model version');
  const everyList = () => page.evaluate(async () => {
    const answers = await Promise.all([
      window.rec.similar('TEA-001', { k: 10 }), window.rec.forShopper({ k: 10, history: ['TEA-001', 'TEA-003'] }),
      window.rec.nextUp({ k: 10, history: ['TEA-001', 'TEA-003'] }), window.rec.search('tea', { k: 10 }),
      window.rec.trending({ k: 10 }),
    ]);
    return answers.map((answer) => ({ version: answer.version, ids: answer.items.map((item) => item.id) }));
  });
  const before = await everyList();
  const soldOut = before[0].ids[0];
  check(before.filter((list) => list.ids.includes(soldOut)).length >= 2, `${soldOut} is recommended in several lists`);
  const stockFile = join(dir, 'stock-input.json');
  await writeFile(stockFile, JSON.stringify({ out_of_stock: [soldOut], overrides: { 'TEA-004': { price: 99 } } }));
  const published = Date.now();
  run(['-m', 'models.publish', '--channel', join(dir, 'channel'), '--stock', stockFile]);
  await page.waitForFunction(() => window.events.some((e) => e.type === 'stockchange'), null, { timeout: 10_000 });
  const after = await everyList();
  check(after.every((list) => !list.ids.includes(soldOut) && list.version === '1'),
    `within one refresh (${((Date.now() - published) / 1000).toFixed(1)} s) ${soldOut} left every list; still version 1, no model swap`);
  const status = await page.evaluate((id) => [window.rec.stockOf(id), window.rec.stockOf('TEA-004')], soldOut);
  check(status[0].inStock === false && status[1].inStock === true && status[1].overrides.price === 99,
    `stockOf(): ${soldOut} out of stock, TEA-004 in stock at the overridden price`);
  const pricey = await page.evaluate(() => window.rec.similar('TEA-001', { k: 10, rules: { filter: { price: { max: 10 } } } }));
  check(!ids(pricey).includes('TEA-004'), 'a price override from the stock file is what price filters see');
  await writeFile(stockFile, JSON.stringify({ out_of_stock: [] }));
  run(['-m', 'models.publish', '--channel', join(dir, 'channel'), '--stock', stockFile]);
  check((await page.evaluate(() => window.rec.refreshStock())).outOfStock === 0
    && (await everyList())[0].ids.includes(soldOut) && await page.evaluate((id) => window.rec.stockOf(id).inStock, soldOut),
  `back in stock: ${soldOut} is recommended again`);

  const categories = await page.evaluate(() => window.rec.categories());
  check(categories.categories.includes('Pour-over') && categories.categories.includes('Herbal tea'),
    `categories(): ${categories.categories.length} from the catalog`);
} catch (error) {
  failed = true;
  console.log(`  FAILED: ${error.message}`);
} finally {
  await browser?.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
}
console.log(failed ? 'own-data test failed' : 'own-data test passed');
process.exit(failed ? 1 : 0);
