import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShortNameConfig } from '../../../shared/ref/short-name.ts';
import { lookupImage } from '../../../shared/store/lookup.ts';
import { openStore, type Store } from '../../../shared/store/store.ts';
import { scratchDir } from '../../helpers/tmp.ts';
import { writeImage } from './fixtures/image.ts';

// Local lookup as podman's libimage does it (LookupImage): exact candidates (alias, localhost/, search
// registries, docker.io), then ID prefixes, then digests, then the repository-suffix scan in store order.
describe('lookupImage', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let store: Store;
  const img: Record<string, { manifest: string; id: string }> = {};
  const none: ShortNameConfig = { searchRegistries: [], aliases: {}, mode: 'permissive' };

  beforeAll(async () => {
    s = await scratchDir('skiff-lookup-');
    store = await openStore(join(s.dir, 'store'), { create: true });
    // index order: the first image stored under a matching name wins the suffix scan, as podman's store order
    const named: [string, string][] = [
      ['first', '127.0.0.1:5000/library/busybox:latest'],
      ['second', '127.0.0.1:5001/other/busybox:latest'],
      ['first', '127.0.0.1:5000/library/busybox:v2'],
      ['local', 'localhost/app:latest'],
      ['remote', '127.0.0.1:5002/ns/app:latest'],
      ['dockerhub', 'docker.io/library/alpine:latest'],
      ['deep', '127.0.0.1:5003/a/b/c:latest'],
    ];
    for (const [seed, name] of named) {
      const w = await writeImage(store.blobs, seed);
      img[seed] = { manifest: w.manifest.digest, id: w.config.digest };
      await store.commitImage(w.manifest, { name });
    }
  });
  afterAll(async () => {
    await store?.close();
    await s?.cleanup();
  });

  it.each<[string, Partial<ShortNameConfig>, string, string | undefined]>([
    // short names: exact candidates first…
    ['app', {}, 'local', 'localhost/app:latest'], // localhost/ wins over the suffix match 127.0.0.1:5002/ns/app
    ['alpine', {}, 'dockerhub', 'docker.io/library/alpine:latest'],
    ['app', { searchRegistries: ['127.0.0.1:5002'] }, 'local', 'localhost/app:latest'],
    ['ns/app', {}, 'remote', '127.0.0.1:5002/ns/app:latest'],
    // …then the repository-suffix scan: any registry, first in store order, tag latest by default
    ['busybox', {}, 'first', '127.0.0.1:5000/library/busybox:latest'],
    ['library/busybox', {}, 'first', '127.0.0.1:5000/library/busybox:latest'],
    ['other/busybox', {}, 'second', '127.0.0.1:5001/other/busybox:latest'],
    ['busybox:v2', {}, 'first', '127.0.0.1:5000/library/busybox:v2'],
    ['c', {}, 'deep', '127.0.0.1:5003/a/b/c:latest'],
    ['b/c', {}, 'deep', '127.0.0.1:5003/a/b/c:latest'],
    // a search registry's exact name beats the scan order
    ['busybox', { searchRegistries: ['127.0.0.9:1', '127.0.0.1:5001/other'] }, 'second', '127.0.0.1:5001/other/busybox:latest'],
    // an alias is tried first of all
    ['busybox', { aliases: { busybox: { value: '127.0.0.1:5001/other/busybox', origin: 'x.conf' } } }, 'second', '127.0.0.1:5001/other/busybox:latest'],
    // qualified names are exact
    ['127.0.0.1:5001/other/busybox', {}, 'second', '127.0.0.1:5001/other/busybox:latest'],
  ])('%s with %j → %s', async (input, c, seed, name) => {
    const found = await lookupImage(store.layout, input, { shortNames: { ...none, ...c } });
    expect(found.id).toBe(img[seed]!.id);
    expect(found.name).toBe(name);
  });

  it('IDs, ID prefixes and digests find the image whatever the name says', async () => {
    const { id, manifest } = img.second!;
    expect((await lookupImage(store.layout, id, { shortNames: none })).id).toBe(id);
    expect((await lookupImage(store.layout, id.slice(7), { shortNames: none })).id).toBe(id);
    expect((await lookupImage(store.layout, id.slice(7, 19), { shortNames: none })).id).toBe(id);
    for (const n of [`busybox@${manifest}`, `zzz@${manifest}`, `127.0.0.9/zzz@${manifest}`, `busybox:latest@${manifest}`]) {
      const f = await lookupImage(store.layout, n, { shortNames: none });
      expect(f.id, n).toBe(id);
      expect(f.name).toBeUndefined();
    }
  });

  it.each(['busybox:v9', 'ibrary/busybox', 'usybox', 'nothere', '127.0.0.1:5000/busybox', `busybox@sha256:${'d'.repeat(64)}`, 'd'.repeat(64)])(
    '%s is not known',
    async (input) => {
      await expect(lookupImage(store.layout, input, { shortNames: none })).rejects.toMatchObject({ code: 'ENOTFOUND', message: `${input}: image not known` });
    },
  );

  it('reads registries.conf only for short names, and from the file given', async () => {
    const missing = join(s.dir, 'no-such-registries.conf');
    await expect(lookupImage(store.layout, 'busybox', { registriesConf: missing })).rejects.toMatchObject({ code: 'ENOTFOUND', message: expect.stringContaining(missing) });
    expect((await lookupImage(store.layout, '127.0.0.1:5000/library/busybox', { registriesConf: missing })).id).toBe(img.first!.id);
    expect((await lookupImage(store.layout, img.first!.id, { registriesConf: missing })).id).toBe(img.first!.id);
  });
});
