import { SkiffError } from '../errors.ts';
import { parseDigest, type Digest } from '../oci/digest.ts';
import { normalizeNamed, type NamedIdentity } from './docker-identity.ts';

/** The `critical.type` of a containers-signature(5) simple-signing payload. */
export const SIMPLE_SIGNING_TYPE = 'atomic container signature';
/** The `critical.type` of a cosign (sigstore) payload. */
export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';
/** Largest payload we parse (after authentication). */
export const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;

/** What an authenticated signature payload claims: the manifest digest and the docker reference it was signed for. */
export interface SignedClaims {
  manifestDigest: Digest;
  /** `critical.identity.docker-reference` exactly as signed. */
  dockerReference: string;
  /** The same, parsed and normalised. */
  identity: NamedIdentity;
  creator?: string;
  timestamp?: number;
  /** The whole `optional` object (unknown members tolerated), or null for cosign payloads without one. */
  optional: Record<string, unknown> | null;
}

/**
 * The payload bytes to sign: `{"critical":{"identity":…,"image":…,"type":…},"optional":{…}}` with the keys in the
 * order Go's encoding/json emits them. `dockerReference` must be a valid reference; `digest` a sha256 digest.
 */
export function buildPayload(kind: 'simple-signing' | 'sigstore', digest: Digest, dockerReference: string, optional: { creator?: string; timestamp?: number } = {}): Uint8Array {
  parseDigest(digest, 'manifest digest');
  normalizeNamed(dockerReference, 'signed identity');
  const opt: Record<string, unknown> = {};
  if (optional.creator !== undefined) opt.creator = optional.creator;
  if (optional.timestamp !== undefined) opt.timestamp = optional.timestamp;
  const body = {
    critical: {
      identity: { 'docker-reference': dockerReference },
      image: { 'docker-manifest-digest': digest },
      type: kind === 'simple-signing' ? SIMPLE_SIGNING_TYPE : COSIGN_SIGNATURE_TYPE,
    },
    optional: kind === 'sigstore' && Object.keys(opt).length === 0 ? null : opt,
  };
  return new TextEncoder().encode(JSON.stringify(body));
}

function bad(why: string): SkiffError {
  return new SkiffError('EINVALID', `invalid signature payload: ${why}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function exactObject(v: unknown, where: string, fields: readonly string[]): Record<string, unknown> {
  if (!isObject(v)) throw bad(`${where} is not a JSON object`);
  for (const k of Object.keys(v)) if (!fields.includes(k)) throw bad(`unexpected member ${JSON.stringify(k)} in ${where}`);
  for (const k of fields) if (!(k in v)) throw bad(`missing member ${JSON.stringify(k)} in ${where}`);
  return v;
}

/**
 * Rejects JSON text with a duplicate key in any object (JSON.parse silently keeps the last one, which would let a
 * payload show one value to us and another to a different parser).
 */
function rejectDuplicateKeys(text: string): void {
  // Linear scan over already-valid JSON: a stack of open containers; a string right after '{' or ',' inside an
  // object is a key.
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.has(key)) throw bad(`duplicate member ${JSON.stringify(key)}`);
        top.add(key);
      }
      expectKey = false;
      i = j;
    } else if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      stack.push(null);
      expectKey = false;
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = stack[stack.length - 1] != null;
    }
  }
}

/**
 * Parses an AUTHENTICATED payload strictly (SG-05): exactly `critical` and `optional` at the top; exactly
 * `type`, `image`, `identity` in critical; exactly `docker-manifest-digest` in image and `docker-reference` in
 * identity; the type string must match `kind`; digest and reference must be valid; duplicate keys are rejected.
 * Unknown members of `optional` are tolerated (`creator` must be a string and `timestamp` an integer when present).
 * Callers MUST authenticate `bytes` before calling this (SG-06).
 */
export function parsePayload(kind: 'simple-signing' | 'sigstore', bytes: Uint8Array): SignedClaims {
  if (bytes.length > MAX_PAYLOAD_BYTES) throw new SkiffError('ELIMIT', `signature payload is larger than ${MAX_PAYLOAD_BYTES} bytes`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw bad('not UTF-8');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON: ${(e as Error).message}`);
  }
  rejectDuplicateKeys(text);
  const top = exactObject(doc, 'the payload', ['critical', 'optional']);
  const critical = exactObject(top.critical, 'critical', ['type', 'image', 'identity']);
  const wantType = kind === 'simple-signing' ? SIMPLE_SIGNING_TYPE : COSIGN_SIGNATURE_TYPE;
  if (critical.type !== wantType) throw bad(`critical.type is ${JSON.stringify(critical.type)}, expected ${JSON.stringify(wantType)}`);
  const image = exactObject(critical.image, 'critical.image', ['docker-manifest-digest']);
  const identity = exactObject(critical.identity, 'critical.identity', ['docker-reference']);
  const d = image['docker-manifest-digest'];
  if (typeof d !== 'string') throw bad('critical.image.docker-manifest-digest is not a string');
  let manifestDigest: Digest;
  try {
    manifestDigest = parseDigest(d, 'signed manifest digest');
  } catch (e) {
    throw bad((e as Error).message);
  }
  const ref = identity['docker-reference'];
  if (typeof ref !== 'string') throw bad('critical.identity.docker-reference is not a string');
  let named: NamedIdentity;
  try {
    named = normalizeNamed(ref, 'signed docker-reference');
  } catch (e) {
    throw bad((e as Error).message);
  }
  let optional: Record<string, unknown> | null;
  if (top.optional === null && kind === 'sigstore') optional = null;
  else if (isObject(top.optional)) optional = top.optional;
  else throw bad('optional is not a JSON object');
  const claims: SignedClaims = { manifestDigest, dockerReference: ref, identity: named, optional };
  if (optional !== null) {
    if ('creator' in optional) {
      if (typeof optional.creator !== 'string') throw bad('optional.creator is not a string');
      claims.creator = optional.creator;
    }
    if ('timestamp' in optional) {
      if (typeof optional.timestamp !== 'number' || !Number.isSafeInteger(optional.timestamp)) throw bad('optional.timestamp is not an integer');
      claims.timestamp = optional.timestamp;
    }
  }
  return claims;
}
