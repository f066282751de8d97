import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../../..');

/** The built run-tool (npm test builds dist/ first); `dir` is unused and kept for the callers' shape. */
export async function buildCommitCpTool(_dir: string): Promise<string> {
  return join(repo, 'bin', 'run-tool.mjs');
}

/** Runs the bundle synchronously with `--root root`. */
export function run(bundle: string, root: string, args: string[], o: { input?: string | Buffer; timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [bundle, '--root', root, ...args], { encoding: 'utf8', input: o.input ?? '', timeout: o.timeout ?? 60_000, maxBuffer: 64 << 20 });
}

/** Like run, but fails the test (throws with stderr) on a non-zero exit; returns stdout. */
export function ok(bundle: string, root: string, args: string[], o: { input?: string | Buffer; timeout?: number } = {}): string {
  const r = run(bundle, root, args, o);
  if (r.status !== 0) throw new Error(`run-tool ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}
