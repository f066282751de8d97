// buildah's RUN settings for a whole build and for the scripting verb `run`: --cap-add/--cap-drop change the
// capabilities a RUN has, -v binds a host directory into each RUN (its content in no layer; writes reach the host
// as buildah's), `run --mount` binds or mounts a tmpfs; the settings are part of a RUN's cache key; bad values fail
// before any work with one line.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';

const repo = resolve(import.meta.dirname, '../../..');
const BUILD_TOOL = join(repo, 'bin', 'build-tool.mjs');
const RUN_TOOL = join(repo, 'bin', 'run-tool.mjs');

/** The capability bit numbers the tests look at (linux/capability.h). */
const CAP_CHOWN = 0;
const CAP_NET_ADMIN = 12;

/** Whether bit `n` is set in a CapEff line's hex mask. */
const hasCap = (hex: string, n: number): boolean => ((BigInt(`0x${hex.trim()}`) >> BigInt(n)) & 1n) === 1n;

describe.skipIf(!isRoot || !hasBusybox)('build-tool RUN settings: --cap-add, --cap-drop, -v, run --mount', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let root: string;
  let ctx: string;
  let host: string;
  const tool = (bin: string, args: string[]): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [bin, '--root', root, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, XDG_RUNTIME_DIR: dir } });
  const bt = (args: string[]) => tool(BUILD_TOOL, args);
  const ok = (r: SpawnSyncReturns<string>): string => {
    if (r.status !== 0) throw new Error(`failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  const dockerfile = async (text: string) => writeFile(join(ctx, 'Dockerfile'), text);

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-runset-'));
    root = join(dir, 'store');
    ctx = join(dir, 'ctx');
    host = join(dir, 'host');
    await mkdir(ctx, { recursive: true });
    await mkdir(host, { recursive: true });
    await writeFile(join(host, 'in.txt'), 'from the host\n');
    await makeBusyboxImage(root, dir);
  });
  afterAll(async () => {
    spawnSync('sh', ['-c', `awk -v d="${dir}/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`]);
    await cleanup();
  });

  it('--cap-add and --cap-drop change what each RUN may do; the image is not changed by them', async () => {
    await dockerfile('FROM localhost/busybox\nRUN grep CapEff /proc/self/status | cut -f2 > /caps\n');
    ok(bt(['build', '--network', 'none', '--cap-add', 'net_admin', '--cap-drop', 'CAP_CHOWN', '-t', 'caps1', ctx]));
    ok(bt(['build', '--network', 'none', '-t', 'caps0', ctx]));
    const read = (img: string) => ok(tool(RUN_TOOL, ['run', '--rm', '--network', 'none', img, 'cat', '/caps']));
    const changed = read('caps1');
    const plain = read('caps0');
    expect(hasCap(changed, CAP_NET_ADMIN)).toBe(true);
    expect(hasCap(changed, CAP_CHOWN)).toBe(false);
    expect(hasCap(plain, CAP_NET_ADMIN)).toBe(false);
    expect(hasCap(plain, CAP_CHOWN)).toBe(true);
    // a RUN that needs the dropped capability fails as it would under buildah
    await dockerfile('FROM localhost/busybox\nRUN touch /f && chown 1:1 /f\n');
    const r = bt(['build', '--network', 'none', '--cap-drop', 'chown', ctx]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/chown/u);
  });

  it('-v binds a host directory into each RUN: read and written there, in no layer; the bind is part of the cache key', async () => {
    await dockerfile('FROM localhost/busybox\nRUN cat /data/in.txt > /copied && echo written > /data/out.txt\n');
    ok(bt(['build', '--network', 'none', '-v', `${host}:/data`, '-t', 'vol1', ctx]));
    expect(readFileSync(join(host, 'out.txt'), 'utf8')).toBe('written\n');
    const ls = ok(tool(RUN_TOOL, ['run', '--rm', '--network', 'none', 'vol1', 'sh', '-c', 'cat /copied; ls -A /data 2>&1; true']));
    // the mount point the RUN needed is not left in the layer either
    expect(ls).toBe('from the host\nls: /data: No such file or directory\n');
    // the same build again is a hit; another bind (read-only here) is a miss whose RUN then fails to write
    const again = bt(['build', '--network', 'none', '-v', `${host}:/data`, '-t', 'vol1', ctx]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout + again.stderr).toMatch(/Using cache/u);
    const ro = bt(['build', '--network', 'none', '-v', `${host}:/data:ro`, ctx]);
    expect(ro.status).not.toBe(0);
    expect(ro.stderr).toMatch(/Read-only file system/u);
  });

  it('the scripting verb run takes --cap-add, -v and --mount (bind and tmpfs) for that command only', async () => {
    const ctr = ok(bt(['from', '--name', 'rs-verb', 'localhost/busybox'])).trim();
    const out = ok(bt(['run', '--network', 'none', '--cap-add', 'NET_ADMIN', '-v', `${host}:/h:ro`, '--mount', 'type=tmpfs,dst=/scratch', '--mount', `type=bind,src=${host},dst=/h2`, ctr, '--',
      'sh', '-c', 'grep CapEff /proc/self/status | cut -f2; cat /h/in.txt; grep " /scratch " /proc/mounts | cut -d" " -f3; cat /h2/in.txt; echo kept > /kept']));
    const [caps, text, fstype, text2] = out.split('\n');
    expect(hasCap(caps!, CAP_NET_ADMIN)).toBe(true);
    expect([text, fstype, text2]).toEqual(['from the host', 'tmpfs', 'from the host']);
    const after = ok(bt(['run', '--network', 'none', ctr, '--', 'sh', '-c', 'grep CapEff /proc/self/status | cut -f2; cat /kept; ls /h /scratch 2>&1 | wc -l']));
    const [caps2, kept] = after.split('\n');
    expect(hasCap(caps2!, CAP_NET_ADMIN)).toBe(false);
    expect(kept).toBe('kept');
    ok(bt(['rm', ctr]));
  });

  it('an unknown capability, a missing host directory or a bad mount fail with one line before any work', async () => {
    await dockerfile('FROM localhost/busybox\nRUN echo never > /never\n');
    const before = readFileSync(join(root, 'images', 'index.json'), 'utf8');
    const cases: [string[], RegExp][] = [
      [['build', '--cap-add', 'NOT_A_CAP', ctx], /^Error: unknown capability "NOT_A_CAP"/u],
      [['build', '-v', `${join(dir, 'absent')}:/x`, ctx], /^Error: statfs .*absent: no such file or directory/u],
      [['build', '-v', `${host}:relative`, ctx], /^Error: invalid container path "relative", must be an absolute path/u],
      [['build', '-v', `${host}:/proc/x`, ctx], /^Error: invalid mount destination \/proc\/x/u],
      [['run', '--mount', 'type=volume,dst=/x', 'none', '--', 'true'], /^Error: invalid mount type "volume"/u],
    ];
    for (const [args, re] of cases) {
      const r = bt(args);
      expect(r.status, r.stderr).not.toBe(0);
      const errs = r.stderr.split('\n').filter((l) => l.startsWith('Error: '));
      expect(errs, r.stderr).toHaveLength(1);
      expect(errs[0]).toMatch(re);
    }
    expect(readFileSync(join(root, 'images', 'index.json'), 'utf8')).toBe(before);
  });
});
