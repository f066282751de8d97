import { describe, expect, it } from 'vitest';
import { DEFAULT_BUILD_NETWORK, parseBuildNetwork, runNetworkMode } from '../../../shared/build/executor/run-network.ts';

describe('RUN network modes', () => {
  it('build --network takes buildah\'s modes; private is the default', () => {
    expect(DEFAULT_BUILD_NETWORK).toBe('private');
    for (const m of ['private', 'host', 'none', 'mynet']) expect(parseBuildNetwork(m)).toBe(m);
    expect(parseBuildNetwork('bridge')).toBe('private');
    expect(() => parseBuildNetwork('ns:/proc/1/ns/net')).toThrow(/not supported/);
    expect(() => parseBuildNetwork('bad name')).toThrow(/invalid --network "bad name"/);
  });

  it('RUN --network=default follows the build\'s --network; none and host are the step\'s own', () => {
    expect(runNetworkMode('default', undefined)).toBe('private');
    expect(runNetworkMode('default', 'host')).toBe('host');
    expect(runNetworkMode('default', 'mynet')).toBe('mynet');
    expect(runNetworkMode('none', 'host')).toBe('none');
    expect(runNetworkMode('host', 'none')).toBe('host');
  });
});
