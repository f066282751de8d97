import { readFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { makeWorld, type World } from './harness.ts';

describe.skipIf(!isRoot || !hasBusybox)('build: basic executor', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld();
  });
  afterAll(async () => w?.cleanup());

  it('builds COPY + RUN + metadata and caches a rebuild completely', async () => {
    await w.files({ 'hello.txt': 'hi\n' });
    const df = 'FROM localhost/busybox\nENV A=1\nWORKDIR /app\nCOPY hello.txt .\nRUN echo built-$A > /app/out\nCMD ["cat", "/app/out"]\n';
    const r1 = await w.build(df, { tags: ['app'] });
    expect(r1.stats.runs).toBe(1);
    expect(r1.stats.layers).toBe(2);
    const img = await w.image('app');
    expect(await readFile(join(img.rootfs, 'app/hello.txt'), 'utf8')).toBe('hi\n');
    expect(await readFile(join(img.rootfs, 'app/out'), 'utf8')).toBe('built-1\n');
    expect(img.config.config?.Cmd).toEqual(['cat', '/app/out']);
    expect(img.config.config?.Env).toContain('A=1');
    expect(img.config.history?.filter((h) => !h.empty_layer).length).toBe(img.manifest.layers.length);
    // no runtime stubs in the layers
    await expect(lstat(join(img.rootfs, 'run/.containerenv'))).rejects.toThrow();
    const r2 = await w.build(df, { tags: ['app'] });
    expect(r2.stats).toMatchObject({ runs: 0, copies: 0, filesHashed: 0, layers: 0 });
    expect(r2.id).toBe(r1.id);
    expect(w.log.join('')).toContain('--> Using cache');
  });
});
