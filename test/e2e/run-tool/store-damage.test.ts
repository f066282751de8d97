// A damaged store, met as users meet it: a layer blob flipped or lost, a manifest garbled, a killed writer's temp
// file, a half-unpacked layer, a container whose image is gone. `run` says which blob and what to do; `rmi -f`
// always removes a damaged image; `system check` reports each kind of damage and `--repair`/`--force` remove it.
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { rt } from './images-helpers.ts';

const hasRunc = existsSync('/usr/sbin/runc') || existsSync('/usr/bin/runc');

let dir: string;
let cleanup: () => Promise<void>;
let root: string;
let made: { digest: string; id: string };
let n = 0;

beforeAll(async () => {
  ({ dir, cleanup } = await scratchDir('skiff-damage-'));
});
afterAll(() => cleanup());
beforeEach(async () => {
  root = join(dir, `store-${++n}`);
  made = await makeBusyboxImage(root, dir);
});

const blobPath = (d: string) => join(root, 'images', 'blobs', 'sha256', d.replace(/^sha256:/, ''));
function manifest(): { config: { digest: string }; layers: { digest: string }[] } {
  return JSON.parse(readFileSync(blobPath(made.digest), 'utf8'));
}
function layerDigest(): string {
  return manifest().layers[0]!.digest;
}
/** Overwrites `len` bytes at `at` in a stored blob (blobs are read-only files). */
function flip(d: string, at: number, len = 16): void {
  const p = blobPath(d);
  chmodSync(p, 0o644);
  const b = readFileSync(p);
  for (let i = at; i < Math.min(at + len, b.length); i++) b[i] = b[i]! ^ 0xa5;
  writeFileSync(p, b);
  chmodSync(p, 0o444);
}
const r = (args: string[]) => rt(['--root', root, ...args]);

describe.skipIf(!hasBusybox || !isRoot || !hasRunc)('a corrupt layer blob met by run', () => {
  for (const [where, at] of [['in the gzip header', 12], ['mid-stream', 400_000]] as const) {
    it(`names the blob, says its content does not match its digest and what to do (${where}); nothing is left marked unpacked`, () => {
      const layer = layerDigest();
      flip(layer, at);
      const res = r(['run', '--rm', '--network', 'none', 'busybox', 'true']);
      expect(res.status, res.stderr).toBe(125);
      const lines = res.stderr.trimEnd().split('\n');
      expect(lines, res.stderr).toHaveLength(1);
      expect(lines[0]).toContain(`layer blob ${layer} is corrupt: its content does not match its digest`);
      expect(lines[0]).toContain('system check --repair');
      expect(lines[0]).not.toMatch(/tar archive|gzip data|Invalid tar header/);
      const cache = join(root, 'overlay');
      const entries = existsSync(cache) ? readdirSync(cache).filter((e) => /^[a-f0-9]{64}$/.test(e) || e.startsWith('.tmp-')) : [];
      expect(entries).toEqual([]);
    });
  }
});
