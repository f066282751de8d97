import type { ImageName } from '../ref/transport-name.ts';
import type { Policy } from '../signature/policy.ts';
import { dockerReferenceOf, policyScopeOf, requirementsFor } from '../signature/policy-scope.ts';
import type { OpenedSource } from './types.ts';

/**
 * The trust-policy check of a copy or pull, run BEFORE anything is written to the destination: the requirements
 * of the most specific scope of `name` (the SOURCE's transport + reference) must all pass for the source's top
 * manifest, with the signatures the source stores beside it (dir: files, store, lookaside, sigstore attachments).
 * When every requirement is insecureAcceptAnything no signature is fetched and no verifier is loaded. Rejection throws EPERM
 * "Source image rejected: …"; I/O failures throw their own error.
 */
export async function checkSourcePolicy(src: OpenedSource, name: ImageName, policy: Policy, o: { signal?: AbortSignal; debug?: (line: string) => void } = {}): Promise<void> {
  const so = { signal: o.signal };
  const scope = policyScopeOf(name);
  const { scope: used, requirements } = requirementsFor(policy, scope);
  o.debug?.(`policy scope for ${src.name}: ${used} (${requirements.map((r) => r.type).join(', ')})`);
  if (requirements.every((r) => r.type === 'insecureAcceptAnything')) return;
  const [{ decodeSignatureBlobs }, { assertImageAllowed }] = await Promise.all([import('../signature/blob.ts'), import('../signature/policy-evaluate.ts')]);
  const top = await src.getManifest(undefined, so);
  const blobs = requirements.some((r) => r.type === 'signedBy' || r.type === 'sigstoreSigned') ? ((await src.getSignatures?.(top.digest, so)) ?? []) : [];
  const signatures = decodeSignatureBlobs(blobs, (why) => o.debug?.(`skipping a signature: ${why}`));
  const dockerReference = dockerReferenceOf(name);
  await assertImageAllowed(policy, { scope, dockerReference, manifestBytes: top.bytes, signatures }, so);
}
