import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../../helpers/tmp.ts';
import { asUser, asUserTool, canRunRootless, makeUserWithBusybox, missingForRootless, removeUser, repo, type TestUser } from '../run-tool/rootless-helpers.ts';

/*
 * buildah's scripting verbs as an ordinary user with subordinate ids (the user namespace build-tool enters, as
 * buildah's rootless mode): from, run (runc in the user namespace), copy with --chown to a subordinate id, config,
 * commit, then run-tool runs the image as the same user. mount is refused with buildah's rootless message.
 */

const built = existsSync(join(repo, 'dist', 'build-tool.mjs'));

describe.skipIf(!canRunRootless)('rootless scripting verbs (from, run, copy, config, commit)', () => {
  let scratch: { dir: string; cleanup: () => Promise<void> };
  let u: TestUser;
  let hostDir = '';
  const bt = (args: string[]) => asUserTool(u, 'build-tool', args, { timeout: 180_000 });

  beforeAll(async () => {
    const missing = missingForRootless();
    if (missing) throw new Error(missing);
    if (!built) throw new Error('the rootless suite runs the built tools: run `npm run build` first');
    scratch = await scratchDir('skiff-rlverbs-');
    ({ u, hostDir } = makeUserWithBusybox(scratch.dir, 'skiff-rlv'));
    writeFileSync(join(hostDir, 'app.sh'), '#!/bin/sh\necho "rootless $WHO"\n', { mode: 0o755 });
    execFileSync('chown', [`${u.uid}:${u.gid}`, join(hostDir, 'app.sh')]);
  }, 240_000);

  afterAll(async () => {
    if (u) removeUser(u);
    await scratch?.cleanup();
  }, 120_000);

  it('from … run … copy --chown … config … commit works as an ordinary user, and run-tool runs the result', () => {
    const from = bt(['from', 'busybox']);
    expect(from.status, from.stderr).toBe(0);
    const ctr = from.stdout.trim();
    expect(ctr).toBe('busybox-working-container');
    const run = bt(['run', '--network', 'none', ctr, '--', 'sh', '-c', 'id -u; echo made > /made; chown 1000:1000 /made']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe('0\n');
    const cp = bt(['copy', '--chown', '1000:1000', ctr, join(hostDir, 'app.sh'), '/app.sh']);
    expect(cp.status, cp.stderr).toBe(0);
    expect(bt(['config', '--env', 'WHO=user', '--cmd', '/app.sh', ctr]).status).toBe(0);
    const check = bt(['run', '--network', 'none', ctr, '--', 'sh', '-c', 'stat -c "%u:%g" /made /app.sh']);
    expect(check.stdout, check.stderr).toBe('1000:1000\n1000:1000\n');
    const mnt = bt(['mount', ctr]);
    expect(mnt.status).toBe(125);
    expect(mnt.stderr).toMatch(/^Error: cannot mount using driver overlay in rootless mode/mu);
    const c = bt(['commit', '-q', '--rm', ctr, 'rl-scripted']);
    expect(c.status, c.stderr).toBe(0);
    const r = asUser(u, ['run', '--rm', '--network', 'none', 'rl-scripted']);
    expect(r.stdout, r.stderr).toBe('rootless user\n');
    // the squashed commit layer keeps the owners the steps gave (subordinate ids inside the user namespace)
    const owners = asUser(u, ['run', '--rm', '--network', 'none', 'rl-scripted', 'stat', '-c', '%u:%g', '/made', '/app.sh']);
    expect(owners.stdout, owners.stderr).toBe('1000:1000\n1000:1000\n');
    expect(bt(['containers', '-q']).stdout).toBe('');
  });

  it('run -v binds a host directory and --cap-drop takes a capability away, as an ordinary user', () => {
    const ctr = bt(['from', '--name', 'rl-settings', 'busybox']).stdout.trim();
    expect(ctr).toBe('rl-settings');
    const r = bt(['run', '--network', 'none', '-v', `${hostDir}:/h:ro`, '--cap-drop', 'CHOWN', ctr, '--', 'sh', '-c', 'cat /h/app.sh | head -1; touch /f; chown 1:1 /f 2>/dev/null && echo chowned || echo refused']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('#!/bin/sh\nrefused\n');
    const fed = asUserTool(u, 'build-tool', ['run', '--network', 'none', ctr, '--', 'sh', '-c', 'cat | wc -c'], { timeout: 180_000, input: 'twelve bytes' });
    expect(fed.stdout.trim(), fed.stderr).toBe('12');
    expect(bt(['rm', ctr]).status).toBe(0);
  });
});
