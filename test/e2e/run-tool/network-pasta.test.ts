import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { chown, mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSkiffError } from '../../../shared/errors.ts';
import { attachNetwork } from '../../../shared/network/attach.ts';
import { freePort, parsePublish } from '../../../shared/network/publish.ts';
import { pastaArgs } from '../../../shared/network/pasta.ts';
import { hasBusybox } from '../../helpers/busybox.ts';
import { hasPrograms, isRoot, scratchDir } from '../../helpers/tmp.ts';

const hasPasta = hasPrograms('pasta');
const UID = 54321; // an ordinary uid without a passwd entry: setpriv needs none
const node = process.execPath;

function get(port: number, tries = 50): Promise<string> {
  const once = () =>
    new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', timeout: 2000, agent: false }, (res) => {
        const c: Buffer[] = [];
        res.on('data', (d: Buffer) => c.push(d));
        res.on('end', () => resolve(Buffer.concat(c).toString()));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });
  return (async () => {
    let last: unknown;
    for (let i = 0; i < tries; i++) {
      try {
        return await once();
      } catch (e) {
        last = e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw last;
  })();
}

describe('pasta arguments', () => {
  it('forwards only the published ports, address-bound, ranges kept', () => {
    expect(pastaArgs([...parsePublish('127.0.0.1:8080:80'), ...parsePublish('127.0.0.1:9000-9001:53-54/udp')], 42)).toEqual([
      '--config-net', '--foreground', '--quiet', '-T', 'none', '-U', 'none', '-t', '127.0.0.1/8080:80', '-u', '127.0.0.1/9000-9001:53-54', '42',
    ]);
    expect(pastaArgs([], 7)).toContain('none');
  });

  it.skipIf(!isRoot)('root is told to use the bridge', async () => {
    const e = await attachNetwork('a'.repeat(64), { mode: 'pasta', ports: [], hostname: 'x' }, { root: '/nonexistent', rootless: false, pid: 1 }).catch((x: unknown) => x);
    expect(isSkiffError(e, 'EUNSUPPORTED')).toBe(true);
  });
});

describe.skipIf(!isRoot || !hasPasta || !hasBusybox)('rootless pasta (an ordinary user, a real user+network namespace)', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let worker: string;
  let target: ChildProcess | undefined;

  beforeAll(async () => {
    s = await scratchDir('skiff-pasta-');
    chmodSync(s.dir, 0o755);
    worker = join(s.dir, 'worker.mjs');
    await build({ entryPoints: [join(import.meta.dirname, 'network-pasta-worker.ts')], outfile: worker, bundle: true, platform: 'node', format: 'esm', target: 'node22', logLevel: 'warning' });
    // rootless networking needs the tun device usable by ordinary users (documented requirement)
    if ((statSync('/dev/net/tun').mode & 0o006) !== 0o006) chmodSync('/dev/net/tun', 0o666);
    await mkdir(join(s.dir, 'store'), { mode: 0o700 });
    await chown(join(s.dir, 'store'), UID, UID);
    await mkdir(join(s.dir, 'www'));
    await writeFile(join(s.dir, 'www/index.html'), 'rootless via pasta\n');
    chmodSync(join(s.dir, 'www'), 0o755);
  });

  afterAll(async () => {
    target?.kill('SIGKILL');
    await s?.cleanup();
  });

  const asUser = (args: string[]) => ['--reuid', String(UID), '--regid', String(UID), '--clear-groups', ...args];

  it('publishes 127.0.0.1:<port> into the user namespace; detach stops pasta', async () => {
    const port = await freePort('tcp', '127.0.0.1');
    // the "container": busybox httpd as root of a fresh user+network namespace owned by the ordinary user
    target = spawn('setpriv', asUser(['unshare', '-Urn', 'busybox', 'httpd', '-f', '-p', '80', '-h', join(s.dir, 'www')]), { stdio: 'ignore' });
    let pid = 0;
    for (let i = 0; i < 50 && !pid; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const out = spawnSync('pgrep', ['-u', String(UID), '-x', 'busybox', '-P', String(target.pid)]).stdout?.toString().trim();
      pid = Number(out?.split('\n')[0] || 0);
      if (!pid) {
        // unshare execs busybox in place: the target itself may be it
        const comm = existsSync(`/proc/${target.pid}/comm`) ? readFileSync(`/proc/${target.pid}/comm`, 'utf8').trim() : '';
        if (comm === 'busybox') pid = target.pid!;
      }
    }
    expect(pid).toBeGreaterThan(0);
    const id = randomBytes(32).toString('hex');
    const root = join(s.dir, 'store');
    const r = spawnSync('setpriv', asUser([node, worker, 'attach', root, id, String(pid), `127.0.0.1:${port}:80`]), { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const state = JSON.parse(r.stdout) as { helperPid: number; ports: unknown[] };
    expect(state.ports).toEqual([{ hostIp: '127.0.0.1', hostPort: port, containerPort: 80, protocol: 'tcp' }]);
    expect(readFileSync(`/proc/${state.helperPid}/comm`, 'utf8').trim()).toMatch(/^pas(ta|st)/);
    expect(await get(port)).toBe('rootless via pasta\n');

    const d = spawnSync('setpriv', asUser([node, worker, 'detach', root, id, r.stdout]), { encoding: 'utf8' });
    expect(d.status).toBe(0);
    // gone or a zombie (PID 1 may reap late)
    const alive = existsSync(`/proc/${state.helperPid}`) && !/ Z /.test(readFileSync(`/proc/${state.helperPid}/stat`, 'utf8'));
    expect(alive).toBe(false);
    await expect(get(port, 1)).rejects.toThrow(/ECONNREFUSED/);
    target.kill('SIGKILL');
    execFileSync('true');
  });
});
