// Fakes for the Node tests of www/lib/protocol.js and www/lib/lifecycle.js:
// a clock whose time only moves when a test says so, a Worker that answers
// like engine-worker.js (scripted per version), and a channel store in memory.
import { keptVersions } from '../../www/lib/channel.js';

/** Lets every pending promise callback and immediate run. */
export const flush = async (rounds = 3) => {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
};

export class FakeClock {
  time = 0;
  #timers = new Map();
  #nextId = 1;

  now = () => this.time;
  setTimeout = (run, ms) => {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.time + ms, run });
    return id;
  };
  clearTimeout = (id) => {
    this.#timers.delete(id);
  };

  get pendingTimers() {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing due timers in order and letting their effects settle. */
  async advance(ms) {
    const end = this.time + ms;
    for (;;) {
      await flush();
      const due = [...this.#timers].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.time = due[1].at;
      due[1].run();
    }
    this.time = end;
    await flush();
  }
}

/**
 * A Worker speaking lib/protocol.js's messages. `script(message, worker)` decides
 * each answer: return a message to send back (async), 'hang' to never answer,
 * or call worker.reply / worker.crash yourself. postMessage clones like a real
 * Worker, so a function or a Proxy in a message throws a DataCloneError.
 */
export class FakeWorker {
  sent = [];
  terminated = false;
  onmessage = null;
  onerror = null;
  onmessageerror = null;
  #script;

  constructor(script) {
    this.#script = script;
  }

  postMessage(message) {
    const copy = structuredClone(message);
    this.sent.push(copy);
    queueMicrotask(() => {
      if (this.terminated) return;
      const answer = this.#script(copy, this);
      if (answer && answer !== 'hang') this.reply(answer);
    });
  }

  reply(data) {
    if (!this.terminated) queueMicrotask(() => !this.terminated && this.onmessage?.({ data: structuredClone(data) }));
  }

  crash(message = 'simulated crash') {
    this.onerror?.({ message, preventDefault() {} });
  }

  terminate() {
    this.terminated = true;
  }
}

/** The answers engine-worker.js gives for a version that loads and answers. */
export function healthyEngine(version) {
  return (message) => {
    if (message.type === 'load') return { type: 'loaded', info: { version, name: 'fake', itemCount: 3, loadMs: 1, warmMs: 1, wasmBytes: 1, resources: [] } };
    if (message.method === 'memory') return { type: 'result', id: message.id, value: { wasmBytes: 1 } };
    return { type: 'result', id: message.id, value: { version, items: [], skipped: [], args: message.args } };
  };
}

export const trapMessage = (id) => ({ type: 'result', id, error: { code: 'engine_trap', message: 'the engine trapped: boom' } });
export const loadTrap = () => ({ type: 'failed', error: { code: 'engine_trap', message: 'the engine trapped: out of memory' } });

/**
 * The channel's persisted state in memory, with what channel.js does to it:
 * reject() forgets a version, markGood/setPinned record, and nothing the
 * state keeps is evicted. `calls` logs every write.
 */
export class FakeStore {
  state;
  calls = [];

  constructor({ ready = ['1'], current = ready[0], pinned = null, lastGood = null } = {}) {
    this.state = { current, ready: [...ready], rejected: {}, pinned, lastGood };
  }

  /** A new version becomes ready, as update() records it (keeping what channel.js keeps). */
  publish(version) {
    this.state.current = version;
    this.state.ready = keptVersions({ ...this.state, ready: [version, ...this.state.ready.filter((v) => v !== version)] });
  }

  readState = async () => structuredClone(this.state);

  reject = async (version, code, reason) => {
    this.calls.push(['reject', version, code]);
    const s = this.state;
    s.ready = s.ready.filter((v) => v !== version);
    if (s.current === version) s.current = s.ready[0] ?? null;
    if (s.pinned === version) s.pinned = null;
    if (s.lastGood === version) s.lastGood = null;
    s.rejected[version] = { code, reason, final: true };
  };

  markGood = async (version) => {
    this.calls.push(['markGood', version]);
    if (this.state.ready.includes(version)) this.state.lastGood = version;
  };

  setPinned = async (version) => {
    this.calls.push(['setPinned', version]);
    this.state.pinned = version;
  };
}

/** An in-memory Cache API holding one cache, installed as globalThis.caches. */
export function fakeCaches() {
  const entries = new Map();
  const cache = {
    async match(key) {
      const entry = entries.get(String(key?.url ?? key));
      return entry && new Response(entry.slice());
    },
    async put(key, response) {
      entries.set(String(key?.url ?? key), new Uint8Array(await response.arrayBuffer()));
    },
    async delete(key) {
      return entries.delete(String(key?.url ?? key));
    },
    async keys() {
      return [...entries.keys()].map((url) => new Request(url));
    },
  };
  globalThis.caches = { open: async () => cache };
  return { cache, entries };
}
