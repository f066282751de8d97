import { describe, expect, it } from 'vitest';
import { splitCreateCommand } from '../../../run-tool/systemd/create-command.ts';
import { formatExec, quoteExecArg, stopExitLines } from '../../../run-tool/systemd/unit-text.ts';
import { parseCgroupsMode } from '../../../run-tool/commands/create-flags.ts';
import { socketActivationOf } from '../../../run-tool/systemd/socket-activation.ts';
import { notifyArgs } from '../../../run-tool/systemd/notify.ts';
import { unixDate } from '../../../run-tool/commands/generate.ts';

const valued = new Set(['--name', '-e', '--env', '--network', '-p', '--root', '--cidfile', '--pod', '-v', '--restart']);
const takes = (f: string) => valued.has(f);
const drop = new Set(['--cidfile', '--rm', '-d', '--detach', '--root', '--pod', '--restart']);

describe('systemd unit text', () => {
  it('quotes Exec arguments as systemd reads them: %% and $$, double quotes around spaces and quotes', () => {
    expect(quoteExecArg('plain')).toBe('plain');
    expect(quoteExecArg('50%')).toBe('50%%');
    expect(quoteExecArg('$HOME')).toBe('$$HOME');
    expect(quoteExecArg('a b')).toBe('"a b"');
    expect(quoteExecArg('say "hi"')).toBe('"say \\"hi\\""');
    expect(quoteExecArg('a\\b')).toBe('"a\\\\b"');
    expect(quoteExecArg('')).toBe('""');
    expect(quoteExecArg('x;y')).toBe('"x;y"');
  });

  it('breaks an Exec line before each flag, as podman does', () => {
    expect(formatExec(['/n', '/s.mjs'], ['--root', '/r', 'stop', '--ignore', '-t', '10', { raw: '--cidfile=%t/%n.ctr-id' }]))
      .toBe('/n /s.mjs \\\n\t--root /r stop \\\n\t--ignore \\\n\t-t 10 \\\n\t--cidfile=%t/%n.ctr-id');
  });
});

describe('splitCreateCommand', () => {
  it('drops the flags a unit sets, keeps the rest in order, and leaves the image and command alone', () => {
    const r = splitCreateCommand(['run-tool', '--root', '/old', 'run', '-d', '--rm', '--name', 'web', '--cidfile=/x', '-e', 'A=1', '-p', '127.0.0.1:8080:80', 'busybox', 'sh', '-c', '-d --rm'], ['run'], takes, drop);
    expect(r).toEqual({ flags: ['--name', 'web', '-e', 'A=1', '-p', '127.0.0.1:8080:80'], positionals: ['busybox', 'sh', '-c', '-d --rm'] });
  });

  it('splits short groups: -dit loses only d; -eK=V keeps its attached value', () => {
    expect(splitCreateCommand(['run-tool', 'run', '-dit', '-eK=V', 'img'], ['run'], takes, drop)).toEqual({ flags: ['-it', '-e', 'K=V'], positionals: ['img'] });
    expect(splitCreateCommand(['run-tool', 'run', '-de', 'K=V', 'img'], ['run'], takes, drop)).toEqual({ flags: ['-e', 'K=V'], positionals: ['img'] });
  });

  it('reads create as run, --flag=value forms, -- and a pod create command line', () => {
    expect(splitCreateCommand(['run-tool', 'create', '--restart=always', '--pod', 'p1', '--name=a', '--', 'img', '--x'], ['run'], takes, drop))
      .toEqual({ flags: ['--name=a'], positionals: ['img', '--x'] });
    expect(splitCreateCommand(['run-tool', '--root', '/r', 'pod', 'create', '--name', 'p', '--replace', '-p', '1:2'], ['pod', 'create'], takes, new Set(['--replace'])))
      .toEqual({ flags: ['--name', 'p', '-p', '1:2'], positionals: [] });
  });
});

describe('socket activation and sd_notify', () => {
  it('takes LISTEN_FDS only when LISTEN_PID names this process; the container sees LISTEN_PID=1', () => {
    expect(socketActivationOf({ LISTEN_FDS: '2', LISTEN_PID: '42', LISTEN_FDNAMES: 'a:b' }, 42)).toEqual({ fds: 2, env: ['LISTEN_FDS=2', 'LISTEN_PID=1', 'LISTEN_FDNAMES=a:b'] });
    expect(socketActivationOf({ LISTEN_FDS: '2', LISTEN_PID: '41' }, 42)).toBeUndefined();
    expect(socketActivationOf({ LISTEN_FDS: '0', LISTEN_PID: '42' }, 42)).toBeUndefined();
    expect(socketActivationOf({}, 42)).toBeUndefined();
  });

  it('conmon mode sends MAINPID and READY=1, container mode MAINPID only, ignore nothing', () => {
    expect(notifyArgs('conmon', 7)).toEqual(['--pid=7', '--no-block', 'READY=1']);
    expect(notifyArgs('container', 7)).toEqual(['--pid=7', '--no-block']);
    expect(notifyArgs('ignore', 7)).toBeUndefined();
    expect(notifyArgs('conmon', 0)).toBeUndefined();
  });
});

describe('unit header timestamp', () => {
  it("is Go's time.UnixDate in UTC, as podman's header", () => {
    expect(unixDate(new Date('2026-12-07T01:34:21Z'))).toBe('Mon Dec  7 01:34:21 UTC 2026');
    expect(unixDate(new Date('2026-01-17T23:04:05Z'))).toBe('Sat Jan 17 23:04:05 UTC 2026');
  });
});

describe('stop exits and --cgroups', () => {
  it('a container unit counts the monitor\'s 137 as success; on-failure still restarts on it', () => {
    expect(stopExitLines('on-failure')).toEqual(['SuccessExitStatus=137', 'RestartForceExitStatus=137']);
    expect(stopExitLines('always')).toEqual(['SuccessExitStatus=137']);
    expect(stopExitLines('no')).toEqual(['SuccessExitStatus=137']);
  });

  it('--cgroups=disabled is accepted rootless and refused as root, as podman refuses it with runc', () => {
    expect(parseCgroupsMode('disabled', true)).toBe('disabled');
    expect(() => parseCgroupsMode('disabled', false)).toThrow(/requested OCI runtime runc is not compatible with NoCgroups/);
    expect(parseCgroupsMode(undefined, false)).toBe('enabled');
    expect(() => parseCgroupsMode('maybe', true)).toThrow(/invalid --cgroups "maybe"/);
  });
});
