import { describe, expect, it } from 'vitest';
import { warningLine } from '../../../shared/cli/warning-line.ts';
import { removalExitStatus } from '../../../run-tool/commands/cli-util.ts';
import { goLogTime } from '../../../run-tool/commands/logs.ts';
import { SkiffError } from '../../../shared/errors.ts';

describe('podman-shaped CLI lines and statuses', () => {
  it('a warning as logrus prints it: WARN[NNNN] on a terminal, time=… level=warning msg="…" otherwise', () => {
    const m = 'StopSignal SIGTERM failed to stop container r1 in 1 seconds, resorting to SIGKILL';
    expect(warningLine(m, { tty: true, uptimeSeconds: 3.7 })).toBe(`WARN[0003] ${m}`);
    expect(warningLine(m, { tty: false, now: new Date('2026-12-07T03:27:35.123Z') })).toBe(`time="2026-12-07T03:27:35Z" level=warning msg="${m}"`);
    expect(warningLine('a\nb "q"', { tty: false, now: new Date(0) })).toBe('time="1970-01-01T00:00:00Z" level=warning msg="a b \\"q\\""');
  });

  it('logs -t times are Go RFC3339Nano: Z for UTC, no trailing zeros', () => {
    expect(goLogTime('2026-12-07T03:27:11.070318590+00:00')).toBe('2026-12-07T03:27:11.07031859Z');
    expect(goLogTime('2026-12-07T03:27:11.000000000+00:00')).toBe('2026-12-07T03:27:11Z');
    expect(goLogTime('2026-12-07T03:27:11.5+02:00')).toBe('2026-12-07T03:27:11.5+02:00');
    expect(goLogTime('garbage')).toBe('garbage');
  });

  it('rm/rmi exit statuses: 1 only missing names, 2 something in use, 125 anything else', () => {
    const missing = new SkiffError('ENOTFOUND', 'no such container');
    const running = new SkiffError('EIO', 'cannot remove container x as it is running', { exitStatus: 2 });
    const inUse = new SkiffError('ELOCKED', 'image is in use by a container');
    expect(removalExitStatus([])).toBe(0);
    expect(removalExitStatus([missing])).toBe(1);
    expect(removalExitStatus([missing, running])).toBe(2);
    expect(removalExitStatus([inUse])).toBe(2);
    expect(removalExitStatus([missing, new SkiffError('EIO', 'disk')])).toBe(125);
    expect(removalExitStatus([new Error('x')])).toBe(125);
  });
});
