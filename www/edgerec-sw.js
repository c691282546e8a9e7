// edgerec's service worker. A site's own module service worker calls
// installEdgeRecServiceWorker() at its top level:
//
//   import { installEdgeRecServiceWorker } from './edgerec/edgerec-sw.js';
//   installEdgeRecServiceWorker();
//
// It checks each watched channel's pointer (on activation, on page
// navigations, on a timer while alive, and when a page asks), downloads and
// verifies new versions (lib/channel.js) and announces them to every page.
// With `offlineShell`, it also keeps a copy of every same-origin file without
// a query string that the pages loaded (network first, cache as fallback), so
// the shop works offline.
import { CACHE_NAME, update } from './lib/channel.js';

const SHELL_CACHE = 'edgerec-shell';
const WATCHED_KEY = new URL('./.edgerec-watched-channels', self.registration.scope).href;

export function installEdgeRecServiceWorker({ offlineShell = true, checkEvery = 60_000, navigationCheckGap = 10_000 } = {}) {
  let watched = null; // a promise, so concurrent first calls share one Set
  let lastNavigationCheck = 0;

  const watchedChannels = () => {
    watched ??= caches.open(CACHE_NAME)
      .then((cache) => cache.match(WATCHED_KEY))
      .then((response) => (response ? response.json() : []))
      .then((channels) => new Set(Array.isArray(channels) ? channels : []), () => new Set());
    return watched;
  };
  const watch = async (channel) => {
    const channels = await watchedChannels();
    if (channels.has(channel)) return;
    channels.add(channel);
    await (await caches.open(CACHE_NAME)).put(WATCHED_KEY, Response.json([...channels]));
  };
  const checkAll = async () => {
    for (const channel of await watchedChannels()) await update(channel).catch(() => {});
  };

  self.addEventListener('install', (event) => event.waitUntil(self.skipWaiting()));
  // Claim at once; the check runs after activation, since fetches wait while this worker activates.
  self.addEventListener('activate', (event) => {
    event.waitUntil(self.clients.claim());
    setTimeout(() => checkAll(), 0);
  });

  self.addEventListener('message', (event) => {
    const message = event.data;
    if (message?.type === 'edgerec:watch' && typeof message.channel === 'string') {
      event.waitUntil(watch(message.channel)
        .then(async () => offlineShell && keepForOffline(message.shell, await watchedChannels()))
        .then(() => update(message.channel)));
    } else if (message?.type === 'edgerec:shell' && offlineShell) {
      event.waitUntil(watchedChannels().then((channels) => keepForOffline(message.urls, channels)));
    } else if (message?.type === 'edgerec:check') {
      event.waitUntil(checkAll());
    }
  });

  self.addEventListener('fetch', (event) => {
    const request = event.request;
    if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
    if (request.mode === 'navigate' && Date.now() - lastNavigationCheck > navigationCheckGap) {
      lastNavigationCheck = Date.now();
      event.waitUntil(checkAll());
    }
    if (!offlineShell) return;
    event.respondWith(watchedChannels().then((channels) =>
      // Channel files are versioned and verified by the updater; the pointer must never be cached.
      (underChannel(request.url, channels) || !keepable(request.url) || request.cache === 'no-store'
        ? fetch(request) : networkFirst(event, request))));
  });

  if (checkEvery > 0) setInterval(checkAll, checkEvery);
}

async function networkFirst(event, request) {
  let response;
  try {
    response = await fetch(request);
  } catch (error) {
    const cached = await (await caches.open(SHELL_CACHE)).match(request, { ignoreVary: true });
    if (cached) return cached;
    throw error;
  }
  // Only whole, plain answers are kept; storing happens beside the response, never in its way.
  if (response.status === 200 && response.type === 'basic' && !request.headers.has('range')
    && !/no-store/.test(response.headers.get('cache-control') ?? '')) {
    const copy = response.clone();
    event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.put(request, copy)).catch(() => {}));
  }
  return response;
}

// Same-origin files without a query string: pages, scripts, styles, wasm.
// Anything with a query (APIs, tracking pixels) is neither kept nor re-requested.
function keepable(url) {
  const parsed = new URL(url);
  return parsed.origin === self.location.origin && parsed.search === '';
}

// Stores what a page already loaded, so a reload works offline even though
// the first visit was not served through this worker.
async function keepForOffline(urls, channels) {
  if (!Array.isArray(urls)) return;
  const cache = await caches.open(SHELL_CACHE);
  for (const raw of new Set(urls)) {
    const url = new URL(raw, self.location.href);
    url.hash = '';
    if (!keepable(url.href) || underChannel(url.href, channels)) continue;
    if (await cache.match(url.href)) continue;
    const response = await fetch(url.href).catch(() => null);
    if (response?.ok) await cache.put(url.href, response);
  }
}

function underChannel(url, channels) {
  for (const channel of channels ?? []) if (url.startsWith(channel)) return true;
  return false;
}
