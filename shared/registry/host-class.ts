import { isIP } from 'node:net';

/**
 * What an address is, for deciding whether the client may contact it:
 * - `unspecified`: 0.0.0.0/8 and `::` (Linux connects them to this machine);
 * - `loopback`: 127.0.0.0/8, `::1`, `localhost` and `*.localhost`;
 * - `link-local`: 169.254.0.0/16 and fe80::/10 (cloud metadata services live there);
 * - `private`: 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7, fec0::/10 and the local-use NAT64 prefix;
 * - `reserved`: multicast, broadcast and 240/4 — nothing an HTTP client has business with;
 * - `public`: any other IP literal; `name`: a DNS name (not resolved here).
 */
export type HostClass = 'unspecified' | 'loopback' | 'link-local' | 'private' | 'reserved' | 'public' | 'name';

/**
 * Parses an IPv4 literal in every form inet_aton and the WHATWG URL parser accept — dotted with 1 to 4 parts,
 * each decimal, octal (leading 0) or hex (0x) — into 4 bytes; undefined when `s` is not one.
 */
export function parseIpv4(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop(); // a trailing dot, as URL allows
  if (parts.length < 1 || parts.length > 4) return undefined;
  const nums: number[] = [];
  for (const p of parts) {
    let n: number;
    if (/^0x[0-9a-f]*$/i.test(p)) n = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]+$/.test(p)) n = parseInt(p.slice(1), 8);
    else if (/^(0|[1-9][0-9]*)$/.test(p)) n = Number(p);
    else return undefined;
    if (!Number.isSafeInteger(n)) return undefined;
    nums.push(n);
  }
  const last = nums.pop()!;
  if (nums.some((n) => n > 255) || last >= 256 ** (4 - nums.length)) return undefined;
  const out = [...nums];
  for (let i = 4 - nums.length - 1; i >= 0; i--) out.push(Math.floor(last / 256 ** i) % 256);
  return out;
}

/** Parses an IPv6 literal (no brackets, no zone; an embedded dotted IPv4 tail allowed) into 8 16-bit groups. */
export function parseIpv6(s: string): number[] | undefined {
  if (isIP(s) !== 6) return undefined;
  let text = s.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = parseIpv4(v4[1]!)!;
    text = `${text.slice(0, -v4[1]!.length)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const hs = head === '' ? [] : head!.split(':');
  const ts = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? 0 : 8 - hs.length - ts.length;
  return [...hs, ...Array<string>(fill).fill('0'), ...ts].map((g) => parseInt(g, 16));
}

function classifyIpv4(b: number[]): HostClass {
  const [a, c] = [b[0]!, b[1]!];
  if (a === 0) return 'unspecified';
  if (a === 127) return 'loopback';
  if (a === 169 && c === 254) return 'link-local';
  if (a === 10 || (a === 172 && c >= 16 && c <= 31) || (a === 192 && c === 168) || (a === 100 && c >= 64 && c <= 127)) return 'private';
  if (a >= 224) return 'reserved';
  return 'public';
}

function classifyIpv6(g: number[]): HostClass {
  const zeroes = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const v4 = (): number[] => [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff];
  if (zeroes(0, 8)) return 'unspecified';
  if (zeroes(0, 7) && g[7] === 1) return 'loopback';
  // IPv4-mapped ::ffff:a.b.c.d, IPv4-translated ::ffff:0:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::a.b.c.d
  if (zeroes(0, 5) && g[5] === 0xffff) return classifyIpv4(v4());
  if (zeroes(0, 4) && g[4] === 0xffff && g[5] === 0) return classifyIpv4(v4());
  if (zeroes(0, 6)) return classifyIpv4(v4());
  if (g[0] === 0x64 && g[1] === 0xff9b && zeroes(2, 6)) return classifyIpv4(v4());
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return 'private'; // RFC 8215 local-use NAT64
  // 6to4 2002:AABB:CCDD::/48 carries an IPv4 address too
  if (g[0] === 0x2002) return classifyIpv4([g[1]! >> 8, g[1]! & 0xff, g[2]! >> 8, g[2]! & 0xff]);
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0]! & 0xfe00) === 0xfc00 || (g[0]! & 0xffc0) === 0xfec0) return 'private';
  if ((g[0]! & 0xff00) === 0xff00) return 'reserved';
  return 'public';
}

/** `host`, `host:port`, `[v6]` or `[v6]:port` → the bare host, lower-case, without brackets or a trailing dot. */
export function bareHost(hostPort: string): string {
  let h = hostPort.trim().toLowerCase();
  const m = /^\[([^\]]*)\](?::\d*)?$/.exec(h);
  if (m) h = m[1]!;
  else if ((h.match(/:/g) ?? []).length === 1) h = h.replace(/:\d*$/, '');
  const zone = h.indexOf('%');
  if (zone >= 0 && h.includes(':')) h = h.slice(0, zone);
  return h.length > 1 && h.endsWith('.') ? h.slice(0, -1) : h;
}

/**
 * The class of a host (bare, `host:port`, or bracketed IPv6), after normalisation: every IPv4 spelling
 * (`2130706433`, `0x7f.1`, `017700000001`, `127.1`) is read as inet_aton reads it, and IPv6 forms that carry an
 * IPv4 address (mapped, translated, compatible, NAT64, 6to4) are judged by that address. Pure; never resolves
 * names — a name other than `localhost`/`*.localhost` is `name`.
 */
export function classifyHost(host: string): HostClass {
  const h = bareHost(host);
  if (h === '') return 'unspecified';
  if (h === 'localhost' || h.endsWith('.localhost')) return 'loopback';
  const v6 = parseIpv6(h);
  if (v6) return classifyIpv6(v6);
  const v4 = parseIpv4(h);
  if (v4) return classifyIpv4(v4);
  return 'name';
}

/** The registry a request is made for, as the policy needs it. */
export interface RegistryScope {
  /** host[:port] of the registry's API endpoint. */
  host: string;
  /** classifyHost(host). */
  cls: HostClass;
  /** Plain HTTP / unverified TLS allowed for it (`--tls-verify=false`, registries.conf `insecure`). */
  insecure: boolean;
}

/** The scope of a registry API host (`host[:port]`). */
export function registryScope(host: string, insecure: boolean): RegistryScope {
  return { host, cls: classifyHost(host), insecure };
}

/**
 * Why the client may not contact `target` on behalf of `registry`, or undefined when it may. The one policy for
 * realms, redirects, upload locations and foreign URLs: unspecified, link-local and reserved addresses never;
 * loopback only when the registry itself is on loopback; private ranges only when the registry is in a private
 * range or is marked insecure; public addresses and names always (names are not resolved here).
 */
export function refusalFor(target: string, registry: RegistryScope): string | undefined {
  const cls = classifyHost(target);
  switch (cls) {
    case 'unspecified':
      return 'the unspecified address is never contacted';
    case 'link-local':
      return 'link-local addresses are never contacted';
    case 'reserved':
      return 'multicast, broadcast and reserved addresses are never contacted';
    case 'loopback':
      return registry.cls === 'loopback' ? undefined : 'a registry not on this machine may not send the client to a local address';
    case 'private':
      return registry.cls === 'private' || registry.insecure ? undefined : 'a registry outside private networks may not send the client to a private address';
    default:
      return undefined;
  }
}

/**
 * True when credentials meant for `registry` may go to `realmHost` (a token realm): the realm is the registry's
 * own API host or registry name, or a subdomain of the registry name the user holds the credentials for (a
 * registry's owner controls its subdomains: `auth.<name>` for `<name>`). IP literals must match exactly.
 */
export function sameAuthority(realmHost: string, registry: { name: string; apiHost: string }): boolean {
  const r = bareHost(realmHost);
  const names = [bareHost(registry.name), bareHost(registry.apiHost)];
  if (names.includes(r)) return true;
  const name = names[0]!;
  return classifyHost(r) === 'name' && classifyHost(name) === 'name' && name.includes('.') && r.endsWith(`.${name}`);
}
