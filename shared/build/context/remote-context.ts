/**
 * A git URL or an http(s) tarball URL as a build context (the main one or a `--build-context` value), fetched into a
 * private temporary directory (mode 0700) that `dispose()` removes — the caller disposes in `finally`, so a failed
 * or interrupted build (Ctrl-C aborts the signal) leaves nothing behind; one killed outright is swept by the next
 * fetch (owned-temp.ts). Confinement:
 *   tarball  downloaded under a size cap (ELIMIT with the cap in the message), then extracted by the layer
 *            library's confined apply (ADD's extraction: `..`, absolute names and links out of the directory stay
 *            inside); a download that is not an archive becomes the context's Dockerfile, as docker and buildah do;
 *   git      `git init` + `git fetch --depth 1 <url> <ref>` + checkout of FETCH_HEAD through Debian's git, with
 *            hooks off, no terminal prompt and no `ext::` transport; the `#ref:subdir` subdir may not hold `..` or
 *            start with `/`, is resolved inside the checkout (a symlink never leads out of it) and must be a
 *            directory; `.git` is removed (BuildKit's default), so `COPY . .` never copies the repository's history.
 */
import { lstat, mkdir, realpath, rename, rm } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { SkiffError, throwIfAborted } from '../../errors.ts';
import { requireProgram } from '../../process/system-programs.ts';
import { runProgram } from '../../process/run.ts';
import { resolveInRoot } from '../../runtime/in-root.ts';
import { ownedTempDir } from './owned-temp.ts';

/** Default cap on a downloaded tarball context: 1 GiB. */
export const DEFAULT_CONTEXT_MAX_BYTES = 1024 ** 3;

/** A git context: the repository URL, the ref to check out (default: the remote HEAD) and a subdirectory. */
export interface GitContext {
  url: string;
  ref?: string;
  subdir?: string;
}

/**
 * The git form of `spec` as docker and buildah read it, or undefined when it is not one: `git://…`, `ssh://…`,
 * `git@host:path`, or an http(s) URL whose path ends in `.git`; an optional `#ref[:subdir]` fragment. Pure.
 */
export function parseGitContext(spec: string): GitContext | undefined {
  const hash = spec.indexOf('#');
  const url = hash < 0 ? spec : spec.slice(0, hash);
  const frag = hash < 0 ? '' : spec.slice(hash + 1);
  let git = /^(git|ssh):\/\//u.test(url) || /^git@[^:/]+:/u.test(url);
  if (!git && /^https?:\/\//u.test(url)) {
    try {
      git = new URL(url).pathname.endsWith('.git');
    } catch {
      return undefined;
    }
  }
  if (!git) return undefined;
  const colon = frag.indexOf(':');
  const ref = colon < 0 ? frag : frag.slice(0, colon);
  const subdir = colon < 0 ? '' : frag.slice(colon + 1);
  return { url, ...(ref !== '' && { ref }), ...(subdir !== '' && { subdir }) };
}

/** Whether `spec` names a remote context (git or http(s)) rather than a local directory. Pure. */
export function isRemoteContext(spec: string): boolean {
  return parseGitContext(spec) !== undefined || /^https?:\/\//u.test(spec);
}

/** A fetched context: its directory (inside the private temp dir) and how to remove it all. */
export interface FetchedContext {
  dir: string;
  dispose(): Promise<void>;
}

/** How remote contexts are fetched. */
export interface FetchOptions {
  /** cap on a downloaded tarball (default DEFAULT_CONTEXT_MAX_BYTES) */
  maxBytes?: number;
  signal?: AbortSignal;
  onWarning?: (m: string) => void;
}

/** Fetches the remote context `spec` (see the module comment); throws one-line errors, leaving nothing behind. */
export async function fetchRemoteContext(spec: string, o: FetchOptions = {}): Promise<FetchedContext> {
  throwIfAborted(o.signal);
  // a context a killed build left behind is removed here (owned-temp.ts)
  const tmp = await ownedTempDir('skiff-context-');
  const dispose = (): Promise<void> => rm(tmp, { recursive: true, force: true });
  try {
    const src = join(tmp, 'src');
    await mkdir(src, { mode: 0o700 });
    const g = parseGitContext(spec);
    const dir = g !== undefined ? await fetchGit(g, src, o) : await fetchTarball(spec, tmp, src, o);
    return { dir, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}

async function fetchTarball(url: string, tmp: string, src: string, o: FetchOptions): Promise<string> {
  const max = o.maxBytes ?? DEFAULT_CONTEXT_MAX_BYTES;
  const file = join(tmp, 'download');
  // the download and archive code loads only for a tarball context (build-tool build's start-up never needs it)
  const [{ download }, { archiveKind, extractArchive }] = await Promise.all([import('../executor/url.ts'), import('../executor/archive.ts')]);
  await download(url, file, { maxBytes: max, ...(o.signal && { signal: o.signal }) }).catch((e: unknown) => {
    if (e instanceof SkiffError && e.code === 'ELIMIT') {
      throw new SkiffError('ELIMIT', `build context ${url}: the download is larger than the ${max}-byte limit`, { hint: 'use a smaller context archive, or build from a local directory' });
    }
    if (e instanceof SkiffError && e.code === 'EABORT') throw e;
    const msg = e instanceof Error ? e.message.replace(/^ADD /u, '') : String(e);
    throw new SkiffError(e instanceof SkiffError ? e.code : 'EIO', `build context ${url}: ${msg}`, { cause: e });
  });
  const kind = await archiveKind(file);
  if (kind === undefined) {
    // not an archive: the file is the Dockerfile of an empty context (docker build URL, buildah bud URL)
    await rename(file, join(src, 'Dockerfile'));
    return src;
  }
  await extractArchive(file, kind, src, { ...(o.signal && { signal: o.signal }), ...(o.onWarning && { onWarning: o.onWarning }) });
  await rm(file, { force: true });
  return src;
}

/** Refuses a `#ref:subdir` subdir that names a way out of the checkout before anything is fetched. Pure. */
export function checkSubdir(subdir: string): string {
  if (subdir.startsWith('/') || subdir.split('/').includes('..')) {
    throw new SkiffError('EUNSAFE', `git context subdirectory ${JSON.stringify(subdir)} leads outside the repository`, { hint: 'name a directory inside the repository, e.g. #main:app' });
  }
  return posix.normalize(subdir);
}

async function fetchGit(g: GitContext, src: string, o: FetchOptions): Promise<string> {
  const sub = g.subdir === undefined ? undefined : checkSubdir(g.subdir);
  const git = requireProgram('git');
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: src, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_ASKPASS: '/bin/false', SSH_ASKPASS: '/bin/false', ...(process.env.SSH_AUTH_SOCK && { SSH_AUTH_SOCK: process.env.SSH_AUTH_SOCK }) };
  const safe = ['-c', 'core.hooksPath=/dev/null', '-c', 'protocol.ext.allow=never', '-c', 'protocol.file.allow=never', '-c', 'core.symlinks=true', '-c', 'advice.detachedHead=false'];
  const run = async (args: string[], what: string): Promise<void> => {
    const r = await runProgram(git, [...safe, ...args], { cwd: src, env, ...(o.signal && { signal: o.signal }) });
    if (r.code !== 0) {
      const why = r.stderr.trim().split('\n').filter((l) => l !== '').at(-1) ?? `exit status ${r.code}`;
      throw new SkiffError('EIO', `git context ${g.url}: ${what} failed: ${why}`, { hint: 'check the repository URL and the #ref (a branch, tag or commit the server offers)' });
    }
  };
  await run(['init', '-q'], 'init');
  await run(['fetch', '-q', '--depth', '1', '--no-tags', '--', g.url, g.ref ?? 'HEAD'], 'fetch');
  await run(['checkout', '-q', '--detach', 'FETCH_HEAD'], 'checkout');
  await rm(join(src, '.git'), { recursive: true, force: true });
  if (sub === undefined || sub === '.') return src;
  const host = await resolveInRoot(src, sub);
  const st = await lstat(host).catch(() => undefined);
  if (st === undefined || !st.isDirectory()) throw new SkiffError('ENOTFOUND', `git context ${g.url}: subdirectory ${sub} is not a directory in the repository`);
  const real = await realpath(host);
  const rel = relative(await realpath(src), real);
  if (rel === '..' || rel.startsWith(`..${sep}`)) throw new SkiffError('EUNSAFE', `git context subdirectory ${sub} leads outside the repository`);
  return real;
}
