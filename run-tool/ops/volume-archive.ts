import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SkiffError, isSkiffError, type Cancellable } from '../../shared/errors.ts';
import { applyLayer } from '../../shared/layer/apply.ts';
import { decompress } from '../../shared/layer/compression.ts';
import { forEachTarEntry } from '../../shared/layer/tar-read.ts';
import { packTree } from '../../shared/layer/tar-write.ts';
import { inspectVolume, validateVolumeName, volumePaths } from '../containers/volumes.ts';
import { writeTarTo, type ExportTarget } from './export-container.ts';

// The volume archive operations (podman's `volume exists|export|import`).

/** Whether volume `name` exists (false for a name podman's grammar refuses). Read-only. */
export async function volumeExists(root: string, name: string): Promise<boolean> {
  try {
    await inspectVolume(root, validateVolumeName(name));
    return true;
  } catch (e) {
    if (isSkiffError(e, 'ENOTFOUND') || isSkiffError(e, 'EINVALID')) return false;
    throw e;
  }
}

/** podman's message for a volume that does not exist. */
function noSuchVolume(name: string, cause: unknown): SkiffError {
  return new SkiffError('ENOTFOUND', `no such volume ${name}`, { cause });
}

/**
 * Writes the content of volume `name` (its `_data`, not the directory itself) as a tar archive to `target`
 * (packTree: symlinks archived as links and never followed, sockets skipped; a file target is complete or absent).
 * ENOTFOUND "no such volume NAME".
 */
export async function exportVolume(root: string, name: string, target: ExportTarget, o: Cancellable & { onWarning?: (m: string) => void } = {}): Promise<void> {
  await inspectVolume(root, name).catch((e: unknown) => Promise.reject(isSkiffError(e, 'ENOTFOUND') || isSkiffError(e, 'EINVALID') ? noSuchVolume(name, e) : e));
  await writeTarTo(packTree(volumePaths(root, name).data, { signal: o.signal, ...(o.onWarning && { onWarning: o.onWarning }) }), target, o);
}

/** True when the archive name `name` climbs above the archive's root through `..` (an absolute name counts from the root). */
export function escapesRoot(name: string): boolean {
  let depth = 0;
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (--depth < 0) return true;
    } else depth++;
  }
  return false;
}

/**
 * Imports a tar archive (plain, gzip or zstd) into volume `name`, merging it over what the volume holds, as podman's
 * `volume import` does. The archive is first copied to a private temp file beside the volume's data and checked
 * whole: an entry or hard-link target whose name climbs out of the root through `..`, or an archive that does not
 * parse, fails with EINVALID before anything is written to the volume (one line, nothing half-written). Only then is
 * it applied, confined to the volume's data dir (applyLayer: no write ever follows a symlink out, LA-01/LA-02/LA-03).
 * ENOTFOUND "no such volume NAME".
 */
export async function importVolume(root: string, name: string, source: Readable, o: Cancellable = {}): Promise<void> {
  await inspectVolume(root, name).catch((e: unknown) => Promise.reject(isSkiffError(e, 'ENOTFOUND') || isSkiffError(e, 'EINVALID') ? noSuchVolume(name, e) : e));
  const p = volumePaths(root, name);
  const tmp = join(p.dir, `.import-${randomBytes(8).toString('hex')}.tar`);
  try {
    await pipeline(source, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }), { signal: o.signal });
    const open = async (): Promise<Readable> => (await decompress(createReadStream(tmp), { signal: o.signal })).stream;
    try {
      await forEachTarEntry(
        await open(),
        (h) => {
          if (escapesRoot(h.name) || (h.type === 'link' && escapesRoot(h.linkname ?? ''))) {
            throw new SkiffError('EINVALID', `refusing to import into volume ${name}: archive entry ${JSON.stringify(h.name)} points outside the volume`, { hint: 'remove entries with ".." from the archive' });
          }
        },
        { signal: o.signal },
      );
    } catch (e) {
      if (isSkiffError(e, 'EINVALID') && !/^refusing/.test(e.message)) throw new SkiffError('EINVALID', `volume ${name}: the input is not a tar archive: ${e.message}`, { cause: e });
      throw e;
    }
    await applyLayer(p.data, await open(), { signal: o.signal });
  } finally {
    await rm(tmp, { force: true });
  }
}
