import { describe, expect, it } from 'vitest';
import { defaultStoreRoot, storePaths } from '../../../shared/store/paths.ts';

describe('store root location', () => {
  it('--root wins, then SKIFF_ROOT, then /var/lib/skiff for root, then XDG_DATA_HOME or ~/.local/share for users', () => {
    expect(defaultStoreRoot({ SKIFF_ROOT: '/x' }, 0, '/flag')).toBe('/flag');
    expect(defaultStoreRoot({ SKIFF_ROOT: '/x' }, 0)).toBe('/x');
    expect(defaultStoreRoot({}, 0)).toBe('/var/lib/skiff');
    expect(defaultStoreRoot({ HOME: '/home/u', XDG_DATA_HOME: '/data' }, 1000)).toBe('/data/skiff');
    expect(defaultStoreRoot({ HOME: '/home/u' }, 1000)).toBe('/home/u/.local/share/skiff');
    // a relative XDG_DATA_HOME is invalid per the XDG spec and ignored
    expect(defaultStoreRoot({ HOME: '/home/u', XDG_DATA_HOME: 'rel' }, 1000)).toBe('/home/u/.local/share/skiff');
  });

  it('lays the store out under fixed names only', () => {
    const p = storePaths('/r');
    expect(p.images).toBe('/r/images');
    expect(p.overlay).toBe('/r/overlay');
    expect(Object.values(p).every((x) => x.startsWith('/r'))).toBe(true);
  });
});
