import { throwIfAborted, type Cancellable } from '../errors.ts';
import { Digester, type Digest } from '../oci/digest.ts';
import type { Layout } from './layout.ts';
import { walkReachable } from './reachability.ts';

/** One problem verify found. */
export interface Damage {
  digest: Digest;
  problem: 'digest' | 'size' | 'missing' | 'unreadable';
  message: string;
  expected?: string | number;
  actual?: string | number;
}

/** What verify checked and found. */
export interface VerifyResult {
  ok: boolean;
  /** Blobs re-hashed. */
  checked: number;
  bytes: number;
  damaged: Damage[];
  /** Invalid descriptors inside manifests. */
  invalid: string[];
}

/**
 * Re-hashes every committed blob and checks every reference from index.json: content that does not hash
 * to its file name, sizes that differ from the descriptors naming them, referenced blobs that are missing.
 * Read-only: it reports, it never deletes or repairs.
 */
export async function verifyLayout(layout: Layout, o: Cancellable = {}): Promise<VerifyResult> {
  const so = { signal: o.signal };
  const damaged: Damage[] = [];
  let checked = 0;
  let bytes = 0;
  const actualSize = new Map<Digest, number>();
  for (const d of await layout.blobs.list(so)) {
    throwIfAborted(o.signal);
    const h = new Digester();
    const rs = await layout.blobs.open({ digest: d }, { ...so, verify: false });
    for await (const c of rs as AsyncIterable<Buffer>) h.update(c);
    const actual = h.digest();
    checked++;
    bytes += h.size;
    actualSize.set(d, h.size);
    if (actual !== d) damaged.push({ digest: d, problem: 'digest', expected: d, actual, message: `blob ${d} hashes to ${actual}` });
  }
  const walk = await walkReachable(layout.blobs, await layout.entries(so), so);
  for (const m of walk.missing) damaged.push({ digest: m.digest, problem: 'missing', message: `blob ${m.digest} (${m.mediaType}) is referenced but missing` });
  for (const u of walk.unreadable) {
    if (!damaged.some((x) => x.digest === u.digest)) damaged.push({ digest: u.digest, problem: 'unreadable', message: u.error.message });
  }
  for (const [d, sizes] of walk.reachable) {
    const size = actualSize.get(d);
    if (size !== undefined && !sizes.has(size)) {
      damaged.push({ digest: d, problem: 'size', expected: [...sizes][0], actual: size, message: `blob ${d} is ${size} bytes, descriptors say ${[...sizes].join(', ')}` });
    }
  }
  return { ok: damaged.length === 0 && walk.invalid.length === 0, checked, bytes, damaged, invalid: walk.invalid };
}
