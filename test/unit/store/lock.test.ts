import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireLock, isLockFree, withLock } from '../../../shared/store/lock.ts';
import { scratchDir as makeScratch } from '../../helpers/tmp.ts';

const made: (() => Promise<void>)[] = [];
/** A scratch dir removed after the file's tests. */
async function scratchDir(): Promise<{ dir: string }> {
  const s = await makeScratch();
  made.push(s.cleanup);
  return s;
}
afterAll(async () => {
  for (const c of made) await c();
});

describe('acquireLock (no helper process lives on)', () => {
  it('two holders in one process exclude each other; release frees at once', async () => {
    const p = join((await scratchDir()).dir, 'a.lock');
    const a = await acquireLock(p);
    await expect(acquireLock(p, { wait: false })).rejects.toMatchObject({ code: 'ELOCKED' });
    expect(await isLockFree(p)).toBe(false);
    await a.release();
    await a.release(); // idempotent
    expect(await isLockFree(p)).toBe(true);
  });

  it('shared holders coexist and keep exclusive out; a timed wait gives up with ELOCKED', async () => {
    const p = join((await scratchDir()).dir, 's.lock');
    const s1 = await acquireLock(p, { shared: true });
    const s2 = await acquireLock(p, { shared: true, wait: false });
    const t = Date.now();
    await expect(acquireLock(p, { wait: 80 })).rejects.toMatchObject({ code: 'ELOCKED' });
    expect(Date.now() - t).toBeGreaterThanOrEqual(70);
    await s1.release();
    await s2.release();
    await (await acquireLock(p, { wait: false })).release();
  });

  it('a blocked wait does not block other locks, gets the lock once freed, and can be aborted', async () => {
    const { dir } = await scratchDir();
    const p = join(dir, 'w.lock');
    const held = await acquireLock(p);
    let got = false;
    const waiter = acquireLock(p).then((l) => ((got = true), l));
    await (await acquireLock(join(dir, 'other.lock'), { wait: false })).release();
    expect(got).toBe(false);
    await held.release();
    await (await waiter).release();
    const h2 = await acquireLock(p);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    await expect(acquireLock(p, { signal: ac.signal })).rejects.toMatchObject({ code: 'EABORT' });
    await h2.release();
    expect(await withLock(p, { wait: false }, async () => 7)).toBe(7);
  });

  it('a held lock never keeps the process alive; its exit frees the lock', async () => {
    const p = join((await scratchDir()).dir, 'exit.lock');
    const script = `import { acquireLock } from ${JSON.stringify(join(process.cwd(), 'shared/store/lock.ts'))}; await acquireLock(${JSON.stringify(p)}); console.log('held');`;
    const t = Date.now();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    expect(r.stdout.trim()).toBe('held');
    expect(Date.now() - t).toBeLessThan(5000);
    for (let i = 0; i < 50 && !(await isLockFree(p)); i++) await new Promise((res) => setTimeout(res, 10));
    expect(await isLockFree(p)).toBe(true);
  });
  it('a held lock keeps no child process alive, and release frees it synchronously for the next taker', async () => {
    const p = join((await scratchDir()).dir, 'nochild.lock');
    const children = (): string[] => readdirSync(`/proc/${process.pid}/task`).flatMap((t) => readFileSync(`/proc/${process.pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
    const before = children().length;
    const a = await acquireLock(p);
    const b = await acquireLock(`${p}.2`, { shared: true });
    expect(children().length).toBe(before);
    await a.release();
    await b.release();
    expect(await isLockFree(p)).toBe(true);
  });

  it('a waiter whose lock file is removed (its directory renamed away) while it waits fails ENOTFOUND', async () => {
    const { dir } = await scratchDir();
    const p = join(dir, 'c', 'lock');
    await import('node:fs/promises').then((f) => f.mkdir(join(dir, 'c')));
    const held = await acquireLock(p);
    const waiter = acquireLock(p).then(async (l) => (await l.release(), 'got'), (e: { code?: string }) => e.code);
    await new Promise((res) => setTimeout(res, 100));
    renameSync(join(dir, 'c'), join(dir, 'trash'));
    await held.release();
    expect(await waiter).toBe('ENOTFOUND');
  });

  it('a holder killed by SIGKILL leaves no stale lock (LS-10)', async () => {
    const p = join((await scratchDir()).dir, 'kill.lock');
    const script = `import { acquireLock } from ${JSON.stringify(join(process.cwd(), 'shared/store/lock.ts'))}; await acquireLock(${JSON.stringify(p)}); console.log('held'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res) => child.stdout.on('data', (b: Buffer) => b.toString().includes('held') && res()));
    expect(await isLockFree(p)).toBe(false);
    const gone = new Promise((res) => child.on('exit', res));
    child.kill('SIGKILL');
    await gone;
    expect(await isLockFree(p)).toBe(true);
  });

  it('a waiter whose lock file is unlinked while it waits locks the file the path names now: exclusion holds', async () => {
    const p = join((await scratchDir()).dir, 'u.lock');
    const a = await acquireLock(p);
    let bGot = false;
    const b = acquireLock(p).then((l) => ((bGot = true), l));
    await new Promise((res) => setTimeout(res, 100));
    unlinkSync(p); // as a cleaner does with a dead session's lock
    const c = await acquireLock(p, { wait: false }); // a new file at the path: a new holder
    await a.release(); // b gets the old, unlinked inode: that must not count as the lock
    await new Promise((res) => setTimeout(res, 200));
    expect(bGot).toBe(false);
    await c.release();
    await (await b).release();
    expect(bGot).toBe(true);
  });
});

/** A second process that takes the lock on `p` (mode 'x' or 's', waiting `wait` ms, -1: forever), prints `held` or the error code, and holds until its stdin closes. */
function holder(p: string, mode: 'x' | 's', wait = -1): { child: ReturnType<typeof spawn>; said: Promise<string> } {
  const lockTs = JSON.stringify(join(process.cwd(), 'shared/store/lock.ts'));
  const opts = `{ shared: ${mode === 's'}${wait >= 0 ? `, wait: ${wait}` : ''} }`;
  const script = `import { acquireLock } from ${lockTs}; try { await acquireLock(${JSON.stringify(p)}, ${opts}); console.log('held'); process.stdin.resume(); } catch (e) { console.log(e.code); }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const said = new Promise<string>((res) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) res(out.trim());
    });
    child.on('exit', () => res(out.trim()));
  });
  return { child, said };
}

describe('acquireLock across processes (in-process fcntl locks through node:sqlite)', () => {
  it('an exclusive holder in another process keeps us out until it exits; shared holders of two processes coexist', async () => {
    const p = join((await scratchDir()).dir, 'two.lock');
    const a = holder(p, 'x');
    expect(await a.said).toBe('held');
    expect(await isLockFree(p)).toBe(false);
    await expect(acquireLock(p, { shared: true, wait: false })).rejects.toMatchObject({ code: 'ELOCKED' });
    const waiting = acquireLock(p, { wait: 10_000 });
    await new Promise((res) => setTimeout(res, 100));
    a.child.stdin!.end(); // the other process exits: the kernel frees its lock and our waiter gets it
    const got = await waiting;
    const b = holder(p, 'x', 0);
    expect(await b.said).toBe('ELOCKED');
    await got.release();

    const mine = await acquireLock(p, { shared: true });
    const s = holder(p, 's', 0);
    expect(await s.said).toBe('held');
    const x = holder(p, 'x', 0);
    expect(await x.said).toBe('ELOCKED');
    await mine.release();
    await expect(acquireLock(p, { wait: false })).rejects.toMatchObject({ code: 'ELOCKED' }); // the other's shared lock stays
    s.child.stdin!.end();
    await new Promise((res) => s.child.on('exit', res));
    await (await acquireLock(p, { wait: 5000 })).release();
  });

  it('releasing one of two shared holders in this process keeps the other one locked for other processes', async () => {
    const p = join((await scratchDir()).dir, 'pair.lock');
    const a = await acquireLock(p, { shared: true });
    const b = await acquireLock(p, { shared: true });
    await a.release();
    const x = holder(p, 'x', 0);
    expect(await x.said).toBe('ELOCKED');
    await b.release();
    const y = holder(p, 'x', 0);
    expect(await y.said).toBe('held');
    y.child.stdin!.end();
    await new Promise((res) => y.child.on('exit', res));
  });

  it('the lock file is created 0600, stays empty, nothing appears beside it, and a child process inherits no descriptor of it', async () => {
    const { dir } = await scratchDir();
    const p = join(dir, 'quiet.lock');
    const l = await acquireLock(p);
    const s = await acquireLock(`${p}2`, { shared: true });
    expect(readdirSync(dir).sort()).toEqual(['quiet.lock', 'quiet.lock2']);
    expect(statSync(p).mode & 0o777).toBe(0o600);
    const r = spawnSync('sh', ['-c', 'for f in /proc/self/fd/*; do readlink "$f"; done'], { encoding: 'utf8' });
    expect(r.stdout).not.toContain('quiet.lock');
    await l.release();
    await s.release();
    expect(statSync(p).size).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['quiet.lock', 'quiet.lock2']);
  });

  it('a lock file with content is refused with one line saying what to do, not taken', async () => {
    const p = join((await scratchDir()).dir, 'junk.lock');
    writeFileSync(p, 'not a lock file, not a database either; long enough to be read as a header. '.repeat(2));
    await expect(acquireLock(p, { wait: false })).rejects.toMatchObject({ code: 'EIO', hint: expect.stringMatching(/remove it/) });
  });
});
