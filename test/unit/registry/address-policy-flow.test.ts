// Issue 11 item 2 through the real client: token realms and redirects named by every spelling of an address are
// judged after normalisation, before anything is dialled. Every connection the client makes goes through a guard on
// the dispatcher that records its origin and lets only loopback through, so a refused non-loopback literal provably
// reaches no socket; loopback listeners stand in for what must not be contacted.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { openRepository } from '../../../shared/registry/repository.ts';
import { Authenticator } from '../../../shared/registry/auth.ts';
import { registryScope } from '../../../shared/registry/redirect-policy.ts';
import { classifyHost } from '../../../shared/registry/host-class.ts';
import { UNSAFE_ADDRESS_CODE, safeLookup } from '../../../shared/registry/safe-lookup.ts';
import { closeDispatchers, dispatcherFor } from '../../../shared/registry/tls.ts';
import type { Digest } from '../../../shared/oci/digest.ts';
import type { RegistryOptions } from '../../../shared/registry/types.ts';
import { startFaultServer, type FaultHandler, type FaultServer } from '../../helpers/fault-server.ts';
import { scratchDir } from '../../helpers/tmp.ts';

let scratch: { dir: string; cleanup: () => Promise<void> };
let base: RegistryOptions;
let agent: Dispatcher;
/** Origins the client tried to dial (allowed or not). */
const dialled: string[] = [];
const servers: FaultServer[] = [];
const creds = { username: 'u', password: 'p' };

beforeAll(async () => {
  scratch = await scratchDir('skiff-addr-flow-');
  const conf = join(scratch.dir, 'registries.conf');
  await writeFile(conf, '');
  base = { tlsVerify: false, registriesConf: conf, env: { HOME: scratch.dir }, retryTimes: 0 };
  // the very agent the repositories below use (same TLS settings, no proxy): every request passes this guard
  agent = await dispatcherFor({ rejectUnauthorized: false }, base.env);
  const real = agent.dispatch.bind(agent);
  vi.spyOn(agent, 'dispatch').mockImplementation((opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) => {
    const origin = String(opts.origin);
    dialled.push(origin);
    if (classifyHost(new URL(origin).host) !== 'loopback') throw new Error(`test guard: refusing to dial ${origin}`);
    return real(opts, handler);
  });
});
afterEach(async () => {
  dialled.length = 0;
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});
afterAll(async () => {
  vi.restoreAllMocks();
  await closeDispatchers();
  await scratch?.cleanup();
});

async function serve(h: FaultHandler, address?: string): Promise<FaultServer> {
  const s = await startFaultServer(h, address ? { address } : {});
  servers.push(s);
  return s;
}

/** A registry on 127.0.0.1 that demands a Bearer token from `realm` (a function of the request's host). */
function bearerRegistry(realm: string): FaultHandler {
  return (req, res) => {
    if (!req.headers.authorization) {
      res.statusCode = 401;
      res.setHeader('www-authenticate', `Bearer realm="${realm}",service="reg"`);
      return void res.end();
    }
    res.statusCode = 404;
    res.end();
  };
}

describe('address policy through the client', () => {
  it('a token realm on 0.0.0.0, 0 or [::] is refused before any connection, even from a loopback registry', async () => {
    // Linux connects 0.0.0.0 to this machine: a listener on 127.0.0.1 would receive the token request
    const trap = await serve((_q, res) => void res.end('{"token":"t"}'));
    for (const host of ['0.0.0.0', '0', '[::]']) {
      dialled.length = 0;
      const reg = await serve(bearerRegistry(`http://${host}:${trap.port}/token`));
      const r = openRepository(reg.host, 'a/b', { ...base, credentials: creds });
      await expect(r.getManifest('v1')).rejects.toMatchObject({ code: 'EUNSAFE', message: expect.stringContaining('unspecified address') });
      expect(dialled.filter((o) => new URL(o).host !== reg.host)).toEqual([]);
    }
    expect(trap.requests).toEqual([]);
  });

  it('a realm at [::ffff:169.254.169.254] is refused directly and through a 302, with nothing dialled to it', async () => {
    const direct = await serve(bearerRegistry('http://[::ffff:169.254.169.254]/latest/meta-data'));
    await expect(openRepository(direct.host, 'a/b', { ...base, credentials: creds }).getManifest('v1')).rejects.toMatchObject({ code: 'EUNSAFE', message: expect.stringContaining('link-local') });
    const hop = await serve((_q, res) => void res.writeHead(302, { location: 'http://[::ffff:169.254.169.254]/latest/meta-data' }).end());
    const viaRedirect = await serve(bearerRegistry(`${hop.url}/token`));
    await expect(openRepository(viaRedirect.host, 'a/b', { ...base, credentials: creds }).getManifest('v1')).rejects.toMatchObject({ code: 'EUNSAFE', message: expect.stringContaining('link-local') });
    expect(hop.requests.length).toBe(1);
    for (const literal of ['[64:ff9b::a9fe:a9fe]', '[::169.254.169.254]', '2852039166', '0xa9.0xfe.0xa9.0xfe']) {
      const reg = await serve(bearerRegistry(`http://${literal}/x`));
      await expect(openRepository(reg.host, 'a/b', { ...base, credentials: creds }).getManifest('v1')).rejects.toMatchObject({ code: 'EUNSAFE' });
    }
    expect(dialled.filter((o) => new URL(o).hostname !== '127.0.0.1')).toEqual([]);
  });

  it('a blob redirect to a mapped link-local or unspecified address is refused before any connection', async () => {
    const trap = await serve((_q, res) => void res.end('x'));
    let target = '';
    const reg = await serve((req, res) => {
      if (req.url === '/v2/') return void res.end('{}');
      res.writeHead(307, { location: target }).end();
    });
    const r = openRepository(reg.host, 'a/b', base);
    const desc = { digest: `sha256:${'a'.repeat(64)}` as Digest, size: 1 };
    for (target of ['http://[::ffff:169.254.169.254]/b', `http://0.0.0.0:${trap.port}/b`, `http://[::ffff:0.0.0.0]:${trap.port}/b`]) {
      await expect(r.getBlob(desc)).rejects.toMatchObject({ code: 'EUNSAFE' });
    }
    expect(trap.requests).toEqual([]);
    expect(dialled.filter((o) => new URL(o).host !== reg.host)).toEqual([]);
  });

  it('from a registry not on this machine, loopback and private realms get nothing (mapped forms included)', async () => {
    // The Authenticator of a public registry (registry.example), its realm named by the registry's challenge.
    const trap = await serve((_q, res) => void res.end('{"token":"t"}'), '127.0.0.2');
    const realms = [`http://[::ffff:127.0.0.2]:${trap.port}/token`, `http://127.0.0.2:${trap.port}/token`, `http://2130706434:${trap.port}/token`, 'http://10.0.0.1/token', 'http://[::ffff:10.0.0.1]/token'];
    for (const realm of realms) {
      const auth = new Authenticator({
        registry: 'registry.example',
        dispatcher: agent,
        scope: registryScope('registry.example', false),
        base: new URL('http://registry.example/'),
        credentials: async () => creds,
        userAgent: 'test',
      });
      auth.setChallenge(`Bearer realm="${realm}"`);
      await expect(auth.header(['repository:a/b:pull'])).rejects.toMatchObject({ code: 'EUNSAFE' });
    }
    expect(trap.requests).toEqual([]);
    expect(dialled).toEqual([]);
  });

  it('registry credentials never go to a realm on another host; credentials configured for that host do', async () => {
    const seen: (string | undefined)[] = [];
    const realm = await serve((req, res) => {
      seen.push(req.headers.authorization);
      res.end('{"token":"t"}');
    }, '127.0.0.2');
    const reg = await serve(bearerRegistry(`${realm.url}/token`));
    await expect(openRepository(reg.host, 'a/b', { ...base, credentials: creds }).getManifest('v1')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(realm.requests.length).toBe(1);
    expect(seen).toEqual([undefined]);
    expect(realm.requests[0]!.url).not.toContain('account=');
    // the user configured credentials for the realm host: those are sent (and only those)
    const authFile = join(scratch.dir, 'auth.json');
    await writeFile(authFile, JSON.stringify({ auths: { [realm.host]: { auth: Buffer.from('realmuser:realmpw').toString('base64') } } }));
    await expect(openRepository(reg.host, 'a/b', { ...base, authFile, credentials: creds }).getManifest('v1')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(seen[1]).toBe(`Basic ${Buffer.from('realmuser:realmpw').toString('base64')}`);
    // a realm on the registry's own host gets the registry's credentials, as before
    const own: (string | undefined)[] = [];
    const self = await serve((req, res) => {
      if (req.url!.startsWith('/token')) {
        own.push(req.headers.authorization);
        return void res.end('{"token":"t"}');
      }
      return bearerRegistry(`http://${req.headers.host}/token`)(req, res, Buffer.alloc(0));
    });
    await expect(openRepository(self.host, 'a/b', { ...base, credentials: creds }).getManifest('v1')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(own).toEqual([`Basic ${Buffer.from('u:p').toString('base64')}`]);
  });

  it('a name that resolves to a never-contacted address is refused at connect; localhost still connects', async () => {
    const fake = (answers: { address: string; family: number }[]) =>
      safeLookup((_h, opts, cb) => (opts.all ? cb(null, answers) : cb(null, answers[0]!.address, answers[0]!.family)));
    const run = (l: ReturnType<typeof safeLookup>, all: boolean) =>
      new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((resolve) => l('metadata.test', all ? { all: true } : {}, (err, address) => resolve({ err, address })));
    for (const bad of [[{ address: '169.254.169.254', family: 4 }], [{ address: '::ffff:a9fe:a9fe', family: 6 }], [{ address: '10.0.0.1', family: 4 }, { address: '0.0.0.0', family: 4 }], [{ address: 'fe80::1', family: 6 }]]) {
      for (const all of [true, false]) {
        const r = await run(fake(bad), all);
        if (!all && bad.length > 1) continue; // a single-answer lookup sees only the first address
        expect(r.err?.code).toBe(UNSAFE_ADDRESS_CODE);
      }
    }
    expect((await run(fake([{ address: '10.0.0.1', family: 4 }]), true)).err).toBeNull();
    expect((await run(fake([{ address: '127.0.0.1', family: 4 }]), false)).err).toBeNull();
    // the real dispatcher resolves names through it (Node asks with all: true when it races address families)
    const s = await serve((req, res) => (req.url === '/v2/' ? void res.end('{}') : void res.writeHead(404).end()));
    await expect(openRepository(`localhost:${s.port}`, 'a/b', base).getManifest('v1')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(s.requests.some((q) => q.url.includes('/manifests/v1'))).toBe(true);
  });
});
