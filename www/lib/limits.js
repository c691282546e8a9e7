// The limits a bundle must fit before anything of it is downloaded or
// allocated. The same names and defaults as the Rust engine's `Limits`
// (src/bundle/limits.rs); docs/bundle-format.md explains each. The defaults
// fit a shop of about a million items; `EdgeRec.open({ limits })` overrides them.

export const DEFAULT_LIMITS = Object.freeze({
  /** Catalog items (rows of every item matrix). */
  maxItems: 2_000_000,
  /** Columns of any matrix (embedding and factor dimensions). */
  maxDim: 1_024,
  /** The next-up encoder's history length (`max_len`). */
  maxSequenceLength: 1_024,
  /** Users of the factor model. */
  maxUsers: 5_000_000,
  /** Distinct categories in the catalog. */
  maxCategories: 100_000,
  /** Item-in-category memberships, summed over all items. */
  maxCategoryMemberships: 20_000_000,
  /** Parity cases in the manifest (each model needs at least one). */
  maxParityCases: 1_000,
  /** Files listed in the manifest. */
  maxFiles: 64,
  /** Bytes of manifest.json. */
  maxManifestBytes: 4 * 2 ** 20,
  /** Bytes of any one file. */
  maxFileBytes: 768 * 2 ** 20,
  /** Bytes of all files of a version together. */
  maxBundleBytes: 1_536 * 2 ** 20,
});

/**
 * `DEFAULT_LIMITS` with `overrides` applied. Returns `{ limits }` or `{ error }`
 * naming the first bad entry (unknown name, or not a whole number >= 1).
 */
export function resolveLimits(overrides) {
  if (overrides === undefined || overrides === null) return { limits: { ...DEFAULT_LIMITS } };
  if (typeof overrides !== 'object' || Array.isArray(overrides)) {
    return { error: 'limits must be an object like { maxItems: 100000 }' };
  }
  const limits = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(overrides)) {
    if (!(name in DEFAULT_LIMITS)) {
      return { error: `limits.${name} is not a limit (known: ${Object.keys(DEFAULT_LIMITS).join(', ')})` };
    }
    if (!Number.isSafeInteger(value) || value < 1) {
      return { error: `limits.${name} must be a whole number >= 1, got ${String(value)}` };
    }
    limits[name] = value;
  }
  return { limits };
}
