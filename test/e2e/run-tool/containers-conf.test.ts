import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { buildRunTool, hasConmon } from './core-helpers.ts';

let bundle = '';
let root = '';
let scratch = '';
let cleanup: (() => Promise<void>) | undefined;
const run = (args: string[], env: NodeJS.ProcessEnv) =>
  spawnSync(process.execPath, [bundle, '--root', root, ...args], { encoding: 'utf8', input: '', timeout: 60_000, env: { ...process.env, ...env } });

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('containers.conf in a real container', () => {
  beforeAll(async () => {
    bundle = await buildRunTool();
    const sd = await scratchDir('skiff-conf-');
    cleanup = sd.cleanup;
    scratch = sd.dir;
    root = join(scratch, 'root');
    await makeBusyboxImage(root, scratch);
  }, 120_000);
  afterAll(async () => {
    if (root) run(['rm', '-a', '-f'], {});
    await cleanup?.();
  });

  it('CONTAINERS_CONF env, default_capabilities and dns_servers reach the container; flags still win', () => {
    const conf = join(scratch, 'containers.conf');
    writeFileSync(conf, [
      '[containers]',
      'env = ["FROM_CONF=yes", "OVERRIDDEN=conf"]',
      'default_capabilities = ["CHOWN", "NET_RAW"]',
      'dns_servers = ["127.0.0.53"]',
      'unknown_key_podman_ignores = true',
      'shm_size = "8m"',
      '[engine]',
      'events_logger = "file"',
    ].join('\n'));
    const script = 'echo "env=$FROM_CONF/$OVERRIDDEN"; grep CapEff /proc/self/status; grep nameserver /etc/resolv.conf; grep " /dev/shm " /proc/mounts';
    const r = run(['run', '--rm', '--network', 'none', '-e', 'OVERRIDDEN=flag', 'busybox', 'sh', '-c', script], { CONTAINERS_CONF: conf });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('env=yes/flag');
    // CAP_CHOWN (bit 0) and CAP_NET_RAW (bit 13) only
    expect(r.stdout).toMatch(/CapEff:\s+0000000000002001/);
    expect(r.stdout).toContain('nameserver 127.0.0.53');
    expect(r.stdout).toMatch(/ \/dev\/shm tmpfs \S*size=8192k/);
    const f = run(['run', '--rm', '--network', 'none', '--dns', '127.0.0.54', '--cap-drop', 'net_raw', 'busybox', 'sh', '-c', script], { CONTAINERS_CONF: conf });
    expect(f.status).toBe(0);
    expect(f.stdout).toMatch(/CapEff:\s+0000000000000001/);
    expect(f.stdout).toContain('nameserver 127.0.0.54');
    expect(f.stdout).not.toContain('127.0.0.53');
  });

  it('a malformed CONTAINERS_CONF is one line naming file:line, exit 125, no container left', () => {
    const bad = join(scratch, 'bad.conf');
    writeFileSync(bad, '[containers]\nenv = ["A=1"\npids_limit = 5\n');
    const r = run(['run', '--rm', '--network', 'none', 'busybox', 'true'], { CONTAINERS_CONF: bad });
    expect(r.status).toBe(125);
    expect(r.stderr.trim().split('\n')[0]).toMatch(new RegExp(`${bad.replace(/[.]/g, '\\.')}:\\d+: `));
    expect(run(['ps', '-a', '-q'], {}).stdout.trim()).toBe('');
    // commands that need no configuration do not read it
    expect(run(['images', '-q'], { CONTAINERS_CONF: bad }).status).toBe(0);
  });
});
