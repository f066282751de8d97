import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idMapArgs, planUserNamespace } from '../../../shared/runtime/userns.ts';
import { parseUsernsMarker, usernsMarker } from '../../../shared/runtime/userns-marker.ts';
import { scratchDir } from '../../helpers/tmp.ts';

describe('rootless user-namespace plan', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    s = await scratchDir('skiff-userns-');
    await writeFile(join(s.dir, 'subuid'), 'alice:100000:65536\nalice:300000:10\nbob:200000:65536\n');
    await writeFile(join(s.dir, 'subgid'), 'alice:100000:65536\n');
  });
  afterAll(() => s.cleanup());

  it('parses the SKIFF_USERNS marker and rejects malformed ones', () => {
    expect(parseUsernsMarker('1000:1001:full')).toEqual({ uid: 1000, gid: 1001, mode: 'full' });
    expect(parseUsernsMarker('1000:1001:single')?.mode).toBe('single');
    for (const bad of [undefined, '', '1000:full', 'x:1:full', '1:1:other', '1:1:full:extra']) expect(parseUsernsMarker(bad)).toBeUndefined();
  });

  it('ignores the marker outside a user namespace (a root process is never made rootless by the environment)', () => {
    expect(usernsMarker({ SKIFF_USERNS: '1000:1000:full' })).toBeUndefined();
  });

  it('maps the user to 0 and every subuid/subgid range after it, as newuidmap/newgidmap triplets', async () => {
    const p = await planUserNamespace({ uid: 1000, gid: 1000, user: 'alice', subuidFile: join(s.dir, 'subuid'), subgidFile: join(s.dir, 'subgid'), env: { PATH: '/usr/bin:/bin' } });
    if (p.singleId) return expect(p.warning).toMatch(/newuidmap|newgidmap/); // uidmap not installed on this machine
    expect(p.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }, { containerID: 65537, hostID: 300000, size: 10 }]);
    expect(idMapArgs(p.uidMappings)).toEqual(['0', '1000', '1', '1', '100000', '65536', '65537', '300000', '10']);
    expect(p.unshareArgs).toEqual(['--user', '--mount', '--propagation', 'slave']);
  });

  it('falls back to a single-id mapping with a warning naming what is missing', async () => {
    const p = await planUserNamespace({ uid: 1000, gid: 1000, user: 'carol', subuidFile: join(s.dir, 'subuid'), subgidFile: join(s.dir, 'subgid'), env: { PATH: '/usr/bin:/bin' } });
    expect(p.singleId).toBe(true);
    expect(p.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(p.warning).toMatch(/single-UID user namespace \(no \/etc\/subuid entry, no \/etc\/subgid entry/);
    expect(p.unshareArgs).toEqual(['--user', '--mount', '--propagation', 'slave']);
  });
});
