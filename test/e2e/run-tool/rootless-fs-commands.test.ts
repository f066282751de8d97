import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../../helpers/tmp.ts';
import { asUser, canRunRootless, makeUserWithBusybox, removeUser, type TestUser } from './rootless-helpers.ts';

/*
 * The file-system commands as an ordinary user: mount/unmount refuse with podman's rootless message (a mount made
 * in run-tool's own user namespace would vanish with it), while diff, export and secrets work, and the user's
 * secret files stay private to them.
 */
describe.skipIf(!canRunRootless)('rootless mount refusal, diff, export, secrets', () => {
  let scratch: { dir: string; cleanup: () => Promise<void> };
  let u: TestUser;

  beforeAll(async () => {
    scratch = await scratchDir('skiff-rlfs-');
    ({ u } = makeUserWithBusybox(scratch.dir, 'skiff-rlfs'));
    const r = asUser(u, ['run', '--name', 'rc', '--network', 'none', 'busybox', 'sh', '-c', 'echo x > /etc/newf; rm /bin/ls']);
    expect(r.status, r.stderr).toBe(0);
  }, 180_000);

  afterAll(async () => {
    if (u) removeUser(u);
    await scratch?.cleanup();
  }, 60_000);

  it('mount and unmount refuse with podman\'s rootless message, one line, 125', () => {
    for (const cmd of ['mount', 'unmount']) {
      const r = asUser(u, [cmd, 'rc']);
      expect(r.status, r.stderr).toBe(125);
      expect(r.stderr).toBe(`Error: cannot run command "run-tool ${cmd}" in rootless mode, must execute \`podman unshare\` first\n`);
    }
  });

  it('diff and export work rootless', () => {
    const d = asUser(u, ['diff', 'rc']);
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout).toContain('D /bin/ls\n');
    expect(d.stdout).toContain('A /etc/newf\n');
    const e = asUser(u, ['export', '-o', join(u.home, 'rc.tar'), 'rc']);
    expect(e.status, e.stderr).toBe(0);
    expect(statSync(join(u.home, 'rc.tar')).size).toBeGreaterThan(100_000);
  }, 60_000);

  it("a rootless user's secrets are private to them and mount into the container", () => {
    const c = asUser(u, ['secret', 'create', 'us', '-'], { input: 'user-secret' });
    expect(c.status, c.stderr).toBe(0);
    const data = join(u.home, '.local', 'share', 'skiff', 'secrets', 'data');
    const files = readdirSync(data);
    expect(files).toHaveLength(1);
    const st = statSync(join(data, files[0]!));
    expect([st.mode & 0o777, st.uid]).toEqual([0o600, u.uid]);
    const r = asUser(u, ['run', '--rm', '--network', 'none', '--secret', 'us', 'busybox', 'cat', '/run/secrets/us']);
    expect([r.status, r.stdout], r.stderr).toEqual([0, 'user-secret']);
  }, 60_000);
});
