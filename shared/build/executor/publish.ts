/**
 * The tail of a build: the target stage's image is written (layers → config → manifest through the one image
 * writer), named in the store (BU-18: names last, after everything they reference), copied to each
 * transport-qualified `-t` destination, exported for `--output`, and its ID written to `--iidfile`. Nothing here
 * runs a step; a failure leaves the store without names for the image. When the names already hold this very image,
 * nothing is written at all.
 */
import { writeFile } from 'node:fs/promises';
import type { Digest } from '../../oci/digest.ts';
import type { Descriptor } from '../../oci/types.ts';
import { parseImageName } from '../../ref/transport-name.ts';
import type { Store } from '../../store/store.ts';
import { composeBuiltImage, exportRootfs, tarTree, writeBuiltImage } from './image-out.ts';
import type { BuildOptions, StageResult } from './types.ts';

/** What publishImage needs beyond the build's options. */
export interface PublishInput {
  store: Store;
  target: StageResult;
  /** The checked `-t` values: local names to commit, transport destinations to copy to. */
  tags: { local: string[]; remote: string[] };
  /** The image's `created` (RFC 3339). */
  created: string;
  /** `--timestamp` as a date (tar exports use it as every entry's mtime). */
  fixed: Date | undefined;
  /** A scratch directory for a tar export's tree (inside the build's state dir). */
  exportDir: () => Promise<string>;
  /** Claims (leases) the target's cached layers; called before anything is written or read from them. */
  claim: () => Promise<void>;
  signal: AbortSignal;
}

/** Writes, names, pushes and exports the built image; returns its ID, manifest descriptor and every name given. */
export async function publishImage(o: BuildOptions, p: PublishInput): Promise<{ id: Digest; descriptor: Descriptor; names: string[] }> {
  const so = { signal: p.signal };
  const { store, target } = p;
  const wo = { format: o.format, labels: o.labels, annotations: o.annotations, created: p.created, ...so };
  const image = composeBuiltImage(store, target, wo);
  const names = [...p.tags.local];
  // A rebuild that ends at the image its names already hold (a fully cached build): one read of index.json and a
  // stat of config and manifest; nothing is leased, written or renamed, and the ID stays the same. Safe without a
  // lock: a name is only ever given to a complete image (commitImage), and this build adds nothing to the store.
  if (p.tags.remote.length === 0 && !o.outputs?.length) {
    const desc = await image.descriptor(so);
    const cfg = (await image.manifest(so)).config;
    if ((await store.layout.names(names, desc, so)) && (await store.blobs.has(cfg.digest, cfg.size, so)) && (await store.blobs.has(desc.digest, desc.size, so))) {
      const id = await image.configDigest();
      if (o.iidfile) await writeFile(o.iidfile, id);
      return { id, descriptor: desc, names };
    }
  }
  await p.claim();
  const { descriptor, id } = await writeBuiltImage(store, target, wo, image);
  if (names.length === 0) await store.commitImage(descriptor, so);
  for (const name of names) await store.commitImage(descriptor, { name, ...so });
  for (const t of p.tags.remote) {
    // transports (and the registry client) load only for a transport-qualified -t
    const [{ openStoreSource }, { openTarget }, { copyImage }] = await Promise.all([
      import('../../transport/store.ts'),
      import('../../transport/open.ts'),
      import('../../transport/copy-image.ts'),
    ]);
    const src = await openStoreSource(store.paths.root, { id }, so);
    try {
      const dst = await openTarget(parseImageName(t), { storeRoot: store.paths.root, registry: o.registry ?? {}, ...so });
      try {
        await copyImage(src, dst, { format: o.format, ...so });
      } finally {
        await dst.close();
      }
    } finally {
      await src.close();
    }
    names.push(t);
  }
  for (const out of o.outputs ?? []) {
    if (out.type === 'local') await exportRootfs(store, target.layers, out.dest, so);
    else {
      const tmp = await p.exportDir();
      await exportRootfs(store, target.layers, tmp, so);
      await tarTree(tmp, out.dest, { mtime: p.fixed, ...so });
    }
  }
  if (o.iidfile) await writeFile(o.iidfile, id);
  return { id, descriptor, names };
}
