// Issue 10 defect 7: copy-tool says each retry on stderr (what failed, attempt n/N, the wait), answers a refused
// connection about as fast as skopeo, never retries what cannot heal (401/403, TLS verification), and a login or
// copy refused with the credentials given does not suggest passing --creds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { scratchDir } from '../helpers/tmp.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { ct, ctAsync } from '../helpers/copy-tool.ts';
import { startFaultServer } from '../helpers/fault-server.ts';
import { retryKindOfCode, retryPlan } from '../../shared/registry/retry.ts';

const RETRY_LINE = /^WARN\[0000\] Failed, retrying in \d+(?:\.\d+)?m?s \.\.\. \((\d+)\/(\d+)\)\. Error: /;

async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('retry policy (pure)', () => {
  it('never retries TLS verification failures or names that do not resolve; a refused connection once, quickly', () => {
    const o = { retryTimes: 3, baseMs: 500, capMs: 10_000 };
    for (const code of ['ENOTFOUND', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_WRONG_VERSION_NUMBER']) {
      expect([code, retryKindOfCode(code)]).toEqual([code, 'never']);
      expect(retryPlan(retryKindOfCode(code), 0, o)).toBeUndefined();
    }
    for (const code of ['ECONNREFUSED', 'EAI_AGAIN']) {
      const first = retryPlan(retryKindOfCode(code), 0, o)!;
      expect(first.of).toBe(1);
      expect(first.delayMs).toBeLessThan(500);
      expect(retryPlan(retryKindOfCode(code), 1, o)).toBeUndefined();
    }
    expect(retryPlan(retryKindOfCode('ECONNRESET'), 2, o)?.of).toBe(3);
    expect(retryPlan(retryKindOfCode('ECONNRESET'), 3, o)).toBeUndefined();
    expect(retryPlan('quick', 0, { ...o, retryTimes: 0 })).toBeUndefined();
  });
});

describe('copy-tool retries', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let reg: TestRegistry | undefined;

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-ct-retry-'));
    if (existsSync(REGISTRY_BIN)) reg = await startRegistry({ auth: 'htpasswd' });
  });
  afterAll(async () => {
    await reg?.stop();
    await cleanup?.();
  });

  it('a refused connection fails in well under 1.5 s, saying its one retry on stderr', async () => {
    const port = await closedPort();
    for (const tls of ['--tls-verify=false', '--tls-verify=true']) {
      const t0 = Date.now();
      const r = ct(['inspect', tls, `docker://127.0.0.1:${port}/a/b:1`]);
      const ms = Date.now() - t0;
      expect(r.status).toBe(1);
      expect(ms).toBeLessThan(1500);
      const lines = r.stderr.trim().split('\n');
      const retries = lines.filter((l) => RETRY_LINE.test(l));
      expect(retries, r.stderr).toHaveLength(1);
      expect(retries[0]).toMatch(/\(1\/1\)\. Error: GET https?:\/\/127\.0\.0\.1:\d+\/v2\/: connect ECONNREFUSED/);
      expect(lines[lines.length - 1]).toMatch(/^Error: cannot reach registry 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    }
  });

  it('5xx answers are retried with a line per attempt (n/N and the wait)', async () => {
    const s = await startFaultServer((req, res) => {
      if (req.url === '/v2/') return void res.end('{}');
      res.statusCode = 500;
      res.end();
    });
    try {
      const r = await ctAsync(['inspect', '--tls-verify=false', '--retry-times', '2', `docker://${s.host}/a/b:1`]);
      expect(r.status).toBe(1);
      const retries = r.stderr.split('\n').filter((l) => RETRY_LINE.test(l));
      expect(retries.map((l) => RETRY_LINE.exec(l)!.slice(1, 3).join('/'))).toEqual(['1/2', '2/2']);
      expect(retries[0]).toContain('answered 500');
      expect(s.requests.filter((q) => q.url.includes('/manifests/')).length).toBe(3);
    } finally {
      await s.stop();
    }
  }, 30_000);

  it('401 and 403 are not retried', async () => {
    for (const status of [401, 403]) {
      const s = await startFaultServer((req, res) => {
        res.statusCode = req.url === '/v2/' ? 401 : status;
        res.setHeader('www-authenticate', 'Basic realm="r"');
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"no"}]}');
      });
      try {
        const r = await ctAsync(['inspect', '--tls-verify=false', '--creds', 'user:wrong', `docker://${s.host}/a/b:1`]);
        expect(r.status).toBe(1);
        expect(r.stderr).not.toMatch(/retrying/);
        expect(s.requests.filter((q) => q.url.includes('/manifests/')).length).toBe(1);
      } finally {
        await s.stop();
      }
    }
  });

  it('a TLS verification failure is not retried and says how to trust the certificate', async () => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    let handshakes = 0;
    const srv: Server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_q, res) => void res.end('{}'));
    srv.on('secureConnection', () => handshakes++);
    srv.on('tlsClientError', () => handshakes++);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (srv.address() as AddressInfo).port;
      const r = await ctAsync(['inspect', `docker://127.0.0.1:${port}/a/b:1`]);
      expect(r.status).toBe(1);
      expect(r.stderr).not.toMatch(/retrying/);
      expect(r.stderr).toMatch(/certificate/);
      expect(r.stderr).toMatch(/--cert-dir/);
      expect(handshakes).toBe(1);
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('TLS to a plain-HTTP port is not retried and says to pass --tls-verify=false', async () => {
    const s = await startFaultServer((_q, res) => void res.end('{}'));
    try {
      const r = await ctAsync(['inspect', `docker://${s.host}/a/b:1`]);
      expect(r.status).toBe(1);
      expect(r.stderr).not.toMatch(/retrying/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/does not speak TLS.*--tls-verify=false/);
    } finally {
      await s.stop();
    }
  });

  it.skipIf(!existsSync(REGISTRY_BIN))('wrong credentials: the error says so and does not suggest passing --creds', () => {
    const copy = ct(['inspect', '--tls-verify=false', '--creds', `${reg!.user}:wrong`, `docker://${reg!.host}/a/b:1`]);
    expect(copy.status).toBe(1);
    expect(copy.stderr).toMatch(/^Error: .*authentication failed/m);
    expect(copy.stderr).not.toContain('--creds');
    expect(copy.stderr).not.toContain('wrong');
    const login = ct(['login', '--tls-verify=false', '-u', reg!.user, '-p', 'wrong', '--authfile', join(dir, 'auth.json'), reg!.host]);
    expect(login.status).toBe(1);
    expect(login.stderr).toMatch(/invalid username\/password/);
    expect(login.stderr).not.toContain('--creds');
    // without credentials the hint to log in or pass --creds stays
    const anon = ct(['inspect', '--tls-verify=false', `docker://${reg!.host}/a/b:1`]);
    expect(anon.status).toBe(1);
    expect(anon.stderr).toContain('--creds');
  });
});
