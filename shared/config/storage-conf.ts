import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { SkiffError } from '../errors.ts';
import { keyLine, parseTomlFile, tableOf } from './toml.ts';

/**
 * The storage.conf(5) file podman would read: `CONTAINERS_STORAGE_CONF` when set; else, rootless,
 * `$XDG_CONFIG_HOME/containers/storage.conf` (default ~/.config); else `/etc/containers/storage.conf`, then
 * `/usr/share/containers/storage.conf` — the first that exists, with its text. Undefined when none does.
 */
export function findStorageConf(env: NodeJS.ProcessEnv, uid: number): { path: string; text: string } | undefined {
  const cfg = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
  const candidates = env.CONTAINERS_STORAGE_CONF
    ? [env.CONTAINERS_STORAGE_CONF]
    : uid !== 0
      ? [join(cfg, 'containers', 'storage.conf')]
      : ['/etc/containers/storage.conf', '/usr/share/containers/storage.conf'];
  for (const path of candidates) {
    try {
      return { path, text: readFileSync(path, 'utf8') };
    } catch {
      continue;
    }
  }
  return undefined;
}

/**
 * The store root storage.conf asks for: `<graphroot>/skiff` (skiff keeps its own layout in a directory of its own
 * inside podman's graph root, so the two never mix files), or undefined when no storage.conf sets `graphroot`.
 * A malformed file is EINVALID naming file:line. Reads one file.
 */
export function storageConfRoot(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string | undefined {
  const f = findStorageConf(env, uid);
  if (!f) return undefined;
  const storage = tableOf(parseTomlFile(f.text, f.path, 'storage.conf'), 'storage');
  const g = storage?.graphroot;
  if (g === undefined || g === '') return undefined;
  if (typeof g !== 'string') {
    throw new SkiffError('EINVALID', `invalid storage.conf ${f.path}:${keyLine(f.text, 'graphroot')}: graphroot must be a string`, { hint: 'see containers-storage.conf(5)' });
  }
  return join(resolve(g), 'skiff');
}
