import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar-stream';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImageName } from '../../../shared/ref/transport-name.ts';
import { openStore } from '../../../shared/store/store.ts';
import { openSource } from '../../../shared/transport/open.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { makeImage, putImage, refNames } from './fixtures.ts';

const run = promisify(execFile);
const NODE = join(import.meta.dirname, '../../../node_modules/.bin/node');
const WORKER = join(import.meta.dirname, 'copy-worker.ts');

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await scratchDir('skiff-transport-proc-'));
});
afterAll(() => cleanup());

describe('copies from several processes', () => {
  it('LS-09 eight processes copying different images into one oci: layout and one store lose no tag', async () => {
    const src = join(dir, 'src');
    const digests: string[] = [];
    for (let i = 0; i < 8; i++) digests.push((await putImage(src, await makeImage(`proc-${i}`, { layers: 2 }), `t${i}`)).desc.digest);
    const storeRoot = join(dir, 'store');
    const layout = join(dir, 'dst');
    const go = (to: (i: number) => string) =>
      Promise.all(Array.from({ length: 8 }, (_, i) => run(NODE, ['--experimental-strip-types', '--no-warnings', WORKER, storeRoot, `oci:${src}:t${i}`, to(i)])));
    const outs = await go((i) => `oci:${layout}:t${i}`);
    outs.forEach((o, i) => expect(o.stdout.trim()).toBe(`copied ${digests[i]}`));
    expect((await refNames(layout)).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `t${i}`));
    await go((i) => `store:proc:t${i}`);
    const store = await openStore(storeRoot);
    for (let i = 0; i < 8; i++) expect((await store.layout.resolve(`localhost/proc:t${i}`)).digest).toBe(digests[i]);
    expect((await store.layout.entries()).length).toBe(8);
    await store.close();
  });
});

describe('archive member names', () => {
  it('an oci-archive or docker-archive with a member escaping the archive is refused', async () => {
    for (const [kind, evil] of [
      ['oci-archive', '../escape'],
      ['oci-archive', '/abs/file'],
      ['docker-archive', 'a/../../escape'],
    ] as const) {
      const file = join(dir, `evil-${kind}-${evil.replace(/\W/g, '')}.tar`);
      const pack = tar.pack();
      pack.entry({ name: 'oci-layout' }, '{"imageLayoutVersion":"1.0.0"}');
      pack.entry({ name: evil }, 'x');
      pack.finalize();
      await pipeline(pack as unknown as NodeJS.ReadableStream, createWriteStream(file));
      await expect(openSource(parseImageName(`${kind}:${file}`), { storeRoot: join(dir, 's'), registry: {}, tmpDir: dir })).rejects.toMatchObject({ code: 'EUNSAFE' });
    }
  });

  it('a docker-archive symlink pointing outside the archive is refused', async () => {
    const file = join(dir, 'evil-link.tar');
    const pack = tar.pack();
    pack.entry({ name: 'manifest.json' }, '[]');
    pack.entry({ name: 'l.tar', type: 'symlink', linkname: '../../etc/passwd' });
    pack.finalize();
    await pipeline(pack as unknown as NodeJS.ReadableStream, createWriteStream(file));
    await expect(openSource(parseImageName(`docker-archive:${file}`), { storeRoot: join(dir, 's'), registry: {}, tmpDir: dir })).rejects.toMatchObject({ code: 'EUNSAFE' });
  });

  it('LS-16 a docker-archive symlink cycle and an oversized manifest.json fail cleanly', async () => {
    const ctx = { storeRoot: join(dir, 's'), registry: {}, tmpDir: dir };
    const cyc = join(dir, 'cycle.tar');
    let pack = tar.pack();
    pack.entry({ name: 'manifest.json' }, '[{"Config":"c.json","Layers":["a/layer.tar"]}]');
    pack.entry({ name: 'a/layer.tar', type: 'symlink', linkname: '../b/layer.tar' });
    pack.entry({ name: 'b/layer.tar', type: 'symlink', linkname: '../a/layer.tar' });
    pack.finalize();
    await pipeline(pack as unknown as NodeJS.ReadableStream, createWriteStream(cyc));
    await expect(openSource(parseImageName(`docker-archive:${cyc}`), ctx)).rejects.toMatchObject({ code: 'ELIMIT' });
    const big = join(dir, 'big.tar');
    pack = tar.pack();
    pack.entry({ name: 'manifest.json' }, Buffer.alloc(5 * 1024 * 1024, 0x20));
    pack.finalize();
    await pipeline(pack as unknown as NodeJS.ReadableStream, createWriteStream(big));
    await expect(openSource(parseImageName(`docker-archive:${big}`), ctx)).rejects.toMatchObject({ code: 'ELIMIT' });
    // nothing left behind in the temp dir
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir).filter((n) => n.startsWith('skiff-docker-archive-'))).toEqual([]);
  });
});
