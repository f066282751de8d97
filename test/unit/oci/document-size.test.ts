import { describe, expect, it } from 'vitest';
import { checkDocumentSize, MAX_DOCUMENT_BYTES } from '../../../shared/oci/document-size.ts';
import { DEFAULT_LIMITS } from '../../../shared/oci/validate.ts';
import { JSON_BLOB_CAP } from '../../../shared/store/blob-store.ts';
import { DOCUMENT_CAP } from '../../../shared/transport/files.ts';
import { setContainerConfig } from '../../../shared/image/mutate.ts';
import { scratchImage } from '../../../shared/image/scratch.ts';

describe('the document size limit', () => {
  it('is one limit for readers and writers', () => {
    expect(MAX_DOCUMENT_BYTES).toBe(4 * 1024 * 1024);
    for (const n of [DEFAULT_LIMITS.maxConfigBytes, DEFAULT_LIMITS.maxManifestBytes, JSON_BLOB_CAP, DOCUMENT_CAP]) expect(n).toBe(MAX_DOCUMENT_BYTES);
  });

  it('accepts documents up to the limit and refuses larger ones with ELIMIT naming the size', () => {
    expect(() => checkDocumentSize(new Uint8Array(MAX_DOCUMENT_BYTES), 'the image config')).not.toThrow();
    expect(() => checkDocumentSize(MAX_DOCUMENT_BYTES + 1, 'the image config')).toThrow(expect.objectContaining({ code: 'ELIMIT', message: `the image config would be ${MAX_DOCUMENT_BYTES + 1} bytes, over the 4 MiB limit for image documents` }));
  });

  it('a derived image whose config would cross it is refused when written, not stored', async () => {
    const big = setContainerConfig(scratchImage(), { Env: Array.from({ length: 5 }, (_, i) => `V${i}=${'x'.repeat(1 << 20)}`) });
    await expect(big.rawConfig()).rejects.toThrow(/the image config would be \d+ bytes, over the 4 MiB limit/);
    await expect(big.rawManifest()).rejects.toThrow(/over the 4 MiB limit/);
    const fits = setContainerConfig(scratchImage(), { Env: ['A=1'] });
    expect((await fits.rawConfig()).length).toBeLessThan(1000);
  });
});
