// Types for the `edgerec` package (hand-written; keep in step with edgerec.js,
// lib/codes.js, lib/limits.js, lib/history.js, lib/channel.js and src/wasm.rs).
// Uses only types that both the "dom" and "webworker" libs declare.

// --- answers ----------------------------------------------------------------

/** One recommended item. */
export interface Recommendation {
  /** The item's id in the catalog (always a string). */
  id: string;
  /** The item's title in the catalog. */
  title: string;
  /** Ranking score; higher is better. Only comparable within one answer. */
  score: number;
}

/** Every answer: ranked items and the model version that produced them. */
export interface Recommendations {
  /** The model version that answered (the channel's version name). */
  version: string;
  items: Recommendation[];
  /** Input ids (from the history) this version's catalog does not know; skipped, not fatal. Often empty. */
  skipped: string[];
  /**
   * Which model produced the items. `forShopper` and `nextUp` with a history
   * of no known item answer from `'trending'` (or `'popular'` where nothing
   * trends) when the bundle has popularity scores, so a page can label the shelf.
   */
  source: 'similar' | 'for_user' | 'for_you' | 'next_up' | 'search' | 'together' | 'trending' | 'popular';
  /**
   * Only inside a `fusionMs` window after a switch: the answer blends the
   * previous version `from` in; `weight` is the new version's share (0 → 1).
   */
  blend?: { from: string; weight: number };
}

/** One catalog entry. */
export interface CatalogItem {
  id: string;
  title: string;
  categories: string[];
}

/**
 * add/removeEventListener overloads typed by an event map (plus the untyped
 * fallback). Types only: at run time the classes extend EventTarget directly.
 */
declare class TypedEventTarget<Self, Events> extends EventTarget {
  addEventListener<K extends keyof Events>(
    type: K,
    listener: (this: Self, event: Events[K]) => any,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof Events>(
    type: K,
    listener: (this: Self, event: Events[K]) => any,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

// --- EdgeRec ----------------------------------------------------------------

export interface EdgeRecOptions {
  /** URL of a channel folder (the one holding latest.json), relative to the page. */
  channel: string | URL;
  /**
   * URL of the site's own module service worker, which calls
   * `installEdgeRecServiceWorker()` (from `edgerec/sw`): offline use and
   * background checks. Without it, updates are checked from the page.
   */
  serviceWorker?: string | URL;
  /**
   * The service worker's scope. It must cover both the page and edgerec's
   * own files. Default: the worker script's folder.
   */
  serviceWorkerScope?: string;
  /** Which on-device history to use (default `"default"`). */
  historyName?: string;
  /** How many of the newest history items are kept (default 50). */
  historyLimit?: number;
  /** Milliseconds between checks of the channel pointer (default 60 000; 0: never). */
  checkEvery?: number;
  /**
   * After a switch, blend the previous version's rankings into answers for
   * this many milliseconds, fading out, so lists do not jump (default 0: off).
   */
  fusionMs?: number;
  /**
   * Limits a version must fit before anything of it is downloaded or
   * allocated; unnamed ones keep their defaults (sized for a shop of about a
   * million items). A version over a limit is rejected (`bundle_too_many_items`, …).
   */
  limits?: Partial<Limits>;
  /**
   * Base64 (standard, padded) of raw 32-byte Ed25519 public keys. With one
   * or more, a version's manifest.json must carry a manifest.sig that one of
   * them verifies, checked before any other file is downloaded; otherwise the
   * version is rejected (`bundle_bad_signature`). Several keys allow rotation.
   */
  publicKeys?: readonly string[];
  /** How long loading and verifying a version may take, in ms (default 60 000); then it is tried again later. */
  loadTimeoutMs?: number;
  /**
   * How long one call may take, in ms (default 30 000): then it rejects with
   * `call_timeout` and its Worker is replaced.
   */
  callTimeoutMs?: number;
  /**
   * `'staged'` (default): the first answers (similar, for you, search) come
   * from the small core build; next-up calls wait until the full build,
   * compiled in the background, has loaded the version and passed its
   * next-up parity cases. `'full'`: one stage, next up ready before the
   * first answer.
   */
  loading?: 'staged' | 'full';
  /**
   * Split each version's item matrices by rows across this many Workers
   * (default 1, at most 16): memory is split, not copied, every scan runs
   * on all of them at once, and answers are those of one Worker. For
   * catalogs of hundreds of thousands of items and more (docs/shards.md).
   * With more than one, loading is `'full'`.
   */
  workers?: number;
  /**
   * ms between reads of the channel's live stock file (stock.json: out-of-stock
   * ids and attribute overrides, applied to every answer without a new model
   * version; default 60 000; 0: never). One read serves every tab of the origin.
   */
  stockEvery?: number;
  /**
   * The folder holding edgerec's own files (pkg/, pkg-core/, lib/) when they
   * are not beside the module as loaded: a CDN copy, say. Files on another
   * origin must be served with CORS (CDNs do); the Worker then starts from a
   * one-line same-origin module that imports the engine's. Relative to the page.
   */
  assets?: string | URL;
}

/** Bundle limits (lib/limits.js); every value a whole number >= 1. */
export interface Limits {
  /** Catalog items (default 2 000 000). */
  maxItems: number;
  /** Columns of any matrix (default 1 024). */
  maxDim: number;
  /** The next-up encoder's history length, `max_len` (default 1 024). */
  maxSequenceLength: number;
  /** Users of the factor model (default 5 000 000). */
  maxUsers: number;
  /** Distinct categories (default 100 000). */
  maxCategories: number;
  /** Item-in-category memberships, summed over all items (default 20 000 000). */
  maxCategoryMemberships: number;
  /** Parity cases in the manifest (default 1 000; each model needs at least one). */
  maxParityCases: number;
  /** Files listed in the manifest (default 64). */
  maxFiles: number;
  /** Bytes of manifest.json (default 4 MiB). */
  maxManifestBytes: number;
  /** Bytes of any one file (default 768 MiB). */
  maxFileBytes: number;
  /** Bytes of all files of a version together (default 1.5 GiB). */
  maxBundleBytes: number;
}

/**
 * Item ids, oldest first: an array, a reactive array (a Proxy, as Vue's
 * `reactive()` or MobX give) or any other iterable of strings; at most 10 000.
 */
export type ItemIds = Iterable<string>;

/** A catalog value: text, a number or true/false. */
export type RuleValue = string | number | boolean;

/**
 * A test on one field: `id`, `category` (any of the item's categories) or a
 * catalog attribute. Holds when the item's value equals the value, any of
 * the list, or is a number within the range (inclusive). An item without
 * the field fails it.
 */
export type RuleTest = RuleValue | RuleValue[] | { min?: number; max?: number };

/** Merchandising rules, applied inside the scan (docs/api.md#merchandising-rules). */
export interface Rules {
  /** Field -> test; an item is ranked only if every test holds. */
  filter?: Record<string, RuleTest>;
  /** Ids never ranked. */
  exclude?: string[];
  /** `weight` is added to the model's score of every item matching all of `when`. */
  boost?: Array<{ when: Record<string, RuleTest>; weight: number }>;
  /** Item `id` at `position` (0 = first), if it passes the filters. */
  pin?: Array<{ id: string; position: number }>;
}

export interface SimilarOptions {
  /** How many items (default 10). A whole number from 1 to 1000. */
  k?: number;
  /** Only items of this category (one of `categories()`). */
  category?: string | null;
  rules?: Rules | null;
}

export interface ForShopperOptions {
  /** How many items (default 10). A whole number from 1 to 1000. */
  k?: number;
  /** Item ids, oldest first (default: `history.list()`). */
  history?: ItemIds;
  rules?: Rules | null;
}

export interface NextUpOptions {
  /** How many items (default 10). A whole number from 1 to 1000. */
  k?: number;
  /** Item ids, oldest first (default: `history.list()`). */
  history?: ItemIds;
  /** Leave out items already in the history (default true). */
  excludeHistory?: boolean;
  rules?: Rules | null;
}

export interface TrendingOptions {
  /** How many items (default 10). A whole number from 1 to 1000. */
  k?: number;
  /** Only items of this category (one of `categories()`). */
  category?: string | null;
  rules?: Rules | null;
}

export interface SearchOptions {
  /** How many items (default 10). A whole number from 1 to 1000. */
  k?: number;
  /** Item ids used to re-rank matches by taste (default: `history.list()`; may be empty). */
  history?: ItemIds | null;
  rules?: Rules | null;
}

export interface Versions {
  /** The version answering new calls (null once closed). */
  serving: string | null;
  /** The newest version announced as ready (it may still fail to load here). */
  latest: string | null;
  /** The version pinned with pin()/rollback(), or null when following the channel. */
  pinned: string | null;
  /**
   * Versions this page may switch to, newest first: the newest two, the
   * pinned one and the last one that loaded (never evicted), minus rejected ones.
   */
  cached: string[];
}

/** What a check of the channel pointer did. */
export type UpdateResult =
  /** A new version was downloaded and verified. */
  | { status: 'ready'; version: string; downloaded: number }
  /** The pointer names a version that is already ready. */
  | { status: 'current'; version: string }
  /** The pointer's version failed a check; `code` says which (see BundleError). */
  | { status: 'rejected'; version: string; code: string; reason: string; downloaded: number }
  /** The pointer's version was rejected earlier and is not retried yet. */
  | { status: 'skipped'; version: string; code: string; reason: string }
  /** The pointer could not be read (offline, HTTP error); `bad_pointer` when it names anything but `versions/<v>/manifest.json`. */
  | { status: 'unreachable'; code?: 'bad_pointer'; reason: string };

/** `detail` of the `modelchange` event: a new version now answers new calls. */
export interface ModelChangeDetail {
  /** The version served before (null for the first one). */
  from: string | null;
  /** The version serving now. */
  to: string;
  /** Milliseconds from starting the new version's Worker to switching to it. */
  switchMs: number;
  /** The new version, as its manifest names it. */
  version: string;
  /** The bundle's name, from its manifest. */
  name: string;
  /** Catalog size. */
  itemCount: number;
  /** Milliseconds to verify and load the bundle (sizes, hashes, parity cases). */
  loadMs: number;
  /** Milliseconds of the warm-up calls. */
  warmMs: number;
  /** wasm memory of the new version's Worker, in bytes. */
  wasmBytes: number;
}

/**
 * `detail` of the `modelrejected` event: a version failed a check (or trapped,
 * or could not be loaded after several attempts) and is not used.
 */
export interface ModelRejectedDetail {
  version: string;
  code: EdgeRecErrorCode;
  reason: string;
}

/** Counts of the live stock now applied; null when the channel has no stock file. */
export type StockCounts = { outOfStock: number; overrides: number } | null;

export interface EdgeRecEventMap {
  modelchange: CustomEvent<ModelChangeDetail>;
  modelrejected: CustomEvent<ModelRejectedDetail>;
  /** The live stock changed: answers from now on apply it. */
  stockchange: CustomEvent<StockCounts>;
}

/**
 * Recommendations from a model channel, computed on the device by a wasm
 * engine in a Worker; new model versions are checked, verified and switched to
 * without interrupting calls. Create with `EdgeRec.open`.
 *
 * Every method reports problems as a rejected promise with an EdgeRecError
 * (never a synchronous throw, but for the synchronous `stockOf`). Besides the codes each method lists, any
 * question may reject with UnavailableError `worker_failed` (its Worker is
 * being replaced), `call_timeout` (no answer within `callTimeoutMs`) or
 * `closed`, or BundleError `engine_trap` (the version trapped: its Worker is
 * replaced, and a second trap rejects the version).
 */
export declare class EdgeRec extends TypedEventTarget<EdgeRec, EdgeRecEventMap> {
  /** Use `EdgeRec.open`. */
  private constructor();

  /**
   * Opens the newest verified version of a channel (or the pinned one: a pin
   * survives a reload). Every problem is a rejected promise.
   * @throws {InputError} `invalid_argument`: no `channel`, an unknown option,
   *   or a bad value (limits, publicKeys, timeouts…)
   * @throws {UnavailableError} `no_cache_storage` (no Cache API: not https or localhost),
   *   `no_model` (no version could be downloaded or loaded), `wasm_unavailable`, `worker_unavailable`,
   *   `storage_failed`
   */
  static open(options: EdgeRecOptions): Promise<EdgeRec>;

  /** The shopper's on-device history, used by forShopper/nextUp/search by default. */
  history: ShopperHistory;

  /** The version answering new calls (null once closed). */
  readonly version: string | null;

  /** What this instance serves and what it could switch to. */
  versions(): Promise<Versions>;

  /**
   * Items like `id`, optionally only from one category.
   * @throws {InputError} `unknown_item`, `unknown_category`, `invalid_k`, `invalid_argument`
   */
  similar(id: string, options?: SimilarOptions): Promise<Recommendations>;

  /**
   * "Recommended for you", from the shopper's history.
   * @throws {InputError} `empty_history` (no id of the history is in the catalog), `invalid_k`, `invalid_argument`
   * @throws {UnavailableError} `model_missing` if the bundle has no factor model
   */
  forShopper(options?: ForShopperOptions): Promise<Recommendations>;

  /**
   * "Next up", from the history in order.
   * @throws {InputError} `empty_history`, `invalid_k`, `invalid_argument`
   * @throws {UnavailableError} `model_missing` if the bundle has no next-up model
   */
  nextUp(options?: NextUpOptions): Promise<Recommendations>;

  /**
   * Text search over titles and categories, re-ranked by the history.
   * @throws {InputError} `invalid_k`, `invalid_argument`
   */
  search(text: string, options?: SearchOptions): Promise<Recommendations>;

  /**
   * What is trending: time-decayed popularity computed at training, optionally
   * in one category. Needs a bundle with popularity scores (`model_missing` otherwise).
   * @throws {InputError} `invalid_k`, `invalid_argument`, `unknown_category`
   */
  trending(options?: TrendingOptions): Promise<Recommendations>;

  /**
   * "Frequently bought together" with `items` (a product, or a cart): partners
   * from the shop's orders, scores summed, `items` left out (`model_missing` without them).
   * @throws {InputError} `invalid_k`, `invalid_argument`, `empty_history` (no known item)
   */
  boughtTogether(options: { items: ItemIds; k?: number; rules?: Rules | null }): Promise<Recommendations>;

  /** The serving version's catalog, in bundle order. */
  items(): Promise<{ version: string; items: CatalogItem[] }>;

  /** The serving version's category names, in catalog order of first appearance. */
  categories(): Promise<{ version: string; categories: string[] }>;

  /** Checks the channel pointer now instead of waiting for the timer. */
  checkForUpdates(): Promise<UpdateResult>;

  /**
   * Goes back to the version served before (kept in the cache) and stays on
   * it until unpin(), also after a reload. Never lands on a rejected version.
   * Resolves to that version.
   * @throws {UnavailableError} `version_not_cached`
   */
  rollback(): Promise<string>;

  /**
   * Serves `version` (one of `versions().cached`) and ignores newer ones
   * until unpin(), also after a reload.
   * @throws {InputError} `invalid_argument` unless `version` is a non-empty string
   * @throws {UnavailableError} `version_not_cached`, `pin_failed`
   * @throws {BundleError} if that version fails its checks
   */
  pin(version: string): Promise<string>;

  /** Follows the channel's newest version again; resolves to the version serving. */
  unpin(): Promise<string | null>;

  /**
   * Reads the channel's live stock file now (the timer does every `stockEvery`)
   * and applies it to every answer from here on.
   * @throws {BundleError} `bad_stock`, `bundle_bad_signature`, `network_error` (the stock it had stays)
   */
  refreshStock(): Promise<StockCounts>;

  /**
   * Item `id` under the live stock this instance applies: `inStock` false when
   * the stock file lists it out of stock; `overrides`, its attribute overrides.
   * Synchronous: the stock is held on the page.
   * @throws {InputError} `invalid_argument` unless `id` is a non-empty string (thrown, not rejected)
   */
  stockOf(id: string): { inStock: boolean; overrides: Record<string, RuleValue> };

  /** How many engine Workers exist and their total wasm memory, for monitoring. */
  memory(): Promise<{ workers: number; wasmBytes: number; perWorker: number[] }>;

  /**
   * Stops checking and terminates the Workers; later questions and update
   * controls reject with UnavailableError `closed`, and the history is closed.
   */
  close(): void;
}

// --- history ----------------------------------------------------------------

export interface HistoryEntry {
  id: string;
  /** When it was added, in milliseconds since the epoch. */
  at: number;
}

export interface ShopperHistoryEventMap {
  /** The history changed, in this tab or another. */
  change: Event;
}

/**
 * The shopper's history: item ids with timestamps, in IndexedDB on this
 * device only, shared by the tabs of the origin.
 */
export declare class ShopperHistory extends TypedEventTarget<ShopperHistory, ShopperHistoryEventMap> {
  /** Use `ShopperHistory.open` (or `EdgeRec#history`). */
  private constructor();

  /**
   * Opens (or creates) the history called `name` (default `"default"`), keeping the newest `limit` (default 50) items.
   * @throws {InputError} `invalid_argument`
   * @throws {UnavailableError} `storage_failed` (IndexedDB refused)
   */
  static open(name?: string, options?: { limit?: number }): Promise<ShopperHistory>;

  /** Item ids, oldest first. */
  list(): string[];

  /** Entries, oldest first. */
  entries(): HistoryEntry[];

  /**
   * Records that the shopper viewed `id` now; an id seen before moves to the end.
   * @throws {InputError} `invalid_argument` unless `id` is a non-empty string
   * @throws {UnavailableError} `closed`, `storage_failed`
   */
  add(id: string): Promise<void>;

  /**
   * Forgets everything, on this device, in every tab.
   * @throws {UnavailableError} `closed`, `storage_failed`
   */
  clear(): Promise<void>;

  close(): void;
}

// --- errors -----------------------------------------------------------------

// The unions below list exactly the codes of lib/codes.js (checked by tests/js/codes.test.mjs);
// docs/api.md says what each means.

/** Codes of InputError: the call is wrong; fix it. */
export type InputErrorCode =
  | 'invalid_argument'
  | 'invalid_k'
  | 'unknown_item'
  | 'unknown_user'
  | 'unknown_category'
  | 'empty_history'
  | 'bad_method';

/** Codes of BundleError: a model version failed a check and is not used. */
export type BundleErrorCode =
  | 'bundle_missing_manifest'
  | 'bundle_malformed_manifest'
  | 'bundle_unsupported_format'
  | 'bundle_missing_file'
  | 'bundle_unlisted_file'
  | 'bundle_size_mismatch'
  | 'bundle_hash_mismatch'
  | 'bundle_malformed_file'
  | 'bundle_wrong_dimensions'
  | 'bundle_non_finite'
  | 'bundle_unsupported_dtype'
  | 'bundle_bad_catalog'
  | 'bundle_inconsistent'
  | 'bundle_degenerate_factors'
  | 'bundle_bad_encoder'
  | 'bundle_parity_failed'
  | 'bundle_parity_missing'
  | 'bundle_bad_signature'
  | 'bundle_too_many_items'
  | 'bundle_dim_too_large'
  | 'bundle_sequence_too_long'
  | 'bundle_too_many_users'
  | 'bundle_too_many_categories'
  | 'bundle_too_many_memberships'
  | 'bundle_too_many_parity_cases'
  | 'bundle_too_many_files'
  | 'bundle_manifest_too_large'
  | 'bundle_file_too_large'
  | 'bundle_too_large'
  | 'engine_trap'
  | 'malformed_manifest'
  | 'bad_pointer'
  | 'bad_stock'
  | 'size_mismatch'
  | 'hash_mismatch'
  | 'not_a_bundle_file'
  | 'file_unavailable'
  | 'network_error'
  | 'server_error'
  | 'download_failed';

/** Codes of UnavailableError: nothing can answer right now. */
export type UnavailableErrorCode =
  | 'model_missing'
  | 'model_not_in_build'
  | 'part_of_version'
  | 'inference_failed'
  | 'internal'
  | 'no_cache_storage'
  | 'no_model'
  | 'wasm_unavailable'
  | 'worker_unavailable'
  | 'storage_failed'
  | 'closed'
  | 'worker_failed'
  | 'call_timeout'
  | 'load_timeout'
  | 'signature_unsupported'
  | 'version_not_cached'
  | 'pin_failed';

/** Every code edgerec reports. */
export type EdgeRecErrorCode = InputErrorCode | BundleErrorCode | UnavailableErrorCode;

/** Every error edgerec throws: a stable machine-readable `code`; the subclass says whose move it is. */
export declare class EdgeRecError extends Error {
  constructor(code: EdgeRecErrorCode, message: string);
  code: EdgeRecErrorCode;
}

/** The call's arguments are wrong (unknown id, bad k, empty history…): fix the call. */
export declare class InputError extends EdgeRecError {
  constructor(code: InputErrorCode, message: string);
  code: InputErrorCode;
}

/** A model version failed a check (download, size, SHA-256, parity…) and was not used. */
export declare class BundleError extends EdgeRecError {
  constructor(code: BundleErrorCode, message: string);
  code: BundleErrorCode;
}

/**
 * No model can answer right now: no Cache API, no usable version, instance
 * closed, Worker lost or replaced (`worker_failed`, `call_timeout`), storage
 * refused: try again later or show something else.
 */
export declare class UnavailableError extends EdgeRecError {
  constructor(code: UnavailableErrorCode, message: string);
  code: UnavailableErrorCode;
}

// --- low level --------------------------------------------------------------

/**
 * A loaded, verified bundle (the wasm-bindgen `Engine`), running in the
 * thread that opened it. Its methods throw plain `Error`s named
 * `"EdgeRecError"` with a `code` property (not instances of the classes above).
 */
export interface Engine {
  /** The bundle's version, from its manifest. */
  readonly version: string;
  /** The bundle's name, from its manifest. */
  readonly name: string;
  readonly itemCount: number;
  /** Which models the bundle has. */
  models(): Array<'similar' | 'factors' | 'next_up'>;
  /**
   * Models the bundle has that this build does not run: `['next_up']` in the
   * core build (`pkg-core`), else empty. `openEngine` uses the full build.
   */
  deferredModels(): Array<'next_up'>;
  items(): CatalogItem[];
  categories(): string[];
  similar(itemId: string, k: number, category?: string | null, rules?: Rules | null): Recommendations;
  /** For a user id known to the bundle's factor model (`unknown_user` otherwise). */
  forUser(userId: string, k: number, rules?: Rules | null): Recommendations;
  forHistory(itemIds: readonly string[], k: number, rules?: Rules | null): Recommendations;
  nextUp(itemIds: readonly string[], k: number, excludeHistory?: boolean, rules?: Rules | null): Recommendations;
  search(text: string, k: number, itemIds?: readonly string[] | null, rules?: Rules | null): Recommendations;
  trending(category: string | null | undefined, k: number, rules?: Rules | null): Recommendations;
  together(itemIds: readonly string[], k: number, rules?: Rules | null): Recommendations;
  /**
   * The answer of `similar`, `forHistory`, `nextUp` or `search` (with that
   * method's arguments) as catalog rows: row *i* is `items()[i]`. What the
   * engine Worker sends the page: two buffers to transfer, not objects.
   */
  rankRows(
    method: 'similar' | 'forHistory' | 'nextUp' | 'search' | 'trending' | 'together', args: unknown[],
  ): { version: string; rows: Uint32Array; scores: Float32Array; skipped: string[]; source: Recommendations['source'] };
  /** Frees the wasm memory the engine holds; the engine is unusable afterwards. */
  free(): void;
}

/**
 * Low level: fetches and verifies one bundle folder (one `versions/<v>/` of a
 * channel) and loads it in the calling thread, with no Worker and no updates.
 * Most pages want `EdgeRec.open`.
 * @throws {InputError} `invalid_argument` (a bad URL, limits or keys)
 * @throws {BundleError} `file_unavailable`, `bundle_malformed_manifest` (fetching the files)
 * @throws {Error} named `"EdgeRecError"` with a `bundle_*` `code` when a check fails
 *   (sizes, SHA-256, limits, signature, dimensions, parity cases)
 */
export declare function openEngine(
  bundleUrl: string | URL,
  options?: { limits?: Partial<Limits>; publicKeys?: readonly string[] },
): Promise<Engine>;
