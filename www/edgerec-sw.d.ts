// Types for `edgerec/sw` (edgerec-sw.js), imported by a site's own module
// service worker. Hand-written; keep in step with edgerec-sw.js.

export interface EdgeRecServiceWorkerOptions {
  /**
   * Which same-origin files to keep a copy of, so the site works offline
   * (network first, the copy as fallback). `false` (default): none. An array:
   * URL prefixes or whole URLs, relative ones resolved against the service
   * worker script's URL (e.g. `['/shop/', '/edgerec/']`). A function: called
   * with each candidate URL. URLs with a query string, other origins and
   * channel files are never kept. Keep personal pages (account, orders) out.
   */
  offlineShell?: false | ReadonlyArray<string | URL> | ((url: URL) => boolean);
  /** At most this many files in the offline copy; the least recently stored go first (default 200). */
  offlineMaxEntries?: number;
  /** At most this many bytes in the offline copy; the least recently stored go first (default 50 MB). */
  offlineMaxBytes?: number;
  /** Milliseconds between checks of every watched channel while the worker is alive (default 60 000; 0: never). */
  checkEvery?: number;
  /** Minimum milliseconds between the checks made on page navigations (default 10 000). */
  navigationCheckGap?: number;
}

/**
 * Call once at the top level of the site's module service worker. It checks
 * the channels pages open with `EdgeRec.open({ serviceWorker })`, with the
 * public keys and limits those pages pass, downloads and verifies new
 * versions and announces them to every page. Installs `install`, `activate`,
 * `message` and `fetch` listeners on the worker's global scope. Throws a
 * TypeError for options it cannot use.
 */
export declare function installEdgeRecServiceWorker(options?: EdgeRecServiceWorkerOptions): void;
