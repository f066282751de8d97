// Helpers of the run-tool integration tests (networking, volumes, pull policy, health checks, --init, -t).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../../..');

/** The run-tool under test: the built one (npm test builds dist/ first), or $SKIFF_TEST_RUN_TOOL. */
export const runToolBundle = process.env.SKIFF_TEST_RUN_TOOL ?? join(repo, 'bin', 'run-tool.mjs');

export const hasConmon = existsSync('/usr/bin/conmon');

/** Runs run-tool with `--root root` synchronously. */
export function rtSync(root: string, args: string[], o: { input?: string; timeout?: number; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [runToolBundle, '--root', root, ...args], { encoding: 'utf8', input: o.input ?? '', timeout: o.timeout ?? 60_000, ...(o.env && { env: o.env }) });
}

/** A TCP port free on 127.0.0.1 right now. */
export function freeLocalPort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** GET http://127.0.0.1:port/path once; rejects on connection errors. */
export function httpGet(port: number, path = '/', timeout = 2000): Promise<string> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, timeout }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body += c));
      r.on('end', () => res(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

/** httpGet retried while the server comes up. */
export async function httpGetRetry(port: number, path = '/', tries = 40): Promise<string> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await httpGet(port, path);
    } catch (e) {
      last = e;
      await sleep(100);
    }
  }
  throw last;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns true (or the time is up); returns the last value. */
export async function until(fn: () => boolean, ms = 10_000, step = 100): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fn()) return true;
    await sleep(step);
  }
  return fn();
}
