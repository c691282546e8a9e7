// A static file server for end-to-end tests (no dependencies). Besides serving
// files it logs every request and lets a test rewrite any response, which is
// how the update tests inject faults.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { gzipSync } from 'node:zlib';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png',
};

/**
 * Serves `root` on 127.0.0.1 at a free port; `mounts` maps URL prefixes
 * ('/channel/') to other folders. Resolves to { url, requests, fault, close }:
 * `requests` lists { method, path, status, bytes }; set `fault(path, request,
 * response)` to answer a request yourself (return true when you did).
 * `gzip: true` compresses what a browser accepts gzipped, as a CDN does;
 * `isolated: true` sends the COOP/COEP headers of a cross-origin isolated
 * page (whose timers are precise to a few microseconds); `cors: true` lets
 * pages of any origin read the files, as a CDN does.
 */
export function serve(root, { mounts = {}, gzip = false, isolated = false, cors = false } = {}) {
  const requests = [];
  const compressed = new Map(); // file -> gzipped body
  const control = { fault: null };
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
    const entry = { method: request.method, path, url: request.url, status: 0, bytes: 0 };
    requests.push(entry);
    response.on('finish', () => { entry.status = response.statusCode; });
    if (control.fault?.(path, request, response, entry)) return;
    const [prefix, base] = Object.entries(mounts).find(([p]) => path.startsWith(p)) ?? ['/', root];
    let file = normalize(join(base, path.slice(prefix.length - 1)));
    if (!file.startsWith(normalize(base))) return response.writeHead(403).end();
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      let body = await readFile(file);
      const headers = { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' };
      if (gzip && /\bgzip\b/.test(request.headers['accept-encoding'] ?? '')) {
        if (!compressed.has(file)) compressed.set(file, gzipSync(body, { level: 9 }));
        body = compressed.get(file);
        headers['content-encoding'] = 'gzip';
      }
      entry.bytes = body.length;
      if (cors) headers['access-control-allow-origin'] = '*';
      if (isolated) {
        headers['cross-origin-opener-policy'] = 'same-origin';
        headers['cross-origin-embedder-policy'] = 'require-corp';
      }
      // Lets a service worker script in a subfolder control the whole origin, as sites do.
      if (file.endsWith('sw.js')) headers['service-worker-allowed'] = '/';
      response.writeHead(200, headers);
      response.end(body);
    } catch {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}/`,
    requests,
    set fault(handler) { control.fault = handler; },
    close: () => new Promise((done) => { server.closeAllConnections(); server.close(done); }),
  })));
}
