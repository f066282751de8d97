// The poststop hook of a --rm container: runc runs it as it destroys the container; it unmounts the rootfs (lazily
// when a plain unmount fails) and never fails, so runc prints no hook error after the container's output.
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rootfsUnmountHook } from '../../../run-tool/containers/rootfs-mount.ts';
import { scratchDir } from '../../helpers/tmp.ts';

let dir = '';
let done: (() => Promise<void>) | undefined;

/** A fake umount that logs its arguments and exits with `code` when they do not include -l. */
function fakeUmount(code: number): { path: string; log: string } {
  const log = join(dir, `log-${code}`);
  const path = join(dir, `umount-${code}`);
  writeFileSync(path, `#!/bin/sh\necho "$*" >> ${log}\ncase "$1" in -l) exit 0 ;; esac\necho busy >&2\nexit ${code}\n`);
  chmodSync(path, 0o755);
  return { path, log };
}

/** Runs the hook as runc would: its path with its args (args[0] is argv[0]), the state JSON on stdin. */
function runHook(h: { path: string; args: string[] }): { status: number | null; stderr: string } {
  const r = spawnSync(h.path, h.args.slice(1), { argv0: h.args[0], input: '{"id":"x","status":"stopped"}', encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe('rootfsUnmountHook', () => {
  beforeAll(async () => {
    const sd = await scratchDir('skiff-unmount-hook-');
    dir = sd.dir;
    done = sd.cleanup;
  });
  afterAll(async () => done?.());

  it('is run by /bin/sh and unmounts the rootfs it names', () => {
    const u = fakeUmount(0);
    const h = rootfsUnmountHook('/store/containers/c1/rootfs', u.path);
    expect(h.path).toBe('/bin/sh');
    expect(h.timeout).toBeGreaterThan(0);
    expect(runHook(h)).toEqual({ status: 0, stderr: '' });
    expect(readFileSync(u.log, 'utf8')).toBe('-- /store/containers/c1/rootfs\n');
  });

  it('falls back to a lazy unmount, and exits 0 and silent even when both fail', () => {
    const busy = fakeUmount(32);
    expect(runHook(rootfsUnmountHook('/r/rootfs', busy.path))).toEqual({ status: 0, stderr: '' });
    expect(readFileSync(busy.log, 'utf8')).toBe('-- /r/rootfs\n-l -- /r/rootfs\n');
    expect(runHook(rootfsUnmountHook('/r/rootfs', join(dir, 'no-such-umount')))).toEqual({ status: 0, stderr: '' });
  });

  it('passes a rootfs path with spaces or a leading dash as one operand', () => {
    const u = fakeUmount(0);
    runHook(rootfsUnmountHook('-x/a b', u.path));
    expect(readFileSync(u.log, 'utf8').trim().split('\n').pop()).toBe('-- -x/a b');
  });
});
