// One engine version in a dedicated Worker. The page starts one Worker per
// version and terminates it when the version retires: terminating is the only
// way a browser hands wasm memory back. The messages: lib/protocol.js.
//
// A trap (a Rust panic, running out of memory) leaves the wasm instance
// unusable: this Worker then answers every request with `engine_trap`, and the
// page replaces it.
import { readVersionFiles, streamVersionFiles } from './channel.js';
import { argsWithStock } from './stock.js';
import {
  FROM_WORKER, MAX_K, RANKINGS, SHARD_METHODS, TO_WORKER, callArgs, checkToWorker, errorResultMessage, failedMessage,
  loadedMessage, resultMessage,
} from './protocol.js';

// The two builds of the engine: the core (no next-up encoder, small, loaded
// first) and the full one (with tract). Literal paths, so bundlers see both.
const GLUE = {
  core: () => import('../pkg-core/edgerec.js'),
  full: () => import('../pkg/edgerec.js'),
};

let engine = null;
let wasm = null;
let build = null; // which build `engine` runs
let loaded = null; // the load message, kept to load the full build later
let encoder = null; // the page's 'encoder' message: the full build, or why there is none
let nextUpReady = null; // a core engine whose bundle has next up: settles when the full build takes over
let settleNextUp = null;
let upgrading = false; // the full build is being loaded
let panicMessage = null; // set by the panic hook just before the trap
let trapped = null; // { code: 'engine_trap', message } once the instance is unusable
let stock = null; // the channel's live stock, applied to every ranking (lib/stock.js)

self.onmessage = ({ data }) => {
  const problem = checkToWorker(data);
  if (problem) {
    if (Number.isSafeInteger(data?.id)) postMessage(errorResultMessage(data.id, problem));
    else postMessage({ type: FROM_WORKER.FAILED, error: { code: problem.code, message: problem.message } });
  } else if (data.type === TO_WORKER.LOAD) {
    load(data).catch((error) => postMessage(failedMessage(error)));
  } else if (data.type === TO_WORKER.STOCK) {
    stock = data.stock;
  } else if (data.type === TO_WORKER.ENCODER) {
    encoder = data;
    if (nextUpReady) upgrade();
  } else {
    call(data);
  }
};

/** Instantiates one build's wasm and loads the version in it: all the engine's checks and parity cases. */
async function instantiate(which, module, { channel, version, limits, publicKeys, files: preview, shard }) {
  const glue = await GLUE[which]();
  const instance = await glue.default({ module_or_path: module });
  glue.setPanicHandler((message) => { panicMessage = String(message); });
  if (shard) {
    // One shard of a split version: the files stream in, each hashed whole, only this shard's rows kept.
    const loader = await streamVersionFiles(channel, version, { publicKeys }, (manifest, signature) =>
      guarded(() => new glue.ShardLoader(manifest, signature ?? undefined, { limits, publicKeys }, shard.index, shard.count)));
    return { instance, engine: guarded(() => loader.finish()) };
  }
  // A preview's files were verified as they arrived; the engine checks them again.
  const files = preview ?? await readVersionFiles(channel, version, { publicKeys }); // verifies the signature again
  const loadedEngine = guarded(() => new glue.Engine(files, { limits, publicKeys })); // sizes, hashes, limits, signature, parity cases
  return { instance, engine: loadedEngine };
}

async function load(message) {
  if (trapped) throw trapped;
  loaded = { ...message, files: undefined }; // a preview is never upgraded: the page sends it no encoder
  const started = performance.now();
  ({ instance: wasm, engine } = await instantiate(message.build, message.wasm, message));
  build = message.build;
  const loadMs = performance.now() - started;
  if (!message.shard) guarded(() => warmUp(engine));
  const deferred = message.shard ? [] : engine.deferredModels();
  if (deferred.includes('next_up')) {
    nextUpReady = new Promise((resolve, reject) => { settleNextUp = { resolve, reject }; });
    nextUpReady.catch(() => {}); // each waiting call reports the failure itself
    if (encoder) upgrade();
    // A later swap: not promoted before the full build has run every parity case.
    if (message.waitForFull) await nextUpReady;
  }
  // Rankings come back as rows of this (protocol.js); of a split version, shard 0 sends it.
  const items = message.shard?.index > 0 ? null : engine.items();
  postMessage(loadedMessage({
    version: engine.version, name: engine.name, itemCount: engine.itemCount, build: message.build, deferred,
    models: engine.models(),
    catalog: items && { ids: items.map((item) => item.id), titles: items.map((item) => item.title) },
    loadMs, warmMs: performance.now() - started - loadMs, wasmBytes: wasmMemoryBytes(),
    resources: [self.location.href, ...performance.getEntriesByType('resource').map((e) => e.name)],
  }));
}

// The full build loads the same version, its next-up parity cases included,
// and takes over every call; until then next-up calls wait. If it cannot
// (no full build, or the encoder fails its checks), next-up calls fail with
// that error and the core engine keeps answering the rest.
async function upgrade() {
  if (upgrading || !engine || build !== 'core') return;
  upgrading = true;
  try {
    if (encoder.error) throw Object.assign(new Error(encoder.error.message), { code: encoder.error.code });
    const full = await instantiate('full', encoder.wasm, loaded);
    guarded(() => warmUp(full.engine));
    engine.free();
    ({ instance: wasm, engine } = full);
    build = 'full';
    settleNextUp.resolve();
  } catch (error) {
    settleNextUp.reject(error);
  }
}

function call({ id, method, args }) {
  try {
    if (trapped) throw trapped;
    if (!engine) throw Object.assign(new Error('no version is loaded in this Worker'), { code: 'internal' });
    if (SHARD_METHODS.includes(method)) {
      // A split version's steps, sent by the page's ShardedClient with checked arguments (and the stock applied).
      const value = guarded(() => engine[method](...args));
      postMessage(resultMessage(id, value), worthTransferring(value));
      return;
    }
    // The page checked these already; a double k is what a fusion window asks for.
    const checked = callArgs(method, args, { maxK: 2 * MAX_K });
    if (method === 'nextUp' && build === 'core' && nextUpReady) {
      nextUpReady.then(() => answer(id, method, checked), (error) => postMessage(errorResultMessage(id, error)));
      return;
    }
    answer(id, method, checked);
  } catch (error) {
    postMessage(errorResultMessage(id, error));
  }
}

function answer(id, method, checked) {
  try {
    if (trapped) throw trapped;
    if (RANKINGS.includes(method)) {
      const args = argsWithStock(method, checked, stock);
      // Catalog rows and scores in two typed arrays; the page knows the catalog.
      const value = guarded(() => engine.rankRows(method, args));
      postMessage(resultMessage(id, value), worthTransferring(value));
      return;
    }
    const value = method === 'memory' ? { wasmBytes: wasmMemoryBytes() } : guarded(() => engine[method](...checked));
    postMessage(resultMessage(id, value));
  } catch (error) {
    postMessage(errorResultMessage(id, error));
  }
}

// Runs wasm; a trap (or any error after a panic) marks this instance unusable.
function guarded(run) {
  try {
    return run();
  } catch (error) {
    if (error instanceof WebAssembly.RuntimeError || panicMessage !== null) {
      // The panic hook's message says where and why; a trap without a panic (out of memory) only says "unreachable".
      trapped = { code: 'engine_trap', message: panicMessage ?? `the engine trapped: ${error.message}` };
      engine = null;
      throw trapped;
    }
    throw error;
  }
}

// One call of each model, so the first shopper-facing call is not the one that
// pays for lazy allocations.
function warmUp(target) {
  const ids = target.items().slice(0, 5).map((item) => item.id);
  const models = target.models();
  if (models.includes('similar')) target.similar(ids[0], 10);
  if (models.includes('factors')) target.forHistory(ids, 10);
  if (models.includes('next_up')) target.nextUp(ids, 10);
}

// The buffers of an answer's large typed arrays: moved, not copied. A small
// one is copied: detaching a buffer costs more than copying a few KB (a
// top 10's rows and scores went out ~15 µs sooner copied than transferred).
const TRANSFER_FROM_BYTES = 64 * 1024;
function worthTransferring(value) {
  if (!value || typeof value !== 'object') return [];
  const views = ArrayBuffer.isView(value) ? [value] : [value, value.pins].flatMap((part) => Object.values(part ?? {}));
  return views.filter((view) => ArrayBuffer.isView(view) && view.byteLength >= TRANSFER_FROM_BYTES).map((view) => view.buffer);
}

function wasmMemoryBytes() {
  return wasm.memory.buffer.byteLength;
}
