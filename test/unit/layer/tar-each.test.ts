import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SkiffError } from '../../../shared/errors.ts';
import { forEachTarEntry, type TarHeader } from '../../../shared/layer/tar-read.ts';
import { makeTar } from './helpers.ts';

const big = randomBytes(3 * 1024 * 1024 + 17);

async function sample(): Promise<Buffer> {
  return makeTar([
    { name: 'd/', type: 'directory' },
    { name: 'd/a', body: 'alpha' },
    { name: 'd/skipped', body: 'never read' },
    { name: 'd/big', body: big },
    { name: 'd/l', type: 'symlink', linkname: 'a' },
    { name: 'd/empty', body: '' },
  ]);
}

/** Feeds `buf` in small pieces so entries and bodies straddle chunk boundaries. */
function trickle(buf: Buffer, size = 777): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

describe('forEachTarEntry', () => {
  it('visits entries in order, one at a time, with bodies in order; unread bodies are skipped', async () => {
    for (const stream of [Readable.from([await sample()]), trickle(await sample())]) {
      const seen: string[] = [];
      const bodies = new Map<string, Buffer>();
      let running = 0;
      await forEachTarEntry(stream, async (h: TarHeader, body) => {
        expect(running).toBe(0);
        running++;
        seen.push(`${h.type} ${h.name} ${h.size}`);
        if (h.name !== 'd/skipped' && h.type === 'file') {
          const parts: Buffer[] = [];
          await body.forEachChunk((c) => parts.push(Buffer.from(c)));
          bodies.set(h.name, Buffer.concat(parts));
        }
        await new Promise((r) => setTimeout(r, 1)); // an async callback holds the next entry back
        running--;
      });
      expect(seen).toEqual(['directory d/ 0', 'file d/a 5', 'file d/skipped 10', `file d/big ${big.length}`, 'symlink d/l 0', 'file d/empty 0']);
      expect(bodies.get('d/a')?.toString()).toBe('alpha');
      expect(bodies.get('d/big')?.equals(big)).toBe(true);
      expect(bodies.get('d/empty')?.length).toBe(0);
    }
  });

  it('a stream that is not a tar fails with EINVALID', async () => {
    await expect(forEachTarEntry(Readable.from([randomBytes(4096)]), () => {})).rejects.toMatchObject({ code: 'EINVALID' });
  });

  it('a failing source fails with its own error, after the running callback settled', async () => {
    const tarBytes = await sample();
    const src = new PassThrough();
    src.write(tarBytes.subarray(0, 2048)); // d/ and d/a, then the head of d/skipped
    const order: string[] = [];
    const p = forEachTarEntry(src, async (h) => {
      if (h.name === 'd/a') {
        src.destroy(new SkiffError('EINTEGRITY', 'digest mismatch'));
        await new Promise((r) => setTimeout(r, 20));
        order.push('callback done');
      }
    }).catch((e: unknown) => {
      order.push('rejected');
      throw e;
    });
    await expect(p).rejects.toMatchObject({ code: 'EINTEGRITY' });
    expect(order).toEqual(['callback done', 'rejected']);
  });

  it('an error thrown by the callback rejects as it is and no later entry is visited', async () => {
    const seen: string[] = [];
    const err = Object.assign(new Error('disk full'), { code: 'ENOSPC' });
    await expect(
      forEachTarEntry(Readable.from([await sample()]), (h) => {
        seen.push(h.name);
        if (h.name === 'd/a') throw err;
      }),
    ).rejects.toBe(err);
    expect(seen).toEqual(['d/', 'd/a']);
    // from inside a body chunk too
    await expect(
      forEachTarEntry(trickle(await sample()), (h, body) =>
        h.name === 'd/big'
          ? body.forEachChunk(() => {
              throw err;
            })
          : undefined,
      ),
    ).rejects.toBe(err);
  });

  it('an aborted signal ends it with EABORT', async () => {
    const ac = new AbortController();
    const seen: string[] = [];
    await expect(
      forEachTarEntry(
        trickle(await sample()),
        (h) => {
          seen.push(h.name);
          if (h.name === 'd/a') ac.abort();
        },
        { signal: ac.signal },
      ),
    ).rejects.toMatchObject({ code: 'EABORT' });
    expect(seen).toEqual(['d/', 'd/a']);
    await expect(forEachTarEntry(Readable.from([await sample()]), () => {}, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'EABORT' });
  });

  it('a truncated tar fails', async () => {
    const tarBytes = await sample();
    await expect(forEachTarEntry(Readable.from([tarBytes.subarray(0, 5000)]), () => {})).rejects.toBeInstanceOf(Error);
  });
});
