import { lstat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePrivateDir } from '../runtime/runc.ts';

/**
 * Where this user's plain-HTTP memory lives: `$XDG_RUNTIME_DIR/skiff/plain-http` (an absolute XDG_RUNTIME_DIR),
 * else `/run/skiff/plain-http` for root; undefined otherwise (no memory: every run probes https first). The
 * runtime dir is per user, private and emptied at log-out or reboot.
 */
export function plainHttpMemoryDir(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? 0): string | undefined {
  const x = env.XDG_RUNTIME_DIR;
  if (x && x.startsWith('/')) return join(x, 'skiff', 'plain-http');
  return uid === 0 ? '/run/skiff/plain-http' : undefined;
}

/** The file recording that `apiHost` (host[:port]) speaks plain HTTP; a name that cannot contain a separator. */
function entryPath(dir: string, apiHost: string): string {
  return join(dir, encodeURIComponent(apiHost.toLowerCase()));
}

/**
 * Remembers, per registry API host and across runs, that the host answered the `/v2/` ping over plain HTTP after
 * its https attempt failed — so the next run of a registry marked insecure (`--tls-verify=false`, registries.conf
 * `insecure = true`) asks over http first instead of paying a TLS handshake that cannot succeed. It only changes
 * the order of the attempts the registry's settings already allow: the caller consults it only when plain HTTP is
 * allowed for the registry, so a registry not marked insecure is never tried over http, whatever the memory says.
 * An entry counts only when it is a regular file owned by the caller inside a directory owned by the caller that
 * nobody else may write; it is forgotten as soon as the remembered http ping fails. Every operation is best-effort
 * and never throws: without a usable memory the client probes https first, as containers/image does.
 */
export class PlainHttpMemory {
  readonly dir: string | undefined;
  readonly #uid: number;

  constructor(dir: string | undefined, uid: number = process.getuid?.() ?? 0) {
    this.dir = dir;
    this.#uid = uid;
  }

  /** True when `apiHost` is remembered as plain HTTP. */
  async has(apiHost: string): Promise<boolean> {
    if (this.dir === undefined) return false;
    try {
      const [d, f] = await Promise.all([lstat(this.dir), lstat(entryPath(this.dir, apiHost))]);
      return d.isDirectory() && d.uid === this.#uid && (d.mode & 0o022) === 0 && f.isFile() && f.uid === this.#uid;
    } catch {
      return false;
    }
  }

  /** Records that `apiHost` speaks plain HTTP (the directory is created private, 0700). */
  async remember(apiHost: string): Promise<void> {
    if (this.dir === undefined) return;
    try {
      await ensurePrivateDir(this.dir);
      await writeFile(entryPath(this.dir, apiHost), `${apiHost}\n`, { mode: 0o600 });
    } catch {
      /* best-effort: the next run probes https first again */
    }
  }

  /** Forgets `apiHost` (its remembered http ping failed). */
  async forget(apiHost: string): Promise<void> {
    if (this.dir === undefined) return;
    await unlink(entryPath(this.dir, apiHost)).catch(() => {});
  }
}

/** The memory of the running user (plainHttpMemoryDir of the process environment). */
export function defaultPlainHttpMemory(env: NodeJS.ProcessEnv = process.env): PlainHttpMemory {
  return new PlainHttpMemory(plainHttpMemoryDir(env));
}
