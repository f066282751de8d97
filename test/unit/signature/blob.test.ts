import { describe, expect, it } from 'vitest';
import { decodeSignatureBlob, decodeSignatureBlobs, encodeSignatureBlob } from '../../../shared/signature/blob.ts';
import { storeSignatureDir } from '../../../shared/transport/store-signatures.ts';
import { lookasideLocation } from '../../../shared/signature/lookaside.ts';

describe('signature blobs (containers/image storage format)', () => {
  it('simple signing is stored raw; sigstore as \\0sigstore-json\\n{…} and round-trips', () => {
    const raw = new Uint8Array([0xa3, 1, 2, 3]);
    expect(encodeSignatureBlob({ format: 'simple-signing', bytes: raw })).toBe(raw);
    expect(decodeSignatureBlob(raw)).toEqual({ format: 'simple-signing', bytes: raw });
    const s = { format: 'sigstore' as const, payload: new TextEncoder().encode('{"critical":{}}'), signature: 'AAAA', annotations: { x: 'y' } };
    const b = encodeSignatureBlob(s);
    expect(b[0]).toBe(0);
    expect(Buffer.from(b.subarray(1, 15)).toString()).toBe('sigstore-json\n');
    const d = decodeSignatureBlob(b);
    expect(d).toEqual(s);
  });
  it('unknown formats are skipped, malformed sigstore blobs rejected', () => {
    const unknown = Buffer.concat([Buffer.from([0]), Buffer.from('other\n{}')]);
    const skipped: string[] = [];
    expect(decodeSignatureBlobs([unknown], (w) => skipped.push(w))).toEqual([]);
    expect(skipped).toHaveLength(1);
    expect(() => decodeSignatureBlob(Buffer.concat([Buffer.from([0]), Buffer.from('sigstore-json\n{"payload":1}')]))).toThrow(/invalid sigstore/);
    expect(() => decodeSignatureBlob(new Uint8Array())).toThrow(/empty/);
  });
  it('SG-10 store and lookaside signature paths validate the digest before any path is built', () => {
    expect(() => storeSignatureDir('/r', 'sha256:../../x')).toThrow();
    expect(() => lookasideLocation('file:///l', 'h/app', 'sha256:../../x', 1)).toThrow();
    expect(storeSignatureDir('/r', `sha256:${'a'.repeat(64)}`)).toBe(`/r/signatures/sha256-${'a'.repeat(64)}`);
  });
});
