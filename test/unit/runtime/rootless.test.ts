import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildMappings, doctor, parseSubIds } from '../../../shared/runtime/rootless.ts';
import { locateProgram } from '../../../shared/process/system-programs.ts';
import { runcRootFor } from '../../../shared/runtime/runc.ts';
import { scratchDir } from '../../helpers/tmp.ts';

describe('rootless', () => {
  const text = '# comment\nalice:100000:65536\n1001:300000:1000\nbob:200000:65536\nalice:500000:10\nbad:line\n';
  it('parses subordinate ranges by name or uid', () => {
    expect(parseSubIds(text, { name: 'alice', id: 1000 })).toEqual([{ start: 100000, count: 65536 }, { start: 500000, count: 10 }]);
    expect(parseSubIds(text, { name: 'carol', id: 1001 })).toEqual([{ start: 300000, count: 1000 }]);
    expect(parseSubIds(text, { id: 4 })).toEqual([]);
  });

  it('maps the user to 0 then the ranges; falls back to one id with a warning', () => {
    const m = buildMappings({ uid: 1000, gid: 1000, subuids: [{ start: 100000, count: 65536 }, { start: 500000, count: 10 }], subgids: [{ start: 100000, count: 65536 }], haveNewuidmap: true, haveNewgidmap: true });
    expect(m.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }, { containerID: 65537, hostID: 500000, size: 10 }]);
    expect(m.gidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }]);
    expect(m.singleId).toBe(false);
    const f = buildMappings({ uid: 1000, gid: 1000, subuids: [{ start: 1, count: 5 }], subgids: [{ start: 1, count: 5 }], haveNewuidmap: false, haveNewgidmap: true });
    expect(f).toMatchObject({ singleId: true, uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] });
    expect(f.warning).toMatch(/single-UID.*newuidmap is not installed/);
  });

  it('doctor reports what is missing', async () => {
    const s = await scratchDir();
    try {
      await writeFile(join(s.dir, 'subuid'), 'alice:100000:65536\n');
      await writeFile(join(s.dir, 'subgid'), '');
      await mkdir(join(s.dir, 'xdg'), { mode: 0o700 });
      const r = await doctor({ uid: process.getuid!(), user: 'alice', env: { PATH: s.dir, XDG_RUNTIME_DIR: join(s.dir, 'xdg') }, subuidFile: join(s.dir, 'subuid'), subgidFile: join(s.dir, 'subgid'), tunDevice: join(s.dir, 'no-tun') });
      const by = Object.fromEntries(r.map((c) => [c.name, c]));
      expect(by.subuid!.ok).toBe(true);
      expect(by.subgid).toMatchObject({ ok: false, detail: /usermod --add-subgids/ });
      expect(by.XDG_RUNTIME_DIR!.ok).toBe(true);
      expect(by.tun!.ok).toBe(false);
      // the standard sbin/bin dirs are searched too, so the answer follows what this machine has installed
      expect(by.newuidmap!.ok).toBe(locateProgram('newuidmap', { PATH: s.dir }) !== undefined);
    } finally {
      await s.cleanup();
    }
  });

  it('RU-16 runc state root per user', () => {
    expect(runcRootFor(0, {})).toBe('/run/skiff/runc');
    expect(runcRootFor(1000, { XDG_RUNTIME_DIR: '/run/user/1000' })).toBe('/run/user/1000/skiff/runc');
    expect(() => runcRootFor(1000, {})).toThrow(/XDG_RUNTIME_DIR/);
  });
});
