import { spawn } from 'node:child_process';
import { accessSync, constants as C } from 'node:fs';
import { join } from 'node:path';
import { SkiffError } from '../../../shared/errors.ts';

const HELPER_DIRS = ['/usr/local/libexec/podman', '/usr/local/lib/podman', '/usr/libexec/podman', '/usr/lib/podman'];

/**
 * Finds a network helper program: `$SKIFF_<NAME>` (e.g. SKIFF_NETAVARK) wins, then podman's helper dirs
 * (Debian puts netavark and aardvark-dns in /usr/lib/podman), then PATH. ENODEP naming the Debian package otherwise.
 */
export function findHelper(name: 'netavark' | 'aardvark-dns' | 'pasta' | 'ip', env: NodeJS.ProcessEnv = process.env): string {
  const override = env[`SKIFF_${name.toUpperCase().replace(/-/g, '_')}`];
  const candidates = [...(override ? [override] : []), ...HELPER_DIRS.map((d) => join(d, name)), ...(env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').filter(Boolean).map((d) => join(d, name)), `/usr/sbin/${name}`, `/sbin/${name}`];
  for (const c of candidates) {
    try {
      accessSync(c, C.X_OK);
      return c;
    } catch {
      // next
    }
  }
  const pkg = { netavark: 'netavark', 'aardvark-dns': 'aardvark-dns', pasta: 'passt', ip: 'iproute2' }[name];
  throw new SkiffError('ENODEP', `${name} not found`, { hint: `install the ${pkg} package (apt-get install ${pkg})` });
}

/** Output of a finished helper. */
export interface HelperResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `file args`, feeding `input` on stdin, collecting output. Never throws for a non-zero exit. */
export function runHelper(file: string, args: readonly string[], o: { input?: string; signal?: AbortSignal } = {}): Promise<HelperResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(o.signal && { signal: o.signal }) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).name === 'AbortError') reject(new SkiffError('EABORT', `${file} cancelled`));
      else reject(new SkiffError('ENODEP', `cannot run ${file}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, sig) => resolve({ code: code ?? 128 + (sig ? 9 : 0), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.on('error', () => {});
    child.stdin.end(o.input ?? '');
  });
}
