// edgerec's page API. The wasm engine runs in a dedicated Worker, one Worker
// per model version. A new version is loaded, checked (sizes, SHA-256, limits,
// signature, parity cases) and warmed up next to the one serving; only then are
// new calls routed to it, calls in flight finish on the old one, and the old
// Worker is terminated. See docs/updates.md. Which version serves is decided by
// lib/lifecycle.js; the Worker messages are lib/protocol.js's.
import {
  BROADCAST_NAME, channelUrl, isUpdating, markGood, readState, reject as rejectVersion, setPinned, update,
} from './lib/channel.js';
import { BundleError, EdgeRecError, InputError, UnavailableError, asEdgeRecError } from './lib/errors.js';
import { ShopperHistory } from './lib/history.js';
import { resolveLimits } from './lib/limits.js';
import { VersionLifecycle, cachedVersions } from './lib/lifecycle.js';
import { ShardedClient } from './lib/shards.js';
import { readStock } from './lib/stock.js';
import {
  DEFAULT_CALL_TIMEOUT_MS, DEFAULT_LOAD_TIMEOUT_MS, EngineClient, MAX_HISTORY_IDS, callArgs, describe, milliseconds,
  nonEmptyString, publicKeyList, readOptions,
} from './lib/protocol.js';

export { BundleError, EdgeRecError, InputError, UnavailableError, ShopperHistory };

const WASM_URL = new URL('./pkg/edgerec_bg.wasm', import.meta.url);
// The core build (no next-up encoder): what a page compiles first (docs/loading.md).
const CORE_WASM_URL = new URL('./pkg-core/edgerec_bg.wasm', import.meta.url);
// With a version already cached, open() waits this long for the channel check
// before serving the cached one (a newer version then swaps in when ready).
const OPEN_CHECK_WAIT_MS = 3_000;

export class EdgeRec extends EventTarget {
  /** The shopper's on-device history (IndexedDB), used by forShopper/nextUp/search. */
  history;
  #settings;
  #lifecycle = null;
  #broadcast;
  #timer;
  #serviceWorker = null;
  #wasm = null; // { module, build }: what new Workers start with
  #spareWorker = null; // started early for the first version
  #waitingForEncoder = new Set(); // clients started with the core build
  #encoderError = null; // why the full build could not be compiled
  #preview = null; // a first version's engine on its core files while the rest downloads
  #previewed = null; // the version a preview served, until the lifecycle's first event
  #serving = deferred(); // settles once the lifecycle serves a version (or, after a preview, never will)
  #startFailure = null; // why the version behind a preview never came to serve
  #stock = null; // the channel's live stock (lib/stock.js), sent to every Worker
  #stockTimer;
  #closed = false;

  /**
   * Opens the newest verified version of `channel` (a folder with latest.json).
   * Every option is checked: a bad or unknown one rejects with InputError
   * `invalid_argument` (a misspelt `publicKeys` must not turn verification off).
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
   * @param {object} [options.limits] overrides of lib/limits.js DEFAULT_LIMITS
   * @param {string[]} [options.publicKeys] base64 Ed25519 public keys; with any,
   *   a version's manifest must carry a signature one of them verifies
   * @param {number} [options.loadTimeoutMs] how long loading a version may take (default 60 s)
   * @param {number} [options.callTimeoutMs] how long one call may take (default 30 s)
   * @param {number} [options.stockEvery] ms between reads of the channel's live stock file
   *   (stock.json: out-of-stock ids and attribute overrides, applied to every answer; default 60 s; 0: never)
   * @param {string|URL} [options.assets] the folder holding edgerec's own files (pkg/,
   *   pkg-core/, lib/) when they are not beside this module as loaded, e.g. a CDN copy;
   *   from another origin they need CORS, and the Worker starts through a same-origin bootstrap
   * @param {'staged'|'full'} [options.loading] 'staged' (default): the first answers come from
   *   the small core build and next up once the full build is compiled in the background;
   *   'full': one stage, every model (next up included) ready before the first answer
   * @param {number} [options.workers] split each version's item matrices by rows across this
   *   many Workers (default 1): memory split, scans in parallel, answers as one Worker gives
   *   them; for catalogs of hundreds of thousands of items and more (docs/shards.md). With
   *   more than one, loading is 'full'
   */
  static async open(options) {
    const settings = openOptions(options);
    if (!globalThis.caches) {
      throw new UnavailableError('no_cache_storage', 'edgerec needs the Cache API: serve the page over https or from localhost');
    }
    const rec = new EdgeRec();
    rec.#settings = settings;
    try {
      await rec.#start(settings);
    } catch (error) {
      rec.close();
      throw asEdgeRecError(error);
    }
    if (settings.checkEvery > 0) rec.#timer = setInterval(() => rec.checkForUpdates().catch(() => {}), settings.checkEvery);
    if (settings.stockEvery > 0) {
      // Every tab reads the shared copy; the one finding it older than this fetches it.
      const refresh = () => rec.#refreshStock(settings.stockEvery * 0.9).catch((error) => {
        console.warn(`edgerec: stock not refreshed: ${error.message}`);
      });
      refresh();
      rec.#stockTimer = setInterval(refresh, settings.stockEvery);
    }
    return rec;
  }

  async #start({ channel, serviceWorker, serviceWorkerScope, historyName, historyLimit, fusionMs, loading }) {
    // The first Worker boots (fetches and evaluates its modules) while the page downloads.
    this.#spareWorker = newEngineWorker(this.#settings.assets);
    const build = loading === 'staged' && this.#settings.workers === 1 ? 'core' : 'full';
    const { assets } = this.#settings;
    const [module, history] = await Promise.all([
      compileWasm(build === 'core' ? assets.coreWasm : assets.wasm), ShopperHistory.open(historyName, { limit: historyLimit }),
    ]);
    this.#wasm = { module, build };
    this.history = history;
    this.#lifecycle = new VersionLifecycle({
      store: channelStore(channel),
      startWorker: (version, hooks) => this.#startWorker(version, hooks),
      emit: (type, detail) => {
        // The version a preview served, now served whole: nothing changed for the page.
        const takeover = type === 'modelchange' && detail.from === null && detail.to === this.#previewed;
        if (type === 'modelchange') this.#previewed = null;
        if (!takeover) this.dispatchEvent(new CustomEvent(type, { detail }));
      },
      fusionMs,
      onPromoted: ({ resources }) => {
        this.#serving.resolve();
        this.#preview?.client.retire();
        this.#serviceWorker?.then((sw) => sw?.postMessage({ type: 'edgerec:shell', urls: resources }));
      },
    });
    this.#broadcast = new BroadcastChannel(BROADCAST_NAME);
    this.#broadcast.onmessage = ({ data }) => this.#onAnnouncement(data);
    if (serviceWorker) this.#serviceWorker = connectServiceWorker(serviceWorker, serviceWorkerScope, this.#settings);

    // A check that cannot run (offline, storage refused) still lets a cached version open,
    // and a slow one does not hold it up: with a version cached, open() waits
    // for the check only briefly, and not at all while another context holds
    // the channel for a download (this check would queue behind it).
    const busy = await isUpdating(channel).catch(() => false); // asked before this page's own check takes the lock
    const cached = cachedVersions(await readState(channel)).length > 0;
    // A page's very first load answers from the core files before next up's have arrived.
    let previewed;
    const preview = new Promise((resolve) => { previewed = resolve; });
    const onPreview = build === 'core' && !cached && !busy
      ? ({ version, files }) => previewed(this.#startPreview(version, files)) : undefined;
    const checking = update(channel, { ...this.#updateOptions(), onPreview })
      .catch((error) => ({ status: 'unreachable', reason: error.message }));
    const brief = () => Promise.race([checking, new Promise((resolve) => setTimeout(() => resolve({}), OPEN_CHECK_WAIT_MS))]);
    const serve = (checked) => this.#lifecycle.start(checked.reason && `${channel}: ${checked.reason}`);
    // A first load starts the whole version as soon as it is in; a preview
    // still loading then keeps its head start: whichever is ready first answers.
    const served = cached ? null : checking.then(serve);
    served?.catch(() => {}); // awaited below, unless the preview answers first
    if (served && await Promise.race([served.then(() => false, () => false), preview.then(() => true, () => false)])) {
      // The rest downloads and the version is loaded as usual behind the preview.
      served.then(this.#serving.resolve, (error) => this.#previewEnds(error));
      this.#compileFullBuild();
      return;
    }
    this.#preview?.client.terminate(); // its load lost the race with the whole version
    this.#preview = null;
    await (served ?? serve(await (busy ? {} : brief())));
    // Only once the first answers can flow: the full build must not slow them down.
    if (build === 'core') this.#compileFullBuild();
  }

  // An engine on a version's core files (verified as they arrived), in the
  // spare Worker, outside the lifecycle: it answers all but next up until the
  // whole version serves (docs/loading.md). Resolves once it has loaded.
  async #startPreview(version, files) {
    const { channel, limits, publicKeys, loadTimeoutMs, callTimeoutMs } = this.#settings;
    const worker = this.#spareWorker ?? newEngineWorker(this.#settings.assets);
    this.#spareWorker = null;
    const client = new EngineClient(worker, {
      version, load: { wasm: this.#wasm.module, build: 'core', channel, limits, publicKeys, files }, loadTimeoutMs, callTimeoutMs,
      onTerminated: () => { if (this.#preview?.client === client) this.#preview = null; },
    });
    this.#preview = { client, version };
    this.#previewed = version;
    if (this.#stock) client.sendStock(this.#stock);
    await client.load();
  }

  // The version behind a preview did not come to serve. A check may still
  // bring it (a download cut off is tried again), so the preview keeps
  // answering, unless the version was refused for good.
  async #previewEnds(error) {
    const version = this.#preview?.version;
    const state = await readState(this.#settings.channel).catch(() => null);
    if (this.#lifecycle.serving) return;
    if (version && state?.rejected[version] && !state.rejected[version].final) return; // announceReady retries it
    this.#startFailure = asEdgeRecError(error);
    this.#preview?.client.terminate(this.#startFailure);
    this.#serving.reject(this.#startFailure);
  }

  // Compiles the full build in the background and hands it to the Workers
  // started with the core one; later Workers start with it directly.
  #compileFullBuild() {
    compileWasm(this.#settings.assets.wasm).then((module) => {
      this.#wasm = { module, build: 'full' };
      for (const client of this.#waitingForEncoder) client.sendEncoder({ wasm: module });
    }, (error) => {
      this.#encoderError = error;
      for (const client of this.#waitingForEncoder) client.sendEncoder({ error });
    }).finally(() => this.#waitingForEncoder.clear());
  }

  #startWorker(version, hooks) {
    const { channel, limits, publicKeys, loadTimeoutMs, callTimeoutMs, workers } = this.#settings;
    const { module, build } = this.#wasm;
    if (workers > 1) {
      const shards = Array.from({ length: workers }, () => newEngineWorker(this.#settings.assets));
      const client = new ShardedClient(shards, {
        version, load: { wasm: module, channel, limits, publicKeys }, loadTimeoutMs, callTimeoutMs, ...hooks,
      });
      if (this.#stock) client.sendStock(this.#stock);
      return client;
    }
    // Only the first version answers before next up's parity cases have run; a
    // swap made while the full build still compiles waits for it (docs/loading.md).
    const waitForFull = build === 'core' && this.#lifecycle.version !== null;
    const worker = this.#spareWorker ?? newEngineWorker(this.#settings.assets);
    this.#spareWorker = null;
    const client = new EngineClient(worker, {
      version, load: { wasm: module, build, waitForFull, channel, limits, publicKeys }, loadTimeoutMs, callTimeoutMs,
      ...hooks,
    });
    if (this.#stock) client.sendStock(this.#stock);
    if (build === 'core' && this.#encoderError) client.sendEncoder({ error: this.#encoderError });
    else if (build === 'core') this.#waitingForEncoder.add(client);
    return client;
  }

  #updateOptions() {
    return { publicKeys: this.#settings.publicKeys, limits: this.#settings.limits };
  }

  /** The version answering new calls. */
  get version() {
    return this.#lifecycle?.version ?? this.#preview?.version ?? null;
  }

  /** What this instance serves and what it could switch to. */
  versions() {
    return coded(async () => ({ ...await this.#lifecycle.versions(), serving: this.version }), 'storage_failed');
  }

  /**
   * Items like `id` (cosine over item embeddings), optionally only from one category.
   * Every ranking method takes `rules`: merchandising rules applied inside the scan
   * ({ filter, exclude, boost, pin }: docs/api.md#merchandising-rules).
   */
  async similar(id, options) {
    const { k = 10, category, rules } = readOptions(options, ['k', 'category', 'rules']);
    return this.#rank('similar', callArgs('similar', [id, k, category, rules]));
  }

  /** "Recommended for you": folds the shopper's history into the factor model. */
  async forShopper(options) {
    const { k = 10, history = this.history.list(), rules } = readOptions(options, ['k', 'history', 'rules']);
    return this.#rank('forHistory', callArgs('forHistory', [history, k, rules]));
  }

  /** "Next up": the LSTM over the shopper's history, in order. */
  async nextUp(options) {
    const { k = 10, history = this.history.list(), excludeHistory, rules } = readOptions(options, ['k', 'history', 'excludeHistory', 'rules']);
    return this.#rank('nextUp', callArgs('nextUp', [history, k, excludeHistory, rules]));
  }

  /**
   * What is trending: time-decayed popularity computed at training (bundles
   * with popularity scores), optionally in one category. forShopper and
   * nextUp answer from it too when the history has no known item
   * (`source: 'trending'`, or `'popular'` where nothing trends).
   */
  async trending(options) {
    const { k = 10, category, rules } = readOptions(options, ['k', 'category', 'rules']);
    return this.#rank('trending', callArgs('trending', [category, k, rules]));
  }

  /**
   * "Frequently bought together" with `items` (a product, or the cart's):
   * each one's partners from the shop's baskets, scores summed, the items
   * themselves left out. Bundles trained with transactions (`source: 'together'`).
   */
  async boughtTogether(options) {
    const { items, k = 10, rules } = readOptions(options, ['items', 'k', 'rules']);
    return this.#rank('together', callArgs('together', [items, k, rules]));
  }

  /** Text search over titles and categories, re-ranked by the shopper's history. */
  async search(text, options) {
    const { k = 10, history = this.history.list(), rules } = readOptions(options, ['k', 'history', 'rules']);
    return this.#rank('search', callArgs('search', [text, k, history, rules]));
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
    const worker = await this.#client(method);
    return { version: worker?.version, [method]: await this.#lifecycle.call(method, [], worker) };
  }

  // Who answers `method`: the serving version, else a preview (all but next
  // up, which waits for the whole version, within callTimeoutMs).
  async #client(method) {
    if (this.#lifecycle.serving || this.#closed) return this.#lifecycle.serving;
    if (this.#startFailure) throw this.#startFailure;
    if (!this.#preview) return null;
    if (method !== 'nextUp') return this.#preview.client;
    const { callTimeoutMs } = this.#settings;
    let timer;
    const late = new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new UnavailableError('call_timeout',
        `next up waits for the rest of version ${this.version} to download; it did not arrive within ${callTimeoutMs} ms`)), callTimeoutMs);
    });
    await Promise.race([this.#serving.promise, late]).finally(() => clearTimeout(timer));
    return this.#lifecycle.serving;
  }

  /** Asks the channel now instead of waiting for the timer. Resolves to what happened. */
  async checkForUpdates() {
    this.#assertOpen();
    this.#serviceWorker?.then((sw) => sw?.postMessage({ type: 'edgerec:check' }));
    return coded(() => update(this.#settings.channel, this.#updateOptions()), 'storage_failed');
  }

  /**
   * Reads the channel's live stock file now (stock.json; the timer does it
   * every `stockEvery`) and applies it to every answer from here on.
   * Resolves to `{ outOfStock, overrides }` (counts), or null without a file.
   */
  async refreshStock() {
    this.#assertOpen();
    return this.#refreshStock(0);
  }

  async #refreshStock(maxAgeMs) {
    const { channel, publicKeys } = this.#settings;
    const stock = await coded(() => readStock(channel, { maxAgeMs, publicKeys }), 'storage_failed');
    if (this.#closed) return null;
    if (JSON.stringify(stock) !== JSON.stringify(this.#stock)) {
      this.#stock = stock;
      const clients = [...this.#lifecycle.workers, ...(this.#preview ? [this.#preview.client] : [])];
      for (const client of clients) client.sendStock(stock);
      this.dispatchEvent(new CustomEvent('stockchange', { detail: stockCounts(stock) }));
    }
    return stockCounts(stock);
  }

  /**
   * Item `id` under the live stock applied now: `{ inStock, overrides }`.
   * Synchronous, so a bad id throws (InputError `invalid_argument`).
   */
  stockOf(id) {
    nonEmptyString(id, 'id');
    const stock = this.#stock;
    return {
      inStock: !stock?.outOfStock.includes(id),
      overrides: { ...(stock && Object.hasOwn(stock.overrides, id) ? stock.overrides[id] : {}) },
    };
  }

  /** Goes back to the version served before this one (kept in the cache) and stays there until unpin(). */
  async rollback() {
    return coded(() => this.#lifecycle.rollback(), 'storage_failed');
  }

  /** Serves `version` (one of the cached ones) and ignores newer ones until unpin(), also after a reload. */
  async pin(version) {
    nonEmptyString(version, 'version');
    return coded(() => this.#lifecycle.pin(version), 'storage_failed');
  }

  /** Follows the channel's newest version again. */
  async unpin() {
    return coded(() => this.#lifecycle.unpin(), 'storage_failed');
  }

  /** How many engine Workers exist and their wasm memory (in all, and each's), for monitoring. */
  async memory() {
    const live = [...this.#lifecycle.workers, ...(this.#preview ? [this.#preview.client] : [])];
    const sizes = await Promise.all(live.map((w) => w.call('memory', []).catch(() => ({ wasmBytes: 0 }))));
    const perWorker = sizes.flatMap(({ wasmBytes, shards }) => shards?.map((shard) => shard.wasmBytes) ?? [wasmBytes]);
    return { workers: perWorker.length, wasmBytes: perWorker.reduce((a, b) => a + b, 0), perWorker };
  }

  /** Stops checking, terminates the Workers. */
  close() {
    this.#closed = true;
    clearInterval(this.#timer);
    clearInterval(this.#stockTimer);
    this.#spareWorker?.terminate();
    this.#spareWorker = null;
    this.#preview?.client.terminate(new UnavailableError('closed', 'this EdgeRec instance is closed'));
    this.#serving.reject(new UnavailableError('closed', 'this EdgeRec instance is closed'));
    this.#broadcast?.close();
    this.#lifecycle?.close();
    this.history?.close();
  }

  #assertOpen() {
    if (this.#closed) throw new UnavailableError('closed', 'this EdgeRec instance is closed');
  }

  // A ranking question (args[1] is k). Outside a fusion window: one Worker, one
  // version. Inside it: both versions rank 2k items and their reciprocal ranks
  // are blended, the new version's weight growing from 0 to 1 over the window.
  async #rank(method, args) {
    const client = await this.#client(method);
    if (client && client === this.#preview?.client) return this.#lifecycle.call(method, args, client);
    const fusion = this.#lifecycle.fusion;
    if (!fusion) return this.#lifecycle.call(method, args);
    const current = this.#lifecycle.serving;
    const k = args[1];
    const deeper = [args[0], 2 * k, ...args.slice(2)];
    const [fresh, old] = await Promise.all([
      this.#lifecycle.call(method, deeper, current),
      fusion.old.call(method, deeper).catch(() => null), // the old version may not know the id
    ]);
    if (!old) return { ...fresh, items: fresh.items.slice(0, k) };
    const blended = new Map();
    for (const [answer, share] of [[fresh, fusion.weight], [old, 1 - fusion.weight]]) {
      answer.items.forEach((item, rank) => {
        const entry = blended.get(item.id) ?? { id: item.id, title: item.title, score: 0 };
        entry.score += share / (60 + rank);
        blended.set(item.id, entry);
      });
    }
    const items = [...blended.values()].sort((a, b) => b.score - a.score).slice(0, k);
    return { ...fresh, items, blend: { from: old.version, weight: fusion.weight } };
  }

  #onAnnouncement(message) {
    if (message?.channel !== this.#settings.channel || this.#closed) return;
    if (message.type === 'ready') this.#lifecycle.announceReady(message.version);
    else if (message.type === 'rejected') this.#lifecycle.announceRejected(message.version, message.code, message.reason);
  }
}

const OPEN_OPTIONS = ['channel', 'serviceWorker', 'serviceWorkerScope', 'historyName', 'historyLimit', 'checkEvery',
  'fusionMs', 'limits', 'publicKeys', 'loadTimeoutMs', 'callTimeoutMs', 'loading', 'stockEvery', 'assets', 'workers'];
const LOADING = ['staged', 'full'];
/** The most Workers one version may be split across. */
const MAX_WORKERS = 16;

// EdgeRec.open's options, checked and copied into plain values (they cross to Workers).
function openOptions(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InputError('invalid_argument', 'EdgeRec.open needs { channel }: the URL of a channel folder');
  }
  let names;
  try {
    names = Object.keys(options);
  } catch (error) {
    throw new InputError('invalid_argument', `EdgeRec.open options could not be read: ${error.message}`);
  }
  const unknown = names.filter((name) => !OPEN_OPTIONS.includes(name));
  if (unknown.length) {
    throw new InputError('invalid_argument', `EdgeRec.open: unknown option ${unknown.join(', ')} (known: ${OPEN_OPTIONS.join(', ')})`);
  }
  const {
    channel, serviceWorker, serviceWorkerScope, historyName = 'default', historyLimit = 50, checkEvery = 60_000,
    fusionMs = 0, limits, publicKeys, loadTimeoutMs = DEFAULT_LOAD_TIMEOUT_MS, callTimeoutMs = DEFAULT_CALL_TIMEOUT_MS,
    loading = 'staged', stockEvery = 60_000, assets, workers = 1,
  } = readOptions(options, OPEN_OPTIONS, 'EdgeRec.open options');
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    throw new InputError('invalid_argument', `workers must be a whole number from 1 to ${MAX_WORKERS}, got ${describe(workers)}`);
  }
  if (!LOADING.includes(loading)) {
    throw new InputError('invalid_argument', `loading must be "staged" or "full", got ${describe(loading)}`);
  }
  if (!Number.isInteger(historyLimit) || historyLimit < 1 || historyLimit > MAX_HISTORY_IDS) {
    throw new InputError('invalid_argument', `historyLimit must be a whole number from 1 to ${MAX_HISTORY_IDS}, got ${describe(historyLimit)}`);
  }
  return {
    channel: urlOption(channel, 'channel', channelUrl),
    serviceWorker: serviceWorker === undefined ? undefined : urlOption(serviceWorker, 'serviceWorker', String),
    serviceWorkerScope: serviceWorkerScope === undefined ? undefined : nonEmptyString(serviceWorkerScope, 'serviceWorkerScope'),
    historyName: nonEmptyString(historyName, 'historyName'),
    historyLimit,
    checkEvery: milliseconds(checkEvery, 'checkEvery', 0),
    stockEvery: milliseconds(stockEvery, 'stockEvery', 0),
    fusionMs: milliseconds(fusionMs, 'fusionMs', 0),
    limits: limitsOption(limits, 'EdgeRec.open'),
    publicKeys: publicKeyList(publicKeys),
    loadTimeoutMs: milliseconds(loadTimeoutMs, 'loadTimeoutMs'),
    callTimeoutMs: milliseconds(callTimeoutMs, 'callTimeoutMs'),
    loading,
    workers,
    assets: assetUrls(assets === undefined ? undefined : urlOption(assets, 'assets', channelUrl)),
  };
}

// `limits` overrides as a full, plain set of limits.
function limitsOption(limits, where) {
  let resolved;
  try {
    resolved = resolveLimits(limits);
  } catch (error) {
    resolved = { error: `limits could not be read: ${error.message}` };
  }
  if (resolved.error) throw new InputError('invalid_argument', `${where}: ${resolved.error}`);
  return resolved.limits;
}

function urlOption(value, name, resolve) {
  const text = value instanceof URL ? value.href : value;
  if (typeof text !== 'string' || text === '') {
    throw new InputError('invalid_argument', `${name} must be a URL (string or URL), got ${describe(value)}`);
  }
  try {
    return resolve(new URL(text, globalThis.document?.baseURI ?? globalThis.location?.href).href);
  } catch (error) {
    throw new InputError('invalid_argument', `${name} is not a URL: ${error.message}`);
  }
}

// The channel's persisted state, as the lifecycle sees it.
function channelStore(channel) {
  return {
    readState: () => readState(channel),
    reject: (version, code, reason) => rejectVersion(channel, version, code, reason),
    markGood: (version) => markGood(channel, version),
    setPinned: (version) => setPinned(channel, version),
  };
}

// Runs `task`; anything it throws that is not an EdgeRecError gets `fallback` as its code.
async function coded(task, fallback) {
  try {
    return await task();
  } catch (error) {
    if (error instanceof EdgeRecError || typeof error?.code === 'string') throw asEdgeRecError(error);
    throw new UnavailableError(fallback, `${error?.name ?? 'Error'}: ${error?.message ?? error}`);
  }
}

const stockCounts = (stock) => stock && { outOfStock: stock.outOfStock.length, overrides: Object.keys(stock.overrides).length };

function deferred() {
  let settle;
  const promise = new Promise((resolve, reject) => { settle = { resolve, reject }; });
  promise.catch(() => {});
  return { promise, ...settle };
}

// Where the engine's files are: beside this module (the literal URLs are what
// bundlers find and emit), or under the `assets` folder.
function assetUrls(assets) {
  if (!assets) return { wasm: WASM_URL.href, coreWasm: CORE_WASM_URL.href, worker: null };
  return {
    wasm: new URL('pkg/edgerec_bg.wasm', assets).href,
    coreWasm: new URL('pkg-core/edgerec_bg.wasm', assets).href,
    worker: new URL('lib/engine-worker.js', assets).href,
  };
}

function newEngineWorker({ worker }) {
  const script = new URL(worker ?? new URL('./lib/engine-worker.js', import.meta.url));
  try {
    if (script.origin === globalThis.location?.origin) {
      return worker ? new Worker(script, { type: 'module' })
        : new Worker(new URL('./lib/engine-worker.js', import.meta.url), { type: 'module' });
    }
    // A Worker starts only from the page's origin: a one-line module of the
    // page's own that imports the engine's (which must be served with CORS).
    const bootstrap = new Blob([`import ${JSON.stringify(script.href)};\n`], { type: 'text/javascript' });
    return new Worker(URL.createObjectURL(bootstrap), { type: 'module' });
  } catch (error) {
    throw new UnavailableError('worker_unavailable',
      `the engine Worker (${script}) could not start: ${error?.name ?? 'Error'}: ${error?.message ?? error}`);
  }
}

async function compileWasm(url) {
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    // compileStreaming needs the application/wasm MIME type; not every server sends it.
    return await WebAssembly.compile(await response.arrayBuffer());
  } catch (error) {
    throw new UnavailableError('wasm_unavailable', `${url}: ${error.message}`);
  }
}

// Registers the service worker, tells it which channel to watch, with which
// keys and limits, and which files this page needed (so it can serve them
// offline). Never fails open().
function connectServiceWorker(url, scope, { channel, publicKeys, limits }) {
  if (!('serviceWorker' in navigator)) return Promise.resolve(null);
  return navigator.serviceWorker.register(url, { type: 'module', scope }).then(async (registration) => {
    const worker = registration.active ?? await activation(registration);
    const shell = [location.href, ...performance.getEntriesByType('resource').map((e) => e.name)];
    worker.postMessage({ type: 'edgerec:watch', channel, shell, publicKeys, limits });
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

let fullBuild; // the full build's bindings, initialised once (openEngine only)

/**
 * Low level: a verified engine for one bundle folder, running in the calling
 * thread, with no updates. Most pages want EdgeRec.open instead.
 * @param {string|URL} bundleUrl the folder holding manifest.json
 * @param {{ limits?: object, publicKeys?: string[] }} [options] as for EdgeRec.open
 */
export async function openEngine(bundleUrl, options) {
  const base = new URL(urlOption(bundleUrl, 'bundleUrl', String));
  const { limits, publicKeys } = readOptions(options, ['limits', 'publicKeys']);
  const resolvedLimits = limitsOption(limits, 'openEngine');
  const keys = publicKeyList(publicKeys);
  fullBuild ??= import('./pkg/edgerec.js').then(async (glue) => {
    await glue.default({ module_or_path: WASM_URL });
    return glue;
  });
  const { Engine } = await fullBuild;
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  const manifestBytes = await fetchBytes(new URL('manifest.json', base));
  let manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
  } catch (e) {
    throw new BundleError('bundle_malformed_manifest', `${base}manifest.json is not JSON: ${e.message}`);
  }
  const files = { 'manifest.json': manifestBytes };
  // Without a signature the engine refuses the bundle itself (bundle_bad_signature).
  if (keys.length) await fetchBytes(new URL('manifest.sig', base)).then((sig) => { files['manifest.sig'] = sig; }, () => {});
  const listed = Array.isArray(manifest.files) ? manifest.files : [];
  await Promise.all(listed.map(async ({ path }) => {
    files[path] = await fetchBytes(new URL(path, base));
  }));
  try {
    return new Engine(files, { limits: resolvedLimits, publicKeys: keys });
  } catch (error) {
    throw asEdgeRecError(error);
  }
}

async function fetchBytes(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new BundleError('file_unavailable', `fetching ${url} failed: ${error.message}`);
  }
  if (!response.ok) throw new BundleError('file_unavailable', `fetching ${url} failed: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}
