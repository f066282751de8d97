// build-tool against a real registry (Debian's docker-registry on 127.0.0.1): FROM pulls (with credentials and
// the trust policy), `-t docker://…` writes after the build, and `build-tool push`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';

const repo = resolve(import.meta.dirname, '../../..');
const env = { ...process.env, REGISTRY_AUTH_FILE: '', CONTAINERS_REGISTRIES_CONF: '' };

function tool(name: string, args: string[]) {
  return spawnSync(process.execPath, [join(repo, 'bin', `${name}.mjs`), ...args], { encoding: 'utf8', env, timeout: 120_000 });
}

function skopeoInspect(ref: string): { Layers: string[] } | undefined {
  const r = spawnSync('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' });
  return r.status === 0 ? (JSON.parse(r.stdout) as { Layers: string[] }) : undefined;
}

describe.skipIf(!isRoot || !hasBusybox || !existsSync(REGISTRY_BIN))('build-tool with a registry', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry;
  let auth: TestRegistry;

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-build-registry-'));
    [reg, auth] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd' })]);
    const src = join(dir, 'src');
    await makeBusyboxImage(src, dir, 'localhost/busybox:latest');
    for (const [r, creds] of [[reg, []], [auth, ['--dest-creds', `${auth.user}:${auth.password}`]]] as const) {
      const c = spawnSync('skopeo', ['copy', '--dest-tls-verify=false', ...creds, `oci:${src}/images:localhost/busybox:latest`, `docker://${r.host}/lib/busybox:1`], { encoding: 'utf8' });
      expect(c.status, c.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    await Promise.all([reg?.stop(), auth?.stop()]);
    await cleanup?.();
  });

  function context(name: string, dockerfile: string): string {
    const ctx = join(dir, name);
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
    return ctx;
  }

  it('pulls the FROM image, builds, and writes -t docker://… after the build', () => {
    const root = join(dir, 'r1');
    const ctx = context('c1', `FROM ${reg.host}/lib/busybox:1\nRUN echo built > /built\n`);
    const r = tool('build-tool', ['--root', root, 'build', '--tls-verify=false', '-t', 'app', '-t', `docker://${reg.host}/out/app:1`, ctx]);
    expect(r.status, r.stderr).toBe(0);
    const id = r.stdout.trim().split('\n').pop()!;
    expect(id).toMatch(/^[a-f0-9]{64}$/);
    const pushed = skopeoInspect(`${reg.host}/out/app:1`);
    expect(pushed?.Layers).toHaveLength(2); // the base layer and the RUN's
    // the pulled base and the local tag are in the store; the pushed image runs the RUN's result
    const images = tool('build-tool', ['--root', root, 'images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(images.stdout.split('\n').filter(Boolean).sort()).toEqual([`${reg.host}/lib/busybox:1`, 'localhost/app:latest']);
    const out = join(dir, 'c1-out');
    const c = tool('copy-tool', ['copy', '--src-tls-verify=false', `docker://${reg.host}/out/app:1`, `oci:${out}:x`]);
    expect(c.status, c.stderr).toBe(0);
  });

  it('build-tool push copies a stored image to a registry', () => {
    const root = join(dir, 'r1');
    const r = tool('build-tool', ['--root', root, 'push', '--tls-verify=false', 'app', `docker://${reg.host}/pushed/app:2`]);
    expect(r.status, r.stderr).toBe(0);
    expect(skopeoInspect(`${reg.host}/pushed/app:2`)?.Layers).toHaveLength(2);
  });

  it('a FROM behind authentication needs --creds; without them the build fails with one clear line and stores nothing', () => {
    const ctx = context('c2', `FROM ${auth.host}/lib/busybox:1\nRUN true\n`);
    const denied = join(dir, 'r2-denied');
    const bad = tool('build-tool', ['--root', denied, 'build', '--tls-verify=false', ctx]);
    expect(bad.status, bad.stderr).toBe(125);
    expect(bad.stderr).toMatch(/unauthorized|authentication required|credentials/i);
    const none = tool('build-tool', ['--root', denied, 'images', '-q']);
    expect(none.stdout.trim()).toBe('');
    const ok = tool('build-tool', ['--root', join(dir, 'r2'), 'build', '--tls-verify=false', '--creds', `${auth.user}:${auth.password}`, ctx]);
    expect(ok.status, ok.stderr).toBe(0);
  });

  it('the trust policy is applied to FROM pulls: a rejecting policy fails the build before anything is stored', () => {
    const policy = join(dir, 'reject.json');
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'reject' }] }));
    const root = join(dir, 'r3');
    const ctx = context('c3', `FROM ${reg.host}/lib/busybox:1\nRUN true\n`);
    const r = tool('build-tool', ['--root', root, 'build', '--tls-verify=false', '--policy', policy, ctx]);
    expect(r.status, r.stderr).toBe(125);
    expect(r.stderr).toMatch(/reject|policy/i);
    expect(tool('build-tool', ['--root', root, 'images', '-q']).stdout.trim()).toBe('');
    // a build from a stored image never reads the policy: even a broken policy file is not an error then
    writeFileSync(policy, '{not json');
    const stored = tool('build-tool', ['--root', join(dir, 'r1'), 'build', '--policy', policy, context('c4', 'FROM localhost/app\nRUN true\n')]);
    expect(stored.status, stored.stderr).toBe(0);
  });
});
