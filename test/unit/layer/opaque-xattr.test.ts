import { describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { getXattrs } from '../../../shared/layer/xattr.ts';
import { applyEntries } from './helpers.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';

// Rootless overlay mounts use `userxattr`, where trusted.* cannot be set: the unpacker then marks opaque
// directories with user.overlay.opaque instead.
describe.skipIf(!isRoot)('opaque directory marker in overlay mode', () => {
  it.each(['trusted.overlay.opaque', 'user.overlay.opaque'] as const)('marks an opaque directory with %s', async (name) => {
    const { dir, cleanup } = await scratchDir();
    try {
      const R = join(dir, 'layer');
      await mkdir(R, { mode: 0o700 });
      await applyEntries(R, [{ name: 'a/', type: 'directory' }, { name: 'a/.wh..wh..opq', type: 'file' }], { mode: 'overlay', opaqueXattr: name });
      const x = await getXattrs(join(R, 'a'));
      expect(x.get(name)?.toString()).toBe('y');
      const other = name === 'user.overlay.opaque' ? 'trusted.overlay.opaque' : 'user.overlay.opaque';
      expect(x.has(other)).toBe(false);
    } finally {
      await cleanup();
    }
  });
});
