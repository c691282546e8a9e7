// Every error code edgerec reports, once: its class (whose move it is) and
// what it means. errors.js builds errors from this table; the TypeScript
// unions (edgerec.d.ts) and the tables in docs/api.md are checked against it
// by tests/js/codes.test.mjs.
//
// `from` says who reports the code: 'engine' (the Rust engine, src/), 'updater'
// (lib/channel.js, while downloading a version) or 'page' (this JS layer).

const INPUT = 'InputError';
const BUNDLE = 'BundleError';
const UNAVAILABLE = 'UnavailableError';

/** The three classes, in the order the docs list them. */
export const ERROR_CLASSES = Object.freeze([INPUT, BUNDLE, UNAVAILABLE]);

const table = [
  // --- InputError: the call is wrong; fix it ---------------------------------
  ['invalid_argument', INPUT, 'engine', 'an argument or option has the wrong type or shape; the message names it'],
  ['invalid_k', INPUT, 'engine', '`k` is not a whole number from 1 to 1000'],
  ['unknown_item', INPUT, 'engine', 'the item id is not in the serving version\'s catalog'],
  ['unknown_user', INPUT, 'engine', 'the user id is not in the serving version\'s factor model'],
  ['unknown_category', INPUT, 'engine', 'the category is not in the serving version\'s catalog'],
  ['empty_history', INPUT, 'engine', 'no id of the history is in the serving version\'s catalog'],
  ['bad_method', INPUT, 'page', 'the engine Worker was asked for a method it does not have'],

  // --- BundleError: a model version failed a check and is not used ------------
  ['bundle_missing_manifest', BUNDLE, 'engine', 'the version has no manifest.json'],
  ['bundle_malformed_manifest', BUNDLE, 'engine', 'manifest.json is not JSON or lacks a required field'],
  ['bundle_unsupported_format', BUNDLE, 'engine',
    'the manifest\'s format is a major version this engine does not read; only this tab refuses it'],
  ['bundle_missing_file', BUNDLE, 'engine', 'a file the manifest lists is missing'],
  ['bundle_unlisted_file', BUNDLE, 'engine', 'a file was given that the manifest does not list'],
  ['bundle_size_mismatch', BUNDLE, 'engine', 'a file\'s size differs from the manifest'],
  ['bundle_hash_mismatch', BUNDLE, 'engine', 'a file\'s SHA-256 differs from the manifest'],
  ['bundle_malformed_file', BUNDLE, 'engine', 'a file cannot be decoded'],
  ['bundle_wrong_dimensions', BUNDLE, 'engine', 'a matrix\'s dimensions do not match its file or the other models'],
  ['bundle_non_finite', BUNDLE, 'engine', 'a matrix holds NaN or infinity'],
  ['bundle_unsupported_dtype', BUNDLE, 'engine', 'a matrix\'s dtype is not one this engine reads'],
  ['bundle_bad_catalog', BUNDLE, 'engine', 'the catalog is invalid (duplicate or empty ids, bad categories)'],
  ['bundle_inconsistent', BUNDLE, 'engine', 'the models disagree with each other or with the catalog'],
  ['bundle_degenerate_factors', BUNDLE, 'engine', 'the factor model cannot fold a history in (singular matrix)'],
  ['bundle_bad_encoder', BUNDLE, 'engine', 'the next-up encoder cannot be loaded or has the wrong shape'],
  ['bundle_parity_failed', BUNDLE, 'engine', 'a parity case\'s answer differs from the recorded one beyond the tolerance'],
  ['bundle_parity_missing', BUNDLE, 'engine', 'a model has no parity case'],
  ['bundle_bad_signature', BUNDLE, 'engine',
    'with `publicKeys` set: manifest.sig is missing, malformed or does not verify with any key'],
  ['bundle_too_many_items', BUNDLE, 'engine', 'more catalog items than `limits.maxItems`'],
  ['bundle_dim_too_large', BUNDLE, 'engine', 'a matrix has more columns than `limits.maxDim`'],
  ['bundle_sequence_too_long', BUNDLE, 'engine', 'the next-up `max_len` exceeds `limits.maxSequenceLength`'],
  ['bundle_too_many_users', BUNDLE, 'engine', 'more factor-model users than `limits.maxUsers`'],
  ['bundle_too_many_categories', BUNDLE, 'engine', 'more categories than `limits.maxCategories`'],
  ['bundle_too_many_memberships', BUNDLE, 'engine',
    'more item-in-category memberships than `limits.maxCategoryMemberships`'],
  ['bundle_too_many_parity_cases', BUNDLE, 'engine', 'more parity cases than `limits.maxParityCases`'],
  ['bundle_too_many_files', BUNDLE, 'engine', 'the manifest lists more files than `limits.maxFiles`'],
  ['bundle_manifest_too_large', BUNDLE, 'engine', 'manifest.json is larger than `limits.maxManifestBytes`'],
  ['bundle_file_too_large', BUNDLE, 'engine', 'a file is larger than `limits.maxFileBytes`'],
  ['bundle_too_large', BUNDLE, 'engine', 'all files together are larger than `limits.maxBundleBytes`'],
  ['engine_trap', BUNDLE, 'page',
    'the engine trapped (a panic, or out of memory) on this version; the message carries the panic message'],
  ['malformed_manifest', BUNDLE, 'updater', 'the manifest is not JSON, names another version, or has a bad file entry'],
  ['bad_pointer', BUNDLE, 'updater', 'latest.json names something other than `versions/<v>/manifest.json` in the channel'],
  ['bad_stock', BUNDLE, 'updater', 'the channel\'s stock.json is not JSON, too large, or not `{ out_of_stock, overrides }`; the stock served before stays'],
  ['size_mismatch', BUNDLE, 'updater', 'a download is shorter or longer than the manifest says'],
  ['hash_mismatch', BUNDLE, 'updater', 'a download\'s SHA-256 differs from the manifest'],
  ['not_a_bundle_file', BUNDLE, 'updater',
    'the server sent an HTML page (a login or error page) instead of a file; tried again later'],
  ['file_unavailable', BUNDLE, 'updater', 'the manifest or a file answered 404 (or another 4xx); tried again later'],
  ['network_error', BUNDLE, 'updater', 'a download kept being interrupted; tried again later'],
  ['server_error', BUNDLE, 'updater', 'the server kept answering 5xx, 408 or 429; tried again later'],
  ['download_failed', BUNDLE, 'updater', 'storing a download failed (quota, say); tried again later'],

  // --- UnavailableError: nothing can answer right now -------------------------
  ['model_missing', UNAVAILABLE, 'engine', 'the serving version has no model for this question'],
  ['model_not_in_build', UNAVAILABLE, 'engine', 'the core engine build does not run this model (next up waits for the full build)'],
  ['part_of_version', UNAVAILABLE, 'engine', 'an engine holding one shard of a split version was asked a whole-version question (a bug)'],
  ['inference_failed', UNAVAILABLE, 'engine', 'the next-up encoder failed while running'],
  ['internal', UNAVAILABLE, 'engine', 'an unexpected error (a bug); the message says more'],
  ['no_cache_storage', UNAVAILABLE, 'page', 'no Cache API: the page is not served over https or from localhost'],
  ['no_model', UNAVAILABLE, 'page', 'no version could be downloaded or loaded; the message says why for each'],
  ['wasm_unavailable', UNAVAILABLE, 'page', 'the engine\'s .wasm file could not be fetched or compiled'],
  ['worker_unavailable', UNAVAILABLE, 'page', 'the engine\'s Worker could not be started (a Content-Security-Policy forbids it, or no Workers)'],
  ['storage_failed', UNAVAILABLE, 'page', 'IndexedDB or the Cache API refused a read or write (quota, private mode)'],
  ['closed', UNAVAILABLE, 'page', 'the instance (or history) is closed'],
  ['worker_failed', UNAVAILABLE, 'page', 'the engine Worker stopped; it is being replaced'],
  ['call_timeout', UNAVAILABLE, 'page', 'the engine did not answer within `callTimeoutMs`; its Worker is replaced'],
  ['load_timeout', UNAVAILABLE, 'page', 'a version did not load within `loadTimeoutMs`; tried again later'],
  ['signature_unsupported', UNAVAILABLE, 'updater',
    'this browser cannot verify Ed25519 signatures (no WebCrypto Ed25519); tried again later'],
  ['version_not_cached', UNAVAILABLE, 'page', 'the version asked for (pin, rollback) is not in the cache'],
  ['pin_failed', UNAVAILABLE, 'page', 'the version asked for could not be switched to'],
];

/**
 * Engine refusals that depend on the refusing page (its engine's format, its
 * `limits`, its `publicKeys`) rather than on the version alone: that page
 * refuses the version, but does not reject it for the other tabs of the
 * origin, which may run a newer engine or other settings.
 */
export const PAGE_DEPENDENT_REFUSALS = Object.freeze(new Set([
  'bundle_unsupported_format', 'bundle_unsupported_dtype', 'bundle_bad_signature', 'bundle_too_many_items', 'bundle_dim_too_large',
  'bundle_sequence_too_long', 'bundle_too_many_users', 'bundle_too_many_categories', 'bundle_too_many_memberships',
  'bundle_too_many_parity_cases', 'bundle_too_many_files', 'bundle_manifest_too_large', 'bundle_file_too_large',
  'bundle_too_large',
]));

/** code -> { code, errorClass, from, meaning }, in the order above. */
export const CODES = Object.freeze(Object.fromEntries(table.map(([code, errorClass, from, meaning]) =>
  [code, Object.freeze({ code, errorClass, from, meaning })])));

/** The class name ('InputError', 'BundleError' or 'UnavailableError') of `code`, or undefined. */
export function classOf(code) {
  return Object.hasOwn(CODES, code) ? CODES[code].errorClass : undefined;
}

/** The codes of one class, in table order. */
export function codesOf(errorClass) {
  return Object.values(CODES).filter((entry) => entry.errorClass === errorClass).map((entry) => entry.code);
}
