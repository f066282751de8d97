// Issue 19, the no-op copy: an anonymous client's first request to a registry remembered as plain http goes out
// beside the `/v2/` ping instead of after it. The ping is made slow on purpose (the fault server), so whether the
// manifest request reached the server before the ping was answered shows the overlap directly.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openRepository } from '../../../shared/registry/repository.ts';
import { PlainHttpMemory, plainHttpMemoryDir } from '../../../shared/registry/plain-http-memory.ts';
import { closeDispatchers } from '../../../shared/registry/tls.ts';
import type { RegistryOptions } from '../../../shared/registry/types.ts';
import { MediaType } from '../../../shared/oci/media-types.ts';
import { startFaultServer, type FaultServer } from '../../helpers/fault-server.ts';
import { scratchDir } from '../../helpers/tmp.ts';

const PING_DELAY = 400;
const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: `sha256:${'a'.repeat(64)}`, size: 1 }, layers: [] }));

let scratch: { dir: string; cleanup: () => Promise<void> };
let env: NodeJS.ProcessEnv;
let base: RegistryOptions;
const servers: FaultServer[] = [];

beforeAll(async () => {
  scratch = await scratchDir('skiff-early-req-');
  env = { HOME: scratch.dir, XDG_RUNTIME_DIR: join(scratch.dir, 'run') };
  await mkdir(env.XDG_RUNTIME_DIR!, { recursive: true, mode: 0o700 });
  const conf = join(scratch.dir, 'registries.conf');
  await writeFile(conf, '');
  base = { tlsVerify: false, registriesConf: conf, env, retryBaseMs: 10, retryMaxDelayMs: 50 };
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});
afterAll(async () => {
  await closeDispatchers();
  await scratch?.cleanup();
});

/** A registry whose ping answers after PING_DELAY ms; records when the ping was answered. */
async function slowPingRegistry(manifestStatus = 200): Promise<{ s: FaultServer; pingAnsweredAt: () => number }> {
  let answered = 0;
  const s = await startFaultServer(async (req, res) => {
    if (req.url === '/v2/') {
      await new Promise((r) => setTimeout(r, PING_DELAY));
      answered = Date.now();
      return void res.end('{}');
    }
    res.statusCode = manifestStatus;
    res.setHeader('content-type', MediaType.OciManifest);
    res.end(manifestStatus === 200 ? manifest : '{}');
  });
  servers.push(s);
  return { s, pingAnsweredAt: () => answered };
}

const manifestRequests = (s: FaultServer) => s.requests.filter((q) => q.url.includes('/manifests/'));

describe('the first request beside the ping', () => {
  it('goes out before the ping is answered when the host is remembered as plain http and no credentials are set', async () => {
    const { s, pingAnsweredAt } = await slowPingRegistry();
    await new PlainHttpMemory(plainHttpMemoryDir(env)).remember(s.host);
    const m = await openRepository(s.host, 'a/b', base).getManifest('1');
    expect(Buffer.from(m.bytes).equals(manifest)).toBe(true);
    const gets = manifestRequests(s);
    expect(gets).toHaveLength(1);
    expect(gets[0]!.at).toBeLessThan(pingAnsweredAt());
  });

  it('is retried as the request’s first attempt when it meets a 5xx (one request more, not two)', async () => {
    const { s } = await slowPingRegistry(500);
    await new PlainHttpMemory(plainHttpMemoryDir(env)).remember(s.host);
    const e = await openRepository(s.host, 'a/b', { ...base, retryTimes: 1 }).getManifest('1').catch((x: unknown) => x as Error);
    expect(e).toBeInstanceOf(Error);
    expect(manifestRequests(s)).toHaveLength(2);
  });

  it('waits for the ping when the client has credentials, or the host is not remembered', async () => {
    const withCreds = await slowPingRegistry();
    await new PlainHttpMemory(plainHttpMemoryDir(env)).remember(withCreds.s.host);
    await openRepository(withCreds.s.host, 'a/b', { ...base, credentials: { username: 'u', password: 'p' } }).getManifest('1');
    expect(manifestRequests(withCreds.s)[0]!.at).toBeGreaterThanOrEqual(withCreds.pingAnsweredAt());

    const fresh = await slowPingRegistry();
    await openRepository(fresh.s.host, 'a/b', base).getManifest('1');
    expect(manifestRequests(fresh.s)[0]!.at).toBeGreaterThanOrEqual(fresh.pingAnsweredAt());
  });

  it('RC-12 a refused redirect met by the first request is that request’s failure: reported once, not sent again', async () => {
    const s = await startFaultServer(async (req, res) => {
      if (req.url === '/v2/') {
        await new Promise((r) => setTimeout(r, PING_DELAY));
        return void res.end('{}');
      }
      res.statusCode = 302;
      res.setHeader('location', 'http://169.254.169.254/latest/meta-data');
      res.end();
    });
    servers.push(s);
    await new PlainHttpMemory(plainHttpMemoryDir(env)).remember(s.host);
    await expect(openRepository(s.host, 'a/b', base).getManifest('1')).rejects.toMatchObject({ code: 'EUNSAFE', message: expect.stringContaining('link-local') });
    expect(manifestRequests(s)).toHaveLength(1);
  });
});
