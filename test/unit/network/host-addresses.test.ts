import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LEASE_GRACE_MS, leaseHostAddress, releaseHostAddresses } from '../../../shared/network/host-addresses.ts';
import { networkPaths } from '../../../shared/network/network-config.ts';
import { scratchDir } from '../../helpers/tmp.ts';

const SUBNET = '10.77.0.0/24';
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

/** Picks the first address of .2…. not held elsewhere (the allocator's rule without the store part). */
const firstFree = (held: ReadonlySet<string>) => {
  for (let i = 2; i < 255; i++) if (!held.has(`10.77.0.${i}`)) return `10.77.0.${i}`;
  throw new Error('full');
};

describe('the host-wide address registry', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let dir: string;
  beforeEach(async () => {
    s = await scratchDir('skiff-hostaddr-');
    dir = join(s.dir, 'addresses');
  });
  afterEach(async () => s.cleanup());

  it('a second store skips the address the first store holds, and gets it after the first releases it', async () => {
    const one = await leaseHostAddress(SUBNET, { root: join(s.dir, 'store1'), containerId: A }, firstFree, { dir });
    const two = await leaseHostAddress(SUBNET, { root: join(s.dir, 'store2'), containerId: B }, firstFree, { dir });
    expect(one).toBe('10.77.0.2');
    expect(two).toBe('10.77.0.3');
    await releaseHostAddresses({ root: join(s.dir, 'store1'), containerId: A }, { dir });
    const three = await leaseHostAddress(SUBNET, { root: join(s.dir, 'store3'), containerId: A }, firstFree, { dir });
    expect(three).toBe('10.77.0.2');
    const file = JSON.parse(await readFile(join(dir, '10.77.0.0_24.json'), 'utf8')) as { leases: Record<string, unknown>; last: string };
    expect(Object.keys(file.leases).sort()).toEqual(['10.77.0.2', '10.77.0.3']);
    expect(file.last).toBe('10.77.0.2');
  });

  it('a lease whose store lost the attachment record is dropped after the grace period, not before; a recorded one stays', async () => {
    const gone = join(s.dir, 'deleted-store');
    const kept = join(s.dir, 'live-store');
    const t0 = 1_000_000;
    await leaseHostAddress(SUBNET, { root: gone, containerId: A }, firstFree, { dir, now: t0 });
    await leaseHostAddress(SUBNET, { root: kept, containerId: B }, firstFree, { dir, now: t0 });
    await mkdir(networkPaths(kept).attachments, { recursive: true });
    await writeFile(join(networkPaths(kept).attachments, `${B}.json`), '{}');
    const held: string[][] = [];
    const spy = (h: ReadonlySet<string>) => {
      held.push([...h].sort());
      return firstFree(h);
    };
    await leaseHostAddress(SUBNET, { root: kept, containerId: 'c'.repeat(64) }, spy, { dir, now: t0 + LEASE_GRACE_MS - 1 });
    await leaseHostAddress(SUBNET, { root: kept, containerId: 'd'.repeat(64) }, spy, { dir, now: t0 + LEASE_GRACE_MS + 1 });
    // within the grace the record-less lease still holds .2; after it, only the recorded (.3) and the fresh (.4) ones do
    expect(held[0]).toEqual(['10.77.0.2', '10.77.0.3']);
    expect(held[1]).toEqual(['10.77.0.3', '10.77.0.4']);
  });

  it('an allocation that throws records nothing', async () => {
    await expect(leaseHostAddress(SUBNET, { root: s.dir, containerId: A }, () => { throw new Error('all addresses are in use'); }, { dir })).rejects.toThrow('in use');
    await expect(readFile(join(dir, '10.77.0.0_24.json'), 'utf8')).rejects.toThrow();
  });
});
