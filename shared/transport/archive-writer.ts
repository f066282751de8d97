import { randomBytes } from 'node:crypto';
import { lstat, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SkiffError } from '../errors.ts';
import { TarWriter } from '../layer/tar-write.ts';
import { fsyncDir } from '../store/atomic.ts';

/**
 * Writes a tar archive to `FILE.tmp-<random>` beside FILE, one member at a time (calls are queued, so callers
 * may add concurrently), and renames it to FILE on commit() after fsync. A member whose body fails (e.g. a
 * digest mismatch) breaks the archive: every later call and commit() fail, and abort() removes the temp file.
 * FILE is never seen half-written. When FILE exists and is not a regular file (a symlink such as
 * `/dev/stdout`, a pipe, a character device), the archive streams straight into it: there is nothing to rename, and renaming over a
 * device link would replace it.
 */
export class ArchiveWriter {
  readonly file: string;
  readonly tmp: string;
  readonly #tw = new TarWriter({ mtime: new Date(0) });
  #queue: Promise<void> = Promise.resolve();
  #failure: unknown;
  #done: Promise<void>;
  #finished = false;

  private constructor(file: string, tmp: string, done: Promise<void>) {
    this.file = file;
    this.tmp = tmp;
    this.#done = done.catch((e) => {
      this.#failure ??= e;
    });
  }

  /** Creates the temp file (exclusively) and starts streaming into it. */
  static async create(file: string): Promise<ArchiveWriter> {
    // Not following links: /dev/stdout is a symlink to /proc/self/fd/1, which may itself be a regular file.
    const existing = await lstat(file).catch(() => undefined);
    const direct = existing !== undefined && !existing.isFile() && !existing.isDirectory();
    const tmp = direct ? file : `${file}.tmp-${randomBytes(6).toString('hex')}`;
    const fh = await open(tmp, direct ? 'w' : 'wx', 0o644);
    let w: ArchiveWriter | undefined;
    const done = (async () => {
      await Promise.resolve();
      await pipeline(w!.#tw.stream, fh.createWriteStream({ flush: !direct }));
    })();
    w = new ArchiveWriter(file, tmp, done);
    return w;
  }

  /** Queues one member; a file body must yield exactly `size` bytes. Resolves when it is written. */
  add(name: string, type: 'file' | 'directory', body?: Readable | Buffer, size?: number): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.#failure !== undefined) {
        if (body && !Buffer.isBuffer(body)) body.destroy();
        throw this.#failure;
      }
      try {
        await this.#tw.add({ name, type, mode: type === 'directory' ? 0o755 : 0o644, ...(size === undefined ? {} : { size }) }, body);
      } catch (e) {
        this.#failure ??= e;
        throw e;
      }
    };
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => {});
    return p;
  }

  /** Ends the archive, waits for it to be on disk and renames it to FILE. */
  async commit(): Promise<void> {
    await this.#queue;
    if (this.#failure !== undefined) throw new SkiffError('EIO', `cannot finish ${this.file}: an earlier write failed`, { cause: this.#failure });
    this.#tw.finish();
    await this.#done;
    if (this.#failure !== undefined) throw this.#failure;
    this.#finished = true;
    if (this.tmp === this.file) return; // streamed straight into a pipe or device
    await rename(this.tmp, this.file);
    await fsyncDir(dirname(this.file));
  }

  /** Stops writing and removes the temp file (no-op after commit). */
  async abort(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    this.#failure ??= new SkiffError('EABORT', 'archive write abandoned');
    this.#tw.destroy(new SkiffError('EABORT', 'archive write abandoned'));
    await this.#done;
    if (this.tmp !== this.file) await rm(this.tmp, { force: true });
  }
}
