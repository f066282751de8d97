import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../../..');

/** The built run-tool (npm test builds dist/ first); tests run it with the test's own Node. */
export async function buildRunTool(): Promise<string> {
  return join(repo, 'bin', 'run-tool.mjs');
}

export const hasConmon = existsSync('/usr/bin/conmon');

/** Runs the built run-tool synchronously. */
export function rt(bundle: string, root: string, args: string[], o: { input?: string; timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [bundle, '--root', root, ...args], { encoding: 'utf8', input: o.input ?? '', timeout: o.timeout ?? 60_000 });
}

/** Starts the built run-tool asynchronously (for signal tests). */
export function rtSpawn(bundle: string, root: string, args: string[]) {
  return spawn(process.execPath, [bundle, '--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}
