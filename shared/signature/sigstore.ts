import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, scrypt as scryptCb, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { writeFile } from 'node:fs/promises';
import nacl from 'tweetnacl';
import { SkiffError, throwIfAborted, type Cancellable } from '../errors.ts';
import { digestHex, digestOf, parseDigest, type Digest } from '../oci/digest.ts';
import { MediaType } from '../oci/media-types.ts';
import type { Descriptor, Manifest } from '../oci/types.ts';
import { buildPayload, parsePayload, type SignedClaims } from './payload.ts';
import { MAX_SIGSTORE_PAYLOAD_BYTES } from './sigstore-limits.ts';

const scrypt = promisify(scryptCb) as (pw: string | Buffer, salt: Buffer, keylen: number, opts: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/** Layer media type of a cosign signature payload. */
export const COSIGN_SIMPLESIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
/** Layer annotation holding the base64 ECDSA signature. */
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** PEM labels cosign writes (older) and sigstore writes (newer); both are read. */
export const COSIGN_PRIVATE_KEY_LABEL = 'ENCRYPTED COSIGN PRIVATE KEY';
export const SIGSTORE_PRIVATE_KEY_LABEL = 'ENCRYPTED SIGSTORE PRIVATE KEY';
/** Caps (SG-09): signatures per attachment manifest, bytes per payload, attachment manifest bytes. */
export const MAX_SIGSTORE_SIGNATURES = 100;
export { MAX_SIGSTORE_PAYLOAD_BYTES };
export const MAX_ATTACHMENT_MANIFEST_BYTES = 4 * 1024 * 1024;
/** cosign's scrypt parameters for new keys. */
export const COSIGN_SCRYPT = { N: 32768, r: 8, p: 1 } as const;
const MAX_SCRYPT_N = 1 << 20;

/** The tag of the attachment manifest holding signatures of manifest `d`: `sha256-<hex>.sig`. d is validated. */
export function sigstoreAttachmentTag(d: string): string {
  const v = parseDigest(d, 'manifest digest');
  return `sha256-${digestHex(v)}.sig`;
}

// ---------- keys ----------

interface EncryptedKeyJson {
  kdf: { name: string; params: { N: number; r: number; p: number }; salt: string };
  cipher: { name: string; nonce: string };
  ciphertext: string;
}

function pemBlock(pem: string): { label: string; der: Buffer } {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(pem);
  if (!m) throw new SkiffError('EINVALID', 'no PEM block found');
  return { label: m[1]!, der: Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64') };
}

function pemEncode(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

function b64(field: string, v: unknown): Buffer {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new SkiffError('EINVALID', `invalid cosign private key: ${field} is not base64`);
  return Buffer.from(v, 'base64');
}

/**
 * Encrypts a PKCS#8 DER private key in cosign's format: scrypt(passphrase, 32-byte salt, N r p) → 32-byte key,
 * NaCl secretbox with a 24-byte nonce; returned as the `ENCRYPTED SIGSTORE PRIVATE KEY` PEM (or `label`).
 */
export async function encryptCosignKey(pkcs8: Uint8Array, passphrase: string, o: { label?: string; params?: { N: number; r: number; p: number } } = {}): Promise<string> {
  const params = o.params ?? COSIGN_SCRYPT;
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const key = await scrypt(passphrase, salt, 32, { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 });
  const box = nacl.secretbox(pkcs8, nonce, key);
  const json: EncryptedKeyJson = {
    kdf: { name: 'scrypt', params: { N: params.N, r: params.r, p: params.p }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(box).toString('base64'),
  };
  return pemEncode(o.label ?? SIGSTORE_PRIVATE_KEY_LABEL, Buffer.from(JSON.stringify(json)));
}

/**
 * Decrypts a cosign/sigstore encrypted private key PEM with the passphrase. Fields are validated (scrypt with
 * bounded N, nacl/secretbox, 24-byte nonce); a wrong passphrase is EPERM. Returns an ECDSA P-256 KeyObject.
 */
export async function loadCosignPrivateKey(pem: string, passphrase: string): Promise<KeyObject> {
  const { label, der } = pemBlock(pem);
  if (label !== COSIGN_PRIVATE_KEY_LABEL && label !== SIGSTORE_PRIVATE_KEY_LABEL) {
    throw new SkiffError('EUNSUPPORTED', `unsupported private key PEM type ${JSON.stringify(label)}`, { hint: `expected ${SIGSTORE_PRIVATE_KEY_LABEL} or ${COSIGN_PRIVATE_KEY_LABEL}` });
  }
  let j: EncryptedKeyJson;
  try {
    j = JSON.parse(der.toString('utf8')) as EncryptedKeyJson;
  } catch {
    throw new SkiffError('EINVALID', 'invalid cosign private key: not JSON');
  }
  if (j?.kdf?.name !== 'scrypt') throw new SkiffError('EUNSUPPORTED', `unsupported cosign key KDF ${JSON.stringify(j?.kdf?.name)}`);
  if (j.cipher?.name !== 'nacl/secretbox') throw new SkiffError('EUNSUPPORTED', `unsupported cosign key cipher ${JSON.stringify(j.cipher?.name)}`);
  const { N, r, p } = j.kdf.params ?? ({} as EncryptedKeyJson['kdf']['params']);
  if (![N, r, p].every((x) => Number.isSafeInteger(x) && x > 0) || N > MAX_SCRYPT_N || (N & (N - 1)) !== 0 || r * p >= 1 << 30 || r > 32 || p > 16) {
    throw new SkiffError('EINVALID', 'invalid cosign private key: scrypt parameters out of range');
  }
  const salt = b64('kdf.salt', j.kdf.salt);
  const nonce = b64('cipher.nonce', j.cipher.nonce);
  const box = b64('ciphertext', j.ciphertext);
  if (nonce.length !== 24) throw new SkiffError('EINVALID', 'invalid cosign private key: nonce is not 24 bytes');
  const key = await scrypt(passphrase, salt, 32, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
  const plain = nacl.secretbox.open(box, nonce, key);
  if (plain === null) throw new SkiffError('EPERM', 'cannot decrypt the sigstore private key: wrong passphrase', { hint: 'check the passphrase' });
  let k: KeyObject;
  try {
    k = createPrivateKey({ key: Buffer.from(plain), format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw new SkiffError('EINVALID', `invalid cosign private key: ${(e as Error).message}`, { cause: e });
  }
  assertP256(k);
  return k;
}

function assertP256(k: KeyObject): void {
  if (k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new SkiffError('EUNSUPPORTED', `unsupported sigstore key type ${k.asymmetricKeyType ?? '?'} ${k.asymmetricKeyDetails?.namedCurve ?? ''}: only ECDSA P-256 is supported`);
  }
}

/** Parses a PEM `PUBLIC KEY` (SPKI) as cosign writes to `cosign.pub`; ECDSA P-256 only. */
export function loadSigstorePublicKey(pem: string | Uint8Array): KeyObject {
  let k: KeyObject;
  try {
    k = createPublicKey({ key: typeof pem === 'string' ? pem : Buffer.from(pem).toString('utf8'), format: 'pem' });
  } catch (e) {
    throw new SkiffError('EINVALID', `invalid sigstore public key: ${(e as Error).message}`, { cause: e });
  }
  assertP256(k);
  return k;
}

/**
 * Generates an ECDSA P-256 key pair and writes `<prefix>.private` (encrypted, cosign-compatible, mode 0600) and
 * `<prefix>.pub` (PEM SPKI). Refuses to overwrite existing files (EEXIST).
 */
export async function generateSigstoreKey(prefix: string, passphrase: string, o: Cancellable = {}): Promise<{ privatePath: string; publicPath: string }> {
  throwIfAborted(o.signal);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  const privPem = await encryptCosignKey(pkcs8, passphrase);
  const pubPem = publicKey.export({ format: 'pem', type: 'spki' }) as string;
  const privatePath = `${prefix}.private`;
  const publicPath = `${prefix}.pub`;
  for (const [p, data, mode] of [[privatePath, privPem, 0o600], [publicPath, pubPem, 0o644]] as const) {
    await writeFile(p, data, { mode, flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
      throw new SkiffError(e.code === 'EEXIST' ? 'EEXIST' : 'EIO', `writing ${p}: ${e.message}`, { cause: e });
    });
  }
  return { privatePath, publicPath };
}

// ---------- signing and verification ----------

/** A sigstore signature as stored in an attachment layer: the exact payload bytes and the base64 signature. */
export interface SigstoreSignature {
  payload: Uint8Array;
  /** base64 DER ECDSA signature (the `dev.cosignproject.cosign/signature` annotation). */
  signature: string;
  /** Other layer annotations (certificate, bundle…), carried untouched. */
  annotations?: Record<string, string>;
}

/** Signs a manifest digest for `dockerReference` with an ECDSA P-256 private key (cosign payload format). */
export function signSigstore(manifestDigest: Digest, dockerReference: string, key: KeyObject, optional: { creator?: string; timestamp?: number } = {}): SigstoreSignature {
  assertP256(key);
  const payload = buildPayload('sigstore', manifestDigest, dockerReference, optional);
  const sig = cryptoSign('sha256', payload, key);
  return { payload, signature: sig.toString('base64') };
}

/**
 * Verifies the ECDSA signature over the exact payload bytes with one of `keys` FIRST, then parses the payload
 * strictly (cosign type string). Throws EINTEGRITY when no key verifies.
 */
export function verifySigstore(sig: SigstoreSignature, keys: readonly KeyObject[]): SignedClaims {
  if (sig.payload.length > MAX_SIGSTORE_PAYLOAD_BYTES) throw new SkiffError('ELIMIT', `sigstore payload is larger than ${MAX_SIGSTORE_PAYLOAD_BYTES} bytes`);
  if (typeof sig.signature !== 'string' || sig.signature.length > 16 * 1024 || !/^[A-Za-z0-9+/]+={0,2}$/.test(sig.signature)) {
    throw new SkiffError('EINTEGRITY', 'invalid sigstore signature: the signature annotation is not base64');
  }
  const raw = Buffer.from(sig.signature, 'base64');
  const ok = keys.some((k) => {
    try {
      return cryptoVerify('sha256', sig.payload, k, raw);
    } catch {
      return false;
    }
  });
  if (!ok) throw new SkiffError('EINTEGRITY', 'invalid sigstore signature: cryptographic signature verification failed');
  return parsePayload('sigstore', sig.payload);
}

// ---------- attachment manifests ----------

/** An attachment manifest ready to push: its bytes, and the blobs (config + payloads) it references. */
export interface SigstoreAttachment {
  manifestBytes: Uint8Array;
  mediaType: string;
  blobs: { descriptor: Descriptor; bytes: Uint8Array }[];
}

/**
 * Builds the OCI manifest cosign stores under `sha256-<hex>.sig`: one layer per signature (media type
 * simplesigning, digest/size of the payload, signature annotation) and a small config. Deterministic.
 */
export function buildSigstoreAttachment(signatures: readonly SigstoreSignature[]): SigstoreAttachment {
  if (signatures.length > MAX_SIGSTORE_SIGNATURES) throw new SkiffError('ELIMIT', `more than ${MAX_SIGSTORE_SIGNATURES} sigstore signatures`);
  const blobs: SigstoreAttachment['blobs'] = [];
  const layers: Descriptor[] = signatures.map((s) => {
    const d: Descriptor = {
      mediaType: COSIGN_SIMPLESIGNING_MEDIA_TYPE,
      digest: digestOf(s.payload),
      size: s.payload.length,
      annotations: { ...(s.annotations ?? {}), [COSIGN_SIGNATURE_ANNOTATION]: s.signature },
    };
    blobs.push({ descriptor: d, bytes: s.payload });
    return d;
  });
  const config = new TextEncoder().encode(
    JSON.stringify({ architecture: '', config: {}, created: '0001-01-01T00:00:00Z', history: [{ created: '0001-01-01T00:00:00Z' }], os: '', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }),
  );
  const configDesc: Descriptor = { mediaType: MediaType.OciConfig, digest: digestOf(config), size: config.length };
  blobs.unshift({ descriptor: configDesc, bytes: config });
  const manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: configDesc, layers };
  return { manifestBytes: new TextEncoder().encode(JSON.stringify(manifest)), mediaType: MediaType.OciManifest, blobs };
}

/**
 * Parses an attachment manifest with caps (SG-09): ≤ MAX_ATTACHMENT_MANIFEST_BYTES, ≤ MAX_SIGSTORE_SIGNATURES
 * layers, each ≤ MAX_SIGSTORE_PAYLOAD_BYTES; fails fast before fetching anything. Returns the signature layers
 * (other media types are skipped) with validated digests; fetch payloads with `readAttachmentSignatures`.
 */
export function parseSigstoreAttachment(manifestBytes: Uint8Array): { descriptor: Descriptor; signature: string }[] {
  if (manifestBytes.length > MAX_ATTACHMENT_MANIFEST_BYTES) throw new SkiffError('ELIMIT', `sigstore attachment manifest is larger than ${MAX_ATTACHMENT_MANIFEST_BYTES} bytes`);
  let m: Manifest;
  try {
    m = JSON.parse(Buffer.from(manifestBytes).toString('utf8')) as Manifest;
  } catch (e) {
    throw new SkiffError('EINVALID', `invalid sigstore attachment manifest: ${(e as Error).message}`);
  }
  if (typeof m !== 'object' || m === null || !Array.isArray(m.layers)) throw new SkiffError('EINVALID', 'invalid sigstore attachment manifest: no layers array');
  if (m.layers.length > MAX_SIGSTORE_SIGNATURES) throw new SkiffError('ELIMIT', `sigstore attachment has ${m.layers.length} signatures, more than the limit of ${MAX_SIGSTORE_SIGNATURES}`);
  const out: { descriptor: Descriptor; signature: string }[] = [];
  for (const l of m.layers) {
    if (l?.mediaType !== COSIGN_SIMPLESIGNING_MEDIA_TYPE) continue;
    const digest = parseDigest(l.digest, 'sigstore payload digest');
    if (!Number.isSafeInteger(l.size) || l.size < 0) throw new SkiffError('EINVALID', 'invalid sigstore attachment: bad layer size');
    if (l.size > MAX_SIGSTORE_PAYLOAD_BYTES) throw new SkiffError('ELIMIT', `sigstore payload of ${l.size} bytes exceeds the limit of ${MAX_SIGSTORE_PAYLOAD_BYTES}`);
    const signature = l.annotations?.[COSIGN_SIGNATURE_ANNOTATION];
    if (typeof signature !== 'string') throw new SkiffError('EINVALID', `sigstore attachment layer ${digest} has no ${COSIGN_SIGNATURE_ANNOTATION} annotation`);
    out.push({ descriptor: { ...l, digest }, signature });
  }
  return out;
}

/**
 * Reads the payloads of a parsed attachment through `fetch` (e.g. a registry blob read, capped) and verifies each
 * against its descriptor's digest and size before use (SG-10). Returns signatures ready for verifySigstore.
 */
export async function readAttachmentSignatures(
  manifestBytes: Uint8Array,
  fetch: (d: Descriptor, o: Cancellable) => Promise<Uint8Array>,
  o: Cancellable = {},
): Promise<SigstoreSignature[]> {
  const layers = parseSigstoreAttachment(manifestBytes);
  const out: SigstoreSignature[] = [];
  for (const { descriptor, signature } of layers) {
    throwIfAborted(o.signal);
    const bytes = await fetch(descriptor, o.signal ? { signal: o.signal } : {});
    if (bytes.length !== descriptor.size) throw new SkiffError('EBADSIZE', `sigstore payload ${descriptor.digest}: expected ${descriptor.size} bytes, got ${bytes.length}`);
    const actual = digestOf(bytes);
    if (actual !== descriptor.digest) throw new SkiffError('EINTEGRITY', `sigstore payload digest mismatch: expected ${descriptor.digest}, got ${actual}`);
    const { [COSIGN_SIGNATURE_ANNOTATION]: _s, ...rest } = descriptor.annotations ?? {};
    out.push({ payload: bytes, signature, ...(Object.keys(rest).length ? { annotations: rest } : {}) });
  }
  return out;
}
