// Three stores publishing and unpublishing ports at the same time: netavark edits host-wide iptables chains (made by
// the first container with published ports, deleted with the last), so unserialised calls fail with "Chain already
// exists" or "No chain/target/match by that name". Every netavark call runs under the host's firewall lock.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../shared/network/publish.ts';
import { makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { run } from './commit-cp-helpers.ts';
import { hasPodPrograms } from './pod-helpers.ts';

const bin = join(import.meta.dirname, '../../../bin/run-tool.mjs');
const IMG = 'localhost/busybox:latest';
const pexec = promisify(execFile);

describe.skipIf(!isRoot || !hasPodPrograms)('netavark calls from concurrent stores', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  const roots: string[] = [];

  beforeAll(async () => {
    s = await scratchDir('skiff-fwrace-');
    for (const n of ['a', 'b', 'c']) {
      const root = join(s.dir, n);
      await makeBusyboxImage(root, s.dir);
      roots.push(root);
    }
  }, 120_000);

  afterAll(async () => {
    for (const r of roots) run(bin, r, ['rm', '-af', '-t', '0']);
    await s?.cleanup();
  }, 60_000);

  it('publish + remove cycles in three stores at once all succeed (the host firewall lock serialises netavark)', async () => {
    const cycle = async (root: string): Promise<string[]> => {
      const errors: string[] = [];
      for (let i = 0; i < 6; i++) {
        const port = await freePort('tcp', '127.0.0.1');
        try {
          const { stdout } = await pexec(process.execPath, [bin, '--root', root, 'run', '-d', '-p', `127.0.0.1:${port}:80`, IMG, 'sleep', '30']);
          await pexec(process.execPath, [bin, '--root', root, 'rm', '-f', '-t', '0', stdout.trim()]);
        } catch (e) {
          errors.push(String((e as { stderr?: string }).stderr ?? e).trim());
        }
      }
      return errors;
    };
    const results = await Promise.all(roots.map(cycle));
    expect(results.flat()).toEqual([]);
  }, 180_000);
});
