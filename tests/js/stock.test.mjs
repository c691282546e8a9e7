// The live stock file (www/lib/stock.js): its checks, how it joins a call's
// rules, and reading it: announced by the pointer, the shared copy, signatures.
// Run: node --test tests/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { parseStock, readStock, withStock } from '../../www/lib/stock.js';
import { fakeCaches } from './fakes.mjs';

const CHANNEL = 'https://shop.example/channel/';
const encode = (text) => new TextEncoder().encode(text);

test('parseStock: out_of_stock ids and attribute overrides; anything else is bad_stock', () => {
  assert.deepEqual(parseStock(encode('{"out_of_stock":["a"],"overrides":{"b":{"price":2.5,"available":false}}}')),
    { outOfStock: ['a'], overrides: { b: { price: 2.5, available: false } } });
  assert.deepEqual(parseStock(encode('{}')), { outOfStock: [], overrides: {} });
  for (const bad of ['[', '[]', '{"out_of_stock":"a"}', '{"out_of_stock":[1]}', '{"overrides":{"b":{"price":[1]}}}',
    '{"overrides":{"b":{"category":"x"}}}', '{"stock":[]}']) {
    assert.throws(() => parseStock(encode(bad)), { code: 'bad_stock' }, bad);
  }
});

test('withStock adds the ids to the call\'s exclusions and its overrides under the call\'s own', () => {
  const stock = { outOfStock: ['x'], overrides: { a: { price: 1 }, b: { price: 2 } } };
  assert.deepEqual(withStock(undefined, stock), { exclude: ['x'], overrides: { a: { price: 1 }, b: { price: 2 } } });
  assert.deepEqual(withStock({ exclude: ['y'], overrides: { b: { price: 3 } }, filter: { available: true } }, stock),
    { exclude: ['y', 'x'], overrides: { a: { price: 1 }, b: { price: 3 } }, filter: { available: true } });
  assert.equal(withStock(undefined, null), undefined);
  assert.equal(withStock(undefined, { outOfStock: [], overrides: {} }), undefined);
});

test('readStock: one fetch while the copy is young, null without a file, signatures checked with keys', async () => {
  fakeCaches();
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const key = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url').toString('base64');
  const files = {};
  const requests = [];
  const fetch = async (url) => {
    requests.push(String(url).slice(CHANNEL.length));
    const body = files[String(url).slice(CHANNEL.length)];
    return body === undefined ? new Response('no', { status: 404 }) : new Response(body);
  };
  files['latest.json'] = '{"version":"1","manifest":"versions/1/manifest.json"}';
  assert.equal(await readStock(CHANNEL, { fetch }), null, 'a pointer naming no stock file: no stock');
  assert.deepEqual(requests, ['latest.json'], 'and no request for one (no 404 in the console)');
  files['stock.json'] = '{"out_of_stock":["a"]}';
  assert.equal(await readStock(CHANNEL, { fetch }), null, 'a stock file the pointer does not name is not read');
  files['latest.json'] = '{"version":"1","manifest":"versions/1/manifest.json","stock":"stock.json"}';
  assert.equal(await readStock(CHANNEL, { fetch, maxAgeMs: 60_000 }), null, 'the young copy is used');
  assert.deepEqual(await readStock(CHANNEL, { fetch }), { outOfStock: ['a'], overrides: {} });
  const fetched = requests.length;
  await readStock(CHANNEL, { fetch, maxAgeMs: 60_000 });
  assert.equal(requests.length, fetched, 'a young copy costs no request');

  await assert.rejects(readStock(CHANNEL, { fetch, publicKeys: [key] }), { code: 'bundle_bad_signature' });
  files['stock.sig'] = `${sign(null, encode(files['stock.json']), privateKey).toString('base64')}\n`;
  assert.deepEqual(await readStock(CHANNEL, { fetch, publicKeys: [key] }), { outOfStock: ['a'], overrides: {} });
  files['stock.json'] = '{"out_of_stock":["a","b"]}';
  await assert.rejects(readStock(CHANNEL, { fetch, publicKeys: [key] }), { code: 'bundle_bad_signature' }, 'changed after signing');
});
