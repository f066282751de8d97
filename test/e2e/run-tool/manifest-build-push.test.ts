// run-tool build/push (the library build-tool uses) and `manifest` for run-tool and build-tool against a real
// registry (Debian's docker-registry on 127.0.0.1), checked with skopeo and podman 4.3.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { scratchDir } from '../../helpers/tmp.ts';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { fails125, hasPodman, ok, rt } from './images-helpers.ts';

const BUILD_TOOL = join(resolve(import.meta.dirname, '../../..'), 'bin', 'build-tool.mjs');
const bt = (args: string[]) => spawnSync(process.execPath, [BUILD_TOOL, ...args], { encoding: 'utf8', timeout: 120_000 });
const skopeo = (args: string[]) => spawnSync('skopeo', args, { encoding: 'utf8', timeout: 60_000 });

describe.skipIf(!existsSync(REGISTRY_BIN) || !hasBusybox)('run-tool build/push and manifest lists', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let root: string;
  let ctx: string;
  const index = () => readFileSync(join(root, 'images', 'index.json'), 'utf8');

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir());
    reg = await startRegistry();
    root = join(dir, 'store');
    await makeBusyboxImage(root, dir);
    ctx = join(dir, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Containerfile'), 'FROM localhost/busybox\nRUN echo built-by-run-tool > /hi\nLABEL made=run-tool\n');
  });
  afterAll(async () => {
    await reg?.stop();
    await cleanup();
  });

  it('run-tool build builds as build-tool does (STEP lines, the ID on stdout); push --digestfile writes what the registry holds', () => {
    const b = rt(['--root', root, 'build', '-t', 'app', '--layers', '-q', ctx]);
    expect(b.status, b.stderr).toBe(0);
    const id = b.stdout.trim();
    expect(id).toMatch(/^[a-f0-9]{64}$/);
    expect(ok(rt(['--root', root, 'images', '--format', '{{.Repository}} {{.ID}}']))).toContain(`localhost/app ${id.slice(0, 12)}`);
    // the same context through build-tool's command: a cache hit on the one store, so the same image
    const b2 = bt(['--root', root, 'build', '-t', 'app2', '-q', ctx]);
    expect(b2.status, b2.stderr).toBe(0);
    expect(b2.stdout.trim()).toBe(id);

    const digestFile = join(dir, 'digest');
    const p = rt(['--root', root, 'push', '--tls-verify=false', '--digestfile', digestFile, 'app', `docker://${reg.host}/app:1`]);
    expect(p.status, p.stderr).toBe(0);
    const insp = skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/app:1`]);
    expect(insp.status, insp.stderr).toBe(0);
    expect(readFileSync(digestFile, 'utf8')).toBe(JSON.parse(insp.stdout).Digest);
    expect(JSON.parse(insp.stdout).Labels).toEqual({ made: 'run-tool' });
    // --format v2s2 and --compression-format are podman's
    const p2 = rt(['--root', root, 'push', '--tls-verify=false', '--format', 'v2s2', 'app', `${reg.host}/app:docker`]);
    expect(p2.status, p2.stderr).toBe(0);
    const raw = skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/app:docker`]);
    expect(JSON.parse(raw.stdout).mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
  });

  it("run-tool build exits with a failed RUN's own status, as podman build does", async () => {
    const failing = join(dir, 'failing');
    await mkdir(failing);
    await writeFile(join(failing, 'Containerfile'), 'FROM localhost/busybox\nRUN exit 3\n');
    const before = index();
    const r = rt(['--root', root, 'build', '--network', 'none', '-t', 'never', failing]);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^Error: building at STEP "RUN exit 3"/m);
    expect(index()).toBe(before);
  });

  it('bad push and build flags: one line, exit 125, nothing pushed or stored', () => {
    const before = index();
    fails125(rt(['--root', root, 'push', '--tls-verify=false', '--compression-format', 'lz4', 'app', `docker://${reg.host}/app:bad`]), /invalid --compression-format "lz4"/);
    fails125(rt(['--root', root, 'push', '--format', 'v1', 'app', `docker://${reg.host}/app:bad`]), /invalid --format "v1"/);
    fails125(rt(['--root', root, 'build', '--format', 'v1', '-t', 'x', ctx]), /invalid --format v1/);
    expect(skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/app:bad`]).status).not.toBe(0);
    expect(index()).toBe(before);
  });

  it('manifest create/add/annotate/inspect/push --all: skopeo copy --all of the pushed index works', () => {
    const created = rt(['--root', root, 'manifest', 'create', 'multi']);
    expect(created.status, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^[a-f0-9]{64}\n$/);
    expect(JSON.parse(ok(rt(['--root', root, 'manifest', 'inspect', 'multi'])))).toEqual({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
    expect(ok(rt(['--root', root, 'manifest', 'add', 'multi', 'localhost/busybox']))).toMatch(/^[a-f0-9]{64}\n$/);
    expect(ok(rt(['--root', root, 'manifest', 'add', '--arch', 'arm64', '--variant', 'v8', '--annotation', 'k=v', 'multi', 'app']))).toMatch(/^[a-f0-9]{64}\n$/);
    const text = ok(rt(['--root', root, 'manifest', 'inspect', 'multi']));
    expect(text).toMatch(/^\{\n {4}"schemaVersion": 2,/); // podman prints 4-space JSON
    const idx = JSON.parse(text);
    expect(idx.manifests.map((m: { platform: object }) => m.platform)).toEqual([{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux', variant: 'v8' }]);
    expect(idx.manifests[1].annotations).toEqual({ k: 'v' });
    expect(Object.keys(idx.manifests[0])).toEqual(['mediaType', 'size', 'digest', 'platform']);
    // annotate edits one entry in place
    const first = idx.manifests[0].digest as string;
    ok(rt(['--root', root, 'manifest', 'annotate', '--os-version', '1.0', '--annotation', 'x=y', 'multi', first]));
    const idx2 = JSON.parse(ok(rt(['--root', root, 'manifest', 'inspect', 'multi'])));
    expect(idx2.manifests[0].platform['os.version']).toBe('1.0');
    expect(idx2.manifests[0].annotations).toEqual({ x: 'y' });
    // older versions of the list are not left behind as images
    expect(ok(rt(['--root', root, 'images', '--format', '{{.Repository}}'])).split('\n').filter((l) => l === '<none>')).toEqual([]);

    const digestFile = join(dir, 'list-digest');
    const p = rt(['--root', root, 'manifest', 'push', '--tls-verify=false', '--digestfile', digestFile, 'multi', `docker://${reg.host}/multi:1`]);
    expect(p.status, p.stderr).toBe(0);
    const raw = skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/multi:1`]);
    expect(raw.status, raw.stderr).toBe(0);
    expect(JSON.parse(raw.stdout).manifests).toHaveLength(2);
    expect(readFileSync(digestFile, 'utf8')).toMatch(/^sha256:[a-f0-9]{64}$/);
    const out = join(dir, 'copied');
    const c = skopeo(['copy', '--all', '--src-tls-verify=false', `docker://${reg.host}/multi:1`, `oci:${out}:multi`]);
    expect(c.status, c.stderr).toBe(0);
    // push --format v2s2 writes a Docker manifest list
    const pd = rt(['--root', root, 'manifest', 'push', '--tls-verify=false', '--format', 'v2s2', 'multi', `docker://${reg.host}/multi:docker`]);
    expect(pd.status, pd.stderr).toBe(0);
    expect(JSON.parse(skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/multi:docker`]).stdout).mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    // add from a registry copies the image in; the list then pushes with it
    expect(rt(['--root', root, 'manifest', 'create', 'fromreg', '--tls-verify=false', `docker://${reg.host}/app:1`]).status).toBe(0);
    expect(JSON.parse(ok(rt(['--root', root, 'manifest', 'inspect', 'fromreg']))).manifests).toHaveLength(1);
  });

  it("manifest errors: podman's exit codes and one line; a failed change leaves the list as it was", () => {
    ok(rt(['--root', root, 'manifest', 'create', 'errs']));
    const before = index();
    fails125(rt(['--root', root, 'manifest', 'create', 'errs']), /already in use/);
    fails125(rt(['--root', root, 'manifest', 'inspect', 'nosuch']), /image not known/);
    fails125(rt(['--root', root, 'manifest', 'annotate', 'errs', `sha256:${'0'.repeat(64)}`, '--os', 'x']), /no image instance matching digest/);
    // not in the store: looked for at its registry, as podman does (nothing listens on localhost:443 here)
    const miss = rt(['--root', root, 'manifest', 'add', 'errs', 'localhost/nosuch-image-here']);
    expect(miss.status).toBe(125);
    expect(miss.stderr).toMatch(/^Error: cannot reach registry localhost: /m);
    fails125(rt(['--root', root, 'manifest', 'add', '--annotation', 'novalue', 'errs', 'localhost/busybox']), /invalid --annotation "novalue"/);
    fails125(rt(['--root', root, 'manifest', 'add', 'localhost/busybox', 'localhost/busybox']), /is not a manifest list/);
    expect(index()).toBe(before);
    const rm = rt(['--root', root, 'manifest', 'rm', 'nosuch']);
    expect(rm.status).toBe(1);
    expect(rm.stderr.trim()).toBe('Error: nosuch: image not known');
    expect(rt(['--root', root, 'manifest', 'exists', 'errs']).status).toBe(0);
    expect(rt(['--root', root, 'manifest', 'exists', 'nosuch']).status).toBe(1);
    const r = rt(['--root', root, 'manifest', 'rm', 'errs']);
    expect(r.stdout).toMatch(/^Untagged: localhost\/errs:latest\nDeleted: [a-f0-9]{64}\n$/);
    expect(rt(['--root', root, 'manifest', 'exists', 'errs']).status).toBe(1);
  });

  it('build-tool manifest is the same command: create, add, remove, push, rm', () => {
    const broot = ['--root', root];
    expect(bt([...broot, 'manifest', 'create', 'btlist', 'localhost/busybox']).status).toBe(0);
    const idx = JSON.parse(bt([...broot, 'manifest', 'inspect', 'btlist']).stdout);
    expect(idx.manifests).toHaveLength(1);
    const p = bt([...broot, 'manifest', 'push', '--all', '--tls-verify=false', 'btlist', `docker://${reg.host}/btlist:1`]);
    expect(p.status, p.stderr).toBe(0);
    const rmEntry = bt([...broot, 'manifest', 'remove', 'btlist', idx.manifests[0].digest]);
    expect(rmEntry.status, rmEntry.stderr).toBe(0);
    expect(JSON.parse(bt([...broot, 'manifest', 'inspect', 'btlist']).stdout).manifests).toEqual([]);
    expect(bt([...broot, 'manifest', 'rm', 'nosuch']).status).toBe(125); // buildah's status
    expect(bt([...broot, 'manifest', 'rm', 'btlist']).status).toBe(0);
  });

  it('build-tool login/logout (the shared login module), pull from the registry, and commit --manifest', () => {
    const auth = join(dir, 'auth.json');
    const li = bt(['login', '--tls-verify=false', '--authfile', auth, '-u', 'ci', '-p', 'secret', reg.host]);
    expect(li.status, li.stderr).toBe(0);
    expect(li.stdout).toBe('Login Succeeded!\n');
    expect(JSON.parse(readFileSync(auth, 'utf8')).auths[reg.host]).toBeDefined();
    const lo = bt(['logout', '--authfile', auth, reg.host]);
    expect(lo.status, lo.stderr).toBe(0);
    expect(JSON.parse(readFileSync(auth, 'utf8')).auths?.[reg.host]).toBeUndefined();
    const proot = join(dir, 'bt-pull');
    const p = bt(['--root', proot, 'pull', '--tls-verify=false', `${reg.host}/app:1`]);
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/^[a-f0-9]{64}\n$/);
    expect(p.stderr).toContain(`Trying to pull ${reg.host}/app:1...`);
    const ctr = bt(['--root', proot, 'from', `${reg.host}/app:1`]);
    expect(ctr.stdout).toBe('app-working-container\n');
    const c = bt(['--root', proot, 'commit', '-q', '--rm', '--manifest', 'fromcommit', 'app-working-container', 'committed']);
    expect(c.status, c.stderr).toBe(0);
    expect(JSON.parse(bt(['--root', proot, 'manifest', 'inspect', 'fromcommit']).stdout).manifests).toHaveLength(1);
  });

  it.skipIf(!hasPodman)('podman pulls and runs what run-tool pushed', () => {
    const proot = join(dir, 'podman');
    const P = ['--root', join(proot, 'root'), '--runroot', join(proot, 'run'), '--tmpdir', join(proot, 'tmp'), '--storage-driver', 'vfs'];
    const r = spawnSync('podman', [...P, 'run', '--rm', '--network', 'none', '--tls-verify=false', `${reg.host}/app:1`, 'cat', '/hi'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('built-by-run-tool\n');
    spawnSync('podman', [...P, 'system', 'reset', '-f'], { stdio: 'ignore' });
  });
});
