import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient, type ClientSettings } from '../../../shared/registry/client.ts';
import { PlainHttpMemory, plainHttpMemoryDir } from '../../../shared/registry/plain-http-memory.ts';
import { openRepository } from '../../../shared/registry/repository.ts';
import { closeDispatchers, dispatcherFor } from '../../../shared/registry/tls.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { scratchDir } from '../../helpers/tmp.ts';

// Issue 19: a registry marked insecure that speaks plain HTTP is remembered across runs, so the next run asks it
// over http first instead of paying a TLS handshake that cannot succeed. The memory only reorders what the
// registry's settings allow, and is dropped as soon as the remembered http ping fails.
describe.skipIf(!existsSync(REGISTRY_BIN))('the plain-HTTP memory', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let plain: TestRegistry;
  let tls: TestRegistry;
  let env: NodeJS.ProcessEnv;
  let memory: PlainHttpMemory;

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-plain-http-'));
    [plain, tls] = await Promise.all([startRegistry(), startRegistry({ tls: true })]);
    env = { HOME: dir, XDG_RUNTIME_DIR: join(dir, 'run') };
    memory = new PlainHttpMemory(plainHttpMemoryDir(env));
    await writeFile(join(dir, 'registries.conf'), '');
  });
  afterAll(async () => {
    await Promise.all([plain?.stop(), tls?.stop()]);
    await closeDispatchers();
    await cleanup?.();
  });

  /** A client of `host` whose requests' origins are recorded (a real undici Agent with an observing interceptor). */
  async function client(host: string, allowHttp: boolean): Promise<{ c: RegistryClient; origins: string[] }> {
    const origins: string[] = [];
    const agent = await dispatcherFor({ rejectUnauthorized: false });
    const dispatcher = agent.compose((dispatch) => (opts: Dispatcher.DispatchOptions, handler) => {
      origins.push(String(opts.origin));
      return dispatch(opts, handler);
    });
    const s: ClientSettings = {
      registry: host,
      apiHost: host,
      dispatcher,
      allowHttp,
      plainHttpMemory: memory,
      credentials: async () => undefined,
      userAgent: 'skiff-test',
      retryTimes: 0,
      retryBaseMs: 10,
      retryMaxDelayMs: 20,
      retryAfterCapMs: 100,
      max429Attempts: 1,
      maxConcurrentPerHost: 4,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    };
    return { c: new RegistryClient(s), origins };
  }

  it('records a plain-HTTP registry after https failed, and asks it over http only on the next run', async () => {
    await memory.forget(plain.host);
    const first = await client(plain.host, true);
    expect((await first.c.base()).protocol).toBe('http:');
    expect(first.origins).toEqual([`https://${plain.host}`, `http://${plain.host}`]);
    expect(await memory.has(plain.host)).toBe(true);

    const next = await client(plain.host, true);
    expect((await next.c.base()).protocol).toBe('http:');
    expect(next.origins).toEqual([`http://${plain.host}`]);
  });

  it('is what openRepository uses for --tls-verify=false: the memory lives under XDG_RUNTIME_DIR', async () => {
    await memory.forget(plain.host);
    const repo = openRepository(plain.host, 'skiff/none', { tlsVerify: false, env, registriesConf: join(dir, 'registries.conf') });
    expect(await repo.headManifest('latest')).toBeUndefined();
    expect(existsSync(join(dir, 'run/skiff/plain-http', encodeURIComponent(plain.host)))).toBe(true);
  });

  it('is forgotten when the remembered http ping fails: a registry that now speaks TLS is reached over https', async () => {
    await memory.remember(tls.host);
    const { c, origins } = await client(tls.host, true);
    expect((await c.base()).protocol).toBe('https:');
    // http first (remembered; the TLS port answers it with 400), then the normal order: https, which works
    expect(origins).toEqual([`http://${tls.host}`, `https://${tls.host}`]);
    expect(await memory.has(tls.host)).toBe(false);
  });

  it('is forgotten when the remembered registry is gone', async () => {
    const gone = await startRegistry();
    const host = gone.host;
    await gone.stop();
    await memory.remember(host);
    const { c } = await client(host, true);
    await expect(c.base()).rejects.toMatchObject({ code: 'EIO' });
    expect(await memory.has(host)).toBe(false);
  });

  it('never makes a registry not marked insecure speak http, whatever the memory says', async () => {
    await memory.remember(plain.host);
    const { c, origins } = await client(plain.host, false);
    await expect(c.base()).rejects.toMatchObject({ code: 'EIO' });
    expect(origins.length).toBeGreaterThan(0);
    expect(origins.filter((o) => !o.startsWith('https://'))).toEqual([]);
    // through the repository API with verification on: refused, though the registry would answer over http
    const repo = openRepository(plain.host, 'skiff/none', { tlsVerify: true, env, registriesConf: join(dir, 'registries.conf'), retryTimes: 0 });
    await expect(repo.headManifest('latest')).rejects.toMatchObject({ code: 'EIO' });
    expect(await memory.has(plain.host)).toBe(true); // untouched: it was not consulted
  });

  it('ignores an entry in a directory others may write to', async () => {
    await memory.remember(plain.host);
    const { chmod } = await import('node:fs/promises');
    await chmod(memory.dir!, 0o777);
    try {
      expect(await memory.has(plain.host)).toBe(false);
      const { c, origins } = await client(plain.host, true);
      await c.base();
      expect(origins[0]).toBe(`https://${plain.host}`);
    } finally {
      await chmod(memory.dir!, 0o700);
    }
  });
});
