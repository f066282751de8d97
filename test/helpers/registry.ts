import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSign, randomBytes, createHash, X509Certificate } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { get as httpsGet } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The test registry binary (Debian's docker-registry, CNCF distribution 2.8). */
export const REGISTRY_BIN = '/usr/bin/docker-registry';

/** A running registry. */
export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  url: string;
  user: string;
  password: string;
  /** Refresh token the token server accepts (identity-token flow) when auth is 'token'. */
  refreshToken: string;
  /** Token requests seen by the token server (scope strings, method). */
  tokenRequests: { method: string; scopes: string[]; account?: string; authorized: boolean }[];
  /**
   * With `accessLog`: the request lines served so far (`GET /v2/…/blobs/sha256:… HTTP/1.1`), oldest first. Sends
   * one marker request and waits for its log line first, so everything served before the call is in the list.
   */
  requests(): Promise<string[]>;
  /** The registry's filesystem storage root (tests that damage stored content on purpose write here). */
  dataDir: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function bcryptHash(password: string): Promise<string> {
  // Debian's python3 crypt() goes through libxcrypt, which does bcrypt ($2b$); htpasswd -B when present.
  try {
    const { stdout } = await run('python3', ['-W', 'ignore', '-c', 'import crypt,sys;print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1<<4)))', password]);
    const h = stdout.trim();
    if (h.startsWith('$2')) return h;
  } catch {
    /* fall through */
  }
  const { stdout } = await run('htpasswd', ['-Bbn', '-C', '4', 'x', password]);
  return stdout.trim().split(':')[1]!;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

/** Token server for distribution's `auth: token:` (RS256 JWTs carrying the self-signed cert in x5c). */
async function startTokenServer(dir: string, reg: { user: string; password: string; refreshToken: string; service: string; issuer: string; log: TestRegistry['tokenRequests'] }) {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=skiff-test-token']);
  const key = await readFile(keyPath, 'utf8');
  const certDer = new X509Certificate(await readFile(certPath)).raw;
  const sign = (claims: object) => {
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(input).sign(key);
    return `${input}.${b64url(sig)}`;
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const form = req.method === 'POST' ? new URLSearchParams(Buffer.concat(chunks).toString()) : new URLSearchParams();
      const scopes = req.method === 'POST' ? (form.get('scope') ?? '').split(' ').filter(Boolean) : url.searchParams.getAll('scope').flatMap((s) => s.split(' '));
      let authorized = false;
      let account: string | undefined;
      const auth = req.headers.authorization;
      if (req.method === 'POST') {
        authorized = form.get('grant_type') === 'refresh_token' && form.get('refresh_token') === reg.refreshToken;
        if (authorized) account = reg.user;
        if (!authorized) {
          reg.log.push({ method: 'POST', scopes, authorized });
          res.statusCode = 401;
          return void res.end('{"errors":[{"code":"UNAUTHORIZED","message":"bad refresh token"}]}');
        }
      } else if (auth?.startsWith('Basic ')) {
        const [u, p] = Buffer.from(auth.slice(6), 'base64').toString().split(/:(.*)/s);
        if (u !== reg.user || p !== reg.password) {
          reg.log.push({ method: 'GET', scopes, authorized: false, account: u });
          res.statusCode = 401;
          return void res.end('{"errors":[{"code":"UNAUTHORIZED","message":"invalid credentials"}]}');
        }
        authorized = true;
        account = u;
      }
      reg.log.push({ method: req.method ?? '', scopes, authorized, ...(account !== undefined ? { account } : {}) });
      const access = authorized
        ? scopes.map((s) => {
            const parts = s.split(':');
            return { type: parts[0], name: parts.slice(1, -1).join(':'), actions: (parts[parts.length - 1] ?? '').split(',').filter(Boolean) };
          })
        : [];
      const now = Math.floor(Date.now() / 1000);
      const token = sign({ iss: reg.issuer, sub: account ?? '', aud: reg.service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return { server, certPath, realm: `http://127.0.0.1:${port}/token` };
}

/**
 * Starts Debian's docker-registry (distribution 2.8) on a free 127.0.0.1 port with filesystem storage on
 * /dev/shm; `auth: 'htpasswd'` (bcrypt) or `'token'` (a node:http token server signing RS256 JWTs with a
 * self-signed cert that is also the registry's root bundle); `tls` serves https with a self-signed certificate
 * (`url` is then https; `requests()` needs plain http). Waits until `/v2/` answers. `stop()` kills the
 * registry by PID and removes its storage.
 */
export async function startRegistry(opts: { auth?: 'htpasswd' | 'token'; deleteEnabled?: boolean; accessLog?: boolean; tls?: boolean } = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(process.env.SKIFF_TEST_TMP ?? '/dev/shm', 'skiff-registry-'));
  const port = await freePort();
  const user = 'tester';
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const refreshToken = `refresh-${randomBytes(8).toString('hex')}`;
  const tokenRequests: TestRegistry['tokenRequests'] = [];
  let tokenServer: Server | undefined;
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    `    disabled: ${opts.accessLog ? 'false' : 'true'}`,
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    ...(opts.deleteEnabled ? ['  delete:', '    enabled: true'] : []),
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
  ];
  if (opts.tls) {
    // a self-signed certificate for 127.0.0.1: clients reach it with verification off (--tls-verify=false)
    const [certPath, keyPath] = [join(dir, 'tls.crt'), join(dir, 'tls.key')];
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    lines.push('  tls:', `    certificate: ${certPath}`, `    key: ${keyPath}`);
  }
  if (opts.auth === 'htpasswd') {
    await writeFile(join(dir, 'htpasswd'), `${user}:${await bcryptHash(password)}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: skiff-test', `    path: ${join(dir, 'htpasswd')}`);
  } else if (opts.auth === 'token') {
    const t = await startTokenServer(dir, { user, password, refreshToken, service: 'skiff-test-registry', issuer: 'skiff-test-issuer', log: tokenRequests });
    tokenServer = t.server;
    lines.push('auth:', '  token:', `    realm: ${t.realm}`, '    service: skiff-test-registry', '    issuer: skiff-test-issuer', `    rootcertbundle: ${t.certPath}`);
  }
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, lines.join('\n') + '\n');
  // the access log (combined log format, on stdout) and the error log (stderr: a line per 404) go to files: a
  // pipe fills while the caller blocks in spawnSync, and the registry then stalls on its next log line
  const accessLog = join(dir, 'access.log');
  const errorLog = join(dir, 'error.log');
  const logFd = opts.accessLog ? openSync(accessLog, 'w') : undefined;
  const errFd = openSync(errorLog, 'w');
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', configPath], { stdio: ['ignore', logFd ?? 'ignore', errFd] });
  if (logFd !== undefined) closeSync(logFd);
  closeSync(errFd);
  const stderrTail = async (): Promise<string> => (await readFile(errorLog, 'utf8').catch(() => '')).slice(-2000);
  const served = async (): Promise<string[]> =>
    (await readFile(accessLog, 'utf8')).split('\n').flatMap((l) => {
      const m = /"([A-Z]+ \S+ HTTP\/[0-9.]+)"/u.exec(l);
      return m ? [m[1]!] : [];
    });
  let exited = false;
  child.on('exit', () => (exited = true));
  const stop = async () => {
    if (!exited && child.pid !== undefined) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      process.kill(child.pid, 'SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
      if (!exited) process.kill(child.pid, 'SIGKILL');
    }
    if (tokenServer) {
      tokenServer.closeAllConnections();
      await new Promise<void>((r) => tokenServer!.close(() => r()));
    }
    await rm(dir, { recursive: true, force: true });
  };
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const ping = async (): Promise<number> => {
    if (!opts.tls) {
      const r = await fetch(`${url}/v2/`);
      await r.arrayBuffer();
      return r.status;
    }
    return new Promise<number>((resolve, reject) => {
      httpsGet(`${url}/v2/`, { rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) {
      const tail = await stderrTail();
      await stop();
      throw new Error(`docker-registry exited at start: ${tail}`);
    }
    try {
      const status = await ping();
      if (status === 200 || status === 401) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      const tail = await stderrTail();
      await stop();
      throw new Error(`docker-registry did not answer on ${url} within 15 s: ${tail}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host: `127.0.0.1:${port}`, url, user, password, refreshToken, tokenRequests, requests: async () => {
      const mark = `/v2/?skiff-log-mark=${randomBytes(6).toString('hex')}`;
      await (await fetch(`${url}${mark}`)).arrayBuffer();
      const until = Date.now() + 10_000;
      for (;;) {
        const lines = await served();
        if (lines.some((l) => l.startsWith(`GET ${mark} `))) return lines.filter((l) => !l.includes('skiff-log-mark='));
        if (Date.now() > until) throw new Error('the registry access log did not show the marker request within 10 s (accessLog off?)');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    dataDir: join(dir, 'data'), stop };
}

/** sha256 digest string of bytes (test convenience). */
export function sha256(b: Uint8Array | string): `sha256:${string}` {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}
