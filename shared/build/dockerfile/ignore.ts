/**
 * `.dockerignore` with moby's patternmatcher semantics: patterns cleaned like filepath.Clean (leading `/` and `./`
 * removed), `*` and `?` never cross `/`, `**` spans directories, `[...]` classes, `\` escapes, `!` exceptions,
 * the last matching pattern wins, and a pattern matching a parent directory matches everything under it.
 * File selection: `--ignorefile`, else `<Dockerfile>.dockerignore` beside the Dockerfile, else `.containerignore`,
 * else `.dockerignore` at the context root. Ignore files are read only when they resolve inside the context (BU-04).
 */
import { lstat, readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join, posix, relative, sep } from 'node:path';
import { SkiffError, throwIfAborted } from '../../errors.ts';

interface Pattern {
  text: string;
  exclusion: boolean;
  re: RegExp;
  parts: string[];
}

/** Parses ignore-file text into patterns (comments, blank lines and a UTF-8 BOM dropped; `!` kept as a prefix). */
export function readIgnorePatterns(text: string): string[] {
  const out: string[] = [];
  let first = true;
  for (let line of text.split(/\r?\n/u)) {
    if (first && line.startsWith('\uFEFF')) line = line.slice(1);
    first = false;
    if (line.startsWith('#')) continue;
    let p = line.trim();
    if (p === '') continue;
    const invert = p.startsWith('!');
    if (invert) p = p.slice(1).trim();
    if (p.length > 0) {
      p = posix.normalize(p);
      if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    }
    out.push(invert ? '!' + p : p);
  }
  return out;
}

function globToRegExp(pattern: string): RegExp {
  let re = '^';
  const cs = Array.from(pattern);
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    if (c === '*') {
      if (cs[i + 1] === '*') {
        i++;
        if (cs[i + 1] === '/') i++;
        re += i + 1 >= cs.length ? '.*' : '(.*/)?';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      const n = cs[i + 1];
      if (n === undefined) re += '\\\\';
      else {
        re += n.replace(/[.*+?^${}()|[\]\\/]/gu, '\\$&');
        i++;
      }
    } else if (c === '[') {
      let j = i + 1;
      let cls = '[';
      if (cs[j] === '!' || cs[j] === '^') {
        cls += '^';
        j++;
      }
      let closed = false;
      for (; j < cs.length; j++) {
        const d = cs[j]!;
        if (d === ']' && cls.length > 1 && cls !== '[^') {
          closed = true;
          break;
        }
        if (d === '\\' && j + 1 < cs.length) {
          cls += '\\' + cs[++j];
          continue;
        }
        cls += d === '/' ? '' : d === '[' ? '\\[' : d;
      }
      if (!closed) throw new SkiffError('EINVALID', `syntax error in ignore pattern "${pattern}": unterminated [`, { hint: 'escape a literal [ as \\[' });
      re += cls + ']';
      i = j;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/gu, '\\$&');
  }
  return new RegExp(re + '$', 'u');
}

/** A path that posix.normalize (and stripping leading and trailing `/`) could change. */
const NOT_CLEAN = /^\/|\/$|\/\/|(?:^|\/)\.{1,2}(?:\/|$)/u;

/** Whether `re` matches a parent directory of the clean relative `path` (`a` and `a/b` of `a/b/c`). */
function matchesParent(re: RegExp, path: string): boolean {
  for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) if (re.test(path.slice(0, i))) return true;
  return false;
}

/** A compiled ignore list. Matching is pure and stateless. */
export class IgnoreMatcher {
  readonly patterns: readonly Pattern[];
  readonly hasExclusions: boolean;

  /** Compiles patterns (as from readIgnorePatterns); throws EINVALID for `!` alone or a malformed class. */
  constructor(patterns: readonly string[]) {
    const ps: Pattern[] = [];
    for (const raw of patterns) {
      let p = raw.trim();
      if (p === '') continue;
      const exclusion = p.startsWith('!');
      if (exclusion) {
        p = p.slice(1);
        if (p === '') throw new SkiffError('EINVALID', 'illegal exclusion pattern: "!"', { hint: 'write !PATTERN to re-include files' });
      }
      p = posix.normalize(p);
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
      if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
      ps.push({ text: p, exclusion, re: globToRegExp(p), parts: p.split('/') });
    }
    this.patterns = ps;
    this.hasExclusions = ps.some((p) => p.exclusion);
  }

  /**
   * True when `relPath` (relative to the context, `/`-separated) is excluded: the last pattern matching the path or
   * one of its parent directories decides. `isDir` is accepted for API symmetry (moby does not distinguish).
   */
  isExcluded(relPath: string, _isDir = false): boolean {
    if (this.patterns.length === 0) return false;
    // a walker's paths are already clean (no empty, `.` or `..` segment, no leading or trailing `/`): normalised
    // only when they are not, as this runs once per context entry on every build
    const path = NOT_CLEAN.test(relPath) ? posix.normalize(relPath.replace(/^\/+/u, '')).replace(/\/+$/u, '') : relPath;
    if (path === '.' || path === '') return false;
    let matched = false;
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      if (p.re.test(path) || matchesParent(p.re, path)) matched = !p.exclusion;
    }
    return matched;
  }

  /**
   * For walk pruning: false only when nothing under the excluded directory `relDir` can be re-included by a `!`
   * pattern, so the walker may skip the whole directory. Conservative: true whenever unsure.
   */
  mayIncludeUnder(relDir: string): boolean {
    if (!this.hasExclusions) return false;
    const dir = posix.normalize(relDir.replace(/^\/+/u, '')).replace(/\/+$/u, '').split('/');
    for (const p of this.patterns) {
      if (!p.exclusion) continue;
      let possible = true;
      for (let i = 0; i < dir.length; i++) {
        const pc = p.parts[i];
        if (pc === undefined) break; // the pattern names a parent of dir: it re-includes dir itself
        if (pc.includes('**')) break;
        if (!globToRegExp(pc).test(dir[i]!)) {
          possible = false;
          break;
        }
      }
      if (possible) return true;
    }
    return false;
  }
}

/** Where an ignore file was found and its patterns. */
export interface IgnoreFile {
  path: string | undefined;
  patterns: string[];
}

async function isInside(root: string, p: string): Promise<boolean> {
  const real = await realpath(p);
  const rel = relative(await realpath(root), real);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !rel.startsWith('/'));
}

/**
 * Finds and reads the ignore file for a build. Order: `ignorefile` (explicit, read as given), then
 * `<dockerfile>.dockerignore` beside the Dockerfile, `.containerignore`, `.dockerignore` at the context root.
 * A candidate that is a symlink resolving outside the context is skipped and never opened (BU-04); its name is
 * reported in `skipped`. Returns no patterns when none exists.
 */
export async function loadIgnoreFile(
  context: string,
  o: { dockerfile?: string; ignorefile?: string; signal?: AbortSignal } = {},
): Promise<IgnoreFile & { skipped: string[] }> {
  throwIfAborted(o.signal);
  const skipped: string[] = [];
  if (o.ignorefile !== undefined) {
    const text = await readFile(o.ignorefile, { encoding: 'utf8', signal: o.signal }).catch((e: NodeJS.ErrnoException) => {
      throw new SkiffError('ENOTFOUND', `cannot read ignore file ${o.ignorefile}: ${e.code ?? e.message}`, { cause: e });
    });
    return { path: o.ignorefile, patterns: readIgnorePatterns(text), skipped };
  }
  const candidates: string[] = [];
  if (o.dockerfile !== undefined) candidates.push(join(dirname(o.dockerfile), basename(o.dockerfile) + '.dockerignore'));
  candidates.push(join(context, '.containerignore'), join(context, '.dockerignore'));
  for (const c of candidates) {
    throwIfAborted(o.signal);
    const st = await lstat(c).catch(() => undefined);
    if (st === undefined) continue;
    const inCtx = await isInside(context, c).catch(() => false);
    const besideDockerfile = o.dockerfile !== undefined && c === candidates[0] && !st.isSymbolicLink();
    if (!inCtx && !besideDockerfile) {
      skipped.push(c);
      continue;
    }
    const text = await readFile(c, { encoding: 'utf8', signal: o.signal });
    return { path: c, patterns: readIgnorePatterns(text), skipped };
  }
  return { path: undefined, patterns: [], skipped };
}
