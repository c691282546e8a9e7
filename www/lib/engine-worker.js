// One engine version in a dedicated Worker. The page starts one Worker per
// version and terminates it when the version retires: terminating is the only
// way a browser hands wasm memory back.
//
// Messages in:  { type: 'load', wasm: WebAssembly.Module, channel, version }
//               { type: 'call', id, method, args }
// Messages out: { type: 'loaded', info } | { type: 'failed', error }
//               { type: 'result', id, value } | { type: 'result', id, error }
import init, { Engine } from '../pkg/edgerec.js';
import { readVersionFiles } from './channel.js';

const METHODS = new Set(['similar', 'forHistory', 'nextUp', 'search', 'items', 'categories', 'models', 'memory']);
let engine;
let wasm;

self.onmessage = async ({ data }) => {
  if (data.type === 'load') {
    try {
      wasm = await init({ module_or_path: data.wasm });
      const started = performance.now();
      const files = await readVersionFiles(data.channel, data.version);
      engine = new Engine(files); // verifies sizes and hashes, then runs the parity cases
      const loadMs = performance.now() - started;
      warmUp(engine);
      postMessage({
        type: 'loaded',
        info: {
          version: engine.version, name: engine.name, itemCount: engine.itemCount,
          loadMs, warmMs: performance.now() - started - loadMs, wasmBytes: wasmMemoryBytes(),
          resources: [self.location.href, ...performance.getEntriesByType('resource').map((e) => e.name)],
        },
      });
    } catch (error) {
      postMessage({ type: 'failed', error: plain(error) });
    }
  } else if (data.type === 'call') {
    try {
      if (!METHODS.has(data.method)) throw Object.assign(new Error(`no method ${data.method}`), { code: 'bad_method' });
      const value = data.method === 'memory' ? { wasmBytes: wasmMemoryBytes() } : engine[data.method](...data.args);
      postMessage({ type: 'result', id: data.id, value });
    } catch (error) {
      postMessage({ type: 'result', id: data.id, error: plain(error) });
    }
  }
};

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

function plain(error) {
  // errorFromCode on the page turns any code that is not edgerec's (a DOMException's number) into 'internal'.
  return { name: error?.name ?? 'Error', code: error?.code, message: String(error?.message ?? error) };
}
