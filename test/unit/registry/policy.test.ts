import { describe, expect, it } from 'vitest';
import { parseRetryAfter, backoffDelay } from '../../../shared/registry/retry.ts';
import { checkRedirect, registryScope } from '../../../shared/registry/redirect-policy.ts';
import { classifyHost, refusalFor, sameAuthority, type HostClass } from '../../../shared/registry/host-class.ts';
import { parseWwwAuthenticate, mergeScopes } from '../../../shared/registry/auth.ts';
import { redactText, redactUrl } from '../../../shared/registry/redact.ts';
import { contentRangeMatches } from '../../../shared/registry/blob-stream.ts';
import { openRepository } from '../../../shared/registry/repository.ts';

describe('registry policies (pure)', () => {
  it('RC-09 parses Retry-After in both forms, capped', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(new Date(now + 5000).toUTCString(), now)).toBe(5000);
    expect(parseRetryAfter(new Date(now - 5000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('garbage', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('999999', now)).toBe(60_000);
    for (let a = 0; a < 10; a++) {
      const d = backoffDelay(a, 100, 2000);
      expect(d).toBeGreaterThanOrEqual(Math.min(2000, 100 * 2 ** a) / 2);
      expect(d).toBeLessThanOrEqual(2000);
    }
  });

  it('RC-12 refuses downgrades, link-local, remote→loopback and long chains by the target alone', () => {
    const remote = new URL('https://registry.example/v2/');
    const pub = { registry: registryScope('registry.example', false) };
    const local = { registry: registryScope('127.0.0.1:5000', true) };
    expect(() => checkRedirect(remote, new URL('http://registry.example/x'), pub)).toThrow(/downgrade/);
    expect(() => checkRedirect(remote, new URL('https://169.254.169.254/latest/meta-data'), pub)).toThrow(/link-local/);
    expect(() => checkRedirect(remote, new URL('https://[fe80::1]/x'), local)).toThrow(/link-local/);
    expect(() => checkRedirect(remote, new URL('https://127.0.0.1/x'), pub)).toThrow(/local address/);
    expect(() => checkRedirect(remote, new URL('https://localhost/x'), pub)).toThrow(/local address/);
    expect(() => checkRedirect(remote, new URL('file:///etc/passwd'), local)).toThrow(/scheme/);
    expect(() => checkRedirect(remote, new URL('https://cdn.example/x'), { ...pub, hops: 11 })).toThrow(/more than 10/);
    expect(() => checkRedirect(new URL('http://127.0.0.1:5000/'), new URL('http://127.0.0.2:6000/x'), local)).not.toThrow();
    expect(() => checkRedirect(remote, new URL('https://cdn.example/x?X-Amz-Signature=abc'), { ...pub, hops: 10 })).not.toThrow();
    expect(registryScope('127.0.0.1:5000', false).cls).toBe('loopback');
    expect(registryScope('localhost:5000', false).cls).toBe('loopback');
    expect(registryScope('[::1]:5000', false).cls).toBe('loopback');
    expect(registryScope('quay.io', false).cls).toBe('name');
  });

  it('classifies every spelling of an address after normalisation (IPv4 forms, mapped, compatible, NAT64)', () => {
    const cases: [string, HostClass][] = [
      ['0.0.0.0', 'unspecified'], ['0', 'unspecified'], ['[::]', 'unspecified'], ['::', 'unspecified'], ['0x0', 'unspecified'], ['[::ffff:0.0.0.0]', 'unspecified'],
      ['127.0.0.1', 'loopback'], ['127.1', 'loopback'], ['0x7f.1', 'loopback'], ['2130706433', 'loopback'], ['017700000001', 'loopback'], ['0177.0.0.1', 'loopback'],
      ['[::1]', 'loopback'], ['[::ffff:127.0.0.2]', 'loopback'], ['::ffff:7f00:2', 'loopback'], ['[::127.0.0.1]', 'loopback'], ['[64:ff9b::127.0.0.1]', 'loopback'],
      ['localhost', 'loopback'], ['LOCALHOST.', 'loopback'], ['a.localhost:5000', 'loopback'], ['127.0.0.1:5000', 'loopback'],
      ['169.254.169.254', 'link-local'], ['[::ffff:169.254.169.254]', 'link-local'], ['[::ffff:a9fe:a9fe]', 'link-local'], ['[::169.254.169.254]', 'link-local'],
      ['[64:ff9b::a9fe:a9fe]', 'link-local'], ['[::ffff:0:a9fe:a9fe]', 'link-local'], ['2852039166', 'link-local'], ['0xa9.0xfe.0xa9.0xfe', 'link-local'], ['0251.0376.0251.0376', 'link-local'],
      ['[fe80::1]', 'link-local'], ['[febf::1]', 'link-local'], ['[2002:a9fe:a9fe::1]', 'link-local'],
      ['10.0.0.1', 'private'], ['167772161', 'private'], ['[::ffff:10.0.0.1]', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'],
      ['100.64.0.1', 'private'], ['100.127.255.255', 'private'], ['[fc00::1]', 'private'], ['[fd12:3456::1]', 'private'], ['[64:ff9b:1::1]', 'private'],
      ['224.0.0.1', 'reserved'], ['255.255.255.255', 'reserved'], ['[ff02::1]', 'reserved'],
      ['172.32.0.1', 'public'], ['100.128.0.1', 'public'], ['8.8.8.8', 'public'], ['[2001:db8::1]', 'public'], ['[64:ff9b::808:808]', 'public'],
      ['registry.example', 'name'], ['registry.example:5000', 'name'], ['0x7f.1.example', 'name'], ['1.2.3.4.5', 'name'], ['256.1.1.1', 'name'],
    ];
    for (const [h, cls] of cases) expect([h, classifyHost(h)]).toEqual([h, cls]);
    // what the URL parser does first (canonical IPv4; IPv6 hex) is classified the same
    for (const [h, cls] of cases) {
      let u: URL;
      try {
        u = new URL(`http://${h.includes(':') && !h.startsWith('[') && !/:\d+$/.test(h) ? `[${h}]` : h}/`);
      } catch {
        continue;
      }
      expect([h, classifyHost(u.hostname)]).toEqual([h, cls]);
    }
  });

  it('one policy: unspecified and link-local never; loopback only from loopback; private only from private or insecure', () => {
    const pub = registryScope('registry.example', false);
    const pubInsecure = registryScope('registry.example', true);
    const lo = registryScope('127.0.0.1:5000', false);
    const priv = registryScope('10.1.2.3:5000', false);
    for (const r of [pub, pubInsecure, lo, priv]) {
      for (const t of ['0.0.0.0', '0', '[::]', '[::ffff:169.254.169.254]', '169.254.169.254', '[fe80::1]', '[64:ff9b::a9fe:a9fe]', '239.1.1.1']) expect(refusalFor(t, r)).toBeDefined();
      expect(refusalFor('registry.example', r)).toBeUndefined();
      expect(refusalFor('8.8.8.8', r)).toBeUndefined();
    }
    for (const t of ['127.0.0.2', '[::ffff:127.0.0.2]', '[::1]', '2130706433', 'localhost']) {
      expect(refusalFor(t, lo)).toBeUndefined();
      for (const r of [pub, pubInsecure, priv]) expect(refusalFor(t, r)).toMatch(/local address/);
    }
    for (const t of ['10.0.0.1', '[::ffff:10.0.0.1]', '192.168.0.1', '100.64.0.1', '[fd00::1]']) {
      expect(refusalFor(t, pub)).toMatch(/private address/);
      expect(refusalFor(t, lo)).toMatch(/private address/);
      expect(refusalFor(t, priv)).toBeUndefined();
      expect(refusalFor(t, pubInsecure)).toBeUndefined();
    }
  });

  it('credentials go only to a realm under the registry\'s authority', () => {
    const reg = { name: 'registry.example', apiHost: 'registry.example' };
    expect(sameAuthority('registry.example', reg)).toBe(true);
    expect(sameAuthority('registry.example:443', reg)).toBe(true);
    expect(sameAuthority('auth.registry.example', reg)).toBe(true);
    expect(sameAuthority('registry.example.evil', reg)).toBe(false);
    expect(sameAuthority('evilregistry.example', reg)).toBe(false);
    expect(sameAuthority('10.0.0.1', reg)).toBe(false);
    expect(sameAuthority('[::ffff:127.0.0.2]', { name: '127.0.0.1:5000', apiHost: '127.0.0.1:5000' })).toBe(false);
    expect(sameAuthority('127.0.0.1:6000', { name: '127.0.0.1:5000', apiHost: '127.0.0.1:5000' })).toBe(true);
  });

  it('RC-19 redacts URLs and secrets in text', () => {
    const u = redactUrl('https://user:pw@s3.example/bucket/blob?X-Amz-Signature=SECRET&X-Amz-Credential=CRED&n=2');
    expect(u).not.toMatch(/SECRET|CRED|pw|user/);
    expect(u).toContain('n=2');
    expect(redactText('Authorization: Bearer abc.def.ghi and {"token":"xyz"}')).not.toMatch(/abc\.def|xyz/);
  });

  it('parses WWW-Authenticate challenges and merges scopes', () => {
    const c = parseWwwAuthenticate('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push",error="insufficient_scope"');
    expect(c).toEqual([{ scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push', error: 'insufficient_scope' } }]);
    expect(parseWwwAuthenticate('Basic realm="x \\"q\\""')).toEqual([{ scheme: 'basic', params: { realm: 'x "q"' } }]);
    expect(mergeScopes(['repository:a:pull', 'repository:a:push', 'repository:b:pull'])).toEqual(['repository:a:pull,push', 'repository:b:pull']);
  });

  it('RC-06 accepts only a Content-Range starting where the download stopped', () => {
    expect(contentRangeMatches('bytes 600-999/1000', 600, 1000)).toBe(true);
    expect(contentRangeMatches('bytes 600-999/*', 600, 1000)).toBe(true);
    expect(contentRangeMatches('bytes 0-999/1000', 600, 1000)).toBe(false);
    expect(contentRangeMatches('bytes 600-998/1000', 600, 1000)).toBe(false);
    expect(contentRangeMatches(undefined, 600, 1000)).toBe(false);
  });

  it('RC-15 validates names, tags and digests before any URL is built', async () => {
    expect(() => openRepository('127.0.0.1:5000', '../../x')).toThrow(/invalid repository/);
    expect(() => openRepository('evil/host', 'a')).toThrow(/invalid registry/);
    const r = openRepository('127.0.0.1:1', 'a/b', { tlsVerify: false });
    await expect(r.getManifest('../../x')).rejects.toMatchObject({ code: 'EINVALID' });
    await expect(r.getManifest('tag\n')).rejects.toMatchObject({ code: 'EINVALID' });
    await expect(r.getBlob({ digest: 'sha256:../../x' as never, size: 1 })).rejects.toMatchObject({ code: 'EINVALID' });
    await expect(r.headBlob('sha256:ABC' as never)).rejects.toMatchObject({ code: 'EINVALID' });
    await expect(r.mountBlob(`sha256:${'a'.repeat(64)}` as never, '../other')).rejects.toMatchObject({ code: 'EINVALID' });
  });
});
