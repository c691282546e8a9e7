// The demo shop: every list on this page is computed in wasm, on this device.
import { openEngine } from '../edgerec.js';

const HISTORY_KEY = 'edgerec-demo-history';
const K = 10;
const $ = (id) => document.getElementById(id);

const engine = await openEngine(new URL('../bundles/ml-100k/', import.meta.url)).catch((error) => {
  setStatus('error', `could not load the model: ${error.message}`);
  throw error;
});
const catalog = engine.items();
const byId = new Map(catalog.map((item) => [item.id, item]));
const byTitle = new Map(catalog.map((item) => [item.title, item]));
setStatus('ready', `${engine.name} · v${engine.version} · ${engine.itemCount} items`);

$('titles').append(...catalog.map((item) => new Option(item.title)));
$('category-filter').append(...engine.categories().map((name) => new Option(name, name)));

$('search').addEventListener('change', (event) => {
  const text = event.target.value.trim();
  const item = byTitle.get(text);
  if (item) location.hash = `item=${encodeURIComponent(item.id)}`;
  else renderSearch(text);
});
$('category-filter').addEventListener('change', () => renderProduct());
$('add-history').addEventListener('click', () => {
  const id = currentItemId();
  if (id) saveHistory([...loadHistory().filter((x) => x !== id), id]);
});
$('clear-history').addEventListener('click', () => saveHistory([]));
addEventListener('hashchange', () => renderProduct());

renderProduct();
renderForYou();

function currentItemId() {
  const id = new URLSearchParams(location.hash.slice(1)).get('item') ?? '50';
  return byId.has(id) ? id : null;
}

function renderProduct() {
  const id = currentItemId();
  $('product').hidden = !id;
  if (!id) return;
  const item = byId.get(id);
  $('product-title').textContent = item.title;
  $('product-categories').replaceChildren(...item.categories.map((c) => tag(c)));
  const category = $('category-filter').value || undefined;
  renderCards($('similar'), () => engine.similar(id, K, category), 'No similar items in this category.');
}

// Personalised search: text relevance, re-ranked by the on-device history.
function renderSearch(text) {
  $('results').hidden = !text;
  if (!text) return;
  $('results-title').textContent = `Results for “${text}”`;
  renderCards($('search-results'), () => engine.search(text, K, loadHistory()), 'No movie matches.');
}

function renderForYou() {
  const history = loadHistory();
  $('history').replaceChildren(...history.map((id) => {
    const li = document.createElement('li');
    li.textContent = byId.get(id)?.title ?? `${id} (not in this catalog)`;
    return li;
  }));
  if (!history.length) {
    $('for-you').replaceChildren(empty('Click “I watched this” on a few movies.'));
    $('next-up').replaceChildren(empty('Click “I watched this” on a few movies.'));
    return;
  }
  renderCards($('for-you'), () => engine.forHistory(history, K), 'Nothing to recommend yet.');
  renderCards($('next-up'), () => engine.nextUp(history, K), 'Nothing to recommend yet.');
}

function renderCards(list, query, emptyText) {
  let answer;
  try {
    answer = query();
  } catch (error) {
    list.replaceChildren(empty(`${error.code}: ${error.message}`));
    return;
  }
  list.dataset.version = answer.version;
  if (!answer.items.length) {
    list.replaceChildren(empty(emptyText));
    return;
  }
  list.replaceChildren(...answer.items.map(({ id, title, score }) => {
    const li = document.createElement('li');
    li.dataset.id = id;
    li.innerHTML = '<span class="title"></span><span class="score"></span>';
    li.querySelector('.title').textContent = title;
    li.querySelector('.score').textContent = `score ${score.toFixed(3)}`;
    li.addEventListener('click', () => { location.hash = `item=${encodeURIComponent(id)}`; scrollTo(0, 0); });
    return li;
  }));
}

function loadHistory() {
  try {
    const ids = JSON.parse(localStorage.getItem(HISTORY_KEY) ?? '[]');
    return Array.isArray(ids) ? ids.filter((id) => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

function saveHistory(ids) {
  localStorage.setItem(HISTORY_KEY, JSON.stringify(ids.slice(-50)));
  renderForYou();
  if (!$('results').hidden) renderSearch($('search').value.trim());
}

function setStatus(state, text) {
  $('status').dataset.state = state;
  $('status').textContent = text;
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
