import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The apparent size of the tree at `dir`: the byte sizes of its regular files and symlinks, each inode counted
 * once (hard links), never following a symlink or leaving the tree's file system. A missing tree is 0; an entry
 * that vanishes while walking is skipped.
 */
export async function treeSize(dir: string): Promise<number> {
  const top = await lstat(dir).catch(() => undefined);
  if (!top) return 0;
  const seen = new Set<string>();
  let total = 0;
  const walk = async (p: string): Promise<void> => {
    const names = await readdir(p).catch(() => [] as string[]);
    for (const n of names) {
      const q = join(p, n);
      const st = await lstat(q).catch(() => undefined);
      if (!st || st.dev !== top.dev) continue;
      if (st.isDirectory()) await walk(q);
      else if (st.isFile() || st.isSymbolicLink()) {
        const key = `${st.ino}`;
        if (st.nlink > 1 && seen.has(key)) continue;
        if (st.nlink > 1) seen.add(key);
        total += st.size;
      }
    }
  };
  if (top.isDirectory()) await walk(dir);
  else total = top.size;
  return total;
}
