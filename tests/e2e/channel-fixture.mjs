// A throwaway copy of the committed channel that a test can publish to, the
// way models/publish.py does (version folder first, then the pointer by
// write + rename), including deliberately broken versions.
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const COMMITTED = new URL('../../models/channel/ml-100k/', import.meta.url).pathname;

export async function channelFixture() {
  const dir = await mkdtemp(join(tmpdir(), 'edgerec-channel-'));
  await cp(join(COMMITTED, 'versions'), join(dir, 'versions'), { recursive: true });
  const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

  const fixture = {
    dir,
    /** Moves latest.json to `version`, atomically. */
    async point(version) {
      const temporary = join(dir, `.latest.${process.pid}.tmp`);
      await writeFile(temporary, JSON.stringify({ version, manifest: `versions/${version}/manifest.json` }));
      await rename(temporary, join(dir, 'latest.json'));
    },
    async manifest(version) {
      return JSON.parse(await readFile(join(dir, 'versions', version, 'manifest.json'), 'utf8'));
    },
    /**
     * Publishes `version` as a copy of `from`, then lets `change({ dir, manifest,
     * rehash })` break or alter it; `rehash(path)` makes the manifest's size and
     * hash match the file again. Writes the manifest (unless `change` returns
     * 'keep-manifest') and moves the pointer.
     */
    async publish(version, from, change = () => {}) {
      const target = join(dir, 'versions', version);
      await cp(join(dir, 'versions', from), target, { recursive: true });
      const manifest = await fixture.manifest(from);
      manifest.version = version;
      const rehash = async (path) => {
        const bytes = await readFile(join(target, path));
        Object.assign(manifest.files.find((f) => f.path === path), { bytes: bytes.length, sha256: sha256(bytes) });
      };
      const outcome = await change({ dir: target, manifest, rehash });
      if (outcome !== 'keep-manifest') await writeFile(join(target, 'manifest.json'), JSON.stringify(manifest, null, 1));
      await fixture.point(version);
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
  await fixture.point('1');
  return fixture;
}
