/**
 * Per-instruction semantics that need no I/O: config edits as data, RUN/COPY/ADD flag parsing and validation,
 * --chmod (octal and symbolic) as a mode function, HEALTHCHECK durations, EXPOSE/STOPSIGNAL/WORKDIR normalisation,
 * ONBUILD trigger hand-over, entitlements (BU-11), mount validation (BU-10), and buildah's `created_by` strings.
 * Every function here is pure and deterministic; inputs are already-expanded strings.
 */
import { posix } from 'node:path';
import { parseByteSize, parseDuration } from '../../shared/cli/units.ts';
import { SkiffError } from '../../shared/errors.ts';
import type { ContainerConfig, HealthConfig, ImageConfig } from '../../shared/oci/types.ts';

function invalid(message: string, hint?: string): SkiffError {
  return new SkiffError('EINVALID', message, hint === undefined ? {} : { hint });
}

// ---------------------------------------------------------------- config edits

/** A config edit: each field present replaces the whole field of the container config; `null` removes it. */
export interface ConfigEdit {
  config?: { [K in keyof ContainerConfig]?: ContainerConfig[K] | null };
  author?: string;
}

/** Applies an edit to an image config and returns a new config (the input is not modified). Idempotent. */
export function applyConfigEdit(img: ImageConfig, edit: ConfigEdit): ImageConfig {
  const out: ImageConfig = { ...img, config: { ...(img.config ?? {}) } };
  for (const [k, v] of Object.entries(edit.config ?? {})) {
    const c = out.config as Record<string, unknown>;
    if (v === null) delete c[k];
    else c[k] = v;
  }
  if (edit.author !== undefined) out.author = edit.author;
  return out;
}

/** ENV: sets or replaces variables in `Env`, keeping their order (a replaced key stays where it was). */
export function envEdit(cfg: ContainerConfig, pairs: readonly { key: string; value: string }[]): ConfigEdit {
  const env = [...(cfg.Env ?? [])];
  for (const { key, value } of pairs) {
    if (key === '') throw invalid('ENV names can not be blank');
    const i = env.findIndex((e) => e === key || e.startsWith(key + '='));
    if (i >= 0) env[i] = `${key}=${value}`;
    else env.push(`${key}=${value}`);
  }
  return { config: { Env: env } };
}

/** LABEL: merges labels (later pairs win). */
export function labelEdit(cfg: ContainerConfig, pairs: readonly { key: string; value: string }[]): ConfigEdit {
  const labels = { ...(cfg.Labels ?? {}) };
  for (const { key, value } of pairs) {
    if (key === '') throw invalid('LABEL names can not be blank');
    labels[key] = value;
  }
  return { config: { Labels: labels } };
}

/** Normalises EXPOSE words: `80` → `80/tcp`, `53/UDP` → `53/udp`, ranges `8000-8002` → one entry per port. */
export function normalizePorts(words: readonly string[]): string[] {
  const out: string[] = [];
  for (const w of words) {
    const m = /^(\d+)(?:-(\d+))?(?:\/([A-Za-z]+))?$/u.exec(w);
    if (m === null) throw invalid(`invalid containerPort: ${w}`, 'write EXPOSE PORT[/tcp|udp|sctp] or a range like 8000-8010');
    const proto = (m[3] ?? 'tcp').toLowerCase();
    if (!['tcp', 'udp', 'sctp'].includes(proto)) throw invalid(`invalid proto: ${m[3]}`, 'use tcp, udp or sctp');
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 0 || hi > 65535 || hi < lo) throw invalid(`invalid port range: ${w}`);
    for (let p = lo; p <= hi; p++) out.push(`${p}/${proto}`);
  }
  return out;
}

/** EXPOSE: merges normalised ports into ExposedPorts. */
export function exposeEdit(cfg: ContainerConfig, words: readonly string[]): ConfigEdit {
  const ports = { ...(cfg.ExposedPorts ?? {}) };
  for (const p of normalizePorts(words)) ports[p] = {};
  return { config: { ExposedPorts: ports } };
}

/** VOLUME: merges paths into Volumes; an empty path is an error. */
export function volumeEdit(cfg: ContainerConfig, paths: readonly string[]): ConfigEdit {
  const vols = { ...(cfg.Volumes ?? {}) };
  for (const p of paths) {
    if (p.trim() === '') throw invalid('VOLUME specified can not be an empty string');
    vols[p] = {};
  }
  return { config: { Volumes: vols } };
}

/**
 * WORKDIR: resolves `path` against the previous working directory and cleans it (`..`, `.`, duplicate slashes).
 * Directories under /proc are refused (BU-05: /proc/self/fd/N and /proc/self/cwd escapes).
 */
export function resolveWorkdir(previous: string | undefined, path: string): string {
  if (path === '') throw invalid('WORKDIR requires exactly one argument');
  const abs = posix.normalize(posix.isAbsolute(path) ? path : posix.join(previous || '/', path));
  const clean = abs.length > 1 ? abs.replace(/\/+$/u, '') : abs;
  if (clean === '/proc' || clean.startsWith('/proc/')) {
    throw invalid(`WORKDIR ${clean} is under /proc and is refused`, 'choose a working directory outside /proc');
  }
  return clean;
}

/** Signal names Linux knows, for STOPSIGNAL validation. */
const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL',
  'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1',
  'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ', 'UNUSED',
]);

/** Validates a STOPSIGNAL value: a name with or without SIG, RTMIN+n/RTMAX-n, or a number 1–64. Returns it as given. */
export function validateStopSignal(sig: string): string {
  const s = sig.toUpperCase().replace(/^SIG/u, '');
  const n = /^\d+$/u.test(sig) ? Number(sig) : NaN;
  const rt = /^RT(MIN|MAX)([+-](\d+))?$/u.exec(s);
  const ok = (n >= 1 && n <= 64) || SIGNALS.has(s) || (rt !== null && Number(rt[3] ?? 0) <= 30);
  if (!ok) throw invalid(`invalid signal: ${sig}`, 'use a signal name such as SIGTERM or a number 1-64');
  return sig;
}

/** HEALTHCHECK options (flags already expanded). */
export interface HealthcheckInput {
  none: boolean;
  test?: { form: 'exec'; args: string[] } | { form: 'shell'; command: string };
  flags: Record<string, string | undefined>;
}

/** HEALTHCHECK → the docker-format HealthConfig (durations in nanoseconds; each must be 0 or ≥ 1ms). */
export function healthcheckConfig(h: HealthcheckInput): HealthConfig {
  if (h.none) return { Test: ['NONE'] };
  const hc: HealthConfig = {};
  if (h.test?.form === 'exec') hc.Test = ['CMD', ...h.test.args];
  else if (h.test?.form === 'shell') hc.Test = ['CMD-SHELL', h.test.command];
  const dur = (flag: string, field: 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval'): void => {
    const v = h.flags[flag];
    if (v === undefined) return;
    const ns = parseDuration(v, 'ns');
    if (ns !== 0 && ns < 1e6) throw invalid(`--${flag} cannot be less than 1ms`);
    if (ns !== 0) hc[field] = ns;
  };
  dur('interval', 'Interval');
  dur('timeout', 'Timeout');
  dur('start-period', 'StartPeriod');
  dur('start-interval', 'StartInterval');
  const r = h.flags.retries;
  if (r !== undefined) {
    if (!/^\d+$/u.test(r)) throw invalid(`--retries must be a non-negative integer, got "${r}"`);
    if (Number(r) !== 0) hc.Retries = Number(r);
  }
  return hc;
}

/**
 * CMD/ENTRYPOINT value: exec form as is, shell form wrapped in the current shell (default `/bin/sh -c`).
 */
export function commandValue(cmd: { form: 'exec'; args: string[] } | { form: 'shell'; command: string }, shell: readonly string[] | undefined): string[] {
  return cmd.form === 'exec' ? [...cmd.args] : [...(shell?.length ? shell : ['/bin/sh', '-c']), cmd.command];
}

/**
 * ENTRYPOINT: sets Entrypoint; an inherited Cmd (one not set by a CMD earlier in this stage) is reset, as Docker.
 */
export function entrypointEdit(value: string[], cmdSetInStage: boolean): ConfigEdit {
  return cmdSetInStage ? { config: { Entrypoint: value } } : { config: { Entrypoint: value, Cmd: null } };
}

/**
 * ONBUILD hand-over: the triggers of the parent image to run at the start of a child stage, and the config with them
 * cleared, so they run in children but never in grandchildren.
 */
export function takeOnbuildTriggers(parent: ImageConfig): { triggers: string[]; config: ImageConfig } {
  const triggers = [...(parent.config?.OnBuild ?? [])];
  const config = applyConfigEdit(parent, { config: { OnBuild: null } });
  return { triggers, config };
}

/** ONBUILD: appends a trigger (stored as its text, unexpanded). */
export function onbuildEdit(cfg: ContainerConfig, trigger: string): ConfigEdit {
  return { config: { OnBuild: [...(cfg.OnBuild ?? []), trigger] } };
}

// ---------------------------------------------------------------- chown / chmod

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

// ---------------------------------------------------------------- RUN flags

/** One RUN --mount, validated. */
export type RunMount =
  | { type: 'bind'; target: string; source: string; from?: string; readonly: boolean }
  | { type: 'cache'; target: string; id: string; sharing: 'shared' | 'private' | 'locked'; from?: string; source?: string; readonly: boolean; mode: number; uid: number; gid: number }
  | { type: 'tmpfs'; target: string; size?: number }
  | { type: 'secret'; id: string; target?: string; env?: string; required: boolean; mode: number; uid: number; gid: number }
  | { type: 'ssh'; id: string; target: string; required: boolean; mode: number; uid: number; gid: number };

const MOUNT_KEYS: Record<string, string[]> = {
  bind: ['target', 'source', 'from', 'readonly', 'rw'],
  cache: ['target', 'id', 'sharing', 'from', 'source', 'readonly', 'rw', 'mode', 'uid', 'gid'],
  tmpfs: ['target', 'size'],
  secret: ['target', 'id', 'required', 'mode', 'uid', 'gid', 'env'],
  ssh: ['target', 'id', 'required', 'mode', 'uid', 'gid'],
};
const ALIASES: Record<string, string> = { dst: 'target', destination: 'target', src: 'source', ro: 'readonly', readwrite: 'rw' };

function mountSize(s: string): number {
  try {
    return parseByteSize(s);
  } catch {
    throw mountError(`size=${s} is not a size`);
  }
}

function mountError(msg: string): SkiffError {
  return invalid(`invalid mount option: ${msg}`, 'see the RUN --mount reference for the options each type accepts');
}

/** Parses and validates one `--mount=` value (BU-10): unknown options, relative targets, /proc or /sys targets, rw secrets. */
export function parseMount(value: string, index = 0): RunMount {
  const kv = new Map<string, string | undefined>();
  let type = 'bind';
  for (const part of value.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawKey = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? undefined : part.slice(eq + 1);
    if (rawKey === 'type') {
      if (v === undefined || !(v in MOUNT_KEYS)) throw mountError(`unsupported mount type "${v ?? ''}"`);
      type = v;
      continue;
    }
    const key = ALIASES[rawKey] ?? rawKey;
    kv.set(key, v);
  }
  const allowed = MOUNT_KEYS[type]!;
  for (const k of kv.keys()) if (!allowed.includes(k)) throw mountError(`"${k}" is not valid for type=${type}`);
  const str = (k: string): string | undefined => {
    if (!kv.has(k)) return undefined;
    const v = kv.get(k);
    if (v === undefined || v === '') throw mountError(`${k} requires a value`);
    return v;
  };
  const bool = (k: string): boolean | undefined => {
    if (!kv.has(k)) return undefined;
    const v = kv.get(k);
    if (v === undefined || v === 'true') return true;
    if (v === 'false') return false;
    throw mountError(`${k}=${v} is not a boolean`);
  };
  const num = (k: string, base: 8 | 10, dflt: number): number => {
    const v = str(k);
    if (v === undefined) return dflt;
    if (!(base === 8 ? /^[0-7]+$/u : /^\d+$/u).test(v)) throw mountError(`${k}=${v} is not a valid number`);
    return parseInt(v, base);
  };
  const target = str('target');
  const checkTarget = (t: string): string => {
    if (!posix.isAbsolute(t)) throw mountError(`target "${t}" must be an absolute path`);
    const n = posix.normalize(t);
    for (const bad of ['/proc', '/sys']) if (n === bad || n.startsWith(bad + '/')) throw mountError(`target "${t}" is under ${bad}`);
    return n;
  };
  const ro = (): boolean => {
    const r = bool('readonly');
    const w = bool('rw');
    if (r !== undefined && w !== undefined && r === w) throw mountError('readonly and rw conflict');
    return r ?? (w === undefined ? type === 'bind' : !w);
  };
  switch (type) {
    case 'bind': {
      if (target === undefined) throw mountError('bind mount requires a target');
      const m: RunMount = { type, target: checkTarget(target), source: str('source') ?? '/', readonly: ro() };
      const from = str('from');
      if (from !== undefined) m.from = from;
      return m;
    }
    case 'cache': {
      if (target === undefined) throw mountError('cache mount requires a target');
      const t = checkTarget(target);
      const sharing = str('sharing') ?? 'shared';
      if (sharing !== 'shared' && sharing !== 'private' && sharing !== 'locked') throw mountError(`sharing=${sharing} (use shared, private or locked)`);
      const m: RunMount = { type, target: t, id: str('id') ?? t, sharing, readonly: ro(), mode: num('mode', 8, 0o755), uid: num('uid', 10, 0), gid: num('gid', 10, 0) };
      const from = str('from');
      if (from !== undefined) m.from = from;
      const source = str('source');
      if (source !== undefined) m.source = source;
      return m;
    }
    case 'tmpfs': {
      if (target === undefined) throw mountError('tmpfs mount requires a target');
      const m: RunMount = { type, target: checkTarget(target) };
      const size = str('size');
      if (size !== undefined) m.size = mountSize(size);
      return m;
    }
    case 'secret':
    case 'ssh': {
      const t = target === undefined ? undefined : checkTarget(target);
      const required = bool('required') ?? false;
      const mode = num('mode', 8, type === 'ssh' ? 0o600 : 0o400);
      const uid = num('uid', 10, 0);
      const gid = num('gid', 10, 0);
      if (type === 'ssh') return { type, id: str('id') ?? 'default', target: t ?? `/run/buildkit/ssh_agent.${index}`, required, mode, uid, gid };
      const env = str('env');
      const id = str('id') ?? (t !== undefined ? posix.basename(t) : env);
      if (id === undefined) throw mountError('secret mount requires an id, a target or env');
      const m: RunMount = { type, id, required, mode, uid, gid };
      if (env !== undefined) m.env = env;
      if (t !== undefined || env === undefined) m.target = t ?? `/run/secrets/${id}`;
      return m;
    }
  }
  throw mountError(`unsupported mount type "${type}"`);
}

/** Parsed RUN flags. */
export interface RunOptions {
  mounts: RunMount[];
  network: 'default' | 'none' | 'host';
  security: 'sandbox' | 'insecure';
  devices: string[];
}

/** Parses RUN flags (values expanded). */
export function parseRunOptions(flags: readonly { name: string; value: string | undefined }[]): RunOptions {
  const o: RunOptions = { mounts: [], network: 'default', security: 'sandbox', devices: [] };
  for (const f of flags) {
    const v = f.value ?? '';
    if (f.name === 'mount') o.mounts.push(parseMount(v, o.mounts.filter((m) => m.type === 'ssh').length));
    else if (f.name === 'network') {
      if (v !== 'default' && v !== 'none' && v !== 'host') throw invalid(`unsupported network mode "${v}"`, 'use --network=default, none or host');
      o.network = v;
    } else if (f.name === 'security') {
      if (v !== 'sandbox' && v !== 'insecure') throw invalid(`unsupported security mode "${v}"`, 'use --security=sandbox or insecure');
      o.security = v;
    } else if (f.name === 'device') {
      if (v === '') throw invalid('--device requires a value');
      o.devices.push(v);
    } else throw invalid(`unknown flag: --${f.name} for RUN`);
  }
  return o;
}

/** Entitlement names, as BuildKit's `--allow`. */
export type Entitlement = 'network.host' | 'security.insecure' | 'device';

/** The entitlements a RUN needs. */
export function requiredEntitlements(o: RunOptions): Entitlement[] {
  const out: Entitlement[] = [];
  if (o.network === 'host') out.push('network.host');
  if (o.security === 'insecure') out.push('security.insecure');
  if (o.devices.length > 0) out.push('device');
  return out;
}

/** Throws EPERM naming the first entitlement the Dockerfile asks for that the command line did not `--allow` (BU-11). */
export function checkEntitlements(o: RunOptions, allowed: ReadonlySet<string> | readonly string[]): void {
  const set = allowed instanceof Set ? allowed : new Set(allowed as readonly string[]);
  for (const e of requiredEntitlements(o)) {
    if (!set.has(e)) throw new SkiffError('EPERM', `RUN needs the "${e}" entitlement, which was not granted`, { hint: `pass --allow ${e} to build-tool build if you trust this Dockerfile` });
  }
}

// ---------------------------------------------------------------- history

/** buildah's created_by for a metadata instruction: `/bin/sh -c #(nop) KEYWORD text`. */
export function nopCreatedBy(keyword: string, text: string): string {
  return `/bin/sh -c #(nop) ${keyword.toUpperCase()} ${text}`;
}

/** buildah's created_by for RUN: `|N K=V… /bin/sh -c cmd` when N build args are in scope (proxy args never listed). */
export function runCreatedBy(text: string, args: readonly [string, string][]): string {
  const prefix = args.length ? `|${args.length} ${args.map(([k, v]) => `${k}=${v}`).join(' ')} ` : '';
  return `${prefix}/bin/sh -c ${text}`;
}

/** buildah's created_by for COPY/ADD: `/bin/sh -c #(nop) COPY <summary> in <dest> `. */
export function copyCreatedBy(kind: 'COPY' | 'ADD', summary: string, dest: string): string {
  return `/bin/sh -c #(nop) ${kind} ${summary} in ${dest} `;
}
