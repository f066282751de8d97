import { lstat, readdir, readlink, rm, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isSkiffError, throwIfAborted } from '../errors.ts';
import { acquireLock, type LockHandle } from '../store/lock.ts';

/** One piece of the unpacked-layer cache that cannot be trusted. */
export interface CacheDamage {
  /** What is damaged (the entry dir, the temp dir or the short link). */
  path: string;
  problem: string;
}

const HEX64 = /^[a-f0-9]{64}$/;
const TMP_RE = /^\.tmp-([a-f0-9]{64})-/;

async function isThere(p: string): Promise<boolean> {
  return (await lstat(p).catch(() => undefined)) !== undefined;
}

async function resolves(link: string): Promise<boolean> {
  return (await stat(link).catch(() => undefined)) !== undefined;
}

/** The entry lock of `hex` taken without waiting, or undefined when someone holds it (an unpack or gc in progress). */
async function tryEntryLock(cache: string, hex: string): Promise<LockHandle | undefined> {
  try {
    return await acquireLock(join(cache, '.locks', hex), { wait: false });
  } catch (e) {
    if (isSkiffError(e, 'ELOCKED')) return undefined;
    throw e;
  }
}

/**
 * Finds what the unpacked-layer cache at `cacheDir` (see unpack-cache.ts) holds that no unpack would trust:
 * entries without their `diff` dir or `link` file (a commit that never finished), `.tmp-<hex>-*` dirs of unpacks
 * whose process is gone (their entry lock is free), and `l/` short links whose target is gone. Entries whose
 * lock is held are skipped (work in progress). With `repair`, each is removed under its entry lock; the returned
 * list is what was found (and, with repair, removed).
 */
export async function checkUnpackedCache(cacheDir: string, o: { repair?: boolean; signal?: AbortSignal } = {}): Promise<CacheDamage[]> {
  const cache = resolve(cacheDir);
  const names = await readdir(cache).catch(() => [] as string[]);
  const out: CacheDamage[] = [];
  for (const n of names) {
    throwIfAborted(o.signal);
    const tmp = TMP_RE.exec(n);
    const hex = HEX64.test(n) ? n : tmp?.[1];
    if (hex === undefined) continue;
    const path = join(cache, n);
    let problem: string | undefined;
    if (tmp) problem = 'an unpack that never finished (its process is gone)';
    else if (!(await isThere(join(path, 'diff')))) problem = 'unpacked layer without its diff directory';
    else if (!(await isThere(join(path, 'link')))) problem = 'unpacked layer whose commit never finished (no link file)';
    if (problem === undefined) continue;
    const lock = await tryEntryLock(cache, hex);
    if (!lock) continue; // being unpacked or removed right now
    try {
      // re-check under the lock: an unpack may have committed or cleaned it meanwhile
      if (!(await isThere(path))) continue;
      if (!tmp && (await isThere(join(path, 'diff'))) && (await isThere(join(path, 'link')))) continue;
      out.push({ path, problem });
      if (o.repair) await rm(path, { recursive: true, force: true });
    } finally {
      await lock.release();
    }
  }
  for (const s of await readdir(join(cache, 'l')).catch(() => [] as string[])) {
    if (!/^[A-Z0-9]{26}$/.test(s)) continue;
    const link = join(cache, 'l', s);
    if (await resolves(link)) continue;
    // a commit makes the link just before it renames the entry into place: judge it under the entry's lock
    const hex = /^\.\.\/([a-f0-9]{64})\/diff$/.exec((await readlink(link).catch(() => '')) as string)?.[1];
    const lock = hex === undefined ? undefined : await tryEntryLock(cache, hex);
    if (hex !== undefined && !lock) continue;
    try {
      if (await resolves(link)) continue;
      out.push({ path: link, problem: 'short link to an unpacked layer that is gone' });
      if (o.repair) await unlink(link).catch(() => {});
    } finally {
      await lock?.release();
    }
  }
  return out;
}
