/**
 * Image signatures: simple signing (containers-signature(5), OpenPGP), sigstore/cosign (ECDSA P-256 attachments),
 * policy.json evaluation and lookaside storage. Shared because copy-tool, build-tool FROM and run-tool pull must run
 * the same policy check. Nothing here imports a tool folder.
 *
 * Intended call order when READING an image (copy source, pull, FROM):
 *   1. policy = await loadPolicy({ path: --policy, insecure: --insecure-policy, debug })          (once per command)
 *   2. fetch the manifest bytes exactly as stored (by digest when known)
 *   3. gather signatures: dir: `signature-N` files; for docker, `lookasideBases(await loadRegistriesD(dirs), ref)`
 *      then `readLookasideSignatures(base, ref, digest)`; when useSigstoreAttachments, fetch the manifest tagged
 *      `sigstoreAttachmentTag(digest)` and `readAttachmentSignatures(bytes, fetchBlob)` (caps + digest checks)
 *   4. `assertImageAllowed(policy, { scope: policyScopeOf(name), dockerReference: dockerReferenceOf(name),
 *      manifestBytes, signatures })` — BEFORE any layer is fetched or written; rejection is EPERM.
 *   5. only then copy blobs and commit.
 * When WRITING signatures (copy --sign-by…, standalone-sign): sign the digest the destination actually stored
 * (`signSimpleSigning(manifestBytes, identity, signer)` / `signSigstore(digest, identity, key)`), then write
 * `lookasideLocation(bases.write, ref, digest, N)` or a `sha256-<hex>.sig` attachment (`buildSigstoreAttachment`).
 * Authentication always happens before any payload parsing (verifySimpleSigning / verifySigstore).
 */
export { buildPayload, parsePayload, SIMPLE_SIGNING_TYPE, COSIGN_SIGNATURE_TYPE, type SignedClaims } from './payload.ts';
export { normalizeNamed, namedString, namedRepository, type NamedIdentity } from './docker-identity.ts';
export {
  signSimpleSigning, signSimpleSigning as signManifest, verifySimpleSigning, verifySimpleSignatureFor, verifySimpleSignatureFor as verifySignatures,
  type SimpleSigner, type VerifiedSimpleSignature,
} from './simple-signing.ts';
export { loadPrivateKeyFile, loadPublicKeyFiles, parsePublicKeys, readPassphraseFile, fingerprintOf } from './openpgp-keys.ts';
export { gpgSign, gpgExportPublicKeys } from './gpg.ts';
export {
  generateSigstoreKey, loadCosignPrivateKey, loadSigstorePublicKey, encryptCosignKey, signSigstore, verifySigstore,
  buildSigstoreAttachment, parseSigstoreAttachment, readAttachmentSignatures, sigstoreAttachmentTag, type SigstoreSignature, type SigstoreAttachment,
} from './sigstore.ts';
export { loadPolicy, parsePolicy, findPolicyFile, DEFAULT_POLICY, type Policy, type Requirement, type SignedIdentity, type ImageSignature } from './policy.ts';
export {
  evaluatePolicy, isImageAllowed, assertImageAllowed, policyScopeOf, dockerReferenceOf, requirementsFor, identityMatches, type PolicyInput,
  type PolicyResult, type PolicyScope,
} from './policy-evaluate.ts';
export {
  loadRegistriesD, lookasideBases, lookasideEntryFor, lookasideLocation, readLookasideSignatures, defaultLookaside, defaultRegistriesDirs,
  type RegistriesD, type LookasideEntry,
} from './lookaside.ts';
export { encodeSignatureBlob, decodeSignatureBlob, decodeSignatureBlobs, SIGSTORE_BLOB_FORMAT } from './blob.ts';
export { makeCopySigner, type CopySignFlags, type CopySigner } from './copy-signer.ts';
