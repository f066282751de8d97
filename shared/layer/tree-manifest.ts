import { constants as C, closeSync, openSync, readdirSync, type Dirent } from 'node:fs';
import { SkiffError } from '../errors.ts';
import { O_PATH, fdPath } from './confined-root.ts';

/** The kind of a tree entry, as lstat sees it (a hardlink is a file). */
export type EntryKind = 'file' | 'directory' | 'symlink' | 'char' | 'block' | 'fifo';

interface MNode {
  /** what is at the path; undefined for a directory the layer did not write itself (it holds what it wrote) */
  kind: EntryKind | undefined;
  /** the layer wrote this path or something below it (whiteouts spare these: LA-09, LA-10) */
  wrote: boolean;
  kids: Map<string, MNode> | undefined;
}

function kindOf(d: Dirent): EntryKind | 'other' {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'directory';
  if (d.isSymbolicLink()) return 'symlink';
  if (d.isCharacterDevice()) return 'char';
  if (d.isBlockDevice()) return 'block';
  if (d.isFIFO()) return 'fifo';
  return 'other';
}

const MAX_EXAMPLES = 3;

/**
 * What one apply left in its root, path by path (a trie of real components): every path the layer wrote with
 * its kind, and the directories holding them. Invariant: it mirrors the apply's own writes and removals — a
 * removed path is dropped with everything under it — so on a root that started empty, the tree must hold
 * exactly these paths with these kinds (verify). Also answers "did this layer write this path or below it",
 * which whiteouts need (LA-09, LA-10). Lookups are by components, O(depth).
 */
export class TreeManifest {
  readonly #root: MNode = { kind: 'directory', wrote: false, kids: undefined };
  /** paths in the trie, R excluded */
  #size = 0;

  /**
   * Records that the apply left `kind` at `comps` (its parents become directories holding it). `wrote`: the
   * layer's own entry (false for what the apply makes on the layer's behalf: an overlay whiteout device, a
   * directory created to hold an opaque marker). `kind` undefined keeps what is recorded (a directory when new).
   */
  add(comps: readonly string[], kind: EntryKind | undefined, wrote = true): void {
    let n = this.#root;
    for (const c of comps) {
      n.kids ??= new Map();
      let k = n.kids.get(c);
      if (k === undefined) {
        k = { kind: undefined, wrote: false, kids: undefined };
        n.kids.set(c, k);
        this.#size++;
      }
      if (wrote) k.wrote = true;
      n = k;
    }
    if (kind !== undefined) n.kind = kind;
  }

  /** True when the layer wrote `comps` or something below it. */
  has(comps: readonly string[]): boolean {
    let n: MNode | undefined = this.#root;
    for (let i = 0; i < comps.length && n; i++) n = n.kids?.get(comps[i]!);
    return n !== undefined && n !== this.#root && n.wrote;
  }

  /** Forgets `comps` and everything below it (the apply removed it). */
  drop(comps: readonly string[]): void {
    if (comps.length === 0) return;
    let n: MNode | undefined = this.#root;
    for (let i = 0; i < comps.length - 1 && n; i++) n = n.kids?.get(comps[i]!);
    const gone = n?.kids?.get(comps[comps.length - 1]!);
    if (gone === undefined) return;
    n!.kids!.delete(comps[comps.length - 1]!);
    this.#size -= countNodes(gone);
  }

  /** Paths recorded (R excluded). */
  get size(): number {
    return this.#size;
  }

  /**
   * Checks that the directory pinned by `rootFd`, which was empty before the apply, holds exactly the recorded
   * paths with the recorded kinds (a directory holding written paths must be a directory), walking it through
   * descriptors without following symlinks. Throws EINTEGRITY naming what is missing, unexpected or of the
   * wrong kind. Read-only.
   */
  verify(rootFd: number, rootName: string): void {
    const missing: string[] = [];
    const extra: string[] = [];
    const wrongKind: string[] = [];
    let nMissing = 0;
    let nExtra = 0;
    let nWrong = 0;
    let seen = 0;
    const walk = (fd: number, node: MNode, rel: string): void => {
      const expected = new Set(node.kids?.keys() ?? []);
      for (const d of readdirSync(fdPath(fd), { withFileTypes: true })) {
        const name = d.name;
        const p = rel ? `${rel}/${name}` : name;
        const m = node.kids?.get(name);
        if (m === undefined) {
          if (nExtra++ < MAX_EXAMPLES) extra.push(p);
          continue;
        }
        expected.delete(name);
        seen++;
        const k = kindOf(d);
        const want = m.kind ?? 'directory';
        if (k !== want) {
          if (nWrong++ < MAX_EXAMPLES) wrongKind.push(`${p} (${k}, expected ${want})`);
          continue;
        }
        if (k !== 'directory') continue;
        let kfd: number;
        try {
          kfd = openSync(`${fdPath(fd)}/${name}`, O_PATH | C.O_DIRECTORY | C.O_NOFOLLOW);
        } catch {
          if (nWrong++ < MAX_EXAMPLES) wrongKind.push(`${p} (changed while checked)`);
          continue;
        }
        try {
          walk(kfd, m, p);
        } finally {
          closeSync(kfd);
        }
      }
      for (const name of expected) {
        const count = countNodes(node.kids!.get(name)!);
        if (nMissing < MAX_EXAMPLES) missing.push(rel ? `${rel}/${name}` : name);
        nMissing += count;
      }
    };
    walk(rootFd, this.#root, '');
    if (nMissing + nExtra + nWrong === 0) return;
    const parts: string[] = [];
    if (nMissing) parts.push(`${nMissing} missing (${missing.join(', ')}${nMissing > missing.length ? ', …' : ''})`);
    if (nExtra) parts.push(`${nExtra} not in the layer (${extra.join(', ')}${nExtra > extra.length ? ', …' : ''})`);
    if (nWrong) parts.push(`${nWrong} of another type (${wrongKind.join(', ')}${nWrong > wrongKind.length ? ', …' : ''})`);
    throw new SkiffError('EINTEGRITY', `the unpacked tree ${rootName} does not hold what the layer wrote (${seen} of ${this.#size} entries found; ${parts.join('; ')})`, {
      hint: 'something changed the tree while the layer was applied; the entry was discarded, retry',
    });
  }
}

function countNodes(n: MNode): number {
  let c = 1;
  if (n.kids) for (const k of n.kids.values()) c += countNodes(k);
  return c;
}
