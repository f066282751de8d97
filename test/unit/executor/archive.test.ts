import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { archiveKind, extractArchive } from '../../../shared/build/executor/archive.ts';
import { compress } from '../../../shared/layer/compression.ts';
import { Readable } from 'node:stream';

/** A ustar header of one regular file claiming `size` bytes (the body follows as zeros). */
function ustarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const field = (off: number, len: number, v: string): void => void h.write(v, off, len, 'latin1');
  const oct = (off: number, len: number, n: number): void => field(off, len, n.toString(8).padStart(len - 1, '0') + '\0');
  field(0, 100, name);
  oct(100, 8, 0o644);
  oct(108, 8, 0);
  oct(116, 8, 0);
  oct(124, 12, size);
  oct(136, 12, 0);
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A scratch directory on disk (not tmpfs): the bomb case writes up to the ratio grace before it is stopped. */
async function scratch(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'skiff-archive-'));
  dirs.push(d);
  return d;
}

describe('ADD local-archive extraction', () => {
  it('LA-16/BU-15 ADD of a gzip bomb beyond the limit fails with ELIMIT (default limits)', async () => {
    const dir = await scratch();
    // a tar claiming a 4 GiB file of zeros, as concatenated gzip members: ~4 MB on disk, ratio ~1000:1
    const member = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    const bomb = join(dir, 'bomb.tar.gz');
    await pipeline(
      Readable.from(
        (function* () {
          yield gzipSync(ustarHeader('bomb', 4 * 1024 ** 3));
          for (let i = 0; i < 64; i++) yield member;
        })(),
      ),
      createWriteStream(bomb),
    );
    expect(await archiveKind(bomb)).toBe('gzip');
    const into = join(dir, 'root');
    await mkdir(into);
    await expect(extractArchive(bomb, 'gzip', into)).rejects.toMatchObject({ code: 'ELIMIT', message: expect.stringMatching(/ratio/) });
    // stopped at the ratio grace (256 MiB), not at the 4 GiB the header claims
    const written = await stat(join(into, 'bomb')).then((s) => s.size, () => 0);
    expect(written).toBeLessThan(512 * 1024 ** 2);
  }, 60_000);

  it('LA-16/BU-15 zstd, xz and bzip2 archives run under the same limits', async () => {
    const dir = await scratch();
    const tar = Buffer.concat([ustarHeader('big', 8 * 1024 * 1024), Buffer.alloc(8 * 1024 * 1024), Buffer.alloc(1024)]);
    const files: [string, Buffer][] = [
      ['a.tar.zst', Buffer.concat(await Readable.from(compress(Readable.from([tar]), 'zstd')).toArray())],
      ['a.tar.xz', execFileSync('xz', ['-c'], { input: tar })],
      ['a.tar.bz2', execFileSync('bzip2', ['-c'], { input: tar })],
    ];
    for (const [name, body] of files) {
      const f = join(dir, name);
      await writeFile(f, body);
      const kind = await archiveKind(f);
      expect(kind).toBe(name.endsWith('.zst') ? 'zstd' : name.endsWith('.xz') ? 'xz' : 'bzip2');
      const into = join(dir, `${name}.root`);
      await mkdir(into);
      await expect(extractArchive(f, kind!, into, { limits: { maxBytes: 1024 * 1024 } }), name).rejects.toMatchObject({ code: 'ELIMIT' });
      // within the limits the same archive extracts whole
      const ok = join(dir, `${name}.ok`);
      await mkdir(ok);
      await extractArchive(f, kind!, ok);
      expect((await stat(join(ok, 'big'))).size).toBe(8 * 1024 * 1024);
    }
  }, 60_000);
});
