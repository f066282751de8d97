import { describe, expect, it } from 'vitest';
import { sharedSizes } from '../../../run-tool/ops/system-df.ts';
import type { Digest } from '../../../shared/oci/digest.ts';

const d = (c: string) => `sha256:${c.repeat(64)}` as Digest;
const h = (by: string) => ({ created: '2026-01-01T00:00:00Z', created_by: by });

describe('sharedSizes (podman 4.3 system df -v SHARED SIZE)', () => {
  it('a parent shares all of itself; its child shares the parent\'s size; unrelated images share nothing', () => {
    const base = { id: d('1'), size: 1000, diffIds: [d('a')], history: [h('base')] };
    const child = { id: d('2'), size: 1300, diffIds: [d('a'), d('b')], history: [h('base'), h('add')] };
    const other = { id: d('3'), size: 500, diffIds: [d('c')], history: [h('other')] };
    expect(sharedSizes([base, child, other])).toEqual([1000, 1000, 0]);
  });

  it('a different history, a gap of two layers, or no layers at all is no parent', () => {
    const base = { id: d('1'), size: 1000, diffIds: [d('a')], history: [h('base')] };
    const rebuilt = { id: d('2'), size: 1300, diffIds: [d('a'), d('b')], history: [h('other base'), h('add')] };
    const grandchild = { id: d('3'), size: 1600, diffIds: [d('a'), d('b'), d('c')], history: [h('base'), h('add'), h('more')] };
    const empty = { id: d('4'), size: 10, diffIds: [], history: [] };
    expect(sharedSizes([base, rebuilt, grandchild, empty])).toEqual([0, 0, 0, 0]);
  });
});
