/**
 * `--build-context NAME=VALUE` (BuildKit's and buildah's flag). VALUE is a local directory, `docker-image://REF`
 * (an image used as a FROM base is), `oci-layout://PATH@sha256:DIGEST` or `oci-layout://PATH[:TAG]`, or a remote
 * context (git or tarball URL, fetched by remote-context.ts). A name is matched case-insensitively against
 * `FROM NAME`, `COPY --from=NAME` and `RUN --mount from=NAME`, and overrides a stage or image of that name, as in
 * BuildKit.
 */
import { realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SkiffError } from '../../errors.ts';
import { fetchRemoteContext, isRemoteContext, type FetchOptions } from './remote-context.ts';

/** A parsed `--build-context` value. */
export type NamedContextSpec =
  | { kind: 'dir'; path: string }
  | { kind: 'image'; ref: string }
  | { kind: 'oci-layout'; path: string; digest?: string; tag?: string }
  | { kind: 'remote'; url: string };

/** A resolved named context: a directory on this machine (remote ones fetched), or an image to load. */
export type NamedContext = { kind: 'dir'; dir: string; /** fetched, removed after the build */ transient?: boolean } | { kind: 'image'; ref: string } | { kind: 'oci-layout'; path: string; digest?: string; tag?: string };

const NAME = /^[a-z0-9][a-z0-9._/:@-]*$/u;

/** Parses one `--build-context NAME=VALUE`; one-line EINVALID naming what is wrong. Pure. */
export function parseBuildContextFlag(s: string): [string, NamedContextSpec] {
  const eq = s.indexOf('=');
  const bad = (why: string): SkiffError =>
    new SkiffError('EINVALID', `invalid --build-context ${JSON.stringify(s)}: ${why}`, {
      hint: 'write NAME=DIR, NAME=docker-image://REF, NAME=oci-layout://PATH@sha256:DIGEST or NAME=URL',
    });
  if (eq <= 0) throw bad('want NAME=VALUE');
  const name = s.slice(0, eq).toLowerCase();
  const value = s.slice(eq + 1);
  if (!NAME.test(name)) throw bad(`${JSON.stringify(name)} is not a valid context name`);
  if (value === '') throw bad('the value is empty');
  if (value.startsWith('docker-image://')) {
    const ref = value.slice('docker-image://'.length);
    if (ref === '') throw bad('docker-image:// needs an image reference');
    return [name, { kind: 'image', ref }];
  }
  if (value.startsWith('oci-layout://')) {
    const rest = value.slice('oci-layout://'.length);
    const at = rest.lastIndexOf('@');
    if (at >= 0) {
      const digest = rest.slice(at + 1);
      if (!/^sha256:[0-9a-f]{64}$/u.test(digest)) throw bad(`${JSON.stringify(digest)} is not a sha256 digest`);
      if (at === 0) throw bad('oci-layout:// needs a layout path');
      return [name, { kind: 'oci-layout', path: rest.slice(0, at), digest }];
    }
    const colon = rest.lastIndexOf(':');
    const slash = rest.lastIndexOf('/');
    if (colon > slash && colon > 0) return [name, { kind: 'oci-layout', path: rest.slice(0, colon), tag: rest.slice(colon + 1) }];
    if (rest === '') throw bad('oci-layout:// needs a layout path');
    return [name, { kind: 'oci-layout', path: rest }];
  }
  if (isRemoteContext(value)) return [name, { kind: 'remote', url: value }];
  if (/^[a-z][a-z0-9+.-]*:\/\//iu.test(value)) throw bad(`unsupported scheme in ${JSON.stringify(value)}`);
  return [name, { kind: 'dir', path: value }];
}

/** Resolved named contexts and the removal of what fetching them left (call `dispose` in `finally`). */
export interface ResolvedContexts {
  contexts: Map<string, NamedContext>;
  dispose(): Promise<void>;
}

/**
 * Resolves parsed named contexts: directories must exist (real path kept), remote ones are fetched into private
 * temp dirs; on a failure everything fetched so far is removed before the error is thrown.
 */
export async function resolveNamedContexts(specs: ReadonlyMap<string, NamedContextSpec>, o: FetchOptions = {}): Promise<ResolvedContexts> {
  const contexts = new Map<string, NamedContext>();
  const disposers: (() => Promise<void>)[] = [];
  const dispose = async (): Promise<void> => {
    for (const d of disposers.splice(0)) await d().catch(() => {});
  };
  try {
    for (const [name, spec] of specs) {
      if (spec.kind === 'image' || spec.kind === 'oci-layout') {
        contexts.set(name, spec.kind === 'image' ? spec : { ...spec, path: resolve(spec.path) });
      } else if (spec.kind === 'remote') {
        const f = await fetchRemoteContext(spec.url, o);
        disposers.push(f.dispose);
        contexts.set(name, { kind: 'dir', dir: f.dir, transient: true });
      } else {
        const dir = await realpath(spec.path).catch(() => undefined);
        if (dir === undefined || !(await stat(dir)).isDirectory()) {
          throw new SkiffError('ENOTFOUND', `build context ${name}: ${spec.path} is not a directory`, { hint: 'give an existing directory, docker-image://REF, oci-layout://PATH@DIGEST or a URL' });
        }
        contexts.set(name, { kind: 'dir', dir });
      }
    }
    return { contexts, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}
