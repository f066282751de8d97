import { SkiffError } from '../errors.ts';
import { isDigest, type Digest } from '../oci/digest.ts';
import { parseRefName } from '../oci/ref-name.ts';
import { parseReference, type Reference } from './reference.ts';

/** The transports skiff understands, by their CLI prefix. */
export const TRANSPORTS = ['docker', 'oci', 'oci-archive', 'docker-archive', 'dir', 'store'] as const;
/** One of TRANSPORTS. */
export type TransportName = (typeof TRANSPORTS)[number];

/**
 * A parsed `transport:reference` image name. `plain` is a name with no known transport prefix (the tool picks
 * its default transport). Paths are returned as written, never resolved or checked against the filesystem.
 */
export type ImageName =
  | { transport: 'docker'; ref: Reference }
  | { transport: 'oci' | 'oci-archive'; path: string; refName?: string }
  | { transport: 'docker-archive'; path: string; ref?: Reference; sourceIndex?: number }
  | { transport: 'dir'; path: string }
  | { transport: 'store'; ref?: Reference; id?: Digest }
  | { transport: 'plain'; ref: Reference };

function bad(s: string, why: string, hint?: string): SkiffError {
  return new SkiffError('EINVALID', `invalid image name ${JSON.stringify(s)}: ${why}`, hint === undefined ? {} : { hint });
}

function wrap<T>(s: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof SkiffError) throw new SkiffError(e.code, `invalid image name ${JSON.stringify(s)}: ${e.message}`, e.hint === undefined ? { cause: e } : { cause: e, hint: e.hint });
    throw e;
  }
}

/**
 * Splits `PATH[:REF]` of the oci: and oci-archive: transports exactly as skopeo (containers/image) does on
 * Unix: at the FIRST `:`; so a path cannot contain `:` and `oci:/p:a:b` is path `/p`, ref name `a:b`. The ref
 * name must match the image-spec ref.name grammar (LS-06); an empty REF means "the only image".
 */
export function splitOciPath(s: string, rest: string): { path: string; refName?: string } {
  const c = rest.indexOf(':');
  const path = c < 0 ? rest : rest.slice(0, c);
  const refName = c < 0 ? '' : rest.slice(c + 1);
  if (path === '') throw bad(s, 'the layout path is empty');
  if (refName === '') return { path };
  return { path, refName: wrap(s, () => parseRefName(refName, 'OCI reference name')) };
}

/** Whether `s` starts with a transport prefix parseImageName knows (or the `docker:` misspelling it refuses). Pure. */
export function hasTransportPrefix(s: string): boolean {
  return /^(docker:|oci:|oci-archive:|docker-archive:|dir:|store:)/.test(s);
}

/**
 * Parses a transport-qualified image name. ONLY the known prefixes `docker://`, `oci:`, `oci-archive:`,
 * `docker-archive:`, `dir:`, `store:` are transports, so `localhost:5000/x` and `busybox:1` are plain names.
 * Everything is validated (references by the distribution grammar, ref names by the image-spec grammar);
 * invalid input is EINVALID. Pure: no I/O.
 */
export function parseImageName(s: string): ImageName {
  if (s.startsWith('docker://')) {
    const rest = s.slice('docker://'.length);
    return { transport: 'docker', ref: wrap(s, () => parseReference(rest)) };
  }
  if (s.startsWith('docker:') && !s.startsWith('docker-')) throw bad(s, 'the docker transport is written docker://NAME', 'e.g. docker://docker.io/library/busybox:latest');
  for (const t of ['oci-archive', 'oci'] as const) {
    if (s.startsWith(`${t}:`)) return { transport: t, ...splitOciPath(s, s.slice(t.length + 1)) };
  }
  if (s.startsWith('docker-archive:')) {
    const rest = s.slice('docker-archive:'.length);
    const c = rest.indexOf(':');
    const path = c < 0 ? rest : rest.slice(0, c);
    const tail = c < 0 ? '' : rest.slice(c + 1);
    if (path === '') throw bad(s, 'the archive path is empty');
    if (tail === '') return { transport: 'docker-archive', path };
    if (tail.startsWith('@')) {
      const n = tail.slice(1);
      if (!/^(0|[1-9][0-9]{0,8})$/.test(n)) throw bad(s, `source index ${JSON.stringify(n)} is not a non-negative integer`);
      return { transport: 'docker-archive', path, sourceIndex: Number(n) };
    }
    const ref = wrap(s, () => parseReference(tail));
    if (ref.digest !== undefined) throw bad(s, 'a docker-archive reference cannot contain a digest');
    return { transport: 'docker-archive', path, ref };
  }
  if (s.startsWith('dir:')) {
    const path = s.slice('dir:'.length);
    if (path === '') throw bad(s, 'the directory path is empty');
    return { transport: 'dir', path };
  }
  if (s.startsWith('store:')) {
    const rest = s.slice('store:'.length);
    if (rest === '') throw bad(s, 'the store reference is empty');
    if (isDigest(rest)) return { transport: 'store', id: rest };
    if (/^[a-f0-9]{64}$/.test(rest)) return { transport: 'store', id: `sha256:${rest}` as Digest };
    return { transport: 'store', ref: wrap(s, () => parseReference(rest)) };
  }
  return { transport: 'plain', ref: wrap(s, () => parseReference(s)) };
}
