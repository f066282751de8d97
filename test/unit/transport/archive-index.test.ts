import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveIndex } from '../../../shared/transport/archive-index.ts';
import { parseImageName } from '../../../shared/ref/transport-name.ts';
import { openSource } from '../../../shared/transport/open.ts';
import { openTarget } from '../../../shared/transport/open.ts';
import { copyImage } from '../../../shared/transport/copy-image.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { makeImage, putImage } from './fixtures.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await scratchDir('skiff-archive-index-'));
});
afterAll(() => cleanup());

async function text(ix: ArchiveIndex, name: string): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of ix.stream(name) as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts).toString();
}

describe('ArchiveIndex', () => {
  const longDir = `${'d'.repeat(120)}/${'e'.repeat(90)}`;
  beforeAll(() => {
    const src = join(dir, 'src');
    mkdirSync(join(src, longDir), { recursive: true });
    writeFileSync(join(src, longDir, 'f.txt'), 'long name body');
    writeFileSync(join(src, 'big.bin'), Buffer.alloc(3 * 1024 * 1024 + 7, 0x61));
    writeFileSync(join(src, 'empty'), '');
    symlinkSync('big.bin', join(src, 'alias'));
    for (const fmt of ['gnu', 'pax', 'ustar']) {
      execFileSync('tar', [`--format=${fmt}`, '-C', src, '-cf', join(dir, `${fmt}.tar`), ...(fmt === 'ustar' ? ['big.bin', 'empty', 'alias'] : ['.'])]);
    }
  });

  it.each(['gnu', 'pax'])('reads %s long names and streams members in place, links resolved', async (fmt) => {
    const ix = (await ArchiveIndex.open(join(dir, `${fmt}.tar`)))!;
    try {
      expect(await text(ix, `${longDir}/f.txt`)).toBe('long name body');
      expect(ix.size('./big.bin')).toBe(3 * 1024 * 1024 + 7);
      const big = await text(ix, 'alias');
      expect(big.length).toBe(3 * 1024 * 1024 + 7);
      expect(/^a+$/.test(big)).toBe(true);
      expect(await text(ix, 'empty')).toBe('');
      // several streams of one handle, destroyed early, leave the handle usable
      for (let i = 0; i < 3; i++) {
        const rs = ix.stream('big.bin');
        for await (const _ of rs as AsyncIterable<Buffer>) break;
      }
      expect((await ix.readSmall('empty', 'x', 10)).length).toBe(0);
      await expect(ix.readSmall('big.bin', 'big', 1024)).rejects.toMatchObject({ code: 'ELIMIT' });
      expect(() => ix.resolve('nosuch')).toThrow(/no member/);
    } finally {
      await ix.close();
    }
  });

  it('refuses what is not a tar archive, and a truncated one', async () => {
    writeFileSync(join(dir, 'junk.tar'), Buffer.alloc(2048, 0x41));
    await expect(ArchiveIndex.open(join(dir, 'junk.tar'))).rejects.toMatchObject({ code: 'EINVALID' });
    execFileSync('cp', [join(dir, 'ustar.tar'), join(dir, 'cut.tar')]);
    truncateSync(join(dir, 'cut.tar'), 4096);
    await expect(ArchiveIndex.open(join(dir, 'cut.tar'))).rejects.toMatchObject({ code: 'EINVALID' });
  });

  it('is undefined for input that cannot seek (a fifo)', async () => {
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    expect(await ArchiveIndex.open(join(dir, 'fifo'))).toBeUndefined();
  });
});

describe('docker-archive source', () => {
  it('reads a regular archive in place (no temp copy) and a piped one through a temp dir', async () => {
    const layout = join(dir, 'layout');
    await putImage(layout, await makeImage('ix', { layers: 2 }), 'v1');
    const ctx = { storeRoot: join(dir, 'store'), registry: {}, tmpDir: join(dir, 'tmp') };
    mkdirSync(ctx.tmpDir);
    const file = join(dir, 'img.docker.tar');
    const copy = async (from: string, to: string) => {
      const src = await openSource(parseImageName(from), ctx);
      const dst = await openTarget(parseImageName(to), ctx);
      try {
        return await copyImage(src, dst, {});
      } finally {
        await dst.close();
        await src.close();
      }
    };
    await copy(`oci:${layout}:v1`, `docker-archive:${file}:example.com/ix:1`);
    const manifestOf = async (name: string) => {
      const src = await openSource(parseImageName(name), ctx);
      try {
        expect(readdirSync(ctx.tmpDir).length).toBe(name.includes('fifo') ? 1 : 0); // extracted only from a pipe
        return (await src.getManifest()).digest;
      } finally {
        await src.close();
      }
    };
    const inPlace = await manifestOf(`docker-archive:${file}`);
    // the same archive through a pipe: streamed into a temp dir, same image
    const fifo = join(dir, 'img-fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', `cat "$1" > "$2"`, 'sh', file, fifo], { stdio: 'ignore' });
    const written = new Promise((r) => writer.once('exit', r));
    const piped = await manifestOf(`docker-archive:${fifo}`);
    await written;
    expect(piped).toBe(inPlace);
    expect(readdirSync(ctx.tmpDir)).toEqual([]); // and removed on close
    // dir: keeps the Docker format (oci: converts it to OCI)
    const back = await copy(`docker-archive:${file}`, `dir:${join(dir, 'back')}`);
    expect(back.digest).toBe(inPlace);
  });
});
