#!/usr/bin/env node
// edgerec's command line, for sites: put a model channel into the site's
// static files, and check a channel a site serves.
//
//   npx edgerec channel copy <channel-dir> <target-dir>
//   npx edgerec channel verify <channel-dir-or-url> [--public-key KEY]...
//
// Both load every version they touch in the engine itself (the same wasm the
// page runs): sizes, hashes, signature, limits and parity cases.
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseManifest, pointerProblem } from '../lib/channel.js';
import { Engine, initSync } from '../pkg/edgerec.js';

const USAGE = `usage:
  edgerec channel copy <channel-dir> <target-dir>
      copies the channel's versions into <target-dir>, the channel's folder among the
      site's static files (versions already there must be identical), each verified
      first, then its stock file and latest.json last
  edgerec channel verify <channel-dir-or-url> [--public-key KEY]...
      checks the pointer and loads the version it names in the engine; for a URL,
      also reports the cache headers a browser sees`;

class Failure extends Error {}

let engineReady = false; // the wasm engine is instantiated once, on first use

const [group, command, ...rest] = process.argv.slice(2);
try {
  if (group === 'channel' && command === 'copy' && rest.length === 2) await copy(rest[0], rest[1]);
  else if (group === 'channel' && command === 'verify' && rest.length >= 1) await verifyCommand(rest);
  else {
    console.error(USAGE);
    process.exitCode = 2;
  }
} catch (error) {
  console.error(`edgerec: ${error instanceof Failure ? error.message : `${error.code ?? error.name}: ${error.message}`}`);
  process.exitCode = 1;
}

async function verifyCommand(args) {
  const [source, ...options] = args;
  const publicKeys = [];
  for (let i = 0; i < options.length; i += 2) {
    if (options[i] !== '--public-key' || options[i + 1] === undefined) throw new Failure(`unexpected ${options[i]}\n${USAGE}`);
    publicKeys.push(options[i + 1]);
  }
  const channel = reader(source);
  const { version } = await readPointer(channel);
  const report = await loadVersion(channel, version, publicKeys);
  console.log(`${source}: version ${version} OK: ${report}`);
  if (channel.headers) {
    for (const line of await cacheReport(channel, version)) console.log(line);
  }
}

async function copy(from, to) {
  const source = reader(from);
  if (source.headers) throw new Failure('copy reads a channel folder on disk, not a URL');
  const { version: latest, bytes: pointer } = await readPointer(source);
  const versions = (await readdir(join(from, 'versions'), { withFileTypes: true }).catch(() => []))
    .filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  let copied = 0;
  for (const version of versions) {
    const files = await versionFiles(source, version);
    await loadVersion(source, version, [], files);
    const target = join(to, 'versions', version);
    const existing = await readdir(target).catch(() => null);
    if (existing) {
      for (const [path, bytes] of Object.entries(files)) {
        const there = await readFile(join(target, path)).catch(() => null);
        if (!there || !Buffer.from(bytes).equals(there)) {
          throw new Failure(`${target}/${path} differs from ${from}: a published version never changes; publish a new one`);
        }
      }
      continue;
    }
    // The bytes the engine just verified, not a second read of the source.
    for (const [path, bytes] of Object.entries(files)) {
      await mkdir(dirname(join(target, path)), { recursive: true });
      await writeFile(join(target, path), bytes);
    }
    copied += 1;
  }
  // Stock files (not part of any version), then the pointer, last: a page never sees a
  // pointer to a version that is not all there.
  for (const name of ['stock.json', 'stock.sig']) {
    const bytes = await readFile(join(from, name)).catch(() => null);
    if (bytes) await atomicWrite(join(to, name), bytes);
  }
  await atomicWrite(join(to, 'latest.json'), pointer);
  console.log(`${resolve(to)}: ${copied} version(s) copied, ${versions.length - copied} already there; latest.json -> ${latest}`);
}

// --- reading a channel from a folder or a URL --------------------------------------

function reader(source) {
  if (/^https?:\/\//.test(source)) {
    const base = source.endsWith('/') ? source : `${source}/`;
    const headers = new Map();
    return {
      headers,
      async read(path, { optional = false } = {}) {
        const response = await fetch(new URL(path, base), { cache: 'no-store' });
        headers.set(path, response.headers);
        if (response.status === 404 && optional) return null;
        if (!response.ok) throw new Failure(`${new URL(path, base)}: HTTP ${response.status}`);
        return new Uint8Array(await response.arrayBuffer());
      },
    };
  }
  return {
    headers: null,
    async read(path, { optional = false } = {}) {
      try {
        return new Uint8Array(await readFile(join(source, path)));
      } catch (error) {
        if (optional && error.code === 'ENOENT') return null;
        throw new Failure(`${join(source, path)}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
      }
    },
  };
}

async function readPointer(channel) {
  const bytes = await channel.read('latest.json');
  let pointer;
  try {
    pointer = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new Failure(`latest.json is not JSON: ${error.message}`);
  }
  const problem = pointerProblem(pointer);
  if (problem) throw new Failure(`latest.json: ${problem}`);
  return { version: pointer.version, bytes };
}

/**
 * Every file of a version: the manifest, its signature if any, and each file it
 * lists (checked as the page checks them: names inside the folder, no repeats).
 */
async function versionFiles(channel, version) {
  const base = `versions/${version}/`;
  const manifestBytes = await channel.read(`${base}manifest.json`);
  let manifest;
  try {
    manifest = parseManifest(manifestBytes, version);
  } catch (error) {
    throw new Failure(`${base}: ${error.code}: ${error.message}`);
  }
  const files = { 'manifest.json': manifestBytes };
  const signature = await channel.read(`${base}manifest.sig`, { optional: true });
  if (signature) files['manifest.sig'] = signature;
  for (const { path } of manifest.files) files[path] = await channel.read(`${base}${path}`);
  return files;
}

/** Loads the version in the engine (all its checks and parity cases); a line about it. */
async function loadVersion(channel, version, publicKeys, files) {
  if (!engineReady) {
    initSync({ module: await readFile(new URL('../pkg/edgerec_bg.wasm', import.meta.url)) });
    engineReady = true;
  }
  const bytes = files ?? await versionFiles(channel, version);
  let engine;
  try {
    engine = new Engine(bytes, { publicKeys });
  } catch (error) {
    throw new Failure(`version ${version}: ${error.code ?? 'error'}: ${error.message ?? error}`);
  }
  try {
    const size = Object.values(bytes).reduce((sum, b) => sum + b.length, 0);
    return `${Object.keys(bytes).length} files, ${(size / 1e6).toFixed(2)} MB, ${engine.itemCount} items, `
      + `models ${engine.models().join(', ')}; sizes, hashes, ${publicKeys.length ? 'signature, ' : ''}limits and parity cases checked`;
  } finally {
    engine.free();
  }
}

// What a browser's cache does with the pointer and a version file, from the headers.
async function cacheReport(channel, version) {
  const lines = [];
  const pointer = channel.headers.get('latest.json');
  const pointerCache = pointer?.get('cache-control');
  const maxAge = Number(/max-age=(\d+)/.exec(pointerCache ?? '')?.[1] ?? NaN);
  if (pointerCache && !/no-cache|no-store/.test(pointerCache) && maxAge > 60) {
    lines.push(`warning: latest.json is served with "cache-control: ${pointerCache}": caches in front of the site may keep `
      + `an old pointer for ${maxAge} s (pages ask with cache: 'no-store', a CDN may not pass that on)`);
  } else {
    lines.push(`latest.json: cache-control ${pointerCache ?? '(none)'}`);
  }
  const manifestHeaders = channel.headers.get(`versions/${version}/manifest.json`);
  lines.push(`versions/${version}/: cache-control ${manifestHeaders?.get('cache-control') ?? '(none)'} `
    + '(a version never changes: a long max-age, even immutable, is safe)');
  return lines;
}

async function atomicWrite(path, bytes) {
  await mkdir(resolve(path, '..'), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
}
