// --init (catatonit as PID 1) and -t (a pty from the foreground run, under util-linux `script`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { hasConmon, runToolBundle, rtSync } from './integration-helpers.ts';

const hasCatatonit = ['/usr/libexec/podman/catatonit', '/usr/bin/catatonit'].some((p) => existsSync(p));
const hasScript = existsSync('/usr/bin/script');

/** A POSIX-shell quoted word. */
const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('run-tool --init and -t', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let root = '';
  const rt = (args: string[]) => rtSync(root, args);

  beforeAll(async () => {
    s = await scratchDir('skiff-int-init-');
    root = join(s.dir, 'root');
    await makeBusyboxImage(root, s.dir);
  }, 120_000);

  afterAll(async () => {
    if (root) rt(['rm', '-a', '-f']);
    await s?.cleanup();
  });

  it.skipIf(!hasCatatonit)('--init runs catatonit as PID 1, which passes the exit code and reaps', () => {
    const r = rt(['run', '--rm', '--init', '--network', 'none', 'busybox', 'ps', '-o', 'pid,args']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^PID\s+COMMAND\n\s+1 \/run\/podman-init -- ps -o pid,args\n/);
    expect(rt(['run', '--rm', '--init', '--network', 'none', 'busybox', 'sh', '-c', 'exit 7']).status).toBe(7);
    const d = rt(['run', '-d', '--init', '--network', 'none', '--name', 'ini', 'busybox', 'sleep', '1000']);
    expect(d.status).toBe(0);
    expect(rt(['exec', 'ini', 'cat', '/proc/1/cmdline']).stdout.split('\0')[0]).toBe('/run/podman-init');
    expect(JSON.parse(rt(['inspect', 'ini']).stdout)[0].HostConfig.Init).toBe(true);
    // catatonit forwards the stop signal: sleep dies on SIGTERM at once
    const t0 = Date.now();
    expect(rt(['stop', '-t', '10', 'ini']).status).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(rt(['rm', 'ini']).status).toBe(0);
  });

  it.skipIf(!hasScript)('-t gives the container a terminal (a /dev/pts path) and keeps the exit code', () => {
    const cmd = [process.execPath, runToolBundle, '--root', root, 'run', '-t', '--rm', '--network', 'none', 'busybox'];
    const r = spawnSync('script', ['-qec', [...cmd, 'tty'].map(q).join(' '), '/dev/null'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+\r\n/);
    const e = spawnSync('script', ['-qec', [...cmd, 'sh', '-c', 'test -t 0 && test -t 1 && exit 3'].map(q).join(' '), '/dev/null'], { encoding: 'utf8', timeout: 30_000 });
    expect(e.status).toBe(3);
    // without -t there is no terminal
    const n = rt(['run', '--rm', '--network', 'none', 'busybox', 'tty']);
    expect(n.stdout).toBe('not a tty\n');
    expect(n.status).toBe(1);
  });
});
