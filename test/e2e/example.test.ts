import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { isRoot, scratchDir } from '../helpers/tmp.ts';
import { hasBusybox } from '../helpers/busybox.ts';

const repo = resolve(import.meta.dirname, '../..');

// The README's first command runs this script: it must build the embedded example and run it.
describe.skipIf(!hasBusybox || !isRoot)('the README example', () => {
  it('imports a base image, builds examples/Containerfile, runs it and inspects a copy', async () => {
    const { dir, cleanup } = await scratchDir();
    try {
      const r = spawnSync('bash', ['scripts/example.sh'], { cwd: repo, encoding: 'utf8', env: { ...process.env, SKIFF_EXAMPLE_ROOT: dir }, timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('hello from skiff, world (');
      expect(r.stdout).toMatch(/^localhost\/hello\s+latest\s+[0-9a-f]{12}/m);
      expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64} linux\/\w+ 3 layers$/m);
    } finally {
      await cleanup();
    }
  });
});
