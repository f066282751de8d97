// Short names find local images first, as podman's libimage does: after a pull from a registry on 127.0.0.1,
// `busybox` names `127.0.0.1:PORT/library/busybox:latest` for run-tool, build-tool FROM/tag/rmi and copy-tool
// `store:`, with `unqualified-search-registries = []` so that any registry attempt would fail loudly.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../helpers/busybox.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { isRoot, scratchDir } from '../helpers/tmp.ts';

const repo = resolve(import.meta.dirname, '../..');
const tool = (name: string) => join(repo, 'bin', `${name}.mjs`);
const hasConmon = existsSync('/usr/bin/conmon');

describe.skipIf(!isRoot || !existsSync(REGISTRY_BIN) || !hasBusybox || !hasConmon)('short names resolve to local images first', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let reg: TestRegistry | undefined;
  let root = '';
  let env: NodeJS.ProcessEnv = {};
  let id = '';
  let host = '';
  let permissive: SpawnSyncReturns<string> | undefined;
  let repull: SpawnSyncReturns<string> | undefined;
  const run = (name: string, args: string[], input = ''): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [tool(name), '--root', root, ...args], { encoding: 'utf8', input, env, timeout: 120_000 });
  const rt = (args: string[]) => run('run-tool', args);

  beforeAll(async () => {
    s = await scratchDir('skiff-short-names-');
    root = join(s.dir, 'root');
    const src = join(s.dir, 'src');
    await makeBusyboxImage(src, s.dir);
    const conf = join(s.dir, 'registries.conf');
    await writeFile(conf, 'unqualified-search-registries = []\n');
    env = { ...process.env, CONTAINERS_REGISTRIES_CONF: conf, REGISTRY_AUTH_FILE: '', XDG_RUNTIME_DIR: s.dir };
    reg = await startRegistry();
    host = reg.host;
    const push = spawnSync('skopeo', ['copy', '--dest-tls-verify=false', `oci:${src}/images:localhost/busybox:latest`, `docker://${reg.host}/library/busybox:latest`], { encoding: 'utf8' });
    expect(push.status, push.stderr).toBe(0);
    const pull = rt(['pull', '-q', '--tls-verify=false', `${reg.host}/library/busybox`]);
    expect(pull.status, pull.stderr).toBe(0);
    id = pull.stdout.trim();
    // a short name whose image is stored is pulled again from where it came from, skipping the search (libimage)
    repull = rt(['pull', '--tls-verify=false', 'busybox']);
    // a short name that is not stored is pulled through the search registries in order (podman's permissive
    // mode without a TTY): the first refuses the connection, the second has it
    const search = join(s.dir, 'search.conf');
    await writeFile(search, `unqualified-search-registries = ["127.0.0.1:1", "${reg.host}"]\n`);
    const copy = spawnSync('skopeo', ['copy', '--dest-tls-verify=false', `oci:${src}/images:localhost/busybox:latest`, `docker://${reg.host}/bb2:1`], { encoding: 'utf8' });
    expect(copy.status, copy.stderr).toBe(0);
    permissive = spawnSync(process.execPath, [tool('run-tool'), '--root', root, 'pull', '--tls-verify=false', 'bb2:1'], { encoding: 'utf8', env: { ...env, CONTAINERS_REGISTRIES_CONF: search }, timeout: 120_000 });
    // from here on nothing may reach a registry: the only one there was is gone
    await reg.stop();
    reg = undefined;
  }, 180_000);

  afterAll(async () => {
    if (root) rt(['rm', '-a', '-f']);
    await reg?.stop();
    await s?.cleanup();
  });

  it('run-tool run, inspect, tag and rmi find busybox under the registry it was pulled from', () => {
    const r = rt(['run', '--rm', '--network', 'none', 'busybox', 'echo', 'ran']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ran\n');
    expect(r.status).toBe(0);
    const ins = rt(['inspect', '--type', 'image', '--format', '{{.Id}}', 'busybox']);
    expect(ins.status, ins.stderr).toBe(0);
    expect(ins.stdout.trim()).toBe(id);
    const t = rt(['tag', 'busybox', 'x']);
    expect(t.stderr).toBe('');
    expect(t.status).toBe(0);
    const names = rt(['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout.split('\n').filter((n) => n !== '' && !n.includes('/bb2:')).sort();
    expect(names).toEqual([`${host}/library/busybox:latest`, 'localhost/x:latest'].sort());
    // the tag podman would also accept: the repository's last components, with the tag spelled out
    expect(rt(['tag', 'library/busybox:latest', 'y']).status).toBe(0);
    const rmi = rt(['rmi', 'y']);
    expect(rmi.stdout).toBe('Untagged: localhost/y:latest\n');
    expect(rmi.status).toBe(0);
  });

  it('pulling a short name that is stored pulls it again from its own registry, with no search registries', () => {
    expect(repull?.status, repull?.stderr).toBe(0);
    expect(repull!.stderr.split('\n')[0]).toBe(`Trying to pull ${host}/library/busybox:latest...`);
    expect(repull!.stdout.trim()).toBe(id);
  });

  it('a short name not stored is pulled from each search registry in order, and stored under the one that had it', () => {
    expect(permissive?.status, permissive?.stderr).toBe(0);
    // a refused connection is retried once, with a notice (as podman's pulls announce retries)
    const all = permissive!.stderr.split('\n');
    expect(all.some((l) => /^WARN\[\d+\] Failed, retrying in .* 127\.0\.0\.1:1\b/.test(l))).toBe(true);
    const lines = all.filter((l) => !l.startsWith('WARN['));
    expect(lines[0]).toBe(`Resolving "bb2" using unqualified-search registries (${join(s.dir, 'search.conf')})`);
    expect(lines[1]).toBe('Trying to pull 127.0.0.1:1/bb2:1...');
    expect(lines[2]).toBe(`Trying to pull ${host}/bb2:1...`);
    expect(rt(['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout).toContain(`${host}/bb2:1\n`);
    // and the stored copy is what `bb2:1` means from now on, with no search registries at all
    expect(rt(['inspect', '--type', 'image', '--format', '{{.Id}}', 'bb2:1']).status).toBe(0);
  });

  it('a short name nothing stored matches fails as podman does, naming registries.conf', () => {
    const r = rt(['run', '--rm', '--network', 'none', 'nothere', 'true']);
    expect(r.status).toBe(125);
    expect(r.stderr).toContain(`Error: short-name "nothere" did not resolve to an alias and no unqualified-search registries are defined in "${env.CONTAINERS_REGISTRIES_CONF}"`);
    expect(r.stderr).not.toMatch(/Trying to pull/);
    // local-only commands say "image not known", as podman's tag and rmi do
    const t = rt(['tag', 'nothere', 'z']);
    expect(t.status).toBe(125);
    expect(t.stderr).toMatch(/^Error: nothere: image not known/);
    // a tag that no local busybox has is not a local match
    const v = rt(['run', '--rm', '--network', 'none', 'busybox:v9', 'true']);
    expect(v.status).toBe(125);
    expect(v.stderr).toContain('short-name "busybox:v9" did not resolve');
  });

  it('build-tool FROM, tag and rmi and copy-tool store: use the local busybox', async () => {
    const ctx = join(s.dir, 'ctx');
    await mkdir(ctx, { recursive: true });
    const b = run('build-tool', ['build', '-q', '-t', 'built', '-f', '-', ctx], 'FROM busybox\nRUN echo from-local > /marker\n');
    expect(b.stderr).not.toMatch(/Pulling|Trying to pull/);
    expect(b.status, b.stderr).toBe(0);
    const r = rt(['run', '--rm', '--network', 'none', 'built', 'cat', '/marker']);
    expect(r.stdout).toBe('from-local\n');
    expect(run('build-tool', ['tag', 'busybox', 'bt']).status).toBe(0);
    const bi = rt(['inspect', '--type', 'image', '--format', '{{.Id}}', 'bt']);
    expect(bi.stdout.trim()).toBe(id);
    const rm = run('build-tool', ['rmi', 'bt']);
    expect(rm.status, rm.stderr).toBe(0);
    const out = join(s.dir, 'copied');
    const c = run('copy-tool', ['copy', 'store:busybox', `oci:${out}:b`]);
    expect(c.status, c.stderr).toBe(0);
    const ci = run('copy-tool', ['inspect', '--format', '{{.Digest}}', 'store:busybox']);
    expect(ci.status, ci.stderr).toBe(0);
    const missing = run('build-tool', ['build', '-q', '-f', '-', ctx], 'FROM nothere\n');
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('short-name "nothere" did not resolve to an alias and no unqualified-search registries are defined in');
  });
});
