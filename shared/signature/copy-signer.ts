import { SkiffError, type Cancellable } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { encodeSignatureBlob } from './blob.ts';
import { loadPrivateKeyFile, readCapped, readPassphraseFile } from './openpgp-keys.ts';
import { signSimpleSigning, SIGNATURE_CREATOR, type SimpleSigner } from './simple-signing.ts';
import { loadCosignPrivateKey, signSigstore } from './sigstore.ts';

/** The signing flags of a copy (skopeo's names). */
export interface CopySignFlags {
  /** `--sign-by FINGERPRINT`: through the gpg program ($GNUPGHOME or `gpgHome`). */
  signBy?: string;
  /** `--sign-by-key FILE`: an armored/binary OpenPGP private key, no gpg needed. */
  signByKey?: string;
  /** `--sign-by-sigstore-private-key PATH`: cosign/sigstore encrypted ECDSA P-256 key. */
  signBySigstorePrivateKey?: string;
  /** `--sign-passphrase-file`: passphrase of whichever key signs (first line). */
  signPassphraseFile?: string;
  /** `--sign-identity REF`: the identity signed instead of the destination's reference. */
  signIdentity?: string;
  gpgHome?: string;
}

/** A signer for copyImage's `sign` option: returns signature blobs for the stored manifest. */
export type CopySigner = (manifestBytes: Uint8Array, digest: Digest, o: Cancellable) => Promise<Uint8Array[]>;

/**
 * Builds the `sign` callback of a copy from its flags, loading and unlocking keys up front (a bad key or
 * passphrase fails before anything is copied). The identity is `--sign-identity`, else the destination's docker
 * reference; without either it is EINVALID. undefined when no signing flag is set.
 */
export async function makeCopySigner(f: CopySignFlags, destinationReference: string | undefined, o: Cancellable = {}): Promise<CopySigner | undefined> {
  const simpleCount = (f.signBy !== undefined ? 1 : 0) + (f.signByKey !== undefined ? 1 : 0);
  if (simpleCount > 1) throw new SkiffError('EINVALID', 'only one of --sign-by and --sign-by-key can be used');
  if (simpleCount === 0 && f.signBySigstorePrivateKey === undefined) {
    if (f.signIdentity !== undefined) throw new SkiffError('EINVALID', '--sign-identity needs --sign-by, --sign-by-key or --sign-by-sigstore-private-key');
    if (f.signPassphraseFile !== undefined) throw new SkiffError('EINVALID', '--sign-passphrase-file needs a signing option');
    return undefined;
  }
  const identity = f.signIdentity ?? destinationReference;
  if (identity === undefined) {
    throw new SkiffError('EINVALID', 'cannot determine the identity to sign for: the destination has no docker reference', { hint: 'pass --sign-identity REGISTRY/REPO:TAG' });
  }
  const so = { signal: o.signal };
  const passphrase = f.signPassphraseFile !== undefined ? await readPassphraseFile(f.signPassphraseFile, so) : undefined;
  let simple: SimpleSigner | undefined;
  if (f.signByKey !== undefined) simple = { kind: 'key', key: await loadPrivateKeyFile(f.signByKey, passphrase, so) };
  else if (f.signBy !== undefined) {
    const home = f.gpgHome ?? process.env.GNUPGHOME;
    simple = { kind: 'gpg', fingerprint: f.signBy, ...(home ? { homedir: home } : {}), passphraseFile: f.signPassphraseFile };
  }
  const sigstoreKey =
    f.signBySigstorePrivateKey === undefined
      ? undefined
      : await loadCosignPrivateKey((await readCapped(f.signBySigstorePrivateKey, 'sigstore private key', 1024 * 1024, so)).toString('utf8'), passphrase ?? '');
  return async (manifestBytes, digest, co) => {
    const out: Uint8Array[] = [];
    if (simple) out.push(await signSimpleSigning(manifestBytes, identity, simple, { manifestDigest: digest, signal: co.signal }));
    if (sigstoreKey) out.push(encodeSignatureBlob({ format: 'sigstore', ...signSigstore(digest, identity, sigstoreKey, { creator: SIGNATURE_CREATOR }) }));
    return out;
  };
}
