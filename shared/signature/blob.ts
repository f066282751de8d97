import { SkiffError } from '../errors.ts';
import type { ImageSignature } from './policy.ts';
import { MAX_SIGSTORE_PAYLOAD_BYTES } from './sigstore-limits.ts';

/** Format tag of sigstore signatures in a stored blob (containers/image `internal/signature`). */
export const SIGSTORE_BLOB_FORMAT = 'sigstore-json';
/** Media type recorded in a stored sigstore signature. */
const SIGSTORE_MIME = 'application/vnd.dev.cosign.simplesigning.v1+json';

/**
 * Serialises a signature for storage beside an image (dir: `signature-N`, the store, lookaside) exactly as
 * containers/image does: simple signing as its raw OpenPGP bytes; sigstore as a 0 byte, `sigstore-json\n`, then
 * `{"mimeType","payload"(base64),"annotations"}` (the cosign signature in its annotation). Pure.
 */
export function encodeSignatureBlob(sig: ImageSignature): Uint8Array {
  if (sig.format === 'simple-signing') return sig.bytes;
  const json = JSON.stringify({
    mimeType: SIGSTORE_MIME,
    payload: Buffer.from(sig.payload).toString('base64'),
    annotations: { ...(sig.annotations ?? {}), 'dev.cosignproject.cosign/signature': sig.signature },
  });
  return Buffer.concat([Buffer.from([0]), Buffer.from(`${SIGSTORE_BLOB_FORMAT}\n`), Buffer.from(json)]);
}

/**
 * Parses a stored signature blob: bytes not starting with 0 are a simple-signing signature (authenticated later,
 * never parsed here); `\0sigstore-json\n{…}` is a sigstore signature (fields type-checked, sizes capped). An
 * unknown format tag is EUNSUPPORTED; malformed sigstore JSON is EINVALID. Pure.
 */
export function decodeSignatureBlob(blob: Uint8Array): ImageSignature {
  if (blob.length === 0) throw new SkiffError('EINVALID', 'empty signature blob');
  if (blob[0] !== 0) return { format: 'simple-signing', bytes: blob };
  const nl = blob.indexOf(0x0a);
  if (nl < 0 || nl > 64) throw new SkiffError('EINVALID', 'invalid signature blob: no format line');
  const format = Buffer.from(blob.subarray(1, nl)).toString('utf8');
  if (format !== SIGSTORE_BLOB_FORMAT) throw new SkiffError('EUNSUPPORTED', `unsupported signature format ${JSON.stringify(format)}`);
  if (blob.length > 2 * MAX_SIGSTORE_PAYLOAD_BYTES) throw new SkiffError('ELIMIT', 'sigstore signature blob is too large');
  let o: unknown;
  try {
    o = JSON.parse(Buffer.from(blob.subarray(nl + 1)).toString('utf8'));
  } catch (e) {
    throw new SkiffError('EINVALID', `invalid sigstore signature blob: ${(e as Error).message}`);
  }
  const r = o as { mimeType?: unknown; payload?: unknown; annotations?: unknown };
  if (typeof r !== 'object' || r === null || typeof r.payload !== 'string' || typeof r.annotations !== 'object' || r.annotations === null) {
    throw new SkiffError('EINVALID', 'invalid sigstore signature blob: missing payload or annotations');
  }
  const ann: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.annotations as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new SkiffError('EINVALID', `invalid sigstore signature blob: annotation ${k} is not a string`);
    ann[k] = v;
  }
  const { 'dev.cosignproject.cosign/signature': signature, ...rest } = ann;
  if (signature === undefined) throw new SkiffError('EINVALID', 'invalid sigstore signature blob: no signature annotation');
  return { format: 'sigstore', payload: new Uint8Array(Buffer.from(r.payload, 'base64')), signature, ...(Object.keys(rest).length ? { annotations: rest } : {}) };
}

/** Decodes blobs, skipping (and reporting through `onSkip`) ones of unknown formats. */
export function decodeSignatureBlobs(blobs: readonly Uint8Array[], onSkip?: (why: string) => void): ImageSignature[] {
  const out: ImageSignature[] = [];
  for (const b of blobs) {
    try {
      out.push(decodeSignatureBlob(b));
    } catch (e) {
      if (e instanceof SkiffError && e.code === 'EUNSUPPORTED') onSkip?.(e.message);
      else throw e;
    }
  }
  return out;
}
