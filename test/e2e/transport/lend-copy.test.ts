import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, copyFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImageName } from '../../../shared/ref/transport-name.ts';
import { copyImage } from '../../../shared/transport/copy-image.ts';
import { openSource, openTarget, type TransportContext } from '../../../shared/transport/open.ts';
import { bulkGet } from '../../../shared/registry/bulk-get.ts';
import { safeLookup } from '../../../shared/registry/safe-lookup.ts';
import { closeDispatchers } from '../../../shared/registry/tls.ts';
import { layerFromTarBytes } from '../../../shared/image/layer.ts';
import { appendLayers } from '../../../shared/image/mutate.ts';
import { scratchImage } from '../../../shared/image/scratch.ts';
import { digestOf } from '../../../shared/oci/digest.ts';
import { ct } from '../../helpers/copy-tool.ts';
import { REGISTRY_BIN, startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { putImage, tarBytes } from '../../unit/transport/fixtures.ts';

// A copy from a real registry into an OCI layout lends its large layers (a bulk GET on a connection of its own,
// hashed and written from one reused buffer): over plain HTTP and over TLS, with the certificate checked.
describe.skipIf(!existsSync(REGISTRY_BIN))('large layers lent from a registry into a layout', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let plain: TestRegistry;
  let tls: TestRegistry;
  let ctx: TransportContext;
  let layerDigests: string[];
  let bigTarBytes: number;

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-lend-copy-'));
    [plain, tls] = await Promise.all([startRegistry(), startRegistry({ tls: true })]);
    ctx = { storeRoot: join(dir, 'store'), registry: { tlsVerify: false }, tmpDir: dir };
    // one layer of ~12 MiB compressed (random text: over the lending threshold) and one small one
    let img = scratchImage({ platform: { os: 'linux', architecture: 'amd64' }, format: 'oci' });
    const bigTar = await tarBytes({ 'big.txt': randomBytes(12 << 20).toString('base64') });
    bigTarBytes = bigTar.length;
    const big = await layerFromTarBytes(bigTar, { compression: 'gzip' });
    const small = await layerFromTarBytes(await tarBytes({ 'small.txt': 'small\n' }), { compression: 'gzip' });
    img = appendLayers(img, { layer: big, history: { created_by: 'big' } }, { layer: small, history: { created_by: 'small' } });
    const src = join(dir, 'src');
    await putImage(src, img, 'v1');
    const index = JSON.parse(await readFile(join(src, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(await readFile(join(src, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string; size: number }[] };
    layerDigests = manifest.layers.map((l) => l.digest);
    expect(manifest.layers[0]!.size).toBeGreaterThan(8 << 20);
    for (const r of [plain, tls]) {
      const s = await openSource(parseImageName(`oci:${src}:v1`), ctx);
      const t = await openTarget(parseImageName(`docker://${r.host}/skiff/lend:1`), ctx);
      await copyImage(s, t);
      await t.close();
      await s.close();
    }
  });
  afterAll(async () => {
    await Promise.all([plain?.stop(), tls?.stop()]);
    await closeDispatchers();
    await cleanup?.();
  });

  /** Every blob file of a layout hashes to its name. */
  async function expectIntact(layout: string): Promise<void> {
    const d = join(layout, 'blobs', 'sha256');
    for (const name of await readdir(d)) expect(digestOf(await readFile(join(d, name)))).toBe(`sha256:${name}`);
  }

  it('copy-tool lends the large layer over plain HTTP; the layout is intact and skopeo reads it', async () => {
    const out = join(dir, 'plain-out');
    const r = ct(['--debug', 'copy', '--src-tls-verify=false', `docker://${plain.host}/skiff/lend:1`, `oci:${out}:x`]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    const bulkLines = r.stderr.split('\n').filter((l) => l.includes('(bulk: own connection)'));
    expect(bulkLines).toEqual([expect.stringContaining(`/blobs/${layerDigests[0]}`)]); // the big layer only
    await expectIntact(out);
    const sk = spawnSync('skopeo', ['inspect', '--raw', `oci:${out}:x`], { encoding: 'utf8' });
    expect(sk.status).toBe(0);
    expect(sk.stdout).toContain(layerDigests[0]);
  });

  it('over TLS the lent layer is fetched only from a certificate the CA directory vouches for', async () => {
    const certDir = join(dir, 'certs');
    await mkdir(certDir);
    await copyFile(join(dirname(tls.dataDir), 'tls.crt'), join(certDir, 'ca.crt'));
    const out = join(dir, 'tls-out');
    const r = ct(['--debug', 'copy', '--src-cert-dir', certDir, `docker://${tls.host}/skiff/lend:1`, `oci:${out}:x`]);
    expect(r.stderr.split('\n').filter((l) => !l.startsWith('DEBU') && /error/i.test(l))).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('(bulk: own connection)');
    await expectIntact(out);
    // the bulk GET itself checks the certificate: refused without the CA, answered with it
    const url = new URL(`https://${tls.host}/v2/`);
    const o = { headersTimeout: 10_000, bodyTimeout: 10_000 };
    const e = await bulkGet(url, {}, { ...o, connect: { rejectUnauthorized: true, lookup: safeLookup() } }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: expect.stringMatching(/CERT|SELF_SIGNED/) });
    const res = await bulkGet(url, {}, { ...o, connect: { rejectUnauthorized: true, ca: [await readFile(join(certDir, 'ca.crt'), 'utf8')], lookup: safeLookup() } });
    expect(res?.statusCode).toBe(200);
    await res?.body.dump();
  });

  it('a pull into the store lends the large layer and still notes its uncompressed size', async () => {
    const lines: string[] = [];
    const c = { ...ctx, storeRoot: join(dir, 'pull-store'), registry: { tlsVerify: false, debug: (l: string) => lines.push(l) } };
    const s = await openSource(parseImageName(`docker://${plain.host}/skiff/lend:1`), c);
    const t = await openTarget(parseImageName('store:skiff/lend:1'), c);
    await copyImage(s, t);
    await t.close();
    await s.close();
    expect(lines.filter((l) => l.includes('(bulk: own connection)'))).toEqual([expect.stringContaining(`/blobs/${layerDigests[0]}`)]);
    const blob = join(c.storeRoot, 'images', 'blobs', 'sha256', layerDigests[0]!.slice(7));
    expect(digestOf(await readFile(blob))).toBe(layerDigests[0]);
    const note = await readFile(join(c.storeRoot, 'cache', 'layer-sizes', layerDigests[0]!.slice(7)), 'utf8');
    expect(Number(note.trim())).toBe(bigTarBytes);
  });
});
