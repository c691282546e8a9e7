// The demo site's service worker, at the site root so its scope covers the
// shop pages and edgerec's own files: what a shop using the package writes.
import { installEdgeRecServiceWorker } from './edgerec-sw.js';

installEdgeRecServiceWorker();
