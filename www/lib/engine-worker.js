// One engine version in a dedicated Worker. The page starts one Worker per
// version and terminates it when the version retires: terminating is the only
// way a browser hands wasm memory back. The messages: lib/protocol.js.
//
// A trap (a Rust panic, running out of memory) leaves the wasm instance
// unusable: this Worker then answers every request with `engine_trap`, and the
// page replaces it.
import init, { Engine, setPanicHandler } from '../pkg/edgerec.js';
import { readVersionFiles } from './channel.js';
import {
  FROM_WORKER, MAX_K, TO_WORKER, callArgs, checkToWorker, errorResultMessage, failedMessage, loadedMessage,
  resultMessage,
} from './protocol.js';

let engine = null;
let wasm = null;
let panicMessage = null; // set by the panic hook just before the trap
let trapped = null; // { code: 'engine_trap', message } once the instance is unusable

self.onmessage = ({ data }) => {
  const problem = checkToWorker(data);
  if (problem) {
    if (Number.isSafeInteger(data?.id)) postMessage(errorResultMessage(data.id, problem));
    else postMessage({ type: FROM_WORKER.FAILED, error: { code: problem.code, message: problem.message } });
  } else if (data.type === TO_WORKER.LOAD) {
    load(data).catch((error) => postMessage(failedMessage(error)));
  } else {
    call(data);
  }
};

async function load({ wasm: module, channel, version, limits, publicKeys }) {
  if (trapped) throw trapped;
  wasm = await init({ module_or_path: module });
  setPanicHandler((message) => { panicMessage = String(message); });
  const started = performance.now();
  const files = await readVersionFiles(channel, version, { publicKeys }); // verifies the signature again
  engine = guarded(() => new Engine(files, { limits, publicKeys })); // sizes, hashes, limits, signature, parity cases
  const loadMs = performance.now() - started;
  guarded(() => warmUp(engine));
  postMessage(loadedMessage({
    version: engine.version, name: engine.name, itemCount: engine.itemCount,
    loadMs, warmMs: performance.now() - started - loadMs, wasmBytes: wasmMemoryBytes(),
    resources: [self.location.href, ...performance.getEntriesByType('resource').map((e) => e.name)],
  }));
}

function call({ id, method, args }) {
  try {
    if (trapped) throw trapped;
    if (!engine) throw Object.assign(new Error('no version is loaded in this Worker'), { code: 'internal' });
    // The page checked these already; a double k is what a fusion window asks for.
    const checked = callArgs(method, args, { maxK: 2 * MAX_K });
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
function warmUp(loaded) {
  const ids = loaded.items().slice(0, 5).map((item) => item.id);
  const models = loaded.models();
  if (models.includes('similar')) loaded.similar(ids[0], 10);
  if (models.includes('factors')) loaded.forHistory(ids, 10);
  if (models.includes('next_up')) loaded.nextUp(ids, 10);
}

function wasmMemoryBytes() {
  return wasm.memory.buffer.byteLength;
}
