/**
 * RUN: the command runs with runc in the working root (an overlay of the stage's layers under a fresh upper dir),
 * with build defaults: podman's capabilities with an empty inheritable set and no-new-privileges (BU-12), the
 * default seccomp profile, clamped rlimits, /etc/hosts and /etc/resolv.conf provided, a network namespace that is not
 * the host's, with outbound access, and its stage's sandbox ID as hostname (run-network.ts; RUN --network=host and
 * --security=insecure need `--allow` — BU-11), build args and ENV in the environment, and the working directory
 * refused under /proc (BU-05). RUN --mount:
 *   bind   source resolved inside the context or the `from` stage's root only (BU-08); rw binds get a throwaway
 *          overlay so writes never reach the source;
 *   cache  <root>/cache/mounts/<id> (ids that are not plain names are hashed — BU-06); a `source` subpath is
 *          opened component by component refusing symlinks, then bound through its /proc fd (BU-07); with
 *          `from=STAGE|IMAGE` an empty cache (its `source` subpath) is first seeded with a copy of that root's
 *          `source` (resolved inside that root, written confined into the cache), as BuildKit seeds a new cache;
 *   secret files copied into the build's state dir and bound read-only; never in a layer, history or key (BU-13);
 *   tmpfs, ssh.
 */
import { constants } from 'node:fs';
import { chmod, chown, copyFile, lstat, mkdir, open, readdir, readlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { SkiffError } from '../../errors.ts';
import { digestHex, digestOf } from '../../oci/digest.ts';
import { acquireLock, type LockHandle } from '../../store/lock.ts';
import { mountOverlay } from '../../layer/unpack-cache.ts';
import { buildSpec } from '../../runtime/build-spec.ts';
import { writeBundleConfig } from '../../runtime/bundle.ts';
import { writeEtcFiles } from '../../runtime/etc-files.ts';
import type { MountRequest } from '../../runtime/mounts.ts';
import { resolveInRoot } from '../../runtime/in-root.ts';
import { checkWorkdir } from '../../runtime/spec.ts';
import { resolveUser } from '../../runtime/user.ts';
import { formatPlatform, hostPlatform } from '../../image/platform.ts';
import type { Platform } from '../../oci/types.ts';
import { type ResolvedStep, type RunMount } from '../dockerfile/index.ts';
import { walkTree } from './tree.ts';
import type { BuildCtx } from './types.ts';
import type { WorkingRoot } from './working-root.ts';
import { RootWriter } from './root-writer.ts';
import { stepText } from './report.ts';
import { openRunNetwork, runNetworkMode, type RunNetwork } from './run-network.ts';

/** A plain cache id is used as the directory name; anything else is hashed so it can never name a path. */
export function cacheDirName(id: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/u.test(id) && !id.includes('..') ? id : `h-${digestHex(digestOf(id))}`;
}

/**
 * Opens directory `sub` under `base` one component at a time, refusing any symlink (BU-07), creating missing
 * components; returns an O_PATH handle (held while the container runs) verified through /proc/self/fd to be the
 * expected directory, and that verified path. runc cannot mount through another process's O_PATH fd, so the
 * verified path is what gets bound; the handle pins the directory.
 */
async function openConfinedDir(base: string, sub: string, create: { mode: number; uid: number; gid: number }): Promise<{ fh: FileHandle; path: string }> {
  const parts = posix.normalize(`/${sub}`).split('/').filter((p) => p !== '');
  let cur = base;
  for (const p of parts) {
    cur = join(cur, p);
    const st = await lstat(cur).catch(() => undefined);
    if (st === undefined) {
      await mkdir(cur, { mode: create.mode });
      await chown(cur, create.uid, create.gid);
    } else if (!st.isDirectory()) {
      throw new SkiffError('EUNSAFE', `cache mount source ${sub} is not a directory (a symbolic link or file is in the way)`, { hint: 'cache mount sources must be plain directories inside the cache' });
    }
  }
  const O_PATH = 0o10000000;
  const fh = await open(cur, O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  const real = await readlink(`/proc/self/fd/${fh.fd}`);
  if (real !== cur) {
    await fh.close();
    throw new SkiffError('EUNSAFE', `cache mount source ${sub} changed while it was opened`);
  }
  return { fh, path: real };
}

/**
 * Runs the RUN step in `wr`; throws naming the step and exit code when the command fails, or, when the kernel
 * cannot execute the command (exec format error: an image for another `platform` and no emulation), one line naming
 * the step, both platforms and the missing emulation.
 */
export async function executeRun(ctx: BuildCtx, step: ResolvedStep, stageIndex: number, wr: WorkingRoot, config: { User?: string; WorkingDir?: string }, platform?: Platform): Promise<void> {
  const run = step.run!;
  const so = { signal: ctx.o.signal };
  const bd = await ctx.buildDir();
  const workdir = checkWorkdir(config.WorkingDir);
  if (workdir !== '/') {
    const u = await resolveUser(wr.rootfs, config.User);
    await new RootWriter(wr.rootfs).dir(workdir, { uid: u.uid, gid: u.gid });
  }
  const mounts: MountRequest[] = [];
  const env = [...run.env];
  const handles: FileHandle[] = [];
  const locks: LockHandle[] = [];
  let net: RunNetwork | undefined;
  try {
    // `-v` host directories first: a RUN --mount at the same target is mounted over them
    for (const v of ctx.o.runMounts ?? []) mounts.push(v);
    for (const m of run.options.mounts) await addMount(ctx, m, stageIndex, mounts, env, handles, locks);
    let argv = run.argv;
    if (run.script !== undefined) {
      const f = bd.path('script');
      await writeFile(f, run.script, { mode: 0o755 });
      mounts.push({ type: 'bind', source: f, destination: '/dev/.skiff-run-script', options: ['ro'] });
      argv = ['/dev/.skiff-run-script'];
    }
    net = await openRunNetwork(bd, runNetworkMode(run.options.network, ctx.o.network), stageIndex, so);
    const etcFiles = await writeEtcFiles(join(wr.bundle.dir, 'etc'), {
      hostname: net.hostname,
      ...net.etc,
      containerEnv: { name: bd.id, id: bd.id, image: '', imageId: '', rootless: false },
    });
    const spec = await buildSpec({ Env: [], ...(config.User !== undefined && { User: config.User }), WorkingDir: workdir }, wr.rootfs, {
      args: argv,
      entrypoint: [],
      env,
      network: net.spec.network,
      netnsPath: net.spec.netnsPath,
      etcFiles,
      mounts,
      noNewPrivileges: true,
      ...(ctx.o.capAdd?.length && { capAdd: ctx.o.capAdd }),
      ...(ctx.o.capDrop?.length && { capDrop: ctx.o.capDrop }),
      // the user is resolved as run-tool resolves it (shared resolveUser), with buildah's supplementary-group rule
      buildahUser: true,
      hostname: net.hostname,
      privileged: run.options.security === 'insecure',
      onWarning: (m) => ctx.reporter.warn(m),
      ...so,
    });
    if (net.hook) (spec as typeof spec & { hooks?: Record<string, unknown[]> }).hooks = { createRuntime: [net.hook] };
    await wr.noteMountTargets(spec.mounts);
    await writeBundleConfig(wr.bundle, spec);
    const id = await bd.containerId();
    let code: number;
    // the tail of runc's own stderr (its exec error, when the command cannot be started, is the last thing there)
    let errTail = '';
    let runDone = false;
    const served = net.serve(() => runDone);
    served.catch(() => {}); // handled below, after runc ends
    try {
      code = await bd.runc.run(id, wr.bundle.dir, {
        stdio: [ctx.o.runStdin ? 'inherit' : 'ignore', 'pipe', 'pipe'],
        onSpawn: (child) => {
          child.stdout?.on('data', (c: Buffer) => ctx.reporter.output(c));
          child.stderr?.on('data', (c: Buffer) => {
            errTail = (errTail + c.toString('latin1')).slice(-4096);
            ctx.reporter.output(c, 'stderr');
          });
        },
        ...so,
      });
    } finally {
      runDone = true;
      await served.catch(() => {});
      await bd.runc.delete(id, { force: true }).catch(() => {});
      await bd.forgetContainer(id);
    }
    // a network that could not be attached failed the start: say so rather than "exit status 1"
    await served;
    ctx.stats.runs++;
    if (code !== 0) {
      const loc = step.instruction.loc;
      if (/exec format error/u.test(errTail)) {
        // the kernel refused the binary: a foreign architecture without binfmt_misc emulation (or a broken binary)
        const want = platform && formatPlatform(platform);
        const host = formatPlatform(hostPlatform());
        const why = want !== undefined && platform!.architecture !== hostPlatform().architecture
          ? `${argv[0] ?? 'the command'} is not an executable for ${host} (the image is for ${want}) and emulation (binfmt_misc with qemu-user-static) is not available on this machine`
          : `${argv[0] ?? 'the command'} is not an executable for this machine (${host})`;
        throw new SkiffError('EINVALID', `building at STEP "${stepText('RUN', step.instruction.text)}" (line ${loc.line}): exec format error: ${why}`, {
          hint: want !== undefined && want !== host ? `build for ${host} (--platform ${host}) or register qemu-user-static for ${want} in binfmt_misc` : 'check that the command is a valid executable for this machine',
          details: { exitCode: code, line: loc.line },
        });
      }
      throw new SkiffError('EIO', `building at STEP "${stepText('RUN', step.instruction.text)}" (line ${loc.line}): while running runtime: exit status ${code}`, {
        details: { exitCode: code, line: loc.line },
      });
    }
  } finally {
    // a failed teardown keeps its attachment record: the build's close (or the next reclaim) retries it
    await net?.release().catch((e: unknown) => ctx.reporter.warn(`WARNING: RUN network teardown: ${(e as Error).message}`));
    for (const h of handles) await h.close().catch(() => {});
    for (const l of locks) await l.release().catch(() => {});
  }
}

/**
 * Seeds the (verified, confined) cache directory `into` with a copy of `source` inside the root of stage or image
 * `from` when `into` is empty, under an exclusive lock so concurrent builds seed it once. The source is resolved
 * inside that root (symlinks never lead out) and must be a directory; entries keep their modes and owners, symlinks
 * are copied as links, devices and sockets are skipped; writes go through RootWriter rooted at `into` (confined).
 */
async function seedCache(ctx: BuildCtx, from: string, source: string, stageIndex: number, into: string, lockPath: string): Promise<void> {
  if ((await readdir(into)).length !== 0) return;
  const so = { signal: ctx.o.signal };
  const { root } = await ctx.stageRoot(from, stageIndex);
  const host = await resolveInRoot(root, source);
  const st = await lstat(host).catch(() => undefined);
  if (st === undefined) throw new SkiffError('ENOTFOUND', `RUN --mount=type=cache,from=${from}: source ${source} does not exist in ${from}`);
  if (!st.isDirectory()) throw new SkiffError('EINVALID', `RUN --mount=type=cache,from=${from}: source ${source} is not a directory`, { hint: 'a cache mount is seeded from a directory' });
  const lock = await acquireLock(lockPath, so);
  try {
    if ((await readdir(into)).length !== 0) return;
    const entries = await walkTree(host, { ctxPrefix: '' }, so);
    const w = new RootWriter(into);
    for (const e of entries.slice(1)) {
      const owner = { uid: Number(e.st.uid), gid: Number(e.st.gid) };
      const mode = Number(e.st.mode & 0o7777n);
      if (e.type === 'dir') await w.mkdir(e.rel, mode, owner);
      else if (e.type === 'file') await w.file(e.rel, e.host, mode, owner, e.st.mtime);
      else if (e.type === 'symlink') await w.symlink(e.rel, e.link ?? '', owner, e.st.mtime);
    }
  } finally {
    await lock.release().catch(() => {});
  }
}

async function addMount(ctx: BuildCtx, m: RunMount, stageIndex: number, mounts: MountRequest[], env: string[], handles: FileHandle[], locks: LockHandle[]): Promise<void> {
  switch (m.type) {
    case 'bind': {
      const root = m.from !== undefined ? (await ctx.stageRoot(m.from, stageIndex)).root : ctx.contextReal;
      const host = await resolveInRoot(root, m.source);
      const st = await lstat(host).catch(() => undefined);
      if (st === undefined) throw new SkiffError('ENOTFOUND', `RUN --mount source ${m.source} does not exist`);
      let source = host;
      if (!m.readonly) {
        if (st.isDirectory()) {
          const d = (await ctx.buildDir()).path('rw');
          for (const s of ['upper', 'work', 'merged']) await mkdir(join(d, s), { recursive: true, mode: 0o700 });
          await mountOverlay({ lowers: [host], upper: join(d, 'upper'), work: join(d, 'work'), target: join(d, 'merged') });
          source = join(d, 'merged');
        } else {
          source = (await ctx.buildDir()).path('rwf');
          await copyFile(host, source);
        }
      }
      mounts.push({ type: 'bind', source, destination: m.target, options: ['rbind', m.readonly ? 'ro' : 'rw', 'nosuid', 'nodev'] });
      return;
    }
    case 'cache': {
      const base = join(ctx.store.paths.cache, 'mounts');
      await mkdir(base, { recursive: true, mode: 0o700 });
      const name = cacheDirName(m.id);
      const dir = join(base, name);
      if ((await lstat(dir).catch(() => undefined)) === undefined) {
        await mkdir(dir, { mode: m.mode });
        await chown(dir, m.uid, m.gid);
        await ctx.cacheMounts?.seed(m.id, dir);
      }
      ctx.cacheMounts?.used.set(m.id, dir);
      if (m.sharing === 'locked') locks.push(await acquireLock(join(base, `.${name}.lock`), ctx.o.signal ? { signal: ctx.o.signal } : {}));
      const { fh, path } = await openConfinedDir(dir, m.source ?? '/', { mode: m.mode, uid: m.uid, gid: m.gid });
      handles.push(fh);
      if (m.from !== undefined) await seedCache(ctx, m.from, m.source ?? '/', stageIndex, path, join(base, `.${name}.seed.lock`));
      mounts.push({ type: 'bind', source: path, destination: m.target, options: ['rbind', m.readonly ? 'ro' : 'rw', 'nosuid', 'nodev'] });
      return;
    }
    case 'tmpfs':
      mounts.push({ type: 'tmpfs', destination: m.target, options: m.size !== undefined ? [`size=${m.size}`] : [] });
      return;
    case 'secret': {
      const s = ctx.o.secrets?.get(m.id);
      if (s === undefined) {
        if (m.required) throw new SkiffError('ENOTFOUND', `secret ${m.id} is required but was not given`, { hint: `pass --secret id=${m.id},src=FILE` });
        return;
      }
      let value: Buffer;
      if (s.env !== undefined) {
        const v = process.env[s.env];
        if (v === undefined) throw new SkiffError('ENOTFOUND', `secret ${m.id}: environment variable ${s.env} is not set`);
        value = Buffer.from(v);
      } else {
        const fh = await open(s.src!, 'r').catch((e: Error) => {
          throw new SkiffError('ENOTFOUND', `secret ${m.id}: cannot read ${s.src}: ${e.message}`);
        });
        try {
          value = await fh.readFile();
        } finally {
          await fh.close();
        }
      }
      if (m.env !== undefined) env.push(`${m.env}=${value.toString()}`);
      if (m.target !== undefined) {
        const f = (await ctx.buildDir()).path('secret');
        await writeFile(f, value, { mode: 0o400 });
        await chown(f, m.uid, m.gid);
        await chmod(f, m.mode);
        mounts.push({ type: 'bind', source: f, destination: m.target, options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] });
      }
      return;
    }
    case 'ssh': {
      // buildImage has turned every --ssh source into one agent socket (ssh-sources.ts)
      const src = ctx.o.ssh?.get(m.id);
      const sock = typeof src === 'string' ? src : src?.[0];
      if (sock === undefined) {
        if (m.required) throw new SkiffError('ENOTFOUND', `ssh agent ${m.id} is required but --ssh ${m.id} was not given`);
        return;
      }
      // the agent's own socket is bound (no proxy): its owner and mode are the agent's
      if (m.uid !== 0 || m.gid !== 0 || m.mode !== 0o600) ctx.reporter.warn(`RUN --mount=type=ssh: uid, gid and mode are not applied; the socket keeps the agent's owner and mode`);
      mounts.push({ type: 'bind', source: sock, destination: m.target, options: ['bind', 'rw'] });
      env.push(`SSH_AUTH_SOCK=${m.target}`);
      return;
    }
  }
}
