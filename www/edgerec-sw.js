// edgerec's service worker. A site's own module service worker calls
// installEdgeRecServiceWorker() at its top level:
//
//   import { installEdgeRecServiceWorker } from './edgerec/edgerec-sw.js';
//   installEdgeRecServiceWorker({ offlineShell: ['/shop/', '/edgerec/'] });
//
// It checks each watched channel's pointer (on activation, on page
// navigations, on a timer while alive, and when a page asks), downloads and
// verifies new versions (lib/channel.js) with the public keys and limits the
// page opened the channel with, and announces them to every page.
// With `offlineShell` it also keeps a copy of the same-origin files the site
// opted into (network first, cache as fallback), so the shop works offline;
// the copy is bounded in entries and bytes, oldest out first.
import { CACHE_NAME, parsePublicKeys, update } from './lib/channel.js';
import { resolveLimits } from './lib/limits.js';

const SHELL_CACHE = 'edgerec-shell';
const WATCHED_KEY = new URL('./.edgerec-watched-channels', self.registration.scope).href;
// The offline copy's bookkeeping, kept in the shell cache itself: [{ url, bytes, storedAt }].
const SHELL_INDEX_KEY = new URL('./.edgerec-shell-index', self.registration.scope).href;

export function installEdgeRecServiceWorker({
  offlineShell = false, offlineMaxEntries = 200, offlineMaxBytes = 50 * 2 ** 20,
  checkEvery = 60_000, navigationCheckGap = 10_000,
} = {}) {
  const wanted = shellRule(offlineShell);
  const shell = wanted && new ShellCopy({ maxEntries: offlineMaxEntries, maxBytes: offlineMaxBytes });
  let watched = null; // a promise of Map channel -> { channel, publicKeys, limits }, shared by concurrent first calls
  let lastNavigationCheck = 0;

  const watchedChannels = () => {
    watched ??= caches.open(CACHE_NAME)
      .then((cache) => cache.match(WATCHED_KEY))
      .then((response) => (response ? response.json() : []))
      .then((entries) => new Map((Array.isArray(entries) ? entries : []).map(watchEntry).filter(Boolean)
        .map((entry) => [entry.channel, entry])), () => new Map());
    return watched;
  };
  // The page's keys and limits travel with the channel: background checks verify as the page would.
  const watch = async (message) => {
    const entry = watchEntry(message);
    if (!entry) return null;
    const channels = await watchedChannels();
    if (JSON.stringify(channels.get(entry.channel)) !== JSON.stringify(entry)) {
      channels.set(entry.channel, entry);
      await (await caches.open(CACHE_NAME)).put(WATCHED_KEY, Response.json([...channels.values()]));
    }
    return entry;
  };
  const check = ({ channel, publicKeys, limits }) => update(channel, { publicKeys, limits }).catch(() => {});
  const checkAll = async () => {
    for (const entry of (await watchedChannels()).values()) await check(entry);
  };
  const channelPrefixes = async () => [...(await watchedChannels()).keys()];

  self.addEventListener('install', (event) => event.waitUntil(self.skipWaiting()));
  // Claim at once; the check runs after activation, since fetches wait while this worker activates.
  self.addEventListener('activate', (event) => {
    event.waitUntil(Promise.all([
      self.clients.claim(),
      shell ? shell.prune(wanted) : caches.delete(SHELL_CACHE), // an opt-out forgets what was kept
    ]));
    setTimeout(() => checkAll(), 0);
  });

  self.addEventListener('message', (event) => {
    const message = event.data;
    if (message?.type === 'edgerec:watch') {
      event.waitUntil(watch(message).then(async (entry) => {
        if (!entry) return;
        if (shell) await shell.keepAll(message.shell, wanted, await channelPrefixes());
        await check(entry);
      }));
    } else if (message?.type === 'edgerec:shell' && shell) {
      event.waitUntil(channelPrefixes().then((channels) => shell.keepAll(message.urls, wanted, channels)));
    } else if (message?.type === 'edgerec:check') {
      event.waitUntil(checkAll());
    }
  });

  self.addEventListener('fetch', (event) => {
    const request = event.request;
    const url = new URL(request.url);
    if (request.method !== 'GET' || url.origin !== self.location.origin) return;
    if (request.mode === 'navigate' && Date.now() - lastNavigationCheck > navigationCheckGap) {
      lastNavigationCheck = Date.now();
      event.waitUntil(checkAll());
    }
    // Anything the site did not opt into goes to the network untouched.
    if (!shell || !wanted(url) || request.cache === 'no-store' || request.headers.has('range')) return;
    event.respondWith(channelPrefixes().then((channels) =>
      // Channel files are versioned and verified by the updater; the pointer must never be cached.
      (underChannel(url.href, channels) ? fetch(request) : networkFirst(event, request, shell))));
  });

  if (checkEvery > 0) setInterval(checkAll, checkEvery);
}

// A watched channel as stored: its URL and the options its page opened it
// with. Returns null for a message whose keys or limits are unusable: such a
// channel is not checked in the background at all, rather than checked with
// fewer guarantees than the page asked for.
function watchEntry(message) {
  const entry = typeof message === 'string' ? { channel: message } : message;
  if (typeof entry?.channel !== 'string') return null;
  const publicKeys = entry.publicKeys ?? [];
  try {
    parsePublicKeys(publicKeys);
  } catch {
    return null;
  }
  const limits = entry.limits ?? undefined;
  if (resolveLimits(limits).error) return null;
  return { channel: entry.channel, publicKeys, ...(limits && { limits }) };
}

/**
 * `offlineShell` as a test on a URL: false (nothing kept), a list of URL
 * prefixes (resolved against the service worker script's URL), or a
 * predicate. Only same-origin URLs without a query string ever qualify.
 */
function shellRule(offlineShell) {
  if (offlineShell === false || offlineShell === undefined || offlineShell === null) return null;
  let test;
  if (typeof offlineShell === 'function') {
    test = (url) => {
      try {
        return offlineShell(new URL(url.href)) === true;
      } catch {
        return false;
      }
    };
  } else if (Array.isArray(offlineShell) && offlineShell.every((p) => typeof p === 'string' || p instanceof URL)) {
    const prefixes = offlineShell.map((p) => {
      const url = new URL(p, self.location.href);
      url.search = '';
      url.hash = '';
      return url.href;
    });
    test = (url) => prefixes.some((prefix) => url.href.startsWith(prefix));
  } else {
    throw new TypeError('installEdgeRecServiceWorker: offlineShell must be false, an array of URL prefixes or a function (url) => boolean');
  }
  return (url) => url.origin === self.location.origin && url.search === '' && url.hash === '' && test(url);
}

// The offline copy: what the site opted into, at most `maxEntries` files and
// `maxBytes` bytes, the least recently stored going first. Every change of
// the cache and its index runs in one queue, so the index stays true.
class ShellCopy {
  #queue = Promise.resolve();

  constructor({ maxEntries, maxBytes }) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0 || !Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new TypeError('installEdgeRecServiceWorker: offlineMaxEntries and offlineMaxBytes must be whole numbers >= 0');
    }
    this.maxEntries = maxEntries;
    this.maxBytes = maxBytes;
  }

  #serial(task) {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #open() {
    const cache = await caches.open(SHELL_CACHE);
    const response = await cache.match(SHELL_INDEX_KEY);
    const index = response ? await response.json().catch(() => []) : [];
    return { cache, index: Array.isArray(index) ? index.filter((e) => typeof e?.url === 'string') : [] };
  }

  #save(cache, index) {
    return cache.put(SHELL_INDEX_KEY, Response.json(index));
  }

  /** Serves `request` from the copy, or undefined. */
  async match(request) {
    return (await caches.open(SHELL_CACHE)).match(request, { ignoreVary: true });
  }

  /** Stores a whole response for `url`, then evicts the oldest entries over the bounds. */
  keep(url, response) {
    return this.#serial(async () => {
      const bytes = (await response.clone().blob()).size;
      if (bytes > this.maxBytes || this.maxEntries === 0) return;
      const { cache, index } = await this.#open();
      await cache.put(url, response);
      const entries = index.filter((e) => e.url !== url);
      entries.push({ url, bytes, storedAt: Date.now() });
      await this.#save(cache, await this.#evict(cache, entries));
    });
  }

  async #evict(cache, entries) {
    entries.sort((a, b) => a.storedAt - b.storedAt);
    let total = entries.reduce((sum, e) => sum + e.bytes, 0);
    while (entries.length > this.maxEntries || total > this.maxBytes) {
      const oldest = entries.shift();
      total -= oldest.bytes;
      await cache.delete(oldest.url);
    }
    return entries;
  }

  /** Fetches and keeps the files a page already loaded (its first visit was not served through this worker). */
  async keepAll(urls, wanted, channels) {
    if (!Array.isArray(urls)) return;
    const { index } = await this.#open();
    const known = new Set(index.map((e) => e.url));
    for (const raw of new Set(urls)) {
      let url;
      try {
        url = new URL(raw, self.location.href);
      } catch {
        continue;
      }
      url.hash = '';
      if (!wanted(url) || underChannel(url.href, channels) || known.has(url.href)) continue;
      const response = await fetch(url.href).catch(() => null);
      if (keepable(response)) await this.keep(url.href, response);
    }
  }

  /** Drops what the current rule no longer wants, and anything the index does not account for. */
  prune(wanted) {
    return this.#serial(async () => {
      const { cache, index } = await this.#open();
      const entries = index.filter((e) => wanted(new URL(e.url)));
      const listed = new Set(entries.map((e) => e.url));
      for (const request of await cache.keys()) {
        if (request.url !== SHELL_INDEX_KEY && !listed.has(request.url)) await cache.delete(request);
      }
      await this.#save(cache, await this.#evict(cache, entries));
    });
  }
}

async function networkFirst(event, request, shell) {
  let response;
  try {
    response = await fetch(request);
  } catch (error) {
    const cached = await shell.match(request);
    if (cached) return cached;
    throw error;
  }
  // Storing happens beside the response, never in its way.
  if (keepable(response)) event.waitUntil(shell.keep(request.url, response.clone()).catch(() => {}));
  return response;
}

// Only whole, plain answers the server allows to be stored.
function keepable(response) {
  return response?.status === 200 && response.type === 'basic'
    && !/no-store/.test(response.headers.get('cache-control') ?? '');
}

function underChannel(url, channels) {
  for (const channel of channels ?? []) if (url.startsWith(channel)) return true;
  return false;
}
