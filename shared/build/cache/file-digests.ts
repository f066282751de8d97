/**
 * A stat-keyed memo of file content digests (as git's index), one file per build context under
 * `<root>/cache/file-digests/<hash of the context path>.json`, read in one go and written atomically, so a rebuild
 * whose context did not change stats files but hashes nothing. The memo only avoids re-reading bytes: a digest is
 * reused only when device, inode, size, mtime and ctime (nanoseconds) all match, and the digest itself — never the
 * stat fields — is what enters a cache key (touching a file re-hashes it and yields the same key).
 *
 * Racy files (git's "racy clean" case): a file changed again within the filesystem's timestamp granularity of the
 * moment its bytes were read can keep the very same stat while its content differs. Such an entry is never
 * memoised: a file whose ctime or mtime is not clearly older than the read (racyWindowNs) is hashed again by the
 * next build, which by then sees either a new stat or an old enough one.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, type BigIntStats } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../store/atomic.ts';
import { throwIfAborted, type Cancellable } from '../../errors.ts';

/** Files up to this size are read in one call rather than streamed. */
const SMALL_FILE = 256n << 10n;

/** Format tag of the memo file; a file with another tag is ignored (rebuilt). */
const FORMAT = 'skiff-file-digests-v2';

/** The memo file of the context at `contextDir` (its real path) in the store's cache dir `cacheRoot`. */
export function memoFileFor(cacheRoot: string, contextDir: string): string {
  return join(cacheRoot, 'file-digests', `${createHash('sha256').update(contextDir).digest('hex').slice(0, 32)}.json`);
}

/** The stat fields an entry must match: device, inode, size, mtime and ctime in nanoseconds, in one string. */
export function statKey(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * How long (ns) after a file's last change (stamp `ns`) a read of it must start for its stat to identify its
 * content: twice the coarsest timestamp unit the stamp can come from (a whole-second stamp may be from a filesystem
 * with 1 s or 2 s granularity) plus 20 ms for the kernel's coarse clock tick, which lags the real time.
 */
export function racyWindowNs(ns: bigint): bigint {
  const unit = ns % 1_000_000_000n === 0n ? 1_000_000_000n : ns % 100_000_000n === 0n ? 100_000_000n : ns % 10_000_000n === 0n ? 10_000_000n : 1_000_000n;
  return 2n * unit + 20_000_000n;
}

/** Whether a file with stat `st` whose read started at `readAtNs` (realtime ns) is racy: too recent to memoise. */
export function isRacy(st: BigIntStats, readAtNs: bigint): boolean {
  const last = st.ctimeNs > st.mtimeNs ? st.ctimeNs : st.mtimeNs;
  const wc = racyWindowNs(st.ctimeNs);
  const wm = racyWindowNs(st.mtimeNs);
  return last + (wc > wm ? wc : wm) > readAtNs;
}

/** The realtime clock in nanoseconds (the clock file timestamps come from, at a finer grain). */
function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

type Entry = [stat: string, digest: string];

/** A memo entry as stored: `[statKey, sha256 hex]`; anything else in the file is ignored (that file is hashed). */
function validEntry(v: unknown): Entry | undefined {
  return Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string' && HEX64.test(v[1]) ? (v as Entry) : undefined;
}

const HEX64 = /^[0-9a-f]{64}$/u;

/**
 * The memo of one context; `hashed` counts files actually read during this build. Not shared between processes:
 * builds of one context at once each save what they saw, and the last save wins (every entry in any save is true).
 * The loaded file's entries are validated when looked up, not all at load: a cached rebuild looks each up once.
 */
export class FileDigests {
  /** the loaded file's entries (unvalidated; own properties only) */
  #loaded: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  /** entries set during this build (they win over loaded ones) */
  #map = new Map<string, Entry>();
  /** loaded entries dropped during this build (racy reads) */
  #dropped = new Set<string>();
  #dirty = false;
  #transient: string[] = [];
  hashed = 0;
  readonly file: string;

  private constructor(file: string) {
    this.file = file;
  }

  /** Loads the memo at `file`; a missing, unreadable or malformed file (or entry) is ignored: those files are hashed. */
  static async load(file: string): Promise<FileDigests> {
    const m = new FileDigests(file);
    try {
      // one synchronous read (as the context walk's lstats): four thread-pool round trips of readFile cost more
      const doc = JSON.parse(readFileSync(file, 'utf8')) as { format?: unknown; files?: unknown };
      if (doc?.format !== FORMAT || typeof doc.files !== 'object' || doc.files === null || Array.isArray(doc.files)) return m;
      m.#loaded = doc.files as Record<string, unknown>;
    } catch {
      /* no memo: every file is hashed */
    }
    return m;
  }

  /** The entry for `path`: set this build, else the loaded one when well-formed and not dropped. */
  #entry(path: string): Entry | undefined {
    const set = this.#map.get(path);
    if (set !== undefined) return set;
    if (!Object.hasOwn(this.#loaded, path) || this.#dropped.has(path)) return undefined;
    return validEntry(this.#loaded[path]);
  }

  /** The memoised sha256 (hex) of `path` when its lstat `st` still matches the memo entry; else undefined. */
  cached(path: string, st: BigIntStats): string | undefined {
    const hit = this.#entry(path);
    return hit !== undefined && hit[0] === statKey(st) ? hit[1] : undefined;
  }

  /** The sha256 (hex) of the regular file at `path` whose lstat is `st`; reads the file only on a memo miss. */
  async digest(path: string, st: BigIntStats, o: Cancellable = {}): Promise<string> {
    const memo = this.cached(path, st);
    if (memo !== undefined) return memo;
    const readAt = nowNs();
    const h = createHash('sha256');
    if (st.size <= SMALL_FILE) {
      // one synchronous read for a small file: a stream's set-up, or four thread-pool round trips of an async
      // readFile, cost more than the bytes (a fresh CI runner hashes every file of the context once)
      throwIfAborted(o.signal);
      h.update(readFileSync(path, { flag: 'r' }));
    } else {
      await new Promise<void>((res, rej) => {
        const s = createReadStream(path, { flags: 'r', signal: o.signal });
        s.on('data', (c) => h.update(c));
        s.on('error', rej);
        s.on('end', res);
      });
    }
    this.hashed++;
    const digest = h.digest('hex');
    if (this.#transient.some((d) => path.startsWith(d))) return digest;
    if (isRacy(st, readAt)) {
      // not memoised (an older entry of this path would be stale too)
      if (this.#entry(path) !== undefined) {
        this.#map.delete(path);
        this.#dropped.add(path);
        this.#dirty = true;
      }
      return digest;
    }
    this.#map.set(path, [statKey(st), digest]);
    this.#dirty = true;
    return digest;
  }

  /** Files under directory `dir` (a fetched context, removed after the build) are hashed but never memoised. */
  transient(dir: string): void {
    this.#transient.push(dir.endsWith('/') ? dir : `${dir}/`);
  }

  /** Writes the memo atomically (temp, fsync, rename) when it changed. */
  async save(): Promise<void> {
    if (!this.#dirty) return;
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    const files: Record<string, Entry> = {};
    for (const k of Object.keys(this.#loaded)) {
      const e = this.#map.has(k) || this.#dropped.has(k) ? undefined : validEntry(this.#loaded[k]);
      if (e !== undefined) files[k] = e;
    }
    for (const [k, e] of this.#map) files[k] = e;
    await writeFileAtomic(this.file, JSON.stringify({ format: FORMAT, files }), 0o600);
    this.#dirty = false;
  }
}
