/**
 * buildah's scripting verbs over working containers (containers.ts): `from`, `run`, `copy`/`add`, `config`,
 * `commit`, `rm`. Every step that changes a container is one Dockerfile step built by the build executor
 * (buildImage: the same runc RUN, COPY/ADD and config code as `build`) on top of the container's current image; the
 * record moves to the result only when the step succeeded, so a failed step or bad input leaves the container and
 * the store's names as they were. Steps never use the layer cache (a scripted RUN always runs, as buildah's does).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { SkiffError, isSkiffError, type Cancellable } from '../../errors.ts';
import type { Digest } from '../../oci/digest.ts';
import type { ImageConfig, Manifest } from '../../oci/types.ts';
import type { RegistryOptions } from '../../registry/types.ts';
import { formatReference, localTagForm, parseReference } from '../../ref/reference.ts';
import { lookupImage } from '../../store/lookup.ts';
import { withLock } from '../../store/lock.ts';
import { formatOfMediaType } from '../../oci/media-types.ts';
import { parseDigest } from '../../oci/digest.ts';
import { copyImage } from '../../transport/copy-image.ts';
import { openStoreSource, openStoreTarget } from '../../transport/store.ts';
import { openStore, type Store } from '../../store/store.ts';
import { hostPlatform } from '../../image/platform.ts';
import { imageFromSource } from '../../image/image.ts';
import { editConfig } from '../../image/mutate.ts';
import { writeImage } from '../../image/write-image.ts';
import { storeSink } from '../../store/sink.ts';
import { buildImage } from '../executor/build.ts';
import { loadBaseImage } from '../executor/base-image.ts';
import type { BuildReporter } from '../executor/report.ts';
import type { BuildOptions } from '../executor/types.ts';
import { containersDir, createContainer, deleteContainer, dropStepImage, findContainer, updateContainer, type WorkingContainer } from './containers.ts';
import { discardMount, withFoldedMount } from './mount.ts';
import { squashAll, squashSinceBase } from './squash.ts';

/** How a step talks back: the RUN's own output and warnings. */
export interface StepIo {
  stdout: (c: Buffer) => void;
  stderr: (c: Buffer) => void;
  warn: (m: string) => void;
}

function reporterOf(io: StepIo): BuildReporter {
  return {
    step() {},
    cacheHit() {},
    stepDone() {},
    output: (c, stream) => (stream === 'stderr' ? io.stderr(c) : io.stdout(c)),
    warn: (m) => io.warn(m),
    peerWarning: (m) => io.warn(m),
    info() {},
  };
}

async function withOpenStore<T>(root: string, o: Cancellable, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore(root, { create: true, write: true, signal: o.signal });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * `from IMAGE`: finds (per `pull`, pulling when missing as buildah does) the image and records a working container
 * on it, named `--name` or buildah's `<image>-working-container[-N]`. `scratch` makes an empty container.
 */
export async function fromImage(storeRoot: string, image: string, o: Cancellable & { name?: string; pull?: 'always' | 'missing' | 'never' | 'newer'; registry?: RegistryOptions; onInfo?: (m: string) => void; onWarning?: (m: string) => void } = {}): Promise<WorkingContainer> {
  if (o.name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/u.test(o.name)) throw new SkiffError('EINVALID', `invalid container name ${JSON.stringify(o.name)}`, { hint: 'use letters, digits, _ . and -' });
  if (image === 'scratch') return createContainer(storeRoot, { fromImage: 'scratch', fromImageId: '', fromImageDigest: '', image: '' }, o);
  return withOpenStore(storeRoot, o, async (store) => {
    const base = await loadBaseImage(store, image, hostPlatform(), { pull: o.pull ?? 'missing', registry: o.registry ?? {}, signal: o.signal, onInfo: o.onInfo, onWarning: o.onWarning });
    const found = await lookupImage(store.layout, image, { signal: o.signal }).catch(() => undefined);
    const imageId = (await lookupImage(store.layout, base.manifestDigest, { signal: o.signal })).id ?? '';
    return createContainer(storeRoot, { fromImage: found?.name ?? image, fromImageId: imageId, fromImageDigest: base.manifestDigest, image: imageId }, o);
  });
}

/** Options of one step build. */
interface StepOptions extends Cancellable {
  io: StepIo;
  contextDir?: string;
  buildArgs?: Record<string, string>;
  network?: string;
  format?: 'oci' | 'docker';
  /** capabilities, mounts and stdin of the RUN (`run --cap-add/--cap-drop/-v/--mount`, stdin connected) */
  run?: Pick<BuildOptions, 'capAdd' | 'capDrop' | 'runMounts' | 'runStdin'>;
}

/**
 * Builds `lines` (Dockerfile instructions) on the container's current image and moves the container to the result.
 * The previous step image is dropped from the store's index unless it is the base image or was committed.
 */
async function step(storeRoot: string, container: WorkingContainer, lines: string, o: StepOptions): Promise<WorkingContainer> {
  return lockedStep(storeRoot, container, o, (c) => stepOn(storeRoot, c, lines, o));
}

/** Runs `fn` on the container's latest record, its mount folded, holding the container's lock. */
async function lockedStep(storeRoot: string, container: WorkingContainer, o: Cancellable, fn: (c: WorkingContainer) => Promise<WorkingContainer>): Promise<WorkingContainer> {
  // one step at a time per container: a second `run` waits instead of building on the same image and losing one
  return withLock(join(containersDir(storeRoot), `.${container.id}.lock`), { signal: o.signal }, async () => {
    const cur = await findContainer(storeRoot, container.id);
    return withFoldedMount(storeRoot, cur, o, fn);
  });
}

/** The ID of a new image: image `id` with its config edited by `edit` (no layer), stored unnamed. */
async function editImageId(storeRoot: string, id: string, edit: (cfg: ImageConfig) => void, o: Cancellable): Promise<string> {
  return withOpenStore(storeRoot, o, async (store) => {
    const found = await lookupImage(store.layout, id, o);
    const digest = parseDigest(found.descriptor.digest);
    const src = await openStoreSource(storeRoot, { id: digest }, o);
    try {
      const img = editConfig(imageFromSource(src, { digest }), edit);
      await store.commitImage(await writeImage(storeSink(store), img, o), o);
      return img.configDigest(o);
    } finally {
      await src.close();
    }
  });
}

/** The container's image config edited by `edit` (no layer); the container moves to the new image. */
async function editImage(storeRoot: string, c: WorkingContainer, edit: (cfg: ImageConfig) => void, o: Cancellable): Promise<WorkingContainer> {
  const id = await editImageId(storeRoot, c.image, edit, o);
  const next = await updateContainer(storeRoot, c.id, (cur) => ({ ...cur, image: id }), o);
  await dropStepImage(storeRoot, c, c.image, o);
  return next;
}

async function stepOn(storeRoot: string, c: WorkingContainer, lines: string, o: StepOptions): Promise<WorkingContainer> {
  const scratch = await mkdtemp(join(tmpdir(), 'skiff-step-'));
  try {
    const ignore = join(scratch, 'ignore');
    await writeFile(ignore, '');
    const text = `FROM ${c.image === '' ? 'scratch' : c.image}\n${lines}\n`;
    const r = await buildImage({
      storeRoot,
      contextDir: o.contextDir ?? scratch,
      dockerfile: { text },
      ignorefile: ignore,
      pull: 'never',
      noCache: true,
      layers: false,
      ...(o.buildArgs && { buildArgs: o.buildArgs }),
      ...(o.network !== undefined && { network: o.network }),
      ...(o.format && { format: o.format }),
      ...o.run,
      reporter: reporterOf(o.io),
      ...(o.signal && { signal: o.signal }),
    });
    const next = await updateContainer(storeRoot, c.id, (cur) => ({ ...cur, image: r.id }), o);
    await dropStepImage(storeRoot, c, c.image, o);
    return next;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** `run CONTAINER -- CMD…`: runs CMD in the container (runc, as a build's RUN); its output goes to `io`. */
export async function runIn(storeRoot: string, nameOrId: string, argv: readonly string[], o: StepOptions & { env?: string[]; user?: string; workingDir?: string }): Promise<WorkingContainer> {
  if (argv.length === 0) throw new SkiffError('EINVALID', 'command must be specified', { hint: 'write `run CONTAINER -- COMMAND [ARG…]`' });
  const c = await findContainer(storeRoot, nameOrId);
  const args: Record<string, string> = {};
  const argLines: string[] = [];
  for (const kv of o.env ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new SkiffError('EINVALID', `invalid --env ${JSON.stringify(kv)}: want NAME=VALUE`);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/u.test(kv.slice(0, i))) throw new SkiffError('EINVALID', `invalid --env name ${JSON.stringify(kv.slice(0, i))}`);
    args[kv.slice(0, i)] = kv.slice(i + 1);
    argLines.push(`ARG ${kv.slice(0, i)}`);
  }
  if (o.user !== undefined && !/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/u.test(o.user)) throw new SkiffError('EINVALID', `invalid --user ${JSON.stringify(o.user)}`, { hint: 'write USER[:GROUP]' });
  if (o.workingDir !== undefined && !o.workingDir.startsWith('/')) throw new SkiffError('EINVALID', `invalid --workingdir ${JSON.stringify(o.workingDir)}: want an absolute path`);
  const lines = [...argLines, `RUN ${JSON.stringify(argv)}`].join('\n');
  const so = { ...o, buildArgs: args };
  try {
    if (o.user === undefined && o.workingDir === undefined) return await step(storeRoot, c, lines, so);
    // --user/--workingdir hold for this command only: the RUN builds on a copy of the image with them set, and the
    // result gets the image's own User and WorkingDir back; the container moves only when all of it succeeded
    return await lockedStep(storeRoot, c, o, async (cur) => {
      if (cur.image === '') throw new SkiffError('EINVALID', 'cannot run a command in an empty scratch container', { hint: 'copy files in first' });
      const orig = (await imageConfig(storeRoot, cur.image, o)).config ?? {};
      const temp = await editImageId(storeRoot, cur.image, (cfg) => {
        cfg.config = { ...cfg.config, ...(o.user !== undefined && { User: o.user }), ...(o.workingDir !== undefined && { WorkingDir: o.workingDir }) };
      }, o);
      let ran: WorkingContainer;
      try {
        ran = await stepOn(storeRoot, { ...cur, image: temp }, lines, so);
      } catch (e) {
        await dropStepImage(storeRoot, cur, temp, o);
        throw e;
      }
      const restored = await editImageId(storeRoot, ran.image, (cfg) => {
        const next = { ...cfg.config };
        for (const k of ['User', 'WorkingDir'] as const) {
          if (orig[k] === undefined) delete next[k];
          else next[k] = orig[k];
        }
        cfg.config = next;
      }, o);
      const done = await updateContainer(storeRoot, cur.id, (x) => ({ ...x, image: restored }), o);
      await dropStepImage(storeRoot, cur, ran.image, o);
      await dropStepImage(storeRoot, cur, cur.image, o);
      return done;
    });
  } catch (e) {
    // buildah's words for a failed command; the exit status stays the command's
    const code = isSkiffError(e) ? e.details?.exitCode : undefined;
    if (isSkiffError(e, 'EIO') && typeof code === 'number') throw new SkiffError('EIO', `while running runtime: exit status ${code}`, { details: { exitCode: code } });
    throw e;
  }
}

/** `copy`/`add CONTAINER [--chown U:G] [--chmod M] SRC… [DEST]`: host files into the container (COPY/ADD semantics). */
export async function copyInto(storeRoot: string, nameOrId: string, kind: 'copy' | 'add', sources: readonly string[], dest: string | undefined, o: StepOptions & { chown?: string; chmod?: string }): Promise<{ container: WorkingContainer; digest: string }> {
  if (sources.length === 0) throw new SkiffError('EINVALID', `${kind} requires at least one source`, { hint: `write \`${kind} CONTAINER SRC [DEST]\`` });
  if (o.chown !== undefined && !/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/u.test(o.chown)) throw new SkiffError('EINVALID', `invalid --chown ${JSON.stringify(o.chown)}`, { hint: 'write USER[:GROUP]' });
  if (o.chmod !== undefined && !/^[0-7]{3,4}$/u.test(o.chmod)) throw new SkiffError('EINVALID', `invalid --chmod ${JSON.stringify(o.chmod)}`, { hint: 'write an octal mode such as 0644' });
  const c = await findContainer(storeRoot, nameOrId);
  const urls = sources.filter((s) => /^https?:\/\//u.test(s));
  if (kind === 'copy' && urls.length > 0) throw new SkiffError('EINVALID', `copy does not fetch URLs (${urls[0]})`, { hint: 'use add for a URL' });
  const local = sources.filter((s) => !urls.includes(s)).map((s) => resolve(s));
  const ctx = local.length === 0 ? undefined : commonDir(local);
  const srcs = sources.map((s) => (urls.includes(s) ? s : relative(ctx!, resolve(s)) || '.'));
  const flags = [o.chown !== undefined ? `--chown=${o.chown}` : '', o.chmod !== undefined ? `--chmod=${o.chmod}` : ''].filter(Boolean).join(' ');
  const to = dest ?? (await workingDirOf(storeRoot, c, o)) ?? '/';
  const target = to.endsWith('/') || srcs.length > 1 ? to.replace(/\/?$/u, '/') : to;
  const line = `${kind.toUpperCase()} ${flags ? `${flags} ` : ''}${JSON.stringify([...srcs, target])}`;
  const next = await step(storeRoot, c, line, { ...o, ...(ctx !== undefined && { contextDir: ctx }) });
  const cfg = await imageConfig(storeRoot, next.image, o);
  const ids = cfg.rootfs.diff_ids;
  return { container: next, digest: (ids[ids.length - 1] ?? '').replace(/^sha256:/u, '') };
}

function commonDir(paths: readonly string[]): string {
  let d = dirname(paths[0]!);
  for (const p of paths) while (d !== '/' && !(p === d || p.startsWith(d + sep))) d = dirname(d);
  // a source that is itself a directory must not be the context's parent-relative '.', only its contents
  return paths.length === 1 && paths[0] === d ? dirname(d) : d;
}

async function workingDirOf(storeRoot: string, c: WorkingContainer, o: Cancellable): Promise<string | undefined> {
  if (c.image === '') return undefined;
  const wd = (await imageConfig(storeRoot, c.image, o)).config?.WorkingDir;
  return wd === undefined || wd === '' ? undefined : wd;
}

/** The config of a stored image by ID. */
export async function imageConfig(storeRoot: string, id: string, o: Cancellable = {}): Promise<ImageConfig> {
  return withOpenStore(storeRoot, o, async (store) => {
    const found = await lookupImage(store.layout, id, o);
    const m = await store.blobs.readJson<Manifest>(found.descriptor, o);
    return store.blobs.readJson<ImageConfig>(m.config, o);
  });
}

/** buildah `config` flags, as Dockerfile instructions in buildah's order of application. */
export interface ConfigEdits {
  env?: string[];
  cmd?: string;
  entrypoint?: string;
  labels?: string[];
  workingDir?: string;
  user?: string;
  ports?: string[];
  volumes?: string[];
  stopSignal?: string;
  author?: string;
  shell?: string;
  onbuild?: string[];
  arch?: string;
  os?: string;
  variant?: string;
  osVersion?: string;
}

/** Splits a command line into words as shellwords does (quotes, backslash escapes; no expansion). */
export function shellWords(s: string): string[] {
  const out: string[] = [];
  let w = '';
  let inWord = false;
  let q = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (q === "'") {
      if (ch === "'") q = '';
      else w += ch;
    } else if (q === '"') {
      if (ch === '"') q = '';
      else if (ch === '\\' && i + 1 < s.length && '"\\$`'.includes(s[i + 1]!)) w += s[++i];
      else w += ch;
    } else if (ch === "'" || ch === '"') {
      q = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < s.length) {
      w += s[++i];
      inWord = true;
    } else if (/\s/u.test(ch)) {
      if (inWord) out.push(w);
      w = '';
      inWord = false;
    } else {
      w += ch;
      inWord = true;
    }
  }
  if (q !== '') throw new SkiffError('EINVALID', `invalid command line ${JSON.stringify(s)}: unterminated quote`);
  if (inWord) out.push(w);
  return out;
}

function jsonArrayOr(v: string, fallback: () => string[]): string[] {
  if (v.trimStart().startsWith('[')) {
    try {
      const a = JSON.parse(v) as unknown;
      if (Array.isArray(a) && a.every((x) => typeof x === 'string')) return a;
    } catch {
      /* not JSON: fall back */
    }
  }
  return fallback();
}

const q = (s: string) => JSON.stringify(s);

/** The Dockerfile lines for `edits` (validated first: a bad value fails before anything runs). Pure. */
export function configLines(e: ConfigEdits): string[] {
  const lines: string[] = [];
  for (const kv of e.env ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new SkiffError('EINVALID', `invalid --env ${q(kv)}: want NAME=VALUE`);
    lines.push(`ENV ${kv.slice(0, i)}=${q(kv.slice(i + 1))}`);
  }
  for (const kv of e.labels ?? []) {
    const i = kv.indexOf('=');
    lines.push(i < 0 ? `LABEL ${q(kv)}=""` : `LABEL ${q(kv.slice(0, i))}=${q(kv.slice(i + 1))}`);
  }
  if (e.entrypoint !== undefined) lines.push(`ENTRYPOINT ${JSON.stringify(e.entrypoint === '' ? [] : jsonArrayOr(e.entrypoint, () => ['/bin/sh', '-c', e.entrypoint!]))}`);
  if (e.cmd !== undefined) lines.push(`CMD ${JSON.stringify(e.cmd === '' ? [] : jsonArrayOr(e.cmd, () => shellWords(e.cmd!)))}`);
  if (e.workingDir !== undefined) lines.push(`WORKDIR ${q(e.workingDir)}`);
  if (e.user !== undefined) lines.push(`USER ${e.user}`);
  for (const p of e.ports ?? []) {
    if (!/^\d{1,5}(-\d{1,5})?(\/(tcp|udp|sctp))?$/u.test(p)) throw new SkiffError('EINVALID', `invalid --port ${q(p)}`, { hint: 'write PORT[/PROTOCOL]' });
    lines.push(`EXPOSE ${p}`);
  }
  for (const v of e.volumes ?? []) lines.push(`VOLUME ${JSON.stringify([v])}`);
  if (e.stopSignal !== undefined) lines.push(`STOPSIGNAL ${e.stopSignal}`);
  if (e.author !== undefined) lines.push(`MAINTAINER ${e.author}`);
  if (e.shell !== undefined) lines.push(`SHELL ${JSON.stringify(jsonArrayOr(e.shell, () => shellWords(e.shell!)))}`);
  for (const b of e.onbuild ?? []) lines.push(`ONBUILD ${b}`);
  for (const l of lines) if (/[\r\n]/u.test(l.replace(/"(?:[^"\\]|\\.)*"/gu, ''))) throw new SkiffError('EINVALID', 'a config value contains a line break');
  return lines;
}

/** `config CONTAINER [flags]`: edits the container's image config (no layer). */
export async function configure(storeRoot: string, nameOrId: string, edits: ConfigEdits, o: StepOptions): Promise<WorkingContainer> {
  const unset = (edits.env ?? []).filter((e) => /^[A-Za-z_][A-Za-z0-9_]*-$/u.test(e)).map((e) => e.slice(0, -1));
  const lines = configLines({ ...edits, env: (edits.env ?? []).filter((e) => !/^[A-Za-z_][A-Za-z0-9_]*-$/u.test(e)) });
  const platform = platformEdits(edits);
  const c = await findContainer(storeRoot, nameOrId);
  if (lines.length === 0 && unset.length === 0 && Object.keys(platform).length === 0) return c;
  return lockedStep(storeRoot, c, o, async (cur) => {
    let x = cur;
    if (lines.length > 0 || x.image === '') x = await stepOn(storeRoot, x, lines.join('\n'), o);
    if (unset.length > 0 || Object.keys(platform).length > 0) {
      x = await editImage(storeRoot, x, (cfg) => {
        Object.assign(cfg, platform);
        if (unset.length > 0 && cfg.config?.Env) cfg.config.Env = cfg.config.Env.filter((e) => !unset.includes(e.slice(0, e.indexOf('=') < 0 ? e.length : e.indexOf('='))));
      }, o);
    }
    return x;
  });
}

/** The config's platform fields `--arch`, `--os`, `--variant`, `--os-version` set (validated: one word each). Pure. */
export function platformEdits(e: ConfigEdits): Partial<Pick<ImageConfig, 'architecture' | 'os' | 'variant' | 'os.version'>> {
  const out: Partial<Pick<ImageConfig, 'architecture' | 'os' | 'variant' | 'os.version'>> = {};
  const check = (flag: string, v: string) => {
    if (!/^[A-Za-z0-9._-]+$/u.test(v)) throw new SkiffError('EINVALID', `invalid --${flag} ${JSON.stringify(v)}`, { hint: 'give one word, e.g. arm64' });
    return v;
  };
  if (e.arch !== undefined) out.architecture = check('arch', e.arch);
  if (e.os !== undefined) out.os = check('os', e.os);
  if (e.variant !== undefined) out.variant = check('variant', e.variant);
  if (e.osVersion !== undefined) out['os.version'] = check('os-version', e.osVersion);
  return out;
}

/** commitContainer's options: the image format, `rm` (remove the container after), `squash` (everything into one layer). */
export interface CommitOptions {
  format?: 'oci' | 'docker';
  rm?: boolean;
  squash?: boolean;
  io: StepIo;
}

/**
 * `commit CONTAINER [IMAGE]`: names the container's current image IMAGE (localhost/-qualified, `:latest` added; or
 * leaves it unnamed), converting to Docker format with `format: 'docker'`. Returns the image ID.
 */
export async function commitContainer(storeRoot: string, nameOrId: string, image: string | undefined, o: Cancellable & CommitOptions): Promise<Digest> {
  const name = image === undefined ? undefined : formatReference(localTagForm(parseReference(image.replace(/^containers-storage:/u, ''))));
  const found = await findContainer(storeRoot, nameOrId);
  return withLock(join(containersDir(storeRoot), `.${found.id}.lock`), { signal: o.signal }, () => commitLocked(storeRoot, found.id, name, o));
}

async function commitLocked(storeRoot: string, containerId: string, name: string | undefined, o: Cancellable & CommitOptions): Promise<Digest> {
  let c = await findContainer(storeRoot, containerId);
  c = await withFoldedMount(storeRoot, c, o, async (x) => x);
  if (c.image === '') c = await stepOn(storeRoot, c, '', { io: o.io, ...(o.signal && { signal: o.signal }) });
  // buildah's shape: what the container changed since `from` is one layer on the base image's layers
  const before = c;
  const squashed = await withOpenStore(storeRoot, o, (store) => squashSinceBase(store, before, o));
  if (squashed !== before.image) {
    c = await updateContainer(storeRoot, c.id, (cur) => ({ ...cur, image: squashed }), o);
    await dropStepImage(storeRoot, before, before.image, o);
  }
  // --squash: the whole filesystem as one layer, in a new image; the container stays on its own
  const flat = c;
  let id = (o.squash ? await withOpenStore(storeRoot, o, (store) => squashAll(store, flat, o)) : c.image) as Digest;
  await withOpenStore(storeRoot, o, async (store) => {
    const found = await lookupImage(store.layout, id, o);
    if (o.format === undefined || formatOfMediaType(found.descriptor.mediaType) === o.format) {
      await store.commitImage(found.descriptor, { ...(name !== undefined && { name }), signal: o.signal });
      return;
    }
    // another manifest format: the image is converted by the one copy path (layers and config unchanged)
    const src = await openStoreSource(storeRoot, { id: parseDigest(found.descriptor.digest) }, o);
    try {
      const dst = await openStoreTarget(storeRoot, name === undefined ? {} : { ref: parseReference(name) }, o);
      try {
        const r = await copyImage(src, dst, { format: o.format, ...(o.signal && { signal: o.signal }) });
        id = (await lookupImage(store.layout, r.digest, o)).id!;
      } finally {
        await dst.close();
      }
    } finally {
      await src.close();
    }
  });
  if (o.rm) await removeContainers(storeRoot, [c.id], o);
  else await updateContainer(storeRoot, c.id, (cur) => ({ ...cur, committed: [...cur.committed, id] }), o);
  return id;
}

/** `rm CONTAINER…`: removes the records (and each container's uncommitted step image). Returns the IDs removed. */
export async function removeContainers(storeRoot: string, namesOrIds: readonly string[], o: Cancellable = {}): Promise<string[]> {
  const out: string[] = [];
  for (const n of namesOrIds) {
    const c = await findContainer(storeRoot, n).catch((e: unknown) => {
      if (isSkiffError(e, 'ENOTFOUND')) throw new SkiffError('ENOTFOUND', `removing container ${JSON.stringify(n)}: container not known`);
      throw e;
    });
    await discardMount(storeRoot, c);
    await deleteContainer(storeRoot, c.id);
    await dropStepImage(storeRoot, c, c.image, o);
    out.push(c.id);
  }
  return out;
}
