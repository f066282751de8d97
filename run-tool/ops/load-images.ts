import { createReadStream } from 'node:fs';
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError, type Cancellable } from '../../shared/errors.ts';
import { readTar } from '../../shared/layer/tar-read.ts';
import { Annotation } from '../../shared/oci/media-types.ts';
import { formatReference, normalizePull, parseReference } from '../../shared/ref/reference.ts';
import { copyImage } from '../../shared/transport/copy-image.ts';
import { openDirSource } from '../../shared/transport/dir.ts';
import { openDockerArchiveSource } from '../../shared/transport/docker-archive.ts';
import { openOciArchiveSource } from '../../shared/transport/oci-archive.ts';
import { openOciLayoutSource } from '../../shared/transport/oci-layout.ts';
import { openStoreTarget } from '../../shared/transport/store.ts';
import type { OpenedSource } from '../../shared/transport/types.ts';
import { openStore } from '../../shared/store/store.ts';

// The load operation (podman's `load`): every image of an archive or a layout directory into the store.

const SMALL = 4 << 20;

/** What an archive holds, read from its small index member without extracting it. */
interface ArchiveShape {
  kind: 'docker-archive' | 'oci-archive';
  /** docker-archive: RepoTags per image; oci-archive: ref names per entry (undefined when unnamed). */
  images: { names: string[] }[];
}

async function sniffArchive(file: string, o: Cancellable): Promise<ArchiveShape> {
  let manifest: Buffer | undefined;
  let index: Buffer | undefined;
  for await (const { header, body } of readTar(createReadStream(file), o)) {
    const n = header.name.replace(/^\.\//, '');
    if ((n === 'manifest.json' || n === 'index.json') && header.type === 'file') {
      if (header.size > SMALL) throw new SkiffError('ELIMIT', `${n} in the archive is larger than ${SMALL} bytes`);
      const chunks: Buffer[] = [];
      for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
      if (n === 'manifest.json') manifest = Buffer.concat(chunks);
      else index = Buffer.concat(chunks);
    }
  }
  if (manifest) {
    const v = JSON.parse(manifest.toString('utf8')) as { RepoTags?: string[] | null }[];
    if (!Array.isArray(v)) throw new SkiffError('EINVALID', 'manifest.json of the archive is not an array');
    return { kind: 'docker-archive', images: v.map((e) => ({ names: Array.isArray(e?.RepoTags) ? e.RepoTags.filter((t) => typeof t === 'string') : [] })) };
  }
  if (index) {
    const v = JSON.parse(index.toString('utf8')) as { manifests?: { annotations?: Record<string, string> }[] };
    const ms = Array.isArray(v?.manifests) ? v.manifests : [];
    return { kind: 'oci-archive', images: ms.map((m) => ({ names: m.annotations?.[Annotation.RefName] ? [m.annotations[Annotation.RefName]!] : [] })) };
  }
  throw new SkiffError('EINVALID', 'payload does not match any of the supported image formats (oci-archive, docker-archive, oci-dir, docker-dir)');
}

/** The store name of an archive's image name: docker RepoTags are normalised (`busybox:1` → docker.io/library/busybox:1), others stay. */
function storeNameOf(n: string): string | undefined {
  try {
    return formatReference(normalizePull(parseReference(n)));
  } catch {
    return undefined;
  }
}

async function loadOne(root: string, src: OpenedSource, names: string[], o: Cancellable): Promise<string[]> {
  const so = { signal: o.signal };
  const qualified = names.map(storeNameOf).filter((n): n is string => n !== undefined);
  const first = qualified[0];
  const dst = await openStoreTarget(root, first ? { ref: parseReference(first) } : {}, so);
  try {
    const r = await copyImage(src, dst, { additionalTags: qualified.slice(1), ...so });
    if (qualified.length > 0) return qualified;
    const store = await openStore(root, so);
    try {
      const found = await store.layout.findImage(r.digest, so);
      return [found.id ?? r.digest];
    } finally {
      await store.close();
    }
  } finally {
    await dst.close();
  }
}

/**
 * Loads every image of `input` (a docker-archive or oci-archive file, an OCI layout directory or a `dir:`
 * directory) into the store at `root`, as `podman load` does; returns the names loaded (or `sha256:<id>` for
 * an unnamed image). Each image is committed only when all its blobs are stored and verified.
 */
export async function loadImages(root: string, input: string, o: Cancellable = {}): Promise<string[]> {
  const so = { signal: o.signal };
  const st = await lstat(input).catch(() => undefined);
  if (!st) throw new SkiffError('ENOTFOUND', `${input}: no such file or directory`);
  const loaded: string[] = [];
  if (st.isDirectory()) {
    const isOci = await lstat(join(input, 'oci-layout')).then(() => true, () => false);
    if (isOci) {
      const idx = JSON.parse(await readFile(join(input, 'index.json'), 'utf8')) as { manifests?: { annotations?: Record<string, string> }[] };
      const refs = (idx.manifests ?? []).map((m) => m.annotations?.[Annotation.RefName]);
      for (const ref of refs.length > 0 ? refs : [undefined]) {
        const src = await openOciLayoutSource(input, ref, so);
        try {
          loaded.push(...(await loadOne(root, src, ref ? [ref] : [], so)));
        } finally {
          await src.close();
        }
      }
      return loaded;
    }
    const src = await openDirSource(input, so);
    try {
      return await loadOne(root, src, [], so);
    } finally {
      await src.close();
    }
  }
  const shape = await sniffArchive(input, so);
  for (let i = 0; i < shape.images.length; i++) {
    const names = shape.images[i]!.names;
    const src =
      shape.kind === 'docker-archive'
        ? await openDockerArchiveSource(input, { sourceIndex: i }, so)
        : await openOciArchiveSource(input, names[0], so);
    try {
      loaded.push(...(await loadOne(root, src, names, so)));
    } finally {
      await src.close();
    }
  }
  return loaded;
}

