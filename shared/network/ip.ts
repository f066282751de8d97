import { isIPv4 } from 'node:net';

/** Dotted IPv4 → unsigned 32-bit integer; undefined when not an IPv4 address. Pure. */
export function ipToInt(ip: string): number | undefined {
  if (!isIPv4(ip)) return undefined;
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

/** Unsigned 32-bit integer → dotted IPv4. Pure. */
export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** A parsed IPv4 CIDR: network address (host bits cleared), prefix length, size in addresses. */
export interface Cidr {
  family: 4;
  network: number;
  prefix: number;
  size: number;
}

/** Parses "a.b.c.d/n" (IPv4 only); undefined when malformed. Pure. */
export function parseCidr(s: string): Cidr | undefined {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(s);
  if (!m) return undefined;
  const ip = ipToInt(m[1]!);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  return { family: 4, network: ip - (ip % size), prefix, size };
}

/** Whether `ip` lies in `cidr`. Pure. */
export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  const n = ipToInt(ip);
  return !!c && n !== undefined && n >= c.network && n < c.network + c.size;
}

/** Whether two IPv4 CIDRs share any address. Pure. */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y) return false;
  return x.network < y.network + y.size && y.network < x.network + x.size;
}
