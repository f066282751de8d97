import { openSync, closeSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runProgram } from '../../../shared/process/run.ts';
import { isAlive, parseIdMap, procStartTime, procStat } from '../../../shared/process/proc.ts';
import { exitCodeFor, exitCodeOf } from '../../../shared/cli/exit-codes.ts';
import { SkiffError } from '../../../shared/errors.ts';

describe('runProgram', () => {
  it('feeds input on stdin and collects stdout, stderr and the exit code', async () => {
    const r = await runProgram('/bin/sh', ['-c', 'cat; echo oops >&2; exit 3'], { input: 'hello' });
    expect(r).toEqual({ code: 3, stdout: 'hello', stderr: 'oops\n' });
  });

  it('hands each stderr line over as it arrives (a last line without newline too) and still collects it', async () => {
    const seen: string[] = [];
    const r = await runProgram('/bin/sh', ['-c', 'printf "a\\nb" >&2; sleep 0.05; printf "c\\nlast" >&2'], { onStderrLine: (l) => seen.push(l) });
    expect(seen).toEqual(['a', 'bc', 'last']);
    expect(r.stderr).toBe('a\nbc\nlast');
  });

  it('without input, stdin is empty', async () => {
    expect((await runProgram('/bin/sh', ['-c', 'wc -c'])).stdout.trim()).toBe('0');
  });

  it('passes extra fds as 3, 4, …', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-run-'));
    try {
      writeFileSync(join(dir, 'f'), 'from fd 3');
      const fd = openSync(join(dir, 'f'), 'r');
      try {
        expect((await runProgram('/bin/sh', ['-c', 'cat <&3'], { fds: [fd] })).stdout).toBe('from fd 3');
      } finally {
        closeSync(fd);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a killed program exits 128+signal', async () => {
    expect((await runProgram('/bin/sh', ['-c', 'kill -KILL $$'])).code).toBe(137);
  });

  it('a missing program is ENODEP naming it; an aborted one EABORT', async () => {
    await expect(runProgram('/nonexistent/getfattr', [])).rejects.toMatchObject({ code: 'ENODEP', message: 'getfattr is not installed' });
    const ac = new AbortController();
    const p = runProgram('/bin/sh', ['-c', 'sleep 10'], { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toMatchObject({ code: 'EABORT' });
  });
});

describe('proc', () => {
  it('reads this process and tells a gone one', () => {
    const st = procStat(process.pid)!;
    expect(st.state).toMatch(/^[RSD]$/);
    expect(st.startTime).toMatch(/^\d+$/);
    expect(procStartTime(process.pid)).toBe(st.startTime);
    expect(isAlive(process.pid, st.startTime)).toBe(true);
    expect(isAlive(process.pid, '1')).toBe(false);
    expect(procStartTime(0)).toBeUndefined();
    expect(isAlive(2 ** 22 + 1)).toBe(false);
  });

  it('parses an id map', () => {
    expect(parseIdMap('         0       1000          1\n         1     100000      65536\n')).toEqual([
      { containerID: 0, hostID: 1000, size: 1 },
      { containerID: 1, hostID: 100000, size: 65536 },
    ]);
  });
});

describe('one error road', () => {
  it("an error's exit status wins over its code's default; the rest keep each tool's convention", () => {
    expect(exitCodeOf('run-tool', new SkiffError('EIO', 'runc: exec failed', { exitStatus: 127 }))).toBe(127);
    expect(exitCodeOf('run-tool', new SkiffError('ENOTFOUND', 'no such container'))).toBe(125);
    expect(exitCodeOf('copy-tool', new SkiffError('ENOTFOUND', 'no such image'))).toBe(2);
    expect(exitCodeOf('build-tool', new SkiffError('EIO', 'RUN failed', { details: { exitCode: 7 } }))).toBe(7);
    expect(exitCodeOf('run-tool', new Error('boom'))).toBe(125);
    expect(exitCodeFor('copy-tool', 'EIO')).toBe(1);
  });
});
