// The npm package names where it lives, and its README's links into the
// repository point at files this tree has (a renamed doc breaks this test,
// not a reader's click). Run: node --test tests/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const repo = new URL('../../', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(repo, 'www/package.json'), 'utf8'));
const readme = readFileSync(join(repo, 'www/README.md'), 'utf8');
const HOME = 'https://github.com/edgerec/edgerec';

test('package.json has the metadata a JS developer looks for', () => {
  assert.equal(pkg.repository?.type, 'git');
  assert.equal(pkg.repository?.url, `git+${HOME}.git`);
  assert.equal(pkg.homepage, `${HOME}#readme`);
  assert.equal(pkg.bugs?.url, `${HOME}/issues`);
  assert.ok(pkg.keywords?.length >= 3, 'keywords');
  assert.ok(pkg.files.includes('docs/') && pkg.files.includes('CHANGELOG.md'), 'docs and changelog ship');
  const cargo = readFileSync(join(repo, 'Cargo.toml'), 'utf8');
  assert.match(cargo, new RegExp(`^repository = "${HOME}"$`, 'm'), 'the crate names the same repository');
});

test("every repository link in the npm README names a path of this tree", () => {
  const links = [...readme.matchAll(new RegExp(`${HOME}/(?:blob|tree)/main/([^)\\s>#]+)`, 'g'))].map((m) => m[1]);
  assert.ok(links.length >= 6, `found ${links.length} links`);
  for (const path of links) assert.ok(existsSync(join(repo, path)), `README links to ${path}, which does not exist`);
  // Each doc linked online also ships in the package under the name the README gives.
  for (const doc of links.filter((p) => p.startsWith('docs/'))) assert.ok(readme.includes(`\`${doc}\``), doc);
});
