// Unit tests for the update side of a channel (www/lib/channel.js) in Node:
// the pure checks, the streaming reader, and update() itself against an
// in-memory Cache API and a fake server. Run: node --test tests/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import {
  DEFAULT_TIMEOUTS, PARALLEL_FILES, POINTER_MAX_BYTES, UpdateFailure, checkManifestLimits, decodeBase64, keptVersions,
  markGood, parseManifest, parsePublicKeys, parseSignature, pointerProblem, readBounded, readState, readVersionFiles,
  reject, setPinned, update, verifyManifest, deferredPaths,
} from '../../www/lib/channel.js';
import { DEFAULT_LIMITS } from '../../www/lib/limits.js';
import { fakeCaches } from './fakes.mjs';

const CHANNEL = 'https://shop.example/channel/';
const encode = (text) => new TextEncoder().encode(text);
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

// --- fakes ---------------------------------------------------------------

/** A body that yields `chunks` (an array, or a function of the index: endless) one pull at a time and records how far it was read and whether it was cancelled. */
function countingStream(chunks, { delayMs = 0 } = {}) {
  const seen = { pulled: 0, bytes: 0, cancelled: false };
  let i = 0;
  const stream = new ReadableStream({
    async pull(controller) {
      if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (Array.isArray(chunks) && i >= chunks.length) return controller.close();
      const chunk = typeof chunks === 'function' ? chunks(i) : chunks[i];
      i++;
      seen.pulled++;
      seen.bytes += chunk.byteLength;
      controller.enqueue(chunk);
    },
    cancel() { seen.cancelled = true; },
  }, { highWaterMark: 0 });
  return { stream, seen };
}

/**
 * A channel served by a fake fetch: `files` maps paths under the channel to
 * bytes, or to a function returning a Response (faults). Logs every request.
 */
function fakeServer(files) {
  const requests = [];
  const fetch = async (url, init = {}) => {
    const path = String(url).slice(CHANNEL.length);
    requests.push(path);
    if (init.signal?.aborted) throw init.signal.reason;
    const file = files[path];
    if (typeof file === 'function') return tiedTo(init.signal, await file(init));
    if (!file) return new Response('not found', { status: 404 });
    return new Response(file.slice());
  };
  return { fetch, requests, files };
}

// As a real fetch does: aborting the request errors its body.
function tiedTo(signal, response) {
  if (!signal || !response.body) return response;
  const reader = response.body.getReader();
  const aborted = new Promise((resolve, fail) => signal.addEventListener('abort', () => fail(signal.reason)));
  aborted.catch(() => {});
  const body = new ReadableStream({
    async pull(controller) {
      const { done, value } = await Promise.race([reader.read(), aborted]);
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
  return new Response(body, { status: response.status, headers: response.headers });
}

const keyPair = () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url');
  return { publicKey: raw.toString('base64'), sign: (bytes) => sign(null, bytes, privateKey).toString('base64') };
};

/** Adds version `version` (files a.bin and b.bin, `tweak`ed) to a fake server's files. */
function publish(files, version, { sizes = [3000, 5000], signWith, change = () => {}, point = true } = {}) {
  const manifest = { format: 'edgerec-bundle/1', version, files: [] };
  sizes.forEach((size, i) => {
    const bytes = new Uint8Array(size).fill(version.charCodeAt(0) + i);
    const path = `${'ab'[i] ?? `f${i}`}.bin`;
    files[`versions/${version}/${path}`] = bytes;
    manifest.files.push({ path, bytes: size, sha256: sha256(bytes) });
  });
  change(manifest);
  const manifestBytes = encode(JSON.stringify(manifest));
  files[`versions/${version}/manifest.json`] = manifestBytes;
  if (signWith) files[`versions/${version}/manifest.sig`] = encode(`${signWith.sign(manifestBytes)}\n`);
  if (point) files['latest.json'] = encode(JSON.stringify({ version, manifest: `versions/${version}/manifest.json` }));
  return manifest;
}

const cachedVersions = (entries) => [...entries.keys()]
  .filter((k) => k.includes('.edgerec/manifest/')).map((k) => decodeURIComponent(k.split('/').pop())).sort();

function orphans(entries) {
  const referenced = new Set();
  for (const [key, bytes] of entries) {
    if (key.includes('.edgerec/manifest/')) {
      for (const f of JSON.parse(new TextDecoder().decode(bytes)).files) referenced.add(f.sha256);
    }
  }
  return [...entries.keys()].filter((k) => k.includes('.edgerec/content/') && !referenced.has(k.split('/').pop()));
}

// --- pure checks -----------------------------------------------------------

test('pointerProblem: only versions/<v>/manifest.json inside the channel', () => {
  assert.equal(pointerProblem({ version: '2', manifest: 'versions/2/manifest.json' }), null);
  assert.equal(pointerProblem({ version: 'v1.2_rc-3', manifest: 'versions/v1.2_rc-3/manifest.json' }), null);
  const bad = [
    [null, /not a JSON object/],
    [[], /not a JSON object/],
    [{ manifest: 'versions/2/manifest.json' }, /no version/],
    [{ version: 2, manifest: 'versions/2/manifest.json' }, /no version/],
    [{ version: '2', manifest: 'https://evil.example/versions/2/manifest.json' }, /must be exactly "versions\/2\/manifest.json"/],
    [{ version: '2', manifest: '//evil.example/versions/2/manifest.json' }, /must be exactly/],
    [{ version: '2', manifest: '/channel/versions/2/manifest.json' }, /must be exactly/],
    [{ version: '2', manifest: 'versions/2/../../other/manifest.json' }, /must be exactly/],
    [{ version: '2', manifest: 'versions/3/manifest.json' }, /must be exactly/],
    [{ version: '2', manifest: './versions/2/manifest.json' }, /must be exactly/],
    [{ version: '2' }, /must be exactly/],
    [{ version: '..', manifest: 'versions/../manifest.json' }, /not a safe name/],
    [{ version: '.', manifest: 'versions/./manifest.json' }, /not a safe name/],
    [{ version: 'a/b', manifest: 'versions/a/b/manifest.json' }, /not a safe name/],
    [{ version: '', manifest: 'versions//manifest.json' }, /not a safe name/],
    [{ version: 'x'.repeat(129), manifest: `versions/${'x'.repeat(129)}/manifest.json` }, /not a safe name/],
    [{ version: '%2e%2e', manifest: 'versions/%2e%2e/manifest.json' }, /not a safe name/],
  ];
  for (const [pointer, why] of bad) assert.match(pointerProblem(pointer), why, JSON.stringify(pointer));
});

test('parseManifest: version, files list, safe and unique paths', () => {
  const good = { version: '3', files: [{ path: 'a.bin', bytes: 1, sha256: 'a'.repeat(64) }] };
  assert.deepEqual(parseManifest(encode(JSON.stringify(good)), '3'), good);
  const fails = (manifest, why) => assert.throws(() => parseManifest(encode(manifest), '3'),
    (e) => e instanceof UpdateFailure && e.code === 'malformed_manifest' && why.test(e.message));
  fails('{"version": "3", "files": [', /not JSON/);
  fails(JSON.stringify({ ...good, version: '4' }), /says version "4"/);
  fails(JSON.stringify({ version: '3' }), /no files list/);
  for (const path of ['../x', 'manifest.sig', 'manifest.json', '/abs', 'https://x/y', '.hidden']) {
    fails(JSON.stringify({ version: '3', files: [{ path, bytes: 1, sha256: 'a'.repeat(64) }] }), /bad file entry/);
  }
  fails(JSON.stringify({ version: '3', files: [{ path: 'a', bytes: -1, sha256: 'a'.repeat(64) }] }), /bad file entry/);
  fails(JSON.stringify({ version: '3', files: [{ path: 'a', bytes: 1.5, sha256: 'a'.repeat(64) }] }), /bad file entry/);
  fails(JSON.stringify({ version: '3', files: [{ path: 'a', bytes: 1, sha256: 'A'.repeat(64) }] }), /bad file entry/);
  fails(JSON.stringify({ version: '3', files: [good.files[0], good.files[0]] }), /lists a file twice/);
});

test('checkManifestLimits: file count, each file, the whole version', () => {
  const manifest = (sizes) => ({ version: '3', files: sizes.map((bytes, i) => ({ path: `f${i}`, bytes })) });
  const limits = { ...DEFAULT_LIMITS, maxFiles: 3, maxFileBytes: 100, maxBundleBytes: 250 };
  checkManifestLimits(manifest([100, 100, 50]), limits); // exactly at every limit
  const fails = (sizes, code, why) => assert.throws(() => checkManifestLimits(manifest(sizes), limits),
    (e) => e.code === code && why.test(e.message) && !e.retryLater);
  fails([1, 1, 1, 1], 'bundle_too_many_files', /4 files, more than limits.maxFiles \(3\)/);
  fails([10, 101], 'bundle_file_too_large', /f1 of version 3: 101 bytes, more than limits.maxFileBytes/);
  fails([100, 100, 51], 'bundle_too_large', /251 bytes in all/);
});

test('keptVersions: newest two, plus the pinned and the last good one', () => {
  assert.deepEqual(keptVersions({ ready: ['5', '4', '3', '2', '1'] }), ['5', '4']);
  assert.deepEqual(keptVersions({ ready: ['5', '4', '3', '2', '1'], pinned: '1', lastGood: '3' }), ['5', '4', '3', '1']);
  assert.deepEqual(keptVersions({ ready: ['5', '4', '1'], pinned: '4', lastGood: '4' }), ['5', '4']);
  assert.deepEqual(keptVersions({ ready: ['2', '2', '1'] }), ['2', '1']);
});

test('base64 keys and signatures: canonical, padded, the right length', () => {
  const key = Buffer.alloc(32, 7).toString('base64');
  assert.equal(decodeBase64(key, 32).length, 32);
  assert.equal(decodeBase64(key.replace(/=$/, ''), 32), null, 'unpadded');
  assert.equal(decodeBase64(key.slice(0, -2) + 'd=', 32), null, 'stray bits in the last character');
  assert.equal(decodeBase64(key.replace(/^./, '-'), 32), null, 'base64url alphabet');
  assert.equal(decodeBase64(Buffer.alloc(31).toString('base64'), 32), null, 'too short');
  assert.equal(parsePublicKeys(undefined).length, 0);
  assert.equal(parsePublicKeys([key, key]).length, 2);
  assert.throws(() => parsePublicKeys(key), { code: 'invalid_argument' });
  assert.throws(() => parsePublicKeys([key, 'nope']), (e) => e.code === 'invalid_argument' && /publicKeys\[1\]/.test(e.message));
  const signature = Buffer.alloc(64, 9).toString('base64');
  assert.equal(parseSignature(encode(`${signature}\n`)).length, 64, 'trailing newline allowed');
  assert.equal(parseSignature(encode(`${signature} \r\n\t`)).length, 64, 'trailing whitespace allowed');
  assert.throws(() => parseSignature(encode(` ${signature}`)), { code: 'bundle_bad_signature' });
  assert.throws(() => parseSignature(encode(Buffer.alloc(63).toString('base64'))), { code: 'bundle_bad_signature' });
  assert.throws(() => parseSignature(encode('')), { code: 'bundle_bad_signature' });
});

test('verifyManifest: any pinned key verifying is enough; other keys and changed bytes fail', async () => {
  const [old, current, stranger] = [keyPair(), keyPair(), keyPair()];
  const manifest = encode('{"version":"3","files":[]}');
  const signature = parseSignature(encode(current.sign(manifest)));
  const keys = parsePublicKeys([old.publicKey, current.publicKey]);
  await verifyManifest(manifest, signature, keys);
  await assert.rejects(verifyManifest(manifest, signature, parsePublicKeys([stranger.publicKey])), { code: 'bundle_bad_signature' });
  const tampered = encode('{"version":"3","files":[] }');
  await assert.rejects(verifyManifest(tampered, signature, keys), { code: 'bundle_bad_signature' });
});

// --- the streaming reader --------------------------------------------------

test('readBounded stops reading the moment the limit is passed, and cancels the body', async () => {
  // An endless body: 64 KiB chunks for ever.
  const { stream, seen } = countingStream(() => new Uint8Array(65_536));
  const tooLarge = (n) => new UpdateFailure('size_mismatch', `${n} bytes`);
  let counted = 0;
  await assert.rejects(readBounded(stream, { limit: 300_000, tooLarge, onBytes: (n) => { counted += n; } }),
    (e) => e.code === 'size_mismatch' && e.message === `${5 * 65_536} bytes`);
  assert.equal(seen.pulled, 5, 'read the five chunks needed to pass 300,000 bytes, no more');
  assert.equal(counted, 5 * 65_536, 'every byte received was counted');
  assert.ok(seen.cancelled, 'the body was cancelled');
});

test('readBounded returns the whole body when it fits, exactly at the limit too', async () => {
  const { stream } = countingStream([encode('abc'), encode('defg')]);
  assert.equal(new TextDecoder().decode(await readBounded(stream, { limit: 7, tooLarge: () => new Error('no') })), 'abcdefg');
  assert.equal((await readBounded(null, { limit: 1 })).length, 0);
});

test('readBounded reads a byte stream no further than one byte past the limit, whatever the chunk size', async () => {
  let enqueued = 0;
  let cancelled = false;
  const endless = new ReadableStream({
    type: 'bytes',
    pull(controller) { // 4 MiB at a time, as a fast connection delivers
      controller.enqueue(new Uint8Array(4 * 2 ** 20));
      enqueued += 4 * 2 ** 20;
    },
    cancel() { cancelled = true; },
  });
  let counted = 0;
  await assert.rejects(readBounded(endless, {
    limit: 322_944, expectedBytes: 322_944, tooLarge: (n) => new UpdateFailure('size_mismatch', `${n} bytes`),
    onBytes: (n) => { counted += n; },
  }), (e) => e.code === 'size_mismatch' && e.message === '322945 bytes');
  assert.equal(counted, 322_945, 'one byte past the limit was read');
  assert.ok(cancelled, 'the body was cancelled');
  assert.ok(enqueued <= 8 * 2 ** 20, 'the source was not drained');

  const parts = [encode('abc'), encode('defgh'), encode('ij')];
  const small = new ReadableStream({
    type: 'bytes',
    pull(controller) {
      const part = parts.shift();
      if (part) return controller.enqueue(part);
      controller.close();
      controller.byobRequest?.respond(0); // what a byte source does for a read waiting at the end
    },
  });
  const bytes = await readBounded(small, { limit: 10, expectedBytes: 2, tooLarge: () => new Error('no') });
  assert.equal(new TextDecoder().decode(bytes), 'abcdefghij', 'the buffer grows past a wrong expectedBytes, up to the limit');
});

test('readBounded gives up when the body stalls for idleMs', async () => {
  const stalled = new ReadableStream({ pull: () => new Promise(() => {}), cancel() { stalled.cancelledByReader = true; } });
  const started = Date.now();
  await assert.rejects(readBounded(stalled, { limit: 10, tooLarge: () => new Error('no'), idleMs: 50, what: 'x.bin' }),
    (e) => e.code === 'network_error' && e.transient && /x\.bin: no data for 0\.05 s/.test(e.message));
  assert.ok(Date.now() - started < 1000);
  assert.ok(stalled.cancelledByReader);
});

// --- update() against a fake server ------------------------------------------

async function setup({ versions = ['1'], signWith } = {}) {
  const { entries } = fakeCaches();
  const server = fakeServer({});
  for (const v of versions) publish(server.files, v, { signWith });
  return { entries, server };
}

const run = (server, options = {}) => update(CHANNEL, { fetch: server.fetch, backoffMs: 1, ...options });

test('update: a version is downloaded, verified and made ready; the next check finds it current', async () => {
  const { entries, server } = await setup();
  const result = await run(server);
  assert.equal(result.status, 'ready');
  assert.equal(result.downloaded, 8000 + server.files['versions/1/manifest.json'].length);
  assert.equal((await run(server)).status, 'current');
  assert.deepEqual(cachedVersions(entries), ['1']);
  const files = await readVersionFiles(CHANNEL, '1');
  assert.deepEqual(Object.keys(files).sort(), ['a.bin', 'b.bin', 'manifest.json']);
  assert.deepEqual((await readState(CHANNEL)), { current: '1', ready: ['1'], rejected: {}, pinned: null, lastGood: null });
});

test('update: bad options reject with invalid_argument', async () => {
  const { server } = await setup();
  await assert.rejects(run(server, { publicKeys: ['nope'] }), { code: 'invalid_argument' });
  await assert.rejects(run(server, { limits: { maxFiles: 0 } }), { code: 'invalid_argument' });
  await assert.rejects(run(server, { limits: { maxWidgets: 1 } }), { code: 'invalid_argument' });
  await assert.rejects(run(server, { timeouts: { forever: 1 } }), { code: 'invalid_argument' });
});

test('update: a pointer outside the channel, malformed or oversize is bad_pointer; nothing else is fetched', async () => {
  const { entries, server } = await setup();
  await run(server);
  publish(server.files, '2');
  for (const [body, why] of [
    [{ version: '2', manifest: 'https://evil.example/versions/2/manifest.json' }, /must be exactly/],
    [{ version: '2', manifest: 'versions/2/../../../evil/manifest.json' }, /must be exactly/],
    ['{"version": "2",', /not JSON/],
    [{ version: '2', manifest: 'versions/2/manifest.json', padding: 'x'.repeat(POINTER_MAX_BYTES) }, /larger than 65536 bytes/],
  ]) {
    server.files['latest.json'] = encode(typeof body === 'string' ? body : JSON.stringify(body));
    server.requests.length = 0;
    const result = await run(server);
    assert.equal(result.status, 'unreachable');
    assert.equal(result.code, 'bad_pointer');
    assert.match(result.reason, why);
    assert.deepEqual(server.requests, ['latest.json']);
  }
  // An endless pointer is cut off just past the cap.
  const { stream, seen } = countingStream(() => new Uint8Array(16_384).fill(32));
  server.files['latest.json'] = () => new Response(stream);
  assert.equal((await run(server)).code, 'bad_pointer');
  assert.ok(seen.bytes <= POINTER_MAX_BYTES + 16_384 && seen.cancelled, `read ${seen.bytes} bytes of the endless pointer`);
  assert.deepEqual(cachedVersions(entries), ['1']);
  assert.equal((await readState(CHANNEL)).current, '1');
});

test('update: a file longer than the manifest says is cut off at its size (size_mismatch, final)', async () => {
  const { entries, server } = await setup();
  await run(server);
  publish(server.files, '2');
  const { stream, seen } = countingStream(() => new Uint8Array(1024));
  server.files['versions/2/b.bin'] = () => new Response(stream);
  const result = await run(server);
  assert.equal(result.code, 'size_mismatch');
  assert.match(result.reason, /b\.bin: more than the 5000 bytes the manifest says \(5120 received/);
  assert.ok(seen.bytes <= 5000 + 1024 && seen.cancelled, `stopped after ${seen.bytes} bytes`);
  assert.deepEqual(cachedVersions(entries), ['1']);
  assert.deepEqual(orphans(entries), [], 'a.bin of version 2 was deleted again');
  assert.equal((await readState(CHANNEL)).rejected['2'].final, true);
  assert.equal((await run(server)).status, 'skipped', 'a final rejection is not retried');
});

test('update: files are fetched PARALLEL_FILES at a time; one failure stops the others and keeps nothing', async () => {
  const { entries, server } = await setup();
  await run(server);
  publish(server.files, '2', { sizes: [3000, 5000, 7000, 9000, 11000, 13000, 15000] });
  let inFlight = 0;
  let most = 0;
  const started = [];
  for (const [path, bytes] of Object.entries(server.files)) {
    if (!path.startsWith('versions/2/') || path.endsWith('manifest.json')) continue;
    server.files[path] = async (init) => {
      started.push(path);
      inFlight++;
      most = Math.max(most, inFlight);
      try {
        // A slow file, ended early when the update stops it (as a real fetch is).
        await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, path.endsWith('b.bin') ? 5 : 200);
          init.signal?.addEventListener('abort', () => { clearTimeout(timer); reject(init.signal.reason); });
        });
      } finally {
        inFlight--;
      }
      // b.bin is longer than its manifest entry says.
      return new Response(path.endsWith('b.bin') ? new Uint8Array(bytes.length + 10) : bytes.slice());
    };
  }
  const result = await run(server);
  assert.equal(result.code, 'size_mismatch', result.reason);
  assert.equal(most, PARALLEL_FILES, `at most ${PARALLEL_FILES} files at once`);
  assert.equal(started.length, PARALLEL_FILES, `no file was started after the failure (${started.join(' ')})`);
  assert.deepEqual(cachedVersions(entries), ['1']);
  assert.deepEqual(orphans(entries), [], 'nothing of version 2 is kept');
});

// Version `version` with the two next-up files the core build does not read.
const withNextUp = (version) => (manifest) => {
  manifest.files.push(...['next_up.onnx', 'next_up_items.f32'].map((path) => ({ path, bytes: 4, sha256: sha256(encode(`${version}${path}`).slice(0, 4)) })));
  manifest.models = { next_up: { encoder: 'next_up.onnx', items: { file: 'next_up_items.f32' } } };
};

test('update with onPreview: the core files come first and are handed over verified; next up\'s follow', async () => {
  const { entries, server } = await setup({ versions: [] });
  const manifest = publish(server.files, '1', { change: withNextUp('1') });
  for (const path of ['next_up.onnx', 'next_up_items.f32']) server.files[`versions/1/${path}`] = encode(`1${path}`).slice(0, 4);
  assert.deepEqual([...deferredPaths(manifest)], ['next_up.onnx', 'next_up_items.f32']);
  const previews = [];
  const result = await run(server, {
    onPreview: ({ version, files }) => previews.push({ version, paths: Object.keys(files).sort(), at: server.requests.length, ready: cachedVersions(entries) }),
  });
  assert.equal(result.status, 'ready', result.reason);
  assert.equal(previews.length, 1);
  const [preview] = previews;
  assert.deepEqual(preview.paths, ['a.bin', 'b.bin', 'manifest.json'], 'the manifest and every core file');
  assert.deepEqual(preview.ready, [], 'the version is not ready while next up\'s files are missing');
  assert.deepEqual(server.requests.slice(preview.at).sort(), ['versions/1/next_up.onnx', 'versions/1/next_up_items.f32'],
    'next up\'s files are requested only after the preview');

  // A next-up file that fails its hash after the preview: the version is rejected as ever.
  publish(server.files, '2', { change: withNextUp('2') });
  server.files['versions/2/next_up.onnx'] = encode('XXXX'); // not what the manifest says
  server.files['versions/2/next_up_items.f32'] = encode('2nex');
  let previewed = 0;
  const bad = await run(server, { onPreview: () => { previewed++; } });
  assert.equal(previewed, 1);
  assert.equal(bad.code, 'hash_mismatch');
  assert.deepEqual(cachedVersions(entries), ['1']);
  assert.deepEqual(orphans(entries), [], 'nothing of version 2 is kept');
  await assert.rejects(run(server, { onPreview: 'yes' }), { code: 'invalid_argument' });
});

test('update: an oversize manifest is cut off at limits.maxManifestBytes', async () => {
  const { server } = await setup();
  await run(server);
  publish(server.files, '2', { change: (m) => { m.padding = 'x'.repeat(10_000); } });
  const result = await run(server, { limits: { maxManifestBytes: 4096 } });
  assert.equal(result.code, 'bundle_manifest_too_large');
  assert.ok(result.downloaded <= 4096 + 65_536, `read ${result.downloaded} bytes`);
  assert.ok(!server.requests.some((p) => p.endsWith('.bin') && p.startsWith('versions/2/')));
});

test('update: limits are checked on the manifest before any file is fetched', async () => {
  for (const [limits, sizes, code] of [
    [{ maxFiles: 2 }, [10, 10, 10], 'bundle_too_many_files'],
    [{ maxFileBytes: 4999 }, [3000, 5000], 'bundle_file_too_large'],
    [{ maxBundleBytes: 7999 }, [3000, 5000], 'bundle_too_large'],
  ]) {
    const { entries, server } = await setup();
    await run(server);
    publish(server.files, '2', { sizes });
    server.requests.length = 0;
    const result = await run(server, { limits });
    assert.equal(result.code, code);
    assert.deepEqual(server.requests, ['latest.json', 'versions/2/manifest.json']);
    assert.deepEqual(cachedVersions(entries), ['1']);
  }
});

test('update: the deadline bounds a trickling download; the version is tried again later', async () => {
  const { entries, server } = await setup();
  await run(server);
  publish(server.files, '2');
  const { stream } = countingStream(() => new Uint8Array(1), { delayMs: 20 });
  server.files['versions/2/b.bin'] = () => new Response(stream);
  const started = Date.now();
  const result = await run(server, { timeouts: { deadlineMs: 300 } });
  assert.ok(Date.now() - started < 1500, `gave up after ${Date.now() - started} ms`);
  assert.equal(result.code, 'network_error');
  assert.match(result.reason, /gave up after 0\.3 s/);
  const { rejected } = await readState(CHANNEL);
  assert.ok(!rejected['2'].final && rejected['2'].retryAt > Date.now(), 'tried again on a later check');
  assert.deepEqual(orphans(entries), []);
});

test('update: a large version gets time for its size at the slowest allowed rate', async () => {
  const { server } = await setup();
  await run(server);
  const manifest = publish(server.files, '2');
  // b.bin (5000 bytes) arrives in 100-byte chunks every 10 ms: about 0.5 s,
  // past the 0.3 s deadline, but 8,000 missing bytes at 4,000 B/s earn 2 s.
  const bytes = server.files['versions/2/b.bin'];
  const chunks = Array.from({ length: 50 }, (_, i) => bytes.slice(i * 100, (i + 1) * 100));
  server.files['versions/2/b.bin'] = () => new Response(countingStream(chunks, { delayMs: 10 }).stream);
  const result = await run(server, { timeouts: { deadlineMs: 300, minBytesPerSecond: 4_000 } });
  assert.equal(result.status, 'ready', JSON.stringify(result));
  assert.equal(result.downloaded, manifest.files.reduce((sum, f) => sum + f.bytes, 0) + server.files['versions/2/manifest.json'].byteLength);
});

test('update: a stalled file is retried, then given up (idle timeout)', async () => {
  const { server } = await setup();
  await run(server);
  publish(server.files, '2');
  server.files['versions/2/a.bin'] = () => new Response(new ReadableStream({ pull: () => new Promise(() => {}) }));
  const result = await run(server, { timeouts: { idleMs: 30 } });
  assert.equal(result.code, 'network_error');
  assert.match(result.reason, /a\.bin: no data for 0\.03 s/);
  assert.equal(server.requests.filter((p) => p === 'versions/2/a.bin').length, 3, 'three attempts');
});

test('update with keys: unsigned, wrongly signed and tampered versions are rejected before any file', async () => {
  const [key, stranger] = [keyPair(), keyPair()];
  const cases = {
    unsigned: (files) => publish(files, '2'),
    'other key': (files) => publish(files, '2', { signWith: stranger }),
    tampered: (files) => {
      publish(files, '2', { signWith: key });
      const manifest = JSON.parse(new TextDecoder().decode(files['versions/2/manifest.json']));
      manifest.name = 'changed';
      files['versions/2/manifest.json'] = encode(JSON.stringify(manifest));
    },
    'not base64': (files) => {
      publish(files, '2', { signWith: key });
      files['versions/2/manifest.sig'] = encode('this is not a signature');
    },
  };
  for (const [name, publishBad] of Object.entries(cases)) {
    const { entries, server } = await setup({ signWith: key });
    assert.equal((await run(server, { publicKeys: [key.publicKey] })).status, 'ready');
    publishBad(server.files);
    server.requests.length = 0;
    const result = await run(server, { publicKeys: [key.publicKey] });
    assert.equal(result.code, 'bundle_bad_signature', name);
    assert.deepEqual(server.requests, ['latest.json', 'versions/2/manifest.json', 'versions/2/manifest.sig'], name);
    assert.deepEqual(cachedVersions(entries), ['1'], name);
    assert.equal((await readState(CHANNEL)).rejected['2'].final, true, name);
  }
});

test('update with keys: a signed version is taken, its signature kept for the engine; rotation works', async () => {
  const [old, current] = [keyPair(), keyPair()];
  const { server } = await setup({ signWith: old });
  const publicKeys = [old.publicKey, current.publicKey];
  assert.equal((await run(server, { publicKeys })).status, 'ready');
  publish(server.files, '2', { signWith: current });
  assert.equal((await run(server, { publicKeys })).status, 'ready', 'signed with the second pinned key');
  const files = await readVersionFiles(CHANNEL, '2', { publicKeys });
  assert.equal(new TextDecoder().decode(files['manifest.sig']), new TextDecoder().decode(server.files['versions/2/manifest.sig']));
  await assert.rejects(readVersionFiles(CHANNEL, '1', { publicKeys: [current.publicKey] }), { code: 'bundle_bad_signature' },
    'a version whose key was dropped is not served');
});

test('update without keys ignores signatures: no manifest.sig request', async () => {
  const key = keyPair();
  const { server } = await setup({ signWith: key });
  await run(server);
  assert.ok(!server.requests.includes('versions/1/manifest.sig'));
  assert.ok(!('manifest.sig' in await readVersionFiles(CHANNEL, '1')));
});

test('keys set after a version was cached unsigned: it is checked again, and rejected when unsigned', async () => {
  const key = keyPair();
  const { entries, server } = await setup();
  await run(server); // cached without keys, no signature on the server
  await assert.rejects(readVersionFiles(CHANNEL, '1', { publicKeys: [key.publicKey] }), { code: 'bundle_bad_signature' });
  const result = await run(server, { publicKeys: [key.publicKey] });
  assert.equal(result.code, 'bundle_bad_signature');
  assert.deepEqual(cachedVersions(entries), []);

  // Signed on the server but cached before keys were set: the signature is fetched and kept.
  const signed = await setup({ signWith: key });
  await run(signed.server);
  assert.equal((await run(signed.server, { publicKeys: [key.publicKey] })).status, 'current');
  assert.ok('manifest.sig' in await readVersionFiles(CHANNEL, '1', { publicKeys: [key.publicKey] }));
});

test('pinned and last good versions survive newer versions; reject() forgets them', async () => {
  const { entries, server } = await setup();
  await run(server);
  publish(server.files, '2');
  await run(server);
  await setPinned(CHANNEL, '1');
  await markGood(CHANNEL, '2');
  await assert.rejects(setPinned(CHANNEL, '9'), { code: 'version_not_cached' });
  publish(server.files, '3');
  await run(server);
  publish(server.files, '4');
  await run(server);
  let state = await readState(CHANNEL);
  assert.deepEqual(state.ready, ['4', '3', '2', '1']);
  assert.equal(state.pinned, '1');
  assert.equal(state.lastGood, '2');
  assert.deepEqual(cachedVersions(entries), ['1', '2', '3', '4']);
  assert.ok(Object.keys(await readVersionFiles(CHANNEL, '1')).includes('a.bin'));

  await setPinned(CHANNEL, null);
  publish(server.files, '5');
  await run(server);
  state = await readState(CHANNEL);
  assert.deepEqual(state.ready, ['5', '4', '2'], 'unpinned, version 1 goes with the next version');
  assert.deepEqual(cachedVersions(entries), ['2', '4', '5']);
  assert.deepEqual(orphans(entries), []);

  await reject(CHANNEL, '2', 'bundle_parity_failed', 'test');
  state = await readState(CHANNEL);
  assert.deepEqual(state.ready, ['5', '4']);
  assert.equal(state.lastGood, null);
  assert.deepEqual(cachedVersions(entries), ['4', '5']);
  assert.deepEqual(orphans(entries), []);
  await markGood(CHANNEL, '2');
  assert.equal((await readState(CHANNEL)).lastGood, null, 'markGood ignores a version no longer cached');
});

test('DEFAULT_TIMEOUTS: minutes for the whole update, seconds between chunks', () => {
  assert.equal(DEFAULT_TIMEOUTS.deadlineMs, 300_000);
  assert.equal(DEFAULT_TIMEOUTS.idleMs, 20_000);
});
