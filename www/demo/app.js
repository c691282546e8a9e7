// The demo shop. Every list is computed by edgerec on this device; the model
// is swapped live when a new version is published to the channel.
import { EdgeRec } from '../edgerec.js';

const K = 12;
const $ = (id) => document.getElementById(id);

let rec;
try {
  rec = await EdgeRec.open({ channel: '../channels/ml-100k/', serviceWorker: '../sw.js', serviceWorkerScope: '../',
    historyName: 'demo-shop', checkEvery: 5_000 });
} catch (error) {
  setStatus('error', `could not load a model: ${error.message}`);
  throw error;
}
let catalog = await loadCatalog();

rec.addEventListener('modelchange', async ({ detail }) => {
  catalog = await loadCatalog();
  render();
  if (detail.from && detail.from !== detail.to) {
    toast(`New model v${detail.to} applied live (was v${detail.from}): recommendations refreshed.`);
  }
});
rec.addEventListener('modelrejected', ({ detail }) => {
  toast(`Model v${detail.version} was not applied: ${detail.reason}. Still serving v${rec.version}.`, 'warn');
});
rec.history.addEventListener('change', () => { renderHistory(); if (route().page === 'home') renderHome(); });

$('category-filter').append(...(await rec.categories()).categories.map((name) => new Option(name, name)));
$('category-filter').addEventListener('change', () => renderProduct(route().id));
$('search-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = $('search').value.trim();
  location.hash = text ? `#/search/${encodeURIComponent(text)}` : '#/';
});
$('clear-history').addEventListener('click', () => rec.history.clear());
$('history-toggle').addEventListener('click', () => document.body.classList.toggle('show-history'));
addEventListener('hashchange', () => { render(); scrollTo(0, 0); });
render();

async function loadCatalog() {
  const { version, items } = await rec.items();
  setStatus('ready', `model v${version}`);
  $('status').dataset.version = version;
  return new Map(items.map((item) => [item.id, item]));
}

function route() {
  const [, page = '', arg = ''] = location.hash.split('/');
  if (page === 'item' && catalog.has(decodeURIComponent(arg))) return { page: 'item', id: decodeURIComponent(arg) };
  if (page === 'search' && arg) return { page: 'search', text: decodeURIComponent(arg) };
  return { page: 'home' };
}

function render() {
  const { page, id, text } = route();
  $('home').hidden = page !== 'home';
  $('product').hidden = page !== 'item';
  $('results').hidden = page !== 'search';
  renderHistory();
  if (page === 'item') {
    renderProduct(id);
    if (rec.history.list().at(-1) !== id) rec.history.add(id);
  } else if (page === 'search') {
    $('search').value = text;
    renderSearch(text);
  } else {
    renderHome();
  }
  if (page !== 'search') $('search').value = '';
}

function renderHome() {
  if (!rec.history.list().length) {
    const starters = ['1', '50', '98', '127', '172', '181', '258', '286', '313', '100', '64', '56'];
    const picks = starters.filter((id) => catalog.has(id)).map((id) => ({ ...catalog.get(id), score: null }));
    fillCards($('for-you'), picks, 'Start anywhere: pick a movie you like.');
    $('next-up').replaceChildren(empty('Open a few movies and this shelf predicts what you will want next.'));
    return;
  }
  show($('for-you'), rec.forShopper({ k: K }), 'Nothing to recommend yet.');
  show($('next-up'), rec.nextUp({ k: K }), 'Nothing to recommend yet.');
}

function renderProduct(id) {
  const item = catalog.get(id);
  const { title, year } = splitTitle(item.title);
  $('product-title').textContent = title;
  $('product-year').textContent = year ?? '';
  $('product-categories').replaceChildren(...item.categories.map(tag));
  paintPoster($('product-poster'), item);
  const category = $('category-filter').value || undefined;
  show($('similar'), rec.similar(id, { k: K, category }), 'No similar movies in this category.');
}

function renderSearch(text) {
  $('results-title').textContent = `Results for “${text}”`;
  show($('search-results'), rec.search(text, { k: 24 }), 'No movie matches those words.');
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
    meta.textContent = [year, item?.categories.slice(0, 2).join(' · ')].filter(Boolean).join(' · ');
    link.append(poster, name, meta);
    if (score !== null && score !== undefined) {
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

function tag(text) {
  const span = document.createElement('span');
  span.textContent = text;
  return span;
}

function empty(text) {
  const li = document.createElement('li');
  li.className = 'empty';
  li.textContent = text;
  return li;
}
