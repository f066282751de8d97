import { describe, expect, it } from 'vitest';
import { digestOf } from '../../../shared/oci/digest.ts';
import { MediaType } from '../../../shared/oci/media-types.ts';
import type { Descriptor, Platform } from '../../../shared/oci/types.ts';
import { formatPlatform, hostPlatform, normalizePlatform, parsePlatform, platformMatches, selectManifest } from '../../../shared/image/platform.ts';

const entry = (p: Platform | undefined, tag: string): Descriptor => ({
  mediaType: MediaType.OciManifest,
  digest: digestOf(tag),
  size: 1,
  ...(p ? { platform: p } : {}),
  annotations: { tag },
});

describe('platform', () => {
  it('parses and normalises os/arch[/variant]', () => {
    expect(parsePlatform('linux/amd64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/aarch64')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatform('linux/arm64')).toEqual({ os: 'linux', architecture: 'arm64' });
    // as containerd, except that a variant written out is kept, as containers/common does (buildah, podman)
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux/aarch64/8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux/arm64/9.0')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v9' });
    expect(parsePlatform('linux/x86-64/v1')).toEqual({ os: 'linux', architecture: 'amd64', variant: 'v1' });
    expect(parsePlatform('linux/amd64/v3')).toEqual({ os: 'linux', architecture: 'amd64', variant: 'v3' });
    expect(parsePlatform('linux/i386')).toEqual({ os: 'linux', architecture: '386' });
    expect(parsePlatform('linux/armel')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v6' });
    expect(parsePlatform(' linux/ARM/7 ')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(parsePlatform('linux/arm')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(parsePlatform('linux/arm/6')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v6' });
    expect(parsePlatform('Linux/armhf')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(normalizePlatform({ os: 'linux', architecture: 'i686' }).architecture).toBe('386');
    expect(formatPlatform({ os: 'linux', architecture: 'aarch64', variant: 'v8' })).toBe('linux/arm64/v8');
    expect(formatPlatform({ os: 'linux', architecture: 'aarch64' })).toBe('linux/arm64');
    expect(formatPlatform({ os: 'linux', architecture: 'arm' })).toBe('linux/arm/v7');
    for (const bad of ['linux', 'linux/', 'a/b/c/d', 'linux/amd 64', '']) expect(() => parsePlatform(bad), bad).toThrow(expect.objectContaining({ code: 'EINVALID' }));
  });

  it('knows the host platform', () => {
    const h = hostPlatform();
    expect(h.os).toBe('linux');
    expect(h.architecture).toBe(process.arch === 'x64' ? 'amd64' : h.architecture);
  });

  it('matches with arch aliases and compatible variants', () => {
    expect(platformMatches(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'x86_64' })).toBe(true);
    expect(platformMatches(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64' })).toBe(true);
    expect(platformMatches(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' })).toBe(true);
    expect(platformMatches(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'aarch64' })).toBe(true);
    expect(platformMatches(parsePlatform('linux/amd64/v1'), { os: 'linux', architecture: 'x86_64' })).toBe(true);
    expect(platformMatches(parsePlatform('linux/arm64/v9'), { os: 'linux', architecture: 'arm64', variant: 'v8' })).toBe(false);
    expect(platformMatches(parsePlatform('linux/arm/v7'), { os: 'linux', architecture: 'arm', variant: 'v6' })).toBe(true);
    expect(platformMatches(parsePlatform('linux/arm/v6'), { os: 'linux', architecture: 'arm', variant: 'v7' })).toBe(false);
    expect(platformMatches(parsePlatform('linux/amd64'), { os: 'windows', architecture: 'amd64' })).toBe(false);
    expect(platformMatches(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'arm64' })).toBe(false);
  });

  it('selects the best manifest from an index', () => {
    const entries = [
      entry(undefined, 'noplat'),
      entry({ os: 'unknown', architecture: 'unknown' }, 'attestation'),
      entry({ os: 'linux', architecture: 'arm', variant: 'v6' }, 'armv6'),
      entry({ os: 'linux', architecture: 'arm', variant: 'v7' }, 'armv7'),
      entry({ os: 'linux', architecture: 'amd64' }, 'amd64'),
      entry({ os: 'linux', architecture: 'arm64', variant: 'v8' }, 'arm64'),
    ];
    const pick = (s: string) => selectManifest(entries, parsePlatform(s))?.annotations?.tag;
    expect(pick('linux/amd64')).toBe('amd64');
    expect(pick('linux/arm/v7')).toBe('armv7');
    expect(pick('linux/arm/v6')).toBe('armv6');
    expect(pick('linux/aarch64')).toBe('arm64');
    expect(pick('linux/s390x')).toBeUndefined();
    expect(selectManifest(entries.filter((e) => e.annotations?.tag !== 'armv7'), parsePlatform('linux/arm/v7'))?.annotations?.tag).toBe('armv6');
  });
});
