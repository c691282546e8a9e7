// Types for `edgerec/sw` (edgerec-sw.js), imported by a site's own module
// service worker. Hand-written; keep in step with edgerec-sw.js.

export interface EdgeRecServiceWorkerOptions {
  /**
   * Keep a copy of every same-origin file the pages loaded (network first,
   * cache as fallback) so the site works offline. Default true.
   */
  offlineShell?: boolean;
  /** Milliseconds between checks of every watched channel while the worker is alive (default 60 000; 0: never). */
  checkEvery?: number;
  /** Minimum milliseconds between the checks made on page navigations (default 10 000). */
  navigationCheckGap?: number;
}

/**
 * Call once at the top level of the site's module service worker. It checks
 * the channels pages open with `EdgeRec.open({ serviceWorker })`, downloads and
 * verifies new versions and announces them to every page. Installs `install`,
 * `activate`, `message` and `fetch` listeners on the worker's global scope.
 */
export declare function installEdgeRecServiceWorker(options?: EdgeRecServiceWorkerOptions): void;
