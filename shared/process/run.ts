import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { SkiffError, throwIfAborted } from '../errors.ts';
import { notInstalled } from './system-programs.ts';

/** What a finished program left: its exit code (128+signal when killed) and its collected output. */
export interface ProgramResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How runProgram runs a program. */
export interface RunOptions {
  /** written to its stdin, which is then closed (a stream: piped in as it comes, closed at its end); without it stdin is /dev/null */
  input?: string | Readable;
  /** on abort the program is killed (SIGTERM) and the promise rejects with EABORT */
  signal?: AbortSignal;
  /** passed to the program as its descriptors 3, 4, … (e.g. a directory it names as `/proc/self/fd/3/<name>`) */
  fds?: readonly number[];
  /** the whole stdio instead of `[stdin, 'pipe', 'pipe', ...fds]`; output is collected where it is 'pipe' */
  stdio?: StdioOptions;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** each complete stderr line as it arrives (without its newline), e.g. to relay progress; still collected too */
  onStderrLine?: (line: string) => void;
}

/** The shell convention for how a child ended: its code, else 128 + the number of the signal that killed it. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? (osConstants.signals as Record<string, number>)[signal] : undefined;
  return 128 + (n ?? 0);
}

/**
 * The error a failed spawn becomes: a missing program is notInstalled's ENODEP (named by its file name), an
 * aborted one EABORT, anything else EIO naming the program.
 */
export function spawnError(cmd: string, e: Error): SkiffError {
  if ((e as NodeJS.ErrnoException).code === 'ENOENT') return notInstalled(basename(cmd));
  if (e.name === 'AbortError') return new SkiffError('EABORT', `${cmd} cancelled`, { cause: e });
  if (e instanceof SkiffError) return e;
  return new SkiffError('EIO', `cannot run ${cmd}: ${e.message}`, { cause: e });
}

/**
 * Runs a program (no shell; arguments passed verbatim) and collects its output. Node's spawn marks every other
 * descriptor it owns close-on-exec, so the program gets only its stdio and `fds` (RU-02). Resolves with the exit
 * status — a non-zero exit is not an error; rejects only when it cannot run (spawnError) or is cancelled.
 */
export function runProgram(cmd: string, args: readonly string[], o: RunOptions = {}): Promise<ProgramResult> {
  throwIfAborted(o.signal);
  return new Promise((resolve, reject) => {
    const stdio: StdioOptions = o.stdio ?? [o.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe', ...(o.fds ?? [])];
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { stdio, signal: o.signal, ...(o.cwd && { cwd: o.cwd }), env: o.env });
    } catch (e) {
      reject(spawnError(cmd, e as Error));
      return;
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    let partial = '';
    child.stderr?.on('data', (b: Buffer) => {
      err.push(b);
      if (!o.onStderrLine) return;
      const lines = (partial + b.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const l of lines) o.onStderrLine(l);
    });
    if (o.input !== undefined && child.stdin) {
      child.stdin.on('error', () => {});
      if (typeof o.input === 'string') child.stdin.end(o.input);
      else o.input.pipe(child.stdin);
    }
    child.on('error', (e) => reject(spawnError(cmd, e)));
    child.on('close', (code, sig) => {
      if (partial !== '') o.onStderrLine?.(partial);
      resolve({ code: exitStatus(code, sig), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}
