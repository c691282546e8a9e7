// The shopper's history: stable item ids with timestamps, kept in IndexedDB on
// this device only. Ids are stored as given, never as catalog positions, so a
// history survives a catalog change: ids a model version does not know are
// skipped by that version (listed in the answer's `skipped`), not deleted.

const STORE = 'items';

export class ShopperHistory extends EventTarget {
  #db;
  #entries = [];
  #limit;
  #broadcast;

  /** Opens (or creates) the history called `name`, keeping the newest `limit` items. */
  static async open(name = 'default', { limit = 50 } = {}) {
    const history = new ShopperHistory();
    history.#limit = limit;
    history.#db = await openDatabase(`edgerec-history-${name}`);
    await history.#reload();
    // Another tab changed the same history: read it again.
    history.#broadcast = new BroadcastChannel(`edgerec-history-${name}`);
    history.#broadcast.onmessage = () => history.#reload().then(() => history.#changed());
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
    if (typeof id !== 'string' || id === '') throw new TypeError('history.add: id must be a non-empty string');
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
    this.#entries = [];
    await this.#write((store) => store.clear());
  }

  close() {
    this.#broadcast?.close();
    this.#db?.close();
  }

  async #write(change) {
    await new Promise((resolve, reject) => {
      const transaction = this.#db.transaction(STORE, 'readwrite');
      change(transaction.objectStore(STORE));
      transaction.oncomplete = resolve;
      // A failed commit (quota, say) only fires abort.
      transaction.onabort = () => reject(transaction.error ?? new DOMException('history write aborted', 'AbortError'));
    });
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
