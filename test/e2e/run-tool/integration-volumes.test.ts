// Named volumes in run/create: -v NAME:/path[:opts], --mount type=volume, image Volumes as anonymous volumes
// (RU-06 confinement), rm -v / --rm removing anonymous ones, volume rm refusing volumes in use; -P from ExposedPorts.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../../shared/store/store.ts';
import { importTarball } from '../../../shared/transport/tarball.ts';
import { busyboxTarball, hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { hasConmon, rtSync } from './integration-helpers.ts';

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('run-tool named volumes', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let root = '';
  const rt = (args: string[], o: { input?: string } = {}) => rtSync(root, args, o);
  const volumes = () => rt(['volume', 'ls', '-q']).stdout.split('\n').filter(Boolean).sort();

  beforeAll(async () => {
    s = await scratchDir('skiff-int-vol-');
    root = join(s.dir, 'root');
    await makeBusyboxImage(root, s.dir);
    const store = await openStore(root);
    try {
      await importTarball(store, busyboxTarball(s.dir), {
        name: 'localhost/volimg:latest',
        config: { Volumes: { '/data': {}, '../../../../etc/skiff-int-ru06': {} }, ExposedPorts: { '80/tcp': {} }, Cmd: ['sh', '-c', 'ls -d /etc/skiff-int-ru06 && ls /data'] },
      });
    } finally {
      await store.close();
    }
  }, 120_000);

  afterAll(async () => {
    if (root) rt(['rm', '-a', '-f', '-v']);
    await s?.cleanup();
  });

  it('-v NAME:/path creates the volume, copies the image content up, keeps data across containers; :ro and --mount type=volume', () => {
    const a = rt(['run', '--rm', '--network', 'none', '-v', 'cfg:/etc/network', 'busybox', 'sh', '-c', 'ls /etc/network; echo kept > /etc/network/mine']);
    expect(a.stderr).toBe('');
    expect(a.status).toBe(0);
    expect(volumes()).toEqual(['cfg']);
    const data = JSON.parse(rt(['volume', 'inspect', 'cfg']).stdout)[0].Mountpoint as string;
    expect(readFileSync(join(data, 'mine'), 'utf8')).toBe('kept\n');
    const b = rt(['run', '--rm', '--network', 'none', '--mount', 'type=volume,src=cfg,dst=/v,ro', 'busybox', 'sh', '-c', 'cat /v/mine; touch /v/x']);
    expect(b.stdout).toBe('kept\n');
    expect(b.stderr).toMatch(/Read-only file system/);
    expect(b.status).toBe(1);
    const c = rt(['run', '--rm', '--network', 'none', '-v', 'cfg:/v:ro,z', 'busybox', 'cat', '/v/mine']);
    expect(c.stdout).toBe('kept\n');
    // named volumes survive --rm
    expect(volumes()).toEqual(['cfg']);
  });

  it(':U chowns the volume to the container user', () => {
    const r = rt(['run', '--rm', '--network', 'none', '-u', '1000:1000', '-v', 'owned:/o:U', 'busybox', 'sh', '-c', 'stat -c %u:%g /o; echo ok > /o/f && cat /o/f']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1000:1000\nok\n');
  });

  it('volume rm refuses a volume in use; inspect shows Type volume', () => {
    const d = rt(['run', '-d', '--network', 'none', '-v', 'busy:/b', 'busybox', 'sleep', '1000']);
    expect(d.status).toBe(0);
    const id = d.stdout.trim();
    const m = JSON.parse(rt(['inspect', id]).stdout)[0].Mounts.find((x: { Destination: string }) => x.Destination === '/b');
    expect(m).toMatchObject({ Type: 'volume', Name: 'busy', Driver: 'local', RW: true });
    const r = rt(['volume', 'rm', 'busy']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/volume busy is being used by the following container\(s\): [0-9a-f]{64}/);
    expect(volumes()).toContain('busy');
    expect(rt(['rm', '-f', id]).status).toBe(0);
    expect(rt(['volume', 'rm', 'busy']).status).toBe(0);
    expect(volumes()).not.toContain('busy');
  });

  it('RU-06 image Volumes become anonymous volumes in the volume store (confined); rm -v and --rm remove them', () => {
    const before = volumes();
    const c = rt(['create', '--network', 'none', 'volimg']);
    expect(c.stderr).toBe('');
    const id = c.stdout.trim();
    const anon = volumes().filter((v) => !before.includes(v));
    expect(anon).toHaveLength(2);
    for (const v of anon) expect(v).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync('/etc/skiff-int-ru06')).toBe(false);
    expect(rt(['start', id]).status).toBe(0);
    expect(rt(['wait', id]).stdout.trim()).toBe('0');
    expect(rt(['logs', id]).stdout).toBe('/etc/skiff-int-ru06\n');
    const mounts = JSON.parse(rt(['inspect', id]).stdout)[0].Mounts as { Type: string; Destination: string; Source: string }[];
    expect(mounts.map((m) => m.Destination).sort()).toEqual(['/data', '/etc/skiff-int-ru06']);
    for (const m of mounts) {
      expect(m.Type).toBe('volume');
      expect(m.Source.startsWith(join(root, 'volumes'))).toBe(true);
    }
    expect(existsSync('/etc/skiff-int-ru06')).toBe(false);
    // rm without -v keeps them, rm -v removes them
    const c2 = rt(['create', '--network', 'none', 'volimg']).stdout.trim();
    const anon2 = volumes().filter((v) => !before.includes(v) && !anon.includes(v));
    expect(anon2).toHaveLength(2);
    expect(rt(['rm', c2]).status).toBe(0);
    expect(volumes()).toEqual(expect.arrayContaining(anon2));
    expect(rt(['rm', '-v', id]).status).toBe(0);
    expect(volumes().filter((v) => anon.includes(v))).toEqual([]);
    for (const v of anon2) rt(['volume', 'rm', v]);
    // --rm removes anonymous volumes too; a -v volume over an image Volume replaces it
    const r = rt(['run', '--rm', '--network', 'none', '-v', 'mine:/data', 'volimg']);
    expect(r.status).toBe(0);
    expect(volumes().filter((v) => /^[0-9a-f]{64}$/.test(v))).toEqual([]);
    expect(volumes()).toContain('mine');
    expect(readdirSync(join(root, 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n))).toEqual([]);
  });
});
