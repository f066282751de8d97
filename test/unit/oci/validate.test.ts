import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isSkiffError } from '../../../shared/errors.ts';
import { digestOf } from '../../../shared/oci/digest.ts';
import { MediaType } from '../../../shared/oci/media-types.ts';
import {
  detectManifestMediaType,
  isValidMediaType,
  parseAnyManifest,
  parseDescriptor,
  parseImageConfig,
  parseIndex,
  parseManifest,
  readAllLimited,
} from '../../../shared/oci/validate.ts';

const D = digestOf('x');
const desc = (mt: string = MediaType.OciLayerGzip) => ({ mediaType: mt, digest: D, size: 1 });
const manifest = (extra: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: desc(MediaType.OciConfig),
  layers: [desc()],
  ...extra,
});
const index = (extra: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: MediaType.OciIndex,
  manifests: [{ ...desc(MediaType.OciManifest), platform: { os: 'linux', architecture: 'amd64' } }],
  ...extra,
});
const bytes = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (isSkiffError(e)) return e.code;
    throw e;
  }
  return undefined;
}

describe('descriptors', () => {
  it('accepts a valid descriptor and rejects bad digests, sizes and media types', () => {
    expect(parseDescriptor(desc()).digest).toBe(D);
    expect(code(() => parseDescriptor({ ...desc(), digest: 'sha256:abc' }))).toBe('EINVALID');
    expect(code(() => parseDescriptor({ ...desc(), digest: `sha512:${'a'.repeat(128)}` }))).toBe('EUNSUPPORTED');
    expect(code(() => parseDescriptor({ ...desc(), mediaType: 'not a type' }))).toBe('EINVALID');
    expect(code(() => parseDescriptor({ ...desc(), mediaType: 'application/x; a=b' }))).toBe('EINVALID');
    expect(code(() => parseDescriptor({ ...desc(), size: 1.5 }))).toBe('EINVALID');
    expect(code(() => parseDescriptor({ ...desc(), size: '1' }))).toBe('EINVALID');
    expect(code(() => parseDescriptor({ ...desc(), annotations: { a: 1 } }))).toBe('EINVALID');
    expect(isValidMediaType('application/vnd.oci.image.manifest.v1+json')).toBe(true);
  });

  it('checks embedded data against size and digest', () => {
    const data = Buffer.from('x').toString('base64');
    expect(parseDescriptor({ ...desc(), data }).data).toBe(data);
    expect(code(() => parseDescriptor({ ...desc(), data: Buffer.from('y').toString('base64') }))).toBe('EINVALID');
  });
});

describe('LS-15 mediaType confusion', () => {
  it('LS-15 a manifest body containing a manifests array is rejected', () => {
    expect(code(() => parseManifest(bytes(manifest({ manifests: [] }))))).toBe('EINVALID');
    expect(code(() => parseAnyManifest(bytes(manifest({ manifests: [] })), { mediaType: MediaType.OciManifest }))).toBe('EINVALID');
  });

  it('LS-15 an index containing layers or config is rejected', () => {
    expect(code(() => parseIndex(bytes(index({ layers: [] }))))).toBe('EINVALID');
    expect(code(() => parseIndex(bytes(index({ config: desc(MediaType.OciConfig) }))))).toBe('EINVALID');
    expect(code(() => parseAnyManifest(bytes(index({ layers: [] })), { mediaType: MediaType.OciIndex }))).toBe('EINVALID');
  });

  it('LS-15 a body mediaType disagreeing with the descriptor or Content-Type is rejected', () => {
    expect(code(() => parseAnyManifest(bytes(manifest()), { mediaType: MediaType.OciIndex }))).toBe('EINVALID');
    expect(code(() => parseAnyManifest(bytes(index()), { mediaType: MediaType.OciManifest }))).toBe('EINVALID');
    expect(code(() => parseAnyManifest(bytes(manifest()), { mediaType: MediaType.DockerManifest }))).toBe('EINVALID');
    // a declared index with a body that has no mediaType but is shaped as a manifest: validated as an index → fails
    const { mediaType: _m, ...bare } = manifest();
    expect(code(() => parseAnyManifest(bytes(bare), { mediaType: MediaType.OciIndex }))).toBe('EINVALID');
    // Content-Type parameters are ignored, generic types declare nothing
    expect(parseAnyManifest(bytes(manifest()), { mediaType: `${MediaType.OciManifest}; charset=utf-8` }).kind).toBe('manifest');
    expect(parseAnyManifest(bytes(index()), { mediaType: 'application/json' }).kind).toBe('index');
  });

  it('LS-15 an unknown type with both manifests and layers is rejected; plain unknown types are tolerated', () => {
    const both = { schemaVersion: 2, manifests: [], layers: [] };
    expect(code(() => parseAnyManifest(bytes(both)))).toBe('EINVALID');
    const art = parseAnyManifest(bytes({ schemaVersion: 2, foo: 1 }), { mediaType: 'application/vnd.example.thing+json' });
    expect(art.kind).toBe('unknown');
    expect(art.mediaType).toBe('application/vnd.example.thing+json');
    expect(parseAnyManifest(bytes('not json'), { mediaType: 'application/vnd.example.bin' }).kind).toBe('unknown');
    expect(code(() => parseAnyManifest(bytes('not json'), { mediaType: MediaType.OciManifest }))).toBe('EINVALID');
  });

  it('Docker v2s2 requires its mediaType in the body', () => {
    const { mediaType: _m, ...bare } = manifest({ config: desc(MediaType.DockerConfig) });
    expect(code(() => parseAnyManifest(bytes(bare), { mediaType: MediaType.DockerManifest }))).toBe('EINVALID');
    const ok = parseAnyManifest(bytes({ ...bare, mediaType: MediaType.DockerManifest }), { mediaType: MediaType.DockerManifest });
    expect(ok.kind).toBe('manifest');
  });
});

describe('LS-16 resource exhaustion via JSON', () => {
  it('LS-16 a 200 MB body is capped without being buffered whole', async () => {
    let produced = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const total = 200 * 1024 * 1024;
    const src = new Readable({
      read() {
        if (produced >= total) return this.push(null);
        produced += chunk.length;
        this.push(chunk);
      },
    });
    await expect(readAllLimited(src, 4 * 1024 * 1024, { what: 'index.json' })).rejects.toMatchObject({ code: 'ELIMIT' });
    expect(produced).toBeLessThan(8 * 1024 * 1024);
    expect(src.destroyed).toBe(true);
    expect(code(() => parseAnyManifest(Buffer.alloc(4 * 1024 * 1024 + 1)))).toBe('ELIMIT');
  });

  it('LS-16 a manifest with 10^6 layers is rejected by the count limit', () => {
    const body = `{"schemaVersion":2,"mediaType":"${MediaType.OciManifest}","config":${JSON.stringify(desc(MediaType.OciConfig))},"layers":[${Array(1_000_000).fill('{}').join(',')}]}`;
    expect(body.length).toBeLessThan(4 * 1024 * 1024);
    expect(code(() => parseManifest(Buffer.from(body)))).toBe('ELIMIT');
    // the limit is configurable
    const two = bytes(manifest({ layers: [desc(), desc()] }));
    expect(code(() => parseManifest(two, { limits: { maxLayers: 1 } }))).toBe('ELIMIT');
    expect(parseManifest(two).manifest.layers).toHaveLength(2);
    expect(code(() => parseIndex(bytes(index()), { limits: { maxManifests: 0 } }))).toBe('ELIMIT');
  });

  it('LS-16 sizes -1 and 2^63 are rejected', () => {
    expect(code(() => parseManifest(Buffer.from(JSON.stringify(manifest({ layers: [{ ...desc(), size: -1 }] })))))).toBe('EINVALID');
    const big = JSON.stringify(manifest()).replace('"size":1}]', '"size":9223372036854775808}]');
    expect(big).toContain('9223372036854775808');
    expect(code(() => parseManifest(Buffer.from(big)))).toBe('EINVALID');
    expect(code(() => parseDescriptor({ ...desc(), size: 2 ** 53 }))).toBe('EINVALID');
  });

  it('LS-16 a config with too many diff_ids is rejected', () => {
    const cfg = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [D, D, D] } };
    expect(parseImageConfig(bytes(cfg)).rootfs.diff_ids).toHaveLength(3);
    expect(code(() => parseImageConfig(bytes(cfg), { limits: { maxLayers: 2 } }))).toBe('ELIMIT');
  });
});

describe('image config', () => {
  it('validates required fields and runtime field types', () => {
    const ok = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: { Env: ['A=1'], Cmd: null } };
    expect(parseImageConfig(bytes(ok)).os).toBe('linux');
    expect(code(() => parseImageConfig(bytes({ ...ok, rootfs: { type: 'x', diff_ids: [] } })))).toBe('EINVALID');
    expect(code(() => parseImageConfig(bytes({ ...ok, rootfs: { type: 'layers', diff_ids: ['nope'] } })))).toBe('EINVALID');
    expect(code(() => parseImageConfig(bytes({ ...ok, config: { Env: 'A=1' } })))).toBe('EINVALID');
    expect(code(() => parseImageConfig(bytes({ ...ok, history: [{ empty_layer: 'yes' }] })))).toBe('EINVALID');
    expect(code(() => parseImageConfig(bytes([])))).toBe('EINVALID');
  });
});

describe('detectManifestMediaType', () => {
  it('uses the body mediaType, else the shape', () => {
    expect(detectManifestMediaType(bytes(manifest({ mediaType: MediaType.DockerManifest })))).toBe(MediaType.DockerManifest);
    const { mediaType: _a, ...m } = manifest();
    const { mediaType: _b, ...i } = index();
    expect(detectManifestMediaType(bytes(m))).toBe(MediaType.OciManifest);
    expect(detectManifestMediaType(bytes(i))).toBe(MediaType.OciIndex);
    expect(detectManifestMediaType(bytes({ schemaVersion: 1, signatures: [] }))).toBe('application/vnd.docker.distribution.manifest.v1+prettyjws');
    expect(detectManifestMediaType(bytes('garbage'))).toBeUndefined();
    expect(detectManifestMediaType(bytes({}))).toBeUndefined();
  });
});
