import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { asUserTool, canRunRootless, makeUserWithBusybox, missingForRootless, removeUser, repo, type TestUser } from '../run-tool/rootless-helpers.ts';

/*
 * The registry-backed build cache as an ordinary user (issue 18): two stores of the user stand for two runners.
 * Runner A builds rootless with --cache-to a registry on 127.0.0.1; runner B, empty, builds the same context
 * with --cache-from: no step runs, the RUN that wrote the time keeps A's value, and the image ID is A's.
 */

const built = existsSync(join(repo, 'dist', 'build-tool.mjs'));

describe.skipIf(!canRunRootless)('rootless build with a registry-backed cache', () => {
  let scratch: { dir: string; cleanup: () => Promise<void> };
  let reg: TestRegistry;
  let u: TestUser;
  let hostDir = '';
  let ctx = '';
  const bt = (args: string[]) => asUserTool(u, 'build-tool', args, { timeout: 180_000 });

  beforeAll(async () => {
    const missing = missingForRootless({ 'docker-registry': 'docker-registry' });
    if (missing) throw new Error(missing);
    if (!built) throw new Error('the rootless suite runs the built tools: run `npm run build` first');
    scratch = await scratchDir('skiff-rlcache-');
    ({ u, hostDir } = makeUserWithBusybox(scratch.dir, 'skiff-rlc'));
    reg = await startRegistry();
    // the base image in the registry, pushed from a root store
    const rootStore = join(scratch.dir, 'root-store');
    const tool = (name: string, args: string[]) => spawnSync(process.execPath, [join(repo, 'bin', `${name}.mjs`), ...args], { encoding: 'utf8', timeout: 120_000 });
    const imp = tool('run-tool', ['--root', rootStore, 'import', join(scratch.dir, 'busybox.tar'), 'busybox']);
    if (imp.status !== 0) throw new Error(`import as root failed: ${imp.stderr}`);
    const push = tool('copy-tool', ['--root', rootStore, 'copy', '--dest-tls-verify=false', 'store:busybox', `docker://${reg.host}/library/busybox:1`]);
    if (push.status !== 0) throw new Error(`seeding the registry failed: ${push.stderr}`);
    ctx = join(hostDir, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'f.txt'), 'from the context\n');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${reg.host}/library/busybox:1\nCOPY f.txt /f.txt\nRUN date +%s%N > /stamp && chown 1000:1000 /f.txt\nCMD ["cat", "/stamp"]\n`);
    execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, ctx]);
  }, 240_000);

  afterAll(async () => {
    if (u) removeUser(u);
    await reg?.stop();
    await scratch?.cleanup();
  }, 120_000);

  it('runner B (empty) hits every step of runner A’s rootless build through the registry', () => {
    const build = (store: string, flags: string[], out: string) => bt(['--root', join(u.home, store), 'build', '--network', 'none', '--tls-verify=false', ...flags, '-o', `type=local,dest=${join(hostDir, out)}`, ctx]);
    const a = build('runner-a', ['--cache-to', `${reg.host}/ci/rootless-cache`], 'out-a');
    expect(a.status, a.stderr).toBe(0);
    const b = build('runner-b', ['--cache-from', `${reg.host}/ci/rootless-cache`], 'out-b');
    expect(b.status, b.stderr).toBe(0);
    expect(b.stderr).not.toMatch(/^--> \d+\.\d+s$/mu);
    expect(b.stderr.match(/^--> Using cache/gmu)).toHaveLength(2);
    expect(b.stdout.trim()).toBe(a.stdout.trim());
    expect(readFileSync(join(hostDir, 'out-b', 'stamp'), 'utf8')).toBe(readFileSync(join(hostDir, 'out-a', 'stamp'), 'utf8'));
  }, 240_000);
});
