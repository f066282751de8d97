import type { Readable } from 'node:stream';
import { SkiffError, throwIfAborted } from '../errors.ts';
import { digestOf, parseDigest, type Digest } from './digest.ts';
import { MAX_DOCUMENT_BYTES } from './document-size.ts';
import { INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, MediaType } from './media-types.ts';
import type { Descriptor, ImageConfig, Index, Manifest, Platform } from './types.ts';

/**
 * Limits applied while parsing untrusted JSON documents (LS-16). Every field has a default; callers override
 * only what they need. All limits are checked before the costly part of the work (reading, per-item validation).
 */
export interface ValidationLimits {
  /** Largest manifest / index / config body accepted, in bytes (4 MiB, as containers/image iolimits). */
  maxManifestBytes: number;
  /** Largest image config accepted, in bytes. */
  maxConfigBytes: number;
  /** Most layers (and rootfs.diff_ids) in one manifest / config. */
  maxLayers: number;
  /** Most entries in one index / manifest list. */
  maxManifests: number;
  /** Deepest chain of nested indexes followed from a top-level index (top level = depth 0). */
  maxIndexDepth: number;
  /** Most history entries in one config. */
  maxHistory: number;
}

/** The default limits: 4 MiB documents, 1000 layers, 10000 index entries, nesting depth 8. */
export const DEFAULT_LIMITS: Readonly<ValidationLimits> = Object.freeze({
  maxManifestBytes: MAX_DOCUMENT_BYTES,
  maxConfigBytes: MAX_DOCUMENT_BYTES,
  maxLayers: 1000,
  maxManifests: 10_000,
  maxIndexDepth: 8,
  maxHistory: 10_000,
});

/** Fills unspecified limits with the defaults. */
export function resolveLimits(l?: Partial<ValidationLimits>): ValidationLimits {
  return { ...DEFAULT_LIMITS, ...l };
}

// RFC 6838 restricted-name, as the image-spec descriptor schema uses it.
const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/** True when `s` is a syntactically valid media type (`type/subtype`, RFC 6838, no parameters). */
export function isValidMediaType(s: unknown): s is string {
  return typeof s === 'string' && MEDIA_TYPE_RE.test(s);
}

/** Media types that say nothing about the document (HTTP defaults); treated as "not declared". */
const GENERIC_MEDIA_TYPES = new Set(['application/json', 'application/octet-stream', 'text/plain', 'binary/octet-stream']);

/**
 * Normalises a declared media type (descriptor or Content-Type): strips parameters and whitespace and returns
 * undefined for generic HTTP types that declare nothing.
 */
export function normalizeDeclaredMediaType(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const base = s.split(';', 1)[0]!.trim();
  if (base === '' || GENERIC_MEDIA_TYPES.has(base.toLowerCase())) return undefined;
  return base;
}

function invalid(what: string, msg: string, hint?: string): SkiffError {
  return new SkiffError('EINVALID', `invalid ${what}: ${msg}`, hint === undefined ? {} : { hint });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkStringMap(v: unknown, what: string): Record<string, string> {
  if (!isObject(v)) throw invalid(what, 'must be an object of strings');
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') throw invalid(what, `value of ${JSON.stringify(k)} is not a string`);
  return v as Record<string, string>;
}

function checkStringArray(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalid(what, 'must be an array of strings');
  return v as string[];
}

/** Validates a size field: a non-negative safe integer (rejects −1, 2^63, fractions, strings). */
export function parseSize(v: unknown, what = 'size'): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw invalid(what, `${JSON.stringify(v)} is not a non-negative integer below 2^53`);
  }
  return v;
}

/** Validates a platform object (os and architecture required strings). */
export function parsePlatformObject(v: unknown, what = 'platform'): Platform {
  if (!isObject(v)) throw invalid(what, 'must be an object');
  if (typeof v.os !== 'string' || v.os === '') throw invalid(what, 'os must be a non-empty string');
  if (typeof v.architecture !== 'string' || v.architecture === '') throw invalid(what, 'architecture must be a non-empty string');
  if (v.variant !== undefined && typeof v.variant !== 'string') throw invalid(what, 'variant must be a string');
  if (v['os.version'] !== undefined && typeof v['os.version'] !== 'string') throw invalid(what, 'os.version must be a string');
  if (v['os.features'] !== undefined) checkStringArray(v['os.features'], `${what} os.features`);
  if (v.features !== undefined) checkStringArray(v.features, `${what} features`);
  return v as unknown as Platform;
}

/**
 * Validates one content descriptor: digest via parseDigest, size a non-negative safe integer, mediaType a
 * syntactically valid media type; optional urls / annotations / platform / artifactType / data checked too
 * (embedded `data` must decode to exactly `size` bytes hashing to `digest`). Returns the same object, typed.
 */
export function parseDescriptor(v: unknown, what = 'descriptor'): Descriptor {
  if (!isObject(v)) throw invalid(what, 'must be an object');
  if (!isValidMediaType(v.mediaType)) throw invalid(what, `mediaType ${JSON.stringify(v.mediaType)} is not a valid media type`);
  const digest = parseDigest(v.digest, `${what} digest`);
  const size = parseSize(v.size, `${what} size`);
  if (v.urls !== undefined) checkStringArray(v.urls, `${what} urls`);
  if (v.annotations !== undefined) checkStringMap(v.annotations, `${what} annotations`);
  if (v.platform !== undefined) parsePlatformObject(v.platform, `${what} platform`);
  if (v.artifactType !== undefined && !isValidMediaType(v.artifactType)) throw invalid(what, 'artifactType is not a valid media type');
  if (v.data !== undefined) {
    if (typeof v.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v.data)) throw invalid(what, 'data is not base64');
    const bytes = Buffer.from(v.data, 'base64');
    if (bytes.length !== size || digestOf(bytes) !== digest) throw invalid(what, 'embedded data does not match size and digest');
  }
  return v as unknown as Descriptor;
}

function checkBytes(bytes: Uint8Array, max: number, what: string): void {
  if (bytes.length > max) {
    throw new SkiffError('ELIMIT', `${what} is ${bytes.length} bytes, above the limit of ${max} bytes`, {
      hint: 'the document is unreasonably large; it may be malicious',
    });
  }
}

function parseJsonObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw invalid(what, `not JSON (${(e as Error).message})`);
  }
  if (!isObject(v)) throw invalid(what, 'top level is not a JSON object');
  return v;
}

/** Options shared by the document parsers. */
export interface ParseOptions {
  /** The media type declared by the descriptor or Content-Type that led here; must agree with the body. */
  mediaType?: string;
  limits?: Partial<ValidationLimits>;
}

/**
 * The media type a manifest-like body declares or, failing that, looks like: its `mediaType` field; else
 * `manifests` → OCI index; `config`+`layers` → OCI manifest; schemaVersion 1 → Docker schema 1. Undefined when
 * nothing fits or the body is not a JSON object. Never throws (except ELIMIT above the size cap).
 */
export function detectManifestMediaType(bytes: Uint8Array, limits?: Partial<ValidationLimits>): string | undefined {
  checkBytes(bytes, resolveLimits(limits).maxManifestBytes, 'manifest');
  let v: Record<string, unknown>;
  try {
    v = parseJsonObject(bytes, 'manifest');
  } catch {
    return undefined;
  }
  return detectFromObject(v);
}

function detectFromObject(v: Record<string, unknown>): string | undefined {
  if (typeof v.mediaType === 'string' && v.mediaType !== '') return v.mediaType;
  if (v.schemaVersion === 1) {
    return 'signatures' in v ? 'application/vnd.docker.distribution.manifest.v1+prettyjws' : 'application/vnd.docker.distribution.manifest.v1+json';
  }
  if ('manifests' in v) return MediaType.OciIndex;
  if ('config' in v && 'layers' in v) return MediaType.OciManifest;
  return undefined;
}

/** A parsed manifest-like document with its exact bytes (digests are always over `bytes`). */
export type AnyManifest =
  | { kind: 'manifest'; mediaType: string; digest: Digest; bytes: Uint8Array; manifest: Manifest }
  | { kind: 'index'; mediaType: string; digest: Digest; bytes: Uint8Array; index: Index }
  | { kind: 'unknown'; mediaType: string | undefined; digest: Digest; bytes: Uint8Array };

/**
 * Resolves the effective media type of a body and rejects disagreement between the declared type and the
 * body's own `mediaType` (LS-15, CVE-2021-41190).
 */
function effectiveMediaType(v: Record<string, unknown>, declared: string | undefined): string | undefined {
  const decl = normalizeDeclaredMediaType(declared);
  const body = v.mediaType;
  if (body !== undefined && !isValidMediaType(body)) throw invalid('manifest', `mediaType ${JSON.stringify(body)} is not a valid media type`);
  if (decl !== undefined && body !== undefined && body !== decl) {
    throw new SkiffError('EINVALID', `manifest mediaType ${body} disagrees with the declared ${decl}`, {
      hint: 'the document is ambiguous or malicious (CVE-2021-41190); refusing it',
      details: { declared: decl, body },
    });
  }
  return decl ?? detectFromObject(v);
}

function checkSchemaVersion(v: Record<string, unknown>, what: string): void {
  if (v.schemaVersion !== 2) throw invalid(what, `schemaVersion ${JSON.stringify(v.schemaVersion)} is not 2`);
}

function validateManifestObject(v: Record<string, unknown>, mediaType: string, l: ValidationLimits): Manifest {
  const what = 'manifest';
  checkSchemaVersion(v, what);
  if ('manifests' in v) {
    throw new SkiffError('EINVALID', 'invalid manifest: it contains a "manifests" array as an index would', {
      hint: 'the document is ambiguous or malicious (CVE-2021-41190); refusing it',
    });
  }
  if (mediaType === MediaType.DockerManifest && v.mediaType !== MediaType.DockerManifest) {
    throw invalid(what, 'Docker schema 2 manifests must carry their mediaType');
  }
  if (!Array.isArray(v.layers)) throw invalid(what, 'layers must be an array');
  if (v.layers.length > l.maxLayers) {
    throw new SkiffError('ELIMIT', `manifest has ${v.layers.length} layers, above the limit of ${l.maxLayers}`);
  }
  parseDescriptor(v.config, 'manifest config descriptor');
  v.layers.forEach((d, i) => parseDescriptor(d, `manifest layer ${i} descriptor`));
  if (v.subject !== undefined) parseDescriptor(v.subject, 'manifest subject descriptor');
  if (v.annotations !== undefined) checkStringMap(v.annotations, 'manifest annotations');
  if (v.artifactType !== undefined && !isValidMediaType(v.artifactType)) throw invalid(what, 'artifactType is not a valid media type');
  return v as unknown as Manifest;
}

function validateIndexObject(v: Record<string, unknown>, mediaType: string, l: ValidationLimits): Index {
  const what = 'index';
  checkSchemaVersion(v, what);
  if ('layers' in v || 'config' in v) {
    throw new SkiffError('EINVALID', 'invalid index: it contains "layers" or "config" as a manifest would', {
      hint: 'the document is ambiguous or malicious (CVE-2021-41190); refusing it',
    });
  }
  if (mediaType === MediaType.DockerManifestList && v.mediaType !== MediaType.DockerManifestList) {
    throw invalid(what, 'Docker manifest lists must carry their mediaType');
  }
  if (!Array.isArray(v.manifests)) throw invalid(what, 'manifests must be an array');
  if (v.manifests.length > l.maxManifests) {
    throw new SkiffError('ELIMIT', `index has ${v.manifests.length} entries, above the limit of ${l.maxManifests}`);
  }
  v.manifests.forEach((d, i) => parseDescriptor(d, `index entry ${i} descriptor`));
  if (v.subject !== undefined) parseDescriptor(v.subject, 'index subject descriptor');
  if (v.annotations !== undefined) checkStringMap(v.annotations, 'index annotations');
  return v as unknown as Index;
}

/**
 * Parses any manifest-like document from raw bytes under the size cap. Known manifest and index types are fully
 * validated (LS-15, LS-16); unknown media types are tolerated (kind 'unknown') so they can be stored and copied,
 * but a body that claims a known type different from the declared one is rejected.
 */
export function parseAnyManifest(bytes: Uint8Array, opts: ParseOptions = {}): AnyManifest {
  const l = resolveLimits(opts.limits);
  checkBytes(bytes, l.maxManifestBytes, 'manifest');
  const digest = digestOf(bytes);
  let v: Record<string, unknown>;
  try {
    v = parseJsonObject(bytes, 'manifest');
  } catch (e) {
    const decl = normalizeDeclaredMediaType(opts.mediaType);
    // Unknown non-JSON content under an unknown declared type is opaque: store and copy it as is.
    if (decl !== undefined && !MANIFEST_MEDIA_TYPES.has(decl) && !INDEX_MEDIA_TYPES.has(decl)) return { kind: 'unknown', mediaType: decl, digest, bytes };
    throw e;
  }
  const mt = effectiveMediaType(v, opts.mediaType);
  if (mt !== undefined && MANIFEST_MEDIA_TYPES.has(mt)) return { kind: 'manifest', mediaType: mt, digest, bytes, manifest: validateManifestObject(v, mt, l) };
  if (mt !== undefined && INDEX_MEDIA_TYPES.has(mt)) return { kind: 'index', mediaType: mt, digest, bytes, index: validateIndexObject(v, mt, l) };
  if ('manifests' in v && ('layers' in v || 'config' in v)) {
    throw new SkiffError('EINVALID', 'invalid manifest: it has both "manifests" and "layers"/"config"', {
      hint: 'the document is ambiguous or malicious (CVE-2021-41190); refusing it',
    });
  }
  return { kind: 'unknown', mediaType: mt, digest, bytes };
}

/** Parses and validates an image manifest (OCI or Docker v2s2); anything else is EINVALID. */
export function parseManifest(bytes: Uint8Array, opts: ParseOptions = {}): Extract<AnyManifest, { kind: 'manifest' }> {
  const m = parseAnyManifest(bytes, opts);
  if (m.kind !== 'manifest') throw invalid('manifest', `expected an image manifest, got ${m.kind === 'index' ? 'an index' : `media type ${m.mediaType ?? 'unknown'}`}`);
  return m;
}

/** Parses and validates an image index / Docker manifest list; anything else is EINVALID. */
export function parseIndex(bytes: Uint8Array, opts: ParseOptions = {}): Extract<AnyManifest, { kind: 'index' }> {
  const m = parseAnyManifest(bytes, opts);
  if (m.kind !== 'index') throw invalid('index', `expected an index, got ${m.kind === 'manifest' ? 'an image manifest' : `media type ${m.mediaType ?? 'unknown'}`}`);
  return m;
}

/**
 * Parses and validates an image config (OCI or Docker) from raw bytes under the config size cap: os and
 * architecture strings, rootfs.type "layers", diff_ids valid digests (count ≤ maxLayers), history entries
 * objects, the runtime fields of `config` typed as the spec says.
 */
export function parseImageConfig(bytes: Uint8Array, opts: { limits?: Partial<ValidationLimits> } = {}): ImageConfig {
  const l = resolveLimits(opts.limits);
  checkBytes(bytes, l.maxConfigBytes, 'image config');
  const v = parseJsonObject(bytes, 'image config');
  const what = 'image config';
  if (typeof v.architecture !== 'string') throw invalid(what, 'architecture must be a string');
  if (typeof v.os !== 'string') throw invalid(what, 'os must be a string');
  if (v.created !== undefined && typeof v.created !== 'string') throw invalid(what, 'created must be a string');
  const rootfs = v.rootfs;
  if (!isObject(rootfs) || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) {
    throw invalid(what, 'rootfs must be {"type":"layers","diff_ids":[…]}');
  }
  if (rootfs.diff_ids.length > l.maxLayers) throw new SkiffError('ELIMIT', `image config has ${rootfs.diff_ids.length} diff_ids, above the limit of ${l.maxLayers}`);
  rootfs.diff_ids.forEach((d, i) => parseDigest(d, `diff_id ${i}`));
  if (v.history !== undefined) {
    if (!Array.isArray(v.history)) throw invalid(what, 'history must be an array');
    if (v.history.length > l.maxHistory) throw new SkiffError('ELIMIT', `image config has ${v.history.length} history entries, above the limit of ${l.maxHistory}`);
    v.history.forEach((h, i) => {
      if (!isObject(h)) throw invalid(what, `history ${i} is not an object`);
      if (h.empty_layer !== undefined && typeof h.empty_layer !== 'boolean') throw invalid(what, `history ${i} empty_layer is not a boolean`);
    });
  }
  const c = v.config;
  if (c !== undefined && c !== null) {
    if (!isObject(c)) throw invalid(what, 'config must be an object');
    for (const k of ['Env', 'Shell'] as const) if (c[k] != null) checkStringArray(c[k], `config ${k}`);
    for (const k of ['Cmd', 'Entrypoint', 'OnBuild'] as const) if (c[k] != null) checkStringArray(c[k], `config ${k}`);
    for (const k of ['User', 'WorkingDir', 'StopSignal'] as const) if (c[k] != null && typeof c[k] !== 'string') throw invalid(what, `config ${k} must be a string`);
    if (c.Labels != null) checkStringMap(c.Labels, 'config Labels');
    for (const k of ['ExposedPorts', 'Volumes'] as const) if (c[k] != null && !isObject(c[k])) throw invalid(what, `config ${k} must be an object`);
  }
  return v as unknown as ImageConfig;
}

/**
 * Reads a whole stream into memory, failing with ELIMIT (and destroying the stream) as soon as more than
 * `maxBytes` have arrived: a 200 MB body costs at most `maxBytes` + one chunk of memory. For manifests and
 * configs only, never layers.
 */
export async function readAllLimited(
  stream: Readable | AsyncIterable<Uint8Array>,
  maxBytes: number,
  opts: { signal?: AbortSignal; what?: string } = {},
): Promise<Uint8Array> {
  throwIfAborted(opts.signal);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const destroy = (e?: Error) => {
    const s = stream as Partial<Readable>;
    if (typeof s.destroy === 'function') s.destroy(e);
  };
  const onAbort = () => destroy(new SkiffError('EABORT', 'operation cancelled'));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of stream) {
      throwIfAborted(opts.signal);
      const c = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      total += c.length;
      if (total > maxBytes) {
        const e = new SkiffError('ELIMIT', `${opts.what ?? 'document'} is larger than the limit of ${maxBytes} bytes`, {
          hint: 'the document is unreasonably large; it may be malicious',
        });
        destroy();
        throw e;
      }
      chunks.push(c);
    }
  } catch (e) {
    if (opts.signal?.aborted) throw new SkiffError('EABORT', 'operation cancelled', { cause: opts.signal.reason });
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  return Buffer.concat(chunks, total);
}
