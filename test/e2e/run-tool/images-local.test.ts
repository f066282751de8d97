// run-tool tag/untag/rmi/save/load against the local store, with podman differential checks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir, isRoot } from '../../helpers/tmp.ts';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { openStore } from '../../../shared/store/store.ts';
import { ensureUnpacked, chainIDs } from '../../../shared/layer/unpack-cache.ts';
import { parseImageConfig, parseManifest } from '../../../shared/oci/validate.ts';
import { fails125, hasPodman, ok, rt, rtRaw } from './images-helpers.ts';

describe.skipIf(!hasBusybox)('run-tool tag, untag, rmi, save, load', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let root: string;
  let id: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir());
    root = join(dir, 'root');
    id = (await makeBusyboxImage(root, dir, 'localhost/bb:latest')).id.replace(/^sha256:/, '');
  });
  afterAll(() => cleanup());

  const names = (): string[] => ok(rt(['--root', root, 'images', '--format', '{{.Repository}}:{{.Tag}}'])).trim().split('\n').filter(Boolean).sort();

  it('tag gives short names the localhost/ form; untag removes one name or all', () => {
    expect(ok(rt(['--root', root, 'tag', 'bb', 'bb2', 'foo/bar:1', 'example.com/x/y:2']))).toBe('');
    expect(names()).toEqual(['example.com/x/y:2', 'localhost/bb2:latest', 'localhost/bb:latest', 'localhost/foo/bar:1']);
    ok(rt(['--root', root, 'untag', 'bb', 'example.com/x/y:2']));
    expect(names()).toEqual(['localhost/bb2:latest', 'localhost/bb:latest', 'localhost/foo/bar:1']);
    fails125(rt(['--root', root, 'untag', 'bb', 'nosuch']), /nosuch: tag not known/);
    fails125(rt(['--root', root, 'tag', 'nosuch', 'x']), /nosuch: image not known/);
    fails125(rt(['--root', root, 'tag', 'bb', 'Bad Name']), /invalid/i);
  });

  it('rmi by a name that is not the last only untags; by ID with several names it refuses without -f', () => {
    expect(ok(rt(['--root', root, 'rmi', 'bb2']))).toBe('Untagged: localhost/bb2:latest\n');
    fails125(rt(['--root', root, 'rmi', id.slice(0, 12)]), new RegExp(`unable to delete image "${id}" by ID with more than one tag \\(\\[localhost/bb:latest localhost/foo/bar:1\\]\\): please force removal`));
    // podman's rmi: 1 when an image does not exist (its one line), 125 for the other failures
    const missing = rt(['--root', root, 'rmi', 'nosuch']);
    expect([missing.status, missing.stderr]).toEqual([1, 'Error: nosuch: image not known\n']);
    fails125(rt(['--root', root, 'rmi']), /image name or ID must be specified/);
    expect(rt(['--root', root, 'rmi', '-i', 'nosuch']).status).toBe(0);
  });

  it('rmi -f by ID untags every name, deletes the image and garbage-collects blobs and unpacked layers', async () => {
    // unpack the image's layers into the cache, as a container run would
    const store = await openStore(root);
    const desc = await store.layout.resolve('localhost/bb:latest');
    const m = parseManifest(await store.blobs.readBytes(desc), { mediaType: desc.mediaType }).manifest;
    const cfg = parseImageConfig(await store.blobs.readBytes(m.config));
    await ensureUnpacked(store.paths.overlay, m.layers.map((l, i) => ({ diffID: cfg.rootfs.diff_ids[i]!, open: () => store.blobs.open(l) })));
    const chain = chainIDs(cfg.rootfs.diff_ids).at(-1)!.slice(7);
    await store.close();
    expect(existsSync(join(root, 'overlay', chain, 'diff'))).toBe(true);
    const out = ok(rt(['--root', root, 'rmi', '-f', id.slice(0, 12)]));
    expect(out.split('\n').sort().join('\n')).toBe(['', `Deleted: ${id}`, 'Untagged: localhost/bb:latest', 'Untagged: localhost/foo/bar:1'].join('\n'));
    expect(names()).toEqual([]);
    expect(readdirSync(join(root, 'images', 'blobs', 'sha256'))).toEqual([]);
    expect(existsSync(join(root, 'overlay', chain))).toBe(false);
    expect(readdirSync(join(root, 'overlay', 'l'))).toEqual([]);
  });

  it('save (docker-archive to a file and stdout, oci-archive, oci-dir) and load round-trip the image ID and name', async () => {
    const again = (await makeBusyboxImage(root, dir, 'localhost/bb:latest')).id.replace(/^sha256:/, '');
    const tar = join(dir, 'bb-docker.tar');
    ok(rt(['--root', root, 'save', '-o', tar, 'bb']));
    const mj = JSON.parse(spawnSync('tar', ['-xOf', tar, 'manifest.json'], { encoding: 'utf8' }).stdout) as { RepoTags: string[] }[];
    expect(mj[0]!.RepoTags).toEqual(['localhost/bb:latest']);
    // the full name records the name too (not only a short name)
    const full = join(dir, 'bb-full.tar');
    ok(rt(['--root', root, 'save', '-o', full, 'localhost/bb:latest']));
    expect((JSON.parse(spawnSync('tar', ['-xOf', full, 'manifest.json'], { encoding: 'utf8' }).stdout) as { RepoTags: string[] }[])[0]!.RepoTags).toEqual(['localhost/bb:latest']);
    const stdout = rtRaw(['--root', root, 'save', 'bb']);
    expect(stdout.status).toBe(0);
    expect(stdout.stdout.length).toBe(readFileSync(tar).length);
    const oci = join(dir, 'bb-oci.tar');
    ok(rt(['--root', root, 'save', '--format', 'oci-archive', '-o', oci, 'bb']));
    const ocidir = join(dir, 'bb-oci-dir');
    ok(rt(['--root', root, 'save', '--format', 'oci-dir', '-o', ocidir, 'bb']));
    fails125(rt(['--root', root, 'save', '--format', 'nope', '-o', join(dir, 'x'), 'bb']), /unsupported format/);
    fails125(rt(['--root', root, 'save', '-o', join(dir, 'x'), 'nosuch']), /nosuch: image not known/);
    for (const [args, input] of [[['-i', tar], undefined], [['-i', oci], undefined], [['-i', ocidir], undefined], [[], readFileSync(tar)]] as [string[], Buffer | undefined][]) {
      const other = join(dir, `load-${Math.random().toString(36).slice(2)}`);
      const r = rt(['--root', other, 'load', ...args], input ? { input } : {});
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('Loaded image: localhost/bb:latest\n');
      expect(ok(rt(['--root', other, 'images', '-q', '--no-trunc'])).trim()).toBe(`sha256:${again}`);
    }
    fails125(rt(['--root', join(dir, 'l2'), 'load', '-i', join(dir, 'missing.tar')]), /no such file/);
    const garbage = join(dir, 'garbage.tar');
    spawnSync('sh', ['-c', `echo hello > ${dir}/hello && tar -cf ${garbage} -C ${dir} hello`]);
    fails125(rt(['--root', join(dir, 'l3'), 'load', '-i', garbage]), /supported image formats/);
  });

  describe.skipIf(!hasPodman || !isRoot)('differential with podman', () => {
    // podman's own private store (vfs: no mounts to undo), so the machine's default store is neither read nor written
    const pa = (): string[] => ['--root', join(dir, 'podman-root'), '--runroot', join(dir, 'podman-run'), '--tmpdir', join(dir, 'podman-tmp'), '--storage-driver', 'vfs'];
    afterAll(() => void spawnSync('podman', [...pa(), 'rmi', '-af'], { stdio: 'ignore' }));

    it('our save loads in podman with the same image ID and name; podman save loads in ours', () => {
      ok(rt(['--root', root, 'tag', 'bb', 'skiff-images-diff']));
      const tar = join(dir, 'for-podman.tar');
      ok(rt(['--root', root, 'save', '-o', tar, 'skiff-images-diff']));
      const want = ok(rt(['--root', root, 'images', '-q', '--no-trunc'])).trim();
      const pl = spawnSync('podman', [...pa(), 'load', '-i', tar], { encoding: 'utf8' });
      expect(pl.status, pl.stderr).toBe(0);
      expect(pl.stdout).toBe('Loaded image: localhost/skiff-images-diff:latest\n');
      const pid = spawnSync('podman', [...pa(), 'images', '-q', '--no-trunc', 'localhost/skiff-images-diff:latest'], { encoding: 'utf8' }).stdout.trim();
      expect(pid).toBe(want);
      for (const fmt of ['docker-archive', 'oci-archive']) {
        const back = join(dir, `from-podman-${fmt}.tar`);
        const ps = spawnSync('podman', [...pa(), 'save', '--format', fmt, '-o', back, 'localhost/skiff-images-diff:latest'], { encoding: 'utf8' });
        expect(ps.status, ps.stderr).toBe(0);
        const other = join(dir, `from-podman-${fmt}`);
        expect(ok(rt(['--root', other, 'load', '-i', back]))).toBe('Loaded image: localhost/skiff-images-diff:latest\n');
        // podman keeps the config for docker-archive; for oci-archive it writes a converted config: expect that one
        let expected = want;
        if (fmt === 'oci-archive') {
          const idx = JSON.parse(spawnSync('tar', ['-xOf', back, 'index.json'], { encoding: 'utf8' }).stdout) as { manifests: { digest: string }[] };
          const man = JSON.parse(spawnSync('tar', ['-xOf', back, `blobs/sha256/${idx.manifests[0]!.digest.slice(7)}`], { encoding: 'utf8' }).stdout) as { config: { digest: string } };
          expected = man.config.digest;
        }
        expect(ok(rt(['--root', other, 'images', '-q', '--no-trunc'])).trim()).toBe(expected);
      }
    });
  });
  it('rmi of an image a build-tool working container uses: exit 2 in podman\'s words; -f removes the working container too', async () => {
    const wroot = join(dir, 'working-root');
    const wid = (await makeBusyboxImage(wroot, dir, 'localhost/wbb:latest')).id.replace(/^sha256:/, '');
    const bt = (args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, '../../../bin/build-tool.mjs'), '--root', wroot, ...args], { encoding: 'utf8', input: '', timeout: 60_000 });
    const from = bt(['from', '--pull', 'never', 'localhost/wbb']);
    expect(from.stderr).toBe('');
    expect(from.stdout.trim()).toBe('wbb-working-container');
    const refused = rt(['--root', wroot, 'rmi', 'wbb']);
    expect(refused.status).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^Error: image used by [0-9a-f]{64}: image is in use by a container: consider listing external containers and force-removing image\n/);
    expect(ok(rt(['--root', wroot, 'images', '-q', '--no-trunc'])).trim()).toBe(`sha256:${wid}`);
    expect(bt(['containers', '-q']).stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(ok(rt(['--root', wroot, 'rmi', '-f', 'wbb']))).toBe(`Untagged: localhost/wbb:latest\nDeleted: ${wid}\n`);
    expect(bt(['containers', '-q']).stdout.trim()).toBe('');
    expect(ok(rt(['--root', wroot, 'images', '-q']))).toBe('');
  });
});
