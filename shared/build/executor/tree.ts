/**
 * Walking source trees for COPY/ADD and cache keys: lstat only (symlinks are entries, never followed — BU-01),
 * byte-ordered, ignore rules applied by context-relative path, and a content digest of a selection that covers
 * names, types, modes, ownership, symlink targets and file bytes but never times.
 */
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, normalize, posix } from 'node:path';
import { throwIfAborted, type Cancellable } from '../../errors.ts';
import type { IgnoreMatcher } from '../dockerfile/index.ts';
import type { FileDigests } from '../cache/file-digests.ts';
import { mapLimit } from './pool.ts';

/** Filesystem operations kept in flight at once when walking, hashing and copying trees. */
export const FS_CONCURRENCY = 32;

/** One entry of a walked tree. `rel` is relative to the walk root ('' for the root itself). */
export interface TreeEntry {
  rel: string;
  host: string;
  st: BigIntStats;
  type: 'file' | 'dir' | 'symlink' | 'other';
  link?: string;
}

function typeOf(st: BigIntStats): TreeEntry['type'] {
  return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
}

/** One lstat'ed entry (with its link target). */
export async function entryOf(host: string, rel: string): Promise<TreeEntry> {
  const st = await lstat(host, { bigint: true });
  const e: TreeEntry = { rel, host, st, type: typeOf(st) };
  if (e.type === 'symlink') e.link = await readlink(host);
  return e;
}

/** Decides per context-relative path whether an entry is part of the selection. */
export interface WalkFilter {
  matcher?: IgnoreMatcher;
  /** `--exclude` patterns, matched against the path relative to the source */
  exclude?: IgnoreMatcher;
  /** the walk root's path relative to the context ('' for the context root) */
  ctxPrefix: string;
}

/** Entries lstat'ed synchronously before the walk yields to the event loop (and checks its signal) once. */
const WALK_SLICE = 1024;

function entryOfSync(host: string, rel: string): TreeEntry {
  const st = lstatSync(host, { bigint: true });
  const e: TreeEntry = { rel, host, st, type: typeOf(st) };
  if (e.type === 'symlink') e.link = readlinkSync(host);
  return e;
}

/**
 * The entries under `root` (the root itself first), depth-first in byte order, each directory before its contents.
 * Ignored entries are skipped; ignored directories are descended only when a `!` pattern may re-include something.
 * Directories are listed and lstat'ed with synchronous calls — on a cached rebuild this walk IS the context check,
 * and one synchronous lstat costs a third of a promise round trip through the thread pool — yielding to the event
 * loop every WALK_SLICE entries so other stages and the abort signal still get their turn.
 */
export async function walkTree(root: string, f: WalkFilter, o: Cancellable = {}): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [await entryOf(root, '')];
  let sinceYield = 0;
  const visit = async (dir: string, rel: string): Promise<void> => {
    const names = readdirSync(dir).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if ((sinceYield += names.length) >= WALK_SLICE) {
      sinceYield = 0;
      await new Promise<void>((r) => setImmediate(r));
    }
    throwIfAborted(o.signal);
    // plain concatenation: `dir` is already normal (the root normalised once, then names from readdir), and join()'s
    // normalisation of every path was a tenth of a cached rebuild's context check
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    for (const n of names) {
      const e = entryOfSync(prefix + n, rel === '' ? n : `${rel}/${n}`);
      const r = e.rel;
      const host = e.host;
      const ctxRel = f.ctxPrefix === '' ? r : `${f.ctxPrefix}/${r}`;
      const excluded = (f.matcher?.isExcluded(ctxRel, e.type === 'dir') ?? false) || (f.exclude?.isExcluded(r, e.type === 'dir') ?? false);
      if (excluded) {
        if (e.type === 'dir' && ((f.matcher?.mayIncludeUnder(ctxRel) ?? false) || (f.exclude?.mayIncludeUnder(r) ?? false))) await visit(host, r);
        continue;
      }
      out.push(e);
      if (e.type === 'dir') await visit(host, r);
    }
  };
  if (out[0]!.type === 'dir') await visit(normalize(root), '');
  return out;
}

/** The digest (hex) of a selection: names, types, modes, ownership, link targets and file bytes; not times. */
export async function selectionDigest(entries: readonly TreeEntry[], digests: FileDigests, o: Cancellable = {}): Promise<string> {
  const h = createHash('sha256');
  // file digests (memo hits or reads) concurrently, folded in entry order
  // memo hits answered synchronously; only files whose stat changed are read (concurrently)
  const sums = entries.map((e) => (e.type === 'file' ? digests.cached(e.host, e.st) : ''));
  const misses = entries.flatMap((e, i) => (sums[i] === undefined ? [i] : []));
  const read = await mapLimit(misses, FS_CONCURRENCY, (i) => digests.digest(entries[i]!.host, entries[i]!.st, o));
  misses.forEach((i, j) => (sums[i] = read[j]!));
  // one update per slice of entries rather than per entry (the same bytes are hashed)
  let buf = '';
  for (const [i, e] of entries.entries()) {
    let content = '';
    if (e.type === 'file') content = sums[i]!;
    else if (e.type === 'symlink') content = e.link ?? '';
    buf += `${e.rel}\0${e.type}\0${Number(e.st.mode & 0o7777n).toString(8)}\0${e.st.uid}:${e.st.gid}\0${content}\n`;
    if (buf.length >= 1 << 16) {
      h.update(buf);
      buf = '';
    }
  }
  h.update(buf);
  return h.digest('hex');
}

/** A RegExp for one path segment of a Go filepath.Match pattern (`*`, `?`, `[...]`, `\x`). */
export function segmentRegExp(seg: string): RegExp {
  let re = '^';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < seg.length) re += seg[++i]!.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let cls = seg.slice(i + 1, end);
        if (cls.startsWith('^') || cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls.replace(/\\/gu, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');
  }
  return new RegExp(re + '$', 'u');
}

/**
 * Expands a glob source against `root` (context or stage root), segment by segment, never following symlinks
 * while listing; returns the matching root-relative paths, sorted. `skip` hides ignored paths.
 */
export async function expandGlob(root: string, pattern: string, skip: (rel: string) => boolean = () => false): Promise<string[]> {
  const segs = posix.normalize(`/${pattern}`).split('/').filter((s) => s !== '');
  let cur: string[] = [''];
  for (const seg of segs) {
    const next: string[] = [];
    const glob = /[*?[]/u.test(seg);
    for (const base of cur) {
      const hostDir = join(root, base);
      if (!glob) {
        const rel = base === '' ? seg.replace(/\\(.)/gu, '$1') : `${base}/${seg.replace(/\\(.)/gu, '$1')}`;
        if (await lstat(join(root, rel)).then(() => true, () => false)) next.push(rel);
        continue;
      }
      const st = await lstat(hostDir).catch(() => undefined);
      if (!st?.isDirectory()) continue;
      const re = segmentRegExp(seg);
      for (const n of (await readdir(hostDir)).sort()) if (re.test(n)) next.push(base === '' ? n : `${base}/${n}`);
    }
    cur = next;
  }
  return cur.filter((r) => r !== '' && !skip(r)).sort();
}
