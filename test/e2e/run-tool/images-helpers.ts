// Helpers for the run-tool image/volume end-to-end tests: run the built CLI (bin/run-tool.mjs, or the bundle
// SKIFF_RUN_TOOL names) synchronously and check podman-style failures.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';

const repo = resolve(import.meta.dirname, '../../..');

/** The run-tool entry under test. */
export const RUN_TOOL = process.env.SKIFF_RUN_TOOL ?? join(repo, 'bin', 'run-tool.mjs');

/** Runs `run-tool ARGS`; stdout/stderr as text. */
export function rt(args: string[], o: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [RUN_TOOL, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...o.env },
    timeout: o.timeout ?? 60_000,
    maxBuffer: 1 << 28,
    ...(o.input !== undefined ? { input: o.input } : {}),
  });
}

/** Runs `run-tool ARGS` with stdout as bytes (archives). */
export function rtRaw(args: string[], o: { input?: Buffer; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<Buffer> {
  return spawnSync(process.execPath, [RUN_TOOL, ...args], { env: { ...process.env, ...o.env }, timeout: 60_000, maxBuffer: 1 << 30, ...(o.input ? { input: o.input } : {}) });
}

/** Asserts success and returns stdout. */
export function ok(r: SpawnSyncReturns<string>): string {
  if (r.status !== 0) throw new Error(`run-tool failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Asserts a podman-style tool error: exit 125, one `Error: …` line on stderr matching `re`. */
export function fails125(r: SpawnSyncReturns<string>, re: RegExp): void {
  expect(r.status, r.stderr).toBe(125);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines.length, r.stderr).toBe(1);
  expect(lines[0]).toMatch(/^Error: /);
  expect(lines[0]).toMatch(re);
}

/** True when podman is installed. */
export const hasPodman = spawnSync('sh', ['-c', 'command -v podman'], { stdio: 'ignore' }).status === 0;
