// A damaged store, met as users meet it: a layer blob flipped or lost, a manifest garbled, a killed writer's temp
// file, a half-unpacked layer, a container whose image is gone. `run` says which blob and what to do; `rmi -f`
// always removes a damaged image; `system check` reports each kind of damage and `--repair`/`--force` remove it.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

describe.skipIf(!hasBusybox)('rmi -f of a damaged image always works', () => {
  const kinds: Array<[string, () => void]> = [
    ['its layer blob is missing', () => rmSync(blobPath(layerDigest()))],
    ['its layer blob is a directory', () => {
      const p = blobPath(layerDigest());
      rmSync(p);
      mkdirSync(p);
    }],
    ['its manifest is garbled', () => {
      chmodSync(blobPath(made.digest), 0o644);
      writeFileSync(blobPath(made.digest), 'garbage');
    }],
    ['its config is missing', () => rmSync(blobPath(manifest().config.digest))],
  ];
  for (const [what, damage] of kinds) {
    it(`when ${what}`, () => {
      damage();
      const res = r(['rmi', '-f', 'busybox']);
      expect(res.status, res.stderr).toBe(0);
      expect(res.stdout).toContain('Untagged: localhost/busybox:latest');
      expect(JSON.parse(readFileSync(join(root, 'images', 'index.json'), 'utf8')).manifests).toEqual([]);
    });
  }
});

describe.skipIf(!hasBusybox)('system check', () => {
  it('a sound store: exit 0, nothing printed; a killed writer\'s temp file is reported, a live one is not', () => {
    const ok = r(['system', 'check']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('');
    const dead = join(root, 'images', '.index.json.4194300.0123456789ab.tmp');
    const live = join(root, 'images', `.index.json.${process.pid}.0123456789ab.tmp`);
    writeFileSync(dead, '{}');
    writeFileSync(live, '{}');
    const found = r(['system', 'check']);
    expect(found.status).toBe(125);
    expect(found.stdout).toContain(`Stale temporary file: ${dead}`);
    expect(found.stdout).not.toContain(live);
    expect(found.stderr.trim()).toMatch(/^Error: damage detected in local storage/);
    expect(existsSync(dead)).toBe(true);
    const fixed = r(['system', 'check', '--repair']);
    expect(fixed.status, fixed.stderr).toBe(0);
    expect(fixed.stdout).toContain(`Deleted stale temporary file: ${dead}`);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    rmSync(live);
  });

  it('prune removes temp files whose writer is gone', () => {
    const dead = join(root, 'images', '.index.json.4194301.0123456789ab.tmp');
    writeFileSync(dead, '{}');
    expect(r(['system', 'prune', '-f']).status).toBe(0);
    expect(existsSync(dead)).toBe(false);
  });

  it('a layer blob with flipped bytes: found by hashing (not by --quick), removed by --repair with its blob; pull-ready after', () => {
    const layer = layerDigest();
    flip(layer, 5000);
    expect(r(['system', 'check', '--quick']).status).toBe(0); // same size: only hashing finds it
    const found = r(['system', 'check']);
    expect(found.status).toBe(125);
    expect(found.stdout).toContain(`Damaged image ${made.id.slice(7)}:`);
    expect(found.stdout).toContain(`layer blob ${layer} does not match its digest`);
    const fixed = r(['system', 'check', '--repair']);
    expect(fixed.status, fixed.stderr).toBe(0);
    expect(fixed.stdout).toContain(`Deleted damaged image: ${made.id.slice(7)}`);
    expect(existsSync(blobPath(layer))).toBe(false); // a new pull must fetch it again, not reuse it
    expect(r(['system', 'check']).status).toBe(0);
  });

  it('a missing layer blob is found by --quick too', () => {
    rmSync(blobPath(layerDigest()));
    const found = r(['system', 'check', '--quick']);
    expect(found.status).toBe(125);
    expect(found.stdout).toContain(`layer blob ${layerDigest()} is missing`);
    expect(r(['system', 'check', '-q', '-r']).status).toBe(0);
    expect(r(['images', '-q']).stdout).toBe('');
  });
});

describe.skipIf(!hasBusybox || !isRoot || !hasRunc)('system check with unpacked layers and containers', () => {
  it('an unpacked layer whose commit never finished, and a dead unpack\'s temp dir, are reported and removed', () => {
    expect(r(['run', '--rm', '--network', 'none', 'busybox', 'true']).status).toBe(0);
    const cache = join(root, 'overlay');
    const entry = readdirSync(cache).find((n) => /^[a-f0-9]{64}$/.test(n))!;
    rmSync(join(cache, entry, 'link'));
    mkdirSync(join(cache, `.tmp-${entry}-deadbeef0000`));
    const found = r(['system', 'check']);
    expect(found.status).toBe(125);
    expect(found.stdout).toContain(`Damaged layer ${join(cache, entry)}:`);
    expect(found.stdout).toContain(`Damaged layer ${join(cache, `.tmp-${entry}-deadbeef0000`)}:`);
    const fixed = r(['system', 'check', '--repair']);
    expect(fixed.status, fixed.stderr + fixed.stdout).toBe(0);
    expect(fixed.stdout).toContain(`Deleted damaged layer: ${join(cache, entry)}`);
    expect(readdirSync(cache).filter((n) => n.includes(entry))).toEqual([]);
    // unpacked afresh on the next run
    expect(r(['run', '--rm', '--network', 'none', 'busybox', 'true']).status).toBe(0);
    expect(r(['system', 'check']).status).toBe(0);
  });

  it('a container whose root filesystem layer is gone: reported, removed only with --force', () => {
    const id = r(['create', '--network', 'none', 'busybox', 'true']).stdout.trim();
    expect(id).toMatch(/^[a-f0-9]{64}$/);
    const cache = join(root, 'overlay');
    for (const n of readdirSync(cache).filter((x) => /^[a-f0-9]{64}$/.test(x))) rmSync(join(cache, n), { recursive: true });
    const found = r(['system', 'check', '--quick']);
    expect(found.status).toBe(125);
    expect(found.stdout).toContain(`Damaged container ${id}:`);
    expect(found.stdout).toMatch(/root filesystem layer sha256:[a-f0-9]{64} is gone/);
    expect(r(['system', 'check', '--repair']).status).toBe(125);
    const forced = r(['system', 'check', '--repair', '--force']);
    expect(forced.status, forced.stderr).toBe(0);
    expect(forced.stdout).toContain(`Deleted damaged container: ${id}`);
    expect(r(['images', '-q']).stdout.trim()).not.toBe(''); // the image itself was sound and stays
  });

  it('a damaged image a container uses: --repair keeps both (exit 125), --force removes both', () => {
    const id = r(['create', '--network', 'none', 'busybox', 'true']).stdout.trim();
    expect(id).toMatch(/^[a-f0-9]{64}$/);
    rmSync(blobPath(made.digest)); // the manifest: image and container both lose it
    const found = r(['system', 'check']);
    expect(found.status).toBe(125);
    expect(found.stdout).toContain(`Damaged container ${id}:`);
    expect(found.stdout).toMatch(/is gone/);
    const kept = r(['system', 'check', '--repair']);
    expect(kept.status).toBe(125);
    expect(kept.stderr.trim()).toMatch(/^Error: damage in local storage still present after repair attempt/);
    expect(r(['ps', '-a', '-q', '--no-trunc']).stdout.trim()).toBe(id);
    const forced = r(['system', 'check', '--repair', '--force']);
    expect(forced.status, forced.stderr).toBe(0);
    expect(forced.stdout).toContain(`Deleted damaged container: ${id}`);
    expect(forced.stdout).toContain('Deleted damaged image:');
    expect(r(['ps', '-a', '-q']).stdout.trim()).toBe('');
    expect(r(['system', 'check']).status).toBe(0);
  });
});
