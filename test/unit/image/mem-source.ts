import { Readable } from 'node:stream';
import { DigestingStream, digestOf, type Digest } from '../../../shared/oci/digest.ts';
import { MediaType } from '../../../shared/oci/media-types.ts';
import type { Descriptor, ImageConfig, Manifest } from '../../../shared/oci/types.ts';
import type { ImageSource, ManifestBytes } from '../../../shared/image/source.ts';
import { gzipSync } from 'node:zlib';

/** An in-memory ImageSource that counts calls (for laziness / memoisation tests). */
export class MemSource implements ImageSource {
  blobs = new Map<string, Uint8Array>();
  manifests = new Map<string, { bytes: Uint8Array; mediaType: string }>();
  top: Digest | undefined;
  calls = { getManifest: 0, getBlob: 0 };

  addBlob(bytes: Uint8Array | string, mediaType = 'application/octet-stream'): Descriptor {
    const b = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    const d = digestOf(b);
    this.blobs.set(d, b);
    return { mediaType, digest: d, size: b.length };
  }
  addManifest(doc: unknown, mediaType: string, top = false): Descriptor {
    const bytes = Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc));
    const d = digestOf(bytes);
    this.manifests.set(d, { bytes, mediaType });
    if (top) this.top = d;
    return { mediaType, digest: d, size: bytes.length };
  }
  async getManifest(digest?: Digest): Promise<ManifestBytes> {
    this.calls.getManifest++;
    const d = digest ?? this.top;
    const m = d === undefined ? undefined : this.manifests.get(d);
    if (m === undefined || d === undefined) throw new Error(`no manifest ${d}`);
    return { bytes: m.bytes, mediaType: m.mediaType, digest: d };
  }
  async getBlob(desc: Descriptor): Promise<Readable> {
    this.calls.getBlob++;
    const b = this.blobs.get(desc.digest);
    if (b === undefined) throw new Error(`no blob ${desc.digest}`);
    return Readable.from([b]).pipe(new DigestingStream({ digest: desc.digest, size: desc.size }));
  }
}

/** A minimal uncompressed tar with one regular file (512-byte header + data + 2 zero blocks). */
export function tinyTar(name: string, content: string): Buffer {
  const data = Buffer.from(content);
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const x of h) sum += x;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([h, data, pad, Buffer.alloc(1024)]);
}

/** Puts a one-layer OCI image into `src` and returns its manifest descriptor and parts. */
export function addTestImage(
  src: MemSource,
  opts: { arch?: string; variant?: string; history?: boolean; top?: boolean; layerText?: string } = {},
): { desc: Descriptor; manifest: Manifest; config: ImageConfig } {
  const tar = tinyTar('hello.txt', opts.layerText ?? 'hello\n');
  const ldesc = src.addBlob(gzipSync(tar), MediaType.OciLayerGzip);
  const diffId = digestOf(tar);
  const config: ImageConfig = {
    architecture: opts.arch ?? 'amd64',
    os: 'linux',
    ...(opts.variant ? { variant: opts.variant } : {}),
    config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    ...(opts.history === false ? {} : { history: [{ created_by: 'ADD hello.txt' }] }),
  };
  const cdesc = src.addBlob(JSON.stringify(config), MediaType.OciConfig);
  const manifest: Manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: cdesc, layers: [ldesc] };
  const desc = src.addManifest(manifest, MediaType.OciManifest, opts.top ?? true);
  return { desc, manifest, config };
}
