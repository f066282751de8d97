import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';

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
