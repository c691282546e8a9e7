// Live stock: a small file beside a channel's pointer, `stock.json`
//   { "out_of_stock": ["sku", ...], "overrides": { "sku": { "price": 9.99, ... } } }
// read on its own schedule and applied to every answer without a new model
// version: out-of-stock ids are excluded from every ranking, and overrides
// replace catalog attributes for the merchandising rules' tests. With public
// keys, `stock.sig` (base64 Ed25519 over the exact bytes) must verify.
//
// A channel announces the file in its pointer (latest.json: "stock":
// "stock.json"), so a channel without one costs one small read, never a 404.
// One fetch serves every tab of the origin: the copy in the Cache API is
// shared, and a Web Lock lets one context fetch while the others wait for it
// and read the copy.
import {
  CACHE_NAME, POINTER_MAX_BYTES, UpdateFailure, parsePublicKeys, parseSignature, readBounded, verifyManifest,
} from './channel.js';
import { METHODS } from './protocol.js';

export const STOCK_FILE = 'stock.json';
export const STOCK_MAX_BYTES = 4 * 1024 * 1024;
const SIGNATURE_MAX_BYTES = 1024;
const cacheKey = (channel) => `${channel}.edgerec/stock`;

/**
 * The channel's stock as `{ outOfStock, overrides }`, or null when its pointer
 * names none. A copy younger than `maxAgeMs` (fetched by any tab) is used
 * as is. Throws UpdateFailure `bad_stock` (not JSON, wrong shape, too large),
 * `bundle_bad_signature`, or `network_error`.
 */
export async function readStock(channel, { maxAgeMs = 0, publicKeys = [], fetch = globalThis.fetch.bind(globalThis) } = {}) {
  const keys = parsePublicKeys(publicKeys);
  const locks = globalThis.navigator?.locks;
  const task = () => freshStock(channel, maxAgeMs, keys, fetch);
  return locks ? locks.request(`edgerec-stock:${channel}`, task) : task();
}

async function freshStock(channel, maxAgeMs, keys, fetch) {
  const cache = await caches.open(CACHE_NAME);
  const cached = await cache.match(cacheKey(channel)).then((r) => r?.json()).catch(() => null);
  if (cached && Date.now() - cached.fetchedAt < maxAgeMs && cached.signed === keys.length > 0) return cached.stock;
  const pointer = await fetchBytes(fetch, new URL('latest.json', channel), POINTER_MAX_BYTES, 'bad_pointer');
  let announced = false;
  try {
    announced = JSON.parse(new TextDecoder().decode(pointer ?? new Uint8Array())).stock === STOCK_FILE;
  } catch {
    // An unreadable pointer is the updater's to report; here it names no stock.
  }
  const bytes = announced ? await fetchBytes(fetch, new URL(STOCK_FILE, channel), STOCK_MAX_BYTES, 'bad_stock') : null;
  let stock = null;
  if (bytes) {
    if (keys.length) {
      const signature = await fetchBytes(fetch, new URL('stock.sig', channel), SIGNATURE_MAX_BYTES, 'bundle_bad_signature');
      if (!signature) throw new UpdateFailure('bundle_bad_signature', 'stock.sig: missing, and public keys are set');
      await verifyManifest(bytes, parseSignature(signature), keys, 'stock.json');
    }
    stock = parseStock(bytes);
  }
  await cache.put(cacheKey(channel), new Response(JSON.stringify({ fetchedAt: Date.now(), signed: keys.length > 0, stock }),
    { headers: { 'content-type': 'application/json' } }));
  return stock;
}

// The file's bytes, null on 404, within `limit`.
async function fetchBytes(fetch, url, limit, tooLargeCode) {
  let response;
  try {
    response = await fetch(url, { cache: 'no-store' });
  } catch (error) {
    throw new UpdateFailure('network_error', `${url}: ${error.message}`, { transient: true });
  }
  if (response.status === 404) return null;
  if (!response.ok) throw new UpdateFailure('network_error', `${url}: HTTP ${response.status}`, { transient: true });
  return readBounded(response.body, {
    limit,
    what: url.pathname,
    tooLarge: () => new UpdateFailure(tooLargeCode, `${url}: larger than ${limit} bytes`),
  });
}

/** Checks stock.json's bytes: `{ out_of_stock?: [id], overrides?: { id: { name: text|number|bool } } }`. Pure. */
export function parseStock(bytes) {
  let file;
  try {
    file = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new UpdateFailure('bad_stock', `stock.json is not JSON: ${error.message}`);
  }
  const bad = (why) => new UpdateFailure('bad_stock', `stock.json: ${why}`);
  if (!file || typeof file !== 'object' || Array.isArray(file)) throw bad('not an object');
  const unknown = Object.keys(file).filter((name) => name !== 'out_of_stock' && name !== 'overrides');
  if (unknown.length) throw bad(`unknown field ${unknown.join(', ')} (known: out_of_stock, overrides)`);
  const outOfStock = file.out_of_stock ?? [];
  if (!Array.isArray(outOfStock) || !outOfStock.every((id) => typeof id === 'string')) {
    throw bad('out_of_stock must be a list of item ids');
  }
  const overrides = file.overrides ?? {};
  const scalar = (v) => ['string', 'number', 'boolean'].includes(typeof v);
  const fine = overrides && typeof overrides === 'object' && !Array.isArray(overrides)
    && Object.values(overrides).every((fields) => fields && typeof fields === 'object' && !Array.isArray(fields)
      && Object.entries(fields).every(([name, value]) => name !== 'id' && name !== 'category' && scalar(value)));
  if (!fine) throw bad('overrides must map item ids to { attribute: text, number or true/false }');
  return { outOfStock, overrides };
}

/** A ranking method's arguments with the stock applied to its rules (the argument protocol.js's METHODS names `rules`). */
export function argsWithStock(method, args, stock) {
  const rules = METHODS[method].indexOf('rules');
  return args.with(rules, withStock(args[rules], stock));
}

/** `rules` (a call's, maybe undefined) with the stock applied: its ids excluded, its overrides under the call's own. */
export function withStock(rules, stock) {
  if (!stock || (!stock.outOfStock.length && !Object.keys(stock.overrides).length)) return rules;
  const own = rules ?? {};
  return {
    ...own,
    exclude: [...(own.exclude ?? []), ...stock.outOfStock],
    overrides: { ...stock.overrides, ...(own.overrides ?? {}) },
  };
}
