import { isIP } from 'node:net';
import { SkiffError } from '../errors.ts';
import { redactUrl } from './redact.ts';

/** Most redirects followed for one request (RC-12). */
export const MAX_REDIRECTS = 10;

function ipv4Octets(h: string): number[] | undefined {
  if (isIP(h) !== 4) return undefined;
  return h.split('.').map(Number);
}

function bareHost(u: URL): string {
  const h = u.hostname.toLowerCase();
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** True for IP literals in 169.254.0.0/16 or fe80::/10 (cloud metadata and link-local services). */
export function isLinkLocalHost(host: string): boolean {
  const o = ipv4Octets(host);
  if (o) return o[0] === 169 && o[1] === 254;
  if (isIP(host) === 6) {
    const first = parseInt(host.split(':')[0] || '0', 16);
    if ((first & 0xffc0) === 0xfe80) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
    if (mapped) return isLinkLocalHost(mapped[1]!);
  }
  return false;
}

/** True for `localhost`, 127.0.0.0/8, ::1 and 0.0.0.0/::. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const o = ipv4Octets(h);
  if (o) return o[0] === 127 || (o[0] === 0 && o[1] === 0 && o[2] === 0 && o[3] === 0);
  if (h === '::1' || h === '::') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(h);
  return mapped ? isLoopbackHost(mapped[1]!) : false;
}

/** True when two URLs share scheme, host and port. */
export function sameOrigin(a: URL, b: URL): boolean {
  return a.origin === b.origin;
}

/**
 * Decides whether the client may go from `from` to `to` (a redirect, token realm, upload location, tag page or
 * foreign URL). Throws EUNSAFE, naming the redacted target, for: a non-http(s) scheme; an https → http
 * downgrade; a link-local target; a loopback target when the registry itself is not local; more than
 * MAX_REDIRECTS hops. Pure; never contacts the target (RC-11/RC-12).
 */
export function checkRedirect(from: URL, to: URL, opts: { registryIsLocal: boolean; hops?: number }): void {
  const shown = redactUrl(to);
  const refuse = (why: string) => new SkiffError('EUNSAFE', `refusing to follow ${redactUrl(from)} to ${shown}: ${why}`);
  if ((opts.hops ?? 0) > MAX_REDIRECTS) throw refuse(`more than ${MAX_REDIRECTS} redirects`);
  if (to.protocol !== 'https:' && to.protocol !== 'http:') throw refuse(`scheme ${to.protocol} is not allowed`);
  if (from.protocol === 'https:' && to.protocol === 'http:') throw refuse('downgrade from https to http');
  const host = bareHost(to);
  if (isLinkLocalHost(host)) throw refuse('link-local addresses are never contacted');
  if (isLoopbackHost(host) && !opts.registryIsLocal) throw refuse('a remote registry may not send the client to a local address');
}

/** True when the registry host (`host[:port]`) names this machine, which makes loopback targets acceptable. */
export function isLocalRegistry(registry: string): boolean {
  let host = registry;
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(registry);
  if (m) host = m[1]!;
  else host = registry.replace(/:\d+$/, '');
  return isLoopbackHost(host);
}
