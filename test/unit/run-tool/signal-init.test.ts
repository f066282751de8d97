import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { signalInit } from '../../../run-tool/containers/signals.ts';
import { isAlive, procStartTime } from '../../../shared/process/proc.ts';

describe('signalInit (a stop signal without a runc child)', () => {
  it('signals the recorded process when its start time matches, and refuses a pid whose start time differs (reuse guard)', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    await once(child, 'spawn');
    const pid = child.pid!;
    const start = procStartTime(pid)!;
    expect(start).toMatch(/^[0-9]+$/);
    // another process now under that pid (a different start time): left alone, the caller asks runc
    expect(signalInit(pid, String(Number(start) + 1), 'SIGTERM')).toBe(false);
    expect(signalInit(pid, undefined, 'SIGTERM')).toBe(false);
    expect(signalInit(0, start, 'SIGTERM')).toBe(false);
    expect(isAlive(pid)).toBe(true);
    const exited = once(child, 'exit');
    expect(signalInit(pid, start, 'SIGTERM')).toBe(true);
    const [, sig] = await exited;
    expect(sig).toBe('SIGTERM');
    // gone (reaped): nothing to vouch for any more
    expect(signalInit(pid, start, 'SIGTERM')).toBe(false);
  });

  it('takes the canonical forms parseSignal gives (names and real-time numbers); an unknown one is left to runc', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    await once(child, 'spawn');
    const start = procStartTime(child.pid!)!;
    expect(signalInit(child.pid!, start, 'SIGNOPE')).toBe(false);
    const exited = once(child, 'exit');
    expect(signalInit(child.pid!, start, '9')).toBe(true);
    expect((await exited)[1]).toBe('SIGKILL');
  });
});
