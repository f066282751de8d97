import { describe, expect, it } from 'vitest';
import { parsePlatformList } from '../../../shared/image/platform.ts';

describe('parsePlatformList (--platform a,b)', () => {
  it('splits commas and repeated flags, normalises, keeps order, drops duplicates', () => {
    expect(parsePlatformList(['linux/amd64,linux/arm64'])).toEqual([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ]);
    expect(parsePlatformList(['linux/arm64', 'linux/arm/v7,linux/aarch64', 'linux/x86_64'])).toEqual([
      { os: 'linux', architecture: 'arm64' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
      { os: 'linux', architecture: 'amd64' },
    ]);
    expect(parsePlatformList([' linux/s390x '])).toEqual([{ os: 'linux', architecture: 's390x' }]);
  });

  it('refuses empty entries and bad platforms with one line', () => {
    expect(() => parsePlatformList(['linux/amd64,'])).toThrow(/invalid --platform "linux\/amd64,": empty entry/);
    expect(() => parsePlatformList(['linux/amd64,,linux/arm64'])).toThrow(/empty entry/);
    expect(() => parsePlatformList(['linux'])).toThrow(/invalid platform "linux": expected os\/arch\[\/variant\]/);
    expect(() => parsePlatformList([])).toThrow(/no platform given/);
  });
});
