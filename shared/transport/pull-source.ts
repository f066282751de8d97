import { SkiffError, isSkiffError, type Cancellable } from '../errors.ts';
import { formatReference, parseReference, qualify, type Reference } from '../ref/reference.ts';
import { loadShortNameConfig } from '../ref/registries-conf.ts';
import { NO_SHORT_NAME_CONFIG, isShortName, resolvePullName, type PullResolution, type ShortNameConfig } from '../ref/short-name.ts';
import { lookupImage } from '../store/lookup.ts';
import { openStore } from '../store/store.ts';
import type { TransportContext } from './context.ts';
import { openSource } from './open.ts';
import type { OpenedSource } from './types.ts';

/**
 * Opens the registry source a pull of `ref` (a name written without a transport) reads, as podman pulls: a
 * short name that names a stored image (lookupImage) is pulled again from where that image's name says
 * (`busybox` stored as `127.0.0.1:5000/library/busybox:latest` → that name; libimage skips the short-name
 * resolution then, unless `o.ignoreStored`, which podman does for an explicit platform); any other short name
 * is resolved through registries.conf (resolvePullName: its alias, else each unqualified-search registry in
 * order; none is an error that reaches no registry). Podman's description line and
 * `Trying to pull NAME...` are logged before each attempt, and the first candidate that opens wins. When every
 * candidate fails, one failure is rethrown as it is and several become podman's
 * `N errors occurred while pulling:` list. Cancellation stops at once. The caller must close() the source.
 */
export async function openPullSource(
  ref: Reference,
  ctx: TransportContext,
  o: { shortNames?: ShortNameConfig; ignoreStored?: boolean; log?: (line: string) => void } = {},
): Promise<OpenedSource> {
  const so = { signal: ctx.signal };
  const conf =
    o.shortNames ?? (isShortName(ref) ? await loadShortNameConfig({ ...so, path: ctx.registry.registriesConf }) : NO_SHORT_NAME_CONFIG);
  const stored = isShortName(ref) && !o.ignoreStored ? await storedName(ctx.storeRoot, ref, conf, so) : undefined;
  const resolved: PullResolution = stored ? { candidates: [stored] } : resolvePullName(ref, conf);
  if (resolved.description !== undefined) o.log?.(resolved.description);
  const errors: unknown[] = [];
  for (const c of resolved.candidates) {
    o.log?.(`Trying to pull ${formatReference(c)}...`);
    try {
      return await openSource({ transport: 'docker', ref: c }, ctx);
    } catch (e) {
      if (isSkiffError(e, 'EABORT')) throw e;
      errors.push(e);
    }
  }
  throw pullErrors(errors);
}

/** The qualified name a short name's stored image is known by, or undefined (not stored, found by digest only, no store). */
async function storedName(root: string, ref: Reference, conf: ShortNameConfig, so: Cancellable) {
  const store = await openStore(root, so).catch((e: unknown) => (isSkiffError(e, 'ENOTFOUND') ? undefined : Promise.reject(e)));
  if (!store) return undefined;
  try {
    const found = await lookupImage(store.layout, formatReference(ref), { ...so, shortNames: conf }).catch((e: unknown) => (isSkiffError(e, 'ENOTFOUND') ? undefined : Promise.reject(e)));
    if (found?.name === undefined) return undefined;
    const r = parseReference(found.name);
    return r.registry === undefined ? undefined : qualify(r, r.registry);
  } finally {
    await store.close();
  }
}

/** One failure as it is; several as podman's `N errors occurred while pulling:` list (ENOTFOUND when all were). */
function pullErrors(errors: unknown[]): unknown {
  if (errors.length === 1) return errors[0];
  const lines = errors.map((e) => ` * ${e instanceof Error ? e.message : String(e)}`);
  const code = errors.every((e) => isSkiffError(e, 'ENOTFOUND')) ? 'ENOTFOUND' : isSkiffError(errors[0]) ? errors[0].code : 'EIO';
  return new SkiffError(code, `${errors.length} errors occurred while pulling:\n${lines.join('\n')}`, { cause: errors[errors.length - 1] });
}
