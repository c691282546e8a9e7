// Which model version serves a page, as a state machine whose effects are
// injected, so its races can be tested without a browser:
//   startWorker(version, hooks) -> an EngineClient (lib/protocol.js) or a fake
//   store: the channel's persisted state (readState, reject, markGood, setPinned)
//   clock: now / setTimeout / clearTimeout
//   emit(type, detail): 'modelchange' and 'modelrejected'
//
// A version is loaded and verified in a fresh Worker next to the serving one,
// promoted, and the old Worker retired once its calls are answered. A version
// that fails a check, or traps while loading, is rejected for good (for every
// tab); one that traps during a call is restarted once and rejected if it
// traps again. A load that fails for another reason (a lost Worker, a timeout)
// is tried again with backoff, a few times. pin()/rollback() persist the pin.
import { PAGE_DEPENDENT_REFUSALS } from './codes.js';
import { BundleError, UnavailableError, asEdgeRecError } from './errors.js';
import { realClock } from './protocol.js';

/** First delay before a failed load is tried again; it doubles each time. */
export const LOAD_RETRY_MS = 5_000;
/** Loads of one version (the first and the retries) before this page gives up on it. */
export const MAX_LOAD_ATTEMPTS = 4;
/** Traps during calls after which a version is rejected. */
export const TRAPS_BEFORE_REJECT = 2;

export class VersionLifecycle {
  #store;
  #startWorker;
  #clock;
  #emit;
  #log;
  #fusionMs;
  #retryMs;
  #maxLoadAttempts;
  #onPromoted;

  #current = null; // the client answering new calls
  #workers = new Set(); // every client not yet terminated
  #retiring = Promise.resolve(); // settles once the previous client is gone
  #latest = null; // the newest version announced as ready
  #pinned = null;
  #previous = null; // the version served before the current one
  #restart = null; // the version whose Worker just died, to start again
  #failures = new Map(); // version -> { error, final, content, attempts, retryAt }: this page's loads
  #traps = new Map(); // version -> traps during calls
  #announced = new Set(); // `${version} ${code}` already emitted as modelrejected
  #timers = new Set();
  #fusion = null; // { old, started, end } while the previous version still blends in
  #reconciling = null;
  #again = false;
  #closed = false;

  constructor({
    store, startWorker, clock = realClock, emit = () => {}, log = console, fusionMs = 0,
    retryMs = LOAD_RETRY_MS, maxLoadAttempts = MAX_LOAD_ATTEMPTS, onPromoted = () => {},
  }) {
    this.#store = store;
    this.#startWorker = startWorker;
    this.#clock = clock;
    this.#emit = emit;
    this.#log = log;
    this.#fusionMs = fusionMs;
    this.#retryMs = retryMs;
    this.#maxLoadAttempts = maxLoadAttempts;
    this.#onPromoted = onPromoted;
  }

  /** The version answering new calls. */
  get version() {
    return this.#current?.version ?? null;
  }

  /** The client answering new calls (null while a dead Worker is being replaced). */
  get serving() {
    return this.#current;
  }

  /** Every live client (serving, loading, retiring). */
  get workers() {
    return [...this.#workers];
  }

  /** Inside a fusion window: the previous version's client and the new version's weight (0 -> 1). */
  get fusion() {
    const fusion = this.#fusion;
    if (!fusion || fusion.old.terminated) return null;
    return { old: fusion.old, weight: Math.min(1, (this.#clock.now() - fusion.started) / this.#fusionMs) };
  }

  get closed() {
    return this.#closed;
  }

  /**
   * Serves the pinned version (a pin survives a reload), else the channel's
   * current one, else any cached version that loads. Rejects with
   * UnavailableError `no_model` when none does; `why` explains a failed check.
   */
  async start(why) {
    const state = await this.#store.readState();
    const cached = cachedVersions(state);
    if (cached.includes(state.pinned)) this.#pinned = state.pinned;
    this.#latest ??= cached.includes(state.current) ? state.current : cached[0] ?? null;
    await this.#reconcile();
    if (this.#current) return;
    const reasons = [why, ...[...this.#failures].map(([v, f]) => `version ${v}: ${f.error.message}`)].filter(Boolean);
    throw new UnavailableError('no_model', `no usable version${reasons.length ? `: ${reasons.join('; ')}` : ''}`);
  }

  /** Answers `method` on the serving version (or on `client`). */
  call(method, args, client = this.#current) {
    if (!client) {
      return Promise.reject(this.#closed ? closedError()
        : new UnavailableError('worker_failed', 'the engine Worker stopped; it is being replaced'));
    }
    return client.call(method, args);
  }

  /** Another context made `version` ready (it was verified and stored). */
  announceReady(version) {
    if (this.#closed) return;
    // A download or Worker failure may not happen again; a failed check would.
    if (!this.#failures.get(version)?.content) this.#failures.delete(version);
    this.#latest = version;
    this.#reconcile().catch((error) => this.#log.warn(`edgerec: ${error.message}`));
  }

  /** Another context rejected `version`. */
  announceRejected(version, code, reason) {
    if (!this.#closed) this.#announceRejection(version, code, reason);
  }

  /** `{ serving, latest, pinned, cached }`. */
  async versions() {
    const state = await this.#store.readState();
    return { serving: this.version, latest: this.#latest, pinned: this.#pinned, cached: cachedVersions(state) };
  }

  /** Serves `version` (a cached one) until unpin(), also after a reload. */
  async pin(version) {
    this.#assertOpen();
    const cached = cachedVersions(await this.#store.readState());
    if (!cached.includes(version)) {
      throw new UnavailableError('version_not_cached', `version ${version} is not cached (cached: ${cached.join(', ') || 'none'})`);
    }
    this.#pinned = version;
    if (!this.#failures.get(version)?.final) this.#failures.delete(version);
    await this.#reconcile();
    if (this.version !== version) {
      const failure = this.#failures.get(version);
      if (this.#pinned === version) await this.#unpinStored();
      throw failure?.error ?? new UnavailableError('pin_failed', `could not switch to version ${version}`);
    }
    await this.#store.setPinned(version);
    return version;
  }

  /** Back to the version served before (or the last one that loaded), pinned there. */
  async rollback() {
    this.#assertOpen();
    const state = await this.#store.readState();
    const cached = cachedVersions(state);
    const target = unique([this.#previous, state.lastGood, ...cached])
      .find((v) => v !== this.version && cached.includes(v) && this.#usable(v));
    if (!target) throw new UnavailableError('version_not_cached', 'no earlier version is cached to roll back to');
    return this.pin(target);
  }

  /** Follows the channel's newest version again. */
  async unpin() {
    this.#assertOpen();
    await this.#unpinStored();
    const state = await this.#store.readState();
    if (cachedVersions(state).includes(state.current)) this.#latest = state.current;
    await this.#reconcile();
    return this.version;
  }

  /** Stops everything: timers, Workers. */
  close() {
    this.#closed = true;
    this.#fusion = null;
    for (const timer of this.#timers) this.#clock.clearTimeout(timer);
    this.#timers.clear();
    for (const client of [...this.#workers]) client.terminate(closedError());
    this.#current = null;
  }

  #assertOpen() {
    if (this.#closed) throw closedError();
  }

  async #unpinStored() {
    this.#pinned = null;
    await this.#store.setPinned(null);
  }

  // Brings the serving version to the wanted one, one switch at a time, so at
  // most two Workers exist: the serving one and the one loading or retiring.
  #reconcile() {
    this.#again = true;
    this.#reconciling ??= (async () => {
      try {
        while (this.#again && !this.#closed) {
          this.#again = false;
          for (let target = await this.#target(); target && target !== this.version && !this.#closed;
            target = await this.#target()) {
            await this.#retiring;
            await this.#switchTo(target);
          }
        }
      } finally {
        this.#reconciling = null;
      }
    })();
    return this.#reconciling;
  }

  // The version to serve next, or null to stay. Every failed switch makes its
  // version unusable (for good, or until its retry time), so this converges.
  async #target() {
    const wanted = this.#pinned ?? this.#latest;
    if (this.#usable(wanted)) return wanted;
    if (this.#current) return null;
    // Nothing serves: the Worker that died, then the one before, the last that loaded, any cached.
    const state = await this.#store.readState();
    const cached = cachedVersions(state);
    return unique([this.#restart, this.#previous, state.lastGood, ...cached])
      .find((v) => cached.includes(v) && this.#usable(v)) ?? null;
  }

  #usable(version) {
    if (!version) return false;
    const failure = this.#failures.get(version);
    return !failure || (!failure.final && this.#clock.now() >= failure.retryAt);
  }

  async #switchTo(version) {
    const started = this.#clock.now();
    let candidate;
    let info;
    try {
      candidate = this.#startWorker(version, {
        onTrap: (error) => this.#onTrap(candidate, error),
        onCrash: () => this.#onCrash(candidate),
        onTerminated: () => this.#workers.delete(candidate),
      });
      this.#workers.add(candidate);
      info = await candidate.load();
    } catch (error) {
      candidate?.terminate();
      if (!this.#closed) await this.#loadFailed(version, asEdgeRecError(error));
      return;
    }
    if (this.#closed) {
      candidate.terminate(closedError());
      return;
    }
    const old = this.#current;
    this.#current = candidate;
    if (old && old.version !== version) this.#previous = old.version;
    this.#restart = null;
    this.#failures.delete(version);
    this.#store.markGood(version).catch((error) => this.#log.warn(`edgerec: markGood(${version}): ${error.message}`));
    this.#retireLater(old);
    const { resources, catalog, ...facts } = info ?? {};
    this.#onPromoted(info ?? {});
    this.#emit('modelchange', { from: old?.version ?? null, to: version, switchMs: this.#clock.now() - started, ...facts });
  }

  // Outside a fusion window the old client retires at once (after its calls);
  // inside one it keeps answering next to the new one until the window ends.
  #retireLater(old) {
    if (!old) {
      this.#retiring = Promise.resolve();
    } else if (this.#fusionMs > 0) {
      const fusion = { old, started: this.#clock.now(), end: null };
      this.#fusion = fusion;
      this.#retiring = new Promise((resolve) => {
        fusion.end = resolve;
        this.#later(this.#fusionMs, resolve);
      }).then(() => {
        if (this.#fusion === fusion) this.#fusion = null;
        // A crash during the window may have put the old client back in service.
        return this.#current === old ? undefined : old.retire();
      });
    } else {
      this.#retiring = old.retire();
    }
  }

  async #loadFailed(version, error) {
    if (error instanceof BundleError) {
      await this.#rejectForGood(version, error);
      return;
    }
    // Not the version's fault (a Worker lost, a timeout, the cache read raced a cleanup): try again, later each time.
    const attempts = (this.#failures.get(version)?.attempts ?? 0) + 1;
    if (attempts >= this.#maxLoadAttempts) {
      this.#failures.set(version, { error, final: true, content: false, attempts });
      this.#announceRejection(version, error.code, `gave up after ${attempts} attempts to load it: ${error.message}`);
      return;
    }
    const delay = this.#retryMs * 2 ** (attempts - 1);
    this.#failures.set(version, { error, final: false, content: false, attempts, retryAt: this.#clock.now() + delay });
    this.#log.warn(`edgerec: version ${version} did not load (${error.code}: ${error.message}); trying again in ${delay / 1000} s`);
    this.#later(delay, () => this.#reconcile().catch((e) => this.#log.warn(`edgerec: ${e.message}`)));
  }

  // Final for every tab, unless the refusal depends on this page (a format its
  // engine cannot read, its limits or keys): other tabs may differ.
  // The event follows the record, so a listener finds the version gone from the cache.
  async #rejectForGood(version, error) {
    this.#failures.set(version, { error, final: true, content: true });
    try {
      if (this.#pinned === version) await this.#unpinStored();
      if (!PAGE_DEPENDENT_REFUSALS.has(error.code)) await this.#store.reject(version, error.code, error.message);
    } catch (e) {
      this.#log.warn(`edgerec: could not record version ${version} as rejected: ${e.message}`);
    } finally {
      this.#announceRejection(version, error.code, error.message);
    }
  }

  // A call trapped: the client has stopped itself. Start the version again,
  // unless it has trapped before: then reject it and fall back.
  #onTrap(client, error) {
    if (this.#closed) return;
    const traps = (this.#traps.get(client.version) ?? 0) + 1;
    this.#traps.set(client.version, traps);
    if (traps >= TRAPS_BEFORE_REJECT) {
      this.#rejectForGood(client.version, error);
    } else {
      this.#log.warn(`edgerec: version ${client.version} trapped (${error.message}); starting it again`);
    }
    this.#onCrash(client);
  }

  // A client died (trap, crash, call timeout). Inside a fusion window the
  // previous client takes over; otherwise the version starts again.
  #onCrash(client) {
    if (this.#closed) return;
    if (this.#fusion?.old === client) {
      this.#fusion.end?.();
      this.#fusion = null;
    }
    if (this.#current !== client) return;
    const fusion = this.#fusion;
    this.#fusion = null;
    this.#current = fusion && !fusion.old.terminated ? fusion.old : null;
    fusion?.end?.();
    this.#restart = client.version;
    this.#reconcile().catch((error) => this.#log.warn(`edgerec: ${error.message}`));
  }

  #announceRejection(version, code, reason) {
    const key = `${version} ${code}`;
    if (this.#announced.has(key)) return;
    this.#announced.add(key);
    this.#emit('modelrejected', { version, code, reason });
  }

  #later(ms, run) {
    const timer = this.#clock.setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, ms);
    this.#timers.add(timer);
  }
}

/** The versions a page may switch to: ready ones, the pinned one and the last that loaded, minus rejected ones. */
export function cachedVersions(state) {
  const rejected = state.rejected ?? {};
  return unique([...(state.ready ?? []), state.pinned, state.lastGood])
    .filter((v) => typeof v === 'string' && !rejected[v]?.final);
}

function unique(values) {
  return [...new Set(values.filter((v) => v !== null && v !== undefined))];
}

function closedError() {
  return new UnavailableError('closed', 'this EdgeRec instance is closed');
}
