import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addAccountEntries } from '../../../shared/runtime/etc-files.ts';
import { hostAccountOf, keepIdAccountEntries, type HostAccount } from '../../../shared/runtime/user.ts';
import { parseUserns } from '../../../run-tool/commands/create-flags.ts';
import { scratchDir } from '../../helpers/tmp.ts';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
const GROUP = 'root:x:0:\nnogroup:x:65534:\n';
const me: HostAccount = { uid: 1001, gid: 1001, name: 'alice', gecos: 'Alice A', home: '/home/alice', groupName: 'alice' };

describe('keep-id passwd and group entries (podman 4.3)', () => {
  it('hostAccountOf reads the host files; a missing entry gets the number and /', () => {
    const pw = `${PASSWD}alice:x:1001:1001:Alice A,,,:/home/alice:/bin/bash\n`;
    expect(hostAccountOf(1001, 1001, pw, `${GROUP}alice:x:1001:\n`)).toEqual({ uid: 1001, gid: 1001, name: 'alice', gecos: 'Alice A,,,', home: '/home/alice', groupName: 'alice' });
    expect(hostAccountOf(1234, 99, PASSWD, GROUP)).toEqual({ uid: 1234, gid: 99, name: '1234', gecos: '', home: '/' });
  });

  it('adds the user with the working directory as home, and its group, when the image lacks both', () => {
    expect(keepIdAccountEntries(me, PASSWD, GROUP, '/work')).toEqual({
      passwd: 'alice:*:1001:1001:Alice A:/work:/bin/sh\n',
      group: 'alice:x:1001:alice\n',
      home: '/work',
    });
  });

  it('uses the user\'s home when it or a parent (not /) is mounted', () => {
    expect(keepIdAccountEntries(me, PASSWD, GROUP, '/', new Set(['/home/alice'])).home).toBe('/home/alice');
    expect(keepIdAccountEntries(me, PASSWD, GROUP, '/', new Set(['/home'])).home).toBe('/home/alice');
    expect(keepIdAccountEntries(me, PASSWD, GROUP, '/', new Set(['/'])).home).toBe('/');
  });

  it('adds nothing for a user or group the image has (by name or by id)', () => {
    expect(keepIdAccountEntries(me, `${PASSWD}alice:x:5:5::/:/bin/sh\n`, `${GROUP}x:x:1001:\n`, '/')).toEqual({});
    expect(keepIdAccountEntries(me, `${PASSWD}bob:x:1001:5::/:/bin/sh\n`, `${GROUP}alice:x:7:\n`, '/')).toEqual({});
  });

  describe('addAccountEntries with keepId', () => {
    let base: string;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ dir: base, cleanup } = await scratchDir('skiff-kid-acc-'));
      await mkdir(join(base, 'rootfs/etc'), { recursive: true });
      await writeFile(join(base, 'rootfs/etc/passwd'), PASSWD);
      await writeFile(join(base, 'rootfs/etc/group'), GROUP);
    });
    afterEach(async () => cleanup());

    it('appends the keep-id entries once for the default user U:G (no second "container user" line)', async () => {
      const plan = await addAccountEntries(join(base, 'rootfs'), join(base, 'userdata'), { user: '1001:1001', workdir: '/', readOnly: false, keepId: me });
      await plan.append();
      expect(plan.keepIdHome).toBe('/');
      expect(await readFile(join(base, 'rootfs/etc/passwd'), 'utf8')).toBe(`${PASSWD}alice:*:1001:1001:Alice A:/:/bin/sh\n`);
      expect(await readFile(join(base, 'rootfs/etc/group'), 'utf8')).toBe(`${GROUP}alice:x:1001:alice\n`);
    });

    it('with -u 2000 both the keep-id entry and podman\'s numeric-user entry are added', async () => {
      const plan = await addAccountEntries(join(base, 'rootfs'), join(base, 'userdata'), { user: '2000', workdir: '/w', readOnly: false, keepId: me });
      await plan.append();
      expect(await readFile(join(base, 'rootfs/etc/passwd'), 'utf8')).toBe(`${PASSWD}alice:*:1001:1001:Alice A:/w:/bin/sh\n2000:*:2000:0:container user:/w:/bin/sh\n`);
    });

    it('read-only rootfs: a bind-mounted copy carries the entries', async () => {
      const plan = await addAccountEntries(join(base, 'rootfs'), join(base, 'userdata'), { user: '0', workdir: '/', readOnly: true, keepId: me });
      expect(plan.mounts.map((m) => m.destination).sort()).toEqual(['/etc/group', '/etc/passwd']);
      expect(await readFile(join(base, 'userdata/passwd'), 'utf8')).toContain('alice:*:1001:1001:Alice A:/:/bin/sh\n');
    });
  });
});

describe('--userns parsing', () => {
  it('host and empty are the default, keep-id is kept, others are refused as podman', () => {
    expect(parseUserns(undefined)).toBeUndefined();
    expect(parseUserns('')).toBeUndefined();
    expect(parseUserns('host')).toBeUndefined();
    expect(parseUserns('keep-id')).toBe('keep-id');
    expect(() => parseUserns('bogus')).toThrow('unrecognized namespace mode bogus passed');
    expect(() => parseUserns('auto')).toThrow(/not supported/);
    expect(() => parseUserns('keep-id:uid=5')).toThrow(/not supported/);
  });
});
