// The page <-> engine Worker protocol, defined once and used by both sides:
// the message types and their builders and validators, the methods a Worker
// answers and how their arguments are checked, the timeouts, and the page's
// client for one Worker (EngineClient), which settles every request it sends
// on every path: answer, timeout, clone failure, crash, terminate.
//
// page -> Worker   { type: 'load', wasm, build, waitForFull, channel, version, limits, publicKeys, files? }
//                  { type: 'encoder', wasm } | { type: 'encoder', error: { code, message } }
//                  { type: 'stock', stock }: the channel's live stock (lib/stock.js), or null
//                  { type: 'call', id, method, args }
// `build` is 'core' (the small wasm without the next-up encoder) or 'full';
// a Worker loaded with the core build takes the full one from an 'encoder'
// message when the page has compiled it, and answers next up from then on;
// with `waitForFull` it reports 'loaded' only after that (a later swap: a
// version is promoted only once all its parity cases have passed).
// `files` (path -> bytes) is a preview: a version still downloading, its
// core files verified; the Worker loads those instead of reading the cache.
// Worker -> page   { type: 'loaded', info } | { type: 'failed', error: { code, message } }
//                  { type: 'result', id, value } | { type: 'result', id, error: { code, message } }
// A ranking's value is { version, rows: Uint32Array, scores: Float32Array, skipped, source }
// (copied; a large answer's buffers are transferred); the client turns rows into { id, title, score }
// with the version's catalog, `info.catalog` ({ ids, titles }) of 'loaded'.
import { InputError, UnavailableError, errorFromCode } from './errors.js';

/** How long a Worker may take to load and verify a version (transient failure after that). */
export const DEFAULT_LOAD_TIMEOUT_MS = 60_000;
/** How long one call may take; a Worker that takes longer is replaced (a running wasm call cannot be stopped). */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
/** The largest `k` a page may ask for. */
export const MAX_K = 1_000;
/** The most ids a history argument may hold. */
export const MAX_HISTORY_IDS = 10_000;

export const TO_WORKER = Object.freeze({ LOAD: 'load', ENCODER: 'encoder', STOCK: 'stock', CALL: 'call' });
export const BUILDS = Object.freeze(['core', 'full']);
export const FROM_WORKER = Object.freeze({ LOADED: 'loaded', FAILED: 'failed', RESULT: 'result' });

/** The methods whose answers a Worker sends as catalog rows and scores (typed arrays), not objects. */
export const RANKINGS = Object.freeze(['similar', 'forHistory', 'nextUp', 'search', 'trending', 'together']);

/**
 * The steps of a ranking over a split version (lib/shards.js), answered by
 * each shard's Worker with the arguments the page's ShardedClient sends.
 */
export const SHARD_METHODS = Object.freeze([
  'queryPart', 'scanPart', 'gramPart', 'completeGram', 'searchMatches', 'searchTastePart', 'searchWithTastes', 'splitParityCases',
  'checkParity', 'rankRows',
]);

/** The methods a Worker answers, each with its parameter names (used to name a bad argument). */
export const METHODS = Object.freeze({
  similar: ['id', 'k', 'category', 'rules'],
  forHistory: ['history', 'k', 'rules'],
  nextUp: ['history', 'k', 'excludeHistory', 'rules'],
  search: ['text', 'k', 'history', 'rules'],
  trending: ['category', 'k', 'rules'],
  together: ['items', 'k', 'rules'],
  items: [],
  categories: [],
  models: [],
  memory: [],
});

/** Timer functions, injectable so the lifecycle and the client can be tested with a fake clock. */
export const realClock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (timer) => clearTimeout(timer),
});

// --- arguments ----------------------------------------------------------------

/** `value` for a message; never throws (a revoked Proxy or a null-prototype object cannot be printed). */
export function describe(value) {
  try {
    if (typeof value === 'bigint') return `${value}n (a BigInt)`;
    if (typeof value === 'function') return 'a function';
    if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    if (Array.isArray(value)) return 'an array';
    if (value !== null && typeof value === 'object') return 'an object';
    return String(value);
  } catch {
    return 'a value that cannot be printed';
  }
}

function invalid(message) {
  return new InputError('invalid_argument', message);
}

/** `k` as a whole number from 1 to `max`; anything else (BigInt, NaN, 1.5, '10') is `invalid_k`. */
export function wholeK(k, max = MAX_K) {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > max) {
    throw new InputError('invalid_k', `k must be a whole number from 1 to ${max}, got ${describe(k)}`);
  }
  return k;
}

/**
 * A list of item ids copied into a plain array of strings: reactive arrays
 * (Vue's reactive(), MobX: Proxies) and other iterables work; anything else
 * is `invalid_argument`.
 */
export function itemIds(value, name = 'history') {
  const ids = [];
  try {
    if (value === null || typeof value !== 'object' || typeof value[Symbol.iterator] !== 'function') {
      throw invalid(`${name} must be an array of item id strings, got ${describe(value)}`);
    }
    for (const id of value) {
      if (typeof id !== 'string') throw invalid(`${name} must hold item id strings, found ${describe(id)}`);
      if (ids.length === MAX_HISTORY_IDS) throw invalid(`${name} holds more than ${MAX_HISTORY_IDS} ids`);
      ids.push(`${id}`);
    }
  } catch (error) {
    throw error instanceof InputError ? error : invalid(`${name} could not be read: ${error?.message ?? error}`);
  }
  return ids;
}

/** A string argument (an item id, a search text). */
export function stringArgument(value, name) {
  if (typeof value !== 'string') throw invalid(`${name} must be a string, got ${describe(value)}`);
  return value;
}

/** A non-empty string argument (a version, a history id). */
export function nonEmptyString(value, name) {
  if (typeof value !== 'string' || value === '') throw invalid(`${name} must be a non-empty string, got ${describe(value)}`);
  return value;
}

/** An optional string: undefined and null mean "none". */
export function optionalString(value, name) {
  return value === undefined || value === null ? undefined : stringArgument(value, name);
}

/** An optional boolean with a default. */
export function optionalBoolean(value, name, fallback) {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(`${name} must be true or false, got ${describe(value)}`);
  return value;
}

/**
 * A method's options, copied: undefined means none; anything but a plain
 * object (null, an array, a string) is `invalid_argument`. Only `names` are read.
 */
export function readOptions(value, names, what = 'options') {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(`${what} must be an object like { k: 10 }, got ${describe(value)}`);
  }
  const picked = {};
  try {
    for (const name of names) picked[name] = value[name];
  } catch (error) {
    throw invalid(`${what} could not be read: ${error?.message ?? error}`);
  }
  return picked;
}

/** A duration option in ms: a whole number from `min` to 2^31 - 1 (what timers accept). */
export function milliseconds(value, name, min = 1) {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 2 ** 31 - 1) {
    throw invalid(`${name} must be a whole number of milliseconds >= ${min}, got ${describe(value)}`);
  }
  return value;
}

/**
 * Ed25519 public keys: an array of base64 strings (standard alphabet, padded)
 * each decoding to 32 bytes. Returns a plain copy.
 */
export function publicKeyList(value, name = 'publicKeys') {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(`${name} must be an array of base64 Ed25519 public keys, got ${describe(value)}`);
  return Array.from(value, (key, i) => {
    // Canonical base64 only (no stray bits in the last character), as the engine and the updater read it.
    if (typeof key !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(key) || btoa(atob(key)) !== key) {
      throw invalid(`${name}[${i}] must be the base64 of a 32-byte Ed25519 public key, got ${describe(key)}`);
    }
    return key;
  });
}

/** The largest merchandising rules a call may carry, as JSON. */
export const MAX_RULES_BYTES = 1_000_000;

/**
 * Merchandising rules copied as plain JSON data (the engine checks what
 * they say): undefined and null mean none; anything JSON cannot copy, or
 * larger than MAX_RULES_BYTES, is `invalid_argument`.
 */
export function rulesArgument(rules) {
  if (rules === undefined || rules === null) return undefined;
  if (typeof rules !== 'object' || Array.isArray(rules)) {
    throw invalid(`rules must be an object like { filter: { available: true } }, got ${describe(rules)}`);
  }
  let text;
  try {
    text = JSON.stringify(rules);
  } catch (error) {
    throw invalid(`rules could not be read: ${error?.message ?? error}`);
  }
  if (text.length > MAX_RULES_BYTES) throw invalid(`rules are larger than ${MAX_RULES_BYTES} bytes as JSON`);
  return JSON.parse(text);
}

const CHECK_ARGS = {
  similar: ([id, k, category, rules], maxK) =>
    [stringArgument(id, 'id'), wholeK(k, maxK), optionalString(category, 'category'), rulesArgument(rules)],
  forHistory: ([history, k, rules], maxK) => [itemIds(history), wholeK(k, maxK), rulesArgument(rules)],
  nextUp: ([history, k, excludeHistory, rules], maxK) =>
    [itemIds(history), wholeK(k, maxK), optionalBoolean(excludeHistory, 'excludeHistory', true), rulesArgument(rules)],
  search: ([text, k, history, rules], maxK) => [stringArgument(text, 'text'), wholeK(k, maxK),
    history === undefined || history === null ? [] : itemIds(history), rulesArgument(rules)],
  trending: ([category, k, rules], maxK) => [optionalString(category, 'category'), wholeK(k, maxK), rulesArgument(rules)],
  together: ([items, k, rules], maxK) => [itemIds(items, 'items'), wholeK(k, maxK), rulesArgument(rules)],
};

/**
 * A method's arguments, checked and copied into plain values that can cross
 * to a Worker. Throws InputError (`bad_method`, `invalid_argument`, `invalid_k`).
 */
export function callArgs(method, args, { maxK = MAX_K } = {}) {
  if (typeof method !== 'string' || !Object.hasOwn(METHODS, method)) {
    throw new InputError('bad_method', `the engine has no method ${describe(method)}`);
  }
  return CHECK_ARGS[method]?.(args, maxK) ?? [];
}

// --- messages -------------------------------------------------------------------

export const loadMessage = ({ wasm, build = 'full', waitForFull = false, channel, version, limits, publicKeys, files, shard }) =>
  ({ type: TO_WORKER.LOAD, wasm, build, waitForFull, channel, version, limits, publicKeys, ...(files && { files }), ...(shard && { shard }) });
export const stockMessage = (stock) => ({ type: TO_WORKER.STOCK, stock });
export const encoderMessage = ({ wasm, error }) =>
  (error ? { type: TO_WORKER.ENCODER, error: plainError(error) } : { type: TO_WORKER.ENCODER, wasm });
export const callMessage = (id, method, args) => ({ type: TO_WORKER.CALL, id, method, args });
export const loadedMessage = (info) => ({ type: FROM_WORKER.LOADED, info });
export const failedMessage = (error) => ({ type: FROM_WORKER.FAILED, error: plainError(error) });
export const resultMessage = (id, value) => ({ type: FROM_WORKER.RESULT, id, value });
export const errorResultMessage = (id, error) => ({ type: FROM_WORKER.RESULT, id, error: plainError(error) });

/** `{ code, message }` of any thrown value; a code that is not a string becomes `internal`. */
export function plainError(error) {
  const message = String(error?.message ?? error);
  if (typeof error?.code === 'string') return { code: error.code, message };
  return { code: 'internal', message: error?.name ? `${error.name}: ${message}` : message };
}

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
const isId = (id) => Number.isSafeInteger(id) && id >= 0;
const isErrorShape = (error) => isObject(error) && typeof error.code === 'string' && typeof error.message === 'string';

/** Null for a well-formed page -> Worker message, else the error to answer it with. */
export function checkToWorker(message) {
  if (!isObject(message)) return invalid('a Worker message must be an object');
  if (message.type === TO_WORKER.LOAD) {
    const { build, waitForFull, channel, version, limits, publicKeys, files, shard } = message;
    const ok = typeof channel === 'string' && typeof version === 'string' && BUILDS.includes(build)
      && typeof waitForFull === 'boolean'
      && (files === undefined || (isObject(files) && Object.values(files).every((b) => b instanceof Uint8Array)))
      && (shard === undefined || (isObject(shard) && isId(shard.index) && isId(shard.count) && shard.index < shard.count))
      && (limits === undefined || isObject(limits))
      && (publicKeys === undefined || (Array.isArray(publicKeys) && publicKeys.every((k) => typeof k === 'string')));
    return ok ? null : invalid('a load message needs { wasm, build: "core" | "full", waitForFull, channel, version, limits?, publicKeys?, files?, shard?: { index, count } }');
  }
  if (message.type === TO_WORKER.STOCK) {
    const { stock } = message;
    const ok = stock === null || (isObject(stock) && Array.isArray(stock.outOfStock) && isObject(stock.overrides));
    return ok ? null : invalid('a stock message needs { stock: { outOfStock, overrides } | null }');
  }
  if (message.type === TO_WORKER.ENCODER) {
    const ok = isObject(message.wasm) || isErrorShape(message.error);
    return ok ? null : invalid('an encoder message needs { wasm } or { error: { code, message } }');
  }
  if (message.type === TO_WORKER.CALL) {
    if (!isId(message.id) || !Array.isArray(message.args)) return invalid('a call message needs { id, method, args }');
    if (!Object.hasOwn(METHODS, message.method) && !SHARD_METHODS.includes(message.method)) {
      return new InputError('bad_method', `no method ${describe(message.method)}`);
    }
    return null;
  }
  return invalid(`unknown message type ${describe(message.type)}`);
}

/** Null for a well-formed Worker -> page message, else what is wrong with it. */
export function checkFromWorker(message) {
  if (!isObject(message)) return 'not an object';
  switch (message.type) {
    case FROM_WORKER.LOADED: return isObject(message.info) ? null : 'loaded without info';
    case FROM_WORKER.FAILED: return isErrorShape(message.error) ? null : 'failed without { code, message }';
    case FROM_WORKER.RESULT:
      if (!isId(message.id)) return 'result without an id';
      if (Object.hasOwn(message, 'error') && !isErrorShape(message.error)) return 'result with a malformed error';
      return null;
    default: return `unknown message type ${describe(message.type)}`;
  }
}

// --- the page's client for one Worker -------------------------------------------------

const LOAD = 'load'; // the pending key of the load request; calls use numeric ids

/**
 * One engine version in one Worker. `worker` is anything with postMessage,
 * terminate, onmessage, onerror and onmessageerror (a Worker, or a fake in
 * tests). Hooks: `onTrap(error)` after a call trapped (the client has already
 * terminated itself), `onCrash(error)` after the Worker died or a call timed
 * out (likewise), `onTerminated()` once it is gone, for any reason.
 */
export class EngineClient {
  version;
  /** What the Worker reported when it loaded. */
  info = null;
  terminated = false;
  #worker;
  #pending = new Map(); // key -> { resolve, reject, deadline, timeoutMs }
  // One timer for every pending request, due at the earliest deadline, and
  // not cleared when a request settles: a timer set and cleared per call made
  // a click through the Worker 10–30 µs slower (paired runs in Chromium).
  #watchdog = null;
  #watchdogDue = Infinity;
  #nextId = 0;
  #loadPayload;
  #loadTimeoutMs;
  #callTimeoutMs;
  #clock;
  #hooks;
  #whenIdle = null; // set by retire()
  #retired = null;

  constructor(worker, {
    version, load = {}, loadTimeoutMs = DEFAULT_LOAD_TIMEOUT_MS, callTimeoutMs = DEFAULT_CALL_TIMEOUT_MS,
    clock = realClock, onTrap = () => {}, onCrash = () => {}, onTerminated = () => {},
  }) {
    this.version = version;
    this.#worker = worker;
    this.#loadPayload = { ...load, version };
    this.#loadTimeoutMs = loadTimeoutMs;
    this.#callTimeoutMs = callTimeoutMs;
    this.#clock = clock;
    this.#hooks = { onTrap, onCrash, onTerminated };
    worker.onmessage = ({ data }) => this.#receive(data);
    worker.onerror = (event) => {
      event?.preventDefault?.();
      this.#crash(new UnavailableError('worker_failed',
        `the Worker for version ${version} stopped: ${event?.message ?? 'unknown error'}`));
    };
    worker.onmessageerror = () => this.#crash(new UnavailableError('worker_failed',
      `a message from the Worker for version ${version} could not be read`));
  }

  /** Requests still waiting for an answer. */
  get pendingCount() {
    return this.#pending.size;
  }

  /**
   * Hands a Worker loaded with the core build the full one (`{ wasm }`: a
   * compiled WebAssembly.Module), or why there is none (`{ error }`): its
   * next-up calls wait for this. Not answered; ignored once terminated.
   */
  sendEncoder(encoder) {
    if (this.terminated) return;
    try {
      this.#worker.postMessage(encoderMessage(encoder));
    } catch (error) {
      this.#crash(postFailure(error, { type: TO_WORKER.ENCODER }));
    }
  }

  /** The channel's live stock (or null), applied by the Worker to every ranking from now on. */
  sendStock(stock) {
    if (this.terminated) return;
    try {
      this.#worker.postMessage(stockMessage(stock));
    } catch (error) {
      this.#crash(postFailure(error, { type: TO_WORKER.STOCK }));
    }
  }

  /** Loads and verifies the version in the Worker; resolves to its info. */
  load() {
    return this.#request(LOAD, loadMessage(this.#loadPayload), this.#loadTimeoutMs);
  }

  /** Calls `method` with already checked arguments. */
  async call(method, args) {
    const id = this.#nextId++;
    const value = await this.#request(id, callMessage(id, method, args), this.#callTimeoutMs);
    const rows = RANKINGS.includes(method) && value?.rows instanceof Uint32Array;
    return rows ? itemsFromRows(value, this.info.catalog) : value;
  }

  /** Terminates once the requests already sent are settled. */
  retire() {
    this.#retired ??= new Promise((resolve) => {
      this.#whenIdle = () => {
        this.terminate();
        resolve();
      };
      if (this.#pending.size === 0 || this.terminated) this.#whenIdle();
    });
    return this.#retired;
  }

  /** Stops the Worker now; whatever is pending fails with `reason`. */
  terminate(reason = new UnavailableError('worker_failed', `the Worker for version ${this.version} was terminated`)) {
    if (this.terminated) return;
    this.terminated = true;
    try {
      this.#worker.terminate();
    } finally {
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      if (this.#watchdog !== null) this.#clock.clearTimeout(this.#watchdog);
      this.#watchdog = null;
      this.#watchdogDue = Infinity;
      for (const entry of pending) entry.reject(reason);
      this.#hooks.onTerminated();
      this.#whenIdle?.();
    }
  }

  #request(key, message, timeoutMs) {
    if (this.terminated) {
      return Promise.reject(new UnavailableError('worker_failed', `the Worker for version ${this.version} was terminated`));
    }
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, deadline: this.#clock.now() + timeoutMs, timeoutMs };
      this.#pending.set(key, entry);
      this.#watchUntil(entry.deadline);
      try {
        this.#worker.postMessage(message);
      } catch (error) {
        this.#settle(key, { error: postFailure(error, message) });
      }
    });
  }

  // Makes the watchdog fire by `deadline`.
  #watchUntil(deadline) {
    if (deadline >= this.#watchdogDue) return;
    if (this.#watchdog !== null) this.#clock.clearTimeout(this.#watchdog);
    this.#watchdogDue = deadline;
    this.#watchdog = this.#clock.setTimeout(() => this.#watch(), Math.max(0, deadline - this.#clock.now()));
  }

  // Times out what is due, then waits for the next deadline, if any.
  #watch() {
    this.#watchdog = null;
    this.#watchdogDue = Infinity;
    const now = this.#clock.now();
    for (const [key, { deadline, timeoutMs }] of [...this.#pending]) {
      if (this.terminated) return;
      if (deadline <= now) this.#timedOut(key, timeoutMs);
    }
    if (this.terminated || this.#pending.size === 0) return;
    this.#watchUntil(Math.min(...[...this.#pending.values()].map((entry) => entry.deadline)));
  }

  #timedOut(key, ms) {
    if (!this.#pending.has(key)) return;
    if (key === LOAD) {
      this.#settle(key, { error: new UnavailableError('load_timeout', `version ${this.version} did not load within ${ms} ms`) });
      this.terminate();
      return;
    }
    this.#settle(key, { error: new UnavailableError('call_timeout', `the engine did not answer within ${ms} ms`) });
    // The Worker may be stuck in wasm for good: only terminating it stops that.
    this.#crash(new UnavailableError('worker_failed', `the Worker for version ${this.version} was replaced after a call timed out`));
  }

  #receive(data) {
    if (this.terminated) return;
    const problem = checkFromWorker(data);
    if (problem) {
      this.#crash(new UnavailableError('worker_failed', `the Worker for version ${this.version} sent a malformed message: ${problem}`));
      return;
    }
    const key = data.type === FROM_WORKER.RESULT ? data.id : LOAD;
    if (!this.#pending.has(key)) return; // answered after its timeout: already settled
    if (data.type === FROM_WORKER.LOADED) {
      this.info = data.info;
      this.#settle(key, { value: data.info });
      return;
    }
    if (!data.error) {
      this.#settle(key, { value: data.value });
      return;
    }
    const error = errorFromCode(data.error.code, data.error.message);
    this.#settle(key, { error });
    if (error.code !== 'engine_trap') return;
    // The instance is unusable after a trap: stop it, and (for a call) let the owner replace it.
    this.terminate(new UnavailableError('worker_failed', `the engine of version ${this.version} trapped on another call`));
    if (key !== LOAD) this.#hooks.onTrap(error);
  }

  #settle(key, { value, error }) {
    const entry = this.#pending.get(key);
    if (!entry) return;
    this.#pending.delete(key);
    if (error) entry.reject(error);
    else entry.resolve(value);
    if (this.#pending.size === 0) this.#whenIdle?.();
  }

  #crash(reason) {
    if (this.terminated) return;
    this.terminate(reason);
    this.#hooks.onCrash(reason);
  }
}

// A ranking as the page API gives it: { version, items: [{ id, score, title }], skipped, source }.
export function itemsFromRows({ version, rows, scores, skipped, source }, { ids, titles }) {
  const items = Array.from(rows, (row, i) => ({ id: ids[row], score: scores[i], title: titles[row] }));
  if (items.some((item) => item.id === undefined)) {
    throw new UnavailableError('worker_failed', `the Worker for version ${version} answered with a row outside its catalog`);
  }
  return { version, items, skipped, source };
}

// postMessage threw: an argument that cannot be cloned is the caller's to fix.
function postFailure(error, message) {
  if (error?.name !== 'DataCloneError') {
    return new UnavailableError('worker_failed', `sending to the engine Worker failed: ${error?.message ?? error}`);
  }
  const what = message.type === TO_WORKER.CALL ? unclonableArgument(message.method, message.args) : 'the load options';
  return new InputError('invalid_argument', `${what} cannot be sent to the engine Worker (${error.message})`);
}

function unclonableArgument(method, args) {
  const names = METHODS[method] ?? [];
  for (let i = 0; i < args.length; i++) {
    try {
      structuredClone(args[i]);
    } catch {
      return names[i] ?? `argument ${i + 1} of ${method}`;
    }
  }
  return `an argument of ${method}`;
}
