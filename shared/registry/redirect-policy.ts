import { SkiffError } from '../errors.ts';
import { refusalFor, type RegistryScope } from './host-class.ts';
import { redactUrl } from './redact.ts';

export { registryScope, type RegistryScope } from './host-class.ts';

/** Most redirects followed for one request (RC-12). */
export const MAX_REDIRECTS = 10;

/** True when two URLs share scheme, host and port. */
export function sameOrigin(a: URL, b: URL): boolean {
  return a.origin === b.origin;
}

/**
 * Decides whether the client may go from `from` to `to` (a redirect, token realm, upload location, tag page or
 * foreign URL) on behalf of `registry`. Throws EUNSAFE, naming the redacted target, for: a non-http(s) scheme;
 * an https → http downgrade; a target refusalFor() refuses (unspecified, link-local, reserved; loopback from a
 * registry not on loopback; private from a public, verified registry — judged after normalising every IPv4 and
 * IPv4-in-IPv6 spelling); more than MAX_REDIRECTS hops. Pure; never contacts the target (RC-11/RC-12).
 */
export function checkRedirect(from: URL, to: URL, opts: { registry: RegistryScope; hops?: number }): void {
  const shown = redactUrl(to);
  const refuse = (why: string) => new SkiffError('EUNSAFE', `refusing to follow ${redactUrl(from)} to ${shown}: ${why}`);
  if ((opts.hops ?? 0) > MAX_REDIRECTS) throw refuse(`more than ${MAX_REDIRECTS} redirects`);
  if (to.protocol !== 'https:' && to.protocol !== 'http:') throw refuse(`scheme ${to.protocol} is not allowed`);
  if (from.protocol === 'https:' && to.protocol === 'http:') throw refuse('downgrade from https to http');
  const why = refusalFor(to.hostname, opts.registry);
  if (why !== undefined) throw refuse(why);
}
