// The error codes live in one place, www/lib/codes.js. These tests keep the
// other places that name them in step: the TypeScript unions, the docs'
// tables, and the code that throws them (JS in www/, Rust in src/).
// Run: node --test tests/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { CODES, ERROR_CLASSES, classOf, codesOf } from '../../www/lib/codes.js';
import {
  BundleError, EdgeRecError, InputError, UnavailableError, asEdgeRecError, errorFromCode,
} from '../../www/lib/errors.js';

const repo = new URL('../../', import.meta.url).pathname;
const read = (path) => readFileSync(join(repo, path), 'utf8');
const UNION_OF = { InputError: 'InputErrorCode', BundleError: 'BundleErrorCode', UnavailableError: 'UnavailableErrorCode' };

function filesUnder(dir, extension, skip = new Set()) {
  const out = [];
  for (const entry of readdirSync(join(repo, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (skip.has(path)) continue;
    if (entry.isDirectory()) out.push(...filesUnder(path, extension, skip));
    else if (entry.name.endsWith(extension)) out.push(path);
  }
  return out;
}

// What to paste when a table drifted.
function markdownTables() {
  return ERROR_CLASSES.map((errorClass) => [`### \`${errorClass}\``, '', '| code | meaning |', '|---|---|',
    ...codesOf(errorClass).map((code) => `| \`${code}\` | ${CODES[code].meaning} |`)].join('\n')).join('\n\n');
}

const sorted = (list) => [...list].sort();

test('every code has a class, a source and a meaning', () => {
  assert.ok(Object.keys(CODES).length > 40);
  for (const entry of Object.values(CODES)) {
    assert.match(entry.code, /^[a-z][a-z0-9_]*$/);
    assert.ok(ERROR_CLASSES.includes(entry.errorClass), `${entry.code}: class ${entry.errorClass}`);
    assert.ok(['engine', 'updater', 'page'].includes(entry.from), `${entry.code}: from ${entry.from}`);
    assert.ok(entry.meaning.length > 10 && !entry.meaning.includes('|'), `${entry.code}: meaning`);
  }
  assert.deepEqual(sorted(ERROR_CLASSES.flatMap(codesOf)), sorted(Object.keys(CODES)));
});

test('errorFromCode builds the class codes.js names, and `internal` for anything else', () => {
  const classes = { InputError, BundleError, UnavailableError };
  for (const code of Object.keys(CODES)) {
    const error = errorFromCode(code, 'why');
    assert.ok(error instanceof classes[classOf(code)] && error instanceof EdgeRecError, code);
    assert.equal(error.code, code);
    assert.equal(error.message, 'why');
    assert.equal(error.name, classOf(code));
  }
  for (const odd of ['no_such_code', 25, undefined, null, 'toString', '__proto__']) {
    const error = errorFromCode(odd, 'why');
    assert.ok(error instanceof UnavailableError, String(odd));
    assert.equal(error.code, 'internal');
  }
  assert.equal(asEdgeRecError(new TypeError('boom')).code, 'internal');
  assert.equal(asEdgeRecError(Object.assign(new Error('x'), { code: 'hash_mismatch' })).name, 'BundleError');
  const own = new InputError('invalid_k', 'k');
  assert.equal(asEdgeRecError(own), own);
});

test('edgerec.d.ts: each class\'s union lists exactly its codes', () => {
  const dts = read('www/edgerec.d.ts');
  for (const errorClass of ERROR_CLASSES) {
    const union = UNION_OF[errorClass];
    const body = dts.match(new RegExp(`export type ${union} =([^;]*);`))?.[1];
    assert.ok(body, `edgerec.d.ts declares ${union}`);
    const listed = [...body.matchAll(/\|\s*'([^']+)'/g)].map((m) => m[1]);
    assert.ok(!/\$\{|string\b/.test(body), `${union} lists codes, not a pattern`);
    assert.deepEqual(sorted(listed), sorted(codesOf(errorClass)),
      `${union} in www/edgerec.d.ts differs from www/lib/codes.js; it should be:\n`
      + codesOf(errorClass).map((c) => `  | '${c}'`).join('\n'));
  }
});

// `### \`InputError\`` headings, each followed by a `| code | meaning |` table.
function tablesByClass(markdown) {
  const tables = {};
  let current = null;
  for (const line of markdown.split('\n')) {
    const heading = line.match(/^#{2,4}\s+`?(\w+Error)`?/);
    if (heading) current = ERROR_CLASSES.includes(heading[1]) ? (tables[heading[1]] ??= []) : null;
    else if (/^#/.test(line)) current = null;
    else if (current) {
      const row = line.match(/^\|\s*`([a-z][a-z0-9_]*)`\s*\|/);
      if (row) current.push(row[1]);
    }
  }
  return tables;
}

test('docs/api.md: one table per class, listing exactly its codes', () => {
  const tables = tablesByClass(read('docs/api.md'));
  for (const errorClass of ERROR_CLASSES) {
    assert.deepEqual(sorted(tables[errorClass] ?? []), sorted(codesOf(errorClass)),
      `the ${errorClass} table in docs/api.md differs from www/lib/codes.js; the tables should be:\n\n${markdownTables()}`);
  }
});

test('docs/updates.md: its tables name only known codes, of the class they sit under', () => {
  if (!existsSync(join(repo, 'docs/updates.md'))) return;
  const markdown = read('docs/updates.md');
  const tables = tablesByClass(markdown);
  for (const [errorClass, codes] of Object.entries(tables)) {
    assert.deepEqual(sorted(codes), sorted(codesOf(errorClass)), `the ${errorClass} table in docs/updates.md`);
  }
  // The `modelrejected` table: the first cell of each row names codes (a `bundle_*` pattern stands for many).
  for (const line of markdown.split('\n')) {
    const cell = line.match(/^\|([^|]*)\|/)?.[1];
    if (!cell || !cell.includes('`')) continue;
    for (const [, token] of cell.matchAll(/`([^`]+)`/g)) {
      if (!/^[a-z][a-z0-9_]*\*?$/.test(token) || token.endsWith('*')) continue;
      if (token === token.toLowerCase() && token.includes('_')) {
        assert.ok(classOf(token), `docs/updates.md names code ${token}, which www/lib/codes.js does not know`);
      }
    }
  }
});

// Code literals in JS where an error is made or compared: `new XError('code'`,
// `errorFromCode('code'`, `code: 'code'`, `.code === 'code'`.
const JS_PATTERNS = [
  /new (InputError|BundleError|UnavailableError|EdgeRecError|UpdateFailure)\(\s*'([a-z0-9_]+)'/g,
  /()errorFromCode\(\s*'([a-z0-9_]+)'/g,
  /()\bcode:\s*'([a-z0-9_]+)'/g,
  /()(?<!typeof [\w?.]*)\.code\s*[!=]==?\s*'([a-z0-9_]+)'/g,
];

test('www/: every code the JavaScript throws or checks is in codes.js, with the class it is thrown as', () => {
  const skip = new Set(['www/pkg', 'www/node_modules', 'www/channels', 'www/lib/codes.js']);
  const unknown = [];
  const misclassed = [];
  for (const file of filesUnder('www', '.js', skip)) {
    const source = read(file);
    for (const pattern of JS_PATTERNS) {
      for (const [, thrownAs, code] of source.matchAll(pattern)) {
        if (!classOf(code)) unknown.push(`${file}: ${code}`);
        else if (['InputError', 'BundleError', 'UnavailableError'].includes(thrownAs) && classOf(code) !== thrownAs) {
          misclassed.push(`${file}: ${code} thrown as ${thrownAs}, codes.js says ${classOf(code)}`);
        }
      }
    }
  }
  assert.deepEqual(unknown, [], 'codes used in www/ that www/lib/codes.js does not list');
  assert.deepEqual(misclassed, []);
});

// The string literals a Rust `fn code` returns, and those given to wasm.rs's `error(...)`.
function rustCodes() {
  const found = new Map(); // code -> file
  for (const file of filesUnder('src', '.rs')) {
    const source = read(file);
    for (const match of source.matchAll(/fn code\s*\([^)]*\)\s*->\s*&'static str\s*\{/g)) {
      let depth = 1;
      let end = match.index + match[0].length;
      while (depth > 0 && end < source.length) {
        if (source[end] === '{') depth++;
        else if (source[end] === '}') depth--;
        end++;
      }
      for (const [, code] of source.slice(match.index, end).matchAll(/"([a-z0-9_]+)"/g)) found.set(code, file);
    }
    for (const [, code] of source.matchAll(/\berror\(\s*"([a-z0-9_]+)"/g)) found.set(code, file);
  }
  return found;
}

test('src/: every code the Rust engine returns is in codes.js', () => {
  const found = rustCodes();
  assert.ok(found.size > 20, `found ${found.size} Rust codes`);
  const unknown = [...found].filter(([code]) => !classOf(code)).map(([code, file]) => `${file}: ${code}`);
  assert.deepEqual(unknown, [], 'codes returned in src/ that www/lib/codes.js does not list');
});

test('codes.js: every code it says the engine reports is returned somewhere in src/', () => {
  const found = rustCodes();
  const missing = Object.values(CODES).filter((e) => e.from === 'engine' && !found.has(e.code)).map((e) => e.code);
  assert.deepEqual(missing, [], 'codes.js lists these as the engine\'s, but src/ never returns them');
});
