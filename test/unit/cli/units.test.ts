import { describe, expect, it } from 'vitest';
import { parseByteSize, parseDuration } from '../../../shared/cli/units.ts';
import { healthcheckConfig } from '../../../shared/build/dockerfile/config-edits.ts';
import { parseMount } from '../../../shared/build/dockerfile/run-flags.ts';

describe('one duration parser with an explicit unit', () => {
  it('parses Go durations into nanoseconds or milliseconds', () => {
    expect(parseDuration('1h2m3.5s', 'ns')).toBe(3723.5e9);
    expect(parseDuration('1h2m3.5s', 'ms')).toBe(3723.5e3);
    expect(parseDuration('100ms', 'ns')).toBe(100e6);
    expect(parseDuration('100ms', 'ms')).toBe(100);
    expect(parseDuration('250us', 'ns')).toBe(250e3);
    expect(parseDuration('0', 'ms')).toBe(0);
    expect(() => parseDuration('5', 'ns')).toThrow(expect.objectContaining({ code: 'EINVALID', message: 'time: invalid duration "5"' }));
    expect(parseDuration('5', 'ms', { bareSeconds: true })).toBe(5000);
    for (const bad of ['', '1x', 's', '1m30', '-']) expect(() => parseDuration(bad, 'ms'), bad).toThrow(/invalid duration/);
  });

  it('Dockerfile HEALTHCHECK counts nanoseconds', () => {
    expect(healthcheckConfig({ none: false, test: { form: 'shell', command: 'true' }, flags: { interval: '1m30s', timeout: '500ms' } })).toEqual({ Test: ['CMD-SHELL', 'true'], Interval: 90e9, Timeout: 500e6 });
  });
});

describe('one size parser', () => {
  it('parses sizes with binary units as podman and BuildKit write them', () => {
    expect(parseByteSize('1024')).toBe(1024);
    expect(parseByteSize('64k')).toBe(64 * 1024);
    expect(parseByteSize('64kb')).toBe(64 * 1024);
    expect(parseByteSize('512m')).toBe(512 * 1024 ** 2);
    expect(parseByteSize('1.5G')).toBe(1.5 * 1024 ** 3);
    for (const bad of ['', 'm', '1t', '-1', '1 x']) expect(() => parseByteSize(bad), bad).toThrow(expect.objectContaining({ code: 'EINVALID' }));
  });

  it('RUN --mount=type=tmpfs,size= uses it and keeps its own message', () => {
    expect(parseMount('type=tmpfs,target=/t,size=64m')).toMatchObject({ type: 'tmpfs', size: 64 * 1024 ** 2 });
    expect(() => parseMount('type=tmpfs,target=/t,size=lots')).toThrow(/invalid mount option: size=lots is not a size/);
  });
});
