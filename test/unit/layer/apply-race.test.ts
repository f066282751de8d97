// A concurrent writer in the root while a layer is applied (issue: a directory of `<root>/overlay/.tmp-*/diff`
// swapped for a symlink redirected ~29,500 of 60,000 files, and a partial tree was committed to the cache).
// The apply must never write outside R, whatever is renamed or swapped under it, and the unpack cache must
// commit only a tree that holds what the layer wrote.
import { spawn } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, readlink, rename, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { digestOf } from '../../../shared/oci/digest.ts';
import { LayerApplier, applyLayer, type ApplyOptions } from '../../../shared/layer/apply.ts';
import { chainIDs, ensureUnpacked, isUnpacked, type CacheLayer } from '../../../shared/layer/unpack-cache.ts';
import { removePath } from '../../../shared/layer/confined-root.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { makeTar, withRootAndVictim, type E } from './helpers.ts';

let base: string;
let R: string;
let victim: string;
withRootAndVictim('skiff-apply-race-', (s) => ({ base, R, victim } = s));

const exists = async (p: string): Promise<boolean> => !!(await lstat(p).catch(() => undefined));
const until = async (p: () => Promise<boolean>): Promise<void> => {
  const t0 = Date.now();
  while (!(await p())) {
    if (Date.now() - t0 > 20_000) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 2));
  }
};

/**
 * A tar of `head` then `tail`, fed in two steps: `head` first; `release()` sends the rest. Lets a test act
 * as a concurrent writer at an exact point of the apply.
 */
async function twoStepTar(head: E[], tail: E[]): Promise<{ stream: PassThrough; bytes: Buffer; release: () => void }> {
  const bytes = await makeTar([...head, ...tail]);
  const headOnly = await makeTar(head);
  const headLen = headOnly.length - 1024; // without the end-of-archive blocks
  expect(bytes.subarray(0, headLen).equals(headOnly.subarray(0, headLen))).toBe(true);
  const stream = new PassThrough();
  stream.write(bytes.subarray(0, headLen));
  return { stream, bytes, release: () => stream.end(bytes.subarray(headLen)) };
}

const files = (dir: string, n: number, from = 0): E[] => Array.from({ length: n }, (_, i) => ({ name: `${dir}/f${from + i}`, body: `file ${from + i}` }));

describe('concurrent writer in R', () => {
  it('a directory swapped for a symlink mid-apply: later writes stay in the directory the apply opened', async () => {
    const { stream, release } = await twoStepTar([{ name: 'a/', type: 'directory' }, { name: 'a/f0', body: 'first' }], [...files('a', 50, 1), { name: 'a/sub/g', body: 'g' }]);
    const done = applyLayer(R, stream);
    await until(() => exists(join(R, 'a/f0')));
    // the writer: `a` (open in the apply now) moves away and an absolute symlink to the victim takes its place
    await rename(join(R, 'a'), join(R, 'a.moved'));
    await symlink(victim, join(R, 'a'));
    release();
    await done;
    expect(await readlink(join(R, 'a'))).toBe(victim);
    expect((await readdir(join(R, 'a.moved'))).length).toBe(52); // f0…f50 and sub: the pinned directory
    expect(await readFile(join(R, 'a.moved/sub/g'), 'utf8')).toBe('g');
  });

  it('a directory not yet opened swapped for a symlink is followed inside R only', async () => {
    await mkdir(join(R, 'b'));
    const { stream, release } = await twoStepTar([{ name: 'x', body: 'x' }], files('b', 20));
    const done = applyLayer(R, stream);
    await until(() => exists(join(R, 'x')));
    await rename(join(R, 'b'), join(R, 'b.moved'));
    await symlink(victim, join(R, 'b'));
    release();
    await done;
    expect((await readdir(join(R, victim))).length).toBe(20); // re-rooted at R, as the policy says (LA-14)
  });

  it('a remembered directory reopened after it left the descriptor cache is refused when it became a symlink', async () => {
    // 300 other directories push `a` out of the descriptor cache (256): the apply reopens it by name, O_NOFOLLOW
    const others = Array.from({ length: 300 }, (_, i) => ({ name: `d${i}/f`, body: 'x' }));
    const { stream, release } = await twoStepTar([{ name: 'a/', type: 'directory' }, { name: 'a/f0', body: 'first' }, ...others, { name: 'z', body: 'z' }], files('a', 20, 1));
    const done = applyLayer(R, stream);
    done.catch(() => {});
    await until(() => exists(join(R, 'z')));
    await rename(join(R, 'a'), join(R, 'a.moved'));
    await symlink(victim, join(R, 'a'));
    release();
    await expect(done).rejects.toMatchObject({ code: 'EUNSAFE', message: expect.stringMatching(/a in .* is no longer a directory/) });
    expect(await readdir(join(R, 'a.moved'))).toEqual(['f0']);
  });

  it('a writer swapping directories for symlinks in a loop never gets a file out of R (stress, separate process)', async () => {
    // 40 directories of 250 files, entries interleaved so directories are left and come back (memo, reopen)
    const entries: E[] = [];
    for (let i = 0; i < 10_000; i++) entries.push({ name: `d${i % 40}/s${i % 3}/f${i}`, body: `${i}` });
    const tar = await makeTar(entries);
    for (let d = 0; d < 40; d++) await mkdir(join(R, `d${d}`, 's0'), { recursive: true });
    const attacker = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs');
         const [R, victim] = process.argv.slice(1);
         let n = 0;
         process.stdout.write('ready\\n');
         for (;;) {
           const d = R + '/d' + (n++ % 40);
           const s = d + '/s' + (n % 3);
           for (const [p, t] of [[d, victim], [s, '../../victim']]) {
             try { fs.renameSync(p, p + '.x'); } catch { continue; }
             try { fs.symlinkSync(t, p); } catch {}
             try { fs.unlinkSync(p); } catch {}
             try { fs.renameSync(p + '.x', p); } catch {}
           }
         }`,
        R,
        victim,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((res) => attacker.stdout!.once('data', () => res()));
      const outcome = await applyLayer(R, Readable.from([tar])).then(
        (r) => `applied ${r.files} files`,
        (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`,
      );
      if (process.env.SKIFF_TEST_VERBOSE) console.log(outcome);
      // done, or refused: a remembered directory that no longer opens as one, a parent that became a file
      expect(outcome).toMatch(/^(applied 10000 files|EUNSAFE|EINVALID)/);
    } finally {
      attacker.kill('SIGKILL');
      await new Promise((r) => attacker.once('exit', r));
    }
    expect((await readdir(base)).sort()).toEqual(['R', 'victim']);
  }, 120_000);
});

describe('tree check', () => {
  const tricky: E[] = [
    { name: './', type: 'directory' },
    { name: 'd/', type: 'directory', mode: 0o750 },
    { name: 'd/f', body: '1' },
    { name: 'd/f', body: 'duplicate: last wins' },
    { name: 'r/', type: 'directory' },
    { name: 'r/x', body: 'x' },
    { name: 'r', body: 'a file replaces a directory' },
    { name: 'q', body: 'a directory replaces a file' },
    { name: 'q/', type: 'directory' },
    { name: 'l', type: 'symlink', linkname: 'd' },
    { name: 'l/through-link', body: 'lands in d' },
    { name: 'abs', type: 'symlink', linkname: '/d' },
    { name: 'abs/through-abs', body: 'lands in d' },
    { name: 'h', type: 'link', linkname: 'd/f' },
    { name: 'hl', type: 'link', linkname: 'l' }, // a hardlink to a symlink is a symlink
    { name: 'implicit/deep/file', body: 'parents made on the way' },
    { name: '../../escape', body: 'clamped at R' },
    { name: 'own', body: 'survives its whiteout' },
    { name: '.wh.own' },
    { name: 'fifo', type: 'fifo' },
  ];

  async function applyAndVerify(entries: E[], opts: ApplyOptions): Promise<void> {
    const a = await LayerApplier.open(R, opts);
    try {
      await a.apply(Readable.from([await makeTar(entries)]));
      a.verifyTree();
    } finally {
      a.close();
    }
  }

  it.skipIf(!isRoot)('passes for what a layer wrote, in overlay mode (whiteout devices, opaque markers)', async () => {
    await applyAndVerify([...tricky, { name: '.wh.lower' }, { name: 'new/sub/.wh..wh..opq' }, { name: 'q/.wh..wh..opq' }, { name: 'gone/.wh.x' }, { name: 'gone/.wh.y' }, { name: '.wh.gone' }], {
      mode: 'overlay',
    });
    expect((await lstat(join(R, 'lower'))).isCharacterDevice()).toBe(true);
    expect((await lstat(join(R, 'gone'))).isCharacterDevice()).toBe(true);
    expect((await lstat(join(R, 'hl'))).isSymbolicLink()).toBe(true);
  });

  it('passes for what a layer wrote, in merged mode', async () => {
    await applyAndVerify(tricky, {});
    expect(await readFile(join(R, 'd/through-abs'), 'utf8')).toBe('lands in d');
  });

  it('fails when a file the layer wrote is gone or something else is in the tree', async () => {
    for (const [what, change] of [
      ['missing', (p: string) => unlink(join(p, 'a/f3'))],
      ['extra', (p: string) => writeFile(join(p, 'a/intruder'), 'x')],
      ['retyped', async (p: string) => (await unlink(join(p, 'a/f4')), mkdir(join(p, 'a/f4')))],
    ] as const) {
      const dir = join(base, `R-${what}`);
      await mkdir(dir, { mode: 0o700 });
      const { stream, release } = await twoStepTar(files('a', 10), files('a', 10, 10));
      const a = await LayerApplier.open(dir, {});
      try {
        const done = a.apply(stream);
        await until(() => exists(join(dir, 'a/f9')));
        await change(dir);
        release();
        await done;
        expect(() => a.verifyTree()).toThrow(expect.objectContaining({ code: 'EINTEGRITY', message: expect.stringMatching(what === 'extra' ? /not in the layer/ : what === 'missing' ? /1 missing/ : /another type/) }));
      } finally {
        a.close();
      }
    }
  });

  it('refuses to verify a root that was not empty', async () => {
    await writeFile(join(R, 'before'), 'x');
    const a = await LayerApplier.open(R, {});
    try {
      await a.apply(Readable.from([await makeTar([{ name: 'f', body: 'f' }])]));
      expect(() => a.verifyTree()).toThrow(expect.objectContaining({ code: 'EINVALID' }));
    } finally {
      a.close();
    }
  });
});

describe.skipIf(!isRoot)('unpack cache under a concurrent writer (root)', () => {
  /** A cache layer whose blob is a plain tar fed in two steps. */
  async function controlledLayer(head: E[], tail: E[]): Promise<{ layer: CacheLayer; release: () => void }> {
    const t = await twoStepTar(head, tail);
    return { layer: { diffID: digestOf(t.bytes), open: async () => t.stream }, release: t.release };
  }
  const tmpDiff = async (cache: string): Promise<string> => {
    // the cache directory itself appears only once ensureUnpacked has started
    const names = await readdir(cache).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e)));
    const tmp = names.find((n) => n.startsWith('.tmp-'));
    return tmp === undefined ? '' : join(cache, tmp, 'diff');
  };

  it('LS-18 the temp tree is 0700 while it is written; a tree missing a file is not committed (EINTEGRITY)', async () => {
    const cache = join(base, 'overlay');
    const { layer, release } = await controlledLayer(files('a', 5), files('a', 200, 5));
    const done = ensureUnpacked(cache, [layer]);
    done.catch(() => {});
    let diff = '';
    await until(async () => (diff = await tmpDiff(cache)) !== '' && exists(join(diff, 'a/f4')));
    expect((await lstat(join(diff, '..'))).mode & 0o777).toBe(0o700);
    expect((await lstat(diff)).mode & 0o777).toBe(0o700);
    await unlink(join(diff, 'a/f2')); // the writer takes a file away
    release();
    await expect(done).rejects.toMatchObject({ code: 'EINTEGRITY', message: expect.stringMatching(/1 missing \(a\/f2\)/) });
    const chain = chainIDs([layer.diffID])[0]!;
    expect(await isUnpacked(cache, chain)).toBe(false);
    expect((await readdir(cache)).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });

  it('a directory of the temp diff swapped for a symlink: nothing reaches the target, nothing is committed', async () => {
    const cache = join(base, 'overlay');
    const { layer, release } = await controlledLayer(files('a', 5), files('a', 500, 5));
    const done = ensureUnpacked(cache, [layer]);
    done.catch(() => {});
    let diff = '';
    await until(async () => (diff = await tmpDiff(cache)) !== '' && exists(join(diff, 'a/f4')));
    await rename(join(diff, 'a'), join(diff, 'a.moved'));
    await symlink(victim, join(diff, 'a'));
    release();
    await expect(done).rejects.toMatchObject({ code: 'EINTEGRITY' });
    expect(await isUnpacked(cache, chainIDs([layer.diffID])[0]!)).toBe(false);
  });

  it('a committed entry is 0755 at its diff root and passes the check', async () => {
    const cache = join(base, 'overlay');
    const { layer, release } = await controlledLayer(files('a', 5), [{ name: 'b/c/', type: 'directory' }, { name: 'a/.wh.f1' }]);
    release();
    const [dir] = await ensureUnpacked(cache, [layer]);
    expect((await lstat(dir!)).mode & 0o777).toBe(0o755);
    expect((await readdir(join(dir!, 'a'))).length).toBe(5);
  });
});

describe('removePath', () => {
  it('removes a tree through descriptors, unlinking symlinks (to the victim, to its files) without entering them', async () => {
    const t = join(base, 'doomed');
    await mkdir(join(t, 'a/b/c'), { recursive: true });
    await writeFile(join(t, 'a/b/c/f'), 'f');
    await symlink(victim, join(t, 'a/to-victim'));
    await symlink(join(victim, 'hello'), join(t, 'a/b/to-hello'));
    await mkdir(join(t, 'ro'), { mode: 0o755 });
    await writeFile(join(t, 'ro/x'), 'x');
    removePath(t);
    expect(await exists(t)).toBe(false);
    removePath(t); // missing: nothing to do
    removePath(join(base, 'no/such/parent'));
  });
});
