// The update side of a channel: reads the pointer, downloads a new version's
// missing files, verifies them, and records the version as ready in the Cache
// API. The same code runs in the service worker and, without one, in the page;
// a Web Lock per channel makes sure only one context downloads at a time.
//
// Cache layout (one cache, keys under the channel URL, never fetched over the
// network):
//   <channel>.edgerec/content/<sha256>   a verified file, shared by every version holding it
//   <channel>.edgerec/manifest/<version> a version's manifest; present only once all its files are
//   <channel>.edgerec/state              { current, ready: [newest, previous], rejected: {version: …} }

export const CACHE_NAME = 'edgerec-bundles';
export const BROADCAST_NAME = 'edgerec';
const POINTER = 'latest.json';
const KEPT_VERSIONS = 2;
// A stalled connection must not hold the channel's lock (and every other tab) for long.
const POINTER_TIMEOUT_MS = 10_000;
const FILE_TIMEOUT_MS = 120_000;
const HEX64 = /^[0-9a-f]{64}$/;
const SAFE_PATH = /^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_./-]*$/;

/** A version that cannot be used, with a stable code and a reason a person can act on. */
// `transient`: retried at once, with backoff; `retryLater`: the version is tried
// again on a later check. Anything else (wrong size or hash, bad manifest) is
// final: versions are immutable, so the same version cannot get better.
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
  manifest: (channel, version) => `${channel}.edgerec/manifest/${encodeURIComponent(version)}`,
  state: (channel) => `${channel}.edgerec/state`,
};

/** What this origin holds for a channel. Never throws for a missing or unreadable state. */
export async function readState(channel) {
  const cache = await caches.open(CACHE_NAME);
  const response = await cache.match(keyOf.state(channel));
  const state = response ? await response.json().catch(() => null) : null;
  return {
    current: typeof state?.current === 'string' ? state.current : null,
    ready: Array.isArray(state?.ready) ? state.ready.filter((v) => typeof v === 'string') : [],
    rejected: state?.rejected && typeof state.rejected === 'object' ? state.rejected : {},
  };
}

async function writeState(cache, channel, state) {
  await cache.put(keyOf.state(channel), new Response(JSON.stringify(state),
    { headers: { 'content-type': 'application/json' } }));
}

/**
 * Reads a ready version's files from the cache, as the engine wants them:
 * { 'manifest.json': bytes, [path]: bytes }. Throws if the version is not ready.
 */
export async function readVersionFiles(channel, version) {
  const cache = await caches.open(CACHE_NAME);
  const manifestResponse = await cache.match(keyOf.manifest(channel, version));
  if (!manifestResponse) throw new UpdateFailure('version_not_cached', `version ${version} is not in the cache`);
  const manifestBytes = new Uint8Array(await manifestResponse.arrayBuffer());
  const manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
  const files = { 'manifest.json': manifestBytes };
  await Promise.all(manifest.files.map(async ({ path, sha256 }) => {
    const response = await cache.match(keyOf.content(channel, sha256));
    if (!response) throw new UpdateFailure('version_not_cached', `version ${version}: ${path} is not in the cache`);
    files[path] = new Uint8Array(await response.arrayBuffer());
  }));
  return files;
}

/**
 * Checks the channel pointer and makes its version ready if it is not yet.
 * Resolves to { status, version?, code?, reason?, downloaded? } where status is
 * 'ready' (newly verified), 'current' (already ready), 'rejected', 'skipped'
 * (rejected earlier, not retried yet) or 'unreachable' (offline, no pointer).
 * Every state change is announced on the BroadcastChannel.
 */
export function update(channel, options = {}) {
  return withLock(channel, () => updateLocked(channel, options));
}

/** Marks a ready version as unusable (it failed on load, e.g. parity) and forgets its files. */
export function reject(channel, version, code, reason) {
  return withLock(channel, async () => {
    const cache = await caches.open(CACHE_NAME);
    const state = await readState(channel);
    state.ready = state.ready.filter((v) => v !== version);
    if (state.current === version) state.current = state.ready[0] ?? null;
    state.rejected[version] = { code, reason, final: true, at: Date.now() };
    await writeState(cache, channel, state);
    await collectGarbage(cache, channel, state);
    announce({ type: 'rejected', channel, version, code, reason });
  });
}

async function updateLocked(channel, { fetch = (...args) => globalThis.fetch(...args), attempts = 3, backoffMs = 300 }) {
  const cache = await caches.open(CACHE_NAME);
  const state = await readState(channel);
  const pointerUrl = new URL(POINTER, channel);
  let pointer;
  try {
    const response = await fetch(pointerUrl, { cache: 'no-store', signal: AbortSignal.timeout(POINTER_TIMEOUT_MS) });
    if (!response.ok) return { status: 'unreachable', reason: `${pointerUrl}: HTTP ${response.status}` };
    pointer = await response.json();
  } catch (error) {
    return { status: 'unreachable', reason: `${pointerUrl}: ${error.message}` };
  }
  const { version } = pointer ?? {};
  if (typeof version !== 'string' || typeof pointer.manifest !== 'string') {
    return { status: 'unreachable', reason: `${pointerUrl} does not name a version and a manifest` };
  }

  if (state.ready.includes(version)) {
    if (state.current !== version) {
      state.current = version;
      state.ready = [version, ...state.ready.filter((v) => v !== version)];
      await writeState(cache, channel, state);
      announce({ type: 'ready', channel, version });
    }
    return { status: 'current', version };
  }
  const earlier = state.rejected[version];
  if (earlier && (earlier.final || Date.now() < earlier.retryAt)) {
    return { status: 'skipped', version, code: earlier.code, reason: earlier.reason };
  }

  const download = { fetch, attempts, backoffMs, bytes: 0 };
  try {
    const manifestUrl = new URL(pointer.manifest, pointerUrl);
    const manifestBytes = await fetchVerified(download, manifestUrl, 'manifest.json');
    const manifest = parseManifest(manifestBytes, version);
    for (const file of manifest.files) {
      const key = keyOf.content(channel, file.sha256);
      if (await cache.match(key)) continue;
      const bytes = await fetchVerified(download, new URL(file.path, manifestUrl), file.path, file);
      await cache.put(key, new Response(bytes));
    }
    await cache.put(keyOf.manifest(channel, version), new Response(manifestBytes));
    state.current = version;
    state.ready = [version, ...state.ready.filter((v) => v !== version)].slice(0, KEPT_VERSIONS);
    delete state.rejected[version];
    await writeState(cache, channel, state);
    await collectGarbage(cache, channel, state);
    announce({ type: 'ready', channel, version });
    return { status: 'ready', version, downloaded: download.bytes };
  } catch (error) {
    // Anything unexpected (storage quota, say) is worth another try later.
    const failure = error instanceof UpdateFailure ? error
      : new UpdateFailure('download_failed', error.message, { retryLater: true });
    const failures = (earlier?.failures ?? 0) + 1;
    // Retried on a later check, later each time: 30 s, 1 min, 2 min… at most hourly.
    const retryAt = failure.retryLater ? Date.now() + Math.min(30_000 * 2 ** (failures - 1), 3_600_000) : null;
    state.rejected[version] = { code: failure.code, reason: failure.message, final: !failure.retryLater, failures, retryAt };
    await writeState(cache, channel, state);
    await collectGarbage(cache, channel, state);
    announce({ type: 'rejected', channel, version, code: failure.code, reason: failure.message });
    return { status: 'rejected', version, code: failure.code, reason: failure.message, downloaded: download.bytes };
  }
}

// Fetches one file, retrying network errors and 5xx with backoff; checks size
// and SHA-256 against the manifest entry when there is one.
async function fetchVerified(download, url, path, expected) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchOnce(download, url, path, expected);
    } catch (error) {
      if (!(error instanceof UpdateFailure && error.transient) || attempt >= download.attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, download.backoffMs * 2 ** (attempt - 1)));
    }
  }
}

async function fetchOnce(download, url, path, expected) {
  let bytes;
  let response;
  try {
    response = await download.fetch(url, { signal: AbortSignal.timeout(FILE_TIMEOUT_MS) });
    if (response.ok) bytes = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    throw new UpdateFailure('network_error', `${path}: download interrupted (${error.message})`, { transient: true });
  }
  if (!response.ok) {
    const serverSide = response.status >= 500 || response.status === 408 || response.status === 429;
    // A 404 may be a CDN still propagating the upload: tried again on a later check, not at once.
    throw new UpdateFailure(serverSide ? 'server_error' : 'file_unavailable',
      `${path}: HTTP ${response.status} from ${url}`, { transient: serverSide, retryLater: true });
  }
  download.bytes += bytes.byteLength;
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('text/html') && !path.endsWith('.html')) {
    // Typically a captive portal or a login page: the network's doing, so tried again later.
    throw new UpdateFailure('not_a_bundle_file', `${path}: the server sent an HTML page instead of the file`,
      { retryLater: true });
  }
  if (!expected) return bytes;
  if (bytes.byteLength !== expected.bytes) {
    throw new UpdateFailure('size_mismatch',
      `${path}: ${bytes.byteLength} bytes received, the manifest says ${expected.bytes} (truncated or replaced)`);
  }
  const digest = await sha256Hex(bytes);
  if (digest !== expected.sha256) {
    throw new UpdateFailure('hash_mismatch', `${path}: SHA-256 ${digest} differs from the manifest's ${expected.sha256}`);
  }
  return bytes;
}

function parseManifest(bytes, version) {
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
    || !Number.isSafeInteger(f.bytes) || f.bytes < 0 || typeof f.sha256 !== 'string' || !HEX64.test(f.sha256));
  if (bad !== undefined) {
    throw new UpdateFailure('malformed_manifest',
      `manifest.json of version ${version} has a bad file entry: ${JSON.stringify(bad)}`);
  }
  return manifest;
}

// Deletes manifests of versions no longer kept and files no kept version lists.
async function collectGarbage(cache, channel, state) {
  const kept = new Set();
  for (const version of state.ready) {
    const response = await cache.match(keyOf.manifest(channel, version));
    const manifest = response && await response.json().catch(() => null);
    for (const file of manifest?.files ?? []) kept.add(keyOf.content(channel, file.sha256));
    kept.add(keyOf.manifest(channel, version));
  }
  const prefix = `${channel}.edgerec/`;
  for (const request of await cache.keys()) {
    const key = request.url;
    if (key.startsWith(prefix) && key !== keyOf.state(channel) && !kept.has(key)) await cache.delete(request);
  }
}

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

function withLock(channel, task) {
  const locks = globalThis.navigator?.locks;
  return locks ? locks.request(`edgerec:${channel}`, task) : task();
}

function announce(message) {
  const broadcast = new BroadcastChannel(BROADCAST_NAME);
  broadcast.postMessage(message);
  broadcast.close();
}
