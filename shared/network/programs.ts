import { spawn } from 'node:child_process';
import { SkiffError } from '../errors.ts';
import { requireProgram } from '../process/system-programs.ts';

/** Finds a network helper program (`$SKIFF_<NAME>`, podman's helper dirs, PATH); ENODEP naming the Debian package. */
export function findHelper(name: 'netavark' | 'aardvark-dns' | 'pasta' | 'ip', env: NodeJS.ProcessEnv = process.env): string {
  return requireProgram(name, env);
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
