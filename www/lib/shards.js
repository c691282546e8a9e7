// One version split across N Workers (EdgeRec.open's `workers`): each holds
// its rows of the item matrices the rankings scan, so memory is split, not
// copied, and a ranking's scan runs on every core at once. No
// SharedArrayBuffer: the page sends each Worker the query and merges their
// best rows. The steps, the memory and what stays whole: docs/shards.md.
//
// A ShardedClient has an EngineClient's interface (lib/protocol.js), so the
// lifecycle, fusion windows and rollbacks treat it as one Worker.
import { UnavailableError } from './errors.js';
import { EngineClient, itemsFromRows } from './protocol.js';
import { argsWithStock } from './stock.js';

/** Rankings that scan a split matrix: answered by every shard, merged here. */
const SPLIT = Object.freeze(['similar', 'forHistory', 'nextUp']);

export class ShardedClient {
  version;
  info = null;
  terminated = false;
  #shards;
  #stock = null;
  #hooks;
  #active = 0; // page calls not settled yet: each spans several messages to each shard
  #whenIdle = null; // set by retire()
  #retired = null;

  /** `workers`: one per shard; the rest as EngineClient's. */
  constructor(workers, { version, load = {}, onTrap = () => {}, onCrash = () => {}, onTerminated = () => {}, ...options }) {
    this.version = version;
    this.#hooks = { onTrap, onCrash, onTerminated };
    // A shard that fails takes the version with it: the owner replaces the whole.
    const failed = (hook) => (error) => {
      if (this.terminated) return;
      this.terminate(error);
      this.#hooks[hook](error);
    };
    this.#shards = workers.map((worker, index) => new EngineClient(worker, {
      ...options, version, load: { ...load, build: 'full', waitForFull: false, shard: { index, count: workers.length } },
      // A shard's own trap or crash hook runs right after it terminates: report that first.
      onTrap: failed('onTrap'), onCrash: failed('onCrash'), onTerminated: () => queueMicrotask(() => this.terminate()),
    }));
  }

  get pendingCount() {
    return this.#active;
  }

  /** Shards run the full build from the start: nothing waits for an encoder. */
  sendEncoder() {}

  sendStock(stock) {
    this.#stock = stock;
    this.#lead.sendStock(stock); // for what shard 0 answers alone
  }

  /**
   * Loads every shard, gives their factor models the whole catalog's VᵀV,
   * then runs the split models' parity cases through the shards: a version
   * is promoted only once all pass.
   */
  async load() {
    const infos = await Promise.all(this.#shards.map((shard) => shard.load()));
    const grams = await Promise.all(this.#shards.map((shard) => shard.call('gramPart', [])));
    if (grams[0]) {
      const whole = sum(grams);
      await Promise.all(this.#shards.map((shard) => shard.call('completeGram', [whole])));
    }
    for (const { case: number, method, args } of await this.#lead.call('splitParityCases', [])) {
      const answer = await this.#rank(method, args);
      await this.#lead.call('checkParity', [number, answer.rows, answer.scores]);
    }
    const [lead] = infos;
    this.info = {
      ...lead,
      shards: infos.length,
      loadMs: Math.max(...infos.map((info) => info.loadMs)),
      wasmBytes: infos.reduce((total, info) => total + info.wasmBytes, 0),
      shardWasmBytes: infos.map((info) => info.wasmBytes),
    };
    return this.info;
  }

  /** A page call (arguments checked), answered as one Worker would answer it. */
  async call(method, args) {
    this.#active++;
    try {
      return await this.#answer(method, args);
    } finally {
      if (--this.#active === 0) this.#whenIdle?.();
    }
  }

  async #answer(method, args) {
    if (SPLIT.includes(method) || method === 'search') {
      const stocked = argsWithStock(method, args, this.#stock);
      const rows = method === 'search' ? await this.#search(stocked) : await this.#rank(method, stocked);
      return itemsFromRows(rows, this.info.catalog);
    }
    if (method === 'memory') {
      const shards = await Promise.all(this.#shards.map((shard) => shard.call('memory', [])));
      return { wasmBytes: shards.reduce((total, { wasmBytes }) => total + wasmBytes, 0), shards };
    }
    return this.#lead.call(method, args); // trending, together, the catalog: no split matrix
  }

  /**
   * Terminates every shard once the calls already made are answered. A
   * shard may be idle between two steps of a call: no shard retires alone.
   */
  retire() {
    this.#retired ??= new Promise((resolve) => {
      this.#whenIdle = () => {
        this.terminate();
        resolve();
      };
      if (this.#active === 0 || this.terminated) this.#whenIdle();
    });
    return this.#retired;
  }

  terminate(reason = new UnavailableError('worker_failed', `the Workers for version ${this.version} were terminated`)) {
    if (this.terminated) return;
    this.terminated = true;
    for (const shard of this.#shards) shard.terminate(reason);
    this.#hooks.onTerminated();
  }

  get #lead() {
    return this.#shards[0];
  }

  // A ranking over the split matrices, as catalog rows: the shards' parts of
  // the query summed, every shard's best rows, merged.
  async #rank(method, args) {
    const query = await this.#query(method, args);
    if (!query) return this.#lead.call('rankRows', [method, args]); // no known item: popularity, on shard 0
    const parts = await Promise.all(this.#shards.map((shard) => shard.call('scanPart', [method, args, query])));
    const { rows, scores } = mergeParts(parts, args[1]);
    const [{ version, skipped, source }] = parts;
    return { version, rows, scores, skipped, source };
  }

  // Phase one: the summed query, or null when shard 0 answers alone. Next
  // up's query is the encoder's, which only shard 0 runs (the others would
  // answer "no part"), so only shard 0 is asked.
  async #query(method, args) {
    const asked = method === 'nextUp' ? [this.#lead] : this.#shards;
    const parts = await Promise.all(asked.map((shard) => shard.call('queryPart', [method, args])));
    if (parts.some((part) => part.fallback)) return null;
    return sum(parts.map((part) => part.part));
  }

  // A search, personalised as one engine does it: shard 0's matches, each
  // shard's taste for those it holds, ranked by shard 0.
  async #search(args) {
    const [text, k, history] = args;
    let tastes = [];
    if (history.length && this.info.models.includes('factors')) {
      const [matches, query] = await Promise.all([
        this.#lead.call('searchMatches', [text]), // shard 0 alone holds the search index
        this.#query('forHistory', [history, k]).catch((error) => {
          if (error.code === 'empty_history') return null; // no known item: unpersonalised
          throw error;
        }),
      ]);
      if (query) tastes = await Promise.all(this.#shards.map((shard) => shard.call('searchTastePart', [matches, query])));
    }
    const rows = Uint32Array.from(tastes.flatMap((taste) => [...taste.rows]));
    const scores = Float32Array.from(tastes.flatMap((taste) => [...taste.scores]));
    return this.#lead.call('searchWithTastes', [args, rows, scores]);
  }
}

/**
 * The shards' parts of one ranking merged (the engine's `merge_parts`): the
 * best `k` of their rows, higher score first and lower row on ties, then
 * each pin at its position with the score the shard holding it gave (a NaN
 * everywhere: left out). `parts`: `[{ rows, scores, pins: { rows, positions, scores } }]`.
 */
export function mergeParts(parts, k) {
  const hits = [];
  for (const part of parts) part.rows.forEach((row, i) => hits.push({ row, score: part.scores[i] }));
  hits.sort((a, b) => b.score - a.score || a.row - b.row);
  hits.length = Math.min(hits.length, k);
  const pins = parts[0]?.pins ?? { rows: [], positions: [], scores: [] };
  if (pins.rows.length) {
    const pinned = new Set(pins.rows);
    const kept = hits.filter((hit) => !pinned.has(hit.row));
    pins.rows.forEach((row, i) => {
      const score = parts.map((part) => part.pins.scores[i]).find((value) => !Number.isNaN(value));
      if (score !== undefined) kept.splice(Math.min(pins.positions[i], kept.length), 0, { row, score });
    });
    hits.splice(0, hits.length, ...kept.slice(0, k));
  }
  return { rows: Uint32Array.from(hits, (hit) => hit.row), scores: Float32Array.from(hits, (hit) => hit.score) };
}

// Element-wise sum of the parts that are there (Float64Arrays), in shard order.
function sum(parts) {
  const present = parts.filter(Boolean);
  const total = new Float64Array(present[0]?.length ?? 0);
  for (const part of present) part.forEach((value, i) => { total[i] += value; });
  return total;
}
