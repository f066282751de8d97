// Health checks through the per-container timer (no systemd): status starting → unhealthy → healthy with retries,
// start period, the log in inspect, (healthy) in ps, `healthcheck run`, the timer killed on stop and rm.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { hasConmon, rtSync, until } from './integration-helpers.ts';

/** True while `pid` exists and is not a zombie. */
function live(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('run-tool health checks', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let root = '';
  const rt = (args: string[]) => rtSync(root, args);
  const state = (id: string) => JSON.parse(readFileSync(join(root, 'containers', id, 'state.json'), 'utf8')) as { healthPid?: number };

  beforeAll(async () => {
    s = await scratchDir('skiff-int-health-');
    root = join(s.dir, 'root');
    await makeBusyboxImage(root, s.dir);
  }, 120_000);

  afterAll(async () => {
    if (root) rt(['rm', '-a', '-f']);
    await s?.cleanup();
  });

  it('the timer tracks starting → unhealthy → healthy; inspect State.Health and ps (healthy); stop kills the timer', async () => {
    const d = rt(['run', '-d', '--network', 'none', '--name', 'hc', '--health-cmd', 'cat /tmp/ok', '--health-interval', '500ms', '--health-retries', '2', '--health-timeout', '5s',
      'busybox', 'sh', '-c', 'sleep 2.5; echo fine > /tmp/ok; exec sleep 1000']);
    expect(d.stderr).toBe('');
    expect(d.status).toBe(0);
    const id = d.stdout.trim();
    expect(rt(['ps', '--format', '{{.Status}}']).stdout).toMatch(/^Up .* \(starting\)\n$/);
    const timer = state(id).healthPid!;
    expect(timer).toBeGreaterThan(0);
    expect(live(timer)).toBe(true);
    const health = () => JSON.parse(rt(['inspect', 'hc']).stdout)[0].State.Health as { Status: string; FailingStreak: number; Log: { ExitCode: number; Output: string; Start: string; End: string }[] };
    expect(await until(() => health().Status === 'unhealthy', 10_000, 200)).toBe(true);
    expect(health().FailingStreak).toBeGreaterThanOrEqual(2);
    expect(await until(() => health().Status === 'healthy', 10_000, 200)).toBe(true);
    const h = health();
    expect(h.FailingStreak).toBe(0);
    expect(h.Log.length).toBeLessThanOrEqual(5);
    expect(h.Log.at(-1)).toMatchObject({ ExitCode: 0, Output: 'fine' });
    expect(h.Log.some((l) => l.ExitCode !== 0)).toBe(true);
    expect(rt(['ps', '--format', '{{.Status}}']).stdout).toMatch(/^Up .* \(healthy\)\n$/);
    expect(rt(['ps']).stdout).toMatch(/\(healthy\)/);
    const ins = JSON.parse(rt(['inspect', 'hc']).stdout)[0];
    expect(ins.Config.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'cat /tmp/ok'], Interval: 500e6, Timeout: 5e9, Retries: 2, StartPeriod: 0 });

    // healthcheck run: 0 and nothing printed when healthy
    const hr = rt(['healthcheck', 'run', 'hc']);
    expect(hr.stdout).toBe('');
    expect(hr.status).toBe(0);
    expect(rt(['exec', 'hc', 'rm', '/tmp/ok']).status).toBe(0);
    expect(rt(['stop', '-t', '0', 'hc']).status).toBe(0);
    expect(await until(() => !live(timer), 5000, 50)).toBe(true);
    expect(state(id).healthPid).toBeUndefined();
    const stopped = rt(['healthcheck', 'run', 'hc']);
    expect(stopped.status).toBe(125);
    expect(stopped.stderr).toMatch(/is not running/);
    expect(rt(['rm', 'hc']).status).toBe(0);
  });

  it('healthcheck run reports unhealthy (exit 1) after the retries; the start period does not count; rm -f kills the timer', async () => {
    const d = rt(['run', '-d', '--network', 'none', '--name', 'bad', '--health-cmd', '["CMD", "false"]', '--health-interval', '1h', '--health-retries', '2',
      'busybox', 'sleep', '1000']);
    expect(d.status).toBe(0);
    const id = d.stdout.trim();
    const timer = state(id).healthPid!;
    const one = rt(['healthcheck', 'run', 'bad']);
    expect(one.stdout).toBe('starting\n');
    expect(one.status).toBe(1);
    const two = rt(['healthcheck', 'run', 'bad']);
    expect(two.stdout).toBe('unhealthy\n');
    expect(two.status).toBe(1);
    expect(rt(['ps', '--format', '{{.Status}}']).stdout).toMatch(/\(unhealthy\)/);
    expect(rt(['rm', '-f', 'bad']).status).toBe(0);
    expect(await until(() => !live(timer), 5000, 50)).toBe(true);

    const sp = rt(['run', '-d', '--network', 'none', '--name', 'sp', '--health-cmd', 'false', '--health-interval', '1h', '--health-retries', '1', '--health-start-period', '1h', 'busybox', 'sleep', '1000']);
    expect(sp.status).toBe(0);
    for (let i = 0; i < 2; i++) expect(rt(['healthcheck', 'run', 'sp']).stdout).toBe('starting\n');
    expect(JSON.parse(rt(['inspect', 'sp']).stdout)[0].State.Health).toMatchObject({ Status: 'starting', FailingStreak: 0 });
    expect(rt(['rm', '-f', 'sp']).status).toBe(0);
    const none = rt(['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000']).stdout.trim();
    const nr = rt(['healthcheck', 'run', none]);
    expect(nr.status).toBe(125);
    expect(nr.stderr).toMatch(/has no defined healthcheck/);
    expect(rt(['rm', '-f', none]).status).toBe(0);
    expect(existsSync(join(root, 'containers', id))).toBe(false);
  });
});
