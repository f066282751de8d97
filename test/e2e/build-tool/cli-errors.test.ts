// build-tool's CLI on bad input and failing builds: buildah's exit codes (125 for a build error, the RUN's own status
// for a failed RUN), one short error line, nothing stored or tagged, and no instruction quoted at full length.
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { makeWorld, type World } from './harness.ts';

const repo = resolve(import.meta.dirname, '../../..');
const BUILD_TOOL = join(repo, 'bin', 'build-tool.mjs');

describe.skipIf(!isRoot || !hasBusybox)('build-tool CLI: errors', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld();
  });
  afterAll(async () => w?.cleanup());

  const build = (args: string[], dockerfile: string) =>
    spawnSync(process.execPath, [BUILD_TOOL, '--root', w.root, 'build', ...args, '-f', '-', w.ctx], {
      input: dockerfile,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      env: { ...process.env, XDG_RUNTIME_DIR: w.dir },
    });
  const indexText = () => readFile(join(w.root, 'images/index.json'), 'utf8');
  const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('Error: '));

  it('every -t/--tag is validated before STEP 1: one line, exit 125, nothing built or tagged', async () => {
    const before = await indexText();
    for (const bad of [['-t', 'FOO//bar:'], ['--tag', 'bad name'], ['-t', 'docker://FOO//x'], ['-t', 'oci:']]) {
      const r = build(['-t', 'good', ...bad], 'FROM localhost/busybox\nRUN echo ran-a-step\n');
      expect(r.status, bad.join(' ')).toBe(125);
      expect(r.stderr, bad.join(' ')).not.toContain('STEP');
      expect(r.stderr.trim().split('\n'), bad.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(/^Error: invalid -t\/--tag value: /u);
      expect(r.stdout).toBe('');
    }
    expect(await indexText()).toBe(before);
  });

  it('a failing 1 MB RUN line: the error and progress lines quote only its start (stderr stays small); exit is the RUN status', () => {
    const r = build([], `FROM localhost/busybox\nRUN exit 3; : ${'x'.repeat(1 << 20)}\n`);
    expect(r.status).not.toBe(0);
    expect(r.stderr.length).toBeLessThan(8192);
    const errs = errorLines(r.stderr);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^Error: building at STEP "RUN exit 3; : x+…" \(line 2\): /u);
    expect(r.stderr).toMatch(/^STEP 2\/2: RUN exit 3; : x+…$/mu);
    // errors that quote a word of an instruction shorten it too
    for (const ins of [`EXPOSE ${'y'.repeat(300_000)}`, `COPY ${'y'.repeat(300_000)} /x`, `USER ${'y'.repeat(300_000)}\nRUN true`]) {
      const e = build([], `FROM localhost/busybox\n${ins}\n`);
      expect(e.status, ins.slice(0, 10)).toBe(125);
      expect(e.stderr.length, ins.slice(0, 10)).toBeLessThan(8192);
      expect(errorLines(e.stderr)[0], ins.slice(0, 10)).toMatch(/y{200}…/u);
    }
    // a RUN that fails exits with its own status, as buildah does
    const small = build([], 'FROM localhost/busybox\nRUN exit 3\n');
    expect(small.status).toBe(3);
    expect(errorLines(small.stderr)).toEqual(['Error: building at STEP "RUN exit 3" (line 2): while running runtime: exit status 3']);
  });

  it('a config over the 4 MiB document limit fails at the ENV that crosses it: one line, exit 125, nothing tagged', async () => {
    const before = await indexText();
    const value = 'v'.repeat(15_000);
    const lines = Array.from({ length: 320 }, (_, i) => `ENV VAR${i}=${value}`);
    const r = build(['-t', 'too-big'], `FROM localhost/busybox\n${lines.join('\n')}\nRUN echo never-run\n`);
    expect(r.status).toBe(125);
    const errs = errorLines(r.stderr);
    expect(errs).toHaveLength(1);
    // each ENV adds its value twice (Env and history): the crossing is near 4 MiB / 30 kB ≈ line 141
    const m = /^Error: building at STEP "ENV VAR(\d+)=v+…" \(line (\d+)\): the image config would be (\d+) bytes, over the 4 MiB limit for image documents; /u.exec(errs[0]!);
    expect(m, errs[0]!.slice(0, 300)).not.toBeNull();
    expect(Number(m![2])).toBe(Number(m![1]) + 2);
    expect(Number(m![3])).toBeGreaterThan(4 * 1024 * 1024);
    expect(Number(m![3])).toBeLessThan(4 * 1024 * 1024 + 40_000);
    expect(r.stderr).not.toContain('never-run');
    expect(r.stderr.length).toBeLessThan(200_000);
    expect(await indexText()).toBe(before);
    // one ENV fewer than the crossing one builds, and its image reads back
    const ok = build(['-t', 'just-fits'], `FROM localhost/busybox\n${lines.slice(0, Number(m![1])).join('\n')}\n`);
    expect(ok.status, ok.stderr.slice(-500)).toBe(0);
    const img = await w.image('just-fits');
    expect(img.config.config?.Env).toHaveLength(Number(m![1]) + 1);
  });
});
