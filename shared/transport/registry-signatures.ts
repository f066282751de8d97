import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { SkiffError, isSkiffError, throwIfAborted, type Cancellable } from '../errors.ts';
import { parseDigest, type Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/types.ts';
import type { RegistryRepository } from '../registry/types.ts';
import { decodeSignatureBlob, encodeSignatureBlob } from '../signature/blob.ts';
import { loadRegistriesD, lookasideBases, lookasideLocation, readLookasideSignatures, type RegistriesD } from '../signature/lookaside.ts';
import type { SigstoreSignature } from '../signature/sigstore.ts';

/** Where a registry image's signatures live (registries.d), resolved lazily once per opened image. */
export interface RegistrySignatureConfig {
  /** registries.d directories (global `--registries.d`); default: the system and user directories. */
  registriesDirs?: string[];
}

const cache = new Map<string, Promise<RegistriesD>>();

function configOf(c: RegistrySignatureConfig, o: Cancellable): Promise<RegistriesD> {
  const key = JSON.stringify(c.registriesDirs ?? null);
  let p = cache.get(key);
  if (p === undefined) {
    p = loadRegistriesD(c.registriesDirs, o);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

async function readCappedBlob(repo: RegistryRepository, d: Descriptor, o: Cancellable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of (await repo.getBlob(d, o)) as AsyncIterable<Buffer>) chunks.push(c);
  return new Uint8Array(Buffer.concat(chunks));
}

/** The sigstore code (and its crypto dependency), loaded only for a scope that uses sigstore attachments. */
const sigstoreCode = () => import('../signature/sigstore.ts');

async function attachmentOf(repo: RegistryRepository, digest: Digest, o: Cancellable): Promise<SigstoreSignature[]> {
  const { MAX_ATTACHMENT_MANIFEST_BYTES, readAttachmentSignatures, sigstoreAttachmentTag } = await sigstoreCode();
  let m;
  try {
    m = await repo.getManifest(sigstoreAttachmentTag(digest), o);
  } catch (e) {
    if (isSkiffError(e, 'ENOTFOUND')) return [];
    throw e;
  }
  if (m.bytes.length > MAX_ATTACHMENT_MANIFEST_BYTES) throw new SkiffError('ELIMIT', 'sigstore attachment manifest is too large');
  return readAttachmentSignatures(m.bytes, (d, co) => readCappedBlob(repo, d, co), o);
}

/**
 * Reads the signatures of manifest `digest` of `dockerReference`: simple-signing ones from the lookaside that
 * registries.d names (file:// or http(s)://, count and size capped, digest validated before any path/URL — SG-09,
 * SG-10), then sigstore attachments (`sha256-<hex>.sig`, payload digests verified) when the scope sets
 * `use-sigstore-attachments`. Returns storage blobs (see encodeSignatureBlob).
 */
export async function readRegistrySignatures(repo: RegistryRepository, dockerReference: string, digest: string, c: RegistrySignatureConfig, o: Cancellable = {}): Promise<Uint8Array[]> {
  const d = parseDigest(digest, 'manifest digest');
  const bases = lookasideBases(await configOf(c, o), dockerReference);
  const out = await readLookasideSignatures(bases.read, dockerReference, d, o);
  if (bases.useSigstoreAttachments) for (const s of await attachmentOf(repo, d, o)) out.push(encodeSignatureBlob({ format: 'sigstore', ...s }));
  return out;
}

/**
 * Stores signatures of manifest `digest`: simple-signing ones as `signature-1…N` in the lookaside staging
 * directory (file:// only; files past N are removed, as containers/image does; each file written atomically by
 * rename), sigstore ones merged into the `sha256-<hex>.sig` attachment when the scope sets
 * `use-sigstore-attachments` (EUNSUPPORTED otherwise). The digest is validated before any path is built.
 */
export async function writeRegistrySignatures(repo: RegistryRepository, dockerReference: string, digest: string, blobs: readonly Uint8Array[], c: RegistrySignatureConfig, o: Cancellable = {}): Promise<void> {
  const d = parseDigest(digest, 'manifest digest');
  const bases = lookasideBases(await configOf(c, o), dockerReference);
  const sigs = blobs.map((b) => decodeSignatureBlob(b));
  const simple = sigs.flatMap((s) => (s.format === 'simple-signing' ? [s.bytes] : []));
  const sigstore = sigs.flatMap((s) => (s.format === 'sigstore' ? [{ payload: s.payload, signature: s.signature, ...(s.annotations ? { annotations: s.annotations } : {}) }] : []));
  if (simple.length > 0) {
    const first = lookasideLocation(bases.write, dockerReference, d, 1);
    if (first.protocol !== 'file:') {
      throw new SkiffError('EUNSUPPORTED', `cannot write signatures to ${first.origin}: only file:// lookaside staging is writable`, { hint: 'set lookaside-staging to a file:// URL in registries.d' });
    }
    const dir = dirname(fileURLToPath(first));
    await mkdir(dir, { recursive: true });
    for (let i = 0; i < simple.length; i++) {
      throwIfAborted(o.signal);
      const p = fileURLToPath(lookasideLocation(bases.write, dockerReference, d, i + 1));
      const tmp = `${p}.tmp-${randomBytes(4).toString('hex')}`;
      await writeFile(tmp, simple[i]!, o.signal ? { signal: o.signal } : {});
      await rename(tmp, p);
    }
    const names = await readdir(dir);
    for (const n of names) {
      const m = /^signature-([0-9]+)$/.exec(n);
      if (m && Number(m[1]) > simple.length) await rm(`${dir}/${n}`, { force: true });
    }
  }
  if (sigstore.length > 0) {
    if (!bases.useSigstoreAttachments) {
      throw new SkiffError('EUNSUPPORTED', `writing sigstore signatures to ${dockerReference} needs use-sigstore-attachments: true in registries.d`);
    }
    const existing = await attachmentOf(repo, d, o);
    const key = (s: SigstoreSignature): string => `${Buffer.from(s.payload).toString('base64')}\n${s.signature}`;
    const seen = new Set(existing.map(key));
    const all = [...existing, ...sigstore.filter((s) => !seen.has(key(s)))];
    const { buildSigstoreAttachment, sigstoreAttachmentTag } = await sigstoreCode();
    const att = buildSigstoreAttachment(all);
    for (const b of att.blobs) {
      if ((await repo.headBlob(b.descriptor.digest, o)) === b.descriptor.size) continue;
      await repo.putBlob(b.descriptor, Readable.from([Buffer.from(b.bytes)]), o);
    }
    await repo.putManifest(sigstoreAttachmentTag(d), att.manifestBytes, att.mediaType, o);
  }
}
