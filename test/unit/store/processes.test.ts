import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Annotation } from '../../../shared/oci/media-types.ts';
import type { Digest } from '../../../shared/oci/digest.ts';
import { acquireLock } from '../../../shared/store/lock.ts';
import { cleanStaleTemps } from '../../../shared/store/session.ts';
import { openStore } from '../../../shared/store/store.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { kill, startWorker, type Worker } from './fixtures/spawn.ts';

const until = async (ok: () => boolean, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('store across processes', () => {
  let dir: string;
  let root: string;
  let cleanup: () => Promise<void>;
  const workers: Worker[] = [];
  const start = (...a: string[]): Worker => {
    const w = startWorker(...a);
    workers.push(w);
    return w;
  };
  beforeEach(async () => {
    ({ dir, cleanup } = await scratchDir());
    root = join(dir, 'store');
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) await kill(w);
    await cleanup();
  });

  it('LS-01 torn blob write: SIGKILL at 50% of a 200 MB blob leaves nothing in blobs/, gc cleans once the lock is free, re-run succeeds', async () => {
    const size = 200 * 1024 * 1024;
    const w = start('put-big', root, String(size), 'big', String(size / 2));
    const session = (await w.line('session ')).split(' ')[1]!;
    await w.line('paused ');
    const tmpDir = join(root, 'tmp', session);
    await until(() => existsSync(tmpDir) && readdirSync(tmpDir).some((f) => statSync(join(tmpDir, f)).size >= size / 2 - 8 * (1 << 20)));
    // while the writer lives: its temp dir is protected from gc and from stale-temp cleanup
    const store = await openStore(root, { write: true });
    expect(existsSync(tmpDir)).toBe(true);
    expect((await store.gc()).tempsRemoved).toEqual([]);
    expect(existsSync(tmpDir)).toBe(true);
    await kill(w);
    // nothing was committed
    expect(await store.blobs.list()).toEqual([]);
    const partials = readdirSync(tmpDir);
    expect(partials.length).toBe(1);
    expect(statSync(join(tmpDir, partials[0]!)).size).toBeLessThan(size);
    // lock now free: gc removes the partial
    const r = await store.gc();
    expect(r.tempsRemoved).toEqual([session]);
    expect(existsSync(tmpDir)).toBe(false);
    expect(existsSync(join(root, 'tmp', `${session}.lock`))).toBe(false);
    // re-run succeeds
    const again = start('put-big', root, String(size), 'big');
    const done = (await again.line('done ', 60_000)).split(' ');
    expect(done[2]).toBe(String(size));
    expect(await store.blobs.list()).toEqual([done[1]]);
    expect(await again.exited).toBe(0);
    await store.close();
  }, 120_000);

  it('LS-09 eight concurrent processes tagging different images into one layout lose nothing', async () => {
    const ws = Array.from({ length: 8 }, (_, i) => start('tag', root, `localhost/img${i}:latest`, `seed${i}`));
    const codes = await Promise.all(ws.map((w) => w.exited));
    expect(codes, ws.map((w) => w.stderr()).join('\n')).toEqual(Array(8).fill(0));
    const store = await openStore(root);
    const es = await store.layout.entries();
    expect(es.map((e) => e.annotations?.[Annotation.RefName]).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `localhost/img${i}:latest`).sort());
    expect(new Set(es.map((e) => e.digest)).size).toBe(8); // no duplicate descriptors
    const v = await store.verify();
    expect(v.damaged).toEqual([]);
    expect(v.checked).toBe(8 * 4); // 2 layers + config + manifest each
    expect((await store.gc()).removed).toEqual([]);
    await store.close();
  }, 120_000);

  it('LS-10 a SIGKILLed lock holder frees the lock; another process acquires it and cleans the dead temp dir', async () => {
    const lockPath = join(dir, 'store.lock');
    const w = start('hold', root, lockPath);
    const [, id, tmpDir] = (await w.line('holding ')).split(' ');
    await expect(acquireLock(lockPath, { wait: false })).rejects.toMatchObject({ code: 'ELOCKED' });
    expect(await cleanStaleTemps(join(root, 'tmp'))).toEqual([]);
    await kill(w);
    const l = await acquireLock(lockPath, { wait: 5000 });
    await l.release();
    expect(existsSync(lockPath)).toBe(true); // the lock file itself is never renamed or removed
    expect(existsSync(tmpDir!)).toBe(true);
    // opening the store for writing cleans the dead process's temp dir
    const store = await openStore(root, { write: true });
    expect(existsSync(tmpDir!)).toBe(false);
    expect(existsSync(join(root, 'tmp', `${id}.lock`))).toBe(false);
    await store.close();
  }, 60_000);

  it('LS-11 same tag, concurrent different digests: exactly one entry for the tag, both images intact', async () => {
    const ws = Array.from({ length: 4 }, (_, i) => start('tag', root, 'localhost/same:tag', `racer${i}`));
    const out = await Promise.all(ws.map((w) => w.line('tagged ')));
    expect(await Promise.all(ws.map((w) => w.exited))).toEqual([0, 0, 0, 0]);
    const digests = out.map((l) => l.split(' ')[1] as Digest);
    const store = await openStore(root);
    const es = await store.layout.entries();
    const named = es.filter((e) => e.annotations?.[Annotation.RefName] === 'localhost/same:tag');
    expect(named).toHaveLength(1);
    expect(digests).toContain(named[0]!.digest);
    // the losers stay, dangling; all four images' blobs intact
    expect(new Set(es.map((e) => e.digest))).toEqual(new Set(digests));
    expect(es.filter((e) => e.annotations?.[Annotation.Dangling] === 'true')).toHaveLength(3);
    expect((await store.gc()).removed).toEqual([]);
    expect((await store.verify()).damaged).toEqual([]);
    await store.close();
  }, 60_000);

  it('LS-13 gc vs in-flight writer: blobs of a live writer survive gc; after it dies they are collected', async () => {
    const w = start('lease', root, 'inflight');
    const ds = (await w.line('written ')).split(' ').slice(1) as Digest[];
    expect(ds).toHaveLength(4);
    const store = await openStore(root, { write: true });
    let r = await store.gc();
    expect(r.removed).toEqual([]);
    for (const d of ds) expect(await store.blobs.has(d)).toBe(true);
    await kill(w);
    r = await store.gc();
    expect(new Set(r.removed)).toEqual(new Set(ds));
    expect(r.leasesDropped).toHaveLength(1);
    expect(readdirSync(store.paths.leases)).toEqual([]);
    await store.close();
  }, 60_000);

  it('LS-19 interrupted multi-layer write: committed layers reused on re-run, index.json only updated at the end', async () => {
    const w = start('multi', root, 'localhost/multi:1', 'm', '5', '2'); // hangs after layer index 2 (3 of 5 written)
    await w.line('layer 2');
    await kill(w);
    const store = await openStore(root, { write: true });
    expect(await store.layout.entries()).toEqual([]); // nothing tagged
    const committed = await store.blobs.list();
    expect(committed).toHaveLength(3);
    const mtimes = committed.map((d) => statSync(store.blobs.path(d)).ino);
    const again = start('multi', root, 'localhost/multi:1', 'm', '5', '-1');
    expect(await again.exited).toBe(0);
    const es = await store.layout.entries();
    expect(es).toHaveLength(1);
    // the three committed layers were kept (same inodes), not rewritten
    expect(committed.map((d) => statSync(store.blobs.path(d)).ino)).toEqual(mtimes);
    expect((await store.verify()).damaged).toEqual([]);
    expect((await store.gc()).removed).toEqual([]);
    await store.close();
  }, 60_000);
});
