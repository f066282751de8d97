import { describe, expect, it } from 'vitest';
import { MediaType, convertLayerMediaType, layerMediaType, layerMediaTypeIn } from '../../../shared/oci/media-types.ts';

describe('the layer media-type table', () => {
  it('maps every Docker layer type to OCI and back, keeping compression and foreign-ness', () => {
    const pairs: Array<[string, string]> = [
      [MediaType.DockerLayer, MediaType.OciLayer],
      [MediaType.DockerLayerGzip, MediaType.OciLayerGzip],
      [MediaType.DockerLayerForeignGzip, MediaType.OciLayerNondistributableGzip],
    ];
    for (const [d, o] of pairs) {
      expect(convertLayerMediaType(d, 'oci')).toBe(o);
      expect(convertLayerMediaType(o, 'docker')).toBe(d);
      expect(convertLayerMediaType(o, 'oci')).toBe(o);
      expect(convertLayerMediaType(d, 'docker')).toBe(d);
    }
  });

  it('refuses what Docker schema 2 cannot express, and leaves unknown types to the caller', () => {
    expect(() => convertLayerMediaType(MediaType.OciLayerZstd, 'docker')).toThrow(/no Docker schema 2 layer media type/);
    expect(() => layerMediaType('docker', 'zstd')).toThrow(/zstd layer/);
    expect(() => convertLayerMediaType('application/x-vendor', 'oci')).toThrow(/EUNSUPPORTED|no OCI/);
    expect(layerMediaTypeIn('application/x-vendor', 'docker')).toBeUndefined();
    expect(layerMediaType('oci', 'zstd', { foreign: true })).toBe(MediaType.OciLayerNondistributableZstd);
    expect(layerMediaType('docker', 'none')).toBe(MediaType.DockerLayer);
  });
});
