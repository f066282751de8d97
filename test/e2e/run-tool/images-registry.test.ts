// run-tool pull, login and logout against a real registry (Debian's docker-registry on 127.0.0.1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { scratchDir } from '../../helpers/tmp.ts';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { fails125, ok, rt } from './images-helpers.ts';

describe.skipIf(!existsSync(REGISTRY_BIN) || !hasBusybox)('run-tool pull, login, logout', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let auth: TestRegistry;
  let id: string;
  const env = { REGISTRY_AUTH_FILE: '', CONTAINERS_REGISTRIES_CONF: '' };

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir());
    [reg, auth] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd' })]);
    const src = join(dir, 'src');
    id = (await makeBusyboxImage(src, dir, 'localhost/busybox:latest')).id.replace(/^sha256:/, '');
    for (const [r, creds] of [[reg, []], [auth, ['--dest-creds', `${auth.user}:${auth.password}`]]] as const) {
      const c = spawnSync('skopeo', ['copy', '--dest-tls-verify=false', ...creds, `oci:${src}/images:localhost/busybox:latest`, `docker://${r.host}/lib/busybox:1`], { encoding: 'utf8' });
      expect(c.status, c.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    await Promise.all([reg?.stop(), auth?.stop()]);
    await cleanup();
  });

  it('pull prints progress on stderr and the image ID on stdout; images lists the registry name', () => {
    const root = join(dir, 'pull1');
    const r = rt(['--root', root, 'pull', '--tls-verify=false', `${reg.host}/lib/busybox:1`], { env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${id}\n`);
    expect(r.stderr).toContain(`Trying to pull ${reg.host}/lib/busybox:1...`);
    expect(r.stderr).toMatch(/Copying blob sha256:[a-f0-9]{64}/);
    expect(r.stderr).toContain('Writing manifest to image destination');
    expect(ok(rt(['--root', root, 'images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']))).toBe(`${reg.host}/lib/busybox:1 ${id.slice(0, 12)}\n`);
    // a second pull finds everything stored and prints the same ID; -q silences stderr; docker:// prefix accepted
    const q = rt(['--root', root, 'pull', '-q', '--tls-verify=false', `docker://${reg.host}/lib/busybox:1`], { env });
    expect(q.stderr).toBe('');
    expect(q.stdout).toBe(`${id}\n`);
  });

  it('pull notes every layer\'s uncompressed size as it streams in, so `images` decompresses nothing; the size is podman\'s', () => {
    const root = join(dir, 'pull-sizes');
    ok(rt(['--root', root, 'pull', '-q', '--tls-verify=false', `${reg.host}/lib/busybox:1`], { env }));
    // right after the pull, before any listing: one note per compressed layer, holding its tar's length
    const index = JSON.parse(readFileSync(join(root, 'images', 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const blob = (d: string) => join(root, 'images', 'blobs', 'sha256', d.slice(7));
    const m = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), 'utf8')) as { layers: { digest: string; mediaType: string }[] };
    expect(m.layers.length).toBeGreaterThan(0);
    for (const l of m.layers) {
      expect(l.mediaType).toMatch(/gzip$/);
      const note = Number(readFileSync(join(root, 'cache', 'layer-sizes', l.digest.slice(7)), 'utf8'));
      expect(note).toBe(gunzipSync(readFileSync(blob(l.digest))).length);
    }
    const size = ok(rt(['--root', root, 'image', 'inspect', '--format', '{{.Size}}', `${reg.host}/lib/busybox:1`])).trim();
    if (!existsSync('/usr/bin/podman') || process.getuid?.() !== 0) return;
    const pa = ['--root', join(dir, 'podman-root'), '--runroot', join(dir, 'podman-run'), '--tmpdir', join(dir, 'podman-tmp'), '--storage-driver', 'vfs'];
    const p = spawnSync('podman', [...pa, 'pull', '-q', '--tls-verify=false', `${reg.host}/lib/busybox:1`], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
    expect(p.status, p.stderr).toBe(0);
    const ps = spawnSync('podman', [...pa, 'image', 'inspect', '--format', '{{.Size}}', `${reg.host}/lib/busybox:1`], { encoding: 'utf8', timeout: 60_000 });
    spawnSync('podman', [...pa, 'rmi', '-af'], { timeout: 60_000 });
    expect(ps.status, ps.stderr).toBe(0);
    expect(size).toBe(ps.stdout.trim());
  });

  it('pull --all-tags pulls every tag of the repository', () => {
    const c = spawnSync('skopeo', ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${reg.host}/lib/busybox:1`, `docker://${reg.host}/lib/busybox:2`], { encoding: 'utf8' });
    expect(c.status, c.stderr).toBe(0);
    const root = join(dir, 'pull-all');
    const r = rt(['--root', root, 'pull', '-q', '--all-tags', '--tls-verify=false', `${reg.host}/lib/busybox`], { env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${id}\n${id}\n`);
    expect(ok(rt(['--root', root, 'images', '--format', '{{.Tag}}'])).split('\n').filter(Boolean).sort()).toEqual(['1', '2']);
  });

  it('pull errors exit 125 with one line: unknown image, TLS to a plain-HTTP registry, bad platform, bad name', () => {
    const root = join(dir, 'pull-err');
    fails125(rt(['--root', root, 'pull', '-q', '--tls-verify=false', `${reg.host}/lib/nosuch:1`], { env }), /nosuch:1 not found/);
    fails125(rt(['--root', root, 'pull', '-q', `${reg.host}/lib/busybox:1`], { env }), /./);
    fails125(rt(['--root', root, 'pull', '--platform', 'bad', `${reg.host}/lib/busybox:1`], { env }), /invalid platform/);
    fails125(rt(['--root', root, 'pull', 'UPPER/Case'], { env }), /invalid/);
    fails125(rt(['--root', root, 'pull', '--tls-verify=false', '-q', `${auth.host}/lib/busybox:1`], { env }), /./);
  });

  it('login verifies and writes a 0600 auth file that pull uses; --get-login; logout removes it; a bad password writes nothing', () => {
    const authfile = join(dir, 'auth', 'auth.json');
    fails125(rt(['login', '--tls-verify=false', '-u', auth.user, '-p', 'wrong', '--authfile', authfile, auth.host], { env }), /invalid username\/password/);
    expect(existsSync(authfile)).toBe(false);
    const r = rt(['login', '--tls-verify=false', '-u', auth.user, '--password-stdin', '--authfile', authfile, auth.host], { env, input: `${auth.password}\n` });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('Login Succeeded!\n');
    expect(statSync(authfile).mode & 0o777).toBe(0o600);
    expect(ok(rt(['login', '--get-login', '--authfile', authfile, auth.host], { env }))).toBe(`${auth.user}\n`);
    const root = join(dir, 'pull-auth');
    const p = rt(['--root', root, 'pull', '-q', '--tls-verify=false', '--authfile', authfile, `${auth.host}/lib/busybox:1`], { env });
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toBe(`${id}\n`);
    expect(ok(rt(['logout', '--authfile', authfile, auth.host], { env }))).toBe(`Removed login credentials for ${auth.host}\n`);
    expect(JSON.parse(readFileSync(authfile, 'utf8')).auths).toEqual({});
    fails125(rt(['logout', '--authfile', authfile, auth.host], { env }), /not logged into/);
    fails125(rt(['login', '--get-login', '--authfile', authfile, auth.host], { env }), /not logged into/);
    // --creds works without a login
    const c = rt(['--root', join(dir, 'pull-creds'), 'pull', '-q', '--tls-verify=false', '--creds', `${auth.user}:${auth.password}`, `${auth.host}/lib/busybox:1`], { env });
    expect(c.status, c.stderr).toBe(0);
  });
});
