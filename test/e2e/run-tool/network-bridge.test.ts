import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSkiffError } from '../../../shared/errors.ts';
import { ensureUnpacked } from '../../../shared/layer/unpack-cache.ts';
import type { Digest } from '../../../shared/oci/digest.ts';
import type { ImageConfig, Manifest } from '../../../shared/oci/types.ts';
import { buildSpec } from '../../../shared/runtime/build-spec.ts';
import { createBundle, teardownBundle, writeBundleConfig } from '../../../shared/runtime/bundle.ts';
import { writeEtcFiles } from '../../../shared/runtime/etc-files.ts';
import { ensurePrivateDir, Runc } from '../../../shared/runtime/runc.ts';
import { requireProgram } from '../../../shared/process/system-programs.ts';
import { openStore } from '../../../shared/store/store.ts';
import { attachNetwork, detachNetwork, readAttachment } from '../../../shared/network/attach.ts';
import { createNetwork, defaultNetworkConfig, networkPaths } from '../../../shared/network/network-config.ts';
import { HOST_ADDRESSES_DIR } from '../../../shared/network/host-addresses.ts';
import { freePort, parsePublish } from '../../../shared/network/publish.ts';
import { text } from 'node:stream/consumers';
import type { NetworkPlan, NetworkState } from '../../../shared/network/types.ts';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { hasPrograms, isRoot, scratchDir } from '../../helpers/tmp.ts';


/** GET http://127.0.0.1:port/ — only loopback, bounded retries. */
async function get(port: number, tries = 50): Promise<{ status: number; body: string }> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/', timeout: 2000, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end();
      });
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw last;
}

function natRules(): string {
  return execFileSync('iptables', ['-t', 'nat', '-S']).toString();
}

// A private subnet and bridge name per run, so nothing collides with podman's own podman0/10.88 or other runs.
const tag = (process.pid % 200) + 20;
const SUBNET = `10.231.${tag}.0/24`;
const BRIDGE = `skt${process.pid % 100000}`;

describe.skipIf(!isRoot || !hasBusybox || !hasPrograms('runc', 'netavark', 'ip'))('rootful networking through netavark (real runc)', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let root: string;
  let lowers: string[];
  let image: ImageConfig;
  let runc: Runc;
  const live: Array<{ id: string; dir: string; state?: NetworkState }> = [];
  /** networks attached without a container yet: detached in afterAll (detach is idempotent) */
  const attached: { id: string; state: NetworkState }[] = [];

  beforeAll(async () => {
    s = await scratchDir('skiff-net-');
    root = join(s.dir, 'store');
    await makeBusyboxImage(root, s.dir);
    const store = await openStore(root);
    try {
      const desc = await store.layout.resolve('localhost/busybox:latest');
      const manifest = JSON.parse(await text(await store.blobs.open(desc))) as Manifest;
      image = JSON.parse(await text(await store.blobs.open(manifest.config))) as ImageConfig;
      lowers = await ensureUnpacked(store.paths.overlay, manifest.layers.map((l, i) => ({ diffID: image.rootfs.diff_ids[i] as Digest, open: () => store.blobs.open(l) })));
    } finally {
      await store.close();
    }
    // the default network "podman", overridden for this store with its own bridge and subnet
    const p = networkPaths(root);
    await mkdir(p.configs, { recursive: true });
    const cfg = { ...defaultNetworkConfig(), network_interface: BRIDGE, subnets: [{ subnet: SUBNET, gateway: `10.231.${tag}.1` }] };
    await writeFile(join(p.configs, 'podman.json'), JSON.stringify(cfg));
    await writeFile(join(s.dir, 'resolv.conf'), 'nameserver 127.0.0.53\n');
    const rroot = join(s.dir, 'runc-root');
    await ensurePrivateDir(rroot);
    runc = new Runc(requireProgram('runc'), rroot);
  });

  afterAll(async () => {
    for (const a of attached) await detachNetwork(a.id, a.state, { root, rootless: false }).catch(() => {});
    for (const c of live) {
      await runc?.delete(c.id, { force: true }).catch(() => {});
      await detachNetwork(c.id, c.state, { root, rootless: false }).catch(() => {});
      await teardownBundle(c.dir).catch(() => {});
    }
    await s?.cleanup();
  });

  /** Creates (runc create) a busybox container running `args` joined to `state`'s namespace. */
  async function create(id: string, args: string[], state: NetworkState | undefined, files: Record<string, string> = {}, hostname = 'c1'): Promise<{ dir: string }> {
    const dir = join(s.dir, 'bundles', id);
    const entry = { id, dir, ...(state && { state }) };
    live.push(entry);
    const b = await createBundle(dir, lowers);
    for (const [path, body] of Object.entries(files)) {
      await mkdir(join(b.rootfs, path, '..'), { recursive: true });
      await writeFile(join(b.rootfs, path), body);
    }
    const etc = await writeEtcFiles(join(dir, 'etc'), {
      hostname,
      network: state && state.mode !== 'none' ? 'bridge' : 'none',
      ...(state?.ips[0] && { containerIP: state.ips[0] }),
      ...(state && state.dnsServers.length > 0 && { dns: state.dnsServers }),
      hostResolvConf: join(s.dir, 'resolv.conf'),
      containerEnv: { name: id, id, image: 'localhost/busybox:latest', imageId: 'sha256:00', rootless: false },
    });
    const spec = await buildSpec(image.config ?? {}, b.rootfs, {
      args,
      etcFiles: etc,
      hostname,
      noNewPrivileges: false,
      network: state?.netnsPath ? 'bridge' : 'none',
      ...(state?.netnsPath && { netnsPath: state.netnsPath }),
    });
    await writeBundleConfig(b, spec);
    await runc.create(id, b.dir, { stdio: ['ignore', 'ignore', 'ignore'] });
    return { dir };
  }

  async function destroy(id: string): Promise<void> {
    await runc.delete(id, { force: true });
    const i = live.findIndex((c) => c.id === id);
    if (i >= 0) {
      await teardownBundle(live[i]!.dir);
      live.splice(i, 1);
    }
  }

  it('bridge: publish 127.0.0.1:<port>:80 to busybox httpd, fetch it, detach removes rules, netns and IP', async () => {
    const id = randomBytes(32).toString('hex');
    const port = await freePort('tcp', '127.0.0.1');
    const plan: NetworkPlan = { mode: 'bridge', ports: parsePublish(`127.0.0.1:${port}:80`), hostname: 'web' };
    const state = await attachNetwork(id, plan, { root, rootless: false });
    attached.push({ id, state }); // a failed assertion below must not leave the namespace and its rules behind
    expect(state.mode).toBe('bridge');
    expect(state.netnsPath).toBe(`/run/netns/skiff-${id}`);
    expect(existsSync(state.netnsPath!)).toBe(true);
    // an address of the subnet, not necessarily .2: the host-wide registry hands out the address after the last one
    // it gave on this subnet (as podman's IPAM), and an earlier run with the same tag may have used the subnet
    expect(state.ips).toHaveLength(1);
    expect(state.ips[0]).toMatch(new RegExp(`^10\\.231\\.${tag}\\.([2-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-4])$`, 'u'));
    expect(state.gateway).toBe(`10.231.${tag}.1`);
    expect(state.ports).toEqual([{ hostIp: '127.0.0.1', hostPort: port, containerPort: 80, protocol: 'tcp' }]);
    expect(state.networks[0]).toMatchObject({ name: 'podman', interfaceName: 'eth0', cidrs: [`${state.ips[0]}/24`] });
    // the record teardown needs is on disk
    expect((await readAttachment(root, id))?.netavarkOptions).toBeDefined();
    expect(natRules()).toContain(`--dport ${port}`);

    await create(id, ['httpd', '-f', '-p', '80', '-h', '/www'], state, { 'www/index.html': 'hello from skiff\n' });
    await runc.start(id);
    const r = await get(port);
    expect(r).toEqual({ status: 200, body: 'hello from skiff\n' });
    await destroy(id);

    await detachNetwork(id, state, { root, rootless: false });
    expect(natRules()).not.toContain(`--dport ${port}`);
    expect(existsSync(state.netnsPath!)).toBe(false);
    expect(await readAttachment(root, id)).toBeUndefined();
    const ipam = JSON.parse(await readFile(join(networkPaths(root).ipam, 'podman.json'), 'utf8')) as { allocations: Record<string, string> };
    expect(Object.values(ipam.allocations)).not.toContain(id);
    await expect(get(port, 1)).rejects.toThrow(/ECONNREFUSED/);
    // idempotent
    await detachNetwork(id, state, { root, rootless: false });
  });

  it('teardown from the on-disk record alone (killed CLI), attach twice is idempotent, IPs are not reused while held', async () => {
    const id = randomBytes(32).toString('hex');
    const id2 = randomBytes(32).toString('hex');
    const port = await freePort('tcp', '127.0.0.1');
    const plan: NetworkPlan = { mode: 'bridge', ports: parsePublish(`127.0.0.1:${port}:8080`), hostname: 'x' };
    const a = await attachNetwork(id, plan, { root, rootless: false });
    const again = await attachNetwork(id, plan, { root, rootless: false });
    const b = await attachNetwork(id2, { mode: 'bridge', ports: [], hostname: 'y' }, { root, rootless: false });
    expect(b.ips[0]).not.toBe(again.ips[0]);
    expect(natRules().split(`--dport ${port}`).length - 1).toBeGreaterThan(0);
    expect(a.netnsPath).toBe(again.netnsPath);
    // no state in hand: detach reads the record
    await detachNetwork(id, undefined, { root, rootless: false });
    await detachNetwork(id2, undefined, { root, rootless: false });
    expect(natRules()).not.toContain(`--dport ${port}`);
    expect(existsSync(a.netnsPath!)).toBe(false);
    expect(await readAttachment(root, id)).toBeUndefined();
  });

  it('two stores on one bridge never hand out the same address: the host-wide registry sees both, and detach releases it', async () => {
    // a second store with the same "podman" network (same bridge, same subnet), as two users of the default network
    const root2 = join(s.dir, 'store2');
    const p2 = networkPaths(root2);
    await mkdir(p2.configs, { recursive: true });
    await writeFile(join(p2.configs, 'podman.json'), await readFile(join(networkPaths(root).configs, 'podman.json')));
    const ids = [randomBytes(32).toString('hex'), randomBytes(32).toString('hex'), randomBytes(32).toString('hex')];
    const [a, b, c] = await Promise.all([
      attachNetwork(ids[0]!, { mode: 'bridge', ports: [], hostname: 'a' }, { root, rootless: false }),
      attachNetwork(ids[1]!, { mode: 'bridge', ports: [], hostname: 'b' }, { root: root2, rootless: false }),
      attachNetwork(ids[2]!, { mode: 'bridge', ports: [], hostname: 'c' }, { root: root2, rootless: false }),
    ]);
    try {
      expect(new Set([a.ips[0], b.ips[0], c.ips[0]]).size).toBe(3);
      const registry = JSON.parse(await readFile(join(HOST_ADDRESSES_DIR, `${SUBNET.replace('/', '_')}.json`), 'utf8')) as { leases: Record<string, { root: string; containerId: string }> };
      expect(registry.leases[b.ips[0]!]).toMatchObject({ root: root2, containerId: ids[1] });
      expect(registry.leases[a.ips[0]!]).toMatchObject({ root, containerId: ids[0] });
    } finally {
      await detachNetwork(ids[0]!, undefined, { root, rootless: false });
      await detachNetwork(ids[1]!, undefined, { root: root2, rootless: false });
      await detachNetwork(ids[2]!, undefined, { root: root2, rootless: false });
    }
    const after = JSON.parse(await readFile(join(HOST_ADDRESSES_DIR, `${SUBNET.replace('/', '_')}.json`), 'utf8')) as { leases: Record<string, { containerId: string }> };
    expect(Object.values(after.leases).filter((l) => ids.includes(l.containerId))).toEqual([]);
  });

  it('a host port in use fails with EEXIST and leaves nothing behind', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    const id = randomBytes(32).toString('hex');
    try {
      const e = await attachNetwork(id, { mode: 'bridge', ports: parsePublish(`127.0.0.1:${port}:80`), hostname: 'z' }, { root, rootless: false }).catch((x: unknown) => x);
      expect(isSkiffError(e, 'EEXIST')).toBe(true);
      expect(String((e as Error).message)).toMatch(/address already in use/);
      expect(await readAttachment(root, id)).toBeUndefined();
      expect(existsSync(`/run/netns/skiff-${id}`)).toBe(false);
    } finally {
      srv.close();
    }
  });

  it.skipIf(!hasPrograms('aardvark-dns'))('two containers on a user network resolve each other by name through aardvark-dns', async () => {
    const net = await createNetwork(root, { name: `skt-dns-${process.pid}`, subnet: `10.232.${tag}.0/24`, interfaceName: `skd${process.pid % 100000}` });
    expect(net.dns_enabled).toBe(true);
    const idA = randomBytes(32).toString('hex');
    const idB = randomBytes(32).toString('hex');
    const sa = await attachNetwork(idA, { mode: 'bridge', networks: [net.name], ports: [], hostname: 'alpha' }, { root, rootless: false });
    const sb = await attachNetwork(idB, { mode: 'bridge', networks: [net.name], ports: [], hostname: 'beta', aliases: ['b-alias'] }, { root, rootless: false });
    try {
      expect(sa.dnsServers).toEqual([`10.232.${tag}.1`]);
      await create(idA, ['sleep', '60'], sa, {}, 'alpha');
      await runc.start(idA);
      // beta looks alpha up through aardvark (the gateway address on our own bridge) and prints the answer
      const out: Buffer[] = [];
      const dir = join(s.dir, 'bundles', idB);
      live.push({ id: idB, dir, state: sb });
      const bb = await createBundle(dir, lowers);
      const etc = await writeEtcFiles(join(dir, 'etc'), { hostname: 'beta', network: 'bridge', containerIP: sb.ips[0]!, dns: sb.dnsServers, hostResolvConf: join(s.dir, 'resolv.conf'), containerEnv: { name: 'beta', id: idB, image: 'b', imageId: 'sha256:00', rootless: false } });
      const lookup = 'for i in 1 2 3 4 5 6 7 8 9 10; do nslookup alpha && nslookup b-alias && exit 0; sleep 0.3; done; exit 1';
      await writeBundleConfig(bb, await buildSpec(image.config ?? {}, bb.rootfs, { args: ['sh', '-c', lookup], etcFiles: etc, hostname: 'beta', noNewPrivileges: false, network: 'bridge', netnsPath: sb.netnsPath! }));
      const code = await runc.run(idB, bb.dir, { stdio: ['ignore', 'pipe', 'pipe'], onSpawn: (c) => { c.stdout!.on('data', (d: Buffer) => out.push(d)); c.stderr!.on('data', (d: Buffer) => out.push(d)); } });
      const text = Buffer.concat(out).toString();
      expect(text).toContain(sa.ips[0]!);
      expect(text).toContain(sb.ips[0]!);
      expect(code).toBe(0);
    } finally {
      await destroy(idA).catch(() => {});
      await destroy(idB).catch(() => {});
      await detachNetwork(idA, sa, { root, rootless: false });
      await detachNetwork(idB, sb, { root, rootless: false });
    }
    expect(existsSync(`/sys/class/net/skd${process.pid % 100000}`)).toBe(false);
  });
});
