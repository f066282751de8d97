/**
 * containers-policy.json(5), the decision: signedIdentity matching, and evaluating the requirements against the
 * image's signatures (keys loaded once per requirement). Scopes and the requirement list that applies are
 * policy-scope.ts (re-exported here); the document itself is parsed by policy.ts.
 */
import type { KeyObject } from 'node:crypto';
import type * as openpgp from 'openpgp';
import { SkiffError, throwIfAborted, type Cancellable } from '../errors.ts';
import { digestOf } from '../oci/digest.ts';
import { isValidRegistry } from '../ref/reference.ts';
import { isTaggedOrDigested, namedRepository, namedString, normalizeNamed, type NamedIdentity } from './docker-identity.ts';
import { parsePublicKeys, readCapped } from './openpgp-keys.ts';
import type { ImageSignature, Policy, Requirement, SignedIdentity } from './policy.ts';
import { requirementsFor, type PolicyScope } from './policy-scope.ts';
import { verifySimpleSignatureFor } from './simple-signing.ts';
import { loadSigstorePublicKey, verifySigstore } from './sigstore.ts';

export { dockerReferenceOf, policyScopeOf, requirementsFor, type PolicyScope } from './policy-scope.ts';

// ---------- identity ----------

function refMatchesPrefix(ref: string, prefix: string): boolean {
  if (ref.length < prefix.length || !ref.startsWith(prefix)) return false;
  if (ref.length === prefix.length) return true;
  const c = ref[prefix.length];
  return c === '/' || (prefix.includes('/') && (c === ':' || c === '@'));
}

/**
 * Whether a signature's claimed identity satisfies `si` for the image being checked (`intended`, undefined for
 * transports without a docker reference). Semantics of containers-policy.json(5). Pure.
 */
export function identityMatches(si: SignedIdentity, intended: NamedIdentity | undefined, signed: NamedIdentity): boolean {
  const exact = (a: NamedIdentity, b: NamedIdentity): boolean => isTaggedOrDigested(a) && namedString(a) === namedString(b);
  const repoDigestOrExact = (a: NamedIdentity): boolean => (a.digest !== undefined ? namedRepository(a) === namedRepository(signed) : exact(a, signed));
  switch (si.type) {
    case 'matchExact':
      return intended !== undefined && exact(intended, signed);
    case 'matchRepoDigestOrExact':
      return intended !== undefined && repoDigestOrExact(intended);
    case 'matchRepository':
      return intended !== undefined && namedRepository(intended) === namedRepository(signed);
    case 'exactReference':
      return namedString(normalizeNamed(si.dockerReference)) === namedString(signed);
    case 'exactRepository':
      return namedRepository(normalizeNamed(si.dockerRepository)) === namedRepository(signed);
    case 'remapIdentity': {
      if (intended === undefined) return false;
      const full = namedString(intended);
      const prefix = normalizePrefix(si.prefix);
      if (!refMatchesPrefix(full, prefix)) return repoDigestOrExact(intended);
      let remapped: NamedIdentity;
      try {
        remapped = normalizeNamed(normalizePrefix(si.signedPrefix) + full.slice(prefix.length));
      } catch {
        return false;
      }
      return repoDigestOrExact(remapped);
    }
  }
}

function normalizePrefix(p: string): string {
  if (isValidRegistry(p) && !p.includes('/')) return p;
  return namedRepository(normalizeNamed(p));
}

// ---------- evaluation ----------

/** What evaluatePolicy needs to know about the image. */
export interface PolicyInput {
  scope: PolicyScope;
  /** The image's docker reference (normalised string), when its transport has one. */
  dockerReference?: string;
  /** The exact manifest bytes the signatures must cover. */
  manifestBytes: Uint8Array;
  signatures: readonly ImageSignature[];
}

/** Outcome: allowed, or rejected with a reason naming the requirement (one line, skopeo's wording). */
export type PolicyResult = { allowed: true; scope: string } | { allowed: false; scope: string; reason: string; requirement: Requirement };

const pgpKeyCache = new WeakMap<Requirement, Promise<openpgp.PublicKey[]>>();
const sigstoreKeyCache = new WeakMap<Requirement, Promise<KeyObject[]>>();

async function gpgKeysOf(r: Requirement & { type: 'signedBy' }, signal?: AbortSignal): Promise<openpgp.PublicKey[]> {
  let p = pgpKeyCache.get(r);
  if (p === undefined) {
    p = (async () => {
      const o = { signal };
      if ('keyData' in r) return parsePublicKeys(Buffer.from(r.keyData, 'base64'), 'keyData');
      const paths = 'keyPaths' in r ? r.keyPaths : [r.keyPath];
      const keys: openpgp.PublicKey[] = [];
      for (const path of paths) keys.push(...(await parsePublicKeys(await readCapped(path, 'policy key file', undefined, o), `key file ${path}`)));
      return keys;
    })();
    pgpKeyCache.set(r, p);
    p.catch(() => pgpKeyCache.delete(r));
  }
  return p;
}

async function sigstoreKeysOf(r: Requirement & { type: 'sigstoreSigned' }, signal?: AbortSignal): Promise<KeyObject[]> {
  let p = sigstoreKeyCache.get(r);
  if (p === undefined) {
    p = (async () => {
      const bytes = 'keyData' in r ? Buffer.from(r.keyData, 'base64') : await readCapped(r.keyPath, 'policy key file', undefined, signal ? { signal } : {});
      return [loadSigstorePublicKey(bytes)];
    })();
    sigstoreKeyCache.set(r, p);
    p.catch(() => sigstoreKeyCache.delete(r));
  }
  return p;
}

async function checkRequirement(r: Requirement, input: PolicyInput, intended: NamedIdentity | undefined, signal?: AbortSignal): Promise<string | undefined> {
  switch (r.type) {
    case 'insecureAcceptAnything':
      return undefined;
    case 'reject':
      return 'Running image is rejected by policy.';
    case 'signedBy':
    case 'sigstoreSigned': {
      const sigs = input.signatures.filter((s) => s.format === (r.type === 'signedBy' ? 'simple-signing' : 'sigstore'));
      if (sigs.length === 0) return `A signature was required, but no signature exists (requirement ${r.type})`;
      const reasons: string[] = [];
      for (const s of sigs) {
        throwIfAborted(signal);
        try {
          let claimed: NamedIdentity;
          if (s.format === 'simple-signing') {
            const v = await verifySimpleSignatureFor(s.bytes, input.manifestBytes, await gpgKeysOf(r as Requirement & { type: 'signedBy' }, signal));
            claimed = v.claims.identity;
          } else {
            const claims = verifySigstore(s, await sigstoreKeysOf(r as Requirement & { type: 'sigstoreSigned' }, signal));
            const actual = digestOf(input.manifestBytes);
            if (claims.manifestDigest !== actual) throw new SkiffError('EINTEGRITY', `signature is for manifest digest ${claims.manifestDigest}, but the manifest has digest ${actual}`);
            claimed = claims.identity;
          }
          if (identityMatches(r.signedIdentity, intended, claimed)) return undefined;
          reasons.push(`Signature for identity ${JSON.stringify(namedString(claimed))} is not accepted${intended ? ` for ${namedString(intended)}` : ''} (${r.signedIdentity.type})`);
        } catch (e) {
          if (!(e instanceof SkiffError) || e.code === 'EABORT' || e.code === 'ENOTFOUND' || e.code === 'EIO') throw e;
          reasons.push(e.message);
        }
      }
      return `${r.type}: ${reasons.join('; ')}`;
    }
  }
}

/**
 * Evaluates the policy for one image: picks the requirement list for `input.scope` (most specific first) and
 * requires EVERY requirement to pass; for signedBy / sigstoreSigned at least one signature of that format must
 * authenticate with the requirement's keys, cover the digest of `manifestBytes` and satisfy signedIdentity.
 * Never throws for a rejection (returns it); throws for I/O problems (missing key file) and cancellation.
 */
export async function evaluatePolicy(policy: Policy, input: PolicyInput, o: Cancellable = {}): Promise<PolicyResult> {
  const { scope, requirements } = requirementsFor(policy, input.scope);
  const intended = input.dockerReference === undefined ? undefined : normalizeNamed(input.dockerReference);
  for (const r of requirements) {
    const why = await checkRequirement(r, input, intended, o.signal);
    if (why !== undefined) return { allowed: false, scope, reason: why, requirement: r };
  }
  return { allowed: true, scope };
}

/** evaluatePolicy, throwing EPERM "Source image rejected: …" on rejection (what copy/pull call). */
export async function assertImageAllowed(policy: Policy, input: PolicyInput, o: Cancellable = {}): Promise<void> {
  const r = await evaluatePolicy(policy, input, o);
  if (!r.allowed) {
    throw new SkiffError('EPERM', `Source image rejected: ${r.reason}`, { hint: `policy ${policy.source ?? '(built-in)'} scope ${r.scope}`, details: { scope: r.scope } });
  }
}

/** Alias with the brief's name: true/false plus the reason. */
export const isImageAllowed = evaluatePolicy;

