import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isSkiffError } from '../../../shared/errors.ts';
import { digestOf } from '../../../shared/oci/digest.ts';
import { MediaType } from '../../../shared/oci/media-types.ts';
import type { Descriptor } from '../../../shared/oci/types.ts';
import { createLease, openLease } from '../../../shared/store/lease.ts';
import { openStore, type Store } from '../../../shared/store/store.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { writeImage } from './fixtures/image.ts';

describe('gc and verify', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let store: Store;
  beforeEach(async () => {
    ({ dir, cleanup } = await scratchDir());
    store = await openStore(join(dir, 's'), { create: true });
  });
  afterEach(async () => {
    await store.close();
    await cleanup();
  });
  const json = async (v: unknown, mediaType: string): Promise<Descriptor> => ({ mediaType, ...(await store.blobs.putJson(v)) });

  it('LS-14 gc keeps everything reachable (nested index, subject, unknown types, data, shared blobs) and removes orphans and stale temps', async () => {
    const a = await writeImage(store.blobs, 'a', { layers: 2 });
    const b = await writeImage(store.blobs, 'b', { layers: 1 });
    // b shares a's first layer too (a blob referenced twice)
    const bShared = await json({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: b.config, layers: [...b.layers, a.layers[0]] }, MediaType.OciManifest);
    const inner = await json({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [bShared] }, MediaType.OciIndex);
    const outer = await json({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [inner, a.manifest] }, MediaType.OciIndex);
    // artifact manifest whose subject is a (reachable only through index.json entry "sig")
    const sigBlob = { mediaType: 'application/vnd.example.sig', ...(await store.putBlob(Buffer.from('signature'))) };
    const emptyCfg = await json({}, MediaType.OciEmpty);
    const artifact = await json({ schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: 'application/vnd.example.sig', config: emptyCfg, layers: [sigBlob], subject: a.manifest }, MediaType.OciManifest);
    // unknown media type manifest with descriptors in unusual fields
    const weirdChild = { mediaType: 'application/x-thing', ...(await store.putBlob(Buffer.from('weird child'))) };
    const weird = await json({ whatever: { deep: [{ ref: weirdChild }] } }, 'application/vnd.unknown.manifest+json');
    // a descriptor with embedded data (blob present too) and one whose blob is absent (data only)
    const dataBlob = { mediaType: 'text/plain', ...(await store.putBlob(Buffer.from('hi'))), data: Buffer.from('hi').toString('base64') };
    const absent: Descriptor = { mediaType: 'text/plain', digest: digestOf('nothere'), size: 7, data: Buffer.from('nothere').toString('base64') };
    const withData = await json({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: emptyCfg, layers: [dataBlob, absent] }, MediaType.OciManifest);
    await store.commitImage(outer, { name: 'x/outer:1' });
    await store.commitImage(artifact, { name: 'x/sig:1' });
    await store.commitImage(weird, { name: 'x/weird:1' });
    await store.commitImage(withData, { name: 'x/data:1' });
    // orphans
    const orphan1 = await store.putBlob(Buffer.from('orphan 1'));
    const orphan2 = await store.blobs.putJson({ schemaVersion: 2, manifests: [{ mediaType: 'x', digest: a.manifest.digest, size: a.manifest.size }] });
    // stale temp dir of a dead process (lock file free)
    const staleId = 'f'.repeat(32);
    mkdirSync(join(store.paths.tmp, staleId));
    writeFileSync(join(store.paths.tmp, staleId, 'blob-partial'), 'partial');
    writeFileSync(join(store.paths.tmp, `${staleId}.lock`), '');
    const everything = await store.blobs.list();
    // release this process's lease so only index.json protects the images
    await (await store.lease()).release();
    const r = await store.gc();
    // b.manifest itself was never referenced (bShared replaced it): an orphan too
    const orphans = new Set([orphan1.digest, orphan2.digest, b.manifest.digest]);
    expect(new Set(r.removed)).toEqual(orphans);
    expect(r.bytesFreed).toBe(orphan1.size + orphan2.size + b.manifest.size);
    expect(r.tempsRemoved).toEqual([staleId]);
    expect(existsSync(join(store.paths.tmp, staleId))).toBe(false);
    const left = new Set(await store.blobs.list());
    for (const d of everything) if (!orphans.has(d)) expect(left.has(d), d).toBe(true);
    expect(r.missing).toEqual([]);
    // second run: nothing to do; live session dir kept
    expect((await store.gc()).removed).toEqual([]);
    expect(existsSync(await store.session.dir())).toBe(true);
    expect((await store.verify()).ok).toBe(true);
    // untag outer: its exclusive blobs go, shared ones (a's, reachable via subject of sig) stay
    await store.layout.untag('x/outer:1');
    await store.layout.remove(outer.digest);
    const r2 = await store.gc();
    expect(new Set(r2.removed)).toEqual(new Set([outer.digest, inner.digest, bShared.digest, b.config.digest, b.layers[0]!.digest]));
    expect(await store.blobs.has(a.layers[0]!.digest)).toBe(true);
  });

  it('LS-16 gc refuses reference chains deeper than the limit (and cycles terminate)', async () => {
    let d = await json({ leaf: true }, 'application/x-leaf');
    for (let i = 0; i < 40; i++) d = await json({ schemaVersion: 2, manifests: [d] }, MediaType.OciIndex);
    await store.layout.tag('x/deep:1', d);
    const before = await store.blobs.list();
    const orphan = await store.putBlob(Buffer.from('orphan'));
    await (await store.lease()).release();
    let code = '';
    await store.gc().catch((e: unknown) => (code = isSkiffError(e) ? e.code : 'other'));
    expect(code).toBe('ELIMIT');
    expect(await store.blobs.has(orphan.digest)).toBe(true); // nothing swept
    expect((await store.blobs.list()).length).toBe(before.length + 1);
  });

  it('LS-13 blobs under a live lease survive gc; a released lease lets them go; persistent leases persist', async () => {
    const img = await writeImage(store.blobs, 'inflight', { layers: 2 }); // leased by this process, not tagged
    let r = await store.gc();
    expect(r.removed).toEqual([]);
    // persistent lease (e.g. a container) on the manifest keeps it and everything it references
    const p = await createLease(store.paths, [img.manifest.digest], { owner: 'container x', persistent: true, id: 'container-x' });
    await (await store.lease()).release();
    r = await store.gc();
    expect(r.removed).toEqual([]);
    await (await openLease(store.paths, p.id)).release();
    r = await store.gc();
    expect(new Set(r.removed)).toEqual(new Set([img.manifest.digest, img.config.digest, ...img.layers.map((l) => l.digest)]));
  });

  it('LS-13 claim() leases a digest before reporting it present, so gc keeps it', async () => {
    const other = await openStore(store.paths.root, { write: true });
    const blob = await store.putBlob(Buffer.from('dedup me'));
    await (await store.lease()).release(); // blob is now unprotected
    expect(await other.claim(blob)).toBe(true);
    expect((await store.gc()).removed).toEqual([]);
    expect(await other.claim({ digest: digestOf('missing'), size: 1 })).toBe(false);
    await other.close();
  });

  it('gc stops without deleting when a reachable manifest is damaged; verify reports damage without deleting', async () => {
    const img = await writeImage(store.blobs, 'v', { layers: 2 });
    await store.commitImage(img.manifest, { name: 'x/v:1' });
    const orphan = await store.putBlob(Buffer.from('orphan'));
    await (await store.lease()).release();
    expect((await store.verify()).ok).toBe(true);
    // damage: same-size change in a layer, a missing layer, a manifest with a trailing byte
    const l0 = store.blobs.path(img.layers[0]!.digest);
    chmodSync(l0, 0o644);
    writeFileSync(l0, Buffer.alloc(img.layers[0]!.size, 1));
    await store.blobs.delete(img.layers[1]!.digest);
    let v = await store.verify();
    expect(v.ok).toBe(false);
    expect(v.damaged.map((x) => [x.digest, x.problem]).sort()).toEqual(
      [[img.layers[0]!.digest, 'digest'], [img.layers[1]!.digest, 'missing']].sort(),
    );
    const mp = store.blobs.path(img.manifest.digest);
    chmodSync(mp, 0o644);
    writeFileSync(mp, Buffer.concat([Buffer.from(JSON.stringify({ schemaVersion: 2 })), Buffer.alloc(3)]));
    v = await store.verify();
    expect(v.damaged.find((x) => x.digest === img.manifest.digest)?.problem).toBe('digest');
    let code = '';
    await store.gc().catch((e: unknown) => (code = isSkiffError(e) ? e.code : 'other'));
    expect(code).toBe('EINTEGRITY');
    expect(await store.blobs.has(orphan.digest)).toBe(true);
    expect(await store.blobs.has(img.config.digest)).toBe(true);
  });

  it('verify reports blobs whose size differs from their descriptors', async () => {
    const layer = { mediaType: MediaType.OciLayer, ...(await store.putBlob(Buffer.from('12345'))) };
    const cfg = await json({ os: 'linux' }, MediaType.OciConfig);
    const m = await json({ schemaVersion: 2, config: cfg, layers: [{ ...layer, size: 4 }] }, MediaType.OciManifest);
    await store.layout.tag('x/s:1', m);
    const v = await store.verify();
    expect(v.damaged).toEqual([expect.objectContaining({ digest: layer.digest, problem: 'size', actual: 5, expected: 4 })]);
  });
});
