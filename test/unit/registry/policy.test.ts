import { describe, expect, it } from 'vitest';
import { parseRetryAfter, backoffDelay } from '../../../shared/registry/retry.ts';
import { checkRedirect, isLocalRegistry } from '../../../shared/registry/redirect-policy.ts';
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
    const local = { registryIsLocal: true };
    expect(() => checkRedirect(remote, new URL('http://registry.example/x'), { registryIsLocal: false })).toThrow(/downgrade/);
    expect(() => checkRedirect(remote, new URL('https://169.254.169.254/latest/meta-data'), { registryIsLocal: false })).toThrow(/link-local/);
    expect(() => checkRedirect(remote, new URL('https://[fe80::1]/x'), local)).toThrow(/link-local/);
    expect(() => checkRedirect(remote, new URL('https://127.0.0.1/x'), { registryIsLocal: false })).toThrow(/local address/);
    expect(() => checkRedirect(remote, new URL('https://localhost/x'), { registryIsLocal: false })).toThrow(/local address/);
    expect(() => checkRedirect(remote, new URL('file:///etc/passwd'), local)).toThrow(/scheme/);
    expect(() => checkRedirect(remote, new URL('https://cdn.example/x'), { registryIsLocal: false, hops: 11 })).toThrow(/more than 10/);
    expect(() => checkRedirect(new URL('http://127.0.0.1:5000/'), new URL('http://127.0.0.2:6000/x'), local)).not.toThrow();
    expect(() => checkRedirect(remote, new URL('https://cdn.example/x?X-Amz-Signature=abc'), { registryIsLocal: false, hops: 10 })).not.toThrow();
    expect(isLocalRegistry('127.0.0.1:5000')).toBe(true);
    expect(isLocalRegistry('localhost:5000')).toBe(true);
    expect(isLocalRegistry('[::1]:5000')).toBe(true);
    expect(isLocalRegistry('quay.io')).toBe(false);
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
