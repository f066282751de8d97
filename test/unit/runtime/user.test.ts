import { mkdir, open, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveInRoot } from '../../../shared/runtime/in-root.ts';
import { resolveUser } from '../../../shared/runtime/user.ts';
import { scratchDir } from '../../helpers/tmp.ts';

describe('resolveUser', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let root: string;
  beforeEach(async () => {
    s = await scratchDir();
    root = join(s.dir, 'rootfs');
    await mkdir(join(root, 'etc'), { recursive: true });
    await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n');
    await writeFile(join(root, 'etc/group'), 'root:x:0:\napp:x:1000:\nwheel:x:10:app,other\naudio:x:29:app\n');
  });
  afterEach(() => s.cleanup());

  it('resolves names, ids, groups and supplementary groups', async () => {
    expect(await resolveUser(root, '')).toEqual({ uid: 0, gid: 0, additionalGids: [], home: '/root', name: 'root' });
    expect(await resolveUser(root, 'app')).toEqual({ uid: 1000, gid: 1000, additionalGids: [10, 29], home: '/home/app', name: 'app' });
    expect(await resolveUser(root, 'app:wheel')).toMatchObject({ uid: 1000, gid: 10, additionalGids: [] });
    expect(await resolveUser(root, '1000:5')).toMatchObject({ uid: 1000, gid: 5, home: '/home/app' });
    expect(await resolveUser(root, '4242')).toEqual({ uid: 4242, gid: 0, additionalGids: [] });
    expect(await resolveUser(root, '4242:4243', { groupAdd: ['audio', '7'] })).toEqual({ uid: 4242, gid: 4243, additionalGids: [7, 29] });
  });

  it('the peers\' rules: podman adds the primary gid for a given user, buildah (build RUN) always', async () => {
    expect(await resolveUser(root, 'app', { podman: { home: '/' } })).toMatchObject({ gid: 1000, additionalGids: [10, 29, 1000] });
    expect(await resolveUser(root, '', { podman: { home: '/' } })).toMatchObject({ gid: 0, additionalGids: [] });
    expect(await resolveUser(root, 'app', { buildah: true })).toMatchObject({ gid: 1000, additionalGids: [10, 29, 1000] });
    expect(await resolveUser(root, 'app:wheel', { buildah: true })).toMatchObject({ gid: 10, additionalGids: [10] });
    expect(await resolveUser(root, undefined, { buildah: true })).toMatchObject({ uid: 0, gid: 0, additionalGids: [0] });
    expect(await resolveUser(root, '4242', { buildah: true })).toMatchObject({ uid: 4242, gid: 0, additionalGids: [0] });
  });

  it('unknown names are clear errors', async () => {
    await expect(resolveUser(root, 'ghost')).rejects.toMatchObject({ code: 'ENOTFOUND', message: /unable to find user ghost/ });
    await expect(resolveUser(root, 'app:ghosts')).rejects.toMatchObject({ code: 'ENOTFOUND', message: /group ghosts/ });
    await expect(resolveUser(root, 'app:')).rejects.toMatchObject({ code: 'EINVALID' });
  });

  it('RU-05 /etc/passwd -> /etc/shadow (absolute) resolves inside the rootfs, never on the host', async () => {
    await writeFile(join(root, 'etc/shadow'), 'evil:x:77:77::/evil:/bin/sh\n');
    await writeFile(join(root, 'etc/passwd'), '', { flag: 'w' });
    const { rm } = await import('node:fs/promises');
    await rm(join(root, 'etc/passwd'));
    await symlink('/etc/shadow', join(root, 'etc/passwd'));
    // the host's /etc/shadow has root; the rootfs's "shadow" has only "evil"
    expect(await resolveUser(root, 'evil')).toMatchObject({ uid: 77 });
    await expect(resolveUser(root, 'root')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    // and .. cannot climb out either
    await rm(join(root, 'etc/passwd'));
    await symlink('../../../../../../../../etc/shadow', join(root, 'etc/passwd'));
    expect(await resolveInRoot(root, '/etc/passwd')).toBe(join(root, 'etc/shadow'));
    expect(await resolveUser(root, 'evil')).toMatchObject({ uid: 77 });
  });

  it('RU-05 /etc/passwd -> /dev/zero is refused as not a regular file', async () => {
    const { rm } = await import('node:fs/promises');
    await rm(join(root, 'etc/passwd'));
    await mkdir(join(root, 'dev'));
    await symlink('/dev/zero', join(root, 'etc/passwd'));
    // in-root: <root>/dev/zero does not exist → no passwd: numeric ids still work, names fail cleanly
    expect(await resolveUser(root, '5')).toMatchObject({ uid: 5 });
    await expect(resolveUser(root, 'app')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    // a real device node inside the rootfs is refused by the regular-file check
    const { execFileSync } = await import('node:child_process');
    if (process.getuid?.() === 0) {
      execFileSync('mknod', [join(root, 'dev/zero'), 'c', '1', '5']);
      await expect(resolveUser(root, 'app')).rejects.toMatchObject({ code: 'EUNSAFE', message: /not a regular file/ });
    }
    // a directory too
    await rm(join(root, 'etc/passwd'));
    await mkdir(join(root, 'etc/passwd'));
    await expect(resolveUser(root, 'app')).rejects.toMatchObject({ code: 'EUNSAFE' });
  });

  it('RU-05 a 2 GB sparse passwd file hits the size cap without being read', async () => {
    const fh = await open(join(root, 'etc/passwd'), 'w');
    await fh.truncate(2 * 1024 * 1024 * 1024);
    await fh.close();
    const t = Date.now();
    await expect(resolveUser(root, 'app')).rejects.toMatchObject({ code: 'ELIMIT', message: /limit/ });
    expect(Date.now() - t).toBeLessThan(2000);
  });

  it('symlink loops are bounded', async () => {
    const { rm } = await import('node:fs/promises');
    await rm(join(root, 'etc/passwd'));
    await symlink('/etc/passwd', join(root, 'etc/passwd'));
    await expect(resolveUser(root, 'app')).rejects.toMatchObject({ code: 'ELIMIT' });
  });
});
