import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { classifyHost, type HostClass } from './host-class.ts';

/** The error code of a connection refused because a name resolved to an address never contacted. */
export const UNSAFE_ADDRESS_CODE = 'ERR_SKIFF_UNSAFE_ADDRESS';

/** Address classes no registry connection may reach, whatever name led there. */
const NEVER: ReadonlySet<HostClass> = new Set(['unspecified', 'link-local', 'reserved']);

type Callback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
type Resolver = (hostname: string, options: LookupOptions, cb: Callback) => void;

/**
 * A `lookup` for socket connects that resolves as dns.lookup does and then refuses (error code
 * UNSAFE_ADDRESS_CODE) when any address is unspecified, link-local or reserved — so a name that resolves to the
 * cloud metadata address or 0.0.0.0 is judged like the literal (IP literals never reach a lookup; checkRedirect
 * judges those before any request). The registry-dependent rules (loopback, private) stay with checkRedirect:
 * names may legitimately point at private registries.
 */
export function safeLookup(resolve: Resolver = dnsLookup as unknown as Resolver): (hostname: string, options: LookupOptions, cb: Callback) => void {
  return (hostname, options, cb) => {
    resolve(hostname, options, (err, address, family) => {
      if (err) return cb(err, address, family);
      const list = Array.isArray(address) ? address : [{ address, family: family ?? 0 }];
      const bad = list.find((a) => NEVER.has(classifyHost(a.address)));
      if (bad === undefined) return cb(null, address, family);
      const e: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${bad.address}, an address that is never contacted`);
      e.code = UNSAFE_ADDRESS_CODE;
      cb(e, address, family);
    });
  };
}
