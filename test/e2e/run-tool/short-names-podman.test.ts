// Differential: which stored image a short name means, for run-tool and Debian's podman 4.3, on the same two
// images under the same names (registries on 127.x only; nothing is pulled). podman runs with its own scratch
// --root/--runroot and vfs storage, so the machine's podman store is never touched.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../../shared/store/store.ts';
import { importTarball } from '../../../shared/transport/tarball.ts';
import { busyboxTarball, hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { rtSync } from './integration-helpers.ts';

const hasPodman = existsSync('/usr/bin/podman');

describe.skipIf(!isRoot || !hasPodman || !hasBusybox)('short names: run-tool picks the stored image podman picks', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let root = '';
  let podmanArgs: string[] = [];
  let env: NodeJS.ProcessEnv = {};
  const ids: Record<'a' | 'b', string> = { a: '', b: '' };
  const sk = (args: string[], e = env): SpawnSyncReturns<string> => rtSync(root, args, { env: e });
  const pod = (args: string[], e = env): SpawnSyncReturns<string> => spawnSync('podman', [...podmanArgs, ...args], { encoding: 'utf8', env: e, timeout: 60_000 });

  beforeAll(async () => {
    s = await scratchDir('skiff-sn-podman-');
    root = join(s.dir, 'store');
    podmanArgs = ['--root', join(s.dir, 'podman-root'), '--runroot', join(s.dir, 'podman-run'), '--tmpdir', join(s.dir, 'podman-tmp'), '--storage-driver', 'vfs'];
    const conf = join(s.dir, 'registries.conf');
    await writeFile(conf, 'unqualified-search-registries = []\n');
    env = { ...process.env, CONTAINERS_REGISTRIES_CONF: conf };
    // two different images, stored in this order on both sides (podman's order is the order images were stored)
    ids.a = (await makeBusyboxImage(root, s.dir, '127.0.0.1:5000/library/busybox:latest')).id.replace(/^sha256:/, '');
    const store = await openStore(root);
    try {
      ids.b = (await importTarball(store, busyboxTarball(s.dir), { name: '127.0.0.1:5001/other/busybox:latest', config: { Cmd: ['echo', 'b'] }, created: new Date('2026-02-01T00:00:00Z') })).id.replace(/^sha256:/, '');
    } finally {
      await store.close();
    }
    expect(ids.a).not.toBe(ids.b);
    for (const [k, id] of Object.entries(ids)) {
      const tar = join(s.dir, `${k}.tar`);
      const save = sk(['save', '-o', tar, id]);
      expect(save.status, save.stderr).toBe(0);
      const load = pod(['load', '-i', tar]);
      expect(load.status, load.stderr).toBe(0);
    }
    const names: [keyof typeof ids, string][] = [
      ['a', '127.0.0.1:5000/library/busybox:latest'],
      ['b', '127.0.0.1:5001/other/busybox:latest'],
      ['b', '127.0.0.1:5001/other/busybox:v2'],
      ['a', '127.0.0.1:5002/ns/app:latest'],
      ['b', 'localhost/app:latest'],
      ['b', '127.0.0.1:5003/a/b/deep:1'],
      ['b', '127.0.0.1:5004/busybox:latest'],
    ];
    for (const [k, name] of names) {
      expect(sk(['tag', ids[k], name]).status).toBe(0);
      expect(pod(['tag', ids[k], name]).status).toBe(0);
    }
  }, 120_000);

  afterAll(async () => {
    if (!s) return;
    pod(['rmi', '-af']);
    // containers/storage may leave its own mounts under its root: unmount what lies under our scratch dir
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(s.dir)).reverse();
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    await s.cleanup();
  });

  const answer = (r: SpawnSyncReturns<string>): string => (r.status === 0 ? r.stdout.trim() : 'not known');

  it('agrees on every name: exact candidates, localhost/ first, suffix matches in store order, tags, IDs', () => {
    const queries = ['busybox', 'busybox:latest', 'library/busybox', 'other/busybox', 'busybox:v2', 'other/busybox:v2', 'app', 'ns/app', 'deep:1', 'b/deep:1', 'deep', 'ibrary/busybox', 'usybox', 'nothere', ids.b.slice(0, 12), '127.0.0.1:5001/other/busybox'];
    const diffs: string[] = [];
    for (const q of queries) {
      const mine = answer(sk(['inspect', '--type', 'image', '--format', '{{.Id}}', q]));
      const theirs = answer(pod(['image', 'inspect', '--format', '{{.Id}}', q]));
      if (mine !== theirs) diffs.push(`${q}: skiff ${mine}, podman ${theirs}`);
    }
    expect(diffs).toEqual([]);
    // and the scan really was exercised: busybox is the first stored image, other/busybox the second
    expect(answer(sk(['inspect', '--type', 'image', '--format', '{{.Id}}', 'busybox']))).toBe(ids.a);
    expect(answer(sk(['inspect', '--type', 'image', '--format', '{{.Id}}', 'other/busybox']))).toBe(ids.b);
  });

  it('a search registry whose exact name is stored wins over the store order, on both sides', async () => {
    const conf = join(s.dir, 'search.conf');
    await writeFile(conf, 'unqualified-search-registries = ["127.0.0.9:5999", "127.0.0.1:5004"]\n');
    const e = { ...env, CONTAINERS_REGISTRIES_CONF: conf };
    const mine = answer(sk(['inspect', '--type', 'image', '--format', '{{.Id}}', 'busybox'], e));
    const theirs = answer(pod(['image', 'inspect', '--format', '{{.Id}}', 'busybox'], e));
    expect(mine).toBe(theirs);
    expect(mine).toBe(ids.b);
  });
});
