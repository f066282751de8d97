/**
 * containers-policy.json(5), the scope half of the decision: an image's policy scopes in its transport, its docker
 * reference, and the requirement list that applies. Pure and light (no signature code), so a copy whose policy
 * accepts anything never loads the verifiers (policy-evaluate.ts).
 */
import { resolve, posix } from 'node:path';
import type { ImageName } from '../ref/transport-name.ts';
import { isTaggedOrDigested, namedRepository, namedString, normalizeNamed, type NamedIdentity } from './docker-identity.ts';
import type { Policy, Requirement } from './policy.ts';

/** The policy identity of an image in one transport: the most specific scope, then ever wider namespaces. */
export interface PolicyScope {
  transport: string;
  identity: string;
  namespaces: string[];
}

function refNamespaces(n: NamedIdentity, wildcards: boolean): string[] {
  const out = [namedRepository(n)];
  const parts = n.path.split('/');
  for (let i = parts.length - 1; i > 0; i--) out.push(`${n.registry}/${parts.slice(0, i).join('/')}`);
  out.push(n.registry);
  if (wildcards) {
    const host = n.registry.replace(/:[0-9]+$/, '');
    if (!host.startsWith('[')) {
      const labels = host.split('.');
      for (let i = 1; i < labels.length; i++) out.push(`*.${labels.slice(i).join('.')}`);
    }
  }
  return out;
}

function pathNamespaces(p: string): string[] {
  const out: string[] = [];
  let d = p;
  for (;;) {
    d = posix.dirname(d);
    if (d === '/' || d === '.') break;
    out.push(d);
  }
  return out;
}

/**
 * Scope identity and namespaces of a transport-qualified image name, as containers/image computes them: docker
 * and store `host/repo:tag` → `host/repo` → parent namespaces → `host` (docker also `*.domain` wildcards);
 * oci / oci-archive `ABSPATH:ref` → `ABSPATH` → parent dirs; dir `ABSPATH` → parent dirs; docker-archive only
 * the transport default. Paths are made absolute with path.resolve (symlinks are not resolved). Pure.
 */
export function policyScopeOf(name: ImageName): PolicyScope {
  switch (name.transport) {
    case 'docker':
    case 'plain':
    case 'store': {
      const transport = name.transport === 'plain' ? 'docker' : name.transport;
      if (name.transport === 'store' && name.ref === undefined) return { transport, identity: '', namespaces: [] };
      const n = normalizeNamed(namedString(name.ref! as NamedIdentity).replace(/^\/+/, ''));
      if (!isTaggedOrDigested(n)) n.tag = 'latest';
      return { transport, identity: namedString(n), namespaces: refNamespaces(n, transport === 'docker') };
    }
    case 'oci':
    case 'oci-archive': {
      const p = resolve(name.path);
      return { transport: name.transport, identity: `${p}:${name.refName ?? ''}`, namespaces: [p, ...pathNamespaces(p)] };
    }
    case 'dir': {
      const p = resolve(name.path);
      return { transport: 'dir', identity: p, namespaces: pathNamespaces(p) };
    }
    case 'docker-archive':
      return { transport: 'docker-archive', identity: '', namespaces: [] };
  }
}

/** The docker reference an image name carries for identity checks (undefined for oci/dir/archives without one). */
export function dockerReferenceOf(name: ImageName): string | undefined {
  if (name.transport === 'docker' || name.transport === 'plain' || (name.transport === 'store' && name.ref !== undefined) || (name.transport === 'docker-archive' && name.ref !== undefined)) {
    const n = normalizeNamed(namedString(name.ref! as NamedIdentity));
    if (!isTaggedOrDigested(n)) n.tag = 'latest';
    return namedString(n);
  }
  return undefined;
}

/** The requirement list that applies to `scope`: most specific scope first, then the transport's "", then default. */
export function requirementsFor(policy: Policy, scope: PolicyScope): { scope: string; requirements: Requirement[] } {
  const t = policy.transports[scope.transport];
  if (t !== undefined) {
    for (const s of [scope.identity, ...scope.namespaces]) {
      if (s !== '' && t[s] !== undefined) return { scope: `${scope.transport}:${s}`, requirements: t[s] };
    }
    if (t[''] !== undefined) return { scope: `${scope.transport}:""`, requirements: t[''] };
  }
  return { scope: 'default', requirements: policy.default };
}
