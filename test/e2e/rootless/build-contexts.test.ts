import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../../helpers/tmp.ts';
import { asUser, asUserTool, canRunRootless, makeUserWithBusybox, missingForRootless, removeUser, repo, type TestUser } from '../run-tool/rootless-helpers.ts';

/*
 * `--build-context NAME=DIR` as an ordinary user with subordinate ids: the named directory (the user's own, with its
 * own .dockerignore) is read in COPY --from and FROM, a RUN sees it, and a rebuild is fully cached.
 */

const built = existsSync(join(repo, 'dist', 'build-tool.mjs'));

describe.skipIf(!canRunRootless)('rootless build with a named directory context', () => {
  let scratch: { dir: string; cleanup: () => Promise<void> };
  let u: TestUser;
  let hostDir = '';
  const bt = (args: string[], input?: string) => asUserTool(u, 'build-tool', args, { timeout: 180_000, ...(input !== undefined && { input }) });

  beforeAll(async () => {
    const missing = missingForRootless();
    if (missing) throw new Error(missing);
    if (!built) throw new Error('the rootless suite runs the built tools: run `npm run build` first');
    scratch = await scratchDir('skiff-rlctx-');
    ({ u, hostDir } = makeUserWithBusybox(scratch.dir, 'skiff-rlc'));
    for (const d of ['ctx', 'lib']) mkdirSync(join(hostDir, d));
    writeFileSync(join(hostDir, 'lib', 'tool.sh'), '#!/bin/sh\necho "named context tool"\n', { mode: 0o755 });
    writeFileSync(join(hostDir, 'lib', 'private.key'), 'not for the image\n');
    writeFileSync(join(hostDir, 'lib', '.dockerignore'), '*.key\n');
    execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, hostDir]);
  }, 240_000);

  afterAll(async () => {
    if (u) removeUser(u);
    await scratch?.cleanup();
  }, 120_000);

  it('COPY --from=NAME and FROM NAME read the directory (its .dockerignore applied); the rebuild is cached', () => {
    const df = 'FROM busybox\nCOPY --from=lib / /opt/lib/\nRUN /opt/lib/tool.sh > /out && ls /opt/lib > /listing\nCMD ["cat", "/out", "/listing"]\n';
    const args = ['build', '--network', 'none', '-t', 'rl-named', '--build-context', `lib=${join(hostDir, 'lib')}`, '-f', '-', join(hostDir, 'ctx')];
    const b = bt(args, df);
    expect(b.status, b.stderr).toBe(0);
    const r = asUser(u, ['run', '--rm', '--network', 'none', 'rl-named']);
    expect(r.stdout, r.stderr).toBe('named context tool\ntool.sh\n');
    const again = bt(args, df);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/^named context tool$/mu);
    expect(again.stdout).toBe(b.stdout);
    const f = bt(['build', '-t', 'rl-from-dir', '--build-context', `lib=${join(hostDir, 'lib')}`, '-f', '-', join(hostDir, 'ctx')], 'FROM lib\n');
    expect(f.status, f.stderr).toBe(0);
    // the image made FROM the directory holds its files (and not the ignored key)
    const check = bt(['build', '--network', 'none', '-t', 'rl-check', '-f', '-', join(hostDir, 'ctx')], 'FROM busybox\nCOPY --from=localhost/rl-from-dir / /fromdir/\nCMD ["ls", "/fromdir"]\n');
    expect(check.status, check.stderr).toBe(0);
    const ls = asUser(u, ['run', '--rm', '--network', 'none', 'rl-check']);
    expect(ls.stdout, ls.stderr).toBe('tool.sh\n');
  });
});
