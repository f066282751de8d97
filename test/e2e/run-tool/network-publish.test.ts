import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isSkiffError } from '../../../shared/errors.ts';
import { allocatePorts, parseExposedPort, parsePublish } from '../../../shared/network/publish.ts';
import { checkNetworkName } from '../../../shared/network/network-config.ts';
import { cidrsOverlap, parseCidr } from '../../../shared/network/ip.ts';

describe('parsePublish (podman 4 -p syntax)', () => {
  const ok: Array<[string, unknown]> = [
    ['80', [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }]],
    ['8080:80', [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]],
    ['127.0.0.1:8080:80', [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]],
    ['127.0.0.1::80', [{ hostIp: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' }]],
    ['0.0.0.0:8080:80', [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]],
    ['[::1]:8080:80', [{ hostIp: '::1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]],
    ['53:53/udp', [{ hostPort: 53, containerPort: 53, protocol: 'udp' }]],
    ['53:53/UDP', [{ hostPort: 53, containerPort: 53, protocol: 'udp' }]],
    ['5353:53/tcp,udp', [{ hostPort: 5353, containerPort: 53, protocol: 'tcp' }, { hostPort: 5353, containerPort: 53, protocol: 'udp' }]],
    ['8000-8010:80-90', [{ hostPort: 8000, containerPort: 80, protocol: 'tcp', range: 11 }]],
    ['80-82', [{ hostPort: 0, containerPort: 80, protocol: 'tcp', range: 3 }]],
    [':80', [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }]],
  ];
  for (const [spec, want] of ok) it(`accepts ${spec}`, () => expect(parsePublish(spec)).toEqual(want));

  const bad: Array<[string, RegExp]> = [
    ['', /must provide a non-empty container port/],
    ['8080:', /must provide a non-empty container port/],
    ['80/tcp/udp', /protocol can only be specified once/],
    ['80/', /non-empty protocol/],
    ['80/icmp', /unrecognized protocol/],
    ['1:2:3:4', /format is \[\[hostIP:\]hostPort:\]containerPort/],
    ['::1:8080:80', /format is/],
    ['[::1]:80', /must provide host and destination port/],
    ['[::1]8080:80', /must be followed by a colon/],
    ['::1]:8080:80', /must be enclosed by \[\]/],
    ['[::1]:[::2]:80', /at most one IPv6 address/],
    ['300.1.1.1:8080:80', /cannot parse "300.1.1.1" as an IP address/],
    ['localhost:8080:80', /cannot parse "localhost"/],
    [':8080:80', /non-empty container host IP/],
    ['0', /parsing container port: port numbers must be between 1 and 65535 \(inclusive\), got 0/],
    ['65536', /got 65536/],
    ['-1', /port numbers cannot be negative/],
    ['abc', /invalid port number/],
    ['80-', /must provide ending number for port range/],
    ['90-80', /90 is not higher|80 is not higher than 90/],
    ['1-2-3', /port ranges are formatted as startPort-stopPort/],
    ['8000-8001:80', /parsing host port|different lengths: 2 vs 1/],
    ['8080:80-81', /different lengths: 1 vs 2/],
  ];
  for (const [spec, msg] of bad) {
    it(`rejects ${JSON.stringify(spec)}`, () => {
      let err: unknown;
      try {
        parsePublish(spec);
      } catch (e) {
        err = e;
      }
      expect(isSkiffError(err, 'EINVALID')).toBe(true);
      expect((err as Error).message).toMatch(msg);
    });
  }
  it('sctp is EUNSUPPORTED', () => expect(() => parsePublish('80/sctp')).toThrow(/sctp/));
});

describe('allocatePorts', () => {
  it('assigns free host ports to hostPort 0, keeps explicit ones, -P publishes exposed ports not yet published', async () => {
    const got = await allocatePorts(parsePublish('127.0.0.1::80'), { publishAll: true, exposedPorts: ['80/tcp', '53/udp', '9000-9001'] });
    expect(got).toHaveLength(3);
    expect(got[0]).toMatchObject({ hostIp: '127.0.0.1', containerPort: 80, protocol: 'tcp' });
    expect(got[0]!.hostPort).toBeGreaterThan(0);
    expect(got[1]).toMatchObject({ containerPort: 53, protocol: 'udp' });
    expect(got[1]!.hostPort).toBeGreaterThan(0);
    expect(got[2]).toMatchObject({ containerPort: 9000, range: 2, protocol: 'tcp' });
    expect(new Set(got.map((p) => `${p.protocol}/${p.hostPort}`)).size).toBe(3);
  });

  it('a busy explicit host port is EEXIST (address already in use); a port published twice is EINVALID', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    try {
      await expect(allocatePorts(parsePublish(`127.0.0.1:${port}:80`))).rejects.toThrow(/address already in use/);
    } finally {
      srv.close();
    }
    const free = (await allocatePorts(parsePublish('127.0.0.1::80')))[0]!.hostPort;
    await expect(allocatePorts([...parsePublish(`127.0.0.1:${free}:80`), ...parsePublish(`127.0.0.1:${free}:81`)])).rejects.toThrow(/published twice/);
  });

  it('rejects a malformed image ExposedPorts key', async () => {
    expect(parseExposedPort('80/tcp')).toEqual({ containerPort: 80, range: 1, protocol: 'tcp' });
    expect(parseExposedPort('x/tcp')).toBeUndefined();
    await expect(allocatePorts([], { publishAll: true, exposedPorts: ['../etc'] })).rejects.toThrow(/invalid exposed port/);
  });
});

describe('network names and subnets', () => {
  it('RU-07 network names are validated as podman (no path characters, no leading dot, length cap)', () => {
    for (const n of ['podman', 'my-net_1.x', 'A1']) expect(checkNetworkName(n)).toBe(n);
    for (const n of ['a/b', '../x', '.x', '-x', '', 'x/', 'a b', 'x'.repeat(1000)]) expect(() => checkNetworkName(n)).toThrow(/names must match/);
  });
  it('CIDR parsing and overlap', () => {
    expect(parseCidr('10.88.1.7/16')).toMatchObject({ prefix: 16, size: 65536 });
    expect(parseCidr('10.88.0.0/33')).toBeUndefined();
    expect(cidrsOverlap('10.88.0.0/16', '10.88.5.0/24')).toBe(true);
    expect(cidrsOverlap('10.89.0.0/24', '10.89.1.0/24')).toBe(false);
  });
});
