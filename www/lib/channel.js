// The update side of a channel: reads the pointer, downloads a new version's
// missing files, verifies them, and records the version as ready in the Cache
// API. The same code runs in the service worker and, without one, in the page.
//
// Two Web Locks per channel:
//   edgerec:<channel>        held by update() for a whole download, so only one context downloads
//                            at a time; bounded by an idle timeout and a deadline.
//   edgerec-state:<channel>  held for a few milliseconds around each change of the state, so
//                            reject(), setPinned() and markGood() never wait for a download.
// Reading (readState, readVersionFiles) takes no lock at all.
//
// Cache layout (one cache, keys under the channel URL, never fetched over the
// network):
//   <channel>.edgerec/content/<sha256>     a verified file, shared by every version holding it
//   <channel>.edgerec/signature/<version>  a version's manifest.sig, when it was signed
//   <channel>.edgerec/manifest/<version>   a version's manifest; present only once all its files are
//   <channel>.edgerec/state                { current, ready, rejected, pinned, lastGood }
import { resolveLimits } from './limits.js';

export const CACHE_NAME = 'edgerec-bundles';
export const BROADCAST_NAME = 'edgerec';
const POINTER = 'latest.json';
/** The newest versions kept besides the pinned one and the last one that loaded. */
const KEPT_NEWEST = 2;
export const POINTER_MAX_BYTES = 64 * 1024;
// How long reject() waits for a running download before leaving the cleanup to it.
const GC_LOCK_WAIT_MS = 2_000;
// 88 base64 characters and a newline; anything much bigger is not a signature.
const SIGNATURE_MAX_BYTES = 1024;
// Files of a version fetched at once: round trips overlap, and a failure
// stops the others (their partial bytes are not kept).
export const PARALLEL_FILES = 4;
/** How long one check may take; `update(channel, { timeouts })` overrides them. */
export const DEFAULT_TIMEOUTS = Object.freeze({
  /** The pointer request, whole. */
  pointerMs: 10_000,
  /** Between two chunks of any download: a stalled connection is cut after this. */
  idleMs: 20_000,
  /**
   * The whole update, from taking the channel's lock to releasing it, when the
   * version is small; a large one gets longer (see minBytesPerSecond).
   */
  deadlineMs: 5 * 60_000,
  /** The slowest download rate a large version is given time for: 100 kB/s. */
  minBytesPerSecond: 100_000,
});
const HEX64 = /^[0-9a-f]{64}$/;
const SAFE_PATH = /^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_./-]*$/;
const SAFE_VERSION = /^[A-Za-z0-9._-]{1,128}$/;
// Names the engine gets besides the listed files: a file may not take them.
const RESERVED_PATHS = new Set(['manifest.json', 'manifest.sig']);

/** A version that cannot be used, with a stable code and a reason a person can act on. */
// `transient`: retried at once, with backoff; `retryLater`: the version is tried
// again on a later check. Anything else (wrong size or hash, bad manifest, bad
// signature, over a limit) is final: versions are immutable, so the same
// version cannot get better.
export class UpdateFailure extends Error {
  constructor(code, message, { transient = false, retryLater = transient } = {}) {
    super(message);
    this.name = 'UpdateFailure';
    this.code = code;
    this.transient = transient;
    this.retryLater = retryLater;
  }
}

/** Resolves a channel URL to its canonical form (absolute, ending in '/'). */
export function channelUrl(channel, base = globalThis.location?.href) {
  const url = new URL(channel, base);
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

const keyOf = {
  content: (channel, sha256) => `${channel}.edgerec/content/${sha256}`,
  signature: (channel, version) => `${channel}.edgerec/signature/${encodeURIComponent(version)}`,
  manifest: (channel, version) => `${channel}.edgerec/manifest/${encodeURIComponent(version)}`,
  state: (channel) => `${channel}.edgerec/state`,
};

// --- state ---------------------------------------------------------------

/** What this origin holds for a channel. Never throws for a missing or unreadable state. */
export async function readState(channel) {
  const cache = await caches.open(CACHE_NAME);
  const response = await cache.match(keyOf.state(channel));
  const state = response ? await response.json().catch(() => null) : null;
  const name = (value) => (typeof value === 'string' ? value : null);
  return {
    current: name(state?.current),
    ready: Array.isArray(state?.ready) ? state.ready.filter((v) => typeof v === 'string') : [],
    rejected: state?.rejected && typeof state.rejected === 'object' ? state.rejected : {},
    pinned: name(state?.pinned),
    lastGood: name(state?.lastGood),
  };
}

// Reads, changes and writes the state under the short state lock. `change`
// returns false to skip the write (nothing changed).
function changeState(channel, change) {
  return withLock(`edgerec-state:${channel}`, async () => {
    const state = await readState(channel);
    const outcome = await change(state);
    if (outcome !== false) {
      const cache = await caches.open(CACHE_NAME);
      await cache.put(keyOf.state(channel), new Response(JSON.stringify(state),
        { headers: { 'content-type': 'application/json' } }));
    }
    return state;
  });
}

/**
 * The versions a state keeps, newest first: the newest two, the pinned one and
 * the last one that loaded, in `ready` order. Pure.
 */
export function keptVersions({ ready, pinned = null, lastGood = null }) {
  const unique = [...new Set(ready)];
  const newest = new Set(unique.slice(0, KEPT_NEWEST));
  return unique.filter((v) => newest.has(v) || v === pinned || v === lastGood);
}

// Takes `version` out of the state: not ready, not pinned, not the last good one.
function forget(state, version) {
  state.ready = state.ready.filter((v) => v !== version);
  if (state.current === version) state.current = state.ready[0] ?? null;
  if (state.pinned === version) state.pinned = null;
  if (state.lastGood === version) state.lastGood = null;
}

/**
 * Pins `version` (a ready one) so that it is never evicted, or unpins with
 * null. Persisted: a reload keeps the pin. Throws `version_not_cached` for a
 * version that is not ready.
 */
export async function setPinned(channel, version) {
  if (version !== null && typeof version !== 'string') {
    throw new UpdateFailure('invalid_argument', 'setPinned takes a version name or null');
  }
  const state = await changeState(channel, (s) => {
    if (version !== null && !s.ready.includes(version)) {
      throw new UpdateFailure('version_not_cached', `version ${version} is not cached (cached: ${s.ready.join(', ')})`);
    }
    if (s.pinned === version) return false;
    s.pinned = version;
    return true;
  });
  return state;
}

/**
 * Records that `version` loaded and passed its checks, so that it is kept
 * until a newer version does. Does nothing for a version no longer cached.
 */
export function markGood(channel, version) {
  return changeState(channel, (s) => {
    if (!s.ready.includes(version) || s.lastGood === version) return false;
    s.lastGood = version;
    return true;
  });
}

/** Marks a ready version as unusable (it failed on load, e.g. parity) and forgets its files. */
export async function reject(channel, version, code, reason) {
  await changeState(channel, (state) => {
    forget(state, version);
    state.rejected[version] = { code, reason, final: true, at: Date.now() };
  });
  await collectGarbageSoon(channel);
  announce({ type: 'rejected', channel, version, code, reason });
}

// --- reading a cached version --------------------------------------------

/**
 * Reads a ready version's files from the cache, as the engine wants them:
 * { 'manifest.json': bytes, ['manifest.sig': bytes], [path]: bytes }. Throws
 * `version_not_cached` if the version is not ready. With `publicKeys`, the
 * cached manifest is verified again first (keys may have changed since it was
 * downloaded): no verifying signature throws `bundle_bad_signature`.
 */
export async function readVersionFiles(channel, version, { publicKeys = [] } = {}) {
  const { cache, manifest, manifestBytes, signatureBytes } = await readManifest(channel, version, publicKeys);
  const files = { 'manifest.json': manifestBytes };
  if (signatureBytes) files['manifest.sig'] = signatureBytes;
  await Promise.all(manifest.files.map(async ({ path, sha256 }) => {
    files[path] = new Uint8Array(await (await cachedContent(cache, channel, version, path, sha256)).arrayBuffer());
  }));
  return files;
}

/**
 * A cached version's files for one shard of a split version, streamed:
 * `start(manifestBytes, signatureBytes)` returns a receiver with
 * `needs(path)` and `add(path, piece)`, given each needed file's bytes in
 * pieces, in order, one file at a time, so no whole file need be held
 * (docs/shards.md). Resolves to the receiver.
 */
export async function streamVersionFiles(channel, version, { publicKeys = [] } = {}, start) {
  const { cache, manifest, manifestBytes, signatureBytes } = await readManifest(channel, version, publicKeys);
  const receiver = start(manifestBytes, signatureBytes);
  for (const { path, sha256 } of manifest.files) {
    if (!receiver.needs(path)) continue;
    const reader = (await cachedContent(cache, channel, version, path, sha256)).body.getReader();
    for (let piece = await reader.read(); !piece.done; piece = await reader.read()) receiver.add(path, piece.value);
  }
  return receiver;
}

// A cached version's manifest, its signature checked when keys are pinned.
async function readManifest(channel, version, publicKeys) {
  const keys = parsePublicKeys(publicKeys);
  const cache = await caches.open(CACHE_NAME);
  const manifestResponse = await cache.match(keyOf.manifest(channel, version));
  if (!manifestResponse) throw new UpdateFailure('version_not_cached', `version ${version} is not in the cache`);
  const manifestBytes = new Uint8Array(await manifestResponse.arrayBuffer());
  const signatureResponse = await cache.match(keyOf.signature(channel, version));
  const signatureBytes = signatureResponse ? new Uint8Array(await signatureResponse.arrayBuffer()) : null;
  if (keys.length) {
    if (!signatureBytes) {
      throw new UpdateFailure('bundle_bad_signature', `version ${version} was cached without a signature`);
    }
    await verifyManifest(manifestBytes, parseSignature(signatureBytes), keys, version);
  }
  return { cache, manifest: JSON.parse(new TextDecoder().decode(manifestBytes)), manifestBytes, signatureBytes };
}

async function cachedContent(cache, channel, version, path, sha256) {
  const response = await cache.match(keyOf.content(channel, sha256));
  if (!response) throw new UpdateFailure('version_not_cached', `version ${version}: ${path} is not in the cache`);
  return response;
}

// --- updating ------------------------------------------------------------

/**
 * Checks the channel pointer and makes its version ready if it is not yet.
 * Resolves to { status, version?, code?, reason?, downloaded? } where status is
 * 'ready' (newly verified), 'current' (already ready), 'rejected', 'skipped'
 * (rejected earlier, not retried yet) or 'unreachable' (offline, no pointer;
 * code `bad_pointer` when the pointer is there but unusable).
 * Every state change is announced on the BroadcastChannel.
 *
 * Options: `publicKeys` (base64 Ed25519 keys: with one or more, a version must
 * carry a manifest.sig one of them verifies), `limits` (overrides of
 * DEFAULT_LIMITS), `timeouts` (overrides of DEFAULT_TIMEOUTS), `onPreview`
 * (called once with `{ version, files }` when a version being downloaded has
 * every file but next up's verified and stored: what the core build needs),
 * and for tests `fetch`, `attempts`, `backoffMs`. Bad options reject with
 * `invalid_argument`.
 */
export async function update(channel, options = {}) {
  const settings = updateSettings(options);
  return withLock(`edgerec:${channel}`, () => updateLocked(channel, settings));
}

/**
 * Whether some context (a tab, the service worker) is running update() for
 * `channel` right now. A page with a version cached need not wait for it.
 */
export async function isUpdating(channel) {
  const locks = globalThis.navigator?.locks;
  if (!locks?.query) return false;
  const { held = [] } = await locks.query();
  return held.some((lock) => lock.name === `edgerec:${channel}`);
}

function updateSettings({
  fetch = (...args) => globalThis.fetch(...args), attempts = 3, backoffMs = 300,
  publicKeys = [], limits, timeouts = {}, onPreview,
} = {}) {
  if (onPreview !== undefined && typeof onPreview !== 'function') {
    throw new UpdateFailure('invalid_argument', 'onPreview must be a function');
  }
  const resolved = resolveLimits(limits);
  if (resolved.error) throw new UpdateFailure('invalid_argument', resolved.error);
  const unknown = Object.keys(timeouts ?? {}).find((name) => !(name in DEFAULT_TIMEOUTS));
  if (unknown) throw new UpdateFailure('invalid_argument', `timeouts.${unknown} is not a timeout`);
  return {
    fetch, attempts, backoffMs, keys: parsePublicKeys(publicKeys), limits: resolved.limits,
    timeouts: { ...DEFAULT_TIMEOUTS, ...timeouts }, onPreview,
  };
}

async function updateLocked(channel, settings) {
  const download = startDownload(settings);
  try {
    const { result, announcement } = await checkChannel(channel, download);
    // Also frees what a reject() made unused while this update held the lock.
    await collectGarbage(channel);
    if (announcement) announce(announcement);
    return result;
  } finally {
    download.finish();
  }
}

// One update's budget: bytes counted as they arrive, and a deadline that
// aborts whatever request is running when it passes.
function startDownload(settings) {
  const deadline = new AbortController();
  const started = Date.now();
  let allowedMs = settings.timeouts.deadlineMs;
  let timer = setTimeout(() => deadline.abort(), allowedMs);
  return {
    ...settings,
    bytes: 0,
    deadline: deadline.signal,
    // Once the manifest says how much is missing: time for it at the slowest
    // rate allowed, so a large version is not cut off on a slow connection.
    allowFor(bytes) {
      const needed = Math.ceil((bytes / settings.timeouts.minBytesPerSecond) * 1000);
      if (needed <= allowedMs || deadline.signal.aborted) return;
      allowedMs = needed;
      clearTimeout(timer);
      timer = setTimeout(() => deadline.abort(), Math.max(0, started + allowedMs - Date.now()));
    },
    finish: () => clearTimeout(timer),
    expired: () => new UpdateFailure('network_error',
      `the update gave up after ${allowedMs / 1000} s (the server is too slow); tried again later`,
      { retryLater: true }),
  };
}

async function checkChannel(channel, download) {
  const pointed = await readPointer(channel, download);
  if (pointed.result) return { result: pointed.result };
  const { version } = pointed.pointer;
  const state = await readState(channel);

  if (state.ready.includes(version)) return keepCurrent(channel, version, state, download);
  const earlier = state.rejected[version];
  if (earlier && (earlier.final || Date.now() < earlier.retryAt)) {
    return { result: { status: 'skipped', version, code: earlier.code, reason: earlier.reason } };
  }
  try {
    await downloadVersion(channel, version, download);
  } catch (error) {
    return failed(channel, version, error, download);
  }
  await changeState(channel, (s) => {
    s.current = version;
    s.ready = keptVersions({ ...s, ready: [version, ...s.ready.filter((v) => v !== version)] });
    delete s.rejected[version];
  });
  return {
    result: { status: 'ready', version, downloaded: download.bytes },
    announcement: { type: 'ready', channel, version },
  };
}

// Fetches latest.json (capped, JSON, naming exactly versions/<v>/manifest.json).
async function readPointer(channel, download) {
  const url = new URL(POINTER, channel);
  let bytes;
  try {
    bytes = await fetchBounded(download, url, POINTER, {
      limit: POINTER_MAX_BYTES,
      tooLarge: () => new UpdateFailure('bad_pointer', `${url} is larger than ${POINTER_MAX_BYTES} bytes`),
      init: { cache: 'no-store' },
      timeoutMs: download.timeouts.pointerMs,
      counted: false, // `downloaded` tells what a version cost
    });
  } catch (error) {
    // Offline, 404, 5xx: nothing to act on yet. Too large: the pointer is wrong.
    const code = error.code === 'bad_pointer' ? { code: 'bad_pointer' } : {};
    return { result: { status: 'unreachable', ...code, reason: error.message } };
  }
  let pointer;
  try {
    pointer = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    return { result: { status: 'unreachable', code: 'bad_pointer', reason: `${url} is not JSON: ${error.message}` } };
  }
  const problem = pointerProblem(pointer);
  if (problem) return { result: { status: 'unreachable', code: 'bad_pointer', reason: `${url}: ${problem}` } };
  return { pointer };
}

/**
 * Why `pointer` (parsed latest.json) is unusable, or null. A pointer names a
 * version and exactly `versions/<version>/manifest.json`: nothing on another
 * origin, nothing outside the channel folder. Pure.
 */
export function pointerProblem(pointer) {
  if (!pointer || typeof pointer !== 'object' || Array.isArray(pointer)) return 'the pointer is not a JSON object';
  const { version, manifest } = pointer;
  if (typeof version !== 'string') return 'the pointer names no version';
  if (!SAFE_VERSION.test(version) || version === '.' || version === '..') {
    return `version ${JSON.stringify(version).slice(0, 140)} is not a safe name (letters, digits, '.', '_', '-')`;
  }
  const expected = `versions/${version}/manifest.json`;
  if (manifest !== expected) {
    return `the manifest must be exactly "${expected}", not ${JSON.stringify(manifest)?.slice(0, 200)}`;
  }
  return null;
}

// The pointer names a version this origin holds: make it current. With keys,
// it must carry a signature one of them verifies (it may have been cached
// before keys were set).
async function keepCurrent(channel, version, state, download) {
  if (download.keys.length) {
    try {
      await ensureCachedSignature(channel, version, download);
    } catch (error) {
      return failed(channel, version, error, download);
    }
  }
  let announcement = null;
  if (state.current !== version) {
    await changeState(channel, (s) => {
      if (!s.ready.includes(version)) return false; // rejected meanwhile
      s.current = version;
      s.ready = [version, ...s.ready.filter((v) => v !== version)];
      announcement = { type: 'ready', channel, version };
    });
  }
  return { result: { status: 'current', version }, announcement };
}

async function ensureCachedSignature(channel, version, download) {
  const cache = await caches.open(CACHE_NAME);
  const manifestBytes = new Uint8Array(await (await cache.match(keyOf.manifest(channel, version))).arrayBuffer());
  const cached = await cache.match(keyOf.signature(channel, version));
  const manifestUrl = new URL(`versions/${version}/manifest.json`, channel);
  const signatureBytes = cached ? new Uint8Array(await cached.arrayBuffer())
    : await fetchSignature(download, manifestUrl);
  await verifyManifest(manifestBytes, parseSignature(signatureBytes), download.keys, version);
  if (!cached) await cache.put(keyOf.signature(channel, version), new Response(signatureBytes));
}

// Manifest, limits, signature, then every file the cache does not hold yet.
// Only once all are stored is the manifest written: that makes the version ready.
async function downloadVersion(channel, version, download) {
  const cache = await caches.open(CACHE_NAME);
  const { limits } = download;
  const manifestUrl = new URL(`versions/${version}/manifest.json`, channel);
  const manifestBytes = await fetchVerified(download, manifestUrl, 'manifest.json', {
    limit: limits.maxManifestBytes,
    tooLarge: (n) => new UpdateFailure('bundle_manifest_too_large',
      `manifest.json of version ${version}: more than ${limits.maxManifestBytes} bytes (limits.maxManifestBytes), ${n} received so far`),
  });
  const manifest = parseManifest(manifestBytes, version);
  checkManifestLimits(manifest, limits, version);
  let signatureBytes = null;
  if (download.keys.length) {
    signatureBytes = await fetchSignature(download, manifestUrl);
    await verifyManifest(manifestBytes, parseSignature(signatureBytes), download.keys, version);
  }
  const missing = [];
  for (const file of manifest.files) {
    if (!(await cache.match(keyOf.content(channel, file.sha256)))) missing.push(file);
  }
  download.allowFor(missing.reduce((sum, f) => sum + f.bytes, 0));
  const deferred = download.onPreview ? deferredPaths(manifest) : new Set();
  if (!deferred.size) {
    await fetchFiles(channel, manifestUrl, missing, download);
  } else {
    // The files the core build reads come first, and are handed to the page
    // as soon as they are verified; next up's files follow (docs/loading.md).
    const kept = new Map();
    await fetchFiles(channel, manifestUrl, missing.filter((f) => !deferred.has(f.path)), download, kept);
    const files = { 'manifest.json': manifestBytes };
    if (signatureBytes) files['manifest.sig'] = signatureBytes;
    for (const { path, sha256 } of manifest.files.filter((f) => !deferred.has(f.path))) {
      files[path] = kept.get(path) ?? await cache.match(keyOf.content(channel, sha256))
        .then((response) => response.arrayBuffer()).then((buffer) => new Uint8Array(buffer));
    }
    try {
      download.onPreview({ version, files });
    } catch (error) {
      console.warn(`edgerec: onPreview failed: ${error.message}`);
    }
    await fetchFiles(channel, manifestUrl, missing.filter((f) => deferred.has(f.path)), download);
  }
  if (signatureBytes) await cache.put(keyOf.signature(channel, version), new Response(signatureBytes));
  await cache.put(keyOf.manifest(channel, version), new Response(manifestBytes));
}

// Fetches `files` (verified, then stored by content), PARALLEL_FILES at a
// time; keeps their bytes in `kept` when given. The first failure stops the
// others (their partial bytes are not kept) and is thrown once every fetcher
// has finished, so nothing is written after it is reported.
async function fetchFiles(channel, manifestUrl, files, download, kept = null) {
  const cache = await caches.open(CACHE_NAME);
  const queue = [...files];
  const stop = new AbortController();
  let failure = null;
  const fetcher = async () => {
    while (queue.length && !failure) {
      const file = queue.shift();
      try {
        const bytes = await fetchVerified(download, new URL(file.path, manifestUrl), file.path, {
          expected: file,
          limit: file.bytes,
          stop: stop.signal,
          tooLarge: (n) => new UpdateFailure('size_mismatch',
            `${file.path}: more than the ${file.bytes} bytes the manifest says (${n} received before the download was stopped)`),
        });
        if (!failure) await cache.put(keyOf.content(channel, file.sha256), new Response(bytes));
        kept?.set(file.path, bytes);
      } catch (error) {
        if (!failure) {
          failure = error;
          stop.abort(); // the other files' requests end now; what they stored is deleted with the version
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_FILES, files.length) }, fetcher));
  if (failure) throw failure;
}

/** Paths of a manifest's files the core build does not read: next up's (docs/loading.md). Pure. */
export function deferredPaths(manifest) {
  const nextUp = manifest?.models?.next_up;
  return new Set([nextUp?.encoder, nextUp?.items?.file].filter((path) => typeof path === 'string'));
}

async function fetchSignature(download, manifestUrl) {
  return fetchVerified(download, new URL('manifest.sig', manifestUrl), 'manifest.sig', {
    limit: SIGNATURE_MAX_BYTES,
    tooLarge: () => new UpdateFailure('bundle_bad_signature', `manifest.sig is larger than ${SIGNATURE_MAX_BYTES} bytes`),
    missing: (status) => new UpdateFailure('bundle_bad_signature',
      `manifest.sig: HTTP ${status}: the version is not signed, and public keys are set`),
  });
}

// Records why `version` failed and forgets it; the caller then deletes its files and tells every tab.
async function failed(channel, version, error, download) {
  // Anything unexpected (storage quota, say) is worth another try later.
  const failure = error instanceof UpdateFailure ? error
    : new UpdateFailure('download_failed', error.message, { retryLater: true });
  await changeState(channel, (state) => {
    const failures = (state.rejected[version]?.failures ?? 0) + 1;
    // Retried on a later check, later each time: 30 s, 1 min, 2 min… at most hourly.
    const retryAt = failure.retryLater ? Date.now() + Math.min(30_000 * 2 ** (failures - 1), 3_600_000) : null;
    forget(state, version);
    state.rejected[version] = { code: failure.code, reason: failure.message, final: !failure.retryLater, failures, retryAt };
  });
  return {
    result: { status: 'rejected', version, code: failure.code, reason: failure.message, downloaded: download.bytes },
    announcement: { type: 'rejected', channel, version, code: failure.code, reason: failure.message },
  };
}

// --- downloading ---------------------------------------------------------

// Fetches one file, retrying network errors and 5xx with backoff; checks size
// and SHA-256 against the manifest entry when there is one.
async function fetchVerified(download, url, path, options) {
  for (let attempt = 1; ; attempt++) {
    try {
      const bytes = await fetchBounded(download, url, path, options);
      if (options.expected) await checkFile(bytes, path, options.expected);
      return bytes;
    } catch (error) {
      if (!(error instanceof UpdateFailure && error.transient) || attempt >= download.attempts || options.stop?.aborted) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, download.backoffMs * 2 ** (attempt - 1)));
      if (download.deadline.aborted) throw download.expired();
    }
  }
}

// One request, its body read as it arrives and cut off at `limit` bytes, after
// `timeouts.idleMs` without data, or at the update's deadline.
async function fetchBounded(download, url, path, {
  limit, tooLarge, expected, missing, init = {}, timeoutMs, counted = true, stop,
}) {
  const controller = new AbortController();
  const signals = [download.deadline, controller.signal];
  if (stop) signals.push(stop);
  if (timeoutMs) signals.push(AbortSignal.timeout(timeoutMs));
  const interrupted = (error) => (download.deadline.aborted ? download.expired()
    : new UpdateFailure('network_error', `${path}: download interrupted (${error.message})`, { transient: true }));
  let response;
  try {
    response = await download.fetch(url, { ...init, signal: AbortSignal.any(signals) });
  } catch (error) {
    throw interrupted(error);
  }
  try {
    checkResponse(response, url, path, missing);
    return await readBounded(response.body, {
      limit,
      tooLarge,
      expectedBytes: expected?.bytes ?? 0,
      idleMs: download.timeouts.idleMs,
      what: path,
      onBytes: (n) => { if (counted) download.bytes += n; },
    });
  } catch (error) {
    controller.abort();
    if (error instanceof UpdateFailure) throw error;
    throw interrupted(error);
  }
}

function checkResponse(response, url, path, missing) {
  if (!response.ok) {
    if (missing && (response.status === 404 || response.status === 410)) throw missing(response.status);
    const serverSide = response.status >= 500 || response.status === 408 || response.status === 429;
    // A 404 may be a CDN still propagating the upload: tried again on a later check, not at once.
    throw new UpdateFailure(serverSide ? 'server_error' : 'file_unavailable',
      `${path}: HTTP ${response.status} from ${url}`, { transient: serverSide, retryLater: true });
  }
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('text/html') && !path.endsWith('.html')) {
    // Typically a captive portal or a login page: the network's doing, so tried again later.
    throw new UpdateFailure('not_a_bundle_file', `${path}: the server sent an HTML page instead of the file`,
      { retryLater: true });
  }
}

/**
 * Reads a body stream into memory. Throws `tooLarge(received)` the moment
 * more than `limit` bytes have arrived, and a transient `network_error` when
 * no data arrives for `idleMs`; either way the stream is cancelled, so the
 * connection is dropped instead of drained. `onBytes(n)` sees every read.
 * `expectedBytes` (a file's size from its manifest) sizes the buffer at once.
 *
 * Byte streams (fetch bodies) are read into a buffer of at most `limit + 1`
 * bytes, so an oversize body costs one byte more than the limit however large
 * the network's chunks are; other streams are read chunk by chunk.
 */
export async function readBounded(body, {
  limit, tooLarge, expectedBytes = 0, idleMs = DEFAULT_TIMEOUTS.idleMs, what = 'body', onBytes = () => {},
}) {
  if (!body) return new Uint8Array(0);
  let reader;
  try {
    reader = body.getReader({ mode: 'byob' });
  } catch {
    return readChunks(body.getReader(), { limit, tooLarge, idleMs, what, onBytes });
  }
  const cap = limit + 1; // one byte past the limit is enough to know it is passed
  let buffer = new ArrayBuffer(Math.min(cap, Math.max(expectedBytes + 1, 64 * 1024)));
  let received = 0;
  try {
    for (;;) {
      if (received === buffer.byteLength) buffer = grown(buffer, Math.min(cap, buffer.byteLength * 2));
      const view = new Uint8Array(buffer, received, buffer.byteLength - received);
      const { done, value } = await withIdleTimeout(reader.read(view), idleMs, what);
      if (value) buffer = value.buffer; // the read transferred it, at the end too
      if (done) break;
      received += value.byteLength;
      onBytes(value.byteLength);
      if (received > limit) throw tooLarge(received);
    }
  } catch (error) {
    reader.cancel(error).catch(() => {});
    throw error;
  }
  return new Uint8Array(buffer, 0, received);
}

function grown(buffer, length) {
  const bigger = new Uint8Array(length);
  bigger.set(new Uint8Array(buffer));
  return bigger.buffer;
}

async function readChunks(reader, { limit, tooLarge, idleMs, what, onBytes }) {
  const chunks = [];
  let received = 0;
  try {
    for (;;) {
      const { done, value } = await withIdleTimeout(reader.read(), idleMs, what);
      if (done) break;
      received += value.byteLength;
      onBytes(value.byteLength);
      if (received > limit) throw tooLarge(received);
      chunks.push(value);
    }
  } catch (error) {
    reader.cancel(error).catch(() => {});
    throw error;
  }
  return concat(chunks, received);
}

function withIdleTimeout(promise, ms, what) {
  let timer;
  const idle = new Promise((resolve, fail) => {
    timer = setTimeout(() => fail(new UpdateFailure('network_error',
      `${what}: no data for ${ms / 1000} s, download stopped`, { transient: true })), ms);
  });
  return Promise.race([promise, idle]).finally(() => clearTimeout(timer));
}

function concat(chunks, length) {
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

async function checkFile(bytes, path, expected) {
  if (bytes.byteLength !== expected.bytes) {
    throw new UpdateFailure('size_mismatch',
      `${path}: ${bytes.byteLength} bytes received, the manifest says ${expected.bytes} (truncated or replaced)`);
  }
  const digest = await sha256Hex(bytes);
  if (digest !== expected.sha256) {
    throw new UpdateFailure('hash_mismatch', `${path}: SHA-256 ${digest} differs from the manifest's ${expected.sha256}`);
  }
}

// --- manifest checks (pure) ----------------------------------------------

/** Parses manifest.json bytes and checks what the updater relies on. Throws `malformed_manifest`. */
export function parseManifest(bytes, version) {
  let manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new UpdateFailure('malformed_manifest', `manifest.json of version ${version} is not JSON: ${error.message}`);
  }
  if (manifest?.version !== version) {
    throw new UpdateFailure('malformed_manifest',
      `manifest.json says version ${JSON.stringify(manifest?.version)}, the channel pointer says ${version}`);
  }
  if (!Array.isArray(manifest.files)) {
    throw new UpdateFailure('malformed_manifest', `manifest.json of version ${version} has no files list`);
  }
  const bad = manifest.files.find((f) => typeof f?.path !== 'string' || !SAFE_PATH.test(f.path)
    || RESERVED_PATHS.has(f.path) || !Number.isSafeInteger(f.bytes) || f.bytes < 0
    || typeof f.sha256 !== 'string' || !HEX64.test(f.sha256));
  if (bad !== undefined) {
    throw new UpdateFailure('malformed_manifest',
      `manifest.json of version ${version} has a bad file entry: ${JSON.stringify(bad)?.slice(0, 300)}`);
  }
  const paths = new Set(manifest.files.map((f) => f.path));
  if (paths.size !== manifest.files.length) {
    throw new UpdateFailure('malformed_manifest', `manifest.json of version ${version} lists a file twice`);
  }
  return manifest;
}

/**
 * Checks a parsed manifest's files against the download limits (file count,
 * each file's bytes, all bytes together), before anything is fetched. Final.
 */
export function checkManifestLimits(manifest, limits, version = manifest.version) {
  const { files } = manifest;
  if (files.length > limits.maxFiles) {
    throw new UpdateFailure('bundle_too_many_files',
      `version ${version} lists ${files.length} files, more than limits.maxFiles (${limits.maxFiles})`);
  }
  const largest = files.reduce((big, f) => (f.bytes > (big?.bytes ?? -1) ? f : big), null);
  if (largest && largest.bytes > limits.maxFileBytes) {
    throw new UpdateFailure('bundle_file_too_large',
      `${largest.path} of version ${version}: ${largest.bytes} bytes, more than limits.maxFileBytes (${limits.maxFileBytes})`);
  }
  const total = files.reduce((sum, f) => sum + f.bytes, 0);
  if (total > limits.maxBundleBytes) {
    throw new UpdateFailure('bundle_too_large',
      `version ${version}: ${total} bytes in all, more than limits.maxBundleBytes (${limits.maxBundleBytes})`);
  }
}

// --- signatures ----------------------------------------------------------

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes canonical, padded standard base64 of exactly `length` bytes, or returns null. */
export function decodeBase64(text, length) {
  if (typeof text !== 'string' || !BASE64.test(text)) return null;
  const binary = atob(text);
  // Canonical only (no stray bits in the last character), as the engine's decoder wants.
  if (binary.length !== length || btoa(binary) !== text) return null;
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** The raw keys of `publicKeys` (base64 of 32-byte Ed25519 keys). Throws `invalid_argument`. */
export function parsePublicKeys(publicKeys) {
  if (publicKeys === undefined || publicKeys === null) return [];
  if (!Array.isArray(publicKeys)) {
    throw new UpdateFailure('invalid_argument', 'publicKeys must be an array of base64 Ed25519 public keys');
  }
  return publicKeys.map((key, i) => {
    const raw = decodeBase64(key, 32);
    if (!raw) {
      throw new UpdateFailure('invalid_argument',
        `publicKeys[${i}] is not the base64 of a 32-byte Ed25519 public key: ${String(key).slice(0, 60)}`);
    }
    return raw;
  });
}

/** The 64 signature bytes of a manifest.sig file (base64, trailing whitespace allowed). Throws `bundle_bad_signature`. */
export function parseSignature(fileBytes) {
  const text = new TextDecoder().decode(fileBytes).trimEnd();
  const signature = decodeBase64(text, 64);
  if (!signature) {
    throw new UpdateFailure('bundle_bad_signature', 'manifest.sig is not the base64 of a 64-byte Ed25519 signature');
  }
  return signature;
}

/**
 * Resolves when one of `keys` (raw Ed25519 public keys) verifies `signature`
 * over the exact manifest bytes; throws `bundle_bad_signature` otherwise.
 */
export async function verifyManifest(manifestBytes, signature, keys, version = '?') {
  let unsupported = null;
  for (const raw of keys) {
    let key;
    try {
      key = await crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
    } catch (error) {
      unsupported = error;
      continue;
    }
    if (await crypto.subtle.verify({ name: 'Ed25519' }, key, signature, manifestBytes)) return;
  }
  if (unsupported?.name === 'NotSupportedError') {
    // The browser, not the version, is at fault: a later browser may verify it.
    throw new UpdateFailure('signature_unsupported',
      `this browser cannot verify Ed25519 signatures (${unsupported.message})`, { retryLater: true });
  }
  throw new UpdateFailure('bundle_bad_signature',
    `manifest.json of version ${version}: no pinned public key verifies manifest.sig (wrong key or changed manifest)`);
}

// --- cache upkeep --------------------------------------------------------

// Deletes manifests, signatures and files no kept version needs. Runs under
// the channel's download lock (held by update(), or taken when free), so it
// never deletes the files of a version still downloading.
async function collectGarbage(channel) {
  const cache = await caches.open(CACHE_NAME);
  const state = await readState(channel);
  const kept = new Set([keyOf.state(channel)]);
  for (const version of new Set([...state.ready, state.pinned, state.lastGood].filter(Boolean))) {
    const response = await cache.match(keyOf.manifest(channel, version));
    const manifest = response && await response.json().catch(() => null);
    for (const file of manifest?.files ?? []) kept.add(keyOf.content(channel, file.sha256));
    kept.add(keyOf.manifest(channel, version));
    kept.add(keyOf.signature(channel, version));
  }
  const prefix = `${channel}.edgerec/`;
  for (const request of await cache.keys()) {
    if (request.url.startsWith(prefix) && !kept.has(request.url)) await cache.delete(request);
  }
}

// Collects garbage under the download lock, waiting for it at most
// GC_LOCK_WAIT_MS: a download still running then collects when it ends, and
// the caller (reject, during a page's open) is not held up by a slow server.
async function collectGarbageSoon(channel) {
  const locks = globalThis.navigator?.locks;
  if (!locks) return collectGarbage(channel);
  try {
    await locks.request(`edgerec:${channel}`, { signal: AbortSignal.timeout(GC_LOCK_WAIT_MS) }, () => collectGarbage(channel));
  } catch (error) {
    if (error?.name !== 'AbortError' && error?.name !== 'TimeoutError') throw error;
  }
}

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

function withLock(name, task) {
  const locks = globalThis.navigator?.locks;
  return locks ? locks.request(name, task) : task();
}

function announce(message) {
  const broadcast = new BroadcastChannel(BROADCAST_NAME);
  broadcast.postMessage(message);
  broadcast.close();
}
