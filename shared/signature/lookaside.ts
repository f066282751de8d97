import { readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { request } from 'undici';
import { loadUndici } from '../registry/undici-lazy.ts';
import { SkiffError, throwIfAborted, type Cancellable } from '../errors.ts';
import { digestHex, parseDigest } from '../oci/digest.ts';
import { hostUid } from '../runtime/userns-marker.ts';
import { namedRepository, normalizeNamed } from './docker-identity.ts';

/** One registries.d entry (`default-docker` or a `docker:` scope). */
export interface LookasideEntry {
  lookaside?: string;
  lookasideStaging?: string;
  useSigstoreAttachments?: boolean;
}

/** Merged registries.d configuration. */
export interface RegistriesD {
  defaultDocker?: LookasideEntry;
  docker: Record<string, LookasideEntry>;
}

/** Largest signature fetched from a lookaside (containers/image's limit). */
export const MAX_LOOKASIDE_SIGNATURE_BYTES = 4 * 1024 * 1024;
/** How many `signature-N` files are read at most (SG-09). */
export const MAX_LOOKASIDE_SIGNATURES = 100;

/** The registries.d directories read by default: system first, then the user's (later entries win per scope). */
export function defaultRegistriesDirs(home = homedir()): string[] {
  return ['/etc/containers/registries.d', join(home, '.config/containers/registries.d')];
}

/**
 * The built-in lookaside used when no registries.d entry applies (containers-registries.d(5)): root's system dir,
 * else the user's own `$HOME/.local/share/containers/sigstore`. The uid is the invoking user's on the host, so a
 * rootless tool running as "root" of its user namespace still reads and writes under the user's home.
 */
export function defaultLookaside(uid = hostUid(), home = process.env.HOME || homedir()): string {
  return pathToFileURL(uid === 0 ? '/var/lib/containers/sigstore' : join(home, '.local/share/containers/sigstore')).href;
}

function entryOf(v: unknown, where: string): LookasideEntry {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SkiffError('EINVALID', `invalid registries.d ${where}: not a mapping`);
  const e: LookasideEntry = {};
  for (const [k, val] of Object.entries(v)) {
    if (k === 'lookaside' || k === 'sigstore') {
      if (typeof val !== 'string') throw new SkiffError('EINVALID', `invalid registries.d ${where}: ${k} must be a URL string`);
      e.lookaside ??= val;
      if (k === 'lookaside') e.lookaside = val;
    } else if (k === 'lookaside-staging' || k === 'sigstore-staging') {
      if (typeof val !== 'string') throw new SkiffError('EINVALID', `invalid registries.d ${where}: ${k} must be a URL string`);
      e.lookasideStaging ??= val;
      if (k === 'lookaside-staging') e.lookasideStaging = val;
    } else if (k === 'use-sigstore-attachments') {
      if (typeof val !== 'boolean') throw new SkiffError('EINVALID', `invalid registries.d ${where}: use-sigstore-attachments must be true or false`);
      e.useSigstoreAttachments = val;
    } else throw new SkiffError('EINVALID', `invalid registries.d ${where}: unknown key ${JSON.stringify(k)}`);
  }
  return e;
}

/**
 * Reads every `*.yaml` file of the given directories (missing directories are skipped) and merges them; one
 * scope (or default-docker) defined twice is EINVALID, as containers/image does.
 */
export async function loadRegistriesD(dirs: readonly string[] = defaultRegistriesDirs(), o: Cancellable = {}): Promise<RegistriesD> {
  const out: RegistriesD = { docker: {} };
  let defaultFrom: string | undefined;
  const scopeFrom: Record<string, string> = {};
  for (const dir of dirs) {
    throwIfAborted(o.signal);
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith('.yaml')).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new SkiffError('EIO', `reading ${dir}: ${(e as Error).message}`, { cause: e });
    }
    for (const n of names) {
      const f = join(dir, n);
      let text: string;
      try {
        text = await readFile(f, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed since readdir
        throw new SkiffError('EIO', `reading ${f}: ${(e as Error).message}`, { cause: e });
      }
      if (text.length > 1024 * 1024) throw new SkiffError('ELIMIT', `${f} is larger than 1 MiB`);
      let doc: unknown;
      try {
        // the YAML parser loads only when a registries.d file exists (most copies have none); bundled, the
        // CommonJS package may arrive as { default: exports }
        const yaml = (await import('yaml')) as typeof import('yaml') & { default?: typeof import('yaml') };
        doc = (yaml.parse ?? yaml.default!.parse)(text);
      } catch (e) {
        throw new SkiffError('EINVALID', `invalid registries.d file ${f}: ${(e as Error).message}`, { cause: e });
      }
      if (doc === null || doc === undefined) continue;
      if (typeof doc !== 'object' || Array.isArray(doc)) throw new SkiffError('EINVALID', `invalid registries.d file ${f}: not a mapping`);
      for (const [k, v] of Object.entries(doc)) {
        if (k === 'default-docker') {
          if (defaultFrom !== undefined) throw new SkiffError('EINVALID', `default-docker defined both in ${defaultFrom} and ${f}`);
          defaultFrom = f;
          out.defaultDocker = entryOf(v, `${f} default-docker`);
        } else if (k === 'docker') {
          if (v === null) continue;
          if (typeof v !== 'object' || Array.isArray(v)) throw new SkiffError('EINVALID', `invalid registries.d file ${f}: docker must be a mapping`);
          for (const [scope, e] of Object.entries(v)) {
            if (scopeFrom[scope] !== undefined) throw new SkiffError('EINVALID', `registries.d scope ${scope} defined both in ${scopeFrom[scope]} and ${f}`);
            scopeFrom[scope] = f;
            out.docker[scope] = entryOf(e, `${f} docker.${scope}`);
          }
        } else throw new SkiffError('EINVALID', `invalid registries.d file ${f}: unknown key ${JSON.stringify(k)}`);
      }
    }
  }
  return out;
}

/** The entry for a docker reference: the most specific `docker:` scope (repo:tag, repo, namespaces, host), else default-docker. */
export function lookasideEntryFor(config: RegistriesD, dockerReference: string): LookasideEntry | undefined {
  const n = normalizeNamed(dockerReference);
  const candidates: string[] = [];
  if (n.tag !== undefined) candidates.push(`${namedRepository(n)}:${n.tag}`);
  candidates.push(namedRepository(n));
  const parts = n.path.split('/');
  for (let i = parts.length - 1; i > 0; i--) candidates.push(`${n.registry}/${parts.slice(0, i).join('/')}`);
  candidates.push(n.registry);
  for (const c of candidates) if (config.docker[c] !== undefined) return config.docker[c];
  return config.defaultDocker;
}

/**
 * The URL of signature number `index` (1-based) of manifest `digest` under a lookaside base URL:
 * `<base>/<repo path>@sha256=<hex>/signature-<index>`. The digest is validated BEFORE any path is built (SG-10);
 * the repository path comes from a validated reference, so it has no `..` components.
 */
export function lookasideLocation(base: string, dockerReference: string, digest: string, index: number): URL {
  const d = parseDigest(digest, 'manifest digest');
  if (!Number.isSafeInteger(index) || index < 1) throw new SkiffError('EINVALID', `invalid signature index ${index}`);
  const n = normalizeNamed(dockerReference);
  const u = new URL(base.endsWith('/') ? base : `${base}/`);
  if (u.protocol !== 'file:' && u.protocol !== 'http:' && u.protocol !== 'https:') throw new SkiffError('EUNSUPPORTED', `unsupported lookaside URL scheme ${u.protocol}`);
  u.pathname = `${u.pathname}${n.path}@sha256=${digestHex(d)}/signature-${index}`;
  return u;
}

/** The lookaside base URLs for reading and writing a reference (staging for writes when set). */
export function lookasideBases(config: RegistriesD, dockerReference: string, o: { uid?: number; home?: string } = {}): { read: string; write: string; useSigstoreAttachments: boolean } {
  const e = lookasideEntryFor(config, dockerReference);
  const builtin = defaultLookaside(o.uid, o.home);
  const read = e?.lookaside ?? builtin;
  return { read, write: e?.lookasideStaging ?? e?.lookaside ?? builtin, useSigstoreAttachments: e?.useSigstoreAttachments ?? false };
}

async function fetchOne(u: URL, signal?: AbortSignal): Promise<Uint8Array | undefined> {
  if (u.protocol === 'file:') {
    try {
      const b = await readFile(fileURLToPath(u), signal ? { signal } : {});
      if (b.length > MAX_LOOKASIDE_SIGNATURE_BYTES) throw new SkiffError('ELIMIT', `signature ${u.href} is larger than ${MAX_LOOKASIDE_SIGNATURE_BYTES} bytes`);
      return new Uint8Array(b);
    } catch (e) {
      // a directory this user may not read (/var/lib/containers is 0700 once root has used podman) holds no
      // signature for them: absent, as a missing file, so the policy decides (a signature requirement still fails)
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return undefined;
      throw e;
    }
  }
  const res = await (await loadUndici()).request(u, { method: 'GET', maxRedirections: 0, headersTimeout: 30_000, bodyTimeout: 30_000, signal } as Parameters<typeof request>[1]);
  if (res.statusCode === 404) {
    await res.body.dump();
    return undefined;
  }
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new SkiffError('EIO', `reading signature ${u.href}: HTTP ${res.statusCode}`);
  }
  const len = Number(res.headers['content-length'] ?? '0');
  if (len > MAX_LOOKASIDE_SIGNATURE_BYTES) {
    res.body.destroy();
    throw new SkiffError('ELIMIT', `signature ${u.href} is larger than ${MAX_LOOKASIDE_SIGNATURE_BYTES} bytes`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    if (n > MAX_LOOKASIDE_SIGNATURE_BYTES) {
      res.body.destroy();
      throw new SkiffError('ELIMIT', `signature ${u.href} is larger than ${MAX_LOOKASIDE_SIGNATURE_BYTES} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * Reads `signature-1`, `signature-2`, … from a file:// or http(s):// lookaside until the first missing one (404 /
 * ENOENT, or a file:// path this user may not read: EACCES), with per-signature size and count caps (SG-09). The digest is validated before any URL is built.
 */
export async function readLookasideSignatures(base: string, dockerReference: string, digest: string, o: Cancellable = {}): Promise<Uint8Array[]> {
  parseDigest(digest, 'manifest digest');
  const out: Uint8Array[] = [];
  for (let i = 1; ; i++) {
    throwIfAborted(o.signal);
    if (i > MAX_LOOKASIDE_SIGNATURES) throw new SkiffError('ELIMIT', `more than ${MAX_LOOKASIDE_SIGNATURES} signatures in the lookaside for ${dockerReference}`);
    const b = await fetchOne(lookasideLocation(base, dockerReference, digest, i), o.signal);
    if (b === undefined) return out;
    out.push(b);
  }
}
