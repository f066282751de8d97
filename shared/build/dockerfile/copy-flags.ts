/**
 * COPY/ADD flags: --chown, --chmod (octal and symbolic, as a mode function), --from/--link/--parents/--exclude and
 * the ADD-only flags, plus source kinds (globs, URLs) and the destination rule. Pure; values already expanded.
 */
import { posix } from 'node:path';
import { invalid } from './invalid.ts';

/** A --chown value: user and optional group, each a name or a numeric id (names resolved by the executor). */
export interface Chown {
  user: string;
  group?: string;
}

/** Parses `--chown=user[:group]`. */
export function parseChown(v: string): Chown {
  const [user, group, extra] = v.split(':');
  if (!user || extra !== undefined || group === '') throw invalid(`invalid --chown value "${v}"`, 'write --chown=USER[:GROUP]');
  return group === undefined ? { user } : { user, group };
}

/** A mode transformer: given the source mode bits (permission + special bits) and whether it is a directory. */
export type ChmodFn = (mode: number, isDir: boolean) => number;

/** Parses `--chmod`: octal (`755`, `0644`, `4755`) or symbolic (`u+x,g-w,o=r`, `a+X`, `+t`) into a function. */
export function parseChmod(v: string): ChmodFn {
  if (/^[0-7]{1,4}$/u.test(v)) {
    const m = parseInt(v, 8);
    return () => m;
  }
  const clauses = v.split(',');
  const parsed = clauses.map((c) => {
    const m = /^([ugoa]*)((?:[-+=][rwxXst]*)+)$/u.exec(c);
    if (m === null) throw invalid(`invalid --chmod value "${v}"`, 'use octal (755) or symbolic (u+x,g-w) modes');
    const ops = [...m[2]!.matchAll(/([-+=])([rwxXst]*)/gu)].map((x) => ({ op: x[1]!, perms: x[2]! }));
    return { who: m[1] === '' ? 'a' : m[1]!, ops };
  });
  return (mode, isDir) => {
    let cur = mode & 0o7777;
    for (const { who, ops } of parsed) {
      const u = who.includes('u') || who.includes('a');
      const g = who.includes('g') || who.includes('a');
      const o = who.includes('o') || who.includes('a');
      for (const { op, perms } of ops) {
        let bits = 0;
        const anyX = isDir || (cur & 0o111) !== 0;
        for (const p of perms) {
          const rwx = p === 'r' ? 4 : p === 'w' ? 2 : p === 'x' || (p === 'X' && anyX) ? 1 : 0;
          if (u) bits |= rwx << 6;
          if (g) bits |= rwx << 3;
          if (o) bits |= rwx;
          if (p === 's') bits |= (u ? 0o4000 : 0) | (g ? 0o2000 : 0);
          if (p === 't') bits |= 0o1000;
        }
        const mask = (u ? 0o4700 : 0) | (g ? 0o2070 : 0) | (o ? 0o1007 : 0);
        if (op === '+') cur |= bits;
        else if (op === '-') cur &= ~bits;
        else cur = (cur & ~mask) | bits;
      }
    }
    return cur;
  };
}

// ---------------------------------------------------------------- COPY / ADD

/** Parsed COPY/ADD flags (values expanded). */
export interface CopyOptions {
  from?: string;
  chown?: Chown;
  chmod?: ChmodFn;
  chmodText?: string;
  /**
   * `--link`: accepted and executed like a plain COPY/ADD (same result tree and layer). BuildKit's rebase-without-
   * rebuild is an optimisation of its own cache; build-tool's layers already depend only on the step's key. The flag
   * is kept in the key so toggling it never reuses a layer built the other way.
   */
  link: boolean;
  parents: boolean;
  exclude: string[];
  checksum?: string;
  keepGitDir: boolean;
}

function boolFlag(name: string, v: string | undefined): boolean {
  if (v === undefined || v === '' || v === 'true') return true;
  if (v === 'false') return false;
  throw invalid(`invalid value for --${name}: "${v}"`, `write --${name} or --${name}=false`);
}

/** Parses COPY/ADD flags; ADD-only flags on COPY are refused. */
export function parseCopyOptions(kind: 'COPY' | 'ADD', flags: readonly { name: string; value: string | undefined }[]): CopyOptions {
  const o: CopyOptions = { link: false, parents: false, exclude: [], keepGitDir: false };
  for (const f of flags) {
    const need = (): string => {
      if (f.value === undefined || f.value === '') throw invalid(`--${f.name} requires a value`);
      return f.value;
    };
    switch (f.name) {
      case 'from': o.from = need(); break;
      case 'chown': o.chown = parseChown(need()); break;
      case 'chmod': o.chmodText = need(); o.chmod = parseChmod(o.chmodText); break;
      case 'link': o.link = boolFlag(f.name, f.value); break;
      case 'parents': o.parents = boolFlag(f.name, f.value); break;
      case 'exclude': o.exclude.push(need()); break;
      case 'checksum': {
        if (kind !== 'ADD') throw invalid('--checksum is only supported by ADD');
        const v = need();
        if (!/^sha(256:[0-9a-f]{64}|384:[0-9a-f]{96}|512:[0-9a-f]{128})$/u.test(v)) throw invalid(`invalid --checksum "${v}"`, 'write --checksum=sha256:<64 hex digits>');
        o.checksum = v;
        break;
      }
      case 'keep-git-dir': o.keepGitDir = boolFlag(f.name, f.value); break;
      case 'unpack': break;
      default: throw invalid(`unknown flag: --${f.name} for ${kind}`);
    }
  }
  return o;
}

/** True when a source uses glob characters (`*`, `?`, `[`); the executor expands it against the context. */
export function hasGlob(src: string): boolean {
  return /[*?[]/u.test(src);
}

/** True when a source is a URL (ADD only). */
export function isUrl(src: string): boolean {
  return /^https?:\/\//iu.test(src);
}

/**
 * Destination rules: relative destinations are under the working directory; a trailing slash (or `.`) means a
 * directory; several sources, or any glob, need a directory destination ending in `/`.
 */
export function copyDestination(sources: readonly string[], dest: string, workdir: string | undefined): { path: string; isDir: boolean } {
  const isDir = dest.endsWith('/') || dest === '.' || dest.endsWith('/.');
  const abs = posix.isAbsolute(dest) ? dest : posix.join(workdir || '/', dest);
  const path = posix.normalize(abs);
  if (sources.length > 1 && !isDir) {
    throw invalid('When using COPY with more than one source file, the destination must be a directory and end with a /', `write the destination as ${dest}/`);
  }
  return { path: path.length > 1 ? path.replace(/\/+$/u, '') : path, isDir };
}
