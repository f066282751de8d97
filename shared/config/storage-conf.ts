import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { SkiffError } from '../errors.ts';
import { keyLine, parseTomlFile, tableOf } from './toml.ts';

const SYSTEM_FILES = ['/etc/containers/storage.conf', '/usr/share/containers/storage.conf'];

function readFirst(candidates: readonly string[]): { path: string; text: string } | undefined {
  for (const path of candidates) {
    try {
      return { path, text: readFileSync(path, 'utf8') };
    } catch {
      continue;
    }
  }
  return undefined;
}

function userFile(env: NodeJS.ProcessEnv): string {
  const cfg = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
  return join(cfg, 'containers', 'storage.conf');
}

/**
 * The storage.conf(5) file podman would read: `CONTAINERS_STORAGE_CONF` when set; else, rootless,
 * `$XDG_CONFIG_HOME/containers/storage.conf` (default ~/.config); else `/etc/containers/storage.conf`, then
 * `/usr/share/containers/storage.conf` — the first that exists, with its text. Undefined when none does.
 */
export function findStorageConf(env: NodeJS.ProcessEnv, uid: number): { path: string; text: string } | undefined {
  return readFirst(env.CONTAINERS_STORAGE_CONF ? [env.CONTAINERS_STORAGE_CONF] : uid !== 0 ? [userFile(env)] : SYSTEM_FILES);
}

/**
 * `path` with containers/storage's expansion: `$UID` is the user's uid, `$HOME`, `$USER` and any other `$VAR` /
 * `${VAR}` come from `env` (an unset one is empty, as Go's os.ExpandEnv), then made absolute and normalised. Pure
 * but for the user name when `USER` is unset.
 */
export function expandStoragePath(path: string, env: NodeJS.ProcessEnv, uid: number): string {
  const value = (name: string): string => {
    if (name === 'UID') return String(uid);
    if (name === 'HOME') return env.HOME || homedir();
    if (name === 'USER') return env.USER || userInfo().username;
    return env[name] ?? '';
  };
  return resolve(path.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, a: string | undefined, b: string | undefined) => value((a ?? b)!)));
}

/** The store locations one storage.conf sets (expanded, absolute); absent keys are undefined. */
export interface StorageConfPaths {
  graphRoot?: string;
  runRoot?: string;
  rootlessStoragePath?: string;
}

function pathsOf(f: { path: string; text: string }, env: NodeJS.ProcessEnv, uid: number): StorageConfPaths {
  const storage = tableOf(parseTomlFile(f.text, f.path, 'storage.conf'), 'storage') ?? {};
  const out: StorageConfPaths = {};
  for (const [key, field] of [['graphroot', 'graphRoot'], ['runroot', 'runRoot'], ['rootless_storage_path', 'rootlessStoragePath']] as const) {
    const v = storage[key];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string') {
      throw new SkiffError('EINVALID', `invalid storage.conf ${f.path}:${keyLine(f.text, key)}: ${key} must be a string`, { hint: 'see containers-storage.conf(5)' });
    }
    out[field] = expandStoragePath(v, env, uid);
  }
  return out;
}

/**
 * Where storage.conf puts podman's storage for this user, under containers/storage's rules: root reads
 * `CONTAINERS_STORAGE_CONF` or the first system file and takes its `graphroot` and `runroot`. A rootless user
 * takes only `rootless_storage_path` from the system file (its graphroot and runroot are root's), then its own
 * file (`CONTAINERS_STORAGE_CONF`, else `~/.config/containers/storage.conf`) whose `graphroot`/`runroot` win and
 * whose `rootless_storage_path` also counts. Paths are expanded (expandStoragePath). A malformed file is EINVALID
 * naming file:line. Reads at most two files.
 */
export function storageConfPaths(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): { graphRoot?: string; runRoot?: string } {
  if (uid === 0) {
    const f = findStorageConf(env, 0);
    if (!f) return {};
    const p = pathsOf(f, env, uid);
    return { ...(p.graphRoot && { graphRoot: p.graphRoot }), ...(p.runRoot && { runRoot: p.runRoot }) };
  }
  const system = env.CONTAINERS_STORAGE_CONF ? undefined : readFirst(SYSTEM_FILES);
  const sys = system ? pathsOf(system, env, uid) : {};
  const own = findStorageConf(env, uid);
  const mine = own ? pathsOf(own, env, uid) : {};
  const graphRoot = mine.graphRoot ?? mine.rootlessStoragePath ?? sys.rootlessStoragePath;
  return { ...(graphRoot && { graphRoot }), ...(mine.runRoot && { runRoot: mine.runRoot }) };
}

/**
 * The store root storage.conf asks for: `<graphroot>/skiff` (skiff keeps its own layout in a directory of its own
 * inside podman's graph root, so the two never mix files), or undefined when no storage.conf sets one
 * (storageConfPaths: `graphroot`, or a rootless user's `rootless_storage_path`). Throws as storageConfPaths.
 */
export function storageConfRoot(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string | undefined {
  const g = storageConfPaths(env, uid).graphRoot;
  return g === undefined ? undefined : join(g, 'skiff');
}

/**
 * The run root storage.conf asks for: `<runroot>/skiff` (runc's state goes to its `runc/`), or undefined when
 * no storage.conf that applies to this user sets `runroot`. Throws as storageConfPaths.
 */
export function storageConfRunRoot(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string | undefined {
  const r = storageConfPaths(env, uid).runRoot;
  return r === undefined ? undefined : join(r, 'skiff');
}
