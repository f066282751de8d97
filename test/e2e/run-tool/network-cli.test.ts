import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';

const hasPodman = spawnSync('sh', ['-c', 'command -v podman'], { stdio: 'ignore' }).status === 0;

/** The first `count` podmanN bridge names (N ≥ 1) no interface of this host has: other stores' bridges are skipped. */
function freeBridges(count: number): string[] {
  const host = new Set(readdirSync('/sys/class/net'));
  const out: string[] = [];
  for (let i = 1; out.length < count; i++) if (!host.has(`podman${i}`)) out.push(`podman${i}`);
  return out;
}

describe('run-tool network create|ls|inspect|rm', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let bin: string;
  let root: string;
  const rt = (args: string[]) => spawnSync(process.execPath, [bin, '--root', root, ...args], { encoding: 'utf8' });

  beforeAll(async () => {
    s = await scratchDir('skiff-netcli-');
    bin = join(s.dir, 'rt.mjs');
    await build({ entryPoints: [join(import.meta.dirname, 'network-cli-entry.ts')], outfile: bin, bundle: true, platform: 'node', format: 'esm', target: 'node22', logLevel: 'warning' });
    root = join(s.dir, 'store');
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  it.skipIf(!isRoot)("a new network's bridge skips a name a host interface has (another store's bridge)", () => {
    // in a network namespace of its own, with sysfs remounted there, where a bridge podman1 stands for another store's bridge
    const r = spawnSync('unshare', ['-n', '-m', 'sh', '-c', 'mount -t sysfs sysfs /sys && ip link add podman1 type bridge && "$@"', 'sh', process.execPath, bin, '--root', join(s.dir, 'hoststore'), 'network', 'create', 'clash'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const made = JSON.parse(spawnSync(process.execPath, [bin, '--root', join(s.dir, 'hoststore'), 'network', 'inspect', 'clash'], { encoding: 'utf8' }).stdout) as { network_interface: string }[];
    expect(made[0]!.network_interface).toBe('podman2');
  });

  it('round trip: create, ls (table, -q, --format, --no-trunc, --filter), inspect, rm', () => {
    const [b1, b2] = freeBridges(2);
    let r = rt(['network', 'ls']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('NETWORK ID    NAME        DRIVER\n2f259bab93aa  podman      bridge\n');
    r = rt(['network', 'create', '--subnet', '10.233.7.0/24', '--label', 'a=b', '--internal', 'bar']);
    expect(r).toMatchObject({ status: 0, stdout: 'bar\n' });
    r = rt(['network', 'create', 'foo']);
    expect(r).toMatchObject({ status: 0, stdout: 'foo\n' });
    const cfg = join(root, 'networks/configs/bar.json');
    expect(existsSync(cfg)).toBe(true);
    expect(statSync(join(root, 'networks')).mode & 0o777).toBe(0o700);
    expect(rt(['network', 'ls', '-q']).stdout).toBe('bar\nfoo\npodman\n');
    expect(rt(['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Internal}} {{.NetworkInterface}}']).stdout).toBe(`bar bridge true ${b1}\nfoo bridge false ${b2}\npodman bridge false podman0\n`);
    expect(rt(['network', 'ls', '--filter', 'name=^fo', '--noheading', '--no-trunc']).stdout).toMatch(/^[0-9a-f]{64} {2}foo {9}bridge\n$/);
    const [bar] = JSON.parse(rt(['network', 'inspect', 'bar']).stdout) as Array<Record<string, unknown>>;
    expect(bar).toMatchObject({ name: 'bar', driver: 'bridge', network_interface: b1, subnets: [{ subnet: '10.233.7.0/24', gateway: '10.233.7.1' }], ipv6_enabled: false, internal: true, dns_enabled: true, labels: { a: 'b' }, ipam_options: { driver: 'host-local' } });
    const foo = (JSON.parse(rt(['network', 'inspect', 'foo']).stdout) as Array<{ subnets: unknown; id: string }>)[0]!;
    expect(foo.subnets).toEqual([{ subnet: '10.89.0.0/24', gateway: '10.89.0.1' }]);
    // by ID prefix
    expect(JSON.parse(rt(['network', 'inspect', foo.id.slice(0, 10)]).stdout)[0].name).toBe('foo');
    expect(rt(['network', 'inspect', '--format', '{{.name}}:{{.network_interface}}', 'foo', 'podman']).stdout).toBe(`foo:${b2}\npodman:podman0\n`);
    // errors: podman's messages and exit codes
    r = rt(['network', 'create', 'foo']);
    expect(r.status).toBe(125);
    expect(r.stderr).toContain('network name foo already used: network already exists');
    r = rt(['network', 'create', 'a/../../x']);
    expect(r.status).toBe(125);
    expect(r.stderr).toContain('names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*');
    r = rt(['network', 'create', '--subnet', '10.233.7.128/25', 'clash']);
    expect(r.status).toBe(125);
    r = rt(['network', 'create', '-d', 'macvlan', 'mv']);
    expect(r.status).toBe(125);
    r = rt(['network', 'inspect', 'nope']);
    expect(r).toMatchObject({ status: 125, stdout: '[]\n' });
    expect(r.stderr).toContain('unable to find network with name or ID nope');
    r = rt(['network', 'rm', 'nope']);
    expect(r.status).toBe(1);
    r = rt(['network', 'rm', 'podman']);
    expect(r.status).toBe(125);
    r = rt(['network', 'rm', 'foo', 'bar']);
    expect(r).toMatchObject({ status: 0, stdout: 'foo\nbar\n' });
    expect(rt(['network', 'ls', '-q']).stdout).toBe('podman\n');
  });

  it.skipIf(!hasPodman)('inspect matches podman network inspect field by field (same create flags)', () => {
    const pd = join(s.dir, 'podman');
    const podman = (args: string[]) => spawnSync('podman', ['--root', join(pd, 'root'), '--runroot', join(pd, 'run'), '--tmpdir', join(pd, 'tmp'), '--network-config-dir', join(pd, 'netcfg'), ...args], { encoding: 'utf8' });
    const flags = ['--subnet', '10.234.9.0/24', '--gateway', '10.234.9.254', '--label', 'k=v', '--internal', 'cmp'];
    expect(podman(['network', 'create', ...flags]).status).toBe(0);
    expect(rt(['network', 'create', ...flags]).status).toBe(0);
    const theirs = JSON.parse(podman(['network', 'inspect', 'cmp', 'podman']).stdout) as Array<Record<string, unknown>>;
    const oursText = rt(['network', 'inspect', 'cmp', 'podman']).stdout;
    const ours = JSON.parse(oursText) as Array<Record<string, unknown>>;
    const strip = (n: Record<string, unknown>) => ({ ...n, id: typeof n.id, created: typeof n.created });
    expect(ours.map(strip)).toEqual(theirs.map(strip));
    expect(Object.keys(ours[0]!)).toEqual(Object.keys(theirs[0]!));
    // same indentation (Go's MarshalIndent with five spaces)
    expect(oursText.split('\n')[1]).toBe(podman(['network', 'inspect', 'cmp']).stdout.split('\n')[1]);
    expect(rt(['network', 'ls', '--noheading', '--format', '{{.Name}} {{.Driver}}']).stdout).toBe(podman(['network', 'ls', '--noheading', '--format', '{{.Name}} {{.Driver}}']).stdout);
    expect(podman(['network', 'rm', 'cmp']).status).toBe(0);
    expect(rt(['network', 'rm', 'cmp']).status).toBe(0);
  });
});
