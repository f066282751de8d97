import type * as openpgp from 'openpgp';
import { loadOpenpgp } from './openpgp-lazy.ts';
import { SkiffError, throwIfAborted } from '../errors.ts';
import { digestOf, type Digest } from '../oci/digest.ts';
import { buildPayload, MAX_PAYLOAD_BYTES, parsePayload, type SignedClaims } from './payload.ts';
import { fingerprintOf } from './openpgp-keys.ts';
import { gpgSign } from './gpg.ts';

/** Largest simple-signing signature accepted (containers/image's iolimits uses 4 MiB). */
export const MAX_SIMPLE_SIGNATURE_BYTES = 4 * 1024 * 1024;

/** Default `optional.creator` written into payloads. */
export const SIGNATURE_CREATOR = 'skiff';

/** How to make a simple-signing signature: an armored key file via openpgp, or the gpg program's keyring. */
export type SimpleSigner =
  | { kind: 'key'; key: openpgp.PrivateKey }
  | { kind: 'gpg'; fingerprint: string; homedir?: string; passphraseFile?: string };

/**
 * Signs a manifest for `dockerReference` (containers-signature(5) payload over the digest of the exact
 * manifest bytes). Output is a binary OpenPGP signed message that gpg, skopeo and podman verify.
 */
export async function signSimpleSigning(
  manifestBytes: Uint8Array,
  dockerReference: string,
  signer: SimpleSigner,
  o: { signal?: AbortSignal; timestamp?: number; manifestDigest?: Digest } = {},
): Promise<Uint8Array> {
  throwIfAborted(o.signal);
  const digest = o.manifestDigest ?? digestOf(manifestBytes);
  const payload = buildPayload('simple-signing', digest, dockerReference, {
    creator: SIGNATURE_CREATOR,
    timestamp: o.timestamp ?? Math.floor(Date.now() / 1000),
  });
  if (signer.kind === 'gpg') {
    return gpgSign(payload, signer.fingerprint, { homedir: signer.homedir, passphraseFile: signer.passphraseFile, signal: o.signal });
  }
  const message = await (await loadOpenpgp()).createMessage({ binary: payload, format: 'binary' });
  const sig = await (await loadOpenpgp()).sign({ message, signingKeys: signer.key, format: 'binary' });
  return sig as Uint8Array;
}

/** An authenticated simple signature: the signer's fingerprints and the parsed claims. */
export interface VerifiedSimpleSignature {
  /** Primary key fingerprint (upper-case hex). */
  fingerprint: string;
  /** The fingerprint of the (sub)key that actually made the signature. */
  signingKeyFingerprint: string;
  claims: SignedClaims;
}

function rejected(why: string, cause?: unknown): SkiffError {
  return new SkiffError('EINTEGRITY', `invalid signature: ${why}`, cause === undefined ? {} : { cause });
}

/**
 * Authenticates a simple-signing signature against `keys` BEFORE looking at its content (SG-06): the bytes must be
 * an OpenPGP signed message with exactly one signature made by one of `keys`, valid now (not expired, key and
 * signing subkey neither expired nor revoked — SG-07). Only then is the payload parsed strictly (SG-05).
 * Does NOT check the manifest digest or identity: see `verifySimpleSignatureFor`. Throws EINTEGRITY (or EINVALID for
 * a bad payload) on any failure.
 */
export async function verifySimpleSigning(sigBytes: Uint8Array, keys: readonly openpgp.PublicKey[], o: { now?: Date } = {}): Promise<VerifiedSimpleSignature> {
  if (sigBytes.length > MAX_SIMPLE_SIGNATURE_BYTES) throw new SkiffError('ELIMIT', `signature is larger than ${MAX_SIMPLE_SIGNATURE_BYTES} bytes`);
  if (keys.length === 0) throw rejected('no public keys to verify with');
  const now = o.now ?? new Date();
  let message: openpgp.Message<Uint8Array>;
  try {
    message = await (await loadOpenpgp()).readMessage({ binaryMessage: sigBytes });
  } catch (e) {
    throw rejected(`not an OpenPGP message: ${(e as Error).message}`, e);
  }
  let result: Awaited<ReturnType<typeof openpgp.verify<Uint8Array>>>;
  try {
    result = await (await loadOpenpgp()).verify({ message, verificationKeys: keys as openpgp.PublicKey[], expectSigned: true, format: 'binary', date: now });
  } catch (e) {
    throw rejected((e as Error).message, e);
  }
  if (result.signatures.length !== 1) throw rejected(`expected exactly one signature, found ${result.signatures.length}`);
  const s = result.signatures[0]!;
  try {
    await s.verified;
  } catch (e) {
    throw rejected((e as Error).message, e);
  }
  // openpgp checks the key at the signature's creation time; containers/image (gpgme) also refuses keys that are
  // revoked or expired now.
  const primary = keys.find((k) => k.getKeys(s.keyID).length > 0);
  if (primary === undefined) throw rejected(`no key with ID ${s.keyID.toHex()}`);
  let signingKey: openpgp.PublicKey | openpgp.Subkey;
  try {
    signingKey = await primary.getSigningKey(s.keyID, now);
  } catch (e) {
    throw rejected(`key ${fingerprintOf(primary)} is not valid now: ${(e as Error).message}`, e);
  }
  const data = result.data;
  if (!(data instanceof Uint8Array)) throw rejected('unexpected message data');
  if (data.length > MAX_PAYLOAD_BYTES) throw new SkiffError('ELIMIT', `signature payload is larger than ${MAX_PAYLOAD_BYTES} bytes`);
  const claims = parsePayload('simple-signing', data);
  return { fingerprint: fingerprintOf(primary), signingKeyFingerprint: fingerprintOf(signingKey), claims };
}

/**
 * Full check of one simple signature for an image: authenticate (verifySimpleSigning), then require the signed
 * manifest digest to equal the digest of `manifestBytes` (SG-04). Identity is checked by the caller (policy's
 * signedIdentity, or `expectedReference` for an exact comparison as standalone-verify does).
 */
export async function verifySimpleSignatureFor(
  sigBytes: Uint8Array,
  manifestBytes: Uint8Array,
  keys: readonly openpgp.PublicKey[],
  o: { now?: Date } = {},
): Promise<VerifiedSimpleSignature> {
  const v = await verifySimpleSigning(sigBytes, keys, o);
  const actual = digestOf(manifestBytes);
  if (v.claims.manifestDigest !== actual) {
    throw new SkiffError('EINTEGRITY', `signature is for manifest digest ${v.claims.manifestDigest}, but the manifest has digest ${actual}`);
  }
  return v;
}
