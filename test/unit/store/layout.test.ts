import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isSkiffError, type SkiffError } from '../../../shared/errors.ts';
import { digestOf } from '../../../shared/oci/digest.ts';
import { Annotation, MediaType } from '../../../shared/oci/media-types.ts';
import type { Descriptor } from '../../../shared/oci/types.ts';
import { commitImage } from '../../../shared/store/commit.ts';
import { openLayout, type Layout } from '../../../shared/store/layout.ts';
import { parseRefName } from '../../../shared/oci/ref-name.ts';
import { openStore, type Store } from '../../../shared/store/store.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { writeImage } from './fixtures/image.ts';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (!isSkiffError(e)) throw e;
    return e.code;
  }
  return 'resolved';
}
async function err(p: Promise<unknown>): Promise<SkiffError> {
  try {
    await p;
  } catch (e) {
    if (isSkiffError(e)) return e;
    throw e;
  }
  throw new Error('resolved');
}
const ref = (d: Descriptor): string | undefined => d.annotations?.[Annotation.RefName];

describe('layout', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let store: Store;
  let layout: Layout;
  beforeEach(async () => {
    ({ dir, cleanup } = await scratchDir());
    store = await openStore(join(dir, 's'), { create: true });
    layout = store.layout;
  });
  afterEach(async () => {
    await store.close();
    await cleanup();
  });

  it('tag, resolve, retag (previous image kept dangling), untag, remove', async () => {
    const a = await writeImage(store.blobs, 'a');
    const b = await writeImage(store.blobs, 'b');
    const name = 'docker.io/library/busybox:latest';
    expect(await store.commitImage(a.manifest, { name })).toBeUndefined();
    expect((await layout.resolve(name)).digest).toBe(a.manifest.digest);
    expect(await code(layout.resolve('docker.io/library/busybox:other'))).toBe('ENOTFOUND');
    // idempotent
    await layout.tag(name, a.manifest);
    expect(await layout.entries()).toHaveLength(1);
    // retag: last commit wins, previous stays without a name, marked dangling
    const prev = await store.commitImage(b.manifest, { name });
    expect(prev?.digest).toBe(a.manifest.digest);
    let es = await layout.entries();
    expect(es).toHaveLength(2);
    expect(es.filter((e) => ref(e) === name).map((e) => e.digest)).toEqual([b.manifest.digest]);
    const dangling = es.find((e) => e.digest === a.manifest.digest)!;
    expect(ref(dangling)).toBeUndefined();
    expect(dangling.annotations?.[Annotation.Dangling]).toBe('true');
    // a second name for b; untag the first: b stays named, no dangling duplicate
    await layout.tag('localhost/b:1', b.manifest);
    await layout.untag(name);
    es = await layout.entries();
    expect(es.map((e) => [e.digest, ref(e) ?? e.annotations?.[Annotation.Dangling]])).toEqual([
      [a.manifest.digest, 'true'],
      [b.manifest.digest, 'localhost/b:1'],
    ]);
    expect(await code(layout.untag(name))).toBe('ENOTFOUND');
    // retag a dangling image: it loses the dangling mark, no duplicate entry
    await layout.tag('localhost/a:1', a.manifest);
    es = await layout.entries();
    expect(es).toHaveLength(2);
    expect(es.every((e) => e.annotations?.[Annotation.Dangling] === undefined)).toBe(true);
    expect(await layout.remove(a.manifest.digest)).toBe(1);
    expect((await layout.entries()).map((e) => e.digest)).toEqual([b.manifest.digest]);
  });

  it('addUnnamed keeps intermediate images, marked dangling, once', async () => {
    const a = await writeImage(store.blobs, 'a');
    await store.commitImage(a.manifest);
    await layout.addUnnamed(a.manifest);
    const es = await layout.entries();
    expect(es).toHaveLength(1);
    expect(es[0]!.annotations?.[Annotation.Dangling]).toBe('true');
  });

  it('update() batches edits and keeps unknown index.json fields', async () => {
    const p = join(layout.dir, 'index.json');
    writeFileSync(p, JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, annotations: { keep: 'me' }, manifests: [] }));
    const a = await writeImage(store.blobs, 'a');
    const b = await writeImage(store.blobs, 'b');
    await layout.update((es) => {
      es.push({ ...a.manifest, annotations: { [Annotation.RefName]: 'x/a:1' } });
      es.push({ ...b.manifest, annotations: { [Annotation.RefName]: 'x/b:1' } });
    });
    const doc = JSON.parse(readFileSync(p, 'utf8'));
    expect(doc.annotations).toEqual({ keep: 'me' });
    expect(doc.manifests).toHaveLength(2);
    expect(await code(layout.update((es) => void es.push({ ...a.manifest, size: -1 })))).toBe('EINVALID');
    expect(await code(layout.update((es) => void es.push({ ...a.manifest, annotations: { [Annotation.RefName]: '../x' } })))).toBe('EINVALID');
    expect(JSON.parse(readFileSync(p, 'utf8')).manifests).toHaveLength(2);
  });

  it('findImage by config ID, prefix, manifest digest; ambiguous and unknown prefixes', async () => {
    const imgs = [];
    for (let i = 0; i < 40; i++) {
      const im = await writeImage(store.blobs, `img${i}`);
      await store.commitImage(im.manifest, { name: `localhost/i:${i}` });
      imgs.push(im);
    }
    const a = imgs[0]!;
    const id = a.config.digest;
    expect((await layout.findImage(id)).descriptor.digest).toBe(a.manifest.digest);
    expect((await layout.findImage(id.slice(7))).id).toBe(id);
    expect((await layout.findImage(id.slice(7, 19))).descriptor.digest).toBe(a.manifest.digest);
    expect((await layout.findImage(a.manifest.digest)).id).toBe(id);
    expect((await layout.findImage(a.manifest.digest.slice(7, 20))).id).toBe(id);
    // 40 images × 2 digests over 16 first-hex values: some 1-hex… prefixes collide; find a 3-char collision or use a shared one
    const all = imgs.flatMap((im) => [im.config.digest.slice(7), im.manifest.digest.slice(7)]);
    const firstTwo = new Map<string, number>();
    for (const h of all) firstTwo.set(h.slice(0, 3), (firstTwo.get(h.slice(0, 3)) ?? 0) + 1);
    expect(await code(layout.findImage('ab'))).toBe('EINVALID'); // too short
    expect(await code(layout.findImage('ZZZ'))).toBe('EINVALID');
    const unused = [...Array(4096).keys()].map((n) => n.toString(16).padStart(3, '0')).find((p) => !firstTwo.has(p))!;
    expect(await code(layout.findImage(unused))).toBe('ENOTFOUND');
    // make images (empty layer lists) until two image IDs share a 3-hex prefix: that prefix is ambiguous
    const seen = new Map<string, string>();
    let collision: string | undefined;
    for (let i = 0; !collision && i < 2000; i++) {
      const config = { mediaType: MediaType.OciConfig, ...(await store.blobs.putJson({ architecture: 'amd64', os: 'linux', n: i })) };
      const p = config.digest.slice(7, 10);
      if (seen.has(p)) collision = p;
      seen.set(p, config.digest);
      const m = { mediaType: MediaType.OciManifest, ...(await store.blobs.putJson({ schemaVersion: 2, config, layers: [] })) };
      await store.commitImage(m, { name: `localhost/c:${i}` });
    }
    const e = await err(layout.findImage(collision!));
    expect(e.code).toBe('EINVALID');
    expect(e.message).toContain('ambiguous');
    const twin = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: a.config, layers: a.layers, annotations: { twin: '1' } };
    const t = { mediaType: MediaType.OciManifest, ...(await store.blobs.putJson(twin)) };
    await store.commitImage(t, { name: 'localhost/twin:1' });
    expect((await layout.findImage(id.slice(7, 15))).id).toBe(id); // same image ID via two manifests: not ambiguous
  });

  it('LS-06 ref names: invalid names rejected, a/b stored only as an annotation', async () => {
    const a = await writeImage(store.blobs, 'a');
    for (const bad of ['../../etc/x', 'a/../b', '/abs', '', 'a b', '.hidden', 'x'.repeat(300), 'a//b', 'a/', 'name\0x']) {
      expect(() => parseRefName(bad)).toThrow();
      expect(await code(layout.tag(bad, a.manifest))).toBe('EINVALID');
      expect(await code(layout.resolve(bad))).toBe('EINVALID');
    }
    for (const good of ['a/b', 'docker.io/library/busybox:latest', 'localhost:5000/x/y:1.0', `docker.io/library/b@${a.manifest.digest}`, 'a--b', 'x'.repeat(255)]) {
      expect(parseRefName(good)).toBe(good);
    }
    await layout.tag('a/b', a.manifest);
    expect(ref(await layout.resolve('a/b'))).toBe('a/b');
    // no file or directory was created from the name
    expect(() => statSync(join(layout.dir, 'a'))).toThrow();
    expect(() => statSync(join(store.paths.root, 'a'))).toThrow();
  });

  it('LS-05 malicious digests in index.json are rejected before any path join', async () => {
    const p = join(layout.dir, 'index.json');
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'do not touch');
    for (const d of [
      'sha256:../../../../tmp/x',
      `sha256:${'A'.repeat(64)}`,
      `sha256:${'a'.repeat(63)}`,
      'sha256:',
      'crc32:0123',
      'sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564',
      `sha256:${'a'.repeat(63)}\0`,
    ]) {
      writeFileSync(p, JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaType.OciManifest, digest: d, size: 2, annotations: { [Annotation.RefName]: 'x:1' } }] }));
      const c = await code(layout.resolve('x:1'));
      expect(['EINVALID', 'EUNSUPPORTED']).toContain(c);
      expect(['EINVALID', 'EUNSUPPORTED']).toContain(await code(store.gc()));
      expect(['EINVALID', 'EUNSUPPORTED']).toContain(await code(layout.findImage('abc')));
      expect(['EINVALID', 'EUNSUPPORTED']).toContain(await code(openLayout(layout.dir)));
    }
    expect(await code(layout.resolve('x:1').catch(() => layout.blobs.open({ digest: 'crc32:0123' })))).toBe('EUNSUPPORTED');
    expect(readFileSync(victim, 'utf8')).toBe('do not touch');
  });

  it('LS-16 index.json entries with size −1 or 2^63 are rejected', async () => {
    const p = join(layout.dir, 'index.json');
    const a = await writeImage(store.blobs, 'a');
    for (const size of [-1, 2 ** 63, 1.5, '12']) {
      writeFileSync(p, JSON.stringify({ schemaVersion: 2, manifests: [{ ...a.manifest, size }] }));
      const e = await err(layout.entries());
      expect(e.code).toBe('EINVALID');
      expect(e.message).toContain('size');
    }
  });

  it('LS-16 oversized index.json is refused, not read', async () => {
    const p = join(layout.dir, 'index.json');
    writeFileSync(p, Buffer.alloc(33 * 1024 * 1024, 0x20));
    expect(await code(layout.entries())).toBe('ELIMIT');
  });
});

describe('openLayout', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await scratchDir()));
  afterEach(async () => cleanup());

  async function fresh(name: string): Promise<string> {
    const l = join(dir, name);
    await openLayout(l, { create: true });
    return l;
  }

  it('LS-07 malformed layouts fail clearly and are not repaired', async () => {
    const cases: [string, (l: string) => void, RegExp][] = [
      ['missing oci-layout', (l) => rmSync(join(l, 'oci-layout')), /oci-layout is missing/],
      ['non-JSON oci-layout', (l) => writeFileSync(join(l, 'oci-layout'), 'nope'), /oci-layout is not valid JSON/],
      ['{} oci-layout', (l) => writeFileSync(join(l, 'oci-layout'), '{}'), /no imageLayoutVersion/],
      ['unknown imageLayoutVersion', (l) => writeFileSync(join(l, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}'), /unsupported imageLayoutVersion "2.0.0"/],
      ['blobs missing', (l) => rmSync(join(l, 'blobs'), { recursive: true }), /blobs is missing/],
      ['blobs a file', (l) => (rmSync(join(l, 'blobs'), { recursive: true }), writeFileSync(join(l, 'blobs'), '')), /blobs is not a directory/],
      ['index.json missing', (l) => rmSync(join(l, 'index.json')), /index.json is missing/],
      ['index.json a directory', (l) => (rmSync(join(l, 'index.json')), mkdirSync(join(l, 'index.json'))), /index.json is not a regular file/],
      ['index.json a symlink', (l) => (writeFileSync(join(dir, 'other.json'), '{"schemaVersion":2,"manifests":[]}'), rmSync(join(l, 'index.json')), symlinkSync(join(dir, 'other.json'), join(l, 'index.json'))), /index.json is a symlink/],
      ['index.json non-JSON', (l) => writeFileSync(join(l, 'index.json'), '{'), /index.json is not valid JSON/],
      ['index.json {}', (l) => writeFileSync(join(l, 'index.json'), '{"schemaVersion":2}'), /no manifests array/],
      ['index.json an array', (l) => writeFileSync(join(l, 'index.json'), '[]'), /not a JSON object/],
      ['index.json schemaVersion 1', (l) => writeFileSync(join(l, 'index.json'), '{"schemaVersion":1,"manifests":[]}'), /schemaVersion is 1/],
    ];
    for (const [i, [what, breakIt, msg]] of cases.entries()) {
      const l = await fresh(`l${i}`);
      breakIt(l);
      const before = execFileSync('ls', ['-la', l]).toString().replace(/\d\d:\d\d/g, '');
      for (const create of [false, true]) {
        const e = await err(openLayout(l, { create }));
        expect(e.code, what).toBe('ELAYOUT');
        expect(e.message, what).toMatch(msg);
        expect(e.message, what).toContain(l);
      }
      // no silent repair
      const after = execFileSync('ls', ['-la', l]).toString().replace(/\d\d:\d\d/g, '');
      expect(after.replace(/\.skiff-index\.lock.*\n/, ''), what).toBe(before.replace(/\.skiff-index\.lock.*\n/, ''));
    }
    expect((await err(openLayout(join(dir, 'nope')))).code).toBe('ELAYOUT');
    writeFileSync(join(dir, 'file'), '');
    expect((await err(openLayout(join(dir, 'file')))).message).toMatch(/not a directory/);
  });

  it('LS-18 a new layout and store are 0700 despite umask 0', async () => {
    const old = process.umask(0);
    try {
      const s = await openStore(join(dir, 's'), { create: true });
      for (const p of [s.paths.root, s.paths.images, join(s.paths.images, 'blobs'), join(s.paths.images, 'blobs', 'sha256'), s.paths.tmp, s.paths.leases, s.paths.locks]) {
        expect((statSync(p).mode & 0o777).toString(8), p).toBe('700');
      }
      const r = await s.putBlob(Buffer.from('x'));
      expect(statSync(s.blobs.path(r.digest)).mode & 0o777).toBe(0o444);
      expect(statSync(await s.session.dir()).mode & 0o777).toBe(0o700);
      await s.close();
    } finally {
      process.umask(old);
    }
  });

  it('concurrent creators in one process agree on one layout', async () => {
    const l = join(dir, 'c');
    const ls = await Promise.all(Array.from({ length: 5 }, () => openLayout(l, { create: true })));
    expect(await ls[0]!.entries()).toEqual([]);
  });

  it('LS-19 commitImage refuses an image whose blobs are not all present; index.json untouched', async () => {
    const l = await openLayout(join(dir, 'x'), { create: true });
    const img = await writeImage(l.blobs, 'a', { layers: 3 });
    await l.blobs.delete(img.layers[1]!.digest);
    const e = await err(commitImage(l, img.manifest, { name: 'x/a:1' }));
    expect(e.code).toBe('ENOTFOUND');
    expect(e.message).toContain(img.layers[1]!.digest);
    expect(await l.entries()).toEqual([]);
    // a layer with the wrong size: EBADSIZE
    const bad = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: img.config, layers: [{ ...img.layers[0]!, size: img.layers[0]!.size + 1 }] };
    const bd = { mediaType: MediaType.OciManifest, ...(await l.blobs.putJson(bad)) };
    expect((await err(commitImage(l, bd, { name: 'x/a:1' }))).code).toBe('EBADSIZE');
    // manifest itself missing
    expect((await err(commitImage(l, { mediaType: MediaType.OciManifest, digest: digestOf('nope'), size: 4 }, { name: 'x/a:1' }))).code).toBe('ENOTFOUND');
    expect(await l.entries()).toEqual([]);
  });
});

describe('interoperability', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await scratchDir()));
  afterEach(async () => cleanup());

  it('skopeo and umoci read the store layout', async () => {
    const s = await openStore(join(dir, 's'), { create: true });
    const img = await writeImage(s.blobs, 'interop', { layers: 1 });
    // a real (empty) tar layer so umoci is happy
    const tar = execFileSync('tar', ['-c', '-f', '-', '-C', dir, '--files-from', '/dev/null']);
    const layer = { mediaType: MediaType.OciLayer, ...(await s.putBlob(tar)) };
    const cfg = { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [layer.digest] } };
    const config = { mediaType: MediaType.OciConfig, ...(await s.blobs.putJson(cfg)) };
    const man = { mediaType: MediaType.OciManifest, ...(await s.blobs.putJson({ schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] })) };
    await s.commitImage(man, { name: 'latest' });
    await s.commitImage(img.manifest, { name: 'other' });
    const out = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${s.paths.images}:latest`]).toString());
    expect(out.Digest).toBe(man.digest);
    expect(out.Layers).toEqual([layer.digest]);
    const ls = execFileSync('umoci', ['ls', '--layout', s.paths.images]).toString().split('\n').filter(Boolean).sort();
    expect(ls).toEqual(['latest', 'other']);
    await s.close();
  });
});
