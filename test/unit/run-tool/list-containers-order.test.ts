import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listContainers } from '../../../run-tool/containers/state.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('listContainers', () => {
  it('returns the containers oldest first whatever the directory order (rm --all removes newest first from it)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'skiff-list-order-'));
    dirs.push(root);
    // ids whose directory order (a…, b…, c…, d…) is not their age order
    const made = [
      ['a', '2026-12-07T10:00:02.000Z'],
      ['b', '2026-12-07T10:00:00.000Z'],
      ['c', '2026-12-07T12:00:01+03:00'], // 09:00:01Z: the oldest
      ['d', '2026-12-07T10:00:01.000Z'],
    ] as const;
    for (const [ch, created] of made) {
      const id = ch.repeat(64);
      mkdirSync(join(root, 'containers', id), { recursive: true });
      writeFileSync(join(root, 'containers', id, 'record.json'), JSON.stringify({ id, name: `n-${ch}`, created }));
    }
    const ids = (await listContainers(root)).map((c) => c.record.id[0]);
    expect(ids).toEqual(['c', 'b', 'd', 'a']);
  });
});
