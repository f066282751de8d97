import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderHosts, renderResolvConf, writeEtcFiles } from '../../../shared/runtime/etc-files.ts';
import { scratchDir } from '../../helpers/tmp.ts';

describe('etc files', () => {
  it('hosts: localhost, add-host, host.containers.internal only with bridge, hostname', () => {
    const h = renderHosts({ hostname: 'box', addHosts: ['db:127.0.0.5', 'v6:[::1]'], network: 'none', hostGatewayIP: '127.0.0.9' });
    expect(h).toContain('127.0.0.1\tlocalhost');
    expect(h).toContain('127.0.0.5\tdb\n');
    expect(h).toContain('::1\tv6\n');
    expect(h).toMatch(/\tbox\n$/);
    expect(h).not.toContain('host.containers.internal');
    expect(renderHosts({ hostname: 'b', network: 'bridge', hostGatewayIP: '127.0.0.9' })).toContain('127.0.0.9\thost.containers.internal');
    expect(() => renderHosts({ hostname: 'b', network: 'none', addHosts: ['noip'] })).toThrow(/add-host/);
  });

  it('resolv.conf: loopback servers dropped unless host network; --dns replaces', () => {
    const host = 'search example.test\nnameserver 127.0.0.53\nnameserver 127.0.0.2\noptions edns0\n';
    expect(renderResolvConf(host, { network: 'none' })).toBe('search example.test\noptions edns0\n');
    expect(renderResolvConf(host, { network: 'host' })).toContain('nameserver 127.0.0.53');
    expect(renderResolvConf(host, { network: 'bridge', dns: ['127.0.0.7'], dnsSearch: ['a.test'], dnsOptions: ['ndots:2'] })).toBe('search a.test\nnameserver 127.0.0.7\noptions ndots:2\n');
    expect(() => renderResolvConf(host, { network: 'none', dns: ['not-ip'] })).toThrow(/--dns/);
  });

  it('writes the four files 0644', async () => {
    const s = await scratchDir();
    try {
      await writeFile(join(s.dir, 'resolv'), 'nameserver 127.0.0.1\n');
      const f = await writeEtcFiles(join(s.dir, 'c'), { hostname: 'box', network: 'none', hostResolvConf: join(s.dir, 'resolv'), containerEnv: { name: 'n', id: 'abc', image: 'localhost/busybox:latest', imageId: 'sha256:00', rootless: false } });
      for (const p of Object.values(f)) expect((await stat(p)).mode & 0o777).toBe(0o644);
      expect(await readFile(f.hostname, 'utf8')).toBe('box\n');
      expect(await readFile(f.containerEnv, 'utf8')).toBe('engine="skiff-0.1.0"\nname="n"\nid="abc"\nimage="localhost/busybox:latest"\nimageid="sha256:00"\nrootless=0\n');
      expect(await readFile(f.resolvConf, 'utf8')).toBe('');
    } finally {
      await s.cleanup();
    }
  });
});
