// The shopper's history: stable item ids with timestamps, kept in IndexedDB on
// this device only. Ids are stored as given, never as catalog positions, so a
// history survives a catalog change: ids a model version does not know are
// skipped by that version (listed in the answer's `skipped`), not deleted.
//
// Problems are EdgeRecErrors: a bad argument is InputError `invalid_argument`,
// a closed history `closed`, a refused IndexedDB read or write `storage_failed`.
import { InputError, UnavailableError } from './errors.js';
import { MAX_HISTORY_IDS, describe, nonEmptyString } from './protocol.js';

const STORE = 'items';

export class ShopperHistory extends EventTarget {
  #db;
  #closed = false;
  #entries = [];
  #limit;
  #broadcast;

  /** Opens (or creates) the history called `name`, keeping the newest `limit` items. */
  static async open(name = 'default', options) {
    nonEmptyString(name, 'history name');
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new InputError('invalid_argument', `history options must be an object like { limit: 50 }, got ${describe(options)}`);
    }
    const limit = options?.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_IDS) {
      throw new InputError('invalid_argument', `history limit must be a whole number from 1 to ${MAX_HISTORY_IDS}, got ${describe(limit)}`);
    }
    const history = new ShopperHistory();
    history.#limit = limit;
    history.#db = await storage(() => openDatabase(`edgerec-history-${name}`));
    await storage(() => history.#reload());
    // Another tab changed the same history: read it again.
    history.#broadcast = new BroadcastChannel(`edgerec-history-${name}`);
    history.#broadcast.onmessage = () => history.#reload().then(() => history.#changed(), () => {});
    return history;
  }

  /** Item ids, oldest first. */
  list() {
    return this.#entries.map((entry) => entry.id);
  }

  /** `{ id, at }` entries (at: milliseconds since the epoch), oldest first. */
  entries() {
    return this.#entries.map((entry) => ({ ...entry }));
  }

  /** Records that the shopper viewed `id` now; an id seen before moves to the end. */
  async add(id) {
    nonEmptyString(id, 'history.add: id');
    this.#assertOpen();
    // Strictly increasing, so two adds in the same millisecond keep their order.
    const entry = { id, at: Math.max(Date.now(), (this.#entries.at(-1)?.at ?? 0) + 1) };
    this.#entries = [...this.#entries.filter((e) => e.id !== id), entry];
    const dropped = this.#entries.splice(0, Math.max(0, this.#entries.length - this.#limit));
    await this.#write((store) => {
      store.put(entry);
      for (const old of dropped) store.delete(old.id);
    });
  }

  /** Forgets everything, on this device, in every tab. */
  async clear() {
    this.#assertOpen();
    this.#entries = [];
    await this.#write((store) => store.clear());
  }

  close() {
    this.#closed = true;
    this.#broadcast?.close();
    this.#db?.close();
  }

  #assertOpen() {
    if (this.#closed) throw new UnavailableError('closed', 'this history is closed');
  }

  async #write(change) {
    await storage(() => new Promise((resolve, reject) => {
      const transaction = this.#db.transaction(STORE, 'readwrite');
      change(transaction.objectStore(STORE));
      transaction.oncomplete = resolve;
      // A failed commit (quota, say) only fires abort.
      transaction.onabort = () => reject(transaction.error ?? new DOMException('history write aborted', 'AbortError'));
    }));
    this.#broadcast.postMessage('changed');
    this.#changed();
  }

  async #reload() {
    const all = await new Promise((resolve, reject) => {
      const request = this.#db.transaction(STORE).objectStore(STORE).getAll();
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    this.#entries = all.sort((a, b) => a.at - b.at).slice(-this.#limit);
  }

  #changed() {
    this.dispatchEvent(new Event('change'));
  }
}

// IndexedDB's failures (quota, private mode, a blocked upgrade) as `storage_failed`.
async function storage(task) {
  try {
    return await task();
  } catch (error) {
    throw new UnavailableError('storage_failed', `the on-device history: ${error?.name ?? 'Error'}: ${error?.message ?? error}`);
  }
}

function openDatabase(name) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'id' });
    request.onsuccess = () => {
      // A newer schema in another tab must not wait on this one.
      request.result.onversionchange = () => request.result.close();
      resolve(request.result);
    };
    request.onerror = () => reject(request.error);
  });
}
