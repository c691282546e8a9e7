// The demo shop. Every list is computed by edgerec on this device; the model
// is swapped live when a new version is published to the channel.
import { EdgeRec } from '../edgerec.js';

const K = 12;
const AISLE_PAGE = 48;
const $ = (id) => document.getElementById(id);

// Two shops on one page: ?shop=instacart serves the grocery channel that
// `make demo SHOP=instacart` builds; the default is the committed movie shop.
const SHOPS = {
  'ml-100k': {
    channel: '../channels/ml-100k/', historyName: 'demo-shop', brand: ['Reel', 'Corner'], things: 'movies',
    hero: 'Movies picked for you, on your device',
    starters: ['1', '50', '98', '127', '172', '181', '258', '286', '313', '100', '64', '56'],
    startText: 'Start anywhere: pick a movie you like.',
  },
  instacart: {
    channel: '../channels/instacart/', historyName: 'demo-grocery', brand: ['Corner', 'Grocer'], things: 'products',
    hero: 'Groceries picked for you, on your device',
    starters: ['24852', '13176', '21137', '21903', '47209', '47766', '47626', '16797', '26209', '27845', '27966', '22935'],
    startText: 'Start anywhere: pick a product, or browse a department above.',
  },
};
const shopName = new URLSearchParams(location.search).get('shop') ?? 'ml-100k';
const shop = SHOPS[shopName] ?? SHOPS['ml-100k'];
document.body.dataset.shop = shopName in SHOPS ? shopName : 'ml-100k';
$('brand').replaceChildren(shop.brand[0], Object.assign(document.createElement('span'), { textContent: shop.brand[1] }));
document.title = `${shop.brand.join(' ')} · an edgerec demo shop`;
$('hero-title').textContent = shop.hero;

let rec;
try {
  rec = await EdgeRec.open({ channel: shop.channel, serviceWorker: '../sw.js', serviceWorkerScope: '../',
    historyName: shop.historyName, checkEvery: 5_000, stockEvery: 5_000 });
} catch (error) {
  setStatus('error', `could not load a model: ${error.message}`);
  throw error;
}
let catalog = await loadCatalog();
let departments = departmentsOf(catalog);

rec.addEventListener('modelchange', async ({ detail }) => {
  catalog = await loadCatalog();
  departments = departmentsOf(catalog);
  render();
  if (detail.from && detail.from !== detail.to) {
    toast(`New model v${detail.to} applied live (was v${detail.from}): recommendations refreshed.`);
  }
});
rec.addEventListener('modelrejected', ({ detail }) => {
  toast(`Model v${detail.version} was not applied: ${detail.reason}. Still serving v${rec.version}.`, 'warn');
});
rec.addEventListener('stockchange', ({ detail }) => {
  render();
  const count = detail?.outOfStock ?? 0;
  toast(count ? `Stock updated: ${count.toLocaleString('en')} ${count === 1 ? 'product' : 'products'} out of stock; lists no longer show them.`
    : 'Stock updated: everything is available again.');
});
rec.history.addEventListener('change', () => { renderHistory(); if (route().page === 'home') renderHome(); });

// The cart, like the history, stays in this browser (localStorage).
const cartKey = `edgerec-demo-cart:${shopName}`;
const cart = {
  list: () => { try { return JSON.parse(localStorage.getItem(cartKey)) ?? []; } catch { return []; } },
  save(ids) { localStorage.setItem(cartKey, JSON.stringify(ids)); renderCartCount(); },
  add(id) { if (!this.list().includes(id)) this.save([...this.list(), id]); },
  remove(id) { this.save(this.list().filter((other) => other !== id)); },
};
addEventListener('storage', (event) => { if (event.key === cartKey) render(); });
$('add-to-cart').addEventListener('click', () => {
  const { id } = route();
  if (!id) return;
  cart.add(id);
  paintBuy(id);
});

// Scores are for the curious, not for shoppers: off unless asked for.
$('show-scores').checked = localStorage.getItem('edgerec-demo-scores') === '1';
$('show-scores').addEventListener('change', () => {
  localStorage.setItem('edgerec-demo-scores', $('show-scores').checked ? '1' : '0');
  render();
});
$('category-filter').append(...(await rec.categories()).categories.map((name) => new Option(name, name)));
$('category-filter').addEventListener('change', () => renderProduct(route().id));
$('search-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = $('search').value.trim();
  location.hash = text ? `#/search/${encodeURIComponent(text)}` : '#/';
});
$('clear-history').addEventListener('click', () => rec.history.clear());
$('history-toggle').addEventListener('click', () => {
  $('history-toggle').setAttribute('aria-expanded', document.body.classList.toggle('show-history'));
});
addEventListener('hashchange', () => { render(); scrollTo(0, 0); });
// The history panel opens just under the bar, whose height depends on the width.
new ResizeObserver(([entry]) => {
  document.documentElement.style.setProperty('--bar-height', `${Math.ceil(entry.target.getBoundingClientRect().height)}px`);
}).observe(document.querySelector('.topbar'));
render();

async function loadCatalog() {
  const { version, items } = await rec.items();
  setStatus('ready', `model v${version}`);
  $('status').dataset.version = version;
  $('search').placeholder = `Search ${items.length.toLocaleString('en')} ${shop.things}: titles and categories`;
  return new Map(items.map((item) => [item.id, item]));
}

/**
 * Department → aisle → item ids, from the catalog's `department` and `aisle`
 * attributes (a shop without them has no department navigation).
 */
function departmentsOf(items) {
  const tree = new Map();
  for (const item of items.values()) {
    const { department, aisle } = item.attributes ?? {};
    if (typeof department !== 'string' || typeof aisle !== 'string') continue;
    if (!tree.has(department)) tree.set(department, new Map());
    const aisles = tree.get(department);
    if (!aisles.has(aisle)) aisles.set(aisle, []);
    aisles.get(aisle).push(item.id);
  }
  const byName = (a, b) => a[0].localeCompare(b[0]);
  const sorted = [...tree].sort(byName).map(([name, aisles]) => [name, new Map([...aisles].sort(byName))]);
  for (const [, aisles] of sorted) {
    for (const ids of aisles.values()) ids.sort((a, b) => catalog.get(a).title.localeCompare(catalog.get(b).title));
  }
  const nav = $('departments');
  nav.hidden = !sorted.length;
  nav.replaceChildren(...sorted.map(([name]) => {
    const link = document.createElement('a');
    link.href = `#/dept/${encodeURIComponent(name)}`;
    link.textContent = name;
    return link;
  }));
  return new Map(sorted);
}

function route() {
  const [, page = '', arg = '', more = ''] = location.hash.split('/');
  const [first, second] = [decodeURIComponent(arg), decodeURIComponent(more)];
  if (page === 'item' && catalog.has(first)) return { page: 'item', id: first };
  if (page === 'search' && arg) return { page: 'search', text: first };
  if (page === 'cart') return { page: 'cart' };
  if (page === 'dept' && departments.has(first)) {
    const aisle = departments.get(first).has(second) ? second : null;
    return { page: 'browse', department: first, aisle };
  }
  return { page: 'home' };
}

function render() {
  const { page, id, text, department, aisle } = route();
  $('home').hidden = page !== 'home';
  $('product').hidden = page !== 'item';
  $('results').hidden = page !== 'search';
  $('browse').hidden = page !== 'browse';
  $('cart').hidden = page !== 'cart';
  renderCartCount();
  for (const link of $('departments').children) {
    link.classList.toggle('current', link.hash === `#/dept/${encodeURIComponent(department ?? '')}`);
  }
  renderHistory();
  if (page === 'browse') {
    renderBrowse(department, aisle);
  } else if (page === 'item') {
    renderProduct(id);
    if (rec.history.list().at(-1) !== id) rec.history.add(id);
  } else if (page === 'cart') {
    renderCart();
  } else if (page === 'search') {
    $('search').value = text;
    renderSearch(text);
  } else {
    renderHome();
  }
  if (page !== 'search') $('search').value = '';
}

// The for-you shelf's heading says where its items come from: the engine
// answers a shopper with no history from what is trending (source
// 'trending' or 'popular') when the bundle has popularity scores.
const FOR_YOU_TITLES = {
  for_you: ['Recommended for you', 'matrix factorisation, folded in from your history'],
  trending: ['Popular now', 'what is trending in the shop; open a few products and this shelf becomes yours'],
  popular: ['Popular', 'all-time favourites; open a few products and this shelf becomes yours'],
  starters: ['Start here', 'a few picks to start from; this shelf becomes yours as you browse'],
};

function titleForYou(source) {
  const [title, note] = FOR_YOU_TITLES[source] ?? FOR_YOU_TITLES.for_you;
  $('for-you-title').replaceChildren(`${title} `, Object.assign(document.createElement('small'), { textContent: note }));
}

async function renderHome() {
  const forYou = rec.forShopper({ k: K });
  forYou.then(({ source }) => titleForYou(source), () => {});
  if (rec.history.list().length) {
    show($('for-you'), forYou, 'Nothing to recommend yet.');
    show($('next-up'), rec.nextUp({ k: K }), 'Nothing to recommend yet.');
    return;
  }
  $('next-up').replaceChildren(empty(`Open a few ${shop.things} and this shelf predicts what you will want next.`));
  try {
    const answer = await forYou;
    if (!rec.history.list().length) fillCards($('for-you'), answer.items, shop.startText);
  } catch {
    // No popularity scores in this bundle: the shop's own starting picks.
    titleForYou('starters');
    const picks = shop.starters.filter((id) => catalog.has(id)).map((id) => ({ ...catalog.get(id), score: null }));
    fillCards($('for-you'), picks, shop.startText);
  }
}

function renderProduct(id) {
  const item = catalog.get(id);
  const { title, year } = splitTitle(item.title);
  $('product-title').textContent = title;
  $('product-year').textContent = year ?? '';
  const { department, aisle } = item.attributes ?? {};
  $('product-categories').replaceChildren(...(departments.has(department)
    ? [tag(department, `#/dept/${encodeURIComponent(department)}`),
      tag(aisle, `#/dept/${encodeURIComponent(department)}/${encodeURIComponent(aisle)}`)]
    : item.categories.map((name) => tag(name))));
  paintPoster($('product-poster'), item);
  paintBuy(id);
  const category = $('category-filter').value || undefined;
  show($('similar'), rec.similar(id, { k: K, category }), `No similar ${shop.things} in this category.`);
  optionalShelf($('together-shelf'), $('together'), rec.boughtTogether({ items: [id], k: K }),
    `Nothing was bought with this often enough yet.`);
}

// A shelf the bundle may not have a model for (trending, bought together):
// hidden when the answer is model_missing.
async function optionalShelf(section, list, pending, emptyText) {
  try {
    await pending;
    section.hidden = false;
  } catch (error) {
    section.hidden = error.code === 'model_missing';
  }
  show(list, pending, emptyText);
}

// The product page's stock badge and cart button; the live stock flips them
// without a new model version.
function paintBuy(id) {
  const { inStock } = rec.stockOf(id);
  const inCart = cart.list().includes(id);
  paintStock($('product-stock'), inStock);
  $('add-to-cart').disabled = !inStock || inCart;
  $('add-to-cart').textContent = inCart ? 'In your cart ✓' : 'Add to cart';
}

function paintStock(element, inStock) {
  element.textContent = inStock ? 'In stock' : 'Out of stock';
  element.dataset.state = inStock ? 'in' : 'out';
  return element;
}

function renderCartCount() {
  $('cart-count').textContent = cart.list().length;
}

// The cart's lines, then what is bought with all of them: the cart items'
// partners, scores summed, the cart itself left out.
function renderCart() {
  const ids = cart.list().filter((id) => catalog.has(id));
  $('cart-summary').textContent = ids.length ? `${ids.length} ${ids.length === 1 ? 'product' : 'products'}` : '';
  $('cart-items').replaceChildren(...ids.map((id) => {
    const li = document.createElement('li');
    li.dataset.id = id;
    const link = tag(catalog.get(id).title, `#/item/${encodeURIComponent(id)}`);
    const remove = Object.assign(document.createElement('button'), { className: 'ghost', textContent: 'Remove' });
    remove.addEventListener('click', () => { cart.remove(id); renderCart(); });
    const note = rec.stockOf(id).inStock ? [] : [paintStock(Object.assign(document.createElement('span'), { className: 'stock' }), false)];
    li.append(link, ...note, remove);
    return li;
  }));
  if (!ids.length) {
    $('cart-items').replaceChildren(empty(`Your cart is empty: open a product and add it.`));
    $('cart-together-shelf').hidden = true;
    return;
  }
  optionalShelf($('cart-together-shelf'), $('cart-together'), rec.boughtTogether({ items: ids, k: K }),
    'Nothing was bought with these often enough yet.');
}

function renderSearch(text) {
  $('results-title').textContent = `Results for “${text}”`;
  show($('search-results'), rec.search(text, { k: 24 }), `No ${shop.things} match those words.`);
}

// A department lists its aisles; an aisle lists its products, a page at a
// time, under a shelf of products like the shopper's last one in that aisle
// (the category filter runs inside the similarity scan).
function renderBrowse(department, aisle) {
  const aisles = departments.get(department);
  $('browse-title').textContent = aisle ?? department;
  $('browse-crumbs').replaceChildren(tag(department, `#/dept/${encodeURIComponent(department)}`));
  $('aisles').replaceChildren(...[...aisles].map(([name, ids]) => {
    const link = tag(`${name} (${ids.length.toLocaleString('en')})`, `#/dept/${encodeURIComponent(department)}/${encodeURIComponent(name)}`);
    if (name === aisle) link.classList.add('current');
    return link;
  }));
  const ids = aisle ? aisles.get(aisle) : [...aisles.values()].flat();
  $('browse-trending-title').textContent = `Trending in ${aisle ?? department}`;
  optionalShelf($('browse-trending'), $('browse-trending-items'), rec.trending({ k: K, category: aisle ?? department }),
    `Nothing trends in ${aisle ?? department} yet.`);
  const last = rec.history.list().at(-1);
  $('browse-like').hidden = !last;
  if (last) {
    $('browse-like-title').textContent = `Like ${catalog.get(last)?.title ?? 'your last item'}, in ${aisle ?? department}`;
    show($('browse-like-items'), rec.similar(last, { k: K, category: aisle ?? department }), `Nothing similar in ${aisle ?? department}.`);
  }
  const list = $('browse-items');
  let shown = 0;
  const more = () => {
    const page = ids.slice(shown, shown + AISLE_PAGE).map((id) => ({ ...catalog.get(id), score: null }));
    shown += page.length;
    const cards = document.createElement('ol');
    fillCards(cards, page, '');
    list.append(...cards.children);
    $('browse-more').hidden = shown >= ids.length;
    $('browse-count').textContent = `${shown.toLocaleString('en')} of ${ids.length.toLocaleString('en')} products, A to Z`;
  };
  list.replaceChildren();
  $('browse-more').onclick = more;
  more();
}

function renderHistory() {
  const entries = rec.history.entries().reverse();
  $('history-count').textContent = entries.length;
  $('history').replaceChildren(...entries.map(({ id, at }) => {
    const li = document.createElement('li');
    const link = document.createElement('a');
    link.href = `#/item/${encodeURIComponent(id)}`;
    link.textContent = catalog.get(id)?.title ?? `item ${id} (not in this model's catalog)`;
    const when = document.createElement('time');
    when.textContent = new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    li.append(link, when);
    return li;
  }));
  if (!entries.length) $('history').replaceChildren(empty('Nothing yet.'));
}

// Fills a shelf from a pending answer; a newer request for the same shelf wins.
async function show(list, pending, emptyText) {
  const ticket = (list.ticket ?? 0) + 1;
  list.ticket = ticket;
  list.setAttribute('aria-busy', 'true');
  try {
    const answer = await pending;
    if (list.ticket !== ticket) return;
    list.dataset.version = answer.version;
    fillCards(list, answer.items, emptyText);
  } catch (error) {
    if (list.ticket === ticket) list.replaceChildren(empty(`${error.message} (${error.code})`));
  } finally {
    if (list.ticket === ticket) list.removeAttribute('aria-busy');
  }
}

function fillCards(list, items, emptyText) {
  if (!items.length) return list.replaceChildren(empty(emptyText));
  list.replaceChildren(...items.map(({ id, title: fullTitle, score }) => {
    const item = catalog.get(id);
    const { title, year } = splitTitle(fullTitle);
    const li = document.createElement('li');
    li.dataset.id = id;
    const link = document.createElement('a');
    link.href = `#/item/${encodeURIComponent(id)}`;
    const poster = document.createElement('div');
    poster.className = 'poster';
    paintPoster(poster, item ?? { id, title: fullTitle });
    const name = document.createElement('span');
    name.className = 'title';
    name.textContent = title;
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = [year, item?.attributes?.aisle ?? item?.categories.slice(0, 2).join(' · ')].filter(Boolean).join(' · ');
    link.append(poster, name, meta);
    if (score !== null && score !== undefined && $('show-scores').checked) {
      const match = document.createElement('span');
      match.className = 'score';
      match.textContent = `score ${score.toFixed(3)}`;
      link.append(match);
    }
    li.append(link);
    return li;
  }));
}

// A poster stand-in: a colour from the id, the title's initials.
function paintPoster(element, item) {
  let hash = 0;
  for (const char of item.id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  const hue = hash % 360;
  element.style.background = `linear-gradient(150deg, hsl(${hue} 55% 46%), hsl(${(hue + 40) % 360} 60% 28%))`;
  const words = splitTitle(item.title).title.split(/\s+/).filter((w) => /^[A-Za-z0-9]/.test(w));
  const key = words.filter((w) => !/^(the|a|an|of|and|in|on)$/i.test(w));
  element.textContent = (key.length ? key : words).slice(0, 2).map((w) => w[0]).join('').toUpperCase();
}

// "Rock, The (1996)" → { title: "The Rock", year: "1996" }
function splitTitle(full) {
  const match = /^(.*?)\s*\((\d{4})\)\s*$/.exec(full);
  const [title, year] = match ? [match[1], match[2]] : [full, null];
  return { title: title.replace(/^(.*), (The|A|An)$/, '$2 $1'), year };
}

function setStatus(state, text) {
  $('status').dataset.state = state;
  $('status').textContent = text;
}

let toastTimer;
function toast(text, kind = 'info') {
  const box = $('toast');
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 6_000);
}

function tag(text, href) {
  const element = document.createElement(href ? 'a' : 'span');
  element.textContent = text;
  if (href) element.href = href;
  return element;
}

function empty(text) {
  const li = document.createElement('li');
  li.className = 'empty';
  li.textContent = text;
  return li;
}
