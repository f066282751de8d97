import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach } from 'vitest';
import { closeDispatchers } from '../../shared/registry/tls.ts';
import type { RegistryOptions } from '../../shared/registry/types.ts';
import { startFaultServer, type FaultServer } from './fault-server.ts';

/** Answers one request to a fault registry (`/v2/` is answered already). */
export type FaultRoute = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void | Promise<void>;

/**
 * The set-up of a file of registry-client fault tests, made when the file loads: `base` options over a scratch
 * HOME with an empty registries.conf and a private runtime dir (so the plain-HTTP memory starts empty, whatever
 * earlier runs remembered about a port a fault server reuses, and request counts do not depend on it); `serve`
 * starts a fault server answering `/v2/` with 200 and everything else with `route`. Servers stop after each test;
 * dispatchers close and the scratch dir goes after the file.
 */
export function faultRegistrySuite(prefix: string): { base: RegistryOptions; serve: (route: FaultRoute, address?: string) => Promise<FaultServer> } {
  const dir = mkdtempSync(join(process.env.SKIFF_TEST_TMP ?? '/dev/shm', prefix));
  const conf = join(dir, 'registries.conf');
  writeFileSync(conf, '');
  const run = join(dir, 'run');
  mkdirSync(run, { mode: 0o700 });
  const servers: FaultServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });
  afterAll(async () => {
    await closeDispatchers();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    base: { tlsVerify: false, registriesConf: conf, env: { HOME: dir, XDG_RUNTIME_DIR: run }, retryBaseMs: 10, retryMaxDelayMs: 50 },
    async serve(route, address) {
      const s = await startFaultServer((req, res, body) => (req.url === '/v2/' ? void res.end('{}') : route(req, res, body)), address ? { address } : {});
      servers.push(s);
      return s;
    },
  };
}

/** Every byte of a stream. */
export async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/**
 * A route for RC-06: the first GET of `blob` declares its full length, sends the first `cut` bytes and breaks the
 * connection; a ranged GET is answered as `mode` says — `good`: 206 from the requested byte; `full200`: the whole
 * blob with 200; `wrongrange`: a 206 that starts at 0.
 */
export function truncatingBlobRoute(blob: Buffer, cut: number, mode: 'good' | 'full200' | 'wrongrange'): FaultRoute {
  return (req, res) => {
    const range = req.headers.range;
    if (range === undefined) {
      res.setHeader('content-length', blob.length);
      res.write(blob.subarray(0, cut));
      return void setTimeout(() => res.destroy(), 20);
    }
    const from = Number(/bytes=(\d+)-/.exec(range)![1]);
    if (mode === 'full200') return void res.end(blob);
    res.statusCode = 206;
    const start = mode === 'wrongrange' ? 0 : from;
    res.setHeader('content-range', `bytes ${start}-${blob.length - 1}/${blob.length}`);
    res.setHeader('content-length', blob.length - start);
    res.end(blob.subarray(start));
  };
}

/** A route for RC-11: 401 asking for Basic credentials, then (with any) a 307 to `location`. */
export function basicAuthRedirectRoute(location: string): FaultRoute {
  return (req, res) => {
    if (!req.headers.authorization) {
      res.statusCode = 401;
      res.setHeader('www-authenticate', 'Basic realm="r"');
      return void res.end();
    }
    res.statusCode = 307;
    res.setHeader('location', location);
    res.end();
  };
}
