// Offline generation of benchmark images: OCI image layouts written by hand from pseudo-random
// (incompressible) bytes, layers gzip level 1. Used by bench/copy.ts.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';

export class Hasher extends Transform {
  readonly h = createHash('sha256');
  size = 0;
  override _transform(c: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.h.update(c);
    this.size += c.length;
    cb(null, c);
  }
}

const POOL = randomBytes(80 << 20);
let poolPos = 0;
/** Pseudo-random bytes: slices of one random pool at moving offsets (gzip's 32 KiB window finds no repeats). */
export function randomish(n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let o = 0;
  while (o < n) {
    const start = (poolPos = (poolPos + 1_048_573) % (POOL.length - (1 << 20)));
    const take = Math.min(n - o, 1 << 20);
    POOL.copy(out, o, start, start + take);
    out.writeUInt32LE(o ^ n, o); // every slice unique
    o += take;
  }
  return out;
}

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
}

/** Writes a gzip (level 1) tar layer of `files` random files into blobs/sha256; returns descriptor + diffID. */
export async function writeLayer(layout: string, name: string, fileSizes: number[]): Promise<{ desc: Desc; diffId: string }> {
  const p = tarPack();
  const raw = new Hasher();
  const gz = new Hasher();
  const tmp = join(layout, `blobs/sha256/.tmp-${name}`);
  const done = pipeline(p, raw, createGzip({ level: 1 }), gz, createWriteStream(tmp));
  for (const [i, size] of fileSizes.entries()) {
    await new Promise<void>((res, rej) => p.entry({ name: `${name}/file-${i}.bin`, size, mode: 0o644, mtime: new Date(0) }, randomish(size), (e) => (e ? rej(e) : res())));
  }
  p.finalize();
  await done;
  const hex = gz.h.digest('hex');
  rmSync(join(layout, 'blobs/sha256', hex), { force: true });
  writeFileSync(join(layout, 'blobs/sha256', hex), readFileSync(tmp));
  rmSync(tmp);
  return { desc: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${hex}`, size: gz.size }, diffId: `sha256:${raw.h.digest('hex')}` };
}

export function putJson(layout: string, value: unknown, mediaType: string): Desc {
  const bytes = Buffer.from(JSON.stringify(value));
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(layout, 'blobs/sha256', hex), bytes);
  return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
}

export function newLayout(dir: string): void {
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
}

export function imageManifest(layout: string, layers: { desc: Desc; diffId: string }[]): Desc {
  const config = putJson(
    layout,
    {
      created: '2024-01-01T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/bin:/bin'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'bench' })),
    },
    'application/vnd.oci.image.config.v1+json',
  );
  return putJson(layout, { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: layers.map((l) => l.desc) }, 'application/vnd.oci.image.manifest.v1+json');
}

export function writeIndex(layout: string, entries: { desc: Desc; ref: string }[]): void {
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries.map((e) => ({ ...e.desc, annotations: { 'org.opencontainers.image.ref.name': e.ref } })) }),
  );
}

/** A 4-layer image (`layerMiB` each, 4 files per layer) in a new layout at `dir` under ref `big`; returns its total blob bytes. */
export async function makeBigLayout(dir: string, layerMiB: number): Promise<number> {
  newLayout(dir);
  const fileBytes = (layerMiB << 20) / 4;
  const layers = await Promise.all([0, 1, 2, 3].map((i) => writeLayer(dir, `l${i}`, [1, 2, 3, 4].map(() => fileBytes))));
  writeIndex(dir, [{ desc: imageManifest(dir, layers), ref: 'big' }]);
  return layers.reduce((n, l) => n + l.desc.size, 0);
}

/** 20 images `v0`…`v19` sharing one base layer, each with its own 1–16 MiB layer (1–3 MiB when quick). */
export async function makeSmallLayout(dir: string, quick: boolean): Promise<{ refs: string[]; bytes: number }> {
  newLayout(dir);
  const shared = await writeLayer(dir, 'base', [quick ? 1 << 20 : 4 << 20]);
  const entries: { desc: Desc; ref: string }[] = [];
  let bytes = shared.desc.size;
  for (let i = 0; i < 20; i++) {
    const mib = quick ? 1 + (i % 3) : [1, 2, 4, 8][i % 4]! * (i % 5 === 0 ? 2 : 1);
    const own = await writeLayer(dir, `app${i}`, [mib << 20]);
    bytes += own.desc.size;
    entries.push({ desc: imageManifest(dir, [shared, own]), ref: `v${i}` });
  }
  writeIndex(dir, entries);
  return { refs: entries.map((e) => e.ref), bytes };
}
