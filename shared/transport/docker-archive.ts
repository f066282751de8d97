import { createReadStream } from 'node:fs';
import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { isSkiffError, SkiffError, type Cancellable } from '../errors.ts';
import { Digester, digestHex, digestOf, parseDigest, type Digest } from '../oci/digest.ts';
import { layerCompression, layerMediaType, MediaType } from '../oci/media-types.ts';
import type { Descriptor, Manifest } from '../oci/types.ts';
import { parseAnyManifest, parseImageConfig } from '../oci/validate.ts';
import { compressionOfMagic, decompress } from '../layer/compression.ts';
import { familiarName, formatReference, normalizePull, parseReference, type Reference } from '../ref/reference.ts';
import { ArchiveWriter } from './archive-writer.ts';
import { archiveMemberName, extractArchive } from './extract.ts';
import { ArchiveIndex } from './archive-index.ts';
import { DOCUMENT_CAP, openNoFollow, readSmallFile, verifying, writeFileVerified } from './files.ts';
import type { CommitOpts, ImageTarget, OpenedSource } from './types.ts';

/** One entry of a `docker save` manifest.json. */
export interface DockerArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

const MAX_ENTRIES = 1000;

function parseArchiveManifest(bytes: Buffer, file: string): DockerArchiveEntry[] {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new SkiffError('EINVALID', `${file}: manifest.json is not valid JSON`, { cause: e });
  }
  if (!Array.isArray(v)) throw new SkiffError('EINVALID', `${file}: manifest.json is not an array`);
  if (v.length > MAX_ENTRIES) throw new SkiffError('ELIMIT', `${file}: manifest.json has more than ${MAX_ENTRIES} images`);
  return v.map((e, i) => {
    const x = e as Partial<DockerArchiveEntry> | null;
    if (!x || typeof x.Config !== 'string' || !Array.isArray(x.Layers) || !x.Layers.every((l) => typeof l === 'string')) {
      throw new SkiffError('EINVALID', `${file}: manifest.json entry ${i} needs Config (string) and Layers (strings)`);
    }
    if (x.RepoTags != null && (!Array.isArray(x.RepoTags) || !x.RepoTags.every((t) => typeof t === 'string'))) {
      throw new SkiffError('EINVALID', `${file}: manifest.json entry ${i} has invalid RepoTags`);
    }
    return x as DockerArchiveEntry;
  });
}

function sameImageName(a: Reference, b: string): boolean {
  try {
    return formatReference(normalizePull(a)) === formatReference(normalizePull(parseReference(b)));
  } catch {
    return false;
  }
}

/** Which image of the archive: by reference (a RepoTags entry), by index (`@N`), or the only one. */
export interface DockerArchiveSelector {
  ref?: Reference;
  sourceIndex?: number;
}

/** How a docker-archive's members are read: in place through an index, or from an extracted temp dir. */
interface MemberReader {
  readSmall(name: string, what: string): Promise<Buffer>;
  /** The size of a regular-file member; EINVALID when it is missing. */
  size(name: string): Promise<number>;
  open(name: string, what: string, o?: Cancellable): Promise<Readable>;
  close(): Promise<void>;
}

/** Reads members in place: a regular file is indexed by its headers only, nothing is copied. */
function indexedReader(ix: ArchiveIndex): MemberReader {
  return {
    readSmall: (name, what) => ix.readSmall(name, what, DOCUMENT_CAP),
    size: async (name) => {
      try {
        return ix.size(name);
      } catch (e) {
        if (isSkiffError(e, 'ENOTFOUND')) throw new SkiffError('EINVALID', `${ix.file}: layer ${name} is missing`);
        throw e;
      }
    },
    open: async (name) => ix.stream(name),
    close: () => ix.close(),
  };
}

/** Reads members from a private temp dir the archive was streamed into (input that cannot seek: a pipe). */
async function extractedReader(file: string, o: Cancellable & { tmpDir?: string }): Promise<MemberReader> {
  const tmp = await mkdtemp(join(o.tmpDir ?? tmpdir(), 'skiff-docker-archive-'));
  const at = (name: string) => join(tmp, archiveMemberName(name, file));
  const reader: MemberReader = {
    readSmall: (name, what) => readSmallFile(at(name), what, undefined, o),
    size: async (name) => {
      const st = await lstat(at(name)).catch(() => undefined);
      if (!st?.isFile()) throw new SkiffError('EINVALID', `${file}: layer ${name} is missing`);
      return st.size;
    },
    open: (name, what, co = {}) => openNoFollow(at(name), what, co),
    close: () => rm(tmp, { recursive: true, force: true }),
  };
  try {
    await extractArchive(file, tmp, { symlinks: 'link', signal: o.signal });
    return reader;
  } catch (e) {
    await reader.close();
    throw e;
  }
}

async function headOf(r: MemberReader, name: string): Promise<Buffer> {
  const rs = await r.open(name, 'layer');
  for await (const c of rs as AsyncIterable<Buffer>) {
    rs.destroy();
    return c.subarray(0, 6);
  }
  return Buffer.alloc(0);
}

async function hashMember(r: MemberReader, name: string, o: Cancellable): Promise<Digest> {
  const h = new Digester();
  for await (const c of (await r.open(name, 'layer', o)) as AsyncIterable<Buffer>) h.update(c);
  return h.digest();
}

/**
 * A source over `docker-archive:FILE[:REF|:@N]` (`docker save` format, also what skopeo and podman write).
 * A regular file is read in place (ArchiveIndex: headers only, layers streamed from their offsets); other input
 * (a pipe) is extracted once into a private temp dir. Either way member names are confined and de-duplicating
 * symlinks resolve inside the archive. It serves a Docker v2s2 manifest it synthesises: the config as stored,
 * layers as the tar members with digest = sha256 of the member (the diffID for uncompressed layers, checked at
 * read time), size = member size.
 */
export async function openDockerArchiveSource(file: string, sel: DockerArchiveSelector, o: Cancellable & { tmpDir?: string } = {}): Promise<OpenedSource> {
  const display = `docker-archive:${file}${sel.ref ? `:${formatReference(sel.ref)}` : sel.sourceIndex !== undefined ? `:@${sel.sourceIndex}` : ''}`;
  const path = resolve(file);
  const ix = await ArchiveIndex.open(path, o.signal ? { signal: o.signal } : {});
  const r = ix ? indexedReader(ix) : await extractedReader(path, o);
  try {
    const entries = parseArchiveManifest(await r.readSmall('manifest.json', `${file}: manifest.json`), file);
    let entry: DockerArchiveEntry | undefined;
    if (sel.ref) {
      entry = entries.find((e) => (e.RepoTags ?? []).some((t) => sameImageName(sel.ref!, t)));
      if (!entry) throw new SkiffError('ENOTFOUND', `no image tagged ${formatReference(sel.ref)} in ${file}`);
    } else if (sel.sourceIndex !== undefined) {
      entry = entries[sel.sourceIndex];
      if (!entry) throw new SkiffError('ENOTFOUND', `${file} has no image @${sel.sourceIndex} (it holds ${entries.length})`);
    } else {
      if (entries.length !== 1) {
        throw new SkiffError('EINVALID', `${file} holds ${entries.length} images; name one`, { hint: 'append :NAME:TAG or :@N to the archive path' });
      }
      entry = entries[0]!;
    }
    const configBytes = await r.readSmall(entry.Config, `${file}: config`);
    const config = parseImageConfig(configBytes);
    if (config.rootfs.diff_ids.length !== entry.Layers.length) {
      throw new SkiffError('EINVALID', `${file}: the config lists ${config.rootfs.diff_ids.length} diff_ids but the image has ${entry.Layers.length} layers`);
    }
    const configDesc: Descriptor = { mediaType: MediaType.DockerConfig, digest: digestOf(configBytes), size: configBytes.length };
    const layerMembers = new Map<Digest, string>();
    const layers: Descriptor[] = [];
    for (let i = 0; i < entry.Layers.length; i++) {
      const member = entry.Layers[i]!;
      const size = await r.size(member);
      const c = compressionOfMagic(await headOf(r, member));
      if (c === 'zstd') throw new SkiffError('EUNSUPPORTED', `${file}: layer ${member} is zstd-compressed, which Docker schema 2 cannot describe`);
      const digest = c === 'none' ? config.rootfs.diff_ids[i]! : await hashMember(r, member, o);
      layers.push({ mediaType: layerMediaType('docker', c), digest, size });
      if (!layerMembers.has(digest)) layerMembers.set(digest, member);
    }
    const manifest: Manifest = { schemaVersion: 2, mediaType: MediaType.DockerManifest, config: configDesc, layers };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const digest = digestOf(bytes);
    let closed = false;
    return {
      name: display,
      async getManifest(d) {
        if (d !== undefined && d !== digest) throw new SkiffError('ENOTFOUND', `manifest ${d} is not in ${display}`);
        return { bytes, mediaType: MediaType.DockerManifest, digest };
      },
      async getBlob(desc, co = {}) {
        if (desc.digest === configDesc.digest) return verifying(Readable.from([configBytes]), desc);
        const m = layerMembers.get(desc.digest);
        if (m === undefined) throw new SkiffError('ENOTFOUND', `blob ${desc.digest} is not in ${display}`);
        return verifying(await r.open(m, `layer ${desc.digest}`, co), desc);
      },
      async close() {
        if (closed) return;
        closed = true;
        await r.close();
      },
    };
  } catch (e) {
    await r.close();
    throw e;
  }
}

/** `docker save`'s RepoTags form of a reference: familiar name with a tag (`busybox:latest`). */
export function repoTagOf(ref: Reference): string {
  const q = normalizePull({ ...ref });
  const { digest: _d, ...noDigest } = q;
  return familiarName(noDigest);
}

/**
 * A target writing `docker-archive:FILE[:REF]` as `docker save` / skopeo do: layers uncompressed as
 * `<diffID hex>.tar`, the config as `<hex>.json`, `manifest.json` (Config/RepoTags/Layers) and a legacy
 * `repositories` file. Compressed layers are verified while they stream, decompressed (bomb limits) and spooled
 * to temp files beside FILE (their uncompressed size is only known afterwards); commit() checks the diffIDs
 * against the config and streams the archive to a temp file that is renamed to FILE. Holds one image (no index).
 */
export async function openDockerArchiveTarget(file: string, ref: Reference | undefined, o: Cancellable = {}): Promise<ImageTarget> {
  if (ref?.digest !== undefined) throw new SkiffError('EINVALID', 'a docker-archive reference cannot contain a digest');
  const abs = resolve(file);
  const spool = await mkdtemp(join(dirname(abs), '.skiff-docker-archive-'));
  const layers = new Map<Digest, { path: string; diffId: Digest; size: number }>();
  const blobs = new Map<Digest, string>();
  let top: Manifest | undefined;
  let writer: ArchiveWriter | undefined;
  let done = false;
  const so = (co?: Cancellable) => (co?.signal ? { signal: co.signal } : o.signal ? { signal: o.signal } : {});
  return {
    name: `docker-archive:${file}${ref ? `:${formatReference(ref)}` : ''}`,
    blobScope: `docker-archive:${spool}`,
    capabilities: { manifestFormats: ['docker'], mustDecompressLayers: true, supportsIndex: false },
    hasBlob: async (desc) => layers.has(desc.digest) || blobs.has(desc.digest),
    async putBlob(desc, body, co) {
      const d = parseDigest(desc.digest);
      const c = layerCompression(desc.mediaType);
      if (c === undefined) {
        const path = join(spool, `${digestHex(d)}.blob`);
        await writeFileVerified(path, body, { digest: d, size: desc.size }, so(co));
        blobs.set(d, path);
        return;
      }
      const { stream } = await decompress(verifying(body, desc), { compression: c, ...so(co) });
      const path = join(spool, `${digestHex(d)}.layer`);
      const r = await writeFileVerified(path, stream, undefined, so(co));
      layers.set(d, { path, diffId: r.digest, size: r.size });
    },
    async putManifest(bytes, desc, co) {
      if (!co?.top) throw new SkiffError('EUNSUPPORTED', 'docker-archive holds a single image, not an index');
      const m = parseAnyManifest(bytes, { mediaType: desc.mediaType });
      if (m.kind !== 'manifest') throw new SkiffError('EUNSUPPORTED', 'docker-archive can only hold an image manifest; select a platform');
      top = m.manifest;
    },
    async commit(co: CommitOpts = {}) {
      if (!top) throw new SkiffError('EINVALID', 'commit called before the manifest was written');
      const cfgPath = blobs.get(top.config.digest);
      if (cfgPath === undefined) throw new SkiffError('ENOTFOUND', `config ${top.config.digest} was not written`);
      const cfgBytes = await readSmallFile(cfgPath, 'config');
      const diffIds = parseImageConfig(cfgBytes).rootfs.diff_ids;
      if (diffIds.length !== top.layers.length) throw new SkiffError('EINVALID', `config lists ${diffIds.length} diff_ids for ${top.layers.length} layers`);
      const ls = top.layers.map((l, i) => {
        const s = layers.get(l.digest);
        if (!s) throw new SkiffError('ENOTFOUND', `layer ${l.digest} was not written`);
        if (s.diffId !== diffIds[i]) throw new SkiffError('EINTEGRITY', `layer ${i} decompresses to ${s.diffId}, the config says ${diffIds[i]}`);
        return s;
      });
      const tags = [...(ref ? [ref] : []), ...(co.additionalTags ?? []).map((t) => parseReference(t))].map(repoTagOf);
      writer = await ArchiveWriter.create(abs);
      const names: string[] = [];
      const seen = new Set<string>();
      for (const l of ls) {
        const name = `${digestHex(l.diffId)}.tar`;
        names.push(name);
        if (seen.has(name)) continue;
        seen.add(name);
        await writer.add(name, 'file', createReadStream(l.path), l.size);
      }
      const cfgName = `${digestHex(top.config.digest)}.json`;
      await writer.add(cfgName, 'file', cfgBytes);
      await writer.add('manifest.json', 'file', Buffer.from(JSON.stringify([{ Config: cfgName, RepoTags: tags, Layers: names }])));
      if (tags.length > 0 && ls.length > 0) {
        const repos: Record<string, Record<string, string>> = {};
        const last = digestHex(ls[ls.length - 1]!.diffId);
        for (const t of tags) {
          const c = t.lastIndexOf(':');
          (repos[t.slice(0, c)] ??= {})[t.slice(c + 1)] = last;
        }
        await writer.add('repositories', 'file', Buffer.from(JSON.stringify(repos)));
      }
      await writer.commit();
      done = true;
      await rm(spool, { recursive: true, force: true });
    },
    async close() {
      if (!done) await writer?.abort();
      done = true;
      await rm(spool, { recursive: true, force: true });
    },
  };
}
