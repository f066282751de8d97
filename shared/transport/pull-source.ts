import { SkiffError, isSkiffError } from '../errors.ts';
import { formatReference, type Reference } from '../ref/reference.ts';
import { loadShortNameConfig } from '../ref/registries-conf.ts';
import { NO_SHORT_NAME_CONFIG, isShortName, resolvePullName, type ShortNameConfig } from '../ref/short-name.ts';
import type { TransportContext } from './context.ts';
import { openSource } from './open.ts';
import type { OpenedSource } from './types.ts';

/**
 * Opens the registry source a pull of `ref` (a name written without a transport) reads, as podman pulls: a
 * short name is resolved through registries.conf (resolvePullName: its alias, else each unqualified-search
 * registry in order; none is an error that reaches no registry), podman's description line and
 * `Trying to pull NAME...` are logged before each attempt, and the first candidate that opens wins. When every
 * candidate fails, one failure is rethrown as it is and several become podman's
 * `N errors occurred while pulling:` list. Cancellation stops at once. The caller must close() the source.
 */
export async function openPullSource(ref: Reference, ctx: TransportContext, o: { shortNames?: ShortNameConfig; log?: (line: string) => void } = {}): Promise<OpenedSource> {
  const so = ctx.signal ? { signal: ctx.signal } : {};
  const conf =
    o.shortNames ?? (isShortName(ref) ? await loadShortNameConfig({ ...so, ...(ctx.registry.registriesConf !== undefined ? { path: ctx.registry.registriesConf } : {}) }) : NO_SHORT_NAME_CONFIG);
  const resolved = resolvePullName(ref, conf);
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

/** One failure as it is; several as podman's `N errors occurred while pulling:` list (ENOTFOUND when all were). */
function pullErrors(errors: unknown[]): unknown {
  if (errors.length === 1) return errors[0];
  const lines = errors.map((e) => ` * ${e instanceof Error ? e.message : String(e)}`);
  const code = errors.every((e) => isSkiffError(e, 'ENOTFOUND')) ? 'ENOTFOUND' : isSkiffError(errors[0]) ? errors[0].code : 'EIO';
  return new SkiffError(code, `${errors.length} errors occurred while pulling:\n${lines.join('\n')}`, { cause: errors[errors.length - 1] });
}
