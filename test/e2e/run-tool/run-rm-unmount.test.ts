// `run --rm`: runc unmounts the container's rootfs itself (a poststop hook) as it destroys the container, so the
// CLI's cleanup starts no `umount` of its own; the container still ends unmounted and removed with its exit code.
// A `run` without --rm gets no such hook (its rootfs stays for `mount`, `cp` and `commit` until its cleanup).
import { chmodSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { ok, rt } from './images-helpers.ts';

let root = '';
let log = '';
let env: NodeJS.ProcessEnv = {};
let done: (() => Promise<void>) | undefined;

/** Who ran the logged umount calls: `hook` (a child of the hook's sh) or `cli` (anything else). */
function umountCallers(): string[] {
  return existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => (l.startsWith('sh ') ? 'hook' : 'cli')) : [];
}

describe.skipIf(!isRoot || !hasBusybox)('run --rm unmounts through runc', () => {
  beforeAll(async () => {
    const sd = await scratchDir('skiff-rm-unmount-');
    done = sd.cleanup;
    root = join(sd.dir, 'root');
    await makeBusyboxImage(root, sd.dir);
    // a umount that logs its caller's name, then does the real work: found first on PATH (the CLI) and named by
    // SKIFF_UMOUNT (the hook, which locates it when the container is created)
    const shim = join(sd.dir, 'shim');
    mkdirSync(shim);
    log = join(sd.dir, 'umount.log');
    const real = ['/usr/bin/umount', '/bin/umount'].find((p) => existsSync(p))!;
    writeFileSync(join(shim, 'umount'), `#!/bin/sh\necho "$(cat /proc/$PPID/comm) $*" >> ${log}\nexec ${real} "$@"\n`);
    chmodSync(join(shim, 'umount'), 0o755);
    env = { PATH: `${shim}:${process.env.PATH}`, SKIFF_UMOUNT: join(shim, 'umount') };
  }, 120_000);
  afterAll(async () => done?.());

  it('the hook is the only umount of a run --rm; the exit code comes through and nothing is left', () => {
    const r = rt(['--root', root, 'run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo hi; exit 7'], { env });
    expect(r.stdout).toBe('hi\n');
    expect(r.status, r.stderr).toBe(7);
    expect(r.stderr).toBe('');
    expect(umountCallers()).toEqual(['hook']);
    expect(readFileSync(log, 'utf8')).toMatch(/ -- \S+\/containers\/[0-9a-f]{64}\/rootfs\n$/);
    expect(ok(rt(['--root', root, 'ps', '-aq']))).toBe('');
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(root);
  });

  it('a container without --rm has no poststop hook and is unmounted by its cleanup as before', () => {
    const id = ok(rt(['--root', root, 'create', '--network', 'none', 'busybox', 'true'], { env })).trim();
    const spec = JSON.parse(readFileSync(join(root, 'containers', id, 'bundle', 'config.json'), 'utf8')) as { hooks?: Record<string, unknown> };
    expect(spec.hooks?.poststop).toBeUndefined();
    writeFileSync(log, ''); // create unmounted what it had mounted: only the run's own unmount counts
    ok(rt(['--root', root, 'start', '-a', id], { env }));
    expect(umountCallers()).toEqual(['cli']);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(join(root, 'containers', id));
    ok(rt(['--root', root, 'rm', id]));
  });
});
