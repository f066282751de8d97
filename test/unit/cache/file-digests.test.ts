import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileDigests, isRacy, memoFileFor, racyWindowNs, statKey } from '../../../shared/build/cache/file-digests.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const st = (p: string) => lstatSync(p, { bigint: true });
const statKeyOf = (p: string) => statKey(st(p));
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('file-digest memo (the context check)', () => {
  let dir: string;
  let memo: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-fd-'));
    memo = memoFileFor(join(dir, 'cache'), join(dir, 'ctx'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A file whose last change is old enough to be memoised (past the racy window of its timestamps). */
  const settled = async (name: string, content: string): Promise<string> => {
    const p = join(dir, name);
    await writeFile(p, content);
    await pause(Number(racyWindowNs(st(p).ctimeNs) / 1_000_000n) + 30);
    return p;
  };

  it('a settled file is memoised: the next build reads nothing', async () => {
    const p = await settled('a', 'hello');
    const m1 = await FileDigests.load(memo);
    expect(await m1.digest(p, st(p))).toBe(sha('hello'));
    expect(m1.hashed).toBe(1);
    await m1.save();
    const m2 = await FileDigests.load(memo);
    expect(m2.cached(p, st(p))).toBe(sha('hello'));
    expect(await m2.digest(p, st(p))).toBe(sha('hello'));
    expect(m2.hashed).toBe(0);
  });

  it('racy file: a file changed right before it is read is not memoised, so a same-size, same-stat rewrite is still seen', async () => {
    const p = join(dir, 'r');
    await writeFile(p, 'one');
    const s1 = st(p);
    const m1 = await FileDigests.load(memo);
    expect(await m1.digest(p, s1)).toBe(sha('one'));
    await m1.save();
    // rewritten with the same size within the timestamp granularity; whether or not the kernel gave it a new
    // ctime, the memo must not answer with the old digest
    await writeFile(p, 'two');
    await utimes(p, statSync(p).atime, new Date(Number(s1.mtimeNs / 1_000_000n)));
    const m2 = await FileDigests.load(memo);
    expect(m2.cached(p, s1)).toBeUndefined();
    expect(await m2.digest(p, st(p))).toBe(sha('two'));
    expect(m2.hashed).toBe(1);
  });

  it('isRacy: a change within the window of the read is racy, an older one is not', () => {
    const now = 1_700_000_000_123_456_789n;
    const at = (ns: bigint) => ({ ctimeNs: ns, mtimeNs: ns }) as ReturnType<typeof st>;
    expect(isRacy(at(now - 1_000_000n), now)).toBe(true);
    expect(isRacy(at(now - 500_000_000n), now)).toBe(false);
    // whole-second stamps may come from a 1 s or 2 s filesystem: two seconds and more are needed
    expect(isRacy(at(1_699_999_999_000_000_000n), now)).toBe(true);
    expect(isRacy(at(1_699_999_997_000_000_000n), now)).toBe(false);
    // an mtime set into the future is racy until it has passed
    expect(isRacy({ ctimeNs: now - 5_000_000_000n, mtimeNs: now + 5_000_000_000n } as ReturnType<typeof st>, now)).toBe(true);
  });

  it('a changed file is hashed again, even with its size and mtime put back', async () => {
    const p = await settled('c', 'aaaa');
    const m1 = await FileDigests.load(memo);
    await m1.digest(p, st(p));
    await m1.save();
    const before = statSync(p);
    await writeFile(p, 'bbbb');
    await utimes(p, before.atime, before.mtime);
    const m2 = await FileDigests.load(memo);
    expect(m2.cached(p, st(p))).toBeUndefined();
    expect(await m2.digest(p, st(p))).toBe(sha('bbbb'));
  });

  it('a removed memo is rebuilt', async () => {
    const p = await settled('d', 'x');
    const m1 = await FileDigests.load(memo);
    await m1.digest(p, st(p));
    await m1.save();
    await rm(memo);
    const m2 = await FileDigests.load(memo);
    expect(m2.cached(p, st(p))).toBeUndefined();
    await m2.digest(p, st(p));
    expect(m2.hashed).toBe(1);
    await m2.save();
    expect((await FileDigests.load(memo)).cached(p, st(p))).toBe(sha('x'));
  });

  it('a corrupt memo is ignored, and so is an entry of the wrong shape', async () => {
    const p = await settled('e', 'y');
    const m1 = await FileDigests.load(memo);
    await m1.digest(p, st(p));
    await m1.save();
    const good = await readFile(memo, 'utf8');
    await writeFile(memo, good.slice(0, good.length >> 1));
    const m2 = await FileDigests.load(memo);
    expect(m2.cached(p, st(p))).toBeUndefined();
    expect(await m2.digest(p, st(p))).toBe(sha('y'));
    // right format, but the digest is not a sha256: not used
    const doc = JSON.parse(good) as { files: Record<string, [string, string]> };
    doc.files[p]![1] = 'not-a-digest';
    await writeFile(memo, JSON.stringify(doc));
    expect((await FileDigests.load(memo)).cached(p, st(p))).toBeUndefined();
    // the store-wide memo of earlier versions is not read as this one
    await writeFile(memo, JSON.stringify({ [p]: ['1', '2', '3', '4', '5', sha('y')] }));
    expect((await FileDigests.load(memo)).cached(p, st(p))).toBeUndefined();
  });

  it('a save keeps the loaded entries this build did not look up, replaces re-read ones and drops racy and malformed ones', async () => {
    const a = await settled('ka', 'keep');
    const b = await settled('kb', 'old');
    const r = await settled('kr', 'racy');
    const m1 = await FileDigests.load(memo);
    for (const p of [a, b, r]) await m1.digest(p, st(p));
    await m1.save();
    const doc = JSON.parse(await readFile(memo, 'utf8')) as { files: Record<string, unknown> };
    doc.files[join(dir, 'bad')] = ['x', 'not-a-digest'];
    await writeFile(memo, JSON.stringify(doc));
    // the next build: `a` never looked up, `b` changed (and settled), `r` rewritten just before it is read
    await writeFile(b, 'new');
    await pause(Number(racyWindowNs(st(b).ctimeNs) / 1_000_000n) + 30);
    const rOld = st(r);
    await writeFile(r, 'RACY');
    const m2 = await FileDigests.load(memo);
    expect(m2.cached(b, st(b))).toBeUndefined();
    expect(await m2.digest(b, st(b))).toBe(sha('new'));
    expect(await m2.digest(r, st(r))).toBe(sha('RACY'));
    expect(m2.cached(r, rOld)).toBeUndefined(); // the racy read dropped the loaded entry
    await m2.save();
    const saved = JSON.parse(await readFile(memo, 'utf8')) as { files: Record<string, [string, string]> };
    expect(Object.keys(saved.files).sort()).toEqual([a, b].sort());
    expect(saved.files[b]![1]).toBe(sha('new'));
    const m3 = await FileDigests.load(memo);
    expect(m3.cached(a, st(a))).toBe(sha('keep'));
    expect(m3.cached(r, st(r))).toBeUndefined();
  });

  it('a path named like an Object property is never answered from the prototype or a "__proto__" entry', async () => {
    const p = await settled('constructor', 'c');
    const m1 = await FileDigests.load(memo);
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) expect(m1.cached(name, st(p))).toBeUndefined();
    await m1.digest(p, st(p));
    await m1.save();
    const doc = JSON.parse(await readFile(memo, 'utf8')) as { format: string; files: Record<string, unknown> };
    await writeFile(memo, `{"format":${JSON.stringify(doc.format)},"files":{"__proto__":[${JSON.stringify(statKeyOf(p))},"${sha('c')}"]}}`);
    const m2 = await FileDigests.load(memo);
    expect(m2.cached('__proto__', st(p))).toBe(sha('c')); // an own entry of that name, as any other
    expect(m2.cached(p, st(p))).toBeUndefined();
    expect(m2.cached('constructor', st(p))).toBeUndefined();
  });

  it('each context has its own memo file', () => {
    expect(memoFileFor('/s/cache', '/a')).not.toBe(memoFileFor('/s/cache', '/b'));
    expect(memoFileFor('/s/cache', '/a').startsWith('/s/cache/file-digests/')).toBe(true);
  });
});
