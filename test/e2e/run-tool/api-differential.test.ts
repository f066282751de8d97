// Side by side: the same python3-docker calls (test/fixtures/api/differential.py) against skiff's `system service`
// and podman 4.3's own `podman system service`, each on a private socket over a private store (podman with its own
// --root/--runroot, network config dir and containers.conf), both started here and killed by PID. Status codes must
// match and every key podman's reply has must be in skiff's — but for the listed places where podman 4.3 departs
// from Docker's API and skiff follows Docker.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeApiWorld, startApiService, startPodmanService, type ApiService, type ApiWorld } from '../../helpers/api-service.ts';
import { hasBusybox } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { hasConmon } from './core-helpers.ts';

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
  let w: ApiWorld;
  let skiff: ApiService | undefined;
  let podman: ApiService | undefined;

  beforeAll(async () => {
    w = await makeApiWorld('skiff-api-diff-', { podman: true });
    skiff = await startApiService({ bundle: w.bundle, root: w.root, sock: w.sock, stdio: 'ignore' });
    podman = await startPodmanService({ podmanArgs: w.podmanArgs, sock: w.podmanSock, env: w.podmanEnv });
  }, 240_000);

  afterAll(async () => {
    await skiff?.stop();
    await podman?.stop();
    if (!w) return;
    await w.close();
  }, 120_000);

  it('the same calls get the same status codes, and every Docker key podman returns skiff returns too', () => {
    const theirs = differential(w.podmanSock, 'diffp');
    const ours = differential(w.sock, 'diffs');
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
