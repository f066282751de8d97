import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { digestOf } from '../../../shared/oci/digest.ts';
import { applyLayer } from '../../../shared/layer/apply.ts';
import { compress, decompress, decompressWithDiffID, detectCompression } from '../../../shared/layer/compression.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { collect, makeTar } from './helpers.ts';

const one = (b: Buffer): Readable => Readable.from([b]);

function* repeat(b: Buffer, n: number): Generator<Buffer> {
  for (let i = 0; i < n; i++) yield b;
}

describe('compression', () => {
  it('detects gzip, zstd and plain tar from magic bytes and keeps the stream intact', async () => {
    const plain = await makeTar([{ name: 'a', body: 'hello' }]);
    const gz = await collect(compress(one(plain), 'gzip'));
    const zs = await collect(compress(one(plain), 'zstd'));
    for (const [buf, want] of [[plain, 'none'], [gz, 'gzip'], [zs, 'zstd']] as const) {
      // feed in 1-byte chunks so the peek has to gather several chunks
      const { compression, stream } = await detectCompression(Readable.from([...buf].map((x) => Buffer.from([x]))));
      expect(compression).toBe(want);
      expect((await collect(stream)).equals(buf)).toBe(true);
    }
    const tiny = await detectCompression(one(Buffer.from([0x1f])));
    expect(tiny.compression).toBe('none');
    expect((await collect(tiny.stream)).length).toBe(1);
    await expect(detectCompression(one(Buffer.from('BZh91AY&SY')))).rejects.toMatchObject({ code: 'EUNSUPPORTED' });
  });

  it('round-trips gzip and zstd and computes the diffID while decompressing', async () => {
    const plain = await makeTar([{ name: 'a', body: 'x'.repeat(100_000) }]);
    for (const c of ['gzip', 'zstd', 'none'] as const) {
      const blob = await collect(compress(one(plain), c, c === 'zstd' ? 19 : 9));
      const { compression, stream } = await decompressWithDiffID(one(blob), { expectDiffID: digestOf(plain) });
      expect(compression).toBe(c);
      expect((await collect(stream)).equals(plain)).toBe(true);
      expect(stream.result).toBe(digestOf(plain));
    }
    // gzip output is reproducible (no timestamp in the header)
    expect((await collect(compress(one(plain), 'gzip'))).equals(await collect(compress(one(plain), 'gzip')))).toBe(true);
  });

  it('LA-17 a diffID mismatch fails the stream with EINTEGRITY', async () => {
    const plain = await makeTar([{ name: 'a', body: 'x' }]);
    const { stream } = await decompressWithDiffID(one(gzipSync(plain)), { expectDiffID: digestOf('other') });
    await expect(collect(stream)).rejects.toMatchObject({ code: 'EINTEGRITY' });
  });

  it('LA-16 a 10 MB gzip of zeros hits the cap fast without buffering', async () => {
    const member = gzipSync(Buffer.alloc(100 * 1024 * 1024), { level: 9 }); // ~100 KB
    const copies = Math.ceil((10 * 1024 * 1024) / member.length);
    const rssBefore = process.memoryUsage().rss;
    const t0 = Date.now();
    // byte cap
    const a = await decompress(Readable.from(repeat(member, copies)), { limits: { maxBytes: 64 * 1024 * 1024 } });
    await expect(collect(a.stream)).rejects.toMatchObject({ code: 'ELIMIT', message: expect.stringMatching(/more than 67108864 bytes/) });
    // ratio cap with the defaults (10 GB would come out)
    let seen = 0;
    const src = Readable.from(repeat(member, copies));
    const b = await decompress(src, {});
    await expect(
      (async () => {
        for await (const c of b.stream) seen += (c as Buffer).length;
      })(),
    ).rejects.toMatchObject({ code: 'ELIMIT', message: expect.stringMatching(/ratio/) });
    expect(seen).toBeLessThan(512 * 1024 ** 2);
    expect(src.destroyed).toBe(true); // the source is torn down too
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(300 * 1024 * 1024);
  });

  it('LA-16 a zstd frame asking for a window above the cap is refused', async () => {
    const frame = execFileSync('zstd', ['--long=23', '-c', '-q'], { input: Buffer.alloc(1000, 1) });
    expect(frame[5]).toBe((23 - 10) << 3); // window descriptor: 2^23
    const bad = await decompress(one(frame), { limits: { zstdWindowLogMax: 20 } });
    await expect(collect(bad.stream)).rejects.toMatchObject({ code: 'ELIMIT' });
    const ok = await decompress(one(frame), {});
    expect((await collect(ok.stream)).equals(Buffer.alloc(1000, 1))).toBe(true);
    // a frame declaring a 2 GiB window fails with the default cap
    const huge = execFileSync('zstd', ['--long=31', '-c', '-q'], { input: Buffer.from('hi\n') });
    const h = await decompress(one(huge), {});
    await expect(collect(h.stream)).rejects.toMatchObject({ code: 'ELIMIT' });
  });

  it('LA-16 concatenated gzip members are all decompressed, as gzip(1) does', async () => {
    const whole = await makeTar([{ name: 'a', body: 'x'.repeat(5000) }, { name: 'b', body: 'y' }]);
    const cut = 3000;
    const blob = Buffer.concat([gzipSync(whole.subarray(0, cut)), gzipSync(whole.subarray(cut))]);
    const { stream } = await decompressWithDiffID(one(blob), { expectDiffID: digestOf(whole) });
    expect((await collect(stream)).equals(whole)).toBe(true);
    const viaTool = execFileSync('gzip', ['-dc'], { input: blob });
    expect(viaTool.equals(whole)).toBe(true);
  });

  it('LA-16 gzip inside gzip is not unwrapped twice: the inner bytes are not a tar', async () => {
    const { dir, cleanup } = await scratchDir();
    try {
      const inner = gzipSync(await makeTar([{ name: 'evil', body: 'x' }]));
      const { stream } = await decompress(one(gzipSync(inner)));
      const R = join(dir, 'R');
      await mkdir(R);
      await expect(applyLayer(R, stream)).rejects.toMatchObject({ code: 'EINVALID' });
    } finally {
      await cleanup();
    }
  });

  it('corrupt data and aborts fail cleanly', async () => {
    const gz = gzipSync(Buffer.alloc(100_000, 3));
    gz[gz.length - 20]! ^= 0xff;
    gz[40]! ^= 0xff;
    const { stream } = await decompress(one(gz));
    await expect(collect(stream)).rejects.toMatchObject({ code: 'EINVALID' });
    const ac = new AbortController();
    const src = Readable.from(repeat(gzipSync(Buffer.alloc(1 << 20)), 1000));
    const d = await decompress(src, { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await expect(collect(d.stream)).rejects.toMatchObject({ code: 'EABORT' });
  });
});
