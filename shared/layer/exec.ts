import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import { SkiffError, throwIfAborted } from '../errors.ts';
import { notInstalled } from '../process/system-programs.ts';

/**
 * Runs a system program (no shell; arguments passed verbatim) and collects its output. Resolves with the
 * exit code; a missing program is ENODEP, an aborted signal kills it and rejects with EABORT. `fds` are
 * passed to the program as its descriptors 3, 4, … (e.g. a directory it names as `/proc/self/fd/3/<name>`).
 */
export function runProgram(cmd: string, args: string[], signal?: AbortSignal, opts: { cwd?: string; fds?: readonly number[] } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  throwIfAborted(signal);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe', ...(opts.fds ?? [])], ...(signal && { signal }), ...(opts.cwd && { cwd: opts.cwd }) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') reject(notInstalled(basename(cmd)));
      else if ((e as Error).name === 'AbortError') reject(new SkiffError('EABORT', `${cmd} cancelled`));
      else reject(e);
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}
