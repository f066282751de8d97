// Side by side: the same python3-docker calls (test/fixtures/api/differential.py) against skiff's `system service`
// and podman 4.3's own `podman system service`, each on a private socket over a private store (podman with its own
// --root/--runroot, network config dir and containers.conf), both started here and killed by PID. Status codes must
// match and every key podman's reply has must be in skiff's — but for the listed places where podman 4.3 departs
// from Docker's API and skiff follows Docker.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiService, startPodmanService, type ApiService } from '../../helpers/api-service.ts';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { buildRunTool, hasConmon, rt } from './core-helpers.ts';

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const hasPyDocker = spawnSync(PYTHON, ['-c', 'import docker']).status === 0;
const hasPodman = spawnSync('podman', ['--version']).status === 0;
const SCRIPT = resolve(import.meta.dirname, '../../fixtures/api/differential.py');

/** Where podman 4.3 departs from Docker's API and skiff answers as Docker does: label → [podman, skiff] status. */
const STATUS_DIFFS: Record<string, [number, number]> = {
  // Docker: 409 Conflict for a name in use; podman 4.3 answers 500
  'create-conflict': [500, 409],
};
/** Keys podman 4.3 adds that Docker's API does not have (skiff leaves them out). */
const PODMAN_ONLY = new Set([
  'cause', 'response', // podman's error bodies; Docker's is {"message"}
  'Id', // stats: Docker's key is `id`
  'SizeRootFs', // container inspect without ?size
  'Metadata', // image inspect
  'AdjustCPUShares', 'Config', 'Name', 'NetworkingConfig', 'Platform', // podman 4.3's container list entries
]);

type Line = [string, number, string[] | string];

const differential = (sock: string, prefix: string): Line[] => {
  const r = spawnSync(PYTHON, [SCRIPT, sock, prefix], { encoding: 'utf8', timeout: 240_000 });
  if (r.status !== 0) throw new Error(`differential.py against ${sock}: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);
};

describe.skipIf(!isRoot || !hasBusybox || !hasConmon || !hasPodman || !hasPyDocker)("the Docker API side by side with podman's service", () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let bundle = '';
  let root = '';
  let skiff: ApiService | undefined;
  let podman: ApiService | undefined;
  let podmanArgs: string[] = [];
  let env: NodeJS.ProcessEnv = {};

  beforeAll(async () => {
    bundle = await buildRunTool();
    s = await scratchDir('skiff-api-diff-');
    root = join(s.dir, 'root');
    await makeBusyboxImage(root, s.dir);
    const conf = join(s.dir, 'containers.conf');
    writeFileSync(conf, '[containers]\ndefault_ulimits = ["nofile=1024:1024","nproc=4096:4096"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n[network]\nnetwork_backend = "netavark"\n');
    env = { ...process.env, CONTAINERS_CONF: conf };
    podmanArgs = ['--root', join(s.dir, 'podman-root'), '--runroot', join(s.dir, 'podman-run'), '--tmpdir', join(s.dir, 'podman-tmp'), '--storage-driver', 'overlay', '--network-config-dir', join(s.dir, 'podman-net')];
    const archive = join(s.dir, 'busybox.tar');
    expect(rt(bundle, root, ['save', '-o', archive, 'localhost/busybox']).status).toBe(0);
    const load = spawnSync('podman', [...podmanArgs, 'load', '-i', archive], { encoding: 'utf8', env, timeout: 120_000 });
    expect(load.status, load.stderr).toBe(0);
    skiff = await startApiService({ bundle, root, sock: join(s.dir, 'skiff.sock'), stdio: 'ignore' });
    podman = await startPodmanService({ podmanArgs, sock: join(s.dir, 'podman.sock'), env });
  }, 240_000);

  afterAll(async () => {
    await skiff?.stop();
    await podman?.stop();
    if (!s) return;
    rt(bundle, root, ['rm', '-a', '-f']);
    spawnSync('podman', [...podmanArgs, 'rm', '-af', '-t', '0'], { env });
    spawnSync('podman', [...podmanArgs, 'rmi', '-af'], { env });
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(s.dir)).reverse();
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    await s.cleanup();
  }, 120_000);

  it('the same calls get the same status codes, and every Docker key podman returns skiff returns too', () => {
    const theirs = differential(join(s.dir, 'podman.sock'), 'diffp');
    const ours = differential(join(s.dir, 'skiff.sock'), 'diffs');
    expect(ours.map((l) => l[0])).toEqual(theirs.map((l) => l[0]));
    const mismatches: string[] = [];
    for (const [i, [label, pStatus, pShape]] of theirs.entries()) {
      const [, sStatus, sShape] = ours[i]!;
      const want = STATUS_DIFFS[label] ?? [pStatus, pStatus];
      if (want[0] !== pStatus || want[1] !== sStatus) mismatches.push(`${label}: podman ${pStatus}, skiff ${sStatus}`);
      if (Array.isArray(pShape) && Array.isArray(sShape)) {
        const missing = pShape.filter((k) => !PODMAN_ONLY.has(k) && !sShape.includes(k));
        if (missing.length > 0) mismatches.push(`${label}: skiff lacks ${missing.join(', ')}`);
      } else if (JSON.stringify(pShape) !== JSON.stringify(sShape) && !(pShape === 'empty' && JSON.stringify(sShape) === '["message"]')) {
        // podman 4.3 answers some errors (stats of a missing container) with an empty body; Docker and skiff with {"message"}
        mismatches.push(`${label}: podman ${JSON.stringify(pShape)}, skiff ${JSON.stringify(sShape)}`);
      }
    }
    expect(mismatches).toEqual([]);
    // the calls this comparison rests on really ran: a started container, a prune, a build
    expect(ours.find((l) => l[0] === 'start')?.[1]).toBe(204);
    expect(ours.find((l) => l[0] === 'build')?.[2]).toBe('lines:aux,stream');
  }, 300_000);
});
