import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { lstatSync, readlinkSync, symlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ArchiveWriter } from '../../../shared/transport/archive-writer.ts';
import { scratchDir } from '../../helpers/tmp.ts';

// The destination of an archive may be /dev/stdout: a symlink to /proc/self/fd/1, which may point at a pipe or
// at a regular file the shell redirected to. Writing through a temp file and renaming it over the link once
// replaced the machine's /dev/stdout; these cases use links and FIFOs in a scratch dir instead of /dev.
describe('ArchiveWriter destinations', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => ({ dir, cleanup } = await scratchDir()));
  afterAll(() => cleanup());

  async function writeSmall(file: string): Promise<void> {
    const w = await ArchiveWriter.create(file);
    await w.add('hello.txt', 'file', Buffer.from('hi\n'), 3);
    await w.commit();
  }

  it('streams through a symlink to a regular file and leaves the link a link', async () => {
    const target = join(dir, 'real.tar');
    writeFileSync(target, '');
    const link = join(dir, 'stdout-like');
    symlinkSync(target, link);
    await writeSmall(link);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(target);
    expect(execFileSync('tar', ['-tf', target], { encoding: 'utf8' })).toBe('hello.txt\n');
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('streams into a FIFO', async () => {
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const reader = spawn('tar', ['-tf', fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
    let listing = '';
    reader.stdout.on('data', (b: Buffer) => (listing += b.toString()));
    const exited = new Promise<number | null>((r) => reader.on('exit', r));
    await writeSmall(fifo);
    expect(await exited).toBe(0);
    expect(listing).toBe('hello.txt\n');
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('writes a new regular file atomically through a temp file', async () => {
    const file = join(dir, 'new.tar');
    await writeSmall(file);
    expect(lstatSync(file).isFile()).toBe(true);
    expect(execFileSync('tar', ['-tf', file], { encoding: 'utf8' })).toBe('hello.txt\n');
  });
});
