import { spawn, execFileSync } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { makeWorld, type World } from './harness.ts';

const repo = resolve(import.meta.dirname, '../../..');

async function mountsUnder(dir: string): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(`${dir}/`));
}

function runcList(root: string): unknown[] {
  const out = execFileSync('runc', ['--root', root, 'list', '--format', 'json']).toString();
  return (JSON.parse(out || 'null') as unknown[] | null) ?? [];
}

/** Starts a build in a child and SIGKILLs it once `trigger` appears on its stderr (plus `delay` ms). */
function killDuring(w: World, tag: string, text: string, trigger: string, delay: number): Promise<string> {
  return new Promise((res, rej) => {
    const opts = { storeRoot: w.root, contextDir: w.ctx, text, tags: [tag], runcRoot: w.runcRoot };
    const child = spawn(process.execPath, [join(repo, 'scripts/run-ts.mjs'), join(repo, 'test/e2e/build-tool/build-child.ts'), JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let fired = false;
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      if (!fired && err.includes(trigger)) {
        fired = true;
        setTimeout(() => child.kill('SIGKILL'), delay);
      }
    });
    child.on('error', rej);
    child.on('close', (code, sig) => (sig === 'SIGKILL' ? res(err) : rej(new Error(`child ended with ${code}/${sig}: ${err}`))));
  });
}

async function waitFor(cond: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

describe.skipIf(!isRoot || !hasBusybox)('BU-17 crash mid-build', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld();
  });
  afterAll(async () => w?.cleanup());

  const check = async (tag: string, runNetworks = 0) => {
    // the watchdog kills the container and unmounts everything
    expect(await waitFor(async () => runcList(w.runcRoot).length === 0)).toBe(true);
    expect(await waitFor(async () => (await mountsUnder(w.dir)).filter((m) => m.includes('/build/')).length === 0)).toBe(true);
    expect(await waitFor(async () => (await readdir(join(w.root, 'build')).catch(() => [])).length === 0)).toBe(true);
    // the RUN's network namespace went with the watchdog; its attachment (netavark rules, IP) waits for a reclaim
    const left = await readdir(join(w.root, 'networks/attachments')).catch(() => [] as string[]);
    expect(left.length).toBeGreaterThanOrEqual(runNetworks);
    for (const f of left) await expect(stat(`/run/netns/skiff-${f.slice(0, 64)}`)).rejects.toThrow(/ENOENT/);
    await expect(w.image(tag)).rejects.toThrow(/not known/);
    const r = await w.build('FROM localhost/busybox\nRUN echo fine > /ok\n', { tags: [tag] });
    expect(r.id).toMatch(/^sha256:/);
    // that build's reclaim detached the dead build's RUN network: no record, no IP held
    expect(await readdir(join(w.root, 'networks/attachments')).catch(() => [])).toEqual([]);
    const ipam = JSON.parse(await readFile(join(w.root, 'networks/ipam/podman.json'), 'utf8')) as { allocations: Record<string, string> };
    expect(ipam.allocations).toEqual({});
    await w.build('FROM localhost/busybox\nRUN echo fine > /ok\n', { tags: ['crash2'] });
    expect(await readFile(join((await w.image(tag)).rootfs, 'ok'), 'utf8')).toBe('fine\n');
  };

  it('BU-17 (a) SIGKILL during a long RUN leaves no container, mount, tag or RUN network', async () => {
    // the trigger must come from the RUN's own output, not from the STEP line echoing the instruction
    await killDuring(w, 'crash-a', 'FROM localhost/busybox\nRUN echo sta""rted && cat /dev/zero > /a\n', 'started', 500);
    await check('crash-a', 1);
  });

  it('BU-17 (b) SIGKILL during layer commit leaves no half-written image', async () => {
    await killDuring(w, 'crash-b', 'FROM localhost/busybox\nRUN dd if=/dev/urandom of=/big bs=1M count=200 2>/dev/null && echo written\n', 'written', 300);
    await check('crash-b');
  });
});
