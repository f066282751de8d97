// A RUN's user gets the same ids and supplementary groups as buildah gives it (the primary gid always among them) and
// as run-tool gives the same user: build and run resolve users through one function (shared/runtime/user.ts).
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { hasBuildah, makeBuildah, unpackLayout } from './buildah.ts';
import { makeWorld, type World } from './harness.ts';

const repo = resolve(import.meta.dirname, '../../..');
const RUN_TOOL = join(repo, 'bin', 'run-tool.mjs');

// app (1000) is a member of extra (2000) and more (3000); root of rootish (4000)
const DOCKERFILE = `FROM localhost/busybox
RUN echo 'app:x:1000:1000:app:/home/app:/bin/sh' >> /etc/passwd && printf 'app:x:1000:\\nextra:x:2000:app\\nmore:x:3000:nobody,app\\nrootish:x:4000:root\\n' >> /etc/group && mkdir -m 1777 /out
RUN id > /out/default
USER app
RUN id > /out/app
USER app:extra
RUN id > /out/app:extra
USER 1000
RUN id > /out/1000
USER 4321
RUN id > /out/4321
USER root
RUN id > /out/root
`;

/** What buildah 1.28 prints for each RUN (checked with the differential harness below). */
const EXPECTED: Record<string, string> = {
  default: 'uid=0(root) gid=0(root) groups=0(root),4000(rootish)',
  app: 'uid=1000(app) gid=1000(app) groups=1000(app),2000(extra),3000(more)',
  'app:extra': 'uid=1000(app) gid=2000(extra) groups=2000(extra)',
  1000: 'uid=1000(app) gid=1000(app) groups=1000(app),2000(extra),3000(more)',
  4321: 'uid=4321 gid=0(root) groups=0(root)',
  root: 'uid=0(root) gid=0(root) groups=0(root),4000(rootish)',
};

describe.skipIf(!isRoot || !hasBusybox)('RUN user and supplementary groups', () => {
  let w: World;
  const ours: Record<string, string> = {};
  beforeAll(async () => {
    w = await makeWorld();
    await w.build(DOCKERFILE, { tags: ['groups'] });
    const img = await w.image('groups');
    for (const k of Object.keys(EXPECTED)) ours[k] = (await readFile(join(img.rootfs, 'out', k), 'utf8')).trim();
  });
  afterAll(async () => w?.cleanup());

  it('a RUN under USER gets the primary group among its supplementary groups, as buildah and docker', () => {
    expect(ours).toEqual(EXPECTED);
  });

  it('a RUN and run-tool run -u give one user the same ids and groups', () => {
    for (const u of ['app', 'app:extra', '1000', 'root']) {
      const r = spawnSync(process.execPath, [RUN_TOOL, '--root', w.root, 'run', '--rm', '--network', 'none', '-u', u, 'localhost/groups', 'id'], {
        encoding: 'utf8',
        env: { ...process.env, XDG_RUNTIME_DIR: w.dir },
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim(), u).toBe(ours[u]);
    }
  });

  it.skipIf(!hasBuildah)('buildah 1.28 prints the same for every RUN', async () => {
    const b = makeBuildah(w.dir, w.root);
    // the host network: RUN needs none here, and buildah would otherwise pick whatever CNI/netavark set-up the machine has
    const out = await b.build('groups', DOCKERFILE, w.ctx, ['--network', 'host']);
    const theirs = await unpackLayout(out, 'groups', join(w.dir, 'groups-buildah'));
    const got: Record<string, string> = {};
    for (const k of Object.keys(EXPECTED)) got[k] = (await readFile(join(theirs.rootfs, 'out', k), 'utf8')).trim();
    expect(got).toEqual(EXPECTED);
  });
});
