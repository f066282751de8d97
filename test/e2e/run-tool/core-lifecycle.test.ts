import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { buildRunTool, hasConmon, rt } from './core-helpers.ts';

let bundle = '';
let root = '';
let cleanup: (() => Promise<void>) | undefined;
const run = (args: string[], o: { input?: string } = {}) => rt(bundle, root, args, o);

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('run-tool core lifecycle', () => {
  beforeAll(async () => {
    bundle = await buildRunTool();
    const sd = await scratchDir('skiff-core-');
    cleanup = sd.cleanup;
    const dir = sd.dir;
    root = join(dir, 'root');
    await makeBusyboxImage(root, dir);
  }, 120_000);
  afterAll(async () => {
    if (root) run(['rm', '-a', '-f']);
    await cleanup?.();
  });

  it('foreground run: output, exit code, env, user, workdir', () => {
    const r = run(['run', '--rm', '--network', 'none', '-e', 'FOO=bar', '-w', '/tmp', '-u', '1:1', 'busybox', 'sh', '-c', 'echo $FOO; id -u; pwd; exit 3']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('bar\n1\n/tmp\n');
    expect(r.status).toBe(3);
    expect(run(['ps', '-a', '-q']).stdout).toBe('');
  });

  it('exit codes 0/125/126/127', () => {
    expect(run(['run', '--rm', '--network', 'none', 'busybox', 'true']).status).toBe(0);
    expect(run(['run', '--rm', '--network', 'none', 'nosuchimage']).status).toBe(125);
    const nf = run(['run', '--rm', '--network', 'none', 'busybox', '/nonexistent']);
    expect(nf.status).toBe(127);
    expect(nf.stderr).toMatch(/not found|no such file/);
    const ni = run(['run', '--rm', '--network', 'none', 'busybox', '/etc/passwd']);
    expect(ni.status).toBe(126);
    expect(run(['ps', '-a', '-q']).stdout).toBe('');
  });

  it('run -i passes stdin', () => {
    const r = run(['run', '--rm', '-i', '--network', 'none', 'busybox', 'cat'], { input: 'hi\n' });
    expect(r.stdout).toBe('hi\n');
    expect(r.status).toBe(0);
  });

  it('run -d, ps, logs, inspect, exec, stop, rm', () => {
    const d = run(['run', '-d', '--name', 'web1', '--network', 'none', '-l', 'app=x', 'busybox', 'sh', '-c', 'echo started; exec sleep 1000']);
    expect(d.stderr).toBe('');
    expect(d.status).toBe(0);
    const id = d.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ps = run(['ps']).stdout.split('\n');
    expect(ps[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    expect(ps[1]).toContain(id.slice(0, 12));
    expect(ps[1]).toMatch(/Up .* web1$/);
    expect(run(['ps', '--filter', 'label=app=x', '-q']).stdout.trim()).toBe(id.slice(0, 12));
    expect(run(['ps', '--filter', 'name=nomatch', '-q']).stdout.trim()).toBe('');
    expect(run(['ps', '--format', '{{.Names}} {{.State}}']).stdout.trim()).toBe('web1 running');
    const ins = JSON.parse(run(['inspect', 'web1']).stdout)[0];
    expect(ins.Id).toBe(id);
    expect(ins.State.Running).toBe(true);
    expect(ins.State.Pid).toBeGreaterThan(0);
    expect(ins.Config.Labels.app).toBe('x');
    expect(ins.Path).toBe('sh');
    expect(ins.ImageName).toBe('localhost/busybox:latest');
    const ex = run(['exec', '-e', 'X=1', 'web1', 'sh', '-c', 'echo $X; exit 4']);
    expect(ex.stdout).toBe('1\n');
    expect(ex.status).toBe(4);
    for (let i = 0; i < 50 && !run(['logs', 'web1']).stdout.includes('started'); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    expect(run(['logs', 'web1']).stdout).toBe('started\n');
    expect(run(['logs', '-t', 'web1']).stdout).toMatch(/^\d{4}-\d\d-\d\dT\S+ started\n$/);
    // podman's time forms: `10` is Unix seconds (1970, so every line), not a date in 2001; a future time hides it
    expect(run(['logs', '--since', '10', 'web1']).stdout).toBe('started\n');
    expect(run(['logs', '--since', String(Math.floor(Date.now() / 1000) + 3600), 'web1']).stdout).toBe('');
    expect(run(['logs', '--since', '1h', '--until', '1m', 'web1']).stdout).toBe('started\n');
    expect(run(['top', 'web1']).stdout).toMatch(/sleep 1000/);
    const rmRunning = run(['rm', 'web1']);
    expect(rmRunning.status).toBe(2);
    const t0 = Date.now();
    expect(run(['stop', '-t', '1', 'web1']).stdout).toBe('web1\n');
    expect(Date.now() - t0).toBeLessThan(4000);
    const st = JSON.parse(run(['inspect', 'web1']).stdout)[0].State;
    expect(st.Status).toBe('exited');
    expect(st.ExitCode).toBe(137);
    expect(run(['wait', 'web1']).stdout).toBe('137\n');
    expect(run(['rm', 'web1']).stdout).toBe('web1\n'); // podman echoes the name or ID as given
    expect(existsSync(join(root, 'containers', id))).toBe(false);
    expect(readdirSync(join(root, 'leases')).filter((n) => n.includes(id))).toEqual([]);
  });

  it('detached exit code, --rm and restart policy apply through the monitor', () => {
    const a = run(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'exit 5']).stdout.trim();
    expect(run(['wait', a]).stdout).toBe('5\n');
    const b = run(['run', '-d', '--rm', '--network', 'none', 'busybox', 'true']).stdout.trim();
    for (let i = 0; i < 100 && existsSync(join(root, 'containers', b)); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    expect(existsSync(join(root, 'containers', b))).toBe(false);
    const c = run(['run', '-d', '--restart', 'on-failure:2', '--network', 'none', 'busybox', 'sh', '-c', 'exit 1']).stdout.trim();
    for (let i = 0; i < 100; i++) {
      const s = JSON.parse(run(['inspect', c]).stdout)[0];
      if (s.RestartCount === 2 && s.State.Status === 'exited') break;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
    const s = JSON.parse(run(['inspect', c]).stdout)[0];
    expect(s.RestartCount).toBe(2);
    expect(s.State.ExitCode).toBe(1);
    run(['rm', '-f', a, c]);
  });

  it('RU-07 invalid container names are rejected; a leading slash is normalised', () => {
    for (const n of ['a/../../x', 'x/', 'x'.repeat(1000), '../x', '']) {
      const r = run(['create', '--name', n, '--network', 'none', 'busybox', 'true']);
      expect(r.status).toBe(125);
    }
    expect(readdirSync(join(root, 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n))).toEqual([]);
    const r = run(['create', '--name', '/slashy', '--network', 'none', 'busybox', 'true']);
    expect(r.status).toBe(0);
    expect(JSON.parse(run(['inspect', 'slashy']).stdout)[0].Name).toBe('slashy');
    expect(run(['create', '--name', 'slashy', '--network', 'none', 'busybox', 'true']).status).toBe(125);
    expect(run(['rm', '/slashy']).status).toBe(0);
  });
});
