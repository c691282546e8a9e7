// edgerec's JavaScript layer: fetches a bundle and hands its bytes to the
// wasm engine. Verification (sizes, SHA-256, parity) happens in the engine.
import init, { Engine } from './pkg/edgerec.js';

let ready;

/** Loads the wasm module once; later calls reuse it. */
export function initWasm() {
  ready ??= init({ module_or_path: new URL('./pkg/edgerec_bg.wasm', import.meta.url) });
  return ready;
}

/**
 * Fetches every file a bundle's manifest lists.
 * @param {string|URL} bundleUrl folder holding manifest.json
 * @returns {Promise<Record<string, Uint8Array>>}
 */
export async function fetchBundle(bundleUrl) {
  const base = new URL(bundleUrl, document.baseURI ?? location.href);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  const manifestBytes = await fetchBytes(new URL('manifest.json', base));
  let manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
  } catch (e) {
    throw new Error(`${base}manifest.json is not JSON: ${e.message}`);
  }
  const files = { 'manifest.json': manifestBytes };
  await Promise.all((manifest.files ?? []).map(async ({ path }) => {
    files[path] = await fetchBytes(new URL(path, base));
  }));
  return files;
}

/** Fetches, verifies and loads a bundle into a ready-to-query engine. */
export async function openEngine(bundleUrl) {
  await initWasm();
  return new Engine(await fetchBundle(bundleUrl));
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`fetching ${url} failed: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

export { Engine };
