import { describe, expect, it } from 'vitest';
import { normalizePorts, validateStopSignal } from '../../../shared/build/dockerfile/config-edits.ts';
import { parseChmod, parseCopyOptions } from '../../../shared/build/dockerfile/copy-flags.ts';

describe('instruction helpers', () => {
  it('--chmod octal and symbolic', () => {
    expect(parseChmod('755')(0o644, false)).toBe(0o755);
    expect(parseChmod('u+x,g-w')(0o664, false)).toBe(0o744);
    expect(parseChmod('a+X')(0o644, false)).toBe(0o644);
    expect(parseChmod('a+X')(0o644, true)).toBe(0o755);
    expect(parseChmod('go=r')(0o777, false)).toBe(0o744);
    expect(parseChmod('+t')(0o755, true)).toBe(0o1755);
    expect(parseChmod('u+s')(0o755, false)).toBe(0o4755);
    expect(() => parseChmod('z+x')).toThrow(/invalid --chmod/);
  });
  it('STOPSIGNAL validation', () => {
    for (const s of ['SIGTERM', 'term', '9', 'SIGRTMIN+3']) expect(validateStopSignal(s)).toBe(s);
    for (const s of ['SIGNOPE', '0', '65']) expect(() => validateStopSignal(s)).toThrow(/invalid signal/);
  });
  it('EXPOSE normalisation', () => {
    expect(normalizePorts(['80', '53/UDP', '1-2/sctp'])).toEqual(['80/tcp', '53/udp', '1/sctp', '2/sctp']);
    expect(() => normalizePorts(['80/icmp'])).toThrow(/invalid proto/);
    expect(() => normalizePorts(['x'])).toThrow(/invalid containerPort/);
  });
  it('COPY/ADD flags', () => {
    const o = parseCopyOptions('ADD', [{ name: 'checksum', value: 'sha256:' + 'a'.repeat(64) }, { name: 'link', value: undefined }, { name: 'exclude', value: '*.md' }]);
    expect(o).toMatchObject({ link: true, exclude: ['*.md'], checksum: 'sha256:' + 'a'.repeat(64) });
    expect(() => parseCopyOptions('COPY', [{ name: 'checksum', value: 'sha256:x' }])).toThrow(/only supported by ADD/);
    expect(() => parseCopyOptions('ADD', [{ name: 'checksum', value: 'md5:x' }])).toThrow(/invalid --checksum/);
  });
});
