import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { SkiffError, type Cancellable } from '../errors.ts';
import { digestHex, digestOf, parseDigest, type Digest } from '../oci/digest.ts';
import { fsyncDir } from '../store/atomic.ts';
import { openNoFollow, readSmallFile, sniffMediaType, verifying, writeFileVerified } from './files.ts';
import type { CommitOpts, ImageTarget, OpenedSource } from './types.ts';

/** The `version` file skopeo's dir: transport writes. */
export const DIR_VERSION = 'Directory Transport Version: 1.1\n';
/** At most this many signatures are read (SG-09). */
const MAX_SIGNATURES = 100;

async function exists(p: string): Promise<boolean> {
  return (await lstat(p).catch(() => undefined)) !== undefined;
}

/**
 * A source over skopeo's `dir:` layout: `manifest.json` (the top manifest), instance manifests of a list as
 * `<hex>.manifest.json`, blobs as `<hex>` files, signatures `signature-1…` (instances: `<hex>.signature-N`).
 * Blob streams are verified at EOF; symlinks are never followed; digests are validated before any path use.
 */
export async function openDirSource(path: string, o: Cancellable = {}): Promise<OpenedSource> {
  const dir = resolve(path);
  const versionPath = join(dir, 'version');
  if (await exists(versionPath)) {
    const v = (await readSmallFile(versionPath, 'dir: version file', 1024, o)).toString('utf8');
    if (!/^Directory Transport Version: 1\.[0-9]+\n?$/.test(v)) throw new SkiffError('EUNSUPPORTED', `unsupported dir: layout version ${JSON.stringify(v.trim())} in ${dir}`);
  }
  const topBytes = await readSmallFile(join(dir, 'manifest.json'), `manifest of dir:${path}`, undefined, o);
  const topDigest = digestOf(topBytes);
  return {
    name: `dir:${path}`,
    async getManifest(digest, co = {}) {
      if (digest === undefined || digest === topDigest) return { bytes: topBytes, mediaType: sniffMediaType(topBytes), digest: topDigest };
      const d = parseDigest(digest);
      const bytes = await readSmallFile(join(dir, `${digestHex(d)}.manifest.json`), `manifest ${d} of dir:${path}`, undefined, co);
      return { bytes, mediaType: sniffMediaType(bytes), digest: d };
    },
    async getBlob(desc, co = {}) {
      const d = parseDigest(desc.digest);
      return verifying(await openNoFollow(join(dir, digestHex(d)), `blob ${d} of dir:${path}`, co), desc);
    },
    async getSignatures(manifestDigest, co = {}) {
      const d = parseDigest(manifestDigest);
      const prefix = d === topDigest ? 'signature-' : `${digestHex(d)}.signature-`;
      const out: Uint8Array[] = [];
      for (let i = 1; ; i++) {
        const p = join(dir, `${prefix}${i}`);
        if (!(await exists(p))) break;
        if (i > MAX_SIGNATURES) throw new SkiffError('ELIMIT', `dir:${path} holds more than ${MAX_SIGNATURES} signatures`);
        out.push(await readSmallFile(p, `signature ${i}`, undefined, co));
      }
      return out;
    },
    async close() {},
  };
}

/**
 * A target writing skopeo's `dir:` layout. Everything is written into a private sibling directory; commit()
 * writes `version` last and swaps it in with renames, so PATH shows the old content or the complete new one,
 * never a half-written image. An existing non-empty PATH is replaced only when it is a dir: layout (has a
 * `version` file), as skopeo does; otherwise EEXIST. close() without commit removes the private directory.
 */
export async function openDirTarget(path: string, o: Cancellable = {}): Promise<ImageTarget> {
  const dir = resolve(path);
  const st = await lstat(dir).catch(() => undefined);
  if (st) {
    if (!st.isDirectory()) throw new SkiffError('EEXIST', `dir:${path}: ${dir} exists and is not a directory`);
    const names = await readdir(dir);
    if (names.length > 0 && !names.includes('version')) {
      throw new SkiffError('EEXIST', `dir:${path}: ${dir} is a non-empty directory that is not a dir: image`, { hint: 'choose an empty or new directory' });
    }
  }
  await mkdir(dirname(dir), { recursive: true });
  const work = join(dirname(dir), `.${basename(dir)}.skiff-${randomBytes(6).toString('hex')}`);
  await mkdir(work, { mode: 0o755 });
  const have = new Set<Digest>();
  let top: { bytes: Uint8Array; digest: Digest } | undefined;
  let done = false;
  const so = (co?: Cancellable) => (co?.signal ? { signal: co.signal } : o.signal ? { signal: o.signal } : {});
  return {
    name: `dir:${path}`,
    blobScope: `dir:${work}`,
    capabilities: { manifestFormats: ['oci', 'docker'], supportsIndex: true, verifiesBlobs: true },
    async hasBlob(desc) {
      return have.has(desc.digest);
    },
    async putBlob(desc, body, co) {
      const d = parseDigest(desc.digest);
      await writeFileVerified(join(work, digestHex(d)), body, { digest: d, size: desc.size }, so(co));
      have.add(d);
    },
    async putManifest(bytes, desc, co) {
      const d = parseDigest(desc.digest);
      if (digestOf(bytes) !== d || bytes.length !== desc.size) throw new SkiffError('EINTEGRITY', `manifest bytes do not match ${d}`);
      const file = co?.top ? 'manifest.json' : `${digestHex(d)}.manifest.json`;
      await writeFileVerified(join(work, file), Readable.from([Buffer.from(bytes)]), { digest: d }, so(co));
      if (co?.top) top = { bytes, digest: d };
    },
    async putSignatures(manifestDigest, signatures, co) {
      const d = parseDigest(manifestDigest);
      const prefix = top?.digest === d ? 'signature-' : `${digestHex(d)}.signature-`;
      for (let i = 0; i < signatures.length; i++) await writeFile(join(work, `${prefix}${i + 1}`), signatures[i]!, so(co));
    },
    async commit(_co: CommitOpts = {}) {
      if (!top) throw new SkiffError('EINVALID', 'commit called before the top manifest was written');
      await writeFile(join(work, 'version'), DIR_VERSION);
      await fsyncDir(work);
      const old = (await exists(dir)) ? `${work}.old` : undefined;
      if (old) await rename(dir, old);
      await rename(work, dir);
      await fsyncDir(dirname(dir));
      done = true;
      if (old) await rm(old, { recursive: true, force: true });
    },
    async close() {
      if (!done) await rm(work, { recursive: true, force: true });
      done = true;
    },
  };
}
