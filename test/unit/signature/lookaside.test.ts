import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { scratchDir } from '../../helpers/tmp.ts';
import { digestOf } from '../../../shared/oci/digest.ts';
import { defaultLookaside, loadRegistriesD, lookasideBases, lookasideLocation, readLookasideSignatures } from '../../../shared/signature/lookaside.ts';

const D = digestOf('m');

describe('lookaside', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: Server;
  let port = 0;
  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-lookaside-'));
    server = createServer((req, res) => {
      if (req.url === `/sigs/ns/app@sha256=${D.slice(7)}/signature-1`) res.end('SIG1');
      else if (req.url?.includes('big')) res.writeHead(200, { 'content-length': String(5 * 1024 * 1024) }).end();
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    server?.close();
    await cleanup?.();
  });

  it('parses registries.d and picks the most specific scope', async () => {
    const a = join(dir, 'a');
    mkdirSync(a);
    writeFileSync(join(a, 'default.yaml'), 'default-docker:\n  lookaside: file:///srv/sigs\n');
    writeFileSync(join(a, 'x.yaml'), 'docker:\n  a.io/ns:\n    sigstore: https://sigs.a.io/s\n    sigstore-staging: file:///stage\n  a.io/ns/app:\n    lookaside: http://127.0.0.1/x\n    use-sigstore-attachments: true\n');
    const c = await loadRegistriesD([a, join(dir, 'missing')]);
    expect(lookasideBases(c, 'a.io/ns/app:1')).toMatchObject({ read: 'http://127.0.0.1/x', useSigstoreAttachments: true });
    expect(lookasideBases(c, 'a.io/ns/other:1')).toEqual({ read: 'https://sigs.a.io/s', write: 'file:///stage', useSigstoreAttachments: false });
    expect(lookasideBases(c, 'b.io/x:1').read).toBe('file:///srv/sigs');
    expect(lookasideBases({ docker: {} }, 'b.io/x:1', { uid: 0 }).write).toBe('file:///var/lib/containers/sigstore');
    expect(defaultLookaside(1000, '/home/u')).toBe('file:///home/u/.local/share/containers/sigstore');
    writeFileSync(join(a, 'y.yaml'), 'docker:\n  a.io/ns:\n    lookaside: file:///dup\n');
    await expect(loadRegistriesD([a])).rejects.toThrow(/defined both/);
    writeFileSync(join(a, 'y.yaml'), 'docker:\n  c.io:\n    bogus: 1\n');
    await expect(loadRegistriesD([a])).rejects.toThrow(/unknown key/);
  });

  it('SG-10 digests are validated before any lookaside path is built', async () => {
    expect(lookasideLocation('file:///srv/sigs', 'docker.io/library/busybox:1', D, 1).href).toBe(`file:///srv/sigs/library/busybox@sha256=${D.slice(7)}/signature-1`);
    for (const bad of ['sha256:../../x', 'sha256:' + 'a'.repeat(63) + '/', '../../etc/passwd', `sha512:${'a'.repeat(128)}`]) {
      expect(() => lookasideLocation('file:///srv/sigs', 'a.io/b:1', bad, 1), bad).toThrow(/digest/);
      await expect(readLookasideSignatures(pathToFileURL(dir).href, 'a.io/b:1', bad)).rejects.toThrow(/digest/);
    }
  });

  it('reads signatures from file:// and http:// lookasides with caps', async () => {
    const base = pathToFileURL(join(dir, 'store')).href;
    const one = new URL(lookasideLocation(base, 'a.io/ns/app:1', D, 1));
    mkdirSync(new URL('.', one), { recursive: true });
    writeFileSync(one, 'A');
    writeFileSync(new URL('signature-2', one), 'B');
    expect((await readLookasideSignatures(base, 'a.io/ns/app:1', D)).map((b) => Buffer.from(b).toString())).toEqual(['A', 'B']);
    expect(await readLookasideSignatures(`http://127.0.0.1:${port}/sigs`, 'a.io/ns/app:1', D)).toEqual([new TextEncoder().encode('SIG1')]);
    await expect(readLookasideSignatures(`http://127.0.0.1:${port}/big`, 'a.io/ns/app:1', D)).rejects.toThrow(/larger than/);
  });
});
