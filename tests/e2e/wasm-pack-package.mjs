// The package `wasm-pack build --target web` writes, used as its README says:
// import the glue, instantiate the wasm, load a bundle, ask. Here in Node,
// on the committed default channel's current version.
// Usage: node tests/e2e/wasm-pack-package.mjs <pkg-dir>
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { check } from './browser.mjs';

const pkg = resolve(process.argv[2]);
const channel = new URL('../../models/channel/ml-100k/', import.meta.url).pathname;
const { version } = JSON.parse(await readFile(join(channel, 'latest.json'), 'utf8'));
const files = {};
for (const name of await readdir(join(channel, 'versions', version))) {
  files[name] = new Uint8Array(await readFile(join(channel, 'versions', version, name)));
}
const { name } = JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8'));
const glue = await import(join(pkg, 'edgerec.js'));
glue.initSync({ module: await readFile(join(pkg, 'edgerec_bg.wasm')) });
const engine = new glue.Engine(files, {});
check(engine.version === version && engine.itemCount === 1682, `wasm-pack's package (${name}) loads version ${version}: 1682 items, its parity cases passed`);
const similar = engine.similar('50', 5);
check(similar.items.length === 5 && similar.items.every((item) => item.title && item.id !== '50'),
  `and answers: similar to Star Wars: ${similar.items.map((item) => item.title).join(', ')}`);
const next = engine.nextUp(['1', '50', '181'], 5, true);
check(next.items.length === 5, `next up (tract inside the wasm): ${next.items.map((item) => item.title).join(', ')}`);
