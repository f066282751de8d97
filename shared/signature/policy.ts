/**
 * containers-policy.json(5), the document: its types, parsing and validation (every scope, requirement and
 * signedIdentity checked as containers/image does, key paths made absolute), and finding and loading the file.
 * Deciding whether an image is allowed is policy-evaluate.ts.
 */
import { access } from 'node:fs/promises';
import { dirname, isAbsolute, join, posix, resolve } from 'node:path';
import { SkiffError, throwIfAborted } from '../errors.ts';
import { isValidRegistry } from '../ref/reference.ts';
import { isTaggedOrDigested, normalizeNamed, type NamedIdentity } from './docker-identity.ts';
import { readCapped } from './openpgp-keys.ts';
import type { SigstoreSignature } from './sigstore.ts';

// ---------- types ----------

/** containers-policy.json(5) signedIdentity forms. */
export type SignedIdentity =
  | { type: 'matchExact' }
  | { type: 'matchRepoDigestOrExact' }
  | { type: 'matchRepository' }
  | { type: 'exactReference'; dockerReference: string }
  | { type: 'exactRepository'; dockerRepository: string }
  | { type: 'remapIdentity'; prefix: string; signedPrefix: string };

/** Key material of a requirement: exactly one source. Paths are absolute after parsing. */
export type KeySource = { keyPath: string } | { keyPaths: string[] } | { keyData: string };

/** A policy requirement. */
export type Requirement =
  | { type: 'insecureAcceptAnything' }
  | { type: 'reject' }
  | ({ type: 'signedBy'; keyType: 'GPGKeys'; signedIdentity: SignedIdentity } & KeySource)
  | ({ type: 'sigstoreSigned'; signedIdentity: SignedIdentity } & ({ keyPath: string } | { keyData: string }));

/** A parsed policy. `source` is the file it came from (undefined for the built-in default). */
export interface Policy {
  default: Requirement[];
  transports: Record<string, Record<string, Requirement[]>>;
  source?: string;
}

/** A signature attached to an image, in either format. */
export type ImageSignature = { format: 'simple-signing'; bytes: Uint8Array } | ({ format: 'sigstore' } & SigstoreSignature);

/** Transports whose names policy files may use; skiff evaluates `docker`, `atomic`, `oci`, `oci-archive`, `dir`, `docker-archive`, `store`. */
export const POLICY_TRANSPORTS = ['docker', 'atomic', 'oci', 'oci-archive', 'dir', 'docker-archive', 'store', 'containers-storage', 'docker-daemon', 'tarball', 'ostree', 'sif'] as const;
const PATH_SCOPED = new Set(['oci', 'oci-archive', 'dir']);
const REF_SCOPED = new Set(['docker', 'atomic', 'store']);

/** The policy distributions ship (and skiff uses when no policy file exists at all): accept anything. */
export const DEFAULT_POLICY: Policy = Object.freeze({ default: [{ type: 'insecureAcceptAnything' }], transports: {} }) as Policy;

// ---------- parsing ----------

function bad(where: string, why: string): SkiffError {
  return new SkiffError('EINVALID', `invalid policy${where ? ` ${where}` : ''}: ${why}`, { hint: 'see containers-policy.json(5)' });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyFields(o: Record<string, unknown>, where: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw bad(where, `unknown field ${JSON.stringify(k)}`);
}

function str(o: Record<string, unknown>, k: string, where: string): string {
  const v = o[k];
  if (typeof v !== 'string' || v === '') throw bad(where, `field ${JSON.stringify(k)} must be a non-empty string`);
  return v;
}

function validPrefix(s: string, where: string): void {
  // host[:port], or host[:port]/ns[/…][/repo]; no tag, no digest.
  if (isValidRegistry(s) && !s.includes('/')) return;
  let n: NamedIdentity;
  try {
    n = normalizeNamed(s);
  } catch (e) {
    throw bad(where, (e as Error).message);
  }
  if (isTaggedOrDigested(n)) throw bad(where, `prefix ${JSON.stringify(s)} must not have a tag or digest`);
}

function parseSignedIdentity(v: unknown, where: string): SignedIdentity {
  if (v === undefined) return { type: 'matchRepoDigestOrExact' };
  if (!isObject(v)) throw bad(where, 'signedIdentity must be an object');
  const t = v.type;
  switch (t) {
    case 'matchExact':
    case 'matchRepoDigestOrExact':
    case 'matchRepository':
      onlyFields(v, where, ['type']);
      return { type: t };
    case 'exactReference': {
      onlyFields(v, where, ['type', 'dockerReference']);
      const r = str(v, 'dockerReference', where);
      let n: NamedIdentity;
      try {
        n = normalizeNamed(r);
      } catch (e) {
        throw bad(where, (e as Error).message);
      }
      if (!isTaggedOrDigested(n)) throw bad(where, `exactReference ${JSON.stringify(r)} needs a tag or digest`);
      return { type: t, dockerReference: r };
    }
    case 'exactRepository': {
      onlyFields(v, where, ['type', 'dockerRepository']);
      const r = str(v, 'dockerRepository', where);
      try {
        normalizeNamed(r);
      } catch (e) {
        throw bad(where, (e as Error).message);
      }
      return { type: t, dockerRepository: r };
    }
    case 'remapIdentity': {
      onlyFields(v, where, ['type', 'prefix', 'signedPrefix']);
      const prefix = str(v, 'prefix', where);
      const signedPrefix = str(v, 'signedPrefix', where);
      validPrefix(prefix, where);
      validPrefix(signedPrefix, where);
      return { type: t, prefix, signedPrefix };
    }
    default:
      throw bad(where, `unknown signedIdentity type ${JSON.stringify(t)}`);
  }
}

function absKeyPath(p: unknown, where: string, baseDir: string | undefined): string {
  if (typeof p !== 'string' || p === '') throw bad(where, 'key paths must be non-empty strings');
  if (isAbsolute(p)) return p;
  if (baseDir === undefined) throw bad(where, `key path ${JSON.stringify(p)} must be absolute`);
  return resolve(baseDir, p);
}

function parseRequirement(v: unknown, where: string, baseDir: string | undefined): Requirement {
  if (!isObject(v)) throw bad(where, 'a requirement must be an object');
  switch (v.type) {
    case 'insecureAcceptAnything':
    case 'reject':
      onlyFields(v, where, ['type']);
      return { type: v.type };
    case 'signedBy': {
      onlyFields(v, where, ['type', 'keyType', 'keyPath', 'keyPaths', 'keyData', 'signedIdentity']);
      if (v.keyType !== 'GPGKeys') throw bad(where, `keyType ${JSON.stringify(v.keyType)} is not supported (only "GPGKeys")`);
      const n = ['keyPath', 'keyPaths', 'keyData'].filter((k) => v[k] !== undefined).length;
      if (n !== 1) throw bad(where, 'signedBy needs exactly one of keyPath, keyPaths, keyData');
      const signedIdentity = parseSignedIdentity(v.signedIdentity, where);
      if (v.keyPath !== undefined) return { type: 'signedBy', keyType: 'GPGKeys', keyPath: absKeyPath(v.keyPath, where, baseDir), signedIdentity };
      if (v.keyPaths !== undefined) {
        if (!Array.isArray(v.keyPaths) || v.keyPaths.length === 0) throw bad(where, 'keyPaths must be a non-empty array');
        return { type: 'signedBy', keyType: 'GPGKeys', keyPaths: v.keyPaths.map((p) => absKeyPath(p, where, baseDir)), signedIdentity };
      }
      return { type: 'signedBy', keyType: 'GPGKeys', keyData: keyDataOf(v.keyData, where), signedIdentity };
    }
    case 'sigstoreSigned': {
      onlyFields(v, where, ['type', 'keyPath', 'keyData', 'signedIdentity']);
      const n = ['keyPath', 'keyData'].filter((k) => v[k] !== undefined).length;
      if (n !== 1) throw bad(where, 'sigstoreSigned needs exactly one of keyPath, keyData (Fulcio and Rekor are not supported)');
      const signedIdentity = parseSignedIdentity(v.signedIdentity, where);
      if (v.keyPath !== undefined) return { type: 'sigstoreSigned', keyPath: absKeyPath(v.keyPath, where, baseDir), signedIdentity };
      return { type: 'sigstoreSigned', keyData: keyDataOf(v.keyData, where), signedIdentity };
    }
    default:
      throw bad(where, `unknown requirement type ${JSON.stringify(v.type)}`);
  }
}

function keyDataOf(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '' || !/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(v)) throw bad(where, 'keyData must be base64');
  return v;
}

function parseRequirements(v: unknown, where: string, baseDir: string | undefined): Requirement[] {
  if (!Array.isArray(v)) throw bad(where, 'requirements must be an array');
  if (v.length === 0) throw bad(where, 'a requirement list must not be empty');
  return v.map((r, i) => parseRequirement(r, `${where}[${i}]`, baseDir));
}

function validateScope(transport: string, scope: string, where: string): void {
  if (scope === '') return;
  if (PATH_SCOPED.has(transport)) {
    const pathPart = transport === 'dir' ? scope : scope.split(':')[0]!;
    if (!pathPart.startsWith('/') || posix.normalize(pathPart) !== pathPart || (pathPart.length > 1 && pathPart.endsWith('/'))) {
      throw bad(where, `scope ${JSON.stringify(scope)} must be an absolute, clean path`);
    }
    return;
  }
  if (transport === 'docker-archive') throw bad(where, 'docker-archive supports only the default "" scope');
  if (REF_SCOPED.has(transport)) {
    if (/^\*\.[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(scope) && transport !== 'store') return;
    if (isValidRegistry(scope)) return;
    try {
      normalizeNamed(scope);
    } catch (e) {
      throw bad(where, `scope ${JSON.stringify(scope)}: ${(e as Error).message}`);
    }
  }
}

/**
 * Parses policy.json text strictly: only `default` and `transports` at the top, every requirement and
 * signedIdentity checked, unknown fields and types rejected (EINVALID naming where). Relative key paths are
 * resolved against `baseDir` (the policy file's directory). Pure.
 */
export function parsePolicy(text: string | Uint8Array, o: { baseDir?: string; source?: string } = {}): Policy {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof text === 'string' ? text : Buffer.from(text).toString('utf8'));
  } catch (e) {
    throw bad(o.source ?? '', `not JSON: ${(e as Error).message}`);
  }
  const at = o.source ?? '';
  if (!isObject(doc)) throw bad(at, 'the top level must be an object');
  onlyFields(doc, at, ['default', 'transports']);
  if (doc.default === undefined) throw bad(at, 'the "default" requirement list is missing');
  const policy: Policy = { default: parseRequirements(doc.default, `${at} default`.trim(), o.baseDir), transports: {} };
  if (o.source !== undefined) policy.source = o.source;
  if (doc.transports !== undefined) {
    if (!isObject(doc.transports)) throw bad(at, '"transports" must be an object');
    for (const [t, scopes] of Object.entries(doc.transports)) {
      if (!(POLICY_TRANSPORTS as readonly string[]).includes(t)) throw bad(at, `unknown transport ${JSON.stringify(t)}`);
      if (!isObject(scopes)) throw bad(at, `transports.${t} must be an object`);
      const m: Record<string, Requirement[]> = {};
      for (const [scope, reqs] of Object.entries(scopes)) {
        const where = `${at} transports.${t}[${JSON.stringify(scope)}]`.trim();
        validateScope(t, scope, where);
        m[scope] = parseRequirements(reqs, where, o.baseDir);
      }
      policy.transports[t] = m;
    }
  }
  return policy;
}

/**
 * The policy file to use: `explicit` when given (must exist), else `$HOME/.config/containers/policy.json`, else
 * `/etc/containers/policy.json` (`etcPath` overrides it for tests); undefined when none exists.
 */
export async function findPolicyFile(o: { explicit?: string; home?: string; etcPath?: string } = {}): Promise<string | undefined> {
  if (o.explicit !== undefined) return o.explicit;
  const home = o.home ?? process.env.HOME;
  const candidates = [...(home ? [join(home, '.config/containers/policy.json')] : []), o.etcPath ?? '/etc/containers/policy.json'];
  for (const c of candidates) {
    try {
      await access(c);
      return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * Loads the policy: `--insecure-policy` → accept anything; else the file findPolicyFile picks (read with a cap,
 * parsed strictly); when no file exists at all, DEFAULT_POLICY with a note through `debug`. An explicit path that
 * does not exist is ENOTFOUND.
 */
export async function loadPolicy(o: { path?: string; insecure?: boolean; home?: string; etcPath?: string; debug?: (msg: string) => void; signal?: AbortSignal } = {}): Promise<Policy> {
  throwIfAborted(o.signal);
  if (o.insecure) return DEFAULT_POLICY;
  const f = await findPolicyFile({ explicit: o.path, home: o.home, etcPath: o.etcPath });
  if (f === undefined) {
    o.debug?.('no policy.json found ($HOME/.config/containers/policy.json, /etc/containers/policy.json): using the default policy, which accepts any image');
    return DEFAULT_POLICY;
  }
  const bytes = await readCapped(f, 'policy file', 4 * 1024 * 1024, o.signal ? { signal: o.signal } : {});
  o.debug?.(`using policy ${f}`);
  return parsePolicy(bytes, { baseDir: dirname(resolve(f)), source: f });
}
