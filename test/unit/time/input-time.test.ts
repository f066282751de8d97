import { describe, expect, it } from 'vitest';
import { parseInputTime } from '../../../shared/time/input-time.ts';
import { parseDuration } from '../../../shared/time/duration.ts';

const NOW = Date.UTC(2026, 11, 7, 6, 0, 0);

describe('parseInputTime (podman\'s --since/--until/until= forms)', () => {
  it('Unix seconds, with an optional fraction — `10` is 10 s after the epoch, not a date in 2001', () => {
    expect(parseInputTime('10', '--since')).toBe(10_000);
    expect(parseInputTime('0', '--since')).toBe(0);
    expect(parseInputTime('1700000000.5', '--since')).toBe(1_700_000_000_500);
    expect(parseInputTime('1700000000.123456789', '--since')).toBe(1_700_000_000_123);
  });

  it('RFC 3339 with and without fraction and offset; no zone is UTC (Go\'s time.Parse), not local time', () => {
    expect(parseInputTime('2026-12-07T03:27:09Z', '--since')).toBe(Date.UTC(2026, 11, 7, 3, 27, 9));
    expect(parseInputTime('2026-12-07T03:27:09.250Z', '--since')).toBe(Date.UTC(2026, 11, 7, 3, 27, 9, 250));
    expect(parseInputTime('2026-12-07T03:27:09.123456789+02:00', '--since')).toBe(Date.UTC(2026, 11, 7, 1, 27, 9, 123));
    expect(parseInputTime('2026-12-07T03:27:09-01:30', '--since')).toBe(Date.UTC(2026, 11, 7, 4, 57, 9));
    expect(parseInputTime('2026-12-07T03:27:09', '--since')).toBe(Date.UTC(2026, 11, 7, 3, 27, 9));
    expect(parseInputTime('2026-12-07', '--since')).toBe(Date.UTC(2026, 11, 7));
    expect(parseInputTime('2026-12-07Z', '--since')).toBe(Date.UTC(2026, 11, 7));
    expect(parseInputTime('2026-12-07+01:00', '--since')).toBe(Date.UTC(2026, 11, 6, 23));
  });

  it('Go durations count back from now (since, until= filters) or forward (--until)', () => {
    expect(parseInputTime('10m', '--since', { now: NOW })).toBe(NOW - 600_000);
    expect(parseInputTime('1h30m', 'until filter', { now: NOW })).toBe(NOW - 5_400_000);
    expect(parseInputTime('1.5s', '--since', { now: NOW })).toBe(NOW - 1500);
    expect(parseInputTime('250ms', '--until', { now: NOW, direction: 'future' })).toBe(NOW + 250);
  });

  it('anything else is one EINVALID line naming the flag; the API forms take no durations', () => {
    for (const bad of ['bogus', '10 m', '-5', '10mfoo', '2026-13-01', '2026-02-30', '2026-12-07T24:00:00Z', '2026-12-07T03:27Z', '']) {
      expect(() => parseInputTime(bad, '--since'), bad).toThrow(`invalid --since ${JSON.stringify(bad)}`);
    }
    expect(() => parseInputTime('10m', 'since', { durations: false })).toThrow('invalid since "10m"');
    expect(parseInputTime('10', 'since', { durations: false })).toBe(10_000);
  });

  it('parseDuration keeps Go\'s rules', () => {
    expect(parseDuration('1h2m3.5s', 'ms')).toBe(3_723_500);
    expect(parseDuration('250us', 'ns')).toBe(250_000);
    expect(parseDuration('3', 'ms', { bareSeconds: true })).toBe(3000);
    expect(() => parseDuration('3', 'ms')).toThrow('time: invalid duration "3"');
  });
});
