// edgerec's service worker. A site's own module service worker calls
// installEdgeRecServiceWorker() at its top level:
//
//   import { installEdgeRecServiceWorker } from './edgerec/edgerec-sw.js';
//   installEdgeRecServiceWorker();
//
// It checks each watched channel's pointer (on activation, on page
// navigations, on a timer while alive, and when a page asks), downloads and
// verifies new versions (lib/channel.js) and announces them to every page.
// With `offlineShell`, it also keeps a copy of every same-origin file the
// pages loaded (network first, cache as fallback) so the shop works offline.
import { CACHE_NAME, update } from './lib/channel.js';

const SHELL_CACHE = 'edgerec-shell';
const WATCHED_KEY = new URL('./.edgerec-watched-channels', self.registration.scope).href;

export function installEdgeRecServiceWorker({ offlineShell = true, checkEvery = 60_000, navigationCheckGap = 10_000 } = {}) {
  let watched = null;
  let lastNavigationCheck = 0;

  const watchedChannels = async () => {
    if (!watched) {
      const response = await (await caches.open(CACHE_NAME)).match(WATCHED_KEY);
      watched = new Set(response ? await response.json() : []);
    }
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
  self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim().then(checkAll)));

  self.addEventListener('message', (event) => {
    const message = event.data;
    if (message?.type === 'edgerec:watch' && typeof message.channel === 'string') {
      event.waitUntil(watch(message.channel)
        .then(() => offlineShell && keepForOffline(message.shell, watched))
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
      (underChannel(request.url, channels) ? fetch(request) : networkFirst(request))));
  });

  if (checkEvery > 0) setInterval(checkAll, checkEvery);
}

async function networkFirst(request) {
  const cache = await caches.open(SHELL_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === 'basic') await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(request, { ignoreVary: true });
    if (cached) return cached;
    throw error;
  }
}

// Stores what a page already loaded, so a reload works offline even though
// the first visit was not served through this worker.
async function keepForOffline(urls, channels) {
  if (!Array.isArray(urls)) return;
  const cache = await caches.open(SHELL_CACHE);
  for (const raw of new Set(urls)) {
    const url = new URL(raw, self.location.href);
    url.hash = '';
    if (url.origin !== self.location.origin || underChannel(url.href, channels)) continue;
    if (await cache.match(url.href)) continue;
    const response = await fetch(url.href).catch(() => null);
    if (response?.ok) await cache.put(url.href, response);
  }
}

function underChannel(url, channels) {
  for (const channel of channels ?? []) if (url.startsWith(channel)) return true;
  return false;
}
