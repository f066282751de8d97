import { describe, expect, it } from 'vitest';
import { goDuration, psgoDescriptors, topRows } from '../../../run-tool/containers/proc-top.ts';
import { tabwrite } from '../../../shared/cli/go-template/tabwriter.ts';

describe('top as podman prints it', () => {
  it('durations in Go\'s Duration.String form', () => {
    expect(goDuration(0n)).toBe('0s');
    expect(goDuration(999n)).toBe('999ns');
    expect(goDuration(1_500n)).toBe('1.5µs');
    expect(goDuration(30_000_000n)).toBe('30ms');
    expect(goDuration(1_866_802_218n)).toBe('1.866802218s');
    expect(goDuration(120_000_000_000n)).toBe('2m0s');
    expect(goDuration(3_723_500_000_000n)).toBe('1h2m3.5s');
    expect(goDuration(-2_000_000_000n)).toBe('-2s');
  });

  it('psgo descriptors, separate or comma-separated; anything else goes to ps(1)', () => {
    expect(psgoDescriptors([])).toEqual(['user', 'pid', 'ppid', 'pcpu', 'etime', 'tty', 'time', 'args']);
    expect(psgoDescriptors(['pid,comm', 'user'])).toEqual(['pid', 'comm', 'user']);
    expect(psgoDescriptors(['pid', 'rss'])).toBeUndefined();
  });

  it('reads a process from /proc under podman\'s headers; laid out, columns are at least 12 wide with 2 spaces of padding', () => {
    const out = tabwrite(`${topRows([process.pid], ['pid', 'comm', 'time', 'args']).map((r) => r.join('\t')).join('\n')}\n`);
    const [head, row] = out.split('\n');
    expect(head).toBe('PID         COMMAND     TIME        COMMAND');
    expect(row).toMatch(new RegExp(`^${process.pid} +\\S+ +(0s|[\\d.]+(ms|s)|\\d+m[\\d.]+s) +.*node`));
    expect(topRows([2 ** 30], ['pid'])).toEqual([['PID']]);
  });
});
