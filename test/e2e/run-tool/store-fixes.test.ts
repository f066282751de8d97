// Smaller store defects: a --root that is a file, `rm -f -t N`, a failed copy's leftovers.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { rt } from './images-helpers.ts';
import { makeImage, putImage } from '../../unit/transport/fixtures.ts';

const repo = resolve(import.meta.dirname, '../../..');
const tool = (name: string, args: string[]) => spawnSync(process.execPath, [join(repo, 'bin', `${name}.mjs`), ...args], { encoding: 'utf8', timeout: 60_000 });
const hasRunc = existsSync('/usr/sbin/runc') || existsSync('/usr/bin/runc');

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await scratchDir('skiff-storefix-'));
});
afterAll(() => cleanup());

describe('--root pointing at a regular file', () => {
  it('every tool and command fails with one line naming it, non-zero, and writes nothing', () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const ctx = join(dir, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Containerfile'), 'FROM scratch\nLABEL a=b\n');
    const runs: Array<[string, string[]]> = [
      ['run-tool', ['--root', file, 'images']],
      ['run-tool', ['--root', file, 'ps', '-a']],
      ['run-tool', ['--root', file, 'run', 'busybox', 'true']],
      ['run-tool', ['images', '--root', file]],
      ['run-tool', ['--root', file, 'system', 'prune', '-f']],
      ['build-tool', ['--root', file, 'images']],
      ['build-tool', ['--root', file, 'build', ctx]],
      ['copy-tool', ['--root', file, 'copy', `oci:${dir}/none:x`, 'store:x']],
    ];
    for (const [name, args] of runs) {
      const r = tool(name, args);
      expect(r.status, `${name} ${args.join(' ')}: ${r.stderr}`).not.toBe(0);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, `${name} ${args.join(' ')}`).toHaveLength(1);
      expect(lines[0], `${name} ${args.join(' ')}`).toContain(`--root ${file} is not a directory`);
      expect(r.stdout).toBe('');
    }
  });
});

describe.skipIf(!hasBusybox || !isRoot || !hasRunc)('rm -t/--time, as podman', () => {
  it('rm -f -t 0 and --time 1 remove running containers; -t without -f is refused as podman does', async () => {
    const root = join(dir, 'rm-store');
    await makeBusyboxImage(root, dir);
    const r = (args: string[]) => rt(['--root', root, ...args]);
    for (const t of [['-t', '0'], ['--time', '1'], ['--time=0']]) {
      const id = r(['run', '-d', '--network', 'none', 'busybox', 'sleep', '60']).stdout.trim();
      expect(id).toMatch(/^[a-f0-9]{64}$/);
      const res = r(['rm', '-f', ...t, id]);
      expect(res.status, res.stderr).toBe(0);
      expect(res.stdout.trim()).toBe(id);
    }
    const id = r(['create', '--network', 'none', 'busybox', 'true']).stdout.trim();
    const bad = r(['rm', '-t', '0', id]);
    expect(bad.status).toBe(125);
    expect(bad.stderr.trim()).toBe('Error: --force option must be specified to use the --time option');
    expect(r(['rm', '-f', '-t', 'x', id]).status).toBe(125);
    expect(r(['rm', id]).status).toBe(0);
    expect(readdirSync(join(root, 'containers')).filter((n) => /^[a-f0-9]{64}$/.test(n))).toEqual([]);
  });
});

describe('copy-tool with a truncated source layer', () => {
  it('fails with one line and leaves no layout or archive where it created one', async () => {
    const src = join(dir, 'trunc-src');
    const { desc } = await putImage(src, await makeImage('trunc', { layers: 2 }), 'v1');
    const m = JSON.parse(readFileSync(join(src, 'blobs', 'sha256', desc.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
    const p = join(src, 'blobs', 'sha256', m.layers[1]!.digest.slice(7));
    chmodSync(p, 0o644);
    writeFileSync(p, readFileSync(p).subarray(0, 50));
    for (const to of [`oci:${join(dir, 'trunc-out')}:x`, `oci-archive:${join(dir, 'trunc-out.tar')}:x`]) {
      const r = tool('copy-tool', ['copy', '-q', `oci:${src}:v1`, to]);
      expect(r.status, to).toBe(1);
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
    }
    expect(readdirSync(dir).filter((n) => n.startsWith('trunc-out'))).toEqual([]);
  });
});
