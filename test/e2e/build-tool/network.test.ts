// RUN networking (issue 11, item 5): each RUN has a network namespace of its own (netavark bridge as root), so a
// Dockerfile cannot reach services bound to the host's loopback; the host network only when asked — on the command
// line (`--network host`, buildah's flag) or by `RUN --network=host` with `--allow network.host` (BU-11).
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox } from '../../helpers/busybox.ts';
import { hasPrograms, isRoot } from '../../helpers/tmp.ts';
import { exitCodeFor } from '../../../shared/cli/exit-codes.ts';
import { makeWorld, type World } from './harness.ts';

const repo = resolve(import.meta.dirname, '../../..');
const hasNetavark = hasPrograms('netavark');

const MARK = 'HOST-LOOPBACK-SERVICE';

/** A RUN script probing the host's loopback server on `port`: what it got (or nc's exit code), hostname, links. */
const probe = (port: number) => `RUN (printf 'x\\n' | nc -w 2 127.0.0.1 ${port} > /got; echo $? > /rc); hostname > /hn; ip -o link | cut -d: -f2 | tr -d ' ' > /links; cat /etc/hosts > /hosts\n`;

describe.skipIf(!isRoot || !hasBusybox || !hasNetavark)('RUN network namespaces', () => {
  let w: World;
  let server: Server;
  let port: number;
  let hits = 0;
  const sockets = new Set<import('node:net').Socket>();
  beforeAll(async () => {
    w = await makeWorld();
    server = createServer((s) => {
      hits++;
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      s.end(`${MARK}\n`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server?.close(r));
    await w?.cleanup();
  });

  /** Runs `fn` noting the attachment records (network namespace IDs) that appear meanwhile. */
  const watching = async <T>(fn: () => Promise<T>): Promise<{ result: T; ids: Set<string> }> => {
    const ids = new Set<string>();
    const look = async () => {
      for (const f of await readdir(join(w.root, 'networks/attachments')).catch(() => [] as string[])) if (f.endsWith('.json')) ids.add(f.slice(0, 64));
    };
    const t = setInterval(() => void look(), 20);
    try {
      return { result: await fn(), ids };
    } finally {
      clearInterval(t);
    }
  };

  /** Nothing of the build's RUN networks is left once it ended: no attachment record, no IP held, no netns. */
  const nothingLeft = async (ids: Set<string>) => {
    expect(await readdir(join(w.root, 'networks/attachments')).catch(() => [])).toEqual([]);
    const ipam = JSON.parse(await readFile(join(w.root, 'networks/ipam/podman.json'), 'utf8').catch(() => '{"allocations":{}}')) as { allocations: Record<string, string> };
    expect(ipam.allocations).toEqual({});
    const netns = await readdir('/run/netns').catch(() => [] as string[]);
    for (const id of ids) expect(netns).not.toContain(`skiff-${id}`);
  };

  const read = async (tag: string) => {
    const img = await w.image(tag);
    const f = (n: string) => readFile(join(img.rootfs, n), 'utf8');
    return { got: await f('got'), rc: (await f('rc')).trim(), hn: (await f('hn')).trim(), links: (await f('links')).trim().split('\n'), hosts: await f('hosts') };
  };

  it('a RUN cannot reach a server bound on the host\'s 127.0.0.1; its hostname is its stage\'s sandbox ID', async () => {
    const before = hits;
    const { ids } = await watching(() => w.build(`FROM localhost/busybox AS one\nRUN hostname > /hn1\nFROM localhost/busybox\n${probe(port)}RUN hostname > /hn2\nCOPY --from=one /hn1 /hn1\n`, { tags: ['private'] }));
    // one bridge namespace for the build's three RUN steps
    expect(ids.size).toBe(1);
    const r = await read('private');
    expect(r.got).not.toContain(MARK);
    expect(r.rc).not.toBe('0');
    expect(hits).toBe(before);
    expect(r.hn).toMatch(/^[0-9a-f]{12}$/);
    expect(r.hn).not.toBe(hostname());
    // lo and the bridge's veth only — none of the host's interfaces
    expect(r.links).toHaveLength(2);
    expect(r.links).toContain('lo');
    expect(r.links.find((l) => l !== 'lo')).toMatch(/^eth0(@if\d+)?$/);
    expect(r.hosts).toMatch(new RegExp(`^\\d+\\.\\d+\\.\\d+\\.\\d+\\t${r.hn}$`, 'm'));
    // as buildah: the RUN steps of a stage share its name, another stage has its own
    const img = await w.image('private');
    const hn1 = (await readFile(join(img.rootfs, 'hn1'), 'utf8')).trim();
    const hn2 = (await readFile(join(img.rootfs, 'hn2'), 'utf8')).trim();
    expect(hn2).toBe(r.hn);
    expect(hn1).toMatch(/^[0-9a-f]{12}$/);
    expect(hn1).not.toBe(r.hn);
    await nothingLeft(ids);
  });

  it('a failed RUN leaves no network behind either', async () => {
    const { ids } = await watching(() => expect(w.build('FROM localhost/busybox\nRUN exit 3\n')).rejects.toThrow(/exit status 3/));
    expect(ids.size).toBe(1);
    await nothingLeft(ids);
  });

  it('RUN --network=default is the private namespace too', async () => {
    const before = hits;
    await w.build(`FROM localhost/busybox\nRUN --network=default (printf 'x\\n' | nc -w 2 127.0.0.1 ${port} > /got; echo $? > /rc)\n`, { tags: ['dflt'] });
    const img = await w.image('dflt');
    expect(await readFile(join(img.rootfs, 'got'), 'utf8')).not.toContain(MARK);
    expect(hits).toBe(before);
  });

  it('BU-11 RUN --network=host reaches the host\'s loopback only with --allow network.host', async () => {
    const df = `FROM localhost/busybox\nRUN --network=host printf 'x\\n' | nc -w 2 127.0.0.1 ${port} > /got\n`;
    await expect(w.build(df, { tags: ['hostnet'] })).rejects.toThrow(/network\.host/);
    const before = hits;
    await w.build(df, { tags: ['hostnet'], allow: ['network.host'] });
    expect(await readFile(join((await w.image('hostnet')).rootfs, 'got'), 'utf8')).toBe(`${MARK}\n`);
    expect(hits).toBe(before + 1);
  });

  it('--network none leaves a RUN only lo', async () => {
    await w.build(`FROM localhost/busybox\n${probe(port)}`, { tags: ['none'], network: 'none' });
    const r = await read('none');
    expect(r.links).toEqual(['lo']);
    expect(r.got).not.toContain(MARK);
    await w.build(`FROM localhost/busybox\nRUN --network=none ip -o link | cut -d: -f2 | tr -d ' ' > /links\n`, { tags: ['none2'] });
    expect((await readFile(join((await w.image('none2')).rootfs, 'links'), 'utf8')).trim()).toBe('lo');
  });

  describe('through the CLI', () => {
    // asynchronous: the test's own server must keep answering while the build runs
    const cli = (args: string[]) => new Promise<{ status: number | null; stderr: string }>((res, rej) => {
      const c = spawn(process.execPath, [join(repo, 'bin/build-tool.mjs'), '--root', w.root, ...args], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
      let stderr = '';
      c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      c.on('error', rej);
      c.on('close', (status) => res({ status, stderr }));
    });

    it('BU-11 RUN --network=host without --allow network.host is refused with one line and the tool\'s error exit code', async () => {
      await writeFile(join(w.ctx, 'Dockerfile.host'), `FROM localhost/busybox\nRUN --network=host printf 'x\\n' | nc -w 2 127.0.0.1 ${port} > /got\n`);
      const before = hits;
      const r = await cli(['build', '-q', '-f', join(w.ctx, 'Dockerfile.host'), w.ctx]);
      expect(r.status, r.stderr).toBe(exitCodeFor('build-tool', 'EPERM'));
      expect(r.stderr.trim().split('\n').filter((l) => /network\.host/.test(l))).toHaveLength(1);
      expect(r.stderr).toMatch(/--allow network\.host/);
      expect(hits).toBe(before);
      const ok = await cli(['build', '-q', '--no-cache', '--allow', 'network.host', '-f', join(w.ctx, 'Dockerfile.host'), w.ctx]);
      expect(ok.status, ok.stderr).toBe(0);
      expect(hits).toBe(before + 1);
    });

    it('build --network host (buildah\'s flag) is the explicit opt-in: RUN reaches the host\'s loopback', async () => {
      await writeFile(join(w.ctx, 'Dockerfile.cli'), `FROM localhost/busybox\nRUN printf 'x\\n' | nc -w 2 127.0.0.1 ${port} > /got && hostname > /hn\n`);
      const before = hits;
      const r = await cli(['build', '-q', '--no-cache', '--network', 'host', '-t', 'clihost', '-f', join(w.ctx, 'Dockerfile.cli'), w.ctx]);
      expect(r.status, r.stderr).toBe(0);
      expect(hits).toBe(before + 1);
      expect(await readFile(join((await w.image('clihost')).rootfs, 'got'), 'utf8')).toBe(`${MARK}\n`);
      const bad = await cli(['build', '-q', '--network', 'ns:/proc/1/ns/net', '-f', join(w.ctx, 'Dockerfile.cli'), w.ctx]);
      expect(bad.status).toBe(exitCodeFor('build-tool', 'EUNSUPPORTED'));
      expect(bad.stderr).toMatch(/--network ns:\/proc\/1\/ns\/net is not supported/);
    });
  });
});
