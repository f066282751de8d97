/**
 * Cache keys. A step's key is computed BEFORE the step runs from the parent state's key and a canonical
 * description of the step (expanded instruction, build args in scope, content digests of COPY/ADD sources and of
 * bind-mount sources). Keys chain: each instruction's key is the hash of the previous key and its own description,
 * so any change upstream (ENV, USER, a base image) changes every key below it. Secrets and cache-mount contents
 * never enter a key. Pure.
 */
import { digestOf, type Digest } from '../../oci/digest.ts';

/** Bump to invalidate every existing cache entry when the key recipe changes. */
export const KEY_VERSION = 'skiff-build-cache-v1';

/** The key of a stage's starting point. */
export function baseKey(base: { kind: 'scratch' } | { kind: 'image'; manifest: string } | { kind: 'stage'; key: Digest } | { kind: 'context'; digest: string }, platform: string): Digest {
  return digestOf(JSON.stringify([KEY_VERSION, 'base', base, platform]));
}

/** The key after one more step: `description` must be JSON-serialisable and canonical (fixed key order). */
export function stepKey(parent: Digest, description: unknown): Digest {
  return digestOf(JSON.stringify([parent, description]));
}
