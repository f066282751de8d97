import { describe, expect, it } from 'vitest';
import { ConfigSizeMeter } from '../../../shared/build/executor/config-size.ts';
import { checkTags } from '../../../shared/build/executor/build.ts';
import { stepText, STEP_TEXT_MAX } from '../../../shared/build/executor/report.ts';
import type { History, ImageConfig } from '../../../shared/oci/types.ts';
import { clipMessage, MESSAGE_MAX } from '../../../shared/errors.ts';

const full = (c: ImageConfig, d: string[], h: History[]) => Buffer.byteLength(JSON.stringify({ ...c, rootfs: { type: 'layers', diff_ids: d }, history: h }));

describe('ConfigSizeMeter', () => {
  it('measures exactly what JSON.stringify writes, as a stage grows', () => {
    const m = new ConfigSizeMeter();
    const cfg: ImageConfig = { architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/bin'], Labels: { 'é"\\': 'x\n😀' } }, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
    const diffIds: string[] = [];
    const history: History[] = [];
    expect(m.measure(cfg, diffIds, history)).toBe(full(cfg, diffIds, history));
    for (let i = 0; i < 50; i++) {
      cfg.config = { ...cfg.config, Env: [...(cfg.config?.Env ?? []), `V${i}=${'x'.repeat(i * 7)}"\u0001`] };
      history.push({ created: '2026-01-01T00:00:00Z', created_by: `/bin/sh -c #(nop) ENV V${i}`, ...(i % 2 ? { empty_layer: true } : {}) });
      if (i % 5 === 0) diffIds.push(`sha256:${String(i).padStart(64, '0')}`);
      expect(m.measure(cfg, diffIds, history)).toBe(full(cfg, diffIds, history));
    }
    expect(new ConfigSizeMeter().measure({} as ImageConfig, [], [])).toBe(full({} as ImageConfig, [], []));
  });
});

describe('checkTags', () => {
  it('splits local names from transport destinations and refuses a bad one naming it', () => {
    expect(checkTags(['app', 'store:x:1', 'docker://127.0.0.1:5000/a:b'])).toEqual({ local: ['localhost/app:latest', 'localhost/x:1'], remote: ['docker://127.0.0.1:5000/a:b'] });
    expect(() => checkTags(['ok', 'FOO//bar:'])).toThrow(/^invalid -t\/--tag value: .*FOO\/\/bar:/u);
    expect(() => checkTags([`store:${'a'.repeat(64)}`])).toThrow(/image ID cannot be a tag/);
  });
});

describe('stepText', () => {
  it('quotes the first line of an instruction, at most STEP_TEXT_MAX characters', () => {
    expect(stepText('RUN', 'echo hi')).toBe('RUN echo hi');
    const long = stepText('RUN', 'x'.repeat(1 << 20));
    expect(long).toBe(`RUN ${'x'.repeat(STEP_TEXT_MAX)}…`);
    expect(stepText('RUN', 'a\nb')).toBe('RUN a…');
    expect(stepText('RUN', `${'x'.repeat(STEP_TEXT_MAX - 1)}😀`)).toBe(`RUN ${'x'.repeat(STEP_TEXT_MAX - 1)}…`);
  });
});

describe('clipMessage', () => {
  it('shortens long quoted words and caps the line, leaving ordinary messages alone', () => {
    const plain = `COPY failed: file not found in build context: stat ${'a/'.repeat(40)}x: no such file or directory`;
    expect(clipMessage(plain)).toBe(plain);
    const word = 'y'.repeat(300_000);
    expect(clipMessage(`invalid containerPort: ${word} in EXPOSE`)).toBe(`invalid containerPort: ${'y'.repeat(200)}… in EXPOSE`);
    const many = Array.from({ length: 10_000 }, () => 'word').join(' ');
    expect(clipMessage(many).length).toBe(MESSAGE_MAX + 1);
  });
});
