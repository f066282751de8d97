/**
 * Unique names without a global lock (containers, pods): `<dir>/<sha256(name)>` holds the owning id, created with
 * O_EXCL, so two creators racing for one name cannot both win, and a raw name is never part of a path (RU-07).
 * A reservation whose owner no longer exists (a creator killed between reserving and writing its record) is
 * reclaimed once.
 */
import { createHash } from 'node:crypto';
import { constants as C } from 'node:fs';
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { SkiffError } from '../errors.ts';

/** The reservation file of `name` under `dir`. Pure. */
export function nameFileOf(dir: string, name: string): string {
  return join(dir, createHash('sha256').update(name).digest('hex'));
}

/**
 * Reserves `name` for `id` in `dir`. `ownerExists(owner)` says whether a current holder is real; when it is (or the
 * reclaim loses a race twice) `inUse(owner)` is thrown — with the holder's id when one was read.
 */
export async function reserveName(dir: string, name: string, id: string, o: { ownerExists: (owner: string) => Promise<boolean>; inUse: (owner?: string) => SkiffError }): Promise<void> {
  const f = nameFileOf(dir, name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(f, C.O_CREAT | C.O_EXCL | C.O_WRONLY, 0o600);
      await fh.writeFile(id);
      await fh.close();
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = (await readFile(f, 'utf8').catch(() => '')).trim();
      if (await o.ownerExists(owner)) throw o.inUse(owner);
      await unlink(f).catch(() => {});
    }
  }
  throw o.inUse();
}

/** Releases `name` in `dir` if `id` holds it. Idempotent. */
export async function releaseName(dir: string, name: string, id: string): Promise<void> {
  const f = nameFileOf(dir, name);
  if ((await readFile(f, 'utf8').catch(() => '')).trim() === id) await unlink(f).catch(() => {});
}
