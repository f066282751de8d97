// run-tool networking wired end to end: the default bridge (netavark), named networks with aardvark-dns, -p/-P,
// ps/port/inspect, teardown on stop/rm and after a killed CLI. Real runc, conmon and netavark; ports on 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultNetworkConfig, networkPaths } from '../../../shared/network/network-config.ts';
import { openStore } from '../../../shared/store/store.ts';
import { importTarball } from '../../../shared/transport/tarball.ts';
import { busyboxTarball, hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { hasPrograms, isRoot, scratchDir } from '../../helpers/tmp.ts';
import { freeLocalPort, hasConmon, httpGet, httpGetRetry, rtSync } from './integration-helpers.ts';

const hasNetavark = hasPrograms('netavark', 'ip');

// a private bridge and subnet per run (the store's own "podman" network), so nothing collides with other runs
const tag = (process.pid % 200) + 20;
const BRIDGE = `ski${process.pid % 100000}`;
const SUBNET = `10.234.${tag}.0/24`;
const GATEWAY = `10.234.${tag}.1`;

describe.skipIf(!isRoot || !hasBusybox || !hasConmon || !hasNetavark)('run-tool networking (netavark bridge, published ports)', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let root = '';
  const rt = (args: string[], o: { input?: string } = {}) => rtSync(root, args, o);
  const nat = () => execFileSync('iptables', ['-t', 'nat', '-S']).toString();

  beforeAll(async () => {
    s = await scratchDir('skiff-int-net-');
    root = join(s.dir, 'root');
    await makeBusyboxImage(root, s.dir);
    const store = await openStore(root);
    try {
      await importTarball(store, busyboxTarball(s.dir), { name: 'localhost/exposed:latest', config: { ExposedPorts: { '8080/tcp': {} }, Cmd: ['sh', '-c', 'echo P > /tmp/i; exec httpd -f -p 8080 -h /tmp'] } });
    } finally {
      await store.close();
    }
    const p = networkPaths(root);
    await mkdir(p.configs, { recursive: true });
    await writeFile(join(p.configs, 'podman.json'), JSON.stringify({ ...defaultNetworkConfig(), network_interface: BRIDGE, subnets: [{ subnet: SUBNET, gateway: GATEWAY }] }));
  }, 120_000);

  afterAll(async () => {
    if (root) rt(['rm', '-a', '-f']);
    await s?.cleanup();
  });

  it('the default network is the bridge: container IP in /etc/hosts, the netns in the spec', () => {
    const r = rt(['run', '--rm', '--name', 'b1', 'busybox', 'sh', '-c', 'ip -4 -o addr show eth0; tail -n 2 /etc/hosts; readlink /proc/self/ns/net']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const ip = /inet (10\.234\.\d+\.\d+)\/24/.exec(r.stdout)?.[1];
    expect(ip).toBeDefined();
    expect(r.stdout).toContain(`${GATEWAY}\thost.containers.internal host.docker.internal\n`);
    expect(r.stdout).toMatch(new RegExp(`${ip!.replace(/\./g, '\\.')}\\t[0-9a-f]{12} b1\\n`));
    // everything is released once the foreground run ends
    expect(readdirSync(networkPaths(root).attachments).filter((f) => f.endsWith('.json'))).toEqual([]);
    // (other tests' containers may hold netns files meanwhile: look for this container's, by the short id in /etc/hosts)
    const shortId = new RegExp(`\\t([0-9a-f]{12}) b1\\n`).exec(r.stdout)?.[1];
    expect(shortId).toBeDefined();
    expect(readdirSync('/run/netns').filter((n) => n.startsWith(`skiff-${shortId}`))).toEqual([]);
  });

  it('run -d -p 127.0.0.1:PORT:80 serves from the host; ps, port and inspect show it; stop and rm remove the rules', async () => {
    const port = await freeLocalPort();
    const d = rt(['run', '-d', '--name', 'web', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sh', '-c', 'echo hello from skiff > /tmp/index.html; exec httpd -f -p 80 -h /tmp']);
    expect(d.stderr).toBe('');
    expect(d.status).toBe(0);
    const id = d.stdout.trim();
    expect(await httpGetRetry(port, '/index.html')).toBe('hello from skiff\n');
    expect(rt(['ps', '--format', '{{.Names}} {{.Ports}}']).stdout).toBe(`web 127.0.0.1:${port}->80/tcp\n`);
    expect(rt(['ps']).stdout.split('\n')[1]).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}->80/tcp\\s+web$`));
    expect(rt(['port', 'web']).stdout).toBe(`80/tcp -> 127.0.0.1:${port}\n`);
    expect(rt(['port', 'web', '80']).stdout).toBe(`127.0.0.1:${port}\n`);
    const ins = JSON.parse(rt(['inspect', 'web']).stdout)[0];
    expect(ins.NetworkSettings.IPAddress).toMatch(new RegExp(`^10\\.234\\.${tag}\\.\\d+$`));
    expect(ins.NetworkSettings.Gateway).toBe(GATEWAY);
    expect(ins.NetworkSettings.IPPrefixLen).toBe(24);
    expect(ins.NetworkSettings.Ports).toEqual({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });
    expect(ins.NetworkSettings.SandboxKey).toBe(`/run/netns/skiff-${id}`);
    expect(ins.NetworkSettings.Networks.podman.IPAddress).toBe(ins.NetworkSettings.IPAddress);
    expect(ins.HostConfig.NetworkMode).toBe('bridge');
    expect(ins.HostConfig.PortBindings).toEqual({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });
    expect(JSON.parse(rt(['ps', '--format', 'json']).stdout)[0].Networks).toEqual(['podman']);
    expect(nat()).toContain(String(port));

    expect(rt(['stop', '-t', '0', 'web']).status).toBe(0);
    await expect(httpGet(port)).rejects.toThrow(/ECONNREFUSED/);
    expect(nat()).not.toContain(`--dport ${port} `);
    expect(existsSync(`/run/netns/skiff-${id}`)).toBe(false);
    expect(JSON.parse(rt(['inspect', 'web']).stdout)[0].NetworkSettings.IPAddress).toBe('');

    // a restart attaches again, with the same published port
    expect(rt(['start', 'web']).status).toBe(0);
    expect(await httpGetRetry(port, '/index.html')).toBe('hello from skiff\n');
    expect(rt(['rm', '-f', 'web']).status).toBe(0);
    await expect(httpGet(port)).rejects.toThrow(/ECONNREFUSED/);
    expect(nat()).not.toContain(`--dport ${port} `);
    expect(existsSync(join(networkPaths(root).attachments, `${id}.json`))).toBe(false);
  });

  it('-p with a random host port; -P assigns random host ports to exposed ports at create', async () => {
    const d = rt(['run', '-d', '--name', 'pa', '-p', '127.0.0.1::8080', 'busybox', 'sh', '-c', 'echo p > /tmp/i; exec httpd -f -p 8080 -h /tmp']);
    expect(d.status).toBe(0);
    const line = rt(['port', 'pa']).stdout;
    const m = /^8080\/tcp -> 127\.0\.0\.1:(\d+)\n$/.exec(line);
    expect(m).not.toBeNull();
    expect(await httpGetRetry(Number(m![1]), '/i')).toBe('p\n');
    expect(rt(['rm', '-f', 'pa']).status).toBe(0);
    // -P publishes on all addresses (podman's rule), so the tests only create such a container, never start it
    const all = rt(['create', '--name', 'pall', '-P', 'exposed']);
    expect(all.status).toBe(0);
    expect(rt(['port', 'pall']).stdout).toMatch(/^8080\/tcp -> 0\.0\.0\.0:\d+\n$/);
    expect(JSON.parse(rt(['inspect', 'pall']).stdout)[0].HostConfig.PublishAllPorts).toBe(true);
    expect(rt(['rm', 'pall']).status).toBe(0);
  });

  it('--network NAME joins a user network with aardvark-dns; none and host call no helper', () => {
    const sub = `10.235.${tag}.0/24`;
    expect(rt(['network', 'create', '--subnet', sub, '--interface-name', `skn${process.pid % 100000}`, 'itnet']).status).toBe(0);
    const r = rt(['run', '--rm', '--network', 'itnet', '--name', 'dnsy', 'busybox', 'sh', '-c', 'ip -4 -o addr show eth0; grep nameserver /etc/resolv.conf; nslookup dnsy 2>&1 | grep -c Address || true']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`inet 10\\.235\\.${tag}\\.\\d+/24`));
    expect(r.stdout).toContain(`nameserver 10.235.${tag}.1\n`);
    expect(rt(['network', 'rm', 'itnet']).status).toBe(0);

    const bad = rt(['run', '--rm', '--network', 'nosuchnet', 'busybox', 'true']);
    expect(bad.status).toBe(125);
    expect(bad.stderr).toMatch(/unable to find network with name or ID nosuchnet/);

    // none: loopback only, and -p is discarded with podman's warning
    const none = rt(['run', '--rm', '--network', 'none', '-p', '127.0.0.1:1:80', 'busybox', 'sh', '-c', 'ls /sys/class/net']);
    expect(none.stdout).toBe('lo\n');
    expect(none.stderr).toMatch(/Port mappings have been discarded/);
    const host = rt(['run', '--rm', '--network', 'host', 'busybox', 'readlink', '/proc/self/ns/net']);
    expect(host.stdout.trim()).toBe(execFileSync('readlink', ['/proc/self/ns/net']).toString().trim());
  });

  it('a killed CLI: rm -f tears the network down from the on-disk record', async () => {
    const port = await freeLocalPort();
    const d = rt(['create', '--name', 'orphan', '-p', `127.0.0.1:${port}:80`, 'busybox', 'httpd', '-f', '-p', '80']);
    expect(d.status).toBe(0);
    const id = d.stdout.trim();
    // start it the way a CLI that dies right after attaching leaves it: attached, then the container killed
    expect(rt(['start', 'orphan']).status).toBe(0);
    const conmon = Number(JSON.parse(rt(['inspect', 'orphan']).stdout)[0].State.ConmonPid);
    const pid = Number(JSON.parse(rt(['inspect', 'orphan']).stdout)[0].State.Pid);
    // kill the monitor first (no exit command runs), then the container
    process.kill(conmon, 'SIGKILL');
    process.kill(pid, 'SIGKILL');
    expect(existsSync(join(networkPaths(root).attachments, `${id}.json`))).toBe(true);
    expect(rt(['rm', '-f', 'orphan']).status).toBe(0);
    expect(existsSync(join(networkPaths(root).attachments, `${id}.json`))).toBe(false);
    expect(existsSync(`/run/netns/skiff-${id}`)).toBe(false);
    expect(nat()).not.toContain(`--dport ${port} `);
  });
});
