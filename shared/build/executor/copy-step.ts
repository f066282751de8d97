/**
 * COPY and ADD. Two phases so the cache key exists before anything is copied:
 *   prepareCopy() resolves and walks the sources (context: lstat walk with the ignore rules, explicit sources
 *   resolved inside the context so in-context symlinks are followed — BU-02 — and out-of-context ones never are —
 *   BU-01; URLs downloaded) and returns the key description (content digests, not times);
 *   apply() writes them into a working root through RootWriter (confined — BU-15, BU-20).
 * `--from` sources are resolved inside the source stage's root only; their key is the stage's key plus the paths, so
 * the source root is mounted and walked only when the step runs (not on a cache hit).
 */
import { lstat, realpath } from 'node:fs/promises';
import { posix, relative } from 'node:path';
import { SkiffError, throwIfAborted } from '../../errors.ts';
import { resolveInRoot } from '../../runtime/in-root.ts';
import { IgnoreMatcher, hasGlob, isUrl, type ResolvedStep } from '../dockerfile/index.ts';
import type { Owner, RootWriter } from './root-writer.ts';
import { TaskPool } from './pool.ts';
import { expandGlob, FS_CONCURRENCY, selectionDigest, walkTree, type TreeEntry } from './tree.ts';
import type { BuildCtx } from './types.ts';

type Item =
  | { kind: 'tree'; src: string; rel: string; entries: TreeEntry[]; fromStage: boolean }
  | { kind: 'url'; file: string; name: string; mtime?: Date }
  | { kind: 'inline'; name: string; body: string };

/** A prepared COPY/ADD: its cache-key description and the function that performs it. */
export interface PreparedCopy {
  description: unknown;
  summary: string;
  apply(root: string): Promise<void>;
}

function notFound(kind: string, src: string): SkiffError {
  return new SkiffError('ENOTFOUND', `${kind} failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`, {
    hint: 'check the path (relative to the context directory) and the ignore file',
  });
}

async function collect(ctx: BuildCtx, root: string, ignore: IgnoreMatcher | undefined, exclude: IgnoreMatcher | undefined, sources: readonly string[], kind: string, fromStage: boolean): Promise<Item[]> {
  const items: Item[] = [];
  const realRoot = await realpath(root);
  for (const src of sources) {
    const clean = posix.normalize(`/${src}`).slice(1);
    let rels: string[];
    if (hasGlob(src)) {
      rels = await expandGlob(realRoot, clean, (r) => ignore?.isExcluded(r) ?? false);
      if (rels.length === 0) throw notFound(kind, src);
    } else rels = [clean];
    for (const rel of rels) {
      if (rel !== '' && ignore?.isExcluded(rel) && !ignore.mayIncludeUnder(rel)) throw notFound(kind, src);
      const host = await resolveInRoot(realRoot, rel);
      const st = await lstat(host).catch(() => undefined);
      if (st === undefined) throw notFound(kind, src);
      const prefix = relative(realRoot, host);
      const entries = await walkTree(host, { matcher: ignore, exclude, ctxPrefix: prefix }, { signal: ctx.o.signal });
      items.push({ kind: 'tree', src: rel, rel: prefix, entries, fromStage });
    }
  }
  return items;
}

/** Resolves the sources of a COPY/ADD step and returns its key description and executor. */
export async function prepareCopy(ctx: BuildCtx, step: ResolvedStep, stageIndex: number): Promise<PreparedCopy> {
  const c = step.copy!;
  const kind = step.instruction.kind;
  const so = { signal: ctx.o.signal };
  const exclude = c.options.exclude.length ? new IgnoreMatcher(c.options.exclude) : undefined;
  const urls = c.sources.filter((s) => isUrl(s));
  const locals = c.sources.filter((s) => !isUrl(s));
  if (urls.length && kind === 'COPY') throw new SkiffError('EINVALID', 'COPY does not download URLs: use ADD');
  if (c.options.checksum && (urls.length !== 1 || locals.length)) throw new SkiffError('EINVALID', 'ADD --checksum needs exactly one URL source');
  let items: Item[];
  let fromKey: string | undefined;
  const keyParts: unknown[] = [];
  // a `--build-context` directory is read like the main context: its own ignore file, content in the key
  const named = c.from !== undefined ? ctx.namedDirs.get(c.from.toLowerCase()) : undefined;
  if (named !== undefined) {
    items = await collect(ctx, named.dir, named.ignore, exclude, locals, kind, false);
    fromKey = `context:${c.from!.toLowerCase()}`;
    for (const it of items) if (it.kind === 'tree') keyParts.push([it.src, await selectionDigest(it.entries, ctx.digests, so)]);
  } else if (c.from !== undefined) {
    // the key needs only the source stage's key: its root is mounted and walked when the step runs (a miss)
    fromKey = await ctx.stageKey(c.from, stageIndex);
    items = [];
    keyParts.push(['from', fromKey, locals]);
  } else {
    items = await collect(ctx, ctx.contextReal, ctx.ignore, exclude, locals, kind, false);
    for (const it of items) if (it.kind === 'tree') keyParts.push([it.src, await selectionDigest(it.entries, ctx.digests, so)]);
  }
  for (const u of urls) {
    const file = (await ctx.buildDir()).path('dl');
    const { download } = await import('./url.ts');
    const d = await download(u, file, { ...(c.options.checksum && { checksum: c.options.checksum }), maxBytes: ctx.o.addUrlMaxBytes, ...so });
    items.push({ kind: 'url', file, name: d.name, ...(d.lastModified && { mtime: d.lastModified }) });
    keyParts.push(['url', u, d.sha256]);
  }
  for (const i of c.inline) items.push({ kind: 'inline', name: i.name, body: i.body });
  const description = {
    kind,
    sources: keyParts,
    inline: c.inline,
    dest: c.dest,
    chown: c.options.chown ?? null,
    chmod: c.options.chmodText ?? null,
    link: c.options.link,
    parents: c.options.parents,
    exclude: c.options.exclude,
    from: fromKey ?? null,
  };
  const summary = keyParts.length === 1 && Array.isArray(keyParts[0]) && typeof (keyParts[0] as unknown[])[1] === 'string' ? `file:${String((keyParts[0] as unknown[])[1]).slice(0, 64)}` : `multi:${items.length}`;
  const from = c.from;
  if (from === undefined || named !== undefined) return { description, summary, apply: (root) => applyCopy(ctx, step, items, root, false) };
  return {
    description,
    summary,
    apply: async (root) => {
      const r = await ctx.stageRoot(from, stageIndex);
      const fromItems = await collect(ctx, r.root, undefined, exclude, locals, kind, true);
      await applyCopy(ctx, step, [...fromItems, ...items], root, true);
    },
  };
}

async function applyCopy(ctx: BuildCtx, step: ResolvedStep, items: Item[], root: string, fromStage: boolean): Promise<void> {
  const c = step.copy!;
  const kind = step.instruction.kind;
  const { RootWriter, resolveUser } = await writeCode();
  const w = new RootWriter(root);
  let chown: Owner | undefined;
  if (c.options.chown) {
    const spec = c.options.chown.group === undefined ? c.options.chown.user : `${c.options.chown.user}:${c.options.chown.group}`;
    const u = await resolveUser(root, spec);
    chown = { uid: u.uid, gid: c.options.chown.group === undefined && /^\d+$/u.test(c.options.chown.user) ? u.uid : u.gid };
  }
  const chmod = c.options.chmod;
  const ownerOf = (e: TreeEntry): Owner => chown ?? (fromStage ? { uid: Number(e.st.uid), gid: Number(e.st.gid) } : { uid: 0, gid: 0 });
  const modeOf = (e: TreeEntry): number => {
    const m = Number(e.st.mode & 0o7777n);
    return chmod ? chmod(m, e.type === 'dir') : m;
  };
  const many = items.length > 1 || c.sources.some((s) => hasGlob(s));
  const destIsDir = c.dest.isDir || many || (await w.isDir(c.dest.path));
  const dest = c.dest.path;
  const sig = { signal: ctx.o.signal };
  for (const it of items) {
    if (it.kind === 'inline') {
      await w.data(destIsDir ? posix.join(dest, it.name) : dest, it.body, chmod ? chmod(0o644, false) : 0o644, chown ?? { uid: 0, gid: 0 }, chown);
      continue;
    }
    if (it.kind === 'url') {
      await w.file(destIsDir ? posix.join(dest, it.name) : dest, it.file, chmod ? chmod(0o600, false) : 0o600, chown ?? { uid: 0, gid: 0 }, it.mtime, chown);
      continue;
    }
    const top = it.entries[0]!;
    const base = c.options.parents ? posix.join(dest, it.rel) : undefined;
    if (top.type === 'dir') {
      const into = base ?? dest;
      await w.mkdir(into, modeOf(top), ownerOf(top), c.options.parents || !(await w.isDir(into)), chown);
      // directories in order (each before its contents), the files and links under them concurrently
      const pool = new TaskPool(FS_CONCURRENCY);
      for (const e of it.entries.slice(1)) {
        throwIfAborted(ctx.o.signal);
        const cp = posix.join(into, e.rel);
        if (e.type === 'dir') await place(w, cp, e, ownerOf(e), modeOf(e), chown);
        else await pool.add(() => place(w, cp, e, ownerOf(e), modeOf(e), chown));
      }
      await pool.drain();
      continue;
    }
    if (kind === 'ADD' && top.type === 'file' && !fromStage) {
      const { archiveKind, extractArchive } = await import('./archive.ts');
      const ak = await archiveKind(top.host);
      if (ak !== undefined) {
        const into = await w.dir(dest, chown);
        await extractArchive(top.host, ak, into, { owner: chown, ...sig, onWarning: (m) => ctx.reporter.warn(m) });
        continue;
      }
    }
    const target = base ?? (destIsDir ? posix.join(dest, posix.basename(it.src) || posix.basename(top.host)) : dest);
    await place(w, target, top, ownerOf(top), modeOf(top), chown);
  }
  ctx.stats.copies++;
}

async function place(w: RootWriter, cp: string, e: TreeEntry, owner: Owner, mode: number, parentOwner?: Owner): Promise<void> {
  if (e.type === 'dir') await w.mkdir(cp, mode, owner, true, parentOwner);
  else if (e.type === 'file') await w.file(cp, e.host, mode, owner, e.st.mtime, parentOwner, e.st);
  else if (e.type === 'symlink') await w.symlink(cp, e.link ?? '', owner, e.st.mtime, parentOwner);
}

/** What applying a copy writes with: loaded when a copy is applied (a cache miss), never for a cached step. */
async function writeCode() {
  const [{ RootWriter }, { resolveUser }] = await Promise.all([import('./root-writer.ts'), import('../../runtime/user.ts')]);
  return { RootWriter, resolveUser };
}

/**
 * `FROM NAME` of a `--build-context` directory (BuildKit: the directory is the stage's root filesystem): the
 * directory's selection (its ignore rules applied) digested by content for the key, and the copy of every entry
 * (owned by root, as COPY from a context) into an empty root.
 */
export async function prepareContextRoot(ctx: BuildCtx, dir: string, ignore: IgnoreMatcher): Promise<{ digest: string; apply(root: string): Promise<void> }> {
  const so = { signal: ctx.o.signal };
  const entries = await walkTree(await realpath(dir), { matcher: ignore, ctxPrefix: '' }, so);
  const digest = await selectionDigest(entries, ctx.digests, so);
  return {
    digest,
    async apply(root) {
      const { RootWriter } = await writeCode();
      const w = new RootWriter(root);
      const owner = { uid: 0, gid: 0 };
      for (const e of entries.slice(1)) {
        throwIfAborted(ctx.o.signal);
        await place(w, e.rel, e, owner, Number(e.st.mode & 0o7777n));
      }
      ctx.stats.copies++;
    },
  };
}
