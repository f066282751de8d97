import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IgnoreMatcher, loadIgnoreFile, readIgnorePatterns } from '../../../shared/build/dockerfile/ignore.ts';
import { scratchDir } from '../../helpers/tmp.ts';

describe('.dockerignore patterns (moby semantics)', () => {
  const table: [string[], string, boolean][] = [
    [['*.go'], 'a.go', true],
    [['*.go'], 'dir/a.go', false],
    [['**/*.go'], 'dir/sub/a.go', true],
    [['**/*.go'], 'a.go', true],
    [['dir'], 'dir/sub/file', true],
    [['dir/**'], 'dir/sub/file', true],
    [['/dir/*.txt'], 'dir/a.txt', true],
    [['./dir'], 'dir', true],
    [['a?c'], 'abc', true],
    [['a?c'], 'a/c', false],
    [['[a-c]x'], 'bx', true],
    [['[!a-c]x'], 'bx', false],
    [['\\*x'], '*x', true],
    [['*', '!keep'], 'keep', false],
    [['*', '!keep'], 'other', true],
    [['*.md', '!README.md', 'README.md'], 'README.md', true],
    [['docs', '!docs/keep.md'], 'docs/keep.md', false],
    [['docs', '!docs/keep.md'], 'docs/other.md', true],
    [['**'], 'anything/at/all', true],
    [['a/**/b'], 'a/x/y/b', true],
    [['a/**/b'], 'a/b', true],
  ];
  for (const [pats, path, want] of table) {
    it(`${JSON.stringify(pats)} ${path} → ${want}`, () => expect(new IgnoreMatcher(pats).isExcluded(path)).toBe(want));
  }

  it('reads files: comments, blank lines, trailing spaces, ! with spaces, BOM', () => {
    expect(readIgnorePatterns('\uFEFF# c\n\nfoo   \n ! bar\n./x/\n/y\n')).toEqual(['foo', '!bar', 'x', 'y']);
    expect(() => new IgnoreMatcher(['!'])).toThrow(/illegal exclusion pattern/);
  });

  it('a path is matched as its clean form whether or not it is given clean, and a pattern matching any parent excludes it', () => {
    const m = new IgnoreMatcher(['secret', 'a/b', '!a/b/keep', '*.tmp']);
    // unclean spellings of one path answer as the clean one (leading, trailing and doubled slashes, `.` and `..`)
    for (const p of ['a/b/c', '/a/b/c', 'a/b/c/', 'a//b/c', './a/b/c', 'a/./b/c', 'a/x/../b/c', 'secret/x', '/secret', 'secret/', './secret/deep/er']) {
      expect(m.isExcluded(p), p).toBe(true);
    }
    for (const p of ['a/b/keep', '/a/b/keep/', 'a//b/./keep', 'a/bc', 'x/secret', 'a', '.', '', './', 'a/b/../c']) {
      expect(m.isExcluded(p), p).toBe(false);
    }
    // a parent at any depth: `secret` excludes everything under it; `*.tmp` a directory named so, and below
    expect(m.isExcluded('secret/1/2/3/4')).toBe(true);
    expect(m.isExcluded('d.tmp/x/y')).toBe(true);
    expect(m.isExcluded('d/x.tmp/y')).toBe(false);
    expect(new IgnoreMatcher([]).isExcluded('anything')).toBe(false);
  });

  it('walk pruning: mayIncludeUnder', () => {
    expect(new IgnoreMatcher(['docs']).mayIncludeUnder('docs')).toBe(false);
    expect(new IgnoreMatcher(['docs', '!docs/keep.md']).mayIncludeUnder('docs')).toBe(true);
    expect(new IgnoreMatcher(['*', '!src/**']).mayIncludeUnder('other')).toBe(false);
    expect(new IgnoreMatcher(['*', '!src/**']).mayIncludeUnder('src')).toBe(true);
    expect(new IgnoreMatcher(['*', '!**/*.go']).mayIncludeUnder('any')).toBe(true);
  });
});

describe('ignore file selection', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => cleanup?.());

  it('<Dockerfile>.dockerignore, then .containerignore, then .dockerignore', async () => {
    const s = await scratchDir();
    cleanup = s.cleanup;
    const ctx = join(s.dir, 'ctx');
    await mkdir(ctx);
    await writeFile(join(ctx, '.dockerignore'), 'd\n');
    expect((await loadIgnoreFile(ctx)).patterns).toEqual(['d']);
    await writeFile(join(ctx, '.containerignore'), 'c\n');
    expect((await loadIgnoreFile(ctx)).patterns).toEqual(['c']);
    await writeFile(join(ctx, 'App.Dockerfile'), 'FROM scratch\n');
    await writeFile(join(ctx, 'App.Dockerfile.dockerignore'), 'specific\n');
    expect((await loadIgnoreFile(ctx, { dockerfile: join(ctx, 'App.Dockerfile') })).patterns).toEqual(['specific']);
    await writeFile(join(s.dir, 'explicit'), 'e\n');
    expect((await loadIgnoreFile(ctx, { ignorefile: join(s.dir, 'explicit') })).patterns).toEqual(['e']);
  });

  it('BU-04 a symlinked .dockerignore pointing outside the context is not read', async () => {
    const s = await scratchDir();
    cleanup = s.cleanup;
    const ctx = join(s.dir, 'ctx');
    await mkdir(ctx);
    await writeFile(join(s.dir, 'outside'), 'SECRET-LINE\n');
    await symlink('/etc/shadow', join(ctx, '.dockerignore'));
    await symlink('../outside', join(ctx, '.containerignore'));
    const r = await loadIgnoreFile(ctx);
    expect(r.patterns).toEqual([]);
    expect(r.path).toBeUndefined();
    expect(r.skipped.sort()).toEqual([join(ctx, '.containerignore'), join(ctx, '.dockerignore')].sort());
    // an in-context symlink is followed
    await writeFile(join(ctx, 'real-ignore'), 'inside\n');
    await symlink('real-ignore', join(ctx, 'App.Dockerfile.dockerignore'));
    expect((await loadIgnoreFile(ctx, { dockerfile: join(ctx, 'App.Dockerfile') })).patterns).toEqual(['inside']);
  });
});
