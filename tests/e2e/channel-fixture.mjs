// A throwaway copy of the committed channel that a test can publish to, the
// way models/publish.py does (version folder first, then the pointer by
// write + rename), including deliberately broken and signed versions.
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { cp, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const COMMITTED = new URL('../../models/channel/ml-100k/', import.meta.url).pathname;

/**
 * A new Ed25519 key pair, as `python -m models.keys generate` makes:
 * `publicKey` is the base64 of the 32 raw bytes (what EdgeRec.open pins),
 * `sign(bytes)` returns a manifest.sig file's text.
 */
export function signingKey() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  // The JWK's x is the raw key in base64url; pages take standard base64.
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url');
  return {
    publicKey: raw.toString('base64'),
    sign: (bytes) => `${sign(null, bytes, privateKey).toString('base64')}\n`,
  };
}

export async function channelFixture() {
  const dir = await mkdtemp(join(tmpdir(), 'edgerec-channel-'));
  await cp(join(COMMITTED, 'versions'), join(dir, 'versions'), { recursive: true });
  const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
  const versionDir = (version) => join(dir, 'versions', version);

  const fixture = {
    dir,
    /** Moves latest.json to `version`, atomically. */
    async point(version) {
      await fixture.writePointer({ version, manifest: `versions/${version}/manifest.json` });
    },
    /** Writes any pointer (an object, or text as is), atomically. */
    async writePointer(pointer) {
      const temporary = join(dir, `.latest.${process.pid}.tmp`);
      await writeFile(temporary, typeof pointer === 'string' ? pointer : JSON.stringify(pointer));
      await rename(temporary, join(dir, 'latest.json'));
    },
    async manifest(version) {
      return JSON.parse(await readFile(join(versionDir(version), 'manifest.json'), 'utf8'));
    },
    /** Writes versions/<version>/manifest.sig for the manifest as it is now, signed with `key` (signingKey()). */
    async sign(version, key) {
      const bytes = await readFile(join(versionDir(version), 'manifest.json'));
      await writeFile(join(versionDir(version), 'manifest.sig'), key.sign(bytes));
    },
    /**
     * Publishes `version` as a copy of `from`, then lets `change({ dir, manifest,
     * rehash })` break or alter it; `rehash(path)` makes the manifest's size and
     * hash match the file again. Writes the manifest (unless `change` returns
     * 'keep-manifest'), signs it with `signWith` if given, and moves the pointer
     * unless `point` is false. A signature copied from `from` is dropped.
     */
    async publish(version, from, change = () => {}, { signWith = null, point = true } = {}) {
      const target = versionDir(version);
      await cp(versionDir(from), target, { recursive: true });
      await rm(join(target, 'manifest.sig'), { force: true });
      const manifest = await fixture.manifest(from);
      manifest.version = version;
      const rehash = async (path) => {
        const bytes = await readFile(join(target, path));
        Object.assign(manifest.files.find((f) => f.path === path), { bytes: bytes.length, sha256: sha256(bytes) });
      };
      const outcome = await change({ dir: target, manifest, rehash });
      if (outcome !== 'keep-manifest') await writeFile(join(target, 'manifest.json'), JSON.stringify(manifest, null, 1));
      if (signWith) await fixture.sign(version, signWith);
      if (point) await fixture.point(version);
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
  await fixture.point('1');
  return fixture;
}
