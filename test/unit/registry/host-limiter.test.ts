import { describe, expect, it } from 'vitest';
import { HostLimiter } from '../../../shared/registry/host-limiter.ts';

describe('HostLimiter backoff wait', () => {
  it('waits out the shared backoff, and a cancelled wait is EABORT at once', async () => {
    const l = new HostLimiter(2);
    l.backoff(60);
    const t0 = Date.now();
    (await l.acquire())();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(50);
    l.backoff(60_000);
    const ac = new AbortController();
    const p = l.acquire(ac.signal);
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'EABORT' });
    expect(l.backoffRemaining).toBeGreaterThan(50_000);
  });
});
