import { SkiffError } from '../errors.ts';

/** Media types of the OCI image-spec and Docker's v2 schema 2, as they appear on the wire. */
export const MediaType = {
  OciLayout: 'application/vnd.oci.layout.header.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** Media types that denote a single-image manifest. */
export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([MediaType.OciManifest, MediaType.DockerManifest]);
/** Media types that denote an index / manifest list. */
export const INDEX_MEDIA_TYPES: ReadonlySet<string> = new Set([MediaType.OciIndex, MediaType.DockerManifestList]);

/** Standard annotation keys. */
export const Annotation = {
  RefName: 'org.opencontainers.image.ref.name',
  Created: 'org.opencontainers.image.created',
  /** skiff's mark on index.json entries that lost their name (a retagged or intermediate image). */
  Dangling: 'io.skiff.dangling',
  /**
   * skiff's mark on the index.json entry of a manifest list: the list's image ID (`sha256:` + 64 hex), made when the
   * list is created and carried to every edited version, so the ID stays while the index digest changes (podman's).
   */
  ListId: 'io.skiff.list.id',
  /**
   * skiff's mark on the index.json entry of a manifest list: its entries added by reference (podman's `manifest add
   * docker://…`), as JSON `{"<manifest digest>": "<registry>/<repository>"}`. Their manifest and config are stored,
   * their layers stay at that repository until `manifest push` copies them.
   */
  ListSources: 'io.skiff.list.sources',
} as const;

/** Layer compression as detected from content or media type. */
export type Compression = 'none' | 'gzip' | 'zstd';

/** The compression a layer media type declares, or undefined when it is not a known layer type. */
export function layerCompression(mediaType: string): Compression | undefined {
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.tar.gzip')) return 'gzip';
  if (mediaType.endsWith('+zstd')) return 'zstd';
  if (mediaType.endsWith('.tar')) return 'none';
  return undefined;
}

/** A manifest format skiff reads and writes. */
export type ManifestFormat = 'oci' | 'docker';

/**
 * The one table of layer media types: each row is one kind of layer (compression, distributable or foreign) in
 * both formats; `docker` is absent where Docker schema 2 has no type for it (zstd, uncompressed foreign layers).
 * Every conversion of layer media types between the formats goes through this table.
 */
const LAYER_TYPES: ReadonlyArray<{ compression: Compression; foreign: boolean; oci: string; docker?: string }> = [
  { compression: 'none', foreign: false, oci: MediaType.OciLayer, docker: MediaType.DockerLayer },
  { compression: 'gzip', foreign: false, oci: MediaType.OciLayerGzip, docker: MediaType.DockerLayerGzip },
  { compression: 'zstd', foreign: false, oci: MediaType.OciLayerZstd },
  { compression: 'none', foreign: true, oci: MediaType.OciLayerNondistributable },
  { compression: 'gzip', foreign: true, oci: MediaType.OciLayerNondistributableGzip, docker: MediaType.DockerLayerForeignGzip },
  { compression: 'zstd', foreign: true, oci: MediaType.OciLayerNondistributableZstd },
];

function unsupported(format: ManifestFormat, what: string): SkiffError {
  return new SkiffError('EUNSUPPORTED', `${what} has no ${format === 'docker' ? 'Docker schema 2' : 'OCI'} layer media type`, {
    hint: format === 'docker' ? 'keep the OCI format (--format oci), or recompress with gzip' : 'this layer type cannot be written in OCI format',
  });
}

/**
 * The layer media type of `format` for a layer with compression `c` (foreign: Docker's foreign / OCI's
 * non-distributable kind). Throws EUNSUPPORTED where the format has none (zstd in Docker schema 2).
 */
export function layerMediaType(format: ManifestFormat, c: Compression, o: { foreign?: boolean } = {}): string {
  const row = LAYER_TYPES.find((r) => r.compression === c && r.foreign === (o.foreign ?? false));
  const out = row?.[format];
  if (out === undefined) throw unsupported(format, `a ${c === 'none' ? 'uncompressed' : c}${o.foreign ? ' foreign' : ''} layer`);
  return out;
}

/**
 * `mediaType` (a layer type of either format) as `format` writes it; a type already in `format` is returned as
 * is. undefined for a type the table does not know (an artifact's blob, a vendor type).
 */
export function layerMediaTypeIn(mediaType: string, format: ManifestFormat): string | undefined {
  const row = LAYER_TYPES.find((r) => r.oci === mediaType || r.docker === mediaType);
  if (row === undefined) return undefined;
  const out = row[format];
  if (out === undefined) throw unsupported(format, `layer media type ${mediaType}`);
  return out;
}

/** As layerMediaTypeIn, but a type the table does not know is EUNSUPPORTED (conversions that must map every layer). */
export function convertLayerMediaType(mediaType: string, format: ManifestFormat): string {
  const out = layerMediaTypeIn(mediaType, format);
  if (out === undefined) throw unsupported(format, `layer media type ${mediaType}`);
  return out;
}

/** The manifest media type of `format`. */
export function manifestMediaType(format: ManifestFormat): string {
  return format === 'docker' ? MediaType.DockerManifest : MediaType.OciManifest;
}

/** The image config media type of `format`. */
export function configMediaType(format: ManifestFormat): string {
  return format === 'docker' ? MediaType.DockerConfig : MediaType.OciConfig;
}

/** The index / manifest list media type of `format`. */
export function indexMediaType(format: ManifestFormat): string {
  return format === 'docker' ? MediaType.DockerManifestList : MediaType.OciIndex;
}

/** The format a manifest or index media type belongs to (anything not Docker's is treated as OCI). */
export function formatOfMediaType(mediaType: string): ManifestFormat {
  return mediaType === MediaType.DockerManifest || mediaType === MediaType.DockerManifestList ? 'docker' : 'oci';
}
