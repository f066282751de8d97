import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { asUser, asUserTool, canRunRootless, makeUserWithBusybox, missingForRootless, removeUser, repo, type TestUser } from '../run-tool/rootless-helpers.ts';

/*
 * The whole rootless workflow as an ordinary user (useradd with subordinate ids, its own XDG_RUNTIME_DIR), on a
 * machine where root has used podman (/var/lib/containers exists, 0700): pull from a registry on 127.0.0.1,
 * build with RUN, COPY and stages (the same layers as a rootful build, owners inside the layers the image's),
 * run, exec, logs, cp, stop, rm -f again and again, commit, push, and copy-tool into the user's store.
 * Runs on every CI run (as root): a missing program fails the suite with one line instead of skipping it.
 */

/** Programs this suite needs besides the common rootless ones (missingForRootless), with their Debian packages. */
const EXTRA: Record<string, string> = { flock: 'util-linux', catatonit: 'catatonit', 'docker-registry': 'docker-registry', podman: 'podman' };
const built = ['build-tool', 'copy-tool'].every((t) => existsSync(join(repo, 'dist', `${t}.mjs`)));

/** Headers (name, uid, gid, type) of a gzip layer tar. */
async function layerHeaders(file: string): Promise<{ name: string; uid: number; gid: number; type: string }[]> {
  const out: { name: string; uid: number; gid: number; type: string }[] = [];
  const ex = tar.extract();
  ex.on('entry', (h, stream, next) => {
    out.push({ name: h.name.replace(/^\.\//, '').replace(/\/$/, ''), uid: h.uid ?? 0, gid: h.gid ?? 0, type: h.type ?? 'file' });
    stream.on('end', next);
    stream.resume();
  });
  await pipeline(createReadStream(file), createGunzip(), ex);
  return out;
}

/** The layer blob paths and diff_ids of the image whose config digest is `id`, read from the store at `root`. */
function imageLayers(root: string, id: string): { layers: string[]; diffIds: string[] } {
  const blobs = join(root, 'images', 'blobs', 'sha256');
  const index = JSON.parse(readFileSync(join(root, 'images', 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  for (const m of index.manifests) {
    const man = JSON.parse(readFileSync(join(blobs, m.digest.slice(7)), 'utf8')) as { config?: { digest: string }; layers?: { digest: string }[] };
    if (man.config?.digest !== id) continue;
    const cfg = JSON.parse(readFileSync(join(blobs, id.slice(7)), 'utf8')) as { rootfs: { diff_ids: string[] } };
    return { layers: (man.layers ?? []).map((l) => join(blobs, l.digest.slice(7))), diffIds: cfg.rootfs.diff_ids };
  }
  throw new Error(`no image with ID ${id} in ${root}`);
}

describe.skipIf(!canRunRootless)('rootless workflow as an ordinary user', () => {
  let scratch: { dir: string; cleanup: () => Promise<void> };
  let reg: TestRegistry;
  let u: TestUser;
  let hostDir = '';
  let ctx = '';
  let rootStore = '';
  let base = '';
  let userStore = '';
  const rt = (args: string[], timeout?: number) => asUser(u, args, timeout ? { timeout } : {});
  // every image a test runs is local and named in full: a missing one must fail, never be looked up elsewhere
  const APP = ['--pull', 'never', 'localhost/rl/app:1'];
  const bt = (args: string[]) => asUserTool(u, 'build-tool', args, { timeout: 180_000 });
  const ct = (args: string[]) => asUserTool(u, 'copy-tool', args);
  const asRoot = (tool: string, args: string[]) => spawnSync(process.execPath, [join(repo, 'bin', `${tool}.mjs`), ...args], { encoding: 'utf8', timeout: 180_000 });

  beforeAll(async () => {
    const missing = missingForRootless(EXTRA);
    if (missing) throw new Error(missing);
    if (!built) throw new Error('the rootless suite runs the built tools: run `npm run build` first');
    // a machine where root has used podman: /var/lib/containers exists and only root may enter it
    const info = spawnSync('podman', ['info', '--format', '{{.Store.GraphRoot}}'], { encoding: 'utf8', timeout: 60_000 });
    if (info.status !== 0) throw new Error(`podman info as root failed: ${info.stderr.trim().split('\n').pop()}`);
    scratch = await scratchDir('skiff-rlflow-');
    ({ u, hostDir } = makeUserWithBusybox(scratch.dir, 'skiff-rlf'));
    userStore = join(u.home, '.local', 'share', 'skiff');
    reg = await startRegistry();
    // the registry's base image, pushed as root from a root store
    rootStore = join(scratch.dir, 'root-store');
    const imp = asRoot('run-tool', ['--root', rootStore, 'import', join(scratch.dir, 'busybox.tar'), 'busybox']);
    if (imp.status !== 0) throw new Error(`import as root failed: ${imp.stderr}`);
    base = `${reg.host}/library/busybox:1`;
    const push = asRoot('copy-tool', ['--root', rootStore, 'copy', '--dest-tls-verify=false', 'store:busybox', `docker://${base}`]);
    if (push.status !== 0) throw new Error(`seeding the registry failed: ${push.stderr}`);
    ctx = join(hostDir, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'f.txt'), 'from the context\n');
    writeFileSync(join(ctx, 'Dockerfile'), [
      `FROM ${base} AS base`,
      // root inside creates files, one chowned to 1000, and replaces /data (owned 1000 in the image): an opaque dir
      'RUN echo built > /built && mkdir /d && touch /d/x && chown 1000:1000 /d/x && rm -rf /data && mkdir /data && echo new > /data/n',
      'COPY f.txt /f.txt',
      `FROM ${base}`,
      'COPY --from=base /built /d/ /out/',
      'RUN cat /out/built > /out/copied',
      'CMD ["sh", "-c", "cat /out/built; sleep 300"]',
      '',
    ].join('\n'));
    execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, ctx]);
  }, 240_000);

  afterAll(async () => {
    if (u) removeUser(u);
    await reg?.stop();
    await scratch?.cleanup();
  }, 120_000);

  it('pull from a registry where root has used podman: the system lookaside is not the user\'s, an unreadable one holds no signature', () => {
    const vlc = statSync('/var/lib/containers');
    expect(vlc.uid).toBe(0);
    expect(vlc.mode & 0o077).toBe(0);
    const p = rt(['pull', '--tls-verify=false', base]);
    expect(p.status, p.stderr).toBe(0);
    expect(p.stderr).not.toMatch(/EACCES/);
    // a registries.d entry of the user's pointing at the system dir: unreadable means "no signature there"
    const dir = join(u.home, '.config', 'containers', 'registries.d');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'sys.yaml'), `docker:\n  ${reg.host}:\n    lookaside: file:///var/lib/containers/sigstore\n`);
    execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, join(u.home, '.config')]);
    const again = rt(['pull', '--tls-verify=false', base]);
    rmSync(join(dir, 'sys.yaml'));
    expect(again.status, again.stderr).toBe(0);
    expect(rt(['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout).toContain(`${reg.host}/library/busybox:1`);
  }, 120_000);

  it('build with RUN, COPY and two stages: the same layers as a rootful build, owners in the layer tars the image\'s', async () => {
    const ids: Record<string, string> = {};
    for (const [target, tag] of [['base', 'rl/base:1'], [undefined, 'rl/app:1']] as const) {
      const iid = join(hostDir, `${tag.replace(/[/:]/g, '-')}.iid`);
      const args = ['build', '--network', 'none', '--timestamp', '0', '--tls-verify=false', '--iidfile', iid, '-t', tag, ...(target ? ['--target', target] : []), ctx];
      const r = bt(args);
      expect(r.status, r.stderr).toBe(0);
      ids[tag] = readFileSync(iid, 'utf8').trim();
      // the same build as root, in a root store
      const rootIid = join(scratch.dir, `root-${tag.replace(/[/:]/g, '-')}.iid`);
      const rr = asRoot('build-tool', ['--root', rootStore, ...args.map((a) => (a === iid ? rootIid : a))]);
      expect(rr.status, rr.stderr).toBe(0);
      expect(imageLayers(userStore, ids[tag]!).diffIds).toEqual(imageLayers(rootStore, readFileSync(rootIid, 'utf8').trim()).diffIds);
    }
    const { layers } = imageLayers(userStore, ids['rl/base:1']!);
    const run = await layerHeaders(layers[1]!);
    const own = (n: string) => run.find((h) => h.name === n);
    expect(own('built')).toMatchObject({ uid: 0, gid: 0 });
    expect(own('d/x')).toMatchObject({ uid: 1000, gid: 1000 });
    expect(own('data/n')).toMatchObject({ uid: 0, gid: 0 });
    expect(own('data/.wh..wh..opq')).toBeDefined();
    expect((await layerHeaders(layers[2]!)).find((h) => h.name === 'f.txt')).toMatchObject({ uid: 0, gid: 0 });
    // RUN in the final stage saw what COPY --from brought
    const app = imageLayers(userStore, ids['rl/app:1']!);
    expect((await layerHeaders(app.layers[app.layers.length - 1]!)).map((h) => h.name)).toContain('out/copied');
  }, 600_000);

  it('run -d, exec, logs, cp both ways, stop and rm of the built image', () => {
    const r = rt(['run', '-d', '--network', 'none', '--name', 'app', ...APP]);
    expect(r.status, r.stderr).toBe(0);
    const ex = rt(['exec', 'app', 'sh', '-c', 'id -u; stat -c %u:%g /out/x; cat /out/copied']);
    expect(ex.status, ex.stderr).toBe(0);
    expect(ex.stdout.trim().split('\n')).toEqual(['0', '1000:1000', 'built']);
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('built'); i++) {
      logs = rt(['logs', 'app']).stdout;
      if (!logs.includes('built')) execFileSync('sleep', ['0.1']);
    }
    expect(logs).toBe('built\n');
    const src = join(hostDir, 'in.txt');
    writeFileSync(src, 'from the host\n');
    chownSync(src, u.uid, u.gid);
    expect(rt(['cp', src, 'app:/tmp/in.txt']).status).toBe(0);
    expect(rt(['exec', 'app', 'cat', '/tmp/in.txt']).stdout).toBe('from the host\n');
    const out = join(hostDir, 'out.txt');
    const cout = rt(['cp', 'app:/out/built', out]);
    expect(cout.status, cout.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('built\n');
    expect(statSync(out).uid).toBe(u.uid);
    const stop = rt(['stop', '-t', '1', 'app']);
    expect(stop.status, stop.stderr).toBe(0);
    expect(rt(['ps', '-a', '--format', '{{.Names}} {{.Status}}']).stdout).toMatch(/^app Exited/m);
    const rm = rt(['rm', 'app']);
    expect(rm.status, rm.stderr).toBe(0);
  }, 180_000);

  it('RUN with the default network: a private namespace through pasta, not the host\'s, and no host loopback service', async () => {
    const server = createServer((c) => c.end('host-secret\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const netCtx = join(hostDir, 'netctx');
      mkdirSync(netCtx, { recursive: true });
      writeFileSync(join(netCtx, 'Dockerfile'), [
        `FROM ${base}`,
        `RUN hostname > /hn && (cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' ') > /ifs && (nc -w 2 127.0.0.1 ${port} > /got 2>&1 || true)`,
        '',
      ].join('\n'));
      execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, netCtx]);
      const out = join(hostDir, 'netout');
      const r = bt(['build', '--tls-verify=false', '-o', `type=local,dest=${out}`, netCtx]);
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(join(out, 'hn'), 'utf8').trim()).not.toBe(hostname());
      const ifs = readFileSync(join(out, 'ifs'), 'utf8').trim().split(' ');
      expect(ifs).toContain('lo');
      expect(ifs.length, ifs.join(' ')).toBeGreaterThan(1); // pasta's tap device besides lo
      expect(readFileSync(join(out, 'got'), 'utf8')).not.toContain('host-secret');
    } finally {
      server.close();
    }
  }, 300_000);

  it('rm -f of a running container, again and again: always exit 0, its directory gone, nothing left behind', () => {
    for (let i = 0; i < 10; i++) {
      const r = rt(['run', '-d', '--network', 'none', '--name', `loop${i}`, ...APP]);
      expect(r.status, r.stderr).toBe(0);
      const id = r.stdout.trim();
      const rm = rt(['rm', '-f', `loop${i}`]);
      expect(rm.status, `round ${i}: ${rm.stderr}`).toBe(0);
      expect(existsSync(join(userStore, 'containers', id))).toBe(false);
    }
    // the monitors' late cleanups find nothing to do and recreate nothing
    execFileSync('sleep', ['2']);
    expect(readdirSync(join(userStore, 'containers')).filter((n) => n !== 'names')).toEqual([]);
    expect(rt(['ps', '-aq']).stdout).toBe('');
  }, 300_000);

  it('commit a container, push it with build-tool, copy it back into the store with copy-tool', () => {
    expect(rt(['run', '-d', '--network', 'none', '--name', 'c1', ...APP]).status).toBe(0);
    expect(rt(['exec', 'c1', 'sh', '-c', 'echo committed > /committed && chown 1000:1000 /committed']).status).toBe(0);
    const cm = rt(['commit', 'c1', 'rl/committed:1']);
    expect(cm.status, cm.stderr).toBe(0);
    expect(rt(['rm', '-f', 'c1']).status).toBe(0);
    const dest = `${reg.host}/rl/committed:1`;
    const push = bt(['push', '--tls-verify=false', 'localhost/rl/committed:1', `docker://${dest}`]);
    expect(push.status, push.stderr).toBe(0);
    // copy-tool enters the namespace only for the store: the registry inspect runs outside it
    const ins = ct(['inspect', '--tls-verify=false', `docker://${dest}`]);
    expect(ins.status, ins.stderr).toBe(0);
    const back = ct(['copy', '--src-tls-verify=false', `docker://${dest}`, 'store:rl/back:1']);
    expect(back.status, back.stderr).toBe(0);
    const r = rt(['run', '--rm', '--network', 'none', '--pull', 'never', 'localhost/rl/back:1', 'stat', '-c', '%u:%g %n', '/committed']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('1000:1000 /committed');
  }, 240_000);

  it('run --network host rootless: /sys comes from the host (sysfs cannot be mounted in a network namespace the user does not own)', () => {
    const r = rt(['run', '--rm', '--network', 'host', ...APP, 'sh', '-c', 'test -d /sys/class/net && echo ok']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('ok');
  }, 120_000);
});
