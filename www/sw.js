// The demo site's service worker, at the site root so its scope covers the
// shop pages and edgerec's own files: what a shop using the package writes.
// The offline copy holds the shop and edgerec's files, nothing else.
import { installEdgeRecServiceWorker } from './edgerec-sw.js';

installEdgeRecServiceWorker({ offlineShell: ['./demo/', './edgerec.js', './lib/', './pkg/', './pkg-core/'] });
