import { readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SkiffError } from '../errors.ts';
import { parseByteSize } from '../cli/units.ts';
import { hostUid } from '../runtime/userns-marker.ts';
import { keyLine, parseTomlFile, tableOf, type TomlTable } from './toml.ts';

/**
 * The containers.conf(5) keys skiff honours, merged over every file read (a later file's key replaces an earlier
 * one's; arrays replace, as podman). Unset keys are absent.
 */
export interface ContainersConf {
  defaultCapabilities?: string[];
  defaultUlimits?: string[];
  defaultSysctls?: string[];
  env?: string[];
  volumes?: string[];
  dnsServers?: string[];
  dnsSearches?: string[];
  dnsOptions?: string[];
  pidsLimit?: number;
  /** `shm_size` in bytes (the file spells it `64m`, `1g`, …). */
  shmSize?: number;
  initPath?: string;
  runtime?: string;
  networkBackend?: string;
  defaultNetwork?: string;
  cgroupManager?: string;
  eventsLogger?: string;
  imageDefaultTransport?: string;
  compressionFormat?: string;
  /** The files read, in merge order. */
  files: string[];
}

type Kind = 'strings' | 'string' | 'int';
/** [table, TOML key, field, value kind]: the keys read; any other key is ignored, as podman ignores unknown keys. */
const KEYS: readonly (readonly [string, string, Exclude<keyof ContainersConf, 'files'>, Kind])[] = [
  ['containers', 'default_capabilities', 'defaultCapabilities', 'strings'],
  ['containers', 'default_ulimits', 'defaultUlimits', 'strings'],
  ['containers', 'default_sysctls', 'defaultSysctls', 'strings'],
  ['containers', 'env', 'env', 'strings'],
  ['containers', 'volumes', 'volumes', 'strings'],
  ['containers', 'dns_servers', 'dnsServers', 'strings'],
  ['containers', 'dns_searches', 'dnsSearches', 'strings'],
  ['containers', 'dns_options', 'dnsOptions', 'strings'],
  ['containers', 'pids_limit', 'pidsLimit', 'int'],
  ['containers', 'shm_size', 'shmSize', 'string'],
  ['containers', 'init_path', 'initPath', 'string'],
  ['engine', 'runtime', 'runtime', 'string'],
  ['network', 'network_backend', 'networkBackend', 'string'],
  ['network', 'default_network', 'defaultNetwork', 'string'],
  ['engine', 'cgroup_manager', 'cgroupManager', 'string'],
  ['engine', 'events_logger', 'eventsLogger', 'string'],
  ['engine', 'image_default_transport', 'imageDefaultTransport', 'string'],
  ['engine', 'compression_format', 'compressionFormat', 'string'],
];

/** The values podman accepts for the engine keys that choose a mechanism (checked at load, as podman fails at start). */
const ALLOWED: Partial<Record<keyof ContainersConf, { values: readonly string[] }>> = {
  eventsLogger: { values: ['file', 'journald', 'none'] },
  cgroupManager: { values: ['cgroupfs', 'systemd'] },
  networkBackend: { values: ['netavark', 'cni', ''] },
  compressionFormat: { values: ['gzip', 'zstd', 'zstd:chunked'] },
};

function invalid(file: string, line: number, msg: string): SkiffError {
  return new SkiffError('EINVALID', `invalid containers.conf ${file}:${line}: ${msg}`, { hint: 'see containers.conf(5)' });
}

/**
 * Parses one containers.conf text into the keys skiff honours (only those the file sets). A TOML syntax error,
 * a wrong value type or a value outside a key's choices (events_logger, cgroup_manager, network_backend,
 * compression_format, image_default_transport's form) is EINVALID naming `file:line`; unknown keys and tables
 * are ignored. Pure.
 */
export function parseContainersConf(text: string, file: string): Omit<ContainersConf, 'files'> {
  const doc = parseTomlFile(text, file, 'containers.conf');
  const out: Record<string, unknown> = {};
  for (const [table, key, field, kind] of KEYS) {
    const t: TomlTable | undefined = tableOf(doc, table);
    const v = t?.[key];
    if (v === undefined) continue;
    const ok = kind === 'strings' ? Array.isArray(v) && v.every((x) => typeof x === 'string') : kind === 'string' ? typeof v === 'string' : typeof v === 'bigint' || Number.isInteger(v);
    if (!ok) throw invalid(file, keyLine(text, key), `${key} must be ${kind === 'strings' ? 'an array of strings' : kind === 'string' ? 'a string' : 'an integer'}`);
    if (field === 'shmSize') {
      try {
        out[field] = parseByteSize(v as string, 'shm_size');
      } catch (e) {
        throw invalid(file, keyLine(text, key), (e as Error).message);
      }
      continue;
    }
    const allowed = ALLOWED[field];
    if (allowed && !allowed.values.includes(v as string)) throw invalid(file, keyLine(text, key), `${key} ${JSON.stringify(v)} is not one of ${allowed.values.join(', ')}`);
    if (field === 'imageDefaultTransport' && !/^[a-z][a-z0-9-]*:(\/\/)?$/.test(v as string)) throw invalid(file, keyLine(text, key), `image_default_transport ${JSON.stringify(v)} is not a transport prefix such as "docker://" or "oci:"`);
    out[field] = typeof v === 'bigint' ? Number(v) : v;
  }
  return out as Omit<ContainersConf, 'files'>;
}

/** Where loadContainersConf looks; every field has podman's default. */
export interface ContainersConfSources {
  env?: NodeJS.ProcessEnv;
  /** The invoking user's host uid (default hostUid: the user's, also inside skiff's namespace). */
  uid?: number;
  /** The vendor directory (default /usr/share/containers). */
  usrDir?: string;
  /** The administrator's directory (default /etc/containers). */
  etcDir?: string;
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw new SkiffError('EIO', `cannot read ${path}: ${(e as Error).message}`);
  }
}

function dropIns(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => n.endsWith('.conf')).sort().map((n) => join(dir, n));
  } catch {
    return [];
  }
}

/**
 * The files containers.conf is read from, in podman's order (later wins): with `CONTAINERS_CONF` set, that file
 * alone; else `/usr/share/containers/containers.conf`, `/etc/containers/containers.conf`, then
 * `containers.rootful.conf` (root) or `containers.rootless.conf` (others) in /etc/containers, then
 * `$XDG_CONFIG_HOME/containers/containers.conf` (rootless only; default ~/.config) — each followed by the `*.conf`
 * files of its `.d` directory in lexical order (the rootless one also by `containers.rootless.conf.d/<UID>/`).
 * `CONTAINERS_CONF_OVERRIDE` comes last. Each entry says whether it must exist. Reads directories only.
 */
export function containersConfFiles(o: ContainersConfSources = {}): { path: string; required: boolean }[] {
  const env = o.env ?? process.env;
  // inside skiff's rootless namespace the process is uid 0; the files are the invoking user's
  const uid = o.uid ?? hostUid(env);
  const rootless = uid !== 0;
  const out: { path: string; required: boolean }[] = [];
  const withDropIns = (base: string, extra: string[] = []) => {
    out.push({ path: base, required: false });
    for (const d of [`${base}.d`, ...extra]) for (const p of dropIns(d)) out.push({ path: p, required: false });
  };
  if (env.CONTAINERS_CONF) out.push({ path: env.CONTAINERS_CONF, required: true });
  else {
    const usr = o.usrDir ?? '/usr/share/containers';
    const etc = o.etcDir ?? '/etc/containers';
    withDropIns(join(usr, 'containers.conf'));
    withDropIns(join(etc, 'containers.conf'));
    if (rootless) withDropIns(join(etc, 'containers.rootless.conf'), [join(etc, 'containers.rootless.conf.d', String(uid))]);
    else withDropIns(join(etc, 'containers.rootful.conf'));
    if (rootless) {
      const cfg = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
      withDropIns(join(cfg, 'containers', 'containers.conf'));
    }
  }
  if (env.CONTAINERS_CONF_OVERRIDE) out.push({ path: env.CONTAINERS_CONF_OVERRIDE, required: true });
  return out;
}

/**
 * Reads and merges containers.conf from containersConfFiles (later files' keys win). A missing optional file is
 * skipped; a missing `CONTAINERS_CONF`/`CONTAINERS_CONF_OVERRIDE` file is ENOTFOUND; a malformed one EINVALID
 * naming file:line. Read-only.
 */
export function loadContainersConf(o: ContainersConfSources = {}): ContainersConf {
  let conf: ContainersConf = { files: [] };
  for (const f of containersConfFiles(o)) {
    const text = readIfExists(f.path);
    if (text === undefined) {
      if (f.required) throw new SkiffError('ENOTFOUND', `containers.conf ${f.path} does not exist`, { hint: 'fix CONTAINERS_CONF / CONTAINERS_CONF_OVERRIDE or unset it' });
      continue;
    }
    conf = { ...conf, ...parseContainersConf(text, f.path), files: [...conf.files, f.path] };
  }
  return conf;
}

let cached: ContainersConf | undefined;
/** The identity of the files `cached` was read from (revalidating processes only). */
let cachedIdentity: string | undefined;
let revalidate = false;

/**
 * Makes containersConf() check, on every call, the identity (device, inode, mtime, size) of each file it merges and
 * the list of those files (drop-ins come and go), re-reading when any changed: a long-lived process (the API service)
 * never serves a stale value. A CLI command, which lives for one command, leaves it off and reads once.
 */
export function revalidateContainersConf(on = true): void {
  revalidate = on;
}

/** The identity of containers.conf's files as they are now (an absent file counts too). */
function confFilesIdentity(): string {
  return containersConfFiles().map((f) => {
    const s = statSync(f.path, { bigint: true, throwIfNoEntry: false });
    return s ? `${f.path}\0${s.dev}:${s.ino}:${s.mtimeNs}:${s.ctimeNs}:${s.size}` : `${f.path}\0-`;
  }).join('\n');
}

/**
 * This process's containers.conf, read on first call only (commands that never ask pay nothing), from the real
 * files and environment; with revalidateContainersConf on, read again whenever its files changed. Throws as
 * loadContainersConf.
 */
export function containersConf(): ContainersConf {
  if (!revalidate) {
    cached ??= loadContainersConf();
    return cached;
  }
  // the identity is taken before the read: a file changed in between is read again on the next call
  const identity = confFilesIdentity();
  if (cached === undefined || identity !== cachedIdentity) {
    cached = loadContainersConf();
    cachedIdentity = identity;
  }
  return cached;
}
