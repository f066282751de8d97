import { PerformanceObserver, constants } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { BUFFER_GC_INTERVAL, noteStreamedBytes } from '../../../shared/transport/buffer-gc.ts';

describe('noteStreamedBytes', () => {
  it('runs a minor collection once every BUFFER_GC_INTERVAL streamed bytes, at most 4 MiB apart (peak RSS of a copy)', async () => {
    expect(BUFFER_GC_INTERVAL).toBeLessThanOrEqual(4 << 20);
    const minors: number[] = [];
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (((e as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minors.push(e.startTime);
    });
    obs.observe({ entryTypes: ['gc'] });
    try {
      noteStreamedBytes(BUFFER_GC_INTERVAL); // aligns the counter: this call may or may not collect
      await new Promise((r) => setTimeout(r, 50));
      const before = minors.length;
      for (let i = 0; i < 3; i++) noteStreamedBytes(BUFFER_GC_INTERVAL);
      await new Promise((r) => setTimeout(r, 50));
      expect(minors.length - before).toBeGreaterThanOrEqual(3);
    } finally {
      obs.disconnect();
    }
  });
});
