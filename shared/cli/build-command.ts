/**
 * `build-tool build` (alias `bud`): buildah's flags and defaults except `--layers` (default true, docker's). `--network`
 * as buildah: each RUN in a private network namespace unless `host` or `none` is asked for (run-network.ts). Only
 * parses arguments and calls the executor. Progress on stderr, the
 * image ID on stdout (`-q`: only the ID).
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { SkiffError, isSkiffError } from '../errors.ts';
import { addRootOption, storeRootOf } from './program.ts';
import { parseCredentials } from './credentials-flag.ts';
import { hostPlatform, parsePlatformList } from '../image/platform.ts';
import { parseBuildArgFile } from '../build/dockerfile/index.ts';
import { parseCacheOptions } from '../build/cache/cache-options.ts';
import { buildImage, checkTags } from '../build/executor/build.ts';
import { parseBuildNetwork } from '../build/executor/run-network.ts';
import { addRunSettingsOptions, runSettings } from './run-settings.ts';
import { createReporter } from '../build/executor/report.ts';
import type { BuildOptions } from '../build/executor/types.ts';
import { collect, csvOptions } from './flags.ts';
import { memoAsync } from '../image/memo.ts';
import { interruptSignal } from './interrupt.ts';
import { parseBuildContextFlag } from '../build/context/named-contexts.ts';
import { fetchRemoteContext, isRemoteContext } from '../build/context/remote-context.ts';
import { parseSshFlag } from '../build/context/ssh-sources.ts';
import { resolveInRoot } from '../runtime/in-root.ts';


function keyValues(list: readonly string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i <= 0) {
      if (what === 'build-arg' && i < 0 && process.env[kv] !== undefined) {
        out[kv] = process.env[kv]!;
        continue;
      }
      if (what === 'label' || what === 'annotation') {
        out[kv] = '';
        continue;
      }
      throw new SkiffError('EINVALID', `invalid --${what} ${JSON.stringify(kv)}: want KEY=VALUE`);
    }
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}


/** Parses `--secret id=ID,src=PATH|env=VAR` (also `type=file|env`). */
export function parseSecretFlag(s: string): [string, { src?: string; env?: string }] {
  const m = csvOptions(s);
  const id = m.get('id');
  if (!id) throw new SkiffError('EINVALID', `invalid --secret ${JSON.stringify(s)}: id= is required`, { hint: 'write --secret id=NAME,src=FILE or id=NAME,env=VAR' });
  const src = m.get('src') ?? m.get('source');
  const env = m.get('env');
  if (src !== undefined) return [id, { src }];
  if (env !== undefined) return [id, { env }];
  if (m.get('type') === 'env') return [id, { env: id }];
  return [id, { src: id }];
}

/** Parses `-o type=local|tar,dest=D` (a bare path means type=local). */
export function parseOutputFlag(s: string): { type: 'local' | 'tar'; dest: string } {
  if (!s.includes('=')) return { type: 'local', dest: s };
  const m = csvOptions(s);
  const type = m.get('type') ?? 'local';
  const dest = m.get('dest');
  if ((type !== 'local' && type !== 'tar') || !dest) throw new SkiffError('EINVALID', `invalid --output ${JSON.stringify(s)}`, { hint: 'write -o type=local,dest=DIR or -o type=tar,dest=FILE' });
  return { type, dest };
}

/** Adds `build` (and its alias `bud`). */
export function addBuildCommand(program: Command): void {
  const cmd = program
    .command('build')
    .alias('bud')
    .description('build an image from a Dockerfile')
    .argument('[context]', 'context directory, git URL or tarball URL', '.')
    .option('-f, --file <file>', "Dockerfile ('-' reads stdin; default CONTEXT/Dockerfile or Containerfile)")
    .option('-t, --tag <name>', 'name the image (repeatable; transport-qualified names are written there)', collect, [])
    .option('--build-arg <k=v>', 'build argument (repeatable)', collect, [])
    .option('--build-arg-file <file>', 'file of build arguments (KEY=VALUE lines)', collect, [])
    .option('--target <stage>', 'build this stage')
    .option('--no-cache', 'do not use cached layers')
    .option('--layers [bool]', 'cache intermediate layers (default true)')
    .option('--pull [policy]', 'pull policy: always, missing (default), never, newer')
    .option('--platform <os/arch[,os/arch…]>', 'target platforms: several (comma-separated or repeated) build an image index', collect, [])
    .option('--manifest <name>', 'add the built images to this manifest list (created when absent)')
    .option('--format <format>', 'image format: oci (default) or docker', 'oci')
    .option('--label <k=v>', 'image label (repeatable)', collect, [])
    .option('--annotation <k=v>', 'manifest annotation (repeatable)', collect, [])
    .option('--squash', 'squash the new layers into one')
    .option('--timestamp <seconds>', 'created time and file times (reproducible builds)')
    .option('--secret <spec>', 'id=ID,src=PATH or id=ID,env=VAR (repeatable)', collect, [])
    .option('--network <mode>', 'network for RUN: private (default), host, none or a network name')
    .option('--iidfile <file>', 'write the image ID to this file')
    .option('-o, --output <spec>', 'type=local,dest=DIR or type=tar,dest=FILE (repeatable)', collect, [])
    .option('--ignorefile <file>', 'ignore file instead of .containerignore/.dockerignore')
    .option('--jobs <n>', 'stages (and, with several platforms, platforms) built in parallel', '1')
    .option('--ssh <spec>', 'default, ID=SOCKET or ID=KEYFILE (repeatable)', collect, [])
    .option('--build-context <name=value>', 'named context: NAME=DIR, docker-image://REF, oci-layout://PATH@DIGEST or a git/tarball URL (repeatable)', collect, [])
    .option('--allow <entitlement>', 'network.host, security.insecure or device (repeatable)', collect, [])
    .option('--cache-to <spec>', 'export the layer cache: REPOSITORY, type=registry,ref=REPO[,mode=min|max], type=local,dest=DIR or type=inline (repeatable)', collect, [])
    .option('--cache-from <spec>', 'use a layer cache: REPOSITORY, type=registry,ref=REPO or type=local,src=DIR (repeatable)', collect, [])
    .option('--cache-ttl <duration>', 'ignore remote cache entries built longer ago than this (e.g. 72h)')
    .option('--cache-mounts', 'export and import RUN --mount=type=cache contents with --cache-to/--cache-from')
    .option('--tls-verify [bool]', 'verify registry certificates (default true)')
    .option('--authfile <file>', 'registry credentials file')
    .option('--creds <user:password>', 'registry credentials')
    .option('--policy <path>', 'trust policy for FROM pulls (default $HOME/.config/containers/policy.json, /etc/containers/policy.json)')
    .option('--signature-policy <path>', "buildah's name for --policy")
    .option('--insecure-policy', 'pull FROM images without any trust-policy check')
    .option('--progress <mode>', 'auto, plain, json or quiet', 'auto')
    .option('-q, --quiet', 'print only the image ID');
  addRootOption(addRunSettingsOptions(cmd)).action(async (context: string, f: Record<string, unknown>) => {
    // every flag is checked before a remote context is fetched
    const buildContexts = new Map((f.buildContext as string[]).map(parseBuildContextFlag));
    const ssh = new Map((f.ssh as string[]).map((s) => parseSshFlag(s)));
    const interrupt = interruptSignal();
    // a git or tarball URL context is fetched into a private temp dir, removed however the build ends
    const fetched = isRemoteContext(context) ? await fetchRemoteContext(context, { signal: interrupt.signal, onWarning: (m) => process.stderr.write(`WARNING: ${m}\n`) }).catch((e: unknown) => {
      interrupt.dispose();
      throw e;
    }) : undefined;
    try {
      await buildAction(cmd, fetched?.dir ?? resolve(context), fetched !== undefined, f, { buildContexts, ssh, signal: interrupt.signal });
    } finally {
      await fetched?.dispose();
      interrupt.dispose();
    }
  });
}

/** The build itself, once the context is a local directory (`remote`: fetched, so `-f` resolves inside it). */
async function buildAction(cmd: Command, ctxDir: string, remote: boolean, f: Record<string, unknown>, p: { buildContexts: BuildOptions['buildContexts']; ssh: NonNullable<BuildOptions['ssh']>; signal: AbortSignal }): Promise<void> {
  let text: string;
  let path: string | undefined;
  const file = f.file as string | undefined;
  if (file === '-') text = await readStdin();
  else {
    // with a remote context, -f names a file inside it (as docker and buildah read it), resolved confined
    const named = file === undefined ? undefined : remote && !isAbsolute(file) ? await resolveInRoot(ctxDir, file) : isAbsolute(file) ? file : resolve(file);
    const candidates = named !== undefined ? [named] : [join(ctxDir, 'Containerfile'), join(ctxDir, 'Dockerfile')];
    let found: string | undefined;
    for (const c of candidates) {
      const t = await readFile(c, 'utf8').catch(() => undefined);
      if (t !== undefined) {
        found = c;
        text = t;
        break;
      }
    }
    if (found === undefined) throw new SkiffError('ENOTFOUND', `no Containerfile or Dockerfile found (${candidates.join(', ')})`, { hint: 'pass -f FILE' });
    path = found;
    text = text!;
  }
  const args: Record<string, string> = {};
  for (const af of f.buildArgFile as string[]) Object.assign(args, parseBuildArgFile(await readFile(af, 'utf8')));
  Object.assign(args, keyValues(f.buildArg as string[], 'build-arg'));
  const bool = (v: unknown, dflt: boolean): boolean => (v === undefined ? dflt : v === true || v === 'true' ? true : v === 'false' ? false : badBool(v));
  const pull = f.pull === undefined ? 'missing' : f.pull === true || f.pull === 'true' ? 'always' : f.pull === 'false' ? 'missing' : String(f.pull);
  if (!['always', 'missing', 'never', 'newer'].includes(pull)) throw new SkiffError('EINVALID', `invalid --pull ${pull}`, { hint: 'use always, missing, never or newer' });
  const format = String(f.format);
  if (format !== 'oci' && format !== 'docker') throw new SkiffError('EINVALID', `invalid --format ${format}`, { hint: 'use oci or docker' });
  const network = f.network === undefined ? undefined : parseBuildNetwork(String(f.network));
  const ts = (f.timestamp as string | undefined) ?? process.env.SOURCE_DATE_EPOCH;
  if (ts !== undefined && !/^\d+$/u.test(ts)) throw new SkiffError('EINVALID', `invalid --timestamp ${ts}: want seconds since the epoch`);
  const cacheOpts = parseCacheOptions(f.cacheTo as string[], f.cacheFrom as string[], f.cacheTtl === undefined ? undefined : String(f.cacheTtl), f.cacheMounts === true);
  const platforms = (f.platform as string[]).length > 0 ? parsePlatformList(f.platform as string[]) : undefined;
  const manifest = f.manifest === undefined ? undefined : String(f.manifest);
  if (manifest !== undefined) checkTags([manifest]); // a bad list name fails before anything runs
  const quiet = f.quiet === true;
  const pmode = String(f.progress);
  const mode = quiet || pmode === 'quiet' ? 'quiet' : pmode === 'json' ? 'json' : 'plain';
  const o: BuildOptions = {
    storeRoot: storeRootOf(cmd),
    contextDir: ctxDir,
    dockerfile: { text, path },
    tags: f.tag as string[],
    buildArgs: args,
    target: f.target === undefined ? undefined : String(f.target),
    noCache: f.cache === false,
    layers: bool(f.layers, true),
    pull: pull as BuildOptions['pull'],
    // read when a FROM image is pulled, as the peers do: a build from stored images never loads the signing code
    trustPolicy: memoAsync(async () => (await import('../signature/policy.ts')).loadPolicy({ path: (f.policy ?? f.signaturePolicy) === undefined ? undefined : String(f.policy ?? f.signaturePolicy), insecure: f.insecurePolicy === true })),
    platform: platforms?.[0],
    format,
    labels: keyValues(f.label as string[], 'label'),
    annotations: keyValues(f.annotation as string[], 'annotation'),
    squash: f.squash === true,
    timestamp: ts === undefined ? undefined : Number(ts),
    secrets: new Map((f.secret as string[]).map(parseSecretFlag)),
    network,
    ...runSettings(f),
    iidfile: f.iidfile === undefined ? undefined : String(f.iidfile),
    outputs: (f.output as string[]).map(parseOutputFlag),
    ignorefile: f.ignorefile === undefined ? undefined : String(f.ignorefile),
    jobs: Number.parseInt(String(f.jobs), 10) || 1,
    ssh: p.ssh,
    ...(p.buildContexts?.size && { buildContexts: p.buildContexts }),
    ...(remote && { contextTransient: true }),
    allow: f.allow as string[],
    registry: {
      tlsVerify: f.tlsVerify === undefined ? undefined : bool(f.tlsVerify, true),
      authFile: f.authfile === undefined ? undefined : String(f.authfile),
      credentials: f.creds === undefined ? undefined : parseCredentials(String(f.creds)),
    },
    ...((cacheOpts.from.length > 0 || cacheOpts.to.length > 0) && { cache: cacheOpts }),
    reporter: createReporter(mode),
    signal: p.signal,
  };
  const multi = (platforms !== undefined && platforms.length > 1) || manifest !== undefined;
  const build = multi
    ? (await import('../build/executor/multi-platform.ts')).buildPlatforms(o, {
        platforms: platforms ?? [hostPlatform()],
        ...(manifest !== undefined && { manifest }),
        reporterFor: (pf) => createReporter(mode, process.stderr, { label: pf }),
      })
    : buildImage(o);
  const r = await build.catch((e: unknown) => {
    throw withRunStatus(e);
  });
  if (!quiet) for (const n of r.names) process.stderr.write(`COMMIT ${n}\n`);
  process.stdout.write(`${r.id.slice(7)}\n`);
}

/**
 * A build error carrying the failed RUN's status (details.exitCode) exits with that status in every tool that
 * registers `build`, as buildah and podman build do (podman 4.3: `RUN exit 3` → 3); other errors are unchanged.
 */
export function withRunStatus(e: unknown): unknown {
  if (!isSkiffError(e) || e.exitStatus !== undefined) return e;
  const code = e.details?.exitCode;
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 1 || code > 255) return e;
  return new SkiffError(e.code, e.message, { ...(e.hint !== undefined && { hint: e.hint }), ...(e.details && { details: e.details }), exitStatus: code, cause: e });
}

function badBool(v: unknown): never {
  throw new SkiffError('EINVALID', `invalid boolean value ${JSON.stringify(v)}`, { hint: 'use true or false' });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
