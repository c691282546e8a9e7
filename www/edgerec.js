// edgerec's page API. The wasm engine runs in a dedicated Worker, one Worker
// per model version. A new version is loaded, checked (sizes, SHA-256, parity
// cases) and warmed up next to the one serving; only then are new calls routed
// to it, calls in flight finish on the old one, and the old Worker is
// terminated. See docs/updates.md.
import { BROADCAST_NAME, channelUrl, readState, reject as rejectVersion, update } from './lib/channel.js';
import { BundleError, EdgeRecError, InputError, UnavailableError, errorFromCode } from './lib/errors.js';
import { ShopperHistory } from './lib/history.js';
import init, { Engine } from './pkg/edgerec.js';

export { BundleError, EdgeRecError, InputError, UnavailableError, ShopperHistory };

const WASM_URL = new URL('./pkg/edgerec_bg.wasm', import.meta.url);
// With a version already cached, open() waits this long for the channel check
// before serving the cached one (a newer version then swaps in when ready).
const OPEN_CHECK_WAIT_MS = 3_000;
// A version that failed to load for a reason other than its content is tried again after this.
const LOAD_RETRY_MS = 5_000;

export class EdgeRec extends EventTarget {
  /** The shopper's on-device history (IndexedDB), used by forShopper/nextUp/search. */
  history;
  #channel;
  #wasm;
  #current = null; // the VersionWorker answering new calls
  #workers = new Set(); // every VersionWorker not yet terminated
  #retiring = Promise.resolve(); // resolves once the previous Worker is terminated
  #latest = null; // the newest version ready in the cache
  #pinned = null;
  #previous = null;
  #failed = new Map(); // version -> reason, for versions this instance could not load
  #reconciling = null;
  #again = false;
  #broadcast;
  #timer;
  #serviceWorker = null;
  #closed = false;
  #fusionMs = 0;
  #fusion = null; // { old, started } while answers blend the previous version in

  /**
   * Opens the newest verified version of `channel` (a folder with latest.json).
   * @param {object} options
   * @param {string|URL} options.channel channel URL, relative to the page
   * @param {string|URL} [options.serviceWorker] a module service worker calling
   *   installEdgeRecServiceWorker(); gives offline use and background checks
   * @param {string} [options.serviceWorkerScope] its scope; it must cover both
   *   the page and edgerec's own files (default: the worker script's folder)
   * @param {string} [options.historyName] which on-device history to use
   * @param {number} [options.historyLimit] newest items kept (default 50)
   * @param {number} [options.checkEvery] ms between pointer checks (default 60 s; 0: never)
   * @param {number} [options.fusionMs] after a switch, blend the previous version's
   *   rankings into answers for this long, fading out, so lists do not jump (default 0: off)
   */
  static async open({
    channel, serviceWorker, serviceWorkerScope, historyName = 'default', historyLimit = 50, checkEvery = 60_000,
    fusionMs = 0,
  } = {}) {
    if (!channel) throw new InputError('invalid_argument', 'EdgeRec.open needs { channel }: the URL of a channel folder');
    if (!globalThis.caches) {
      throw new UnavailableError('no_cache_storage', 'edgerec needs the Cache API: serve the page over https or from localhost');
    }
    const rec = new EdgeRec();
    rec.#channel = channelUrl(channel);
    rec.#fusionMs = Math.max(0, Number(fusionMs) || 0);
    try {
      await rec.#start({ serviceWorker, serviceWorkerScope, historyName, historyLimit });
    } catch (error) {
      rec.close();
      throw error;
    }
    if (checkEvery > 0) rec.#timer = setInterval(() => rec.checkForUpdates().catch(() => {}), checkEvery);
    return rec;
  }

  async #start({ serviceWorker, serviceWorkerScope, historyName, historyLimit }) {
    const [wasm, history] = await Promise.all([compileWasm(), ShopperHistory.open(historyName, { limit: historyLimit })]);
    this.#wasm = wasm;
    this.history = history;
    this.#broadcast = new BroadcastChannel(BROADCAST_NAME);
    this.#broadcast.onmessage = ({ data }) => this.#onAnnouncement(data);
    if (serviceWorker) this.#serviceWorker = connectServiceWorker(serviceWorker, serviceWorkerScope, this.#channel);

    // A check that cannot run (offline, storage refused) still lets a cached version open,
    // and a slow one does not hold it up.
    const checking = update(this.#channel).catch((error) => ({ status: 'unreachable', reason: error.message }));
    const cached = (await readState(this.#channel)).ready.length > 0;
    const checked = await (cached
      ? Promise.race([checking, new Promise((resolve) => setTimeout(() => resolve({}), OPEN_CHECK_WAIT_MS))])
      : checking);
    let candidates = (await readState(this.#channel)).ready;
    while (!this.#current && candidates.length) {
      this.#latest = candidates[0];
      await this.#reconcile();
      candidates = candidates.filter((v) => !this.#failed.has(v));
    }
    if (!this.#current) {
      const why = [checked.reason, ...[...this.#failed].map(([v, f]) => `version ${v}: ${f.message}`)]
        .filter(Boolean).join('; ');
      throw new UnavailableError('no_model', `no usable version of ${this.#channel}${why ? `: ${why}` : ''}`);
    }
  }

  /** The version answering new calls. */
  get version() {
    return this.#current?.version ?? null;
  }

  /** What this instance serves and what it could switch to. */
  async versions() {
    const state = await readState(this.#channel);
    return { serving: this.version, latest: this.#latest, pinned: this.#pinned, cached: state.ready };
  }

  /** Items like `id` (cosine over item embeddings), optionally only from one category. */
  similar(id, { k = 10, category } = {}) {
    return this.#rank('similar', [id, k, category ?? undefined]);
  }

  /** "Recommended for you": folds the shopper's history into the factor model. */
  forShopper({ k = 10, history = this.history.list() } = {}) {
    return this.#rank('forHistory', [history, k]);
  }

  /** "Next up": the LSTM over the shopper's history, in order. */
  nextUp({ k = 10, history = this.history.list(), excludeHistory = true } = {}) {
    return this.#rank('nextUp', [history, k, excludeHistory]);
  }

  /** Text search over titles and categories, re-ranked by the shopper's history. */
  search(text, { k = 10, history = this.history.list() } = {}) {
    return this.#rank('search', [text, k, history]);
  }

  /** The catalog of the serving version: `{ version, items: [{ id, title, categories }] }`. */
  items() {
    return this.#describe('items');
  }

  /** `{ version, categories: [name] }`. */
  categories() {
    return this.#describe('categories');
  }

  // Catalog facts carry no version of their own: label them with the Worker's.
  async #describe(method) {
    const worker = this.#current;
    return { version: worker?.version, [method]: await this.#call(method, [], worker) };
  }

  /** Asks the channel now instead of waiting for the timer. Resolves to what happened. */
  async checkForUpdates() {
    this.#assertOpen();
    this.#serviceWorker?.then((sw) => sw?.postMessage({ type: 'edgerec:check' }));
    return update(this.#channel);
  }

  /** Goes back to the version served before this one (kept in the cache) and stays there until unpin(). */
  async rollback() {
    this.#assertOpen();
    const { ready } = await readState(this.#channel);
    const target = ready.includes(this.#previous) ? this.#previous : ready.find((v) => v !== this.version);
    if (!target) throw new UnavailableError('version_not_cached', 'no earlier version is cached to roll back to');
    return this.pin(target);
  }

  /** Serves `version` (one of the cached ones) and ignores newer ones until unpin(). */
  async pin(version) {
    this.#assertOpen();
    const { ready } = await readState(this.#channel);
    if (!ready.includes(version)) {
      throw new UnavailableError('version_not_cached', `version ${version} is not cached (cached: ${ready.join(', ')})`);
    }
    this.#pinned = version;
    this.#failed.delete(version);
    await this.#reconcile();
    if (this.version !== version) {
      this.#pinned = null;
      const failure = this.#failed.get(version);
      throw failure ?? new UnavailableError('pin_failed', `could not switch to version ${version}`);
    }
    return version;
  }

  /** Follows the channel's newest version again. */
  async unpin() {
    this.#assertOpen();
    this.#pinned = null;
    this.#latest = (await readState(this.#channel)).current ?? this.#latest;
    await this.#reconcile();
    return this.version;
  }

  /** How many engine Workers exist and their wasm memory, for monitoring. */
  async memory() {
    const live = [...this.#workers];
    const sizes = await Promise.all(live.map((w) => w.call('memory', []).then((m) => m.wasmBytes, () => 0)));
    return { workers: live.length, wasmBytes: sizes.reduce((a, b) => a + b, 0) };
  }

  /** Stops checking, terminates the Workers. */
  close() {
    this.#closed = true;
    this.#fusion = null;
    clearInterval(this.#timer);
    this.#broadcast?.close();
    for (const worker of this.#workers) worker.terminate();
    this.#current = null;
    this.history?.close();
  }

  #assertOpen() {
    if (this.#closed) throw new UnavailableError('closed', 'this EdgeRec instance is closed');
  }

  #call(method, args, worker = this.#current) {
    if (!worker) {
      return Promise.reject(this.#closed ? new UnavailableError('closed', 'this EdgeRec instance is closed')
        : new UnavailableError('worker_failed', 'the engine Worker stopped; it is being restarted'));
    }
    return worker.call(method, args);
  }

  // A ranking question (args[1] is k). Outside a fusion window: one Worker, one
  // version. Inside it: both versions rank 2k items and their reciprocal ranks
  // are blended, the new version's weight growing from 0 to 1 over the window.
  async #rank(method, args) {
    const fusion = this.#fusion;
    if (!fusion) return this.#call(method, args);
    const current = this.#current;
    const k = args[1];
    const deeper = [args[0], Number.isInteger(k) && k > 0 ? 2 * k : k, ...args.slice(2)];
    const [fresh, old] = await Promise.all([
      this.#call(method, deeper, current),
      fusion.old.call(method, deeper).catch(() => null), // the old version may not know the id
    ]);
    const weight = Math.min(1, (performance.now() - fusion.started) / this.#fusionMs);
    if (!old) return { ...fresh, items: fresh.items.slice(0, k) };
    const blended = new Map();
    for (const [answer, share] of [[fresh, weight], [old, 1 - weight]]) {
      answer.items.forEach((item, rank) => {
        const entry = blended.get(item.id) ?? { id: item.id, title: item.title, score: 0 };
        entry.score += share / (60 + rank);
        blended.set(item.id, entry);
      });
    }
    const items = [...blended.values()].sort((a, b) => b.score - a.score).slice(0, k);
    return { ...fresh, items, blend: { from: old.version, weight } };
  }

  #onAnnouncement(message) {
    if (message?.channel !== this.#channel || this.#closed) return;
    if (message.type === 'ready') {
      // Verified now, even if an earlier download of it failed.
      this.#failed.delete(message.version);
      this.#latest = message.version;
      this.#reconcile().catch(() => {});
    } else if (message.type === 'rejected') {
      this.#emitRejected(message.version, message.code, message.reason);
    }
  }

  async #loadFailed(version, error) {
    if (!(error instanceof BundleError)) {
      // Not the version's fault (a Worker lost, the cache read raced a cleanup): try again later.
      this.#failed.set(version, Object.assign(error, { retryAt: Date.now() + LOAD_RETRY_MS }));
      console.warn(`edgerec: version ${version} did not load (${error.code}: ${error.message}); retrying`);
      setTimeout(() => this.#reconcile().catch(() => {}), LOAD_RETRY_MS);
      return;
    }
    try {
      // This engine cannot read the format: newer engines in other tabs may, so keep it for them.
      if (error.code !== 'bundle_unsupported_format') {
        await rejectVersion(this.#channel, version, error.code, error.message);
      }
    } finally {
      this.#emitRejected(version, error.code, error.message);
    }
  }

  // The serving Worker died (out of memory, say). Inside a fusion window the
  // previous Worker is still alive and takes over; otherwise the same version
  // is started again.
  #onCrash(worker) {
    if (this.#current !== worker || this.#closed) return;
    const fusion = this.#fusion;
    this.#fusion = null;
    this.#current = fusion?.old ?? null;
    fusion?.end();
    this.#reconcile().catch(() => {});
  }

  #emitRejected(version, code, reason) {
    const known = this.#failed.get(version);
    if (known?.code === code && known.announced) return;
    this.#failed.set(version, Object.assign(errorFromCode(code, reason), { announced: true }));
    this.dispatchEvent(new CustomEvent('modelrejected', { detail: { version, code, reason } }));
  }

  // Brings the serving version to the wanted one, one switch at a time, so at
  // most two Workers exist: the serving one and the one being loaded or retired.
  #reconcile() {
    this.#again = true;
    this.#reconciling ??= (async () => {
      while (this.#again && !this.#closed) {
        this.#again = false;
        let wanted = this.#pinned ?? this.#latest;
        if (!this.#current && !this.#usable(wanted)) {
          // Nothing serves (a Worker died and its version will not load): any cached version will do.
          wanted = (await readState(this.#channel)).ready.find((v) => this.#usable(v));
        }
        if (!wanted || wanted === this.version || !this.#usable(wanted)) continue;
        await this.#retiring;
        await this.#switchTo(wanted);
      }
    })().finally(() => { this.#reconciling = null; });
    return this.#reconciling;
  }

  // A version this instance may try: never failed, or failed for a reason
  // other than its content a while ago.
  #usable(version) {
    if (!version) return false;
    const failure = this.#failed.get(version);
    return !failure || (failure.retryAt !== undefined && Date.now() >= failure.retryAt);
  }

  async #switchTo(version) {
    const started = performance.now();
    const candidate = new VersionWorker(version, () => this.#workers.delete(candidate), () => this.#onCrash(candidate));
    this.#workers.add(candidate);
    try {
      await candidate.load(this.#wasm, this.#channel);
    } catch (error) {
      candidate.terminate();
      if (!this.#closed) await this.#loadFailed(version, error);
      return;
    }
    if (this.#closed) return candidate.terminate();
    const old = this.#current;
    this.#current = candidate;
    this.#previous = old?.version ?? null;
    if (old && this.#fusionMs > 0) {
      const fusion = { old, started: performance.now() };
      this.#fusion = fusion;
      this.#retiring = new Promise((resolve) => {
        fusion.end = resolve;
        setTimeout(resolve, this.#fusionMs);
      }).then(() => {
        if (this.#fusion === fusion) this.#fusion = null;
        // A crash during the window may have put the old Worker back in service.
        return this.#current === old ? undefined : old.retire();
      });
    } else {
      this.#retiring = old ? old.retire() : Promise.resolve();
    }
    const { resources, ...info } = candidate.info;
    this.#serviceWorker?.then((sw) => sw?.postMessage({ type: 'edgerec:shell', urls: resources }));
    this.dispatchEvent(new CustomEvent('modelchange', {
      detail: { from: old?.version ?? null, to: version, switchMs: performance.now() - started, ...info },
    }));
  }
}

/** One engine version in its own Worker. */
class VersionWorker {
  version;
  info = null;
  terminated = false;
  #worker;
  #pending = new Map();
  #nextId = 0;
  #retired = null;

  #onTerminated;

  constructor(version, onTerminated, onCrashed) {
    this.version = version;
    this.#onTerminated = onTerminated;
    this.#worker = new Worker(new URL('./lib/engine-worker.js', import.meta.url), { type: 'module' });
    this.#worker.onmessage = ({ data }) => this.#settle(data);
    this.#worker.onerror = (event) => {
      event.preventDefault?.();
      this.terminate(new UnavailableError('worker_failed', `the Worker for version ${version} stopped: ${event.message}`));
      onCrashed();
    };
  }

  load(wasm, channel) {
    return new Promise((resolve, reject) => {
      this.#pending.set('load', { resolve, reject });
      this.#worker.postMessage({ type: 'load', wasm, channel, version: this.version });
    });
  }

  call(method, args) {
    if (this.terminated) return Promise.reject(new UnavailableError('worker_failed', 'the Worker was terminated'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ type: 'call', id, method, args });
    });
  }

  /** Terminates once the calls already sent have answered. */
  retire() {
    this.#retired ??= new Promise((resolve) => {
      this.#onIdle = () => { this.terminate(); resolve(); };
      if (this.#pending.size === 0) this.#onIdle();
    });
    return this.#retired;
  }

  terminate(reason = new UnavailableError('worker_failed', 'the Worker was terminated')) {
    if (this.terminated) return;
    this.terminated = true;
    this.#worker.terminate();
    this.#onTerminated();
    this.#failAll(reason);
    this.#onIdle?.(); // a retire() waiting for calls to finish is done: they were failed
  }

  #onIdle = null;

  #settle(data) {
    const key = data.type === 'result' ? data.id : 'load';
    const waiting = this.#pending.get(key);
    if (!waiting) return;
    this.#pending.delete(key);
    if (data.type === 'loaded') {
      this.info = data.info;
      waiting.resolve(data.info);
    } else if (data.error) {
      waiting.reject(errorFromCode(data.error.code, data.error.message));
    } else {
      waiting.resolve(data.value);
    }
    if (this.#pending.size === 0) this.#onIdle?.();
  }

  #failAll(error) {
    for (const { reject: fail } of this.#pending.values()) fail(error);
    this.#pending.clear();
  }
}

async function compileWasm() {
  const response = await fetch(WASM_URL);
  if (!response.ok) throw new UnavailableError('wasm_unavailable', `${WASM_URL}: HTTP ${response.status}`);
  // compileStreaming needs the application/wasm MIME type; not every server sends it.
  return WebAssembly.compile(await response.arrayBuffer());
}

// Registers the service worker, tells it which channel to watch and which
// files this page needed (so it can serve them offline). Never fails open().
function connectServiceWorker(url, scope, channel) {
  if (!('serviceWorker' in navigator)) return Promise.resolve(null);
  return navigator.serviceWorker.register(url, { type: 'module', scope }).then(async (registration) => {
    const worker = registration.active ?? await activation(registration);
    const shell = [location.href, ...performance.getEntriesByType('resource').map((e) => e.name)];
    worker.postMessage({ type: 'edgerec:watch', channel, shell });
    return worker;
  }).catch((error) => {
    console.warn(`edgerec: service worker ${url} not installed (${error.message}); updates run in the page`);
    return null;
  });
}

function activation(registration) {
  const worker = registration.installing ?? registration.waiting;
  return new Promise((resolve, reject) => {
    const done = () => {
      if (worker.state === 'activated') resolve(worker);
      if (worker.state === 'redundant') reject(new Error('the service worker failed to install'));
    };
    worker.addEventListener('statechange', done);
    done();
  });
}

let wasmReady;

/**
 * Low level: a verified engine for one bundle folder, running in the calling
 * thread, with no updates. Most pages want EdgeRec.open instead.
 */
export async function openEngine(bundleUrl) {
  wasmReady ??= init({ module_or_path: WASM_URL });
  await wasmReady;
  const base = new URL(bundleUrl, globalThis.document?.baseURI ?? location.href);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  const manifestBytes = await fetchBytes(new URL('manifest.json', base));
  let manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
  } catch (e) {
    throw new BundleError('bundle_malformed_manifest', `${base}manifest.json is not JSON: ${e.message}`);
  }
  const files = { 'manifest.json': manifestBytes };
  await Promise.all((manifest.files ?? []).map(async ({ path }) => {
    files[path] = await fetchBytes(new URL(path, base));
  }));
  return new Engine(files);
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new BundleError('file_unavailable', `fetching ${url} failed: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}
