/**
 * A stat-keyed memo of file content digests, persisted under `<root>/cache/file-digests.json`, so a rebuild whose
 * context did not change stats files but hashes nothing. The memo only avoids re-reading bytes: a digest is reused
 * only when device, inode, size, mtime and ctime (nanoseconds) all match, and the digest itself — never the stat
 * fields — is what enters a cache key (touching a file re-hashes it and yields the same key).
 */
import { createHash } from 'node:crypto';
import { createReadStream, type BigIntStats } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../store/atomic.ts';
import type { Cancellable } from '../../errors.ts';

/** Files up to this size are read in one call rather than streamed. */
const SMALL_FILE = 256n << 10n;

type Entry = [dev: string, ino: string, size: string, mtime: string, ctime: string, digest: string];

/** The memo; `hashed` counts files actually read during this build. Not shared between processes (last save wins). */
export class FileDigests {
  #map = new Map<string, Entry>();
  #dirty = false;
  #transient: string[] = [];
  hashed = 0;
  readonly file: string;

  private constructor(file: string) {
    this.file = file;
  }

  /** Loads the memo (a missing or malformed file is an empty memo). */
  static async load(file: string): Promise<FileDigests> {
    const m = new FileDigests(file);
    try {
      const obj = JSON.parse(await readFile(file, 'utf8')) as Record<string, Entry>;
      for (const [k, v] of Object.entries(obj)) if (Array.isArray(v) && v.length === 6) m.#map.set(k, v);
    } catch {
      /* empty memo */
    }
    return m;
  }

  /** The memoised sha256 (hex) of `path` when its lstat `st` still matches the memo entry; else undefined. */
  cached(path: string, st: BigIntStats): string | undefined {
    const hit = this.#map.get(path);
    if (hit === undefined) return undefined;
    return hit[0] === String(st.dev) && hit[1] === String(st.ino) && hit[2] === String(st.size) && hit[3] === String(st.mtimeNs) && hit[4] === String(st.ctimeNs) ? hit[5] : undefined;
  }

  /** The sha256 (hex) of the regular file at `path` whose lstat is `st`; reads the file only on a memo miss. */
  async digest(path: string, st: BigIntStats, o: Cancellable = {}): Promise<string> {
    const key: Entry = [String(st.dev), String(st.ino), String(st.size), String(st.mtimeNs), String(st.ctimeNs), ''];
    const hit = this.#map.get(path);
    if (hit && hit.slice(0, 5).every((v, i) => v === key[i])) return hit[5];
    const h = createHash('sha256');
    if (st.size <= SMALL_FILE) {
      // one read for a small file: a stream's set-up costs more than the bytes (a fresh CI runner hashes every
      // file of the context once)
      h.update(await readFile(path, { flag: 'r', ...(o.signal && { signal: o.signal }) }));
    } else {
      await new Promise<void>((res, rej) => {
        const s = createReadStream(path, { flags: 'r', signal: o.signal });
        s.on('data', (c) => h.update(c));
        s.on('error', rej);
        s.on('end', res);
      });
    }
    this.hashed++;
    key[5] = h.digest('hex');
    if (this.#transient.some((d) => path.startsWith(d))) return key[5];
    this.#map.set(path, key);
    this.#dirty = true;
    return key[5];
  }

  /** Files under directory `dir` (a fetched context, removed after the build) are hashed but never memoised. */
  transient(dir: string): void {
    this.#transient.push(dir.endsWith('/') ? dir : `${dir}/`);
  }

  /** Writes the memo atomically when it changed. */
  async save(): Promise<void> {
    if (!this.#dirty) return;
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(this.#map)), 0o600);
    this.#dirty = false;
  }
}
