/**
 * RUN flags: --mount values validated (BU-10: unknown options, relative or /proc and /sys targets, rw secrets),
 * --network, --security, --device, and the entitlements they need (BU-11). Pure; values already expanded.
 */
import { posix } from 'node:path';
import { parseByteSize } from '../../cli/units.ts';
import { SkiffError } from '../../errors.ts';
import { invalid } from './invalid.ts';

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
