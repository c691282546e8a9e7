// The npm package as a user gets it: a scratch project installs the packed
// tarball, (1) builds a page with Vite, (2) imports the installed files from
// a plain <script type="module"> with no bundler, (3) builds the app with
// webpack 5 and with esbuild, (4) imports the package from a second origin,
// as from a CDN, and (5) builds the React and Vue examples (www/examples);
// every page shows real recommendations in Chromium. It also runs the
// package's `edgerec channel` command. The Vite build also emits the site's own
// service worker (sw.js at the root, calling installEdgeRecServiceWorker from
// 'edgerec/sw'), which must end up controlling the page.
//
// Usage: node tests/e2e/package.mjs [path/to/edgerec-x.y.z.tgz]
//        (default: the newest dist/edgerec-*.tgz; scripts/build-package.sh makes it)
// KEEP_SCRATCH=1 keeps the scratch project and prints where it is.
import { execFile, execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import esbuild from 'esbuild';
import webpack from 'webpack';
import { serve } from './static-server.mjs';
import { launch, check } from './browser.mjs';

const repo = new URL('../../', import.meta.url).pathname;
const artifacts = join(repo, 'test-artifacts');
const channelDir = join(repo, 'models/channel/ml-100k');
const vite = join(repo, 'node_modules/vite/bin/vite.js');

const tarball = process.argv[2] ? resolve(process.argv[2]) : await newestTarball();
const latest = JSON.parse(await readFile(join(channelDir, 'latest.json'), 'utf8'));
const catalog = JSON.parse(await readFile(join(channelDir, 'versions', latest.version, 'catalog.json'), 'utf8'));
const titleOf = new Map(catalog.items.map((item) => [item.id, item.title]));
const HISTORY = ['1', '50', '181'];
// The framework examples' dependencies, the versions the repository tests with (package.json).
const devDependencies = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')).devDependencies;
const FRAMEWORKS = ['react', 'react-dom', 'vue'].map((name) => `${name}@${devDependencies[name]}`);

console.log(`package: ${tarball} (${mb((await stat(tarball)).size)})`);
const scratch = await mkdtemp(join(tmpdir(), 'edgerec-package-'));
let browser;
const servers = [];
try {
  // --- the scratch project ---------------------------------------------------
  await writeFile(join(scratch, 'package.json'), JSON.stringify({
    name: 'edgerec-package-test', private: true, version: '0.0.0', type: 'module',
  }, null, 2));
  await mkdir(join(scratch, 'public'));
  await cp(channelDir, join(scratch, 'public/channel'), { recursive: true });
  await writeFile(join(scratch, 'index.html'), page('edgerec + Vite', '<script type="module" src="/main.js"></script>'));
  await writeFile(join(scratch, 'main.js'), app("'edgerec'", {
    channel: './channel/', serviceWorker: './sw.js', serviceWorkerScope: './',
  }));
  await writeFile(join(scratch, 'sw.js'), [
    "import { installEdgeRecServiceWorker } from 'edgerec/sw';",
    'installEdgeRecServiceWorker();', '',
  ].join('\n'));
  // The only configuration: build the service worker as a second entry, at the root, unhashed.
  await writeFile(join(scratch, 'vite.config.js'), `export default {
  build: {
    rolldownOptions: {
      input: { main: 'index.html', sw: 'sw.js' },
      output: { entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js') },
    },
  },
};
`);
  await writeFile(join(scratch, 'plain.html'), page('edgerec, no bundler',
    `<script type="module">\n${app("'./node_modules/edgerec/edgerec.js'", { channel: './public/channel/' })}</script>`));

  // --- install the tarball, offline if the npm cache allows -----------------
  const npm = (...args) => execFileSync('npm', args, { cwd: scratch, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    npm('install', '--no-audit', '--no-fund', '--offline', tarball);
  } catch (error) {
    console.log(`  (npm install --offline failed, retrying online: ${error.stderr.trim().split('\n').at(-1)})`);
    npm('install', '--no-audit', '--no-fund', tarball);
  }
  const installed = JSON.parse(await readFile(join(scratch, 'node_modules/edgerec/package.json'), 'utf8'));
  check(installed.name === 'edgerec' && !installed.dependencies, `npm installed edgerec@${installed.version} with no dependencies`);
  const shipped = await listFiles(join(scratch, 'node_modules/edgerec'));
  const targets = Object.values(installed.exports).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t)));
  check(targets.every((t) => shipped.includes(t.replace(/^\.\//, ''))),
    `every "exports" target is in the package (${targets.join(', ')})`);
  check(!shipped.some((f) => /^(demo|bench|channels|bundles)\/|^index\.html$/.test(f)),
    `the package holds only the library (${shipped.length} files: ${shipped.join(', ')})`);

  // --- the channel command: copy a channel into a site, verify it --------------
  // Asynchronous: `verify <url>` asks a server running in this process.
  const cli = (...args) => new Promise((done) => execFile(join(scratch, 'node_modules/.bin/edgerec'), args, { cwd: scratch },
    (error, stdout, stderr) => done({ status: error ? error.code : 0, stdout, stderr })));
  const site = join(scratch, 'site');
  let ran = await cli('channel', 'copy', channelDir, join(site, 'channel'));
  check(ran.status === 0 && /2 version\(s\) copied/.test(ran.stdout), `npx edgerec channel copy: ${ran.stdout.trim()}${ran.stderr}`);
  ran = await cli('channel', 'copy', channelDir, join(site, 'channel'));
  check(ran.status === 0 && /0 version\(s\) copied, 2 already there/.test(ran.stdout), 'copying again changes nothing');
  ran = await cli('channel', 'verify', join(site, 'channel'));
  check(ran.status === 0 && ran.stdout.includes(`version ${latest.version} OK`) && ran.stdout.includes('parity cases checked'),
    `npx edgerec channel verify <dir>: ${ran.stdout.trim()}`);
  const siteServer = await serve(site);
  servers.push(siteServer);
  siteServer.fault = (path, request, response) => {
    if (path !== '/channel/latest.json') return false;
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600' });
    readFile(join(site, 'channel/latest.json')).then((body) => response.end(body));
    return true;
  };
  ran = await cli('channel', 'verify', `${siteServer.url}channel/`);
  check(ran.status === 0 && ran.stdout.includes(`version ${latest.version} OK`) && /warning: latest\.json .*max-age=3600/.test(ran.stdout),
    `npx edgerec channel verify <url> checks what the site serves and warns of a cached pointer (${ran.stdout.split('\n').find((l) => l.startsWith('warning'))?.slice(0, 80)}…)`);
  const catalogFile = join(site, 'channel/versions', latest.version, 'catalog.json');
  const original = await readFile(catalogFile);
  await writeFile(catalogFile, Buffer.concat([original.subarray(0, 100), Buffer.from('x'), original.subarray(101)]));
  ran = await cli('channel', 'verify', join(site, 'channel'));
  check(ran.status === 1 && ran.stderr.includes('bundle_hash_mismatch') && ran.stderr.includes('catalog.json'),
    `a corrupted file fails verify, named: ${ran.stderr.trim().slice(0, 100)}…`);
  ran = await cli('channel', 'copy', channelDir, join(site, 'channel'));
  check(ran.status === 1 && ran.stderr.includes('never changes'), 'copy refuses to overwrite a published version that differs');
  await writeFile(catalogFile, original);
  // A manifest naming a file outside its folder is refused before anything is read, as the page refuses it.
  const manifestFile = join(site, 'channel/versions', latest.version, 'manifest.json');
  const manifestBytes = await readFile(manifestFile);
  const hostile = JSON.parse(manifestBytes);
  hostile.files[0].path = '../../../outside.json';
  await writeFile(manifestFile, JSON.stringify(hostile));
  ran = await cli('channel', 'verify', join(site, 'channel'));
  check(ran.status === 1 && ran.stderr.includes('malformed_manifest') && ran.stderr.includes('outside.json'),
    `a manifest naming a file outside its folder fails verify: ${ran.stderr.trim().slice(0, 100)}…`);
  await writeFile(manifestFile, manifestBytes);

  // --- Vite build -------------------------------------------------------------
  const started = Date.now();
  const log = execFileSync(process.execPath, [vite, 'build', '--logLevel', 'warn'],
    { cwd: scratch, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (log.trim()) console.log(log.trim().replace(/^/gm, '    vite: '));
  const dist = join(scratch, 'dist');
  const built = await listFiles(dist);
  const wasms = built.filter((f) => f.endsWith('.wasm'));
  const sizes = await Promise.all(wasms.map(async (f) => (await stat(join(dist, f))).size));
  check(wasms.length === 2 && Math.min(...sizes) < 1e6 && Math.max(...sizes) > 4e6,
    `vite build in ${((Date.now() - started) / 1000).toFixed(1)} s emits each wasm build once, core and full (${wasms.map((f, i) => `${f}: ${sizes[i]} bytes`).join(', ')})`);
  check(built.some((f) => /^assets\/engine-worker-[\w-]+\.js$/.test(f)), 'vite emits the engine Worker as its own file');
  check(built.includes('sw.js') && built.includes('channel/latest.json'), 'dist has sw.js at the root and the channel from public/');

  browser = await launch();
  await mkdir(artifacts, { recursive: true });

  // --- the Vite-built page ----------------------------------------------------
  const viteServer = await serve(dist);
  servers.push(viteServer);
  const vitePage = await run(viteServer.url, 'vite');
  const controlled = await vitePage.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    return { scope: registration.scope, script: registration.active?.scriptURL };
  });
  check(controlled.scope === viteServer.url && controlled.script === `${viteServer.url}sw.js`,
    `the site's service worker (sw.js importing edgerec/sw) is active with scope ${controlled.scope}`);
  await vitePage.reload();
  await vitePage.waitForFunction(() => window.result || window.failure, null, { timeout: 120_000 });
  const after = await vitePage.evaluate(() => ({
    controller: navigator.serviceWorker.controller?.scriptURL, similar: window.result?.similar?.items?.length,
  }));
  check(after.controller === `${viteServer.url}sw.js` && after.similar === 10,
    'after a reload the service worker controls the page, which still answers');
  await vitePage.screenshot({ path: join(artifacts, 'package-vite.png'), fullPage: true });

  // --- the same app with no bundler, straight from node_modules ---------------
  const plainServer = await serve(scratch);
  servers.push(plainServer);
  const plainPage = await run(`${plainServer.url}plain.html`, 'plain');
  await plainPage.screenshot({ path: join(artifacts, 'package-plain.png'), fullPage: true });
  const fromNodeModules = plainServer.requests.filter((r) => r.path.startsWith('/node_modules/edgerec/'));
  check(fromNodeModules.some((r) => r.path.endsWith('/pkg/edgerec_bg.wasm') && r.status === 200)
    && fromNodeModules.some((r) => r.path.endsWith('/lib/engine-worker.js') && r.status === 200),
  `the plain page loaded edgerec from node_modules (${fromNodeModules.length} files)`);

  // --- the React and Vue examples (www/examples), built with Vite --------------
  try {
    npm('install', '--no-audit', '--no-fund', '--offline', ...FRAMEWORKS);
  } catch {
    npm('install', '--no-audit', '--no-fund', ...FRAMEWORKS);
  }
  for (const framework of ['react', 'vue']) {
    const root = join(scratch, framework);
    await cp(join(repo, 'www/examples', framework), root, { recursive: true });
    await cp(channelDir, join(root, 'public/channel'), { recursive: true });
    // Vue's in-browser template compiler; React's JSX needs nothing.
    const alias = framework === 'vue' ? "resolve: { alias: { vue: 'vue/dist/vue.esm-bundler.js' } }," : '';
    await writeFile(join(root, 'vite.config.js'), `export default { base: './', ${alias} };\n`);
    execFileSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const server = await serve(join(root, 'dist'));
    servers.push(server);
    await frameworkExample(`${server.url}`, framework);
  }

  // --- webpack 5 and esbuild: the same app, no service worker -------------------
  await writeFile(join(scratch, 'app.js'), app("'edgerec'", { channel: './channel/' }));
  const bundled = async (name, build) => {
    const out = join(scratch, `dist-${name}`);
    const started = Date.now();
    await build(out);
    await cp(channelDir, join(out, 'channel'), { recursive: true });
    await writeFile(join(out, 'index.html'), page(`edgerec + ${name}`, '<script type="module" src="./app.js"></script>'));
    const server = await serve(out);
    servers.push(server);
    console.log(`  ${name} built the app in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await run(server.url, name);
  };
  // webpack: no configuration beyond the entry; it emits the Worker and both wasm files itself.
  await bundled('webpack', (out) => new Promise((done, fail) => {
    const compiler = webpack({
      mode: 'production', context: scratch, entry: './app.js', output: { path: out, filename: 'app.js' },
      resolve: { modules: [join(scratch, 'node_modules')] }, performance: { hints: false },
    });
    compiler.run((error, stats) => compiler.close(() => (error || stats.hasErrors() ? fail(error ?? new Error(stats.toString('errors-only'))) : done())));
  }));
  // esbuild leaves new URL(…, import.meta.url) alone: edgerec's lib/, pkg/ and pkg-core/ are copied beside the bundle.
  await bundled('esbuild', async (out) => {
    await esbuild.build({ entryPoints: [join(scratch, 'app.js')], bundle: true, format: 'esm', minify: true, outdir: out, logLevel: 'warning' });
    for (const folder of ['lib', 'pkg', 'pkg-core']) {
      await cp(join(scratch, 'node_modules/edgerec', folder), join(out, folder), { recursive: true });
    }
  });

  // --- from another origin, as from a CDN --------------------------------------
  // The package is served by a second server (CORS, as CDNs send); the page's
  // own origin has only the page and the channel.
  const cdn = await serve(join(scratch, 'node_modules/edgerec'), { cors: true });
  servers.push(cdn);
  await writeFile(join(scratch, 'cdn.html'), page('edgerec from another origin',
    `<script type="module">\n${app(JSON.stringify(`${cdn.url}edgerec.js`), { channel: './public/channel/' })}</script>`));
  const before = plainServer.requests.length;
  await run(`${plainServer.url}cdn.html`, 'cdn');
  check(cdn.requests.some((r) => r.path === '/lib/engine-worker.js' && r.status === 200)
    && cdn.requests.some((r) => r.path === '/pkg-core/edgerec_bg.wasm' && r.status === 200)
    && !plainServer.requests.slice(before).some((r) => r.path.startsWith('/node_modules/')),
  `from another origin: the Worker and the wasm came from ${cdn.url} (a same-origin bootstrap started the Worker)`);
  // Files on an origin that sends no CORS headers: a coded error, not a raw SecurityError.
  const noCors = await serve(join(scratch, 'node_modules/edgerec'));
  servers.push(noCors);
  await writeFile(join(scratch, 'cdn-no-cors.html'), `<!doctype html><script type="module">
import { EdgeRec, EdgeRecError } from ${JSON.stringify(`${cdn.url}edgerec.js`)};
try {
  await EdgeRec.open({ channel: './public/channel/', checkEvery: 0, assets: ${JSON.stringify(noCors.url)} });
  window.outcome = { opened: true };
} catch (error) {
  window.outcome = { edgerec: error instanceof EdgeRecError, code: error.code, message: error.message };
}
</script>`);
  const noCorsContext = await browser.newContext();
  const noCorsPage = await noCorsContext.newPage();
  await noCorsPage.goto(`${plainServer.url}cdn-no-cors.html`);
  const outcome = await noCorsPage.waitForFunction(() => window.outcome, null, { timeout: 60_000 }).then((h) => h.jsonValue());
  check(outcome.edgerec && outcome.code === 'wasm_unavailable',
    `assets on an origin without CORS: open() rejects with EdgeRecError ${outcome.code} (${outcome.message})`);
  await noCorsContext.close();

  console.log(`package: OK (screenshots ${join(artifacts, 'package-vite.png')}, ${join(artifacts, 'package-plain.png')})`);
} finally {
  await browser?.close();
  for (const server of servers) await server.close();
  if (process.env.KEEP_SCRATCH) console.log(`scratch project kept in ${scratch}`);
  else await rm(scratch, { recursive: true, force: true });
}

/** Opens `url` in a fresh context, waits for the app, checks what it rendered. */
async function run(url, name) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) errors.push(message.text());
  });
  page.on('response', (response) => {
    if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) {
      errors.push(`HTTP ${response.status()} for ${response.url()}`);
    }
  });
  await page.goto(url);
  await page.waitForFunction(() => window.result || window.failure, null, { timeout: 120_000 });
  const failure = await page.evaluate(() => window.failure);
  if (failure) throw new Error(`${name}: the app failed: ${failure}`);
  const result = await page.evaluate(() => window.result);

  check(result.version === latest.version, `${name}: EdgeRec.open serves the channel's version ${latest.version}`);
  for (const list of ['similar', 'forShopper', 'nextUp']) {
    const answer = result[list];
    check(answer.version === latest.version && Array.isArray(answer.skipped),
      `${name}: ${list} answer carries version ${answer.version}`);
    const shown = await page.$$eval(`#${list} li`, (items) => items.map((li) => ({ id: li.dataset.id, title: li.textContent })));
    check(shown.length === 10 && shown.every(({ id, title }) => titleOf.get(id) === title),
      `${name}: ${list} shows 10 catalog titles: ${shown.slice(0, 3).map((s) => s.title).join(', ')}, …`);
    if (list === 'similar') check(!shown.some((s) => s.id === '1'), `${name}: similar to "1" leaves out item 1`);
    else check(!shown.some((s) => HISTORY.includes(s.id)), `${name}: ${list} leaves out the history`);
  }
  check(result.history.join() === HISTORY.join(), `${name}: history.list() is ${result.history.join(', ')}`);
  const unknown = result.unknown;
  check(unknown.instanceofInputError && unknown.instanceofEdgeRecError && unknown.code === 'unknown_item'
    && unknown.name === 'InputError', `${name}: an unknown id rejects with an InputError (imported class), code unknown_item`);
  check(errors.length === 0, `${name}: no page errors (${errors.join('; ')})`);
  return page;
}

/** A framework example: its shelf answers, and viewing another item asks again with the new history. */
async function frameworkExample(url, name) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url);
  await page.waitForSelector('#for-you li[data-id]', { timeout: 120_000 });
  const ids = () => page.$$eval('#for-you li', (items) => items.map((li) => li.dataset.id));
  const before = await ids();
  check(before.length === 10 && before.every((id) => titleOf.has(id)) && !before.includes('1') && !before.includes('50'),
    `${name}: "for you" shows 10 catalog items for the history 1, 50`);
  await page.click('#view-181');
  await page.waitForFunction((old) => {
    const now = [...document.querySelectorAll('#for-you li')].map((li) => li.dataset.id).join();
    return now && now !== old;
  }, before.join(), { timeout: 30_000 });
  const after = await ids();
  check(after.length === 10 && !after.includes('181') && (await page.textContent('#history')) === '1, 50, 181',
    `${name}: viewing 181 changes the history and the shelf asks again (${after.slice(0, 3).map((id) => titleOf.get(id)).join(', ')}, …)`);
  await page.screenshot({ path: join(artifacts, `package-${name}.png`) });
  check(errors.length === 0, `${name}: no page errors (${errors.join('; ')})`);
  await context.close();
}

/** The app, shared by both pages: `specifier` is what it imports edgerec as. */
function app(specifier, options) {
  return `import { EdgeRec, EdgeRecError, InputError } from ${specifier};

const show = (id, answer) => {
  document.getElementById(id).replaceChildren(...answer.items.map((item) => {
    const li = document.createElement('li');
    li.dataset.id = item.id;
    li.textContent = item.title;
    return li;
  }));
};
try {
  const rec = await EdgeRec.open(${JSON.stringify({ checkEvery: 0, ...options })});
  document.getElementById('status').textContent = 'model version ' + rec.version;
  const similar = await rec.similar('1', { k: 10 });
  show('similar', similar);
  await rec.history.clear();
  for (const id of ${JSON.stringify(HISTORY)}) await rec.history.add(id);
  const forShopper = await rec.forShopper({ k: 10 });
  show('forShopper', forShopper);
  const nextUp = await rec.nextUp({ k: 10 });
  show('nextUp', nextUp);
  let unknown = null;
  try {
    await rec.similar('no-such-item');
  } catch (error) {
    unknown = { name: error.name, code: error.code, message: error.message,
      instanceofInputError: error instanceof InputError, instanceofEdgeRecError: error instanceof EdgeRecError };
  }
  document.getElementById('error').textContent = unknown ? unknown.name + ' ' + unknown.code + ': ' + unknown.message : 'no error';
  window.result = { version: rec.version, similar, forShopper, nextUp, history: rec.history.list(), unknown };
} catch (error) {
  window.failure = (error.code ?? error.name) + ': ' + error.message;
  document.getElementById('status').textContent = 'failed: ' + window.failure;
}
`;
}

function page(title, script) {
  return `<!doctype html>
<meta charset="utf-8">
<title>${title}</title>
<style>body { font: 14px system-ui, sans-serif; margin: 2em; } section { display: inline-block; vertical-align: top; width: 30%; }</style>
<h1>${title}</h1>
<p id="status">loading…</p>
<section><h2>Similar to Toy Story</h2><ol id="similar"></ol></section>
<section><h2>For you</h2><ol id="forShopper"></ol></section>
<section><h2>Next up</h2><ol id="nextUp"></ol></section>
<p>Unknown id: <code id="error"></code></p>
${script}
`;
}

async function newestTarball() {
  const dir = join(repo, 'dist');
  const found = [];
  for (const name of await readdir(dir).catch(() => [])) {
    if (/^edgerec-.*\.tgz$/.test(name)) found.push({ path: join(dir, name), mtime: (await stat(join(dir, name))).mtimeMs });
  }
  if (!found.length) throw new Error('no dist/edgerec-*.tgz: run scripts/build-package.sh first, or pass a tarball');
  return found.sort((a, b) => b.mtime - a.mtime)[0].path;
}

async function listFiles(root, prefix = '') {
  const out = [];
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...await listFiles(root, path));
    else out.push(path);
  }
  return out.sort();
}

function mb(bytes) {
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}
