// Copies hash each blob once: a registry source skips its own digest when the target verifies what it
// writes (sinkVerifies). These tests make sure a corrupt registry blob still fails the copy and names nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openDockerSource, openDockerTarget } from '../../../shared/transport/docker.ts';
import { openOciLayoutTarget } from '../../../shared/transport/oci-layout.ts';
import { copyImage } from '../../../shared/transport/copy-image.ts';
import { closeDispatchers } from '../../../shared/registry/tls.ts';
import { parseReference } from '../../../shared/ref/reference.ts';
import type { RegistryOptions } from '../../../shared/registry/types.ts';
import { MediaType } from '../../../shared/oci/media-types.ts';
import { startFaultServer, type FaultServer } from '../../helpers/fault-server.ts';
import { sha256, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { scratchDir } from '../../helpers/tmp.ts';

let scratch: { dir: string; cleanup: () => Promise<void> };
let reg: RegistryOptions;
let server: FaultServer;
let dest: TestRegistry;
const layer = randomBytes(300_000);
const corrupt = Buffer.from(layer);
corrupt[1234] = corrupt[1234]! ^ 0xff; // same size, other bytes
const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256('x')] } }));
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: sha256(config), size: config.length },
    layers: [{ mediaType: MediaType.OciLayerGzip, digest: sha256(layer), size: layer.length }],
  }),
);

beforeAll(async () => {
  scratch = await scratchDir('skiff-single-hash-');
  const conf = join(scratch.dir, 'registries.conf');
  await writeFile(conf, '');
  reg = { tlsVerify: false, registriesConf: conf, env: { HOME: scratch.dir }, retryTimes: 0, retryBaseMs: 10, retryMaxDelayMs: 20 };
  server = await startFaultServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/v2/') return void res.end('{}');
    if (url.includes('/manifests/')) {
      res.setHeader('content-type', MediaType.OciManifest);
      res.setHeader('docker-content-digest', sha256(manifest));
      res.setHeader('content-length', String(manifest.length));
      return void res.end(req.method === 'HEAD' ? undefined : manifest);
    }
    const body = url.endsWith(sha256(config)) ? config : url.endsWith(sha256(layer)) ? corrupt : undefined;
    if (!body) {
      res.statusCode = 404;
      return void res.end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}');
    }
    res.setHeader('content-length', String(body.length));
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  dest = await startRegistry();
});
afterAll(async () => {
  await server?.stop();
  await dest?.stop();
  await closeDispatchers();
  await scratch?.cleanup();
});

describe('one hash per blob (sinkVerifies)', () => {
  it('registry → oci: a corrupt layer fails with EINTEGRITY and leaves no blob and no name', async () => {
    const src = await openDockerSource(parseReference(`${server.host}/app/img:v1`), reg);
    const out = join(scratch.dir, 'oci');
    const dst = await openOciLayoutTarget(out, 'v1');
    await expect(copyImage(src, dst, {})).rejects.toMatchObject({ code: 'EINTEGRITY' });
    expect(existsSync(join(out, 'blobs/sha256', sha256(layer).slice(7)))).toBe(false);
    const idx = JSON.parse(await readFile(join(out, 'index.json'), 'utf8').catch(() => '{"manifests":[]}')) as { manifests: unknown[] };
    expect(idx.manifests).toEqual([]);
  });

  it('registry → registry: a corrupt layer fails and the destination registry never stores it', async () => {
    const src = await openDockerSource(parseReference(`${server.host}/app/img:v1`), reg);
    const dst = await openDockerTarget(parseReference(`${dest.host}/mirror/img:v1`), reg);
    await expect(copyImage(src, dst, {})).rejects.toMatchObject({ code: expect.stringMatching(/^(EINTEGRITY|EIO)$/) });
    const head = await fetch(`${dest.url}/v2/mirror/img/blobs/${sha256(layer)}`, { method: 'HEAD' });
    expect(head.status).toBe(404);
    const tag = await fetch(`${dest.url}/v2/mirror/img/manifests/v1`, { method: 'HEAD' });
    expect(tag.status).toBe(404);
  });

  it('the source still hashes when the target does not verify (a plain getBlob)', async () => {
    const src = await openDockerSource(parseReference(`${server.host}/app/img:v1`), reg);
    const s = await src.getBlob({ mediaType: MediaType.OciLayerGzip, digest: sha256(layer) as never, size: layer.length });
    await expect((async () => {
      for await (const _ of s) void _;
    })()).rejects.toMatchObject({ code: 'EINTEGRITY' });
  });
});
