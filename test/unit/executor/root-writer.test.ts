import { lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RootWriter } from '../../../shared/build/executor/root-writer.ts';
import { isRoot } from '../../helpers/tmp.ts';

describe('RootWriter.file (COPY of one file)', () => {
  let dir: string;
  let root: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-rw-'));
    root = join(dir, 'root');
    mkdirSync(root);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const src = (name: string, mode: number, body = 'x'): string => {
    const p = join(dir, name);
    writeFileSync(p, body);
    chmodSync(p, mode);
    return p;
  };
  const modeOf = (p: string) => lstatSync(p).mode & 0o7777;

  for (const [label, size] of [
    ['small (synchronous copy)', 10],
    ['large (thread-pool copy)', 200 << 10],
  ] as const) {
    it(`${label}: the source's mode is kept, another mode is applied, and set-id bits survive the chown`, async () => {
      const w = new RootWriter(root);
      const mtime = new Date(2001, 2, 3);
      const plain = src('plain', 0o640, 'p'.repeat(size));
      await w.file('/a/plain', plain, 0o640, { uid: 0, gid: 0 }, mtime, undefined, lstatSync(plain, { bigint: true }));
      expect(modeOf(join(root, 'a/plain'))).toBe(0o640);
      expect(lstatSync(join(root, 'a/plain')).mtime.getTime()).toBe(mtime.getTime());
      expect(readFileSync(join(root, 'a/plain'), 'utf8')).toBe('p'.repeat(size));
      // --chmod: a mode other than the source's
      await w.file('/a/chmod', plain, 0o700, { uid: 0, gid: 0 }, undefined, undefined, lstatSync(plain, { bigint: true }));
      expect(modeOf(join(root, 'a/chmod'))).toBe(0o700);
      const suid = src('suid', 0o6755, 's'.repeat(size));
      await w.file('/a/suid', suid, 0o6755, { uid: 1000, gid: 1000 }, undefined, undefined, lstatSync(suid, { bigint: true }));
      if (isRoot) {
        expect(lstatSync(join(root, 'a/suid')).uid).toBe(1000);
        expect(modeOf(join(root, 'a/suid'))).toBe(0o6755);
      }
    });
  }

  it('a planted symlink at the target is replaced, never written through (BU-15)', async () => {
    const w = new RootWriter(root);
    const outside = join(dir, 'outside');
    writeFileSync(outside, 'keep');
    mkdirSync(join(root, 'a'));
    symlinkSync(outside, join(root, 'a/f'));
    const s = src('s', 0o644, 'new');
    await w.file('/a/f', s, 0o644, { uid: 0, gid: 0 }, undefined, undefined, lstatSync(s, { bigint: true }));
    expect(readFileSync(outside, 'utf8')).toBe('keep');
    expect(lstatSync(join(root, 'a/f')).isFile()).toBe(true);
    expect(readFileSync(join(root, 'a/f'), 'utf8')).toBe('new');
  });
});
