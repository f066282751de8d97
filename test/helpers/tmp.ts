import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { requireProgram } from '../../shared/process/system-programs.ts';

/**
 * A fresh scratch directory on tmpfs (/dev/shm) when available; removed by the returned cleanup, which retries
 * for a few seconds while a container monitor's exit command may still be writing into a store inside it.
 */
export async function scratchDir(prefix = 'skiff-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const base = process.env.SKIFF_TEST_TMP ?? '/dev/shm';
  const dir = await mkdtemp(join(base, prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 250 }) };
}

/** True when the tests run as root (tests that need it skip otherwise). */
export const isRoot = process.getuid?.() === 0;

/** True when every one of `names` is a program the project can run (what shared/process's requireProgram finds). */
export function hasPrograms(...names: string[]): boolean {
  try {
    for (const n of names) requireProgram(n);
    return true;
  } catch {
    return false;
  }
}
