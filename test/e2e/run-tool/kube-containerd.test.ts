// The cluster side of the dev-to-cluster path: an image built by build-tool and pushed by copy-tool to the test
// registry is pulled and run by containerd 1.6 (Debian's, the runtime Kubernetes nodes use) through its `ctr`
// client, on a private socket, root and state directory this test starts and tears down (containerd killed by PID).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxImage } from '../../helpers/busybox.ts';
import { ct } from '../../helpers/copy-tool.ts';
import { startRegistry, type TestRegistry } from '../../helpers/registry.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { until } from './pod-helpers.ts';

const BUILD_TOOL = join(import.meta.dirname, '../../../bin/build-tool.mjs');
const hasContainerd = existsSync('/usr/bin/containerd') && existsSync('/usr/bin/ctr') && existsSync('/usr/bin/docker-registry');

describe.skipIf(!isRoot || !hasContainerd)('containerd 1.6 runs what build-tool built and copy-tool pushed', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let reg: TestRegistry;
  let containerd: ChildProcess | undefined;
  let sock: string;
  const ctr = (args: string[]) => spawnSync('ctr', ['--address', sock, ...args], { encoding: 'utf8', timeout: 120_000 });

  beforeAll(async () => {
    s = await scratchDir('skiff-ctr-');
    reg = await startRegistry();
    const cd = join(s.dir, 'containerd');
    mkdirSync(cd);
    sock = join(cd, 'c.sock');
    const config = join(cd, 'config.toml');
    writeFileSync(config, [
      'version = 2',
      `root = "${join(cd, 'root')}"`,
      `state = "${join(cd, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${sock}"`,
      '[ttrpc]',
      `  address = "${sock}.ttrpc"`,
      '[debug]',
      `  address = "${join(cd, 'debug.sock')}"`,
      '',
    ].join('\n'));
    containerd = spawn('containerd', ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    containerd.stderr?.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-4000)));
    if (!(await until(() => existsSync(sock) && ctr(['version']).status === 0, 20_000))) throw new Error(`containerd did not start: ${log}`);
  }, 120_000);

  afterAll(async () => {
    if (containerd?.pid && containerd.exitCode === null) {
      const gone = new Promise((r) => containerd!.once('exit', r));
      process.kill(containerd.pid, 'SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      if (containerd.exitCode === null) process.kill(containerd.pid, 'SIGKILL');
    }
    await reg?.stop();
    if (s) {
      const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(s.dir)).reverse();
      for (const m of mounts) spawnSync('umount', ['-l', m]);
      await s.cleanup();
    }
  }, 60_000);

  it("ctr pulls the pushed image and `ctr run` prints what the image's CMD prints", async () => {
    const root = join(s.dir, 'store');
    await makeBusyboxImage(root, s.dir);
    const ctx = join(s.dir, 'ctx');
    mkdirSync(ctx);
    const ref = `${reg.host}/kube/hello:1.0`;
    const b = spawnSync(process.execPath, [BUILD_TOOL, '--root', root, 'build', '-t', ref, '-f', '-', ctx], {
      input: 'FROM localhost/busybox:latest\nRUN echo "hello from a skiff build" > /msg\nCMD ["cat", "/msg"]\n', encoding: 'utf8', timeout: 120_000,
    });
    expect(b.status, b.stderr).toBe(0);
    const push = ct(['--root', root, 'copy', '--dest-tls-verify=false', `store:${ref}`, `docker://${ref}`]);
    expect(push.status, push.stderr).toBe(0);
    const pull = ctr(['images', 'pull', '--plain-http', ref]);
    expect(pull.status, pull.stderr).toBe(0);
    const r = ctr(['run', '--rm', ref, `skiff-kube-${process.pid}`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('hello from a skiff build');
  }, 180_000);
});
