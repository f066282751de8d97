// run-tool volume create/ls/inspect/rm/prune, the run -v NAME:/path hook, info, system prune.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir, isRoot } from '../../helpers/tmp.ts';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { resolveVolumeMount, volumePaths } from '../../../run-tool/containers/volumes.ts';
import { fails125, ok, rt } from './images-helpers.ts';

describe('run-tool volumes', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let root: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir());
    root = join(dir, 'root');
  });
  afterAll(() => cleanup());

  it('create, ls (podman columns, -q, --format, --filter), inspect (podman JSON), rm', () => {
    expect(ok(rt(['--root', root, 'volume', 'create', '--label', 'a=b', 'myvol']))).toBe('myvol\n');
    expect(ok(rt(['--root', root, 'volume', 'create', 'other']))).toBe('other\n');
    fails125(rt(['--root', root, 'volume', 'create', 'myvol']), /volume with name myvol already exists/);
    expect(rt(['--root', root, 'volume', 'create', '--ignore', 'myvol']).status).toBe(0);
    expect(ok(rt(['--root', root, 'volume', 'ls']))).toBe('DRIVER      VOLUME NAME\nlocal       myvol\nlocal       other\n');
    expect(ok(rt(['--root', root, 'volume', 'ls', '-q', '--filter', 'label=a=b']))).toBe('myvol\n');
    expect(ok(rt(['--root', root, 'volume', 'ls', '--format', '{{.Name}} {{.Driver}}']))).toBe('myvol local\nother local\n');
    const [v] = JSON.parse(ok(rt(['--root', root, 'volume', 'inspect', 'myvol']))) as Record<string, unknown>[];
    expect(Object.keys(v!)).toEqual(['Name', 'Driver', 'Mountpoint', 'CreatedAt', 'Labels', 'Scope', 'Options', 'MountCount', 'NeedsCopyUp', 'NeedsChown']);
    expect(v).toMatchObject({ Name: 'myvol', Driver: 'local', Mountpoint: join(root, 'volumes', 'myvol', '_data'), Labels: { a: 'b' }, Scope: 'local', Options: {} });
    expect(statSync(join(root, 'volumes')).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, 'volumes', 'myvol', '_data')).isDirectory()).toBe(true);
    expect(ok(rt(['--root', root, 'volume', 'inspect', '--format', '{{.Mountpoint}}', 'other']))).toBe(`${join(root, 'volumes', 'other', '_data')}\n`);
    expect(ok(rt(['--root', root, 'volume', 'rm', 'other']))).toBe('other\n');
    fails125(rt(['--root', root, 'volume', 'rm', 'other']), /no volume with name "other" found/);
    fails125(rt(['--root', root, 'volume', 'inspect', 'nosuch']), /no volume with name "nosuch" found/);
  });

  it('names are validated and never used raw in paths', () => {
    for (const bad of ['a/../../x', '../x', '.hidden', 'x/', '_x', 'a'.repeat(300), 'a b']) {
      fails125(rt(['--root', root, 'volume', 'create', bad]), /names must match/);
    }
    expect(() => volumePaths(root, '..')).toThrow(/names must match/);
    expect(existsSync(join(dir, 'x'))).toBe(false);
    fails125(rt(['--root', root, 'volume', 'create', '-o', 'type=nfs', 'nfsvol']), /not supported/);
  });

  it('prune -f removes unused volumes (label filter), leaves others', () => {
    ok(rt(['--root', root, 'volume', 'create', '--label', 'keep=no', 'p1']));
    ok(rt(['--root', root, 'volume', 'create', 'p2']));
    expect(ok(rt(['--root', root, 'volume', 'prune', '-f', '--filter', 'label=keep=no']))).toBe('p1\n');
    expect(ok(rt(['--root', root, 'volume', 'ls', '-q'])).split('\n').filter(Boolean)).toEqual(['myvol', 'p2']);
    expect(rt(['--root', root, 'volume', 'prune'], { input: 'n\n' }).stdout).toBe('');
    expect(ok(rt(['--root', root, 'volume', 'prune', '-f'])).split('\n').filter(Boolean).sort()).toEqual(['myvol', 'p2']);
  });

  it.skipIf(!isRoot)('resolveVolumeMount creates on first use, copies image content up once (links stay in the rootfs), :U chowns, :z/:Z accepted', async () => {
    const rootfs = join(dir, 'rootfs');
    mkdirSync(join(rootfs, 'data', 'sub'), { recursive: true });
    writeFileSync(join(rootfs, 'data', 'sub', 'f'), 'from image');
    symlinkSync('/etc/passwd', join(rootfs, 'data', 'link'));
    // /srv is a link to /data inside the image: resolved in the rootfs, never on the host
    symlinkSync('/data', join(rootfs, 'srv'));
    const r = await resolveVolumeMount(root, 'hookvol:/srv:U,z', { rootfs, user: { uid: 1234, gid: 4321 } });
    expect(r.volume).toEqual({ name: 'hookvol', destination: '/srv', options: ['U', 'z'] });
    expect(r.mount).toMatchObject({ type: 'bind', source: join(root, 'volumes', 'hookvol', '_data'), destination: '/srv' });
    const data = r.mount.source!;
    expect(readFileSync(join(data, 'sub', 'f'), 'utf8')).toBe('from image');
    expect(statSync(join(data, 'sub', 'f')).uid).toBe(1234);
    expect(statSync(data).gid).toBe(4321);
    expect(readdirSync(data).sort()).toEqual(['link', 'sub']);
    // second mount: no copy-up again
    writeFileSync(join(rootfs, 'data', 'later'), 'x');
    const again = await resolveVolumeMount(root, 'hookvol:/srv:ro,Z', { rootfs });
    expect(again.mount.options).toContain('ro');
    expect(existsSync(join(data, 'later'))).toBe(false);
    await expect(resolveVolumeMount(root, 'hookvol:relative', { rootfs })).rejects.toThrow(/absolute/);
    await expect(resolveVolumeMount(root, 'bad/name:/x', { rootfs })).rejects.toThrow(/names must match/);
  });
});

describe.skipIf(!hasBusybox)('run-tool info and system prune', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let root: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir());
    root = join(dir, 'root');
    await makeBusyboxImage(root, dir, 'localhost/bb:latest');
  });
  afterAll(() => cleanup());

  it('info prints host, runtime, store counts and the rootless doctor', () => {
    const j = JSON.parse(ok(rt(['--root', root, 'info', '--format', 'json']))) as Record<string, Record<string, unknown>>;
    expect(j.host).toMatchObject({ os: 'linux', arch: 'amd64', rootless: !isRoot });
    expect((j.host!.ociRuntime as { name: string; version: string }).version).toMatch(/^runc version /);
    expect(j.store).toMatchObject({ graphRoot: root, imageStore: { number: 1 }, containerStore: { number: 0 } });
    expect(Array.isArray((j.doctor as { checks: unknown[] }).checks)).toBe(true);
    expect(ok(rt(['--root', root, 'info', '--format', '{{.Host.Kernel}}'])).trim()).toMatch(/^\d+\.\d+/);
    expect(ok(rt(['--root', root, 'info']))).toMatch(/^host:\n {2}arch: amd64\n/);
  });

  it('system prune -f removes dangling images; -a removes unused ones; --volumes unused volumes; then gc', () => {
    ok(rt(['--root', root, 'tag', 'bb', 'keep']));
    ok(rt(['--root', root, 'untag', 'keep', 'bb']));
    // still named "keep": not dangling
    expect(ok(rt(['--root', root, 'system', 'prune', '-f']))).toBe('Total reclaimed space: 0 B\n');
    ok(rt(['--root', root, 'volume', 'create', 'unused']));
    const r = ok(rt(['--root', root, 'prune', '-a', '-f', '--volumes']));
    expect(r).toMatch(/^Deleted Volumes\nunused\nDeleted Images\n[a-f0-9]{64}\nTotal reclaimed space: [\d.]+ [kM]B\n$/);
    expect(ok(rt(['--root', root, 'images', '-q']))).toBe('');
    expect(readdirSync(join(root, 'images', 'blobs', 'sha256'))).toEqual([]);
  });
});
