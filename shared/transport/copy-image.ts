import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { SkiffError, throwIfAborted, type Cancellable } from '../errors.ts';
import { digestHex, digestMismatch, digestOf, type Digest } from '../oci/digest.ts';
import { formatOfMediaType, indexMediaType, layerCompression, layerMediaType, manifestMediaType, type Compression, type ManifestFormat } from '../oci/media-types.ts';
import type { Descriptor, Index, Manifest, Platform } from '../oci/types.ts';
import { parseAnyManifest, type AnyManifest } from '../oci/validate.ts';
import { imageFromSource } from '../image/image.ts';
import { resolveImage } from '../image/index-view.ts';
import { layerFromOpener, type Layer } from '../image/layer.ts';
import { convertFormat, replaceLayers } from '../image/mutate.ts';
import { rewriteIndex } from '../image/compose.ts';
import { fetchVerifiedDocument, type ManifestBytes } from '../image/source.ts';
import { verifying, writeFileVerified } from './files.ts';
import { BlobScheduler } from './scheduler.ts';
import { noteStreamedBytes } from './buffer-gc.ts';
import type { BlobLender } from '../oci/blob-lender.ts';
import type { ImageTarget, OpenedSource } from './types.ts';

/** A progress report of copyImage (for the CLI's progress bars; never written to stdout by the library). */
export interface ProgressEvent {
  kind: 'blob-start' | 'blob-progress' | 'blob-done' | 'blob-skip' | 'manifest' | 'done';
  digest?: string;
  size?: number;
  /** Bytes sent so far (blob-progress, blob-done). */
  bytes?: number;
  reason?: 'exists' | 'mounted';
  mediaType?: string;
}

/** Options of copyImage (skopeo copy's flags). */
export interface CopyOptions {
  /** From an index: `system` (default) copies the image for `platform` or the host; `all` every image and the index; `index-only` the index alone. */
  multiArch?: 'system' | 'all' | 'index-only';
  platform?: Platform;
  /** Refuse any change that would alter the manifest digest. */
  preserveDigests?: boolean;
  /** Manifest format to write (`--format oci|v2s2`). */
  format?: 'oci' | 'docker';
  /** Recompress layers that are not already in this compression. */
  compressFormat?: 'gzip' | 'zstd';
  compressLevel?: number;
  removeSignatures?: boolean;
  /**
   * Adds signatures for what the destination actually stored: called once, after the top manifest is written and
   * before commit, with its exact bytes and digest; returns signature blobs (see signature/blob.ts) stored after
   * the carried ones. The destination must be able to store signatures (checked before anything is written).
   */
  sign?: (manifestBytes: Uint8Array, digest: Digest, o: Cancellable) => Promise<Uint8Array[]>;
  /** Concurrent blob copies (default 6); ignored when `scheduler` is given. */
  parallel?: number;
  /** A scheduler shared with other copies (sync): bounds and de-duplicates blob copies across them. */
  scheduler?: BlobScheduler;
  additionalTags?: string[];
  /** Where recompressed layers are spooled (default os.tmpdir()). */
  tmpDir?: string;
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
}

/** What copyImage wrote: the digest the destination's name now points at. */
export interface CopyResult {
  digest: Digest;
  /** The destination had this manifest already; only the name was committed. */
  skipped: boolean;
  /** Manifests and indexes written. */
  manifests: number;
}

interface BlobJob {
  desc: Descriptor;
  /** `sinkVerifies`: the target hashes the bytes itself, so the source may skip its own digest. */
  open: (o: { signal?: AbortSignal; sinkVerifies?: boolean }) => Promise<Readable>;
  /** The blob lent instead (a source's lendBlob); undefined (or resolving undefined): open it. */
  lend?: (o: { signal?: AbortSignal; sinkVerifies?: boolean }) => Promise<BlobLender | undefined>;
}

/** An image ready to write: the final manifest bytes and the blobs it references (layers, then config). */
interface Plan {
  desc: Descriptor;
  bytes: Uint8Array;
  layers: BlobJob[];
  config: BlobJob;
}

/** Counts a blob's bytes and reports the count every MiB. */
class ByteProgress {
  bytes = 0;
  #last = 0;
  readonly #emit: (bytes: number) => void;
  constructor(emit: (bytes: number) => void) {
    this.#emit = emit;
  }
  note(n: number): void {
    this.bytes += n;
    if (this.bytes - this.#last >= 1 << 20) {
      this.#last = this.bytes;
      this.#emit(this.bytes);
    }
  }
}

/** A pass-through stream that reports progress (and lets buffer-gc count streamed bytes). */
class ProgressCounter extends Transform {
  readonly progress: ByteProgress;
  constructor(emit: (bytes: number) => void) {
    super();
    this.progress = new ByteProgress(emit);
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.progress.note(chunk.length);
    noteStreamedBytes(chunk.length);
    cb(null, chunk);
  }
}

/** A lender whose chunks are counted by `progress` on their way to the sink. */
function countedLender(lender: BlobLender, progress: ByteProgress): BlobLender {
  return {
    lend: (sink) =>
      lender.lend((chunk) => {
        progress.note(chunk.length);
        return sink(chunk);
      }),
    cancel: () => lender.cancel(),
  };
}

const formatOf = formatOfMediaType;

/** The refusal when the destination takes only `fmt` and --preserve-digests forbids converting to it. */
function mustConvert(mediaType: string, dst: string): SkiffError {
  return new SkiffError('EINVALID', `manifest must be converted to ${mediaType} to be written to ${dst}, but --preserve-digests forbids it: cannot preserve digests`, {
    hint: `${dst.split(':')[0]}: holds OCI images only; drop --preserve-digests to convert, or copy to dir: or a registry to keep the Docker format`,
  });
}

function wouldChange(what: string): SkiffError {
  return new SkiffError('EINVALID', `cannot preserve digests: ${what} would change the manifest digest`, { hint: 'drop --preserve-digests, or the option that changes the image' });
}

/** One copy's state: source, target, options, scheduler, spool dir and counters. */
class Copier {
  readonly src: OpenedSource;
  readonly dst: ImageTarget;
  readonly o: CopyOptions;
  readonly sched: BlobScheduler;
  readonly so: Cancellable;
  manifests = 0;
  /** The bytes of the top manifest last written (what signing covers). */
  topBytes: Uint8Array | undefined;
  #spool: Promise<string> | undefined;

  constructor(src: OpenedSource, dst: ImageTarget, o: CopyOptions) {
    this.src = src;
    this.dst = dst;
    this.o = o;
    this.sched = o.scheduler ?? new BlobScheduler(o.parallel ?? 6);
    this.so = { signal: o.signal };
  }

  emit(e: ProgressEvent): void {
    this.o.onProgress?.(e);
  }

  spoolDir(): Promise<string> {
    this.#spool ??= mkdtemp(join(this.o.tmpDir ?? tmpdir(), 'skiff-recompress-'));
    return this.#spool;
  }

  async cleanup(): Promise<void> {
    if (this.#spool) await rm(await this.#spool.catch(() => ''), { recursive: true, force: true }).catch(() => {});
  }

  /** Copies one blob through the shared scheduler: HEAD, mount, or stream source → destination. */
  async copyBlob(job: BlobJob): Promise<void> {
    const { desc } = job;
    const key = `${this.dst.blobScope ?? this.dst.name}\n${desc.digest}`;
    const r = await this.sched.run(
      key,
      async (): Promise<'exists' | 'mounted' | 'copied'> => {
        if (await this.dst.hasBlob(desc, this.so)) return 'exists';
        const from = (await this.src.blobOrigin?.(desc, this.so)) ?? this.src.registryRepository;
        if (from && this.dst.mountBlob && (await this.dst.mountBlob(desc, from, this.so))) return 'mounted';
        this.emit({ kind: 'blob-start', digest: desc.digest, size: desc.size, mediaType: desc.mediaType });
        // One hash per blob: when the target verifies what it writes, the source only checks sizes.
        const ro = this.dst.capabilities.verifiesBlobs ? { ...this.so, sinkVerifies: true } : this.so;
        const emit = (bytes: number): void => this.emit({ kind: 'blob-progress', digest: desc.digest, size: desc.size, bytes });
        const lender = this.dst.putLentBlob && job.lend ? await job.lend(ro) : undefined;
        let bytes: number;
        if (lender) {
          const progress = new ByteProgress(emit);
          await this.dst.putLentBlob!(desc, countedLender(lender, progress), this.so);
          bytes = progress.bytes;
        } else {
          const body = await job.open(ro);
          const counter = new ProgressCounter(emit);
          body.on('error', (e) => counter.destroy(e));
          await this.dst.putBlob(desc, body.pipe(counter), this.so);
          bytes = counter.progress.bytes;
        }
        this.emit({ kind: 'blob-done', digest: desc.digest, size: desc.size, bytes, mediaType: desc.mediaType });
        return 'copied';
      },
      this.o.signal,
    );
    if (r.shared || r.value === 'exists') this.emit({ kind: 'blob-skip', digest: desc.digest, size: desc.size, reason: 'exists', mediaType: desc.mediaType });
    else if (r.value === 'mounted') this.emit({ kind: 'blob-skip', digest: desc.digest, size: desc.size, reason: 'mounted', mediaType: desc.mediaType });
  }

  /** Decides the written form of one image (format, compression) and prepares its blobs; writes nothing. */
  async plan(mb: ManifestBytes, m: Manifest): Promise<Plan> {
    const caps = this.dst.capabilities;
    const current = formatOf(mb.mediaType);
    const passThrough = caps.mustDecompressLayers === true; // the target rewrites layers itself
    let fmt = passThrough ? current : (this.o.format ?? (caps.manifestFormats.includes(current) ? current : caps.manifestFormats[0]!));
    // A registry should not hold uncompressed tars (docker-archive sources have them): gzip those, and only
    // those, unless a compression was asked for — as containers/image does for docker destinations.
    const implicit = this.o.compressFormat === undefined && caps.compressesLayers === true;
    const want = passThrough ? undefined : (this.o.compressFormat ?? (implicit ? 'gzip' : undefined));
    const redo =
      want === undefined
        ? []
        : m.layers.flatMap((l, i) => {
            const c = layerCompression(l.mediaType);
            return c !== undefined && c !== want && (!implicit || c === 'none') && !l.urls ? [i] : [];
          });
    if (want === 'zstd' && redo.length > 0 && fmt === 'docker') {
      if (this.o.format === 'docker') throw new SkiffError('EUNSUPPORTED', 'zstd layers cannot be written in Docker schema 2 format', { hint: 'use --format oci' });
      fmt = 'oci';
    }
    if (this.o.preserveDigests) {
      if (redo.length > 0) throw wouldChange(`recompressing layers to ${want}`);
      if (fmt !== current && !caps.manifestFormats.includes(current)) throw mustConvert(manifestMediaType(fmt), this.dst.name);
      if (fmt !== current) throw wouldChange(`converting the manifest to ${fmt}`);
      if (passThrough && m.layers.some((l) => layerCompression(l.mediaType) !== 'none')) throw wouldChange(`storing layers uncompressed in ${this.dst.name}`);
    }
    const configJob: BlobJob = { desc: m.config, open: (o) => this.src.getBlob(m.config, o) };
    if (redo.length === 0 && fmt === current) {
      return {
        desc: { mediaType: mb.mediaType, digest: mb.digest, size: mb.bytes.length },
        bytes: mb.bytes,
        layers: m.layers.map((d) => ({ desc: d, open: (o) => this.src.getBlob(d, o), ...(this.src.lendBlob ? { lend: (o) => this.src.lendBlob!(d, o) } : {}) })),
        config: configJob,
      };
    }
    return this.rewrite(mb, fmt, want, new Set(redo));
  }

  /**
   * The image in format `fmt` with the layers in `redo` recompressed to `want`, built by the one image writer
   * (shared/image mutate: convertFormat, replaceLayers — no JSON surgery here). Recompression streams: source
   * blob → decompress (diffID verified) → compress → spool file, hashed as the bytes flow. The config (diff_ids)
   * is unchanged; other layers are read from the source as they are.
   */
  async rewrite(mb: ManifestBytes, fmt: ManifestFormat, want: Compression | undefined, redo: Set<number>): Promise<Plan> {
    const source = imageFromSource(this.src, { digest: mb.digest, prefetched: mb });
    const converted = convertFormat(source, fmt);
    const listed = (await converted.manifest(this.so)).layers;
    const original = (await source.manifest(this.so)).layers;
    let img = converted;
    let layers: { desc: Descriptor; layer: Layer }[] = (await converted.layers(this.so)).map((layer, i) => ({ desc: listed[i]!, layer }));
    if (redo.size > 0) {
      const diffIds = (await converted.config(this.so)).rootfs.diff_ids;
      if (diffIds.length !== listed.length) throw new SkiffError('EINVALID', `image has ${listed.length} layers but its config lists ${diffIds.length} diff_ids`);
      const spool = await this.spoolDir();
      const { compress, decompressWithDiffID } = await import('../layer/compression.ts'); // zlib only when recompressing
      layers = await Promise.all(
        layers.map(async (kept, i) => {
          if (!redo.has(i)) return kept;
          const l = original[i]!;
          const desc = kept.desc;
          return this.sched.limit(async () => {
            const blob = await this.src.getBlob(l, this.so);
            const { stream } = await decompressWithDiffID(blob, { compression: layerCompression(l.mediaType)!, expectDiffID: diffIds[i]!, ...this.so });
            const path = join(spool, `${digestHex(l.digest)}-${want}`);
            const r = await writeFileVerified(path, compress(stream, want!, this.o.compressLevel), undefined, this.so);
            const { annotations, urls: _u, ...rest } = desc;
            const nd: Descriptor = { ...rest, mediaType: layerMediaType(fmt, want!), digest: r.digest, size: r.size, ...(annotations && fmt === 'oci' ? { annotations } : {}) };
            return { desc: nd, layer: layerFromOpener(nd, diffIds[i]!, async () => verifying(createReadStream(path), nd), { verified: true }) };
          }, this.o.signal);
        }),
      );
      img = replaceLayers(converted, layers.map((x) => x.layer));
    }
    const configBytes = await img.rawConfig(this.so);
    const cm = await img.manifest(this.so);
    return {
      desc: await img.descriptor(this.so),
      bytes: await img.rawManifest(this.so),
      layers: layers.map(({ desc, layer }) => ({ desc, open: (o: Cancellable) => layer.compressed(o) })),
      config: { desc: cm.config, open: async () => Readable.from([Buffer.from(configBytes)]) },
    };
  }

  /** Writes a planned image: layers in parallel, then the config, then the manifest. */
  async write(plan: Plan, top: boolean): Promise<void> {
    await Promise.all(plan.layers.map((j) => this.copyBlob(j)));
    throwIfAborted(this.o.signal);
    await this.copyBlob(plan.config);
    throwIfAborted(this.o.signal);
    await this.putManifest(plan.bytes, plan.desc, top);
  }

  async putManifest(bytes: Uint8Array, desc: Descriptor, top: boolean): Promise<void> {
    await this.dst.putManifest(bytes, desc, { top, ...this.so });
    if (top) this.topBytes = bytes;
    this.manifests++;
    this.emit({ kind: 'manifest', digest: desc.digest, size: desc.size, mediaType: desc.mediaType });
  }

  /** Fetches a child document named by an index entry, verified against the entry. */
  async child(d: Descriptor): Promise<{ mb: ManifestBytes; parsed: AnyManifest }> {
    const { bytes } = await fetchVerifiedDocument(this.src, { digest: d.digest, size: d.size }, 'manifest', this.so);
    const mb: ManifestBytes = { bytes, mediaType: d.mediaType, digest: d.digest };
    return { mb, parsed: parseAnyManifest(bytes, { mediaType: d.mediaType }) };
  }

  /** Copies every image of an index (recursively), then the index — rewritten when a child changed. */
  async copyIndex(mb: ManifestBytes, idx: Index, top: boolean, depth: number): Promise<Descriptor> {
    if (depth > 8) throw new SkiffError('ELIMIT', 'nested indexes are deeper than 8 levels');
    const children = await Promise.all(
      idx.manifests.map(async (c): Promise<Descriptor> => {
        const { mb: cmb, parsed } = await this.child(c);
        let nd: Descriptor;
        if (parsed.kind === 'manifest') {
          const plan = await this.plan(cmb, parsed.manifest);
          await this.write(plan, false);
          nd = plan.desc;
        } else if (parsed.kind === 'index') {
          nd = await this.copyIndex(cmb, parsed.index, false, depth + 1);
        } else {
          await this.putManifest(cmb.bytes, c, false);
          nd = c;
        }
        return { ...c, mediaType: nd.mediaType, digest: nd.digest, size: nd.size };
      }),
    );
    let bytes = mb.bytes;
    let mediaType = mb.mediaType;
    const changed = children.some((c, i) => c.digest !== idx.manifests[i]!.digest);
    const caps = this.dst.capabilities;
    const current = formatOf(mb.mediaType);
    // a destination that takes only OCI (oci:, oci-archive:) gets an OCI index, as its manifests are converted
    const fmt: ManifestFormat | undefined = this.o.format ?? (caps.mustDecompressLayers || caps.manifestFormats.includes(current) ? undefined : caps.manifestFormats[0]);
    if (changed || (fmt !== undefined && fmt !== current)) {
      if (this.o.preserveDigests && fmt !== undefined && fmt !== current && !caps.manifestFormats.includes(current)) throw mustConvert(indexMediaType(fmt), this.dst.name);
      if (this.o.preserveDigests) throw wouldChange('rewriting the index');
      const rewritten = rewriteIndex(mb.bytes, children, fmt);
      bytes = rewritten.bytes;
      mediaType = rewritten.mediaType ?? mediaType;
    }
    const desc: Descriptor = { mediaType, digest: digestOf(bytes), size: bytes.length };
    await this.putManifest(bytes, desc, top);
    return desc;
  }
}

/**
 * Copies an image from `src` to `dst` the way skopeo copy does, in containers/image's order: blobs (in
 * parallel through one bounded, de-duplicating BlobScheduler; HEAD first, cross-repository mount when possible)
 * → config → child manifests → the top manifest or index → signatures → commit. Nothing is named at the
 * destination before commit, so a failed or cancelled copy leaves no tag. From an index, `multiArch`
 * selects one image (`system`, the default: `platform` or the host), all of them, or the index alone. Layers
 * stream source → destination; only a compression change spools (recompressed layers get new digests, so
 * the manifest is rewritten). `preserveDigests` refuses any change of the manifest digest; a change of a signed
 * image's manifest is refused unless `removeSignatures` (SG-11). When the destination already has the manifest
 * under its name, only the name is committed (`skipped`).
 */
export async function copyImage(src: OpenedSource, dst: ImageTarget, o: CopyOptions = {}): Promise<CopyResult> {
  const c = new Copier(src, dst, o);
  const so = c.so;
  try {
    throwIfAborted(o.signal);
    const multi = o.multiArch ?? 'system';
    const top = await src.getManifest(undefined, so);
    const topParsed = parseAnyManifest(top.bytes, top.mediaType === '' ? {} : { mediaType: top.mediaType });
    const topMb: ManifestBytes = { bytes: top.bytes, mediaType: topParsed.mediaType ?? top.mediaType, digest: topParsed.digest };
    if (topParsed.digest !== top.digest) throw digestMismatch(top.digest, topParsed.digest);
    const wholeIndex = topParsed.kind === 'index' && multi !== 'system';
    if (wholeIndex && !dst.capabilities.supportsIndex) {
      throw new SkiffError('EUNSUPPORTED', `${dst.name} cannot hold an index`, { hint: 'copy a single platform (--multi-arch system)' });
    }
    // Which source document becomes the destination's top.
    let srcTop: ManifestBytes = topMb;
    let parsed: AnyManifest = topParsed;
    if (topParsed.kind === 'index' && multi === 'system') {
      const img = await resolveImage(src, { platform: o.platform, ...so });
      srcTop = { bytes: await img.rawManifest(so), mediaType: await img.mediaType(so), digest: await img.digest(so) };
      parsed = parseAnyManifest(srcTop.bytes, { mediaType: srcTop.mediaType });
    }
    const sigs = o.removeSignatures ? [] : ((await src.getSignatures?.(srcTop.digest, so)) ?? []);
    if (sigs.length > 0 && !dst.putSignatures) {
      throw new SkiffError('EUNSUPPORTED', `cannot copy signatures to ${dst.name}: it cannot store them`, { hint: 'use --remove-signatures to copy without them' });
    }
    if (o.sign && !dst.putSignatures) throw new SkiffError('EUNSUPPORTED', `cannot sign ${dst.name}: it cannot store signatures`);
    const refuseSigned = (digest: Digest | undefined): void => {
      if (sigs.length > 0 && digest !== srcTop.digest) {
        throw new SkiffError('EINVALID', 'copying this image would invalidate its signatures (the manifest changes)', {
          hint: 'use --remove-signatures to drop them, or copy without recompression or format conversion',
        });
      }
    };
    const finish = async (digest: Digest, skipped: boolean): Promise<CopyResult> => {
      if (o.sign && (c.topBytes === undefined || digestOf(c.topBytes) !== digest)) throw new SkiffError('EINVALID', `cannot sign ${digest}: its manifest was not written by this copy`);
      const added = o.sign ? await o.sign(c.topBytes!, digest, so) : [];
      const all = [...sigs, ...added];
      if (all.length > 0) await dst.putSignatures!(digest, all, so);
      await dst.commit({ ...so, additionalTags: o.additionalTags, incomplete: multi === 'index-only' && topParsed.kind === 'index' });
      o.onProgress?.({ kind: 'done', digest });
      return { digest, skipped, manifests: c.manifests };
    };
    const skip = async (bytes: Uint8Array, desc: Descriptor): Promise<CopyResult | undefined> => {
      if (!dst.hasManifest || !(await dst.hasManifest(desc, so))) return undefined;
      await c.putManifest(bytes, desc, true);
      return finish(desc.digest, true);
    };
    if (parsed.kind === 'index') {
      const desc: Descriptor = { mediaType: srcTop.mediaType, digest: srcTop.digest, size: srcTop.bytes.length };
      if (o.format === undefined && o.compressFormat === undefined) {
        const s = await skip(srcTop.bytes, desc);
        if (s) return s;
      } else refuseSigned(undefined); // a rewritten index (conservatively: any requested change) would not match its signatures
      if (multi === 'index-only') {
        if (o.format !== undefined && o.format !== formatOf(srcTop.mediaType)) throw new SkiffError('EUNSUPPORTED', 'cannot convert the format of an index copied without its images');
        if (!dst.capabilities.manifestFormats.includes(formatOf(srcTop.mediaType))) throw new SkiffError('EUNSUPPORTED', `${dst.name} holds OCI indexes only; a Docker manifest list cannot be converted without its images`, { hint: 'copy with --multi-arch all' });
        await c.putManifest(srcTop.bytes, desc, true);
        return finish(desc.digest, false);
      }
      const written = await c.copyIndex(srcTop, parsed.index, true, 0);
      refuseSigned(written.digest);
      return finish(written.digest, false);
    }
    if (parsed.kind !== 'manifest') {
      const desc: Descriptor = { mediaType: srcTop.mediaType, digest: srcTop.digest, size: srcTop.bytes.length };
      await c.putManifest(srcTop.bytes, desc, true);
      return finish(desc.digest, false);
    }
    const plan = await c.plan(srcTop, parsed.manifest);
    refuseSigned(plan.desc.digest);
    if (!dst.capabilities.mustDecompressLayers) {
      const s = await skip(plan.bytes, plan.desc);
      if (s) return s;
    }
    await c.write(plan, true);
    return await finish(plan.desc.digest, false);
  } finally {
    await c.cleanup();
  }
}

export { BlobScheduler } from './scheduler.ts';
