// Every error edgerec throws is an EdgeRecError with a stable `code`; the
// subclass says whose move it is. The codes and their classes: codes.js.
import { classOf } from './codes.js';

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

const CLASSES = { InputError, BundleError, UnavailableError };

/**
 * Rebuilds a typed error from its `{ code, message }` form (as it crosses from
 * a Worker). A code lib/codes.js does not know (a DOMException's number, a
 * misspelling) becomes `internal`, keeping the original in the message.
 */
export function errorFromCode(anyCode, message) {
  const errorClass = typeof anyCode === 'string' ? classOf(anyCode) : undefined;
  if (errorClass) return new CLASSES[errorClass](anyCode, message);
  return new UnavailableError('internal', anyCode === undefined ? message : `${String(anyCode)}: ${message}`);
}

/**
 * Any error as an EdgeRecError: edgerec's own pass through, coded errors
 * (the updater's, the engine's) get their class, anything else is `internal`.
 */
export function asEdgeRecError(error) {
  if (error instanceof EdgeRecError) return error;
  return errorFromCode(error?.code, String(error?.message ?? error));
}
