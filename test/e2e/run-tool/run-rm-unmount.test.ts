// `run --rm`: runc unmounts the container's rootfs itself (a poststop hook) as it destroys the container, so the
// CLI's cleanup starts no `umount` of its own; the container still ends unmounted and removed with its exit code.
// A `run` without --rm gets no such hook (its rootfs stays for `mount`, `cp` and `commit` until its cleanup).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { ok, rt } from './images-helpers.ts';
import { asUser, canRunRootless, makeUser, removeUser, repo, type TestUser } from './rootless-helpers.ts';

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

describe.skipIf(!canRunRootless)('rootless run --rm unmounts through runc', () => {
  let scratch: { dir: string; cleanup: () => Promise<void> } | undefined;
  let u: TestUser | undefined;

  beforeAll(async () => {
    scratch = await scratchDir('skiff-rm-unmount-rl-');
    chmodSync(scratch.dir, 0o755);
    const rootfs = join(scratch.dir, 'rootfs');
    execFileSync('bash', [join(repo, 'scripts/make-busybox-rootfs.sh'), rootfs]);
    const tarball = join(scratch.dir, 'busybox.tar');
    execFileSync('tar', ['--numeric-owner', '-C', rootfs, '-cf', tarball, '.']);
    chmodSync(tarball, 0o644);
    u = makeUser(`skiff-rmu-${randomBytes(3).toString('hex')}`, true);
    const r = asUser(u, ['import', tarball, 'busybox']);
    if (r.status !== 0) throw new Error(`import failed: ${r.stderr}`);
  }, 120_000);
  afterAll(async () => {
    if (u) removeUser(u);
    await scratch?.cleanup();
  }, 60_000);

  it('in the user namespace too, the hook unmounts the rootfs and the CLI runs no umount', () => {
    const shim = join(scratch!.dir, 'shim');
    mkdirSync(shim);
    const rlog = join(scratch!.dir, 'umount.log');
    writeFileSync(rlog, '');
    chmodSync(rlog, 0o666);
    chmodSync(shim, 0o755);
    const real = ['/usr/bin/umount', '/bin/umount'].find((p) => existsSync(p))!;
    writeFileSync(join(shim, 'umount'), `#!/bin/sh\necho "$(cat /proc/$PPID/comm) $*" >> ${rlog}\nexec ${real} "$@"\n`);
    chmodSync(join(shim, 'umount'), 0o755);
    const r = asUser(u!, ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo rl; exit 4'], { env: { PATH: `${shim}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`, SKIFF_UMOUNT: join(shim, 'umount') } });
    expect(r.stdout).toBe('rl\n');
    expect(r.status, r.stderr).toBe(4);
    const callers = readFileSync(rlog, 'utf8').trim().split('\n').filter(Boolean).map((l) => (l.startsWith('sh ') ? 'hook' : 'cli'));
    expect(callers).toEqual(['hook']);
    expect(asUser(u!, ['ps', '-aq']).stdout).toBe('');
  });
});
