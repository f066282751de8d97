import { describe, expect, it } from 'vitest';
import { compareTimestamps } from '../../../shared/time/compare-timestamps.ts';

describe('compareTimestamps (records sorted oldest first without the locale)', () => {
  it('orders by the instant named: a missing fraction is .0, offsets count, equal text is 0', () => {
    expect(compareTimestamps('2026-12-07T03:27:09Z', '2026-12-07T03:27:09.5Z')).toBeLessThan(0);
    expect(compareTimestamps('2026-12-07T03:27:10Z', '2026-12-07T03:27:09.999Z')).toBeGreaterThan(0);
    // 03:27 at +02:00 is 01:27Z: older than 02:00Z although its text sorts after
    expect(compareTimestamps('2026-12-07T03:27:00+02:00', '2026-12-07T02:00:00Z')).toBeLessThan(0);
    expect(compareTimestamps('2026-12-07T03:27:09.250Z', '2026-12-07T03:27:09.250Z')).toBe(0);
  });

  it('within one millisecond, digits beyond it decide; unparsable text sorts by its characters', () => {
    expect(compareTimestamps('2026-12-07T03:27:09.250000100Z', '2026-12-07T03:27:09.250000200Z')).toBeLessThan(0);
    expect(compareTimestamps('2026-12-07T03:27:09.250000200Z', '2026-12-07T03:27:09.250000100Z')).toBeGreaterThan(0);
    expect(compareTimestamps('', '2026-12-07T03:27:09Z')).toBeLessThan(0);
    expect(compareTimestamps('b', 'a')).toBeGreaterThan(0);
  });

  it('sorts toISOString() values chronologically, as the store writes them', () => {
    const times = [5, 1_000, 999, 86_400_000, 0, 1].map((ms) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString());
    expect([...times].sort(compareTimestamps)).toEqual([...times].sort((a, b) => Date.parse(a) - Date.parse(b)));
  });
});
