// Every error edgerec throws is an EdgeRecError with a stable `code`; the
// subclass says whose move it is.

export class EdgeRecError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'EdgeRecError';
    this.code = code;
  }
}

/** The call's arguments are wrong (unknown id, bad k, empty history…): fix the call. */
export class InputError extends EdgeRecError {
  constructor(code, message) {
    super(code, message);
    this.name = 'InputError';
  }
}

/** A model version failed a check (download, size, SHA-256, parity…) and was not used. */
export class BundleError extends EdgeRecError {
  constructor(code, message) {
    super(code, message);
    this.name = 'BundleError';
  }
}

/** No model can answer right now (none cached and offline, instance closed, worker lost). */
export class UnavailableError extends EdgeRecError {
  constructor(code, message) {
    super(code, message);
    this.name = 'UnavailableError';
  }
}

const INPUT_CODES = new Set(['invalid_k', 'invalid_argument', 'unknown_item', 'unknown_user', 'unknown_category',
  'empty_history', 'bad_method']);
const BUNDLE_CODES = new Set(['malformed_manifest', 'size_mismatch', 'hash_mismatch', 'not_a_bundle_file',
  'file_unavailable', 'network_error', 'server_error', 'download_failed']);

/** Rebuilds a typed error from its `{ code, message }` form (as it crosses from a Worker). */
export function errorFromCode(anyCode, message) {
  const code = typeof anyCode === 'string' ? anyCode : 'internal';
  if (INPUT_CODES.has(code)) return new InputError(code, message);
  if (code.startsWith('bundle_') || BUNDLE_CODES.has(code)) return new BundleError(code, message);
  return new UnavailableError(code, message);
}
