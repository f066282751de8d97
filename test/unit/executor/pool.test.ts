import { describe, expect, it } from 'vitest';
import { mapLimit, TaskPool } from '../../../shared/build/executor/pool.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('bounded concurrency for tree operations', () => {
  it('mapLimit keeps input order and never exceeds the limit', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (x, i) => {
      running++;
      peak = Math.max(peak, running);
      await tick(x);
      running--;
      return `${i}:${x}`;
    });
    expect(out).toEqual(['0:5', '1:1', '2:4', '3:2', '4:3', '5:0', '6:6']);
    expect(peak).toBe(3);
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
  });

  it('mapLimit rejects with the first failure and starts nothing new after it', async () => {
    const started: number[] = [];
    await expect(
      mapLimit([0, 1, 2, 3, 4, 5], 2, async (x) => {
        started.push(x);
        await tick(1);
        if (x === 1) throw new Error('boom 1');
        return x;
      }),
    ).rejects.toThrow('boom 1');
    expect(started.length).toBeLessThan(6);
  });

  it('TaskPool runs at most `limit` tasks, drain waits for all and rethrows the first failure', async () => {
    const pool = new TaskPool(2);
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    for (let i = 0; i < 6; i++) {
      await pool.add(async () => {
        running++;
        peak = Math.max(peak, running);
        await tick(2);
        running--;
        done.push(i);
      });
    }
    await pool.drain();
    expect(done.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
    const bad = new TaskPool(4);
    await bad.add(async () => {
      throw new Error('task failed');
    });
    await expect(bad.drain()).rejects.toThrow('task failed');
  });
});
